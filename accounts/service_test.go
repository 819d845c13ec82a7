package accounts_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// fastHash keeps tests quick; production uses auth.DefaultParams.
var fastHash = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}

// countingHasher counts password checks, and can hold each one at a gate
// until the test opens it.
type countingHasher struct {
	auth.Hasher
	checks  atomic.Int64
	arrived chan struct{} // a send per check that reached the gate
	gate    chan struct{} // closed to let checks go on; nil: no gate
	rehash  bool          // report every hash as outdated
}

func (h *countingHasher) wait() {
	h.checks.Add(1)
	if h.gate != nil {
		h.arrived <- struct{}{}
		<-h.gate
	}
}

func (h *countingHasher) Check(hash, pw string) (bool, bool, error) {
	h.wait()
	ok, _, err := h.Hasher.Check(hash, pw)
	return ok, ok && h.rehash, err
}

func (h *countingHasher) CheckNoUser(pw string) {
	h.wait()
	h.Hasher.CheckNoUser(pw)
}

// recordingStore notes every audit event the service tried to append,
// whether or not the store took it.
type recordingStore struct {
	*store.DB
	mu     sync.Mutex
	tried  []*steward.AuditEvent
	refuse bool // fail every AuditAppend, as a store that cannot take the event would
}

func (s *recordingStore) AuditAppend(ctx context.Context, ev *steward.AuditEvent) error {
	s.mu.Lock()
	s.tried = append(s.tried, ev)
	s.mu.Unlock()
	if s.refuse {
		return fmt.Errorf("refused by the test")
	}
	return s.DB.AuditAppend(ctx, ev)
}

func (s *recordingStore) attempts(action string) []*steward.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*steward.AuditEvent
	for _, ev := range s.tried {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

type testBundle struct {
	db     *store.DB
	store  *recordingStore
	hasher *countingHasher
	svc    *accounts.Service
	now    time.Time
}

type setupOpts struct {
	engine           store.Engine // defaults to SQLite
	hasher           *countingHasher
	concurrentHashes int
}

func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	if o.engine == "" {
		o.engine = store.SQLite
	}
	if o.hasher == nil {
		o.hasher = &countingHasher{}
	}
	o.hasher.Hasher = fastHash
	b := &testBundle{db: storetest.Open(t, o.engine), hasher: o.hasher, now: time.Now().UTC().Truncate(time.Second)}
	b.store = &recordingStore{DB: b.db}
	svc, err := accounts.New(accounts.Config{Store: b.store, Passwords: o.hasher, ConcurrentHashes: o.concurrentHashes, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return b.now }})
	if err != nil {
		t.Fatal(err)
	}
	b.svc = svc
	return b
}

// user stores a user with the password "password-NAME".
func (b *testBundle) user(t *testing.T, name string, grants ...steward.Grant) *steward.User {
	t.Helper()
	hash, err := fastHash.Hash("password-" + name)
	if err != nil {
		t.Fatal(err)
	}
	u := &steward.User{Name: name, PasswordHash: hash, Grants: grants}
	if err := b.db.UserCreate(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// as returns a context in which the user acts, signed in the given way.
func as(u *steward.User, how steward.AuthMethod) context.Context {
	a := &steward.Actor{UserID: u.ID, Name: u.Name, Grants: u.Grants, Auth: how, SourceIP: "192.0.2.9"}
	if how == steward.AuthToken {
		a.TokenID = 1
	}
	return steward.NewContextWithActor(context.Background(), a)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := steward.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

var admin = steward.Grant{Role: steward.RoleAdmin}

// TestTokenCannotTakeOverItsOwner: with only a token, nobody can change a
// password (their own, or anyone's as an admin), or mint tokens or users,
// whichever method they call; an actor that says nothing about how it
// signed in is refused the same.
func TestTokenCannotTakeOverItsOwner(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	root := b.user(t, "root", admin)
	other := b.user(t, "other")
	pw := "a new password for the thief"
	for _, how := range []steward.AuthMethod{steward.AuthToken, ""} {
		ctx := as(root, how)
		_, err := b.svc.UpdateUser(ctx, root.ID, steward.UserChange{Password: &pw})
		wantCode(t, err, steward.EFORBIDDEN)
		_, err = b.svc.UpdateUser(ctx, other.ID, steward.UserChange{Password: &pw})
		wantCode(t, err, steward.EFORBIDDEN)
		wantCode(t, b.svc.ChangePassword(ctx, "password-root", pw), steward.EFORBIDDEN)
		_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: "more"})
		wantCode(t, err, steward.EFORBIDDEN)
		_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: "theirs", UserID: other.ID})
		wantCode(t, err, steward.EFORBIDDEN)
		_, err = b.svc.CreateUser(ctx, steward.UserInput{Name: "sleeper", Password: pw, Grants: []steward.Grant{admin}})
		wantCode(t, err, steward.EFORBIDDEN)
	}
	if _, err := b.svc.Login(context.Background(), steward.LoginInput{Name: "root", Password: "password-root", SourceIP: "192.0.2.1"}); err != nil {
		t.Fatalf("the old password no longer works: %v", err)
	}
	if n, _ := b.db.UserCount(context.Background()); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
	if toks, _ := b.db.TokenList(context.Background(), 0); len(toks) != 0 {
		t.Fatalf("tokens were made: %v", toks)
	}
	// A token may still do what does not mint secrets.
	display := "Other"
	if _, err := b.svc.UpdateUser(as(root, steward.AuthToken), other.ID, steward.UserChange{DisplayName: &display}); err != nil {
		t.Fatal(err)
	}
}

// TestNewPasswordRevokesTokens: a password changed by its owner, reset by
// an admin in the portal or at the command line, ends the user's sessions
// and revokes their tokens.
func TestNewPasswordRevokesTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	root := b.user(t, "root", admin)
	pw := "the user's new password"
	for i, change := range []func(u *steward.User) error{
		func(u *steward.User) error {
			return b.svc.ChangePassword(as(u, steward.AuthPassword), "password-"+u.Name, pw)
		},
		func(u *steward.User) error {
			_, err := b.svc.UpdateUser(as(root, steward.AuthPassword), u.ID, steward.UserChange{Password: &pw})
			return err
		},
		func(u *steward.User) error {
			ctx := steward.NewContextWithActor(context.Background(), steward.CommandActor("cli:ops"))
			_, err := b.svc.UpdateUser(ctx, u.ID, steward.UserChange{Password: &pw})
			return err
		},
	} {
		u := b.user(t, fmt.Sprint("user", i))
		_, secret, err := b.svc.CreateToken(as(u, steward.AuthPassword), steward.TokenInput{Name: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		login, err := b.svc.Login(context.Background(), steward.LoginInput{Name: u.Name, Password: "password-" + u.Name, SourceIP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := change(u); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		_, err = b.svc.AuthenticateToken(context.Background(), secret)
		wantCode(t, err, steward.EUNAUTHORIZED)
		_, err = b.svc.AuthenticateSession(context.Background(), login.Token)
		wantCode(t, err, steward.EUNAUTHORIZED)
	}
	evs, _, _ := b.db.AuditList(context.Background(), storetest.All(), steward.AuditFilter{Action: "user."})
	n := 0
	for _, ev := range evs {
		if ev.Details["tokens_revoked"] == "1" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d events say a token was revoked, want 3: %+v", n, evs)
	}
}

func TestCreateToken(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	root := b.user(t, "root", admin)
	viewer := b.user(t, "viewer", steward.Grant{Role: steward.RoleViewer})
	ctx := as(viewer, steward.AuthPassword)

	tok, secret, err := b.svc.CreateToken(ctx, steward.TokenInput{Name: " ci "})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "ci" || !tok.ExpiresAt.Equal(b.now.Add(30*24*time.Hour)) || !strings.HasPrefix(secret, tok.Prefix) {
		t.Fatalf("token = %+v; want named ci, expiring in 30 days", tok)
	}
	if a, err := b.svc.AuthenticateToken(context.Background(), secret); err != nil || a.UserID != viewer.ID || a.Auth != steward.AuthToken || a.TokenID != tok.ID {
		t.Fatalf("AuthenticateToken = %+v, %v", a, err)
	}
	_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: "long", Lifetime: steward.MaxTokenLifetime + time.Second})
	wantCode(t, err, steward.EINVALID)
	_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: "negative", Lifetime: -time.Hour})
	wantCode(t, err, steward.EINVALID)
	// Only admins mint tokens for someone else.
	_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: "theirs", UserID: root.ID})
	wantCode(t, err, steward.EFORBIDDEN)
	cli := steward.NewContextWithActor(context.Background(), steward.CommandActor("cli:ops"))
	theirs, _, err := b.svc.CreateToken(cli, steward.TokenInput{Name: "ops", UserID: viewer.ID, Lifetime: time.Hour})
	if err != nil || theirs.UserID != viewer.ID {
		t.Fatalf("command line token = %+v, %v", theirs, err)
	}
	_, _, err = b.svc.CreateToken(cli, steward.TokenInput{Name: "nobody's"})
	wantCode(t, err, steward.EINVALID)

	// The viewer lists and revokes their own only.
	if list, err := b.svc.Tokens(ctx, steward.TokenFilter{}); err != nil || len(list) != 2 {
		t.Fatalf("Tokens = %v, %v", list, err)
	}
	_, err = b.svc.Tokens(ctx, steward.TokenFilter{All: true})
	wantCode(t, err, steward.EFORBIDDEN)
	rootTok, _, err := b.svc.CreateToken(as(root, steward.AuthPassword), steward.TokenInput{Name: "root's"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.RevokeToken(ctx, rootTok.ID)
	wantCode(t, err, steward.ENOTFOUND)
	if _, err := b.svc.RevokeToken(as(viewer, steward.AuthToken), tok.ID); err != nil { // a token may revoke tokens
		t.Fatal(err)
	}
	_, err = b.svc.AuthenticateToken(context.Background(), secret)
	wantCode(t, err, steward.EUNAUTHORIZED)
	// Past its expiry a token is refused.
	b.now = b.now.Add(2 * time.Hour)
	if list, _ := b.svc.Tokens(cli, steward.TokenFilter{UserID: viewer.ID}); len(list) != 2 || list[0].Active(b.now) {
		t.Fatalf("Tokens(viewer) = %v", list)
	}
}

// TestNamesRefusedBeforeTheStore: text neither engine may hold is refused
// with a message naming the field, on both engines.
func TestNamesRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{engine: engine})
			root := b.user(t, "root", admin)
			ctx := as(root, steward.AuthPassword)
			for _, bad := range []string{"nul\x00", "\xff\xfe", "two\nlines"} {
				_, err := b.svc.CreateUser(ctx, steward.UserInput{Name: "x", DisplayName: bad, Password: "long enough password"})
				wantMessage(t, err, steward.EINVALID, "Display name")
				_, err = b.svc.CreateUser(ctx, steward.UserInput{Name: bad, Password: "long enough password"})
				wantMessage(t, err, steward.EINVALID, "User name must be")
				_, err = b.svc.UpdateUser(ctx, root.ID, steward.UserChange{DisplayName: &bad})
				wantMessage(t, err, steward.EINVALID, "Display name")
				_, err = b.svc.UpdateUser(ctx, root.ID, steward.UserChange{Email: &bad})
				wantMessage(t, err, steward.EINVALID, "Email address")
				_, _, err = b.svc.CreateToken(ctx, steward.TokenInput{Name: bad})
				wantMessage(t, err, steward.EINVALID, "Token name")
				_, err = b.svc.UserByName(ctx, bad)
				wantCode(t, err, steward.ENOTFOUND)
			}
		})
	}
}

func wantMessage(t *testing.T, err error, code, part string) {
	t.Helper()
	wantCode(t, err, code)
	if !strings.Contains(steward.ErrorMessage(err), part) {
		t.Fatalf("message %q does not contain %q", steward.ErrorMessage(err), part)
	}
}

// TestLoginWithImpossibleName: a name that cannot be a user's is a failed
// sign-in like an unknown one, checked against no hash but as slowly, and
// its event is still offered to the audit log, even when the log then
// refuses it.
func TestLoginWithImpossibleName(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{engine: engine})
			b.user(t, "alice")
			names := []string{"\xff\xfe", "ali\x00ce", "al\nice", strings.Repeat("x", 1<<20)}
			for _, name := range names {
				_, err := b.svc.Login(context.Background(), steward.LoginInput{Name: name, Password: "whatever it is", SourceIP: "192.0.2.1"})
				wantMessage(t, err, steward.EUNAUTHORIZED, "user name or password is wrong")
			}
			b.store.refuse = true
			_, err := b.svc.Login(context.Background(), steward.LoginInput{Name: "\xff", Password: "whatever it is", SourceIP: "192.0.2.2"})
			wantCode(t, err, steward.EUNAUTHORIZED)

			tried := b.store.attempts("user.login_failed")
			if len(tried) != len(names)+1 || b.hasher.checks.Load() != int64(len(names)+1) {
				t.Fatalf("%d events offered and %d checks for %d attempts", len(tried), b.hasher.checks.Load(), len(names)+1)
			}
			for _, ev := range tried {
				if ev.Details["reason"] != "unknown user" || len(ev.Target) > 128+len("…") || ev.SourceIP == "" {
					t.Fatalf("event %+v", ev)
				}
			}
		})
	}
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{hasher: &countingHasher{rehash: true}})
	u := b.user(t, "alice", steward.Grant{Role: steward.RoleViewer})
	_, secret, err := b.svc.CreateToken(as(u, steward.AuthPassword), steward.TokenInput{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Login(context.Background(), steward.LoginInput{Name: "alice", Password: ""})
	wantCode(t, err, steward.EINVALID)
	ua := strings.Repeat("é", 300) + "\x00\xff" // 600 bytes, a NUL and a stray byte
	res, err := b.svc.Login(context.Background(), steward.LoginInput{Name: " ALICE ", Password: "password-alice", SourceIP: "192.0.2.1", UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.ID != u.ID || !res.Session.ExpiresAt.Equal(b.now.Add(12*time.Hour)) {
		t.Fatalf("login = %+v", res)
	}
	if !strings.HasPrefix(res.Session.UserAgent, "éé") || len(res.Session.UserAgent) > 500 || strings.ContainsAny(res.Session.UserAgent, "\x00\xff") {
		t.Fatalf("user agent kept as %q", res.Session.UserAgent)
	}
	a, err := b.svc.AuthenticateSession(context.Background(), res.Token)
	if err != nil || a.UserID != u.ID || a.Auth != steward.AuthPassword || a.TokenID != 0 {
		t.Fatalf("AuthenticateSession = %+v, %v", a, err)
	}
	// The outdated hash was replaced, without ending sessions or tokens.
	if got, _ := b.db.UserGet(context.Background(), u.ID); got.PasswordHash == u.PasswordHash {
		t.Fatal("password not rehashed")
	}
	if _, err := b.svc.AuthenticateToken(context.Background(), secret); err != nil {
		t.Fatalf("rehash revoked the token: %v", err)
	}
	a.SourceIP = "192.0.2.1" // as the web server sets it
	ctx := steward.NewContextWithActor(context.Background(), a)
	if err := b.svc.Logout(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Logout(ctx, res.Token); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	_, err = b.svc.AuthenticateSession(context.Background(), res.Token)
	wantCode(t, err, steward.EUNAUTHORIZED)
	for _, action := range []string{"user.login", "user.logout"} {
		evs, _, err := b.db.AuditList(context.Background(), storetest.All(), steward.AuditFilter{Action: action})
		if err != nil || len(evs) != 1 || evs[0].Actor != "alice" || evs[0].SourceIP == "" {
			t.Errorf("%s events: %+v, %v", action, evs, err)
		}
	}
}

// TestParallelGuessesGetNoMoreChecks fires thirty wrong passwords at once,
// at one account and then at thirty accounts from one address, and counts
// the password checks: no more than the limits, 5 per account and 20 per
// address. Each check waits at a gate until every attempt has either
// reached a check or been refused, so all thirty are in flight together.
func TestParallelGuessesGetNoMoreChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		accounts  int
		maxChecks int64
	}{
		{"one account", 1, 5},
		{"one address", 30, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const attempts = 30
			h := &countingHasher{arrived: make(chan struct{}), gate: make(chan struct{})}
			// Enough hashing slots for all thirty, so that only the
			// throttle can hold an attempt back.
			b := setup(t, setupOpts{hasher: h, concurrentHashes: attempts})
			for i := range tc.accounts {
				b.user(t, fmt.Sprint("user", i))
			}
			refused := make(chan struct{})
			var wg sync.WaitGroup
			var throttled, failed atomic.Int64
			for i := range attempts {
				wg.Go(func() {
					name := fmt.Sprint("user", i%tc.accounts)
					_, err := b.svc.Login(context.Background(), steward.LoginInput{Name: name, Password: "a wrong guess", SourceIP: "198.51.100.7"})
					switch steward.ErrorCode(err) {
					case steward.ETHROTTLED:
						throttled.Add(1)
						refused <- struct{}{}
					case steward.EUNAUTHORIZED:
						failed.Add(1)
					default:
						t.Errorf("attempt %d: %v", i, err)
					}
				})
			}
			for range attempts { // each attempt is either checked or refused
				select {
				case <-h.arrived:
				case <-refused:
				}
			}
			close(h.gate)
			wg.Wait()
			if got := h.checks.Load(); got != tc.maxChecks || failed.Load() != tc.maxChecks || throttled.Load() != attempts-tc.maxChecks {
				t.Fatalf("%d checks, %d failed, %d throttled; want %d checks", got, failed.Load(), throttled.Load(), tc.maxChecks)
			}
		})
	}
}
