package web

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/lighthouse"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// testBundle is a server on a real store, served over TLS by httptest.
type testBundle struct {
	db     *store.DB
	srv    *Server
	ts     *httptest.Server
	clock  *fakeClock
	hasher auth.Hasher
	logs   *syncBuffer
	svc    *stewardtest.Services
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastHash keeps tests quick; production uses auth.DefaultParams.
var fastHash = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, setupOpts{})
}

func setupEngine(t testing.TB, engine store.Engine) *testBundle {
	t.Helper()
	return setupWith(t, setupOpts{engine: engine})
}

// setupOpts changes what setupWith builds; the zero value is setup's.
type setupOpts struct {
	engine store.Engine // defaults to SQLite
	// accounts changes the account service's config (its store, its
	// password hasher) before the service is built.
	accounts func(*accounts.Config)
}

func setupWith(t testing.TB, o setupOpts) *testBundle {
	t.Helper()
	b := &testBundle{db: storetest.Open(t, cmp.Or(o.engine, store.SQLite)), clock: &fakeClock{t: time.Now().UTC()}, hasher: fastHash, logs: &syncBuffer{}}
	log := slog.New(steward.LogHandler(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	b.svc = services(t, b.db, log)
	ac := accounts.Config{Store: b.db, Passwords: b.hasher, Logger: log, Now: b.clock.Now}
	if o.accounts != nil {
		o.accounts(&ac)
	}
	acc, err := accounts.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DataDir: t.TempDir(), Logger: log, Now: b.clock.Now},
		Deps{Accounts: acc, Audit: b.db, Lighthouse: lighthouse.New(),
			InventoryService: b.svc.Inventory, Access: b.svc.Access,
			Ready: func(ctx context.Context) error { return b.db.Ping(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = srv
	b.ts = httptest.NewTLSServer(srv.Handler())
	t.Cleanup(b.ts.Close)
	return b
}

// user creates a user with the given grants and returns an API token for it.
func (b *testBundle) user(t testing.TB, name string, grants ...steward.Grant) (*steward.User, string) {
	t.Helper()
	hash, err := b.hasher.Hash("password-" + name)
	if err != nil {
		t.Fatal(err)
	}
	u := &steward.User{Name: name, PasswordHash: hash, Grants: grants}
	ev := &steward.AuditEvent{Actor: "test", Action: "user.create", Target: name, Outcome: steward.OutcomeSuccess}
	if err := b.db.UserCreate(context.Background(), u, ev); err != nil {
		t.Fatal(err)
	}
	token, th := steward.NewToken(steward.TokenPrefix)
	tok := &steward.APIToken{UserID: u.ID, Name: "test", Prefix: token[:10], Hash: th, ExpiresAt: b.clock.Now().Add(steward.DefaultTokenLifetime)}
	if err := b.db.TokenCreate(context.Background(), tok, nil); err != nil {
		t.Fatal(err)
	}
	return u, token
}

// session starts a browser session for a user directly in the store and
// returns the cookie value.
func (b *testBundle) session(t testing.TB, userID int64) string {
	t.Helper()
	token, hash := steward.NewToken("")
	s := &steward.Session{Hash: hash, UserID: userID, ExpiresAt: b.clock.Now().Add(time.Hour)}
	if err := b.db.SessionCreate(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	return token
}

type req struct {
	method, path string
	body         string
	contentType  string
	token        string // bearer
	cookie       string // session
	header       map[string]string
}

func (b *testBundle) do(t testing.TB, r req) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, b.ts.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: sessionCookie, Value: r.cookie})
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	c := b.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func wantStatus(t *testing.T, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
}

func wantAPIError(t *testing.T, resp *http.Response, body string, status int, code, msgPart string) {
	t.Helper()
	wantStatus(t, resp, body, status)
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	if e.Error.Code != code || !strings.Contains(e.Error.Message, msgPart) {
		t.Fatalf("error = %+v; want code %q with message containing %q", e.Error, code, msgPart)
	}
}

// events returns the audit events with an action, oldest first.
func (b *testBundle) events(t *testing.T, action string) []*steward.AuditEvent {
	t.Helper()
	evs, _, err := b.db.AuditList(context.Background(), everything, steward.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// browser is a client with a cookie jar, as a person's browser would be.
func (b *testBundle) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := *b.ts.Client() // a copy: each browser has its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// everything is the scope of Steward's own jobs, for tests that read the
// store directly to check what a service did.
var everything = steward.SystemActor.Scope(steward.PermInventoryRead)
