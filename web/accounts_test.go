package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestSafeNext runs known open-redirect bypasses past the redirect after
// sign-in: each must land on "/", and real links must survive.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	kept := []string{
		"/",
		"/account",
		"/tokens?done=token-revoked",
		"/resources?tag=env%3Dprod&sort=name",
		"/resource?id=%2Fsubscriptions%2F00000000-0000-0000-0000-000000000001%2FresourceGroups%2Frg%2Fproviders%2FMicrosoft.Storage%2FstorageAccounts%2Fsa",
		"/resources?q=caf%C3%A9",          // UTF-8 in the query
		"/resources?tag=discount%3D50%25", // decodes to a lone %: nothing more to decode
		"/tag-edits/5#items",
		"/a/../b",
	}
	for _, next := range kept {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
	}
	refused := []string{
		"",
		"evil.example",
		"./evil.example",
		"//evil.example",
		"///evil.example",
		"/\\evil.example",
		"\\\\evil.example",
		"/\\/evil.example",
		"/\t/evil.example",
		"/\t\\evil.example",
		"/\n/evil.example",
		"/\r\n/evil.example",
		" //evil.example",
		"/ /evil.example",
		"/\x00/evil.example",
		"/\x7f/evil.example",
		"/%09/evil.example",
		"/%0d%0aSet-Cookie:%20x=1",
		"/%00/evil.example",
		"/%7F/evil.example",
		"/%2F/evil.example",
		"/%2f%2fevil.example",
		"%2F%2Fevil.example",
		"/%5Cevil.example",
		"/%5c%5cevil.example",
		"/%252F%252Fevil.example",         // encoded twice
		"/%25252F%25252Fevil.example",     // three times
		"/%2525252F%2525252Fevil.example", // four: more than anyone's link
		"/%2e%2e//evil.example",
		"/.//evil.example",
		"/x?y=1#//evil.example",
		"/login?next=//evil.example",
		"/resources?back=%2F%2Fevil.example",
		"https://evil.example",
		"https:evil.example",
		"http:/evil.example",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(1)",
		"/javascript:alert(1)",
		"/%6Aavascript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"/\u2215evil.example",             // division slash
		"/\uff0fevil.example",             // fullwidth solidus
		"/%E2%88%95evil.example",          // division slash, encoded
		"/%EF%BC%8F%EF%BC%8Fevil.example", // fullwidth solidi, encoded
		"/%C0%AFevil.example",             // an overlong slash
		"/?q=%E2%80%AEevil",               // right-to-left override
		"/%zz",
	}
	for _, next := range refused {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q, want /", next, got)
		}
	}
}

// TestSignInRedirectStaysHere sends a signed-in browser and a signing-in
// one to /login with a next that once led to another site.
func TestSignInRedirectStaysHere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, _ := b.user(t, "ivy", steward.Grant{Role: steward.RoleViewer})
	cookie := b.session(t, u.ID)
	location := func(r *http.Request) string {
		t.Helper()
		// The transport, not the client: a client would refuse to parse
		// the bad Location headers this test is about.
		resp, err := b.ts.Client().Transport.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s %s: status %d", r.Method, r.URL, resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	for _, next := range []string{"%2F%09%2Fevil.example%2Fx", "%2F%09%5Cevil.example", "%2F%5C%09%5Cevil.example", "%2F%2Fevil.example", "%2F%252F%252Fevil.example"} {
		r, _ := http.NewRequest("GET", b.ts.URL+"/login?next="+next, nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		if got := location(r); got != "/" {
			t.Errorf("signed in, next=%s: Location %q, want /", next, got)
		}
		form := "name=ivy&password=password-ivy&next=" + next
		r, _ = http.NewRequest("POST", b.ts.URL+"/login", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := location(r); got != "/" {
			t.Errorf("signing in, next=%s: Location %q, want /", next, got)
		}
	}
	r, _ := http.NewRequest("GET", b.ts.URL+"/login?next="+url.QueryEscape("/resources?tag=env%3Dprod"), nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	if got := location(r); got != "/resources?tag=env%3Dprod" {
		t.Errorf("a real next became %q", got)
	}
}

// TestTokenCannotTakeOverItsOwner: an admin's token can neither set a
// password (its owner's or anyone's) nor mint tokens or users, through the
// API; the owner's password still works afterwards.
func TestTokenCannotTakeOverItsOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	root, token := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
	other, _ := b.user(t, "other", steward.Grant{Role: steward.RoleViewer})
	for _, r := range []req{
		{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", root.ID), body: `{"password":"the thief's own password"}`},
		{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", other.ID), body: `{"password":"the thief's own password"}`},
		{method: "PUT", path: "/api/v1/me/password", body: `{"currentPassword":"password-root","newPassword":"the thief's own password"}`},
		{method: "POST", path: "/api/v1/tokens", body: `{"name":"another"}`},
		{method: "POST", path: "/api/v1/users", body: `{"name":"sleeper","password":"the thief's own password","grants":[{"role":"admin"}]}`},
	} {
		r.token = token
		resp, body := b.do(t, r)
		wantAPIError(t, resp, body, http.StatusForbidden, steward.EFORBIDDEN, "API tokens cannot")
	}
	c := b.browser(t)
	if resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"root"}, "password": {"password-root"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's password no longer works: %d %s", resp.StatusCode, body)
	}
	if resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"other"}, "password": {"the thief's own password"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the thief's password works for another user: %d %s", resp.StatusCode, body)
	}
	if toks, _ := b.db.TokenList(context.Background(), 0); len(toks) != 2 {
		t.Fatalf("%d tokens, want the 2 the test made", len(toks))
	}
}

// TestNewPasswordEndsSessionsAndTokens changes a password each way the
// portal offers: the owner on their account page, an admin on the user's
// page and through the API. Each time the user's other sessions end and
// their tokens stop working.
func TestNewPasswordEndsSessionsAndTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	root, _ := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
	rootCookie := b.session(t, root.ID)
	admin := b.browser(t)
	if resp, body := postForm(t, admin, b.ts.URL+"/login", url.Values{"name": {"root"}, "password": {"password-root"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("root sign-in: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		name   string
		change func(u *steward.User, browser *http.Client) (*http.Response, string)
		flash  string
	}{
		{"own", func(u *steward.User, c *http.Client) (*http.Response, string) {
			return postForm(t, c, b.ts.URL+"/account/password", url.Values{"current": {"password-" + u.Name}, "new": {"a brand new password"}, "confirm": {"a brand new password"}})
		}, "revoked"},
		{"admin page", func(u *steward.User, _ *http.Client) (*http.Response, string) {
			return postForm(t, admin, b.ts.URL+fmt.Sprintf("/users/%d/password", u.ID), url.Values{"password": {"a brand new password"}})
		}, "revoked"},
		{"admin API", func(u *steward.User, _ *http.Client) (*http.Response, string) {
			return b.do(t, req{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", u.ID), cookie: rootCookie, body: `{"password":"a brand new password"}`})
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, token := b.user(t, "user-"+strings.ReplaceAll(tc.name, " ", "-"), steward.Grant{Role: steward.RoleViewer})
			other := b.session(t, u.ID)
			c := b.browser(t)
			if resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {u.Name}, "password": {"password-" + u.Name}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
			}
			resp, body := tc.change(u, c)
			if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusOK {
				t.Fatalf("change: %d %s", resp.StatusCode, body)
			}
			if tc.flash != "" {
				_, page := get(t, admin, b.ts.URL+resp.Header.Get("Location"))
				if tc.name == "own" {
					_, page = get(t, c, b.ts.URL+resp.Header.Get("Location"))
				}
				if !strings.Contains(page, tc.flash) {
					t.Errorf("the page after the change does not say tokens were revoked: %.500s", page)
				}
			}
			resp, body = b.do(t, req{method: "GET", path: "/api/v1/me", token: token})
			wantAPIError(t, resp, body, http.StatusUnauthorized, steward.EUNAUTHORIZED, "revoked")
			resp, body = b.do(t, req{method: "GET", path: "/api/v1/me", cookie: other})
			wantStatus(t, resp, body, http.StatusUnauthorized)
			if resp, _ := get(t, c, b.ts.URL+"/account"); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("the changing browser's session survived: %d", resp.StatusCode)
			}
		})
	}
}

// gatedHasher counts password checks and holds each at a gate until the
// test opens it, so that all attempts are in flight together.
type gatedHasher struct {
	steward.PasswordHasher
	checks  atomic.Int64
	arrived chan struct{}
	gate    chan struct{}
}

func (h *gatedHasher) hold() {
	h.checks.Add(1)
	h.arrived <- struct{}{}
	<-h.gate
}

func (h *gatedHasher) Check(hash, pw string) (bool, bool, error) {
	h.hold()
	return h.PasswordHasher.Check(hash, pw)
}

func (h *gatedHasher) CheckNoUser(pw string) {
	h.hold()
	h.PasswordHasher.CheckNoUser(pw)
}

// TestParallelWrongPasswords sends thirty wrong passwords at once from one
// address, to one account and to thirty: the passwords checked stay within
// the limits (5 per account, 20 per address) and the rest are told to wait.
func TestParallelWrongPasswords(t *testing.T) {
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
			h := &gatedHasher{PasswordHasher: fastHash, arrived: make(chan struct{}), gate: make(chan struct{})}
			b := setupWith(t, setupOpts{accounts: func(c *accounts.Config) {
				c.Passwords = h
				c.ConcurrentHashes = attempts // only the throttle holds attempts back
			}})
			for i := range tc.accounts {
				b.user(t, fmt.Sprint("user", i))
			}
			refused := make(chan struct{})
			var throttled, failed atomic.Int64
			var wg sync.WaitGroup
			for i := range attempts {
				wg.Go(func() {
					resp, err := b.browser(t).PostForm(b.ts.URL+"/login", url.Values{"name": {fmt.Sprint("user", i%tc.accounts)}, "password": {"a wrong guess"}})
					if err != nil {
						t.Error(err)
						refused <- struct{}{}
						return
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusTooManyRequests:
						throttled.Add(1)
						refused <- struct{}{}
					case http.StatusUnauthorized:
						failed.Add(1)
					default:
						t.Errorf("attempt %d: status %d", i, resp.StatusCode)
					}
				})
			}
			for range attempts {
				select {
				case <-h.arrived:
				case <-refused:
				}
			}
			close(h.gate)
			wg.Wait()
			if h.checks.Load() != tc.maxChecks || failed.Load() != tc.maxChecks || throttled.Load() != attempts-tc.maxChecks {
				t.Fatalf("%d checks, %d failed, %d throttled; want %d checks and failures", h.checks.Load(), failed.Load(), throttled.Load(), tc.maxChecks)
			}
			if n := len(b.events(t, "user.login_throttled")); n != attempts-int(tc.maxChecks) {
				t.Fatalf("%d throttled attempts audited", n)
			}
		})
	}
}

// auditRecorder notes every event offered to the audit log, whether or not
// the store takes it.
type auditRecorder struct {
	*store.DB
	mu      sync.Mutex
	offered []*steward.AuditEvent
}

func (r *auditRecorder) AuditAppend(ctx context.Context, ev *steward.AuditEvent) error {
	r.mu.Lock()
	r.offered = append(r.offered, ev)
	r.mu.Unlock()
	return r.DB.AuditAppend(ctx, ev)
}

func (r *auditRecorder) count(action string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.offered {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestNamesWithNULOrInvalidUTF8 sends names PostgreSQL cannot store, and
// names with other control characters, as JSON and as forms: each is a 400
// naming the field, on both engines (NUL and stray bytes are refused at the
// door, the rest by the account service). A sign-in with a name that
// passes the door but cannot be a user's is a failed sign-in, audited.
func TestNamesWithNULOrInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			rec := &auditRecorder{}
			b := setupWith(t, setupOpts{engine: engine, accounts: func(c *accounts.Config) {
				rec.DB = c.Store.(*store.DB)
				c.Store = rec
			}})
			root, _ := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
			cookie := b.session(t, root.ID)
			form := "application/x-www-form-urlencoded"
			for _, tc := range []struct {
				r   req
				msg string
			}{
				{req{method: "POST", path: "/api/v1/users", body: `{"name":"jo","displayName":"a\u0000b","password":"long enough password"}`}, "NUL character (\\\\u0000) in displayName"},
				{req{method: "POST", path: "/api/v1/users", body: `{"name":"jo","displayName":"a\u0001b","password":"long enough password"}`}, "Display name must not contain control characters"},
				{req{method: "POST", path: "/api/v1/users", body: `{"name":"jo","email":"jo\u0007@example.com","password":"long enough password"}`}, "Email address must not"},
				{req{method: "POST", path: "/api/v1/users", body: `{"name":"jo\u0000","password":"long enough password"}`}, "NUL character (\\\\u0000) in name"},
				{req{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", root.ID), body: `{"displayName":"\u001b[31m"}`}, "Display name must not"},
				{req{method: "POST", path: "/api/v1/tokens", body: `{"name":"ci\u0000"}`}, "NUL character (\\\\u0000) in name"},
				{req{method: "POST", path: "/api/v1/tokens", body: `{"name":"ci\tx"}`}, "Token name must not"},
				{req{method: "POST", path: "/users", contentType: form, body: "name=jo&password=long+enough+password&role=viewer&displayName=%ff%fe"}, "displayName&#34; is not valid UTF-8"},
				{req{method: "POST", path: "/users", contentType: form, body: "name=jo&password=long+enough+password&role=viewer&displayName=a%0Ab"}, "Display name must not"},
				{req{method: "POST", path: fmt.Sprintf("/users/%d", root.ID), contentType: form, body: "displayName=%1B&email="}, "Display name must not"},
				{req{method: "POST", path: "/tokens", contentType: form, body: "name=%ff&expires=30d"}, "name&#34; is not valid UTF-8"},
				{req{method: "POST", path: "/tokens", contentType: form, body: "name=ci%01&expires=30d"}, "Token name must not"},
			} {
				r := tc.r
				r.cookie = cookie
				resp, body := b.do(t, r)
				wantStatus(t, resp, body, http.StatusBadRequest)
				if !strings.Contains(body, tc.msg) {
					t.Errorf("%s %s %s: %.300s; want %q", r.method, r.path, r.body, body, tc.msg)
				}
			}
			for _, name := range []string{"%ff%fe", "ro%00ot"} { // refused at the door, audited there
				resp, body := b.do(t, req{method: "POST", path: "/login", contentType: form, body: "name=" + name + "&password=whatever+it+is"})
				wantStatus(t, resp, body, http.StatusBadRequest)
			}
			for _, name := range []string{"ro%01ot", "ro%0Aot", "ro%E2%80%AEot", "ro+ot"} { // past the door, nobody's name
				resp, body := b.do(t, req{method: "POST", path: "/login", contentType: form, body: "name=" + name + "&password=whatever+it+is"})
				wantStatus(t, resp, body, http.StatusUnauthorized)
				if !strings.Contains(body, "The user name or password is wrong.") {
					t.Errorf("sign-in as %s: %.300s", name, body)
				}
			}
			if n := rec.count("user.login_failed"); n != 4 {
				t.Fatalf("%d failed sign-ins offered to the audit log, want 4", n)
			}
			if n := len(b.events(t, "user.login_failed")); n != 4 {
				t.Fatalf("%d failed sign-ins in the audit log, want 4", n)
			}
			if n := len(b.events(t, "request.invalid")); n < 2 {
				t.Fatalf("%d refused requests in the audit log, want at least the 2 sign-ins", n)
			}
			if n, _ := b.db.UserCount(context.Background()); n != 1 {
				t.Fatalf("%d users, want 1", n)
			}
		})
	}
}
