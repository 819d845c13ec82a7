package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
	"github.com/stewardhq/steward/lighthouse"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t, engine)
			b.user(t, "alice", steward.Grant{Role: steward.RoleViewer})
			c := b.browser(t)

			resp, body := get(t, c, b.ts.URL+"/")
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2F" {
				t.Fatalf("anonymous dashboard: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			resp, body = postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"alice"}, "password": {"wrong password"}})
			wantStatus(t, resp, body, http.StatusUnauthorized)
			if !strings.Contains(body, "The user name or password is wrong.") || strings.Contains(body, "wrong password\"") {
				t.Fatalf("failed sign-in page: %s", body)
			}
			resp, body = postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"nobody"}, "password": {"whatever it is"}})
			wantStatus(t, resp, body, http.StatusUnauthorized) // same answer for an unknown user

			resp, body = postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"ALICE"}, "password": {"password-alice"}, "next": {"/account"}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
				t.Fatalf("sign-in: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie {
					cookie = ck
				}
			}
			if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
				t.Fatalf("session cookie = %+v", cookie)
			}
			resp, body = get(t, c, b.ts.URL+"/")
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, "alice") || !strings.Contains(body, "viewer") {
				t.Fatalf("dashboard does not show the user: %s", body)
			}
			resp, body = postForm(t, c, b.ts.URL+"/logout", nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d %s", resp.StatusCode, body)
			}
			if _, err := b.db.SessionGet(context.Background(), steward.HashToken(cookie.Value)); steward.ErrorCode(err) != steward.ENOTFOUND {
				t.Fatalf("session still stored after sign-out: %v", err)
			}
			// The old cookie no longer works even if replayed.
			resp, _ = b.do(t, req{method: "GET", path: "/api/v1/me", cookie: cookie.Value})
			wantStatus(t, resp, "", http.StatusUnauthorized)

			fails := b.events(t, "user.login_failed")
			if len(fails) != 2 || fails[0].Actor != "alice" || fails[0].Details["reason"] != "wrong password" || fails[1].Details["reason"] != "unknown user" || fails[0].SourceIP == "" {
				t.Fatalf("failed sign-ins audited as %+v", fails)
			}
			if logins := b.events(t, "user.login"); len(logins) != 1 || logins[0].Actor != "alice" {
				t.Fatalf("sign-in audited as %+v", logins)
			}
			if outs := b.events(t, "user.logout"); len(outs) != 1 || outs[0].Actor != "alice" {
				t.Fatalf("sign-out audited as %+v", outs)
			}
			if v, _ := b.db.AuditVerify(context.Background()); !v.OK() {
				t.Fatalf("audit chain: %+v", v)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "bob", steward.Grant{Role: steward.RoleViewer})
	c := b.browser(t)
	for i := range 5 {
		resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"bob"}, "password": {fmt.Sprint("guess number ", i)}})
		wantStatus(t, resp, body, http.StatusUnauthorized)
	}
	// Even the right password is refused while throttled, without a check.
	resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"bob"}, "password": {"password-bob"}})
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" || !strings.Contains(body, "Try again in") {
		t.Fatalf("throttled answer: Retry-After %q, body %s", ra, body)
	}
	if len(b.events(t, "user.login_throttled")) != 1 {
		t.Fatal("throttled sign-in not audited")
	}
	// Another account from the same address is not locked by bob's failures.
	b.user(t, "carol", steward.Grant{Role: steward.RoleViewer})
	resp, body = postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"carol"}, "password": {"password-carol"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("carol: %d %s", resp.StatusCode, body)
	}
	b.clock.Add(3 * time.Minute)
	resp, body = postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"bob"}, "password": {"password-bob"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob after waiting: %d %s", resp.StatusCode, body)
	}
}

func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	root, token := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
	cookie := b.session(t, root.ID)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name    string
		r       req
		status  int
		code    string
		message string
	}{
		{"malformed", req{method: "POST", path: "/api/v1/users", body: `{"name": "x",`}, 400, steward.EINVALID, "not valid JSON"},
		{"unknown field", req{method: "POST", path: "/api/v1/users", body: `{"name":"x","role":"admin"}`}, 400, steward.EINVALID, `Unknown field "role"`},
		{"wrong type", req{method: "POST", path: "/api/v1/users", body: `{"name":5}`}, 400, steward.EINVALID, `Field "name" must be string`},
		{"two values", req{method: "POST", path: "/api/v1/users", body: `{"name":"a"}{"name":"b"}`}, 400, steward.EINVALID, "exactly one JSON value"},
		{"empty", req{method: "POST", path: "/api/v1/users", body: " ", contentType: "application/json"}, 400, steward.EINVALID, "empty"},
		{"oversized", req{method: "POST", path: "/api/v1/users", body: big}, 413, steward.ETOOLARGE, "larger than"},
		{"content type", req{method: "POST", path: "/api/v1/users", body: `name=x`, contentType: "application/x-www-form-urlencoded"}, 415, steward.EUNSUPPORTED, "application/json"},
		{"invalid id", req{method: "GET", path: "/api/v1/users/abc"}, 400, steward.EINVALID, `"abc" is not a valid id`},
		{"missing user", req{method: "GET", path: "/api/v1/users/424242"}, 404, steward.ENOTFOUND, "User not found"},
		{"bad name", req{method: "POST", path: "/api/v1/users", body: `{"name":"no spaces allowed","password":"long enough password"}`}, 400, steward.EINVALID, "User name must be"},
		{"short password", req{method: "POST", path: "/api/v1/users", body: `{"name":"dan","password":"short"}`}, 400, steward.EINVALID, "at least 12"},
		{"bad role", req{method: "POST", path: "/api/v1/users", body: `{"name":"dan","password":"long enough password","grants":[{"role":"god"}]}`}, 400, steward.EINVALID, `Unknown role "god"`},
		{"bad tenant", req{method: "POST", path: "/api/v1/users", body: `{"name":"dan","password":"long enough password","grants":[{"role":"viewer","tenants":["contoso"]}]}`}, 400, steward.EINVALID, "is not a tenant ID"},
		{"scoped admin", req{method: "POST", path: "/api/v1/users", body: `{"name":"dan","password":"long enough password","grants":[{"role":"admin","tenants":["aaaaaaaa-0000-0000-0000-000000000001"]}]}`}, 400, steward.EINVALID, "cannot be limited"},
		{"bad filter", req{method: "GET", path: "/api/v1/audit?from=yesterday"}, 400, steward.EINVALID, "from must be a date"},
		{"bad range", req{method: "GET", path: "/api/v1/audit?from=2026-02-01&to=2026-01-01"}, 400, steward.EINVALID, "from must be before to"},
		{"bad limit", req{method: "GET", path: "/api/v1/audit?limit=5000"}, 400, steward.EINVALID, "limit must be"},
		{"bad cursor", req{method: "GET", path: "/api/v1/audit?cursor=xyz"}, 400, steward.EINVALID, "cursor"},
		{"bad tenant filter", req{method: "GET", path: "/api/v1/audit?tenant=contoso"}, 400, steward.EINVALID, "must be a tenant ID"},
		{"bad format", req{method: "GET", path: "/api/v1/audit/export?format=xml"}, 400, steward.EINVALID, "csv or json"},
		{"nothing to change", req{method: "PATCH", path: "/api/v1/users/1", body: `{}`}, 400, steward.EINVALID, "Nothing to change"},
		{"bad expiry", req{method: "POST", path: "/api/v1/tokens", body: `{"name":"x","expiresIn":"forever"}`}, 400, steward.EINVALID, `Expiry "forever" is not a lifetime such as 30d or 720h.`},
		{"no expiry", req{method: "POST", path: "/api/v1/tokens", body: `{"name":"x","expiresIn":"0"}`}, 400, steward.EINVALID, "every token expires"},
		{"long expiry", req{method: "POST", path: "/api/v1/tokens", body: `{"name":"x","expiresIn":"731d"}`}, 400, steward.EINVALID, "Tokens expire within 730 days (two years); 731d is longer."},
		{"overflowing expiry", req{method: "POST", path: "/api/v1/tokens", body: `{"name":"x","expiresIn":"213504d"}`}, 400, steward.EINVALID, "within 730 days"},
		{"token making a token", req{method: "POST", path: "/api/v1/tokens", token: token, body: `{"name":"x"}`}, 403, steward.EFORBIDDEN, "API tokens cannot create tokens"},
		{"token making a user", req{method: "POST", path: "/api/v1/users", token: token, body: `{"name":"x","password":"long enough password"}`}, 403, steward.EFORBIDDEN, "API tokens cannot create users"},
		{"unknown API path", req{method: "GET", path: "/api/v1/nothing"}, 404, steward.ENOTFOUND, "nothing at /api/v1/nothing"},
		{"wrong method", req{method: "PUT", path: "/api/v1/users"}, 405, steward.EINVALID, "does not accept PUT"},
		{"bad token", req{method: "GET", path: "/api/v1/me", token: "stw_forged"}, 401, steward.EUNAUTHORIZED, "not valid"},
		{"not a bearer token", req{method: "GET", path: "/api/v1/me", header: map[string]string{"Authorization": "Basic YTpi"}}, 401, steward.EUNAUTHORIZED, "Bearer"},
	}
	before, _ := b.db.UserCount(context.Background())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if r.token == "" && r.header == nil {
				r.cookie = cookie
			}
			resp, body := b.do(t, r)
			wantAPIError(t, resp, body, tc.status, tc.code, tc.message)
		})
	}
	if after, _ := b.db.UserCount(context.Background()); after != before {
		t.Fatalf("bad requests stored users: %d before, %d after", before, after)
	}
	if !strings.Contains(b.do2(t, req{method: "PUT", path: "/api/v1/users", token: token}), "GET, HEAD, POST") {
		t.Error("405 answer lacks the Allow header")
	}
}

// do2 returns the Allow header of a response.
func (b *testBundle) do2(t *testing.T, r req) string {
	resp, _ := b.do(t, r)
	return resp.Header.Get("Allow")
}

func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, _ := b.user(t, "erin", steward.Grant{Role: steward.RoleAdmin})
	cookie := b.session(t, u.ID)
	resp, body := b.do(t, req{method: "POST", path: "/api/v1/users", body: `{"name":"x","password":"long enough password"}`, cookie: cookie,
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	wantStatus(t, resp, body, http.StatusForbidden)
	resp, body = b.do(t, req{method: "POST", path: "/logout", body: "x=1", contentType: "application/x-www-form-urlencoded", cookie: cookie,
		header: map[string]string{"Origin": "https://evil.example"}})
	wantStatus(t, resp, body, http.StatusForbidden)
	if n, _ := b.db.UserCount(context.Background()); n != 1 {
		t.Fatal("a cross-site request created a user")
	}
	// Same-origin browser requests pass.
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/users", body: `{"name":"x","password":"long enough password"}`, cookie: cookie,
		header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	wantStatus(t, resp, body, http.StatusCreated)
}

// TestUserTokenAndAuditFlow drives the API as an admin and a new user
// would, then checks the audit log recorded every step and still verifies.
func TestUserTokenAndAuditFlow(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t, engine)
			root, rootToken := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
			rootCookie := b.session(t, root.ID)

			resp, body := b.do(t, req{method: "POST", path: "/api/v1/users", cookie: rootCookie,
				body: `{"name":"fay","displayName":"Fay","email":"fay@example.com","password":"fay's long password","grants":[{"role":"tag-editor","tenants":["AAAAAAAA-0000-0000-0000-000000000001"]}]}`})
			wantStatus(t, resp, body, http.StatusCreated)
			var fay apiUser
			json.Unmarshal([]byte(body), &fay)
			if fay.Name != "fay" || len(fay.Grants) != 1 || fay.Grants[0].Tenants[0] != "aaaaaaaa-0000-0000-0000-000000000001" || strings.Contains(body, "argon2") {
				t.Fatalf("created user: %s", body)
			}
			resp, body = b.do(t, req{method: "POST", path: fmt.Sprintf("/api/v1/users/%d/grants", fay.ID), token: rootToken, body: `{"role":"auditor"}`})
			wantStatus(t, resp, body, http.StatusCreated)

			// Fay signs in and makes herself a token in the browser session.
			c := b.browser(t)
			if resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"fay"}, "password": {"fay's long password"}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("fay sign-in: %d %s", resp.StatusCode, body)
			}
			resp, body = postForm(t, c, b.ts.URL+"/tokens", url.Values{"name": {"laptop"}, "expires": {"168h"}})
			wantStatus(t, resp, body, http.StatusCreated)
			i := strings.Index(body, `value="stw_`)
			if i < 0 {
				t.Fatalf("token page does not show the new token: %s", body)
			}
			fayToken := body[i+7 : i+7+47]
			resp, body = b.do(t, req{method: "GET", path: "/api/v1/me", token: fayToken})
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, `"tags.write":{"allTenants":false,"tenants":["aaaaaaaa-0000-0000-0000-000000000001"]}`) || !strings.Contains(body, `"audit.read":{"allTenants":true}`) || !strings.Contains(body, `"viaToken":true`) {
				t.Fatalf("me: %s", body)
			}
			resp, body = b.do(t, req{method: "GET", path: "/api/v1/tokens", token: fayToken})
			if strings.Contains(body, fayToken) || strings.Contains(body, steward.HashToken(fayToken)) {
				t.Fatal("token list shows a token or its hash")
			}
			// Fay cannot list or revoke root's tokens.
			resp, body = b.do(t, req{method: "GET", path: "/api/v1/tokens?all=true", token: fayToken})
			wantAPIError(t, resp, body, http.StatusForbidden, steward.EFORBIDDEN, "Only admins")

			// The admin disables fay: her token stops at once.
			resp, body = b.do(t, req{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", fay.ID), cookie: rootCookie, body: `{"disabled":true}`})
			wantStatus(t, resp, body, http.StatusOK)
			resp, _ = b.do(t, req{method: "GET", path: "/api/v1/me", token: fayToken})
			wantStatus(t, resp, "", http.StatusUnauthorized)
			// Root cannot disable or delete themself.
			resp, body = b.do(t, req{method: "PATCH", path: fmt.Sprintf("/api/v1/users/%d", root.ID), token: rootToken, body: `{"disabled":true}`})
			wantAPIError(t, resp, body, http.StatusConflict, steward.ECONFLICT, "your own account")
			resp, body = b.do(t, req{method: "DELETE", path: fmt.Sprintf("/api/v1/users/%d", root.ID), token: rootToken})
			wantAPIError(t, resp, body, http.StatusConflict, steward.ECONFLICT, "your own account")

			resp, body = b.do(t, req{method: "DELETE", path: fmt.Sprintf("/api/v1/users/%d", fay.ID), token: rootToken})
			wantStatus(t, resp, body, http.StatusNoContent)

			resp, body = b.do(t, req{method: "POST", path: "/api/v1/audit/verify", token: rootToken})
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, `"ok":true`) {
				t.Fatalf("verify: %s", body)
			}
			var actions []string
			for _, e := range b.events(t, "") {
				actions = append(actions, e.Actor+":"+e.Action)
			}
			got := strings.Join(actions, " ")
			for _, want := range []string{"root:user.create", "root:grant.create", "fay:user.login", "fay:token.create", "root:user.update", "root:user.delete", "root:audit.verify"} {
				if !strings.Contains(got, want) {
					t.Errorf("audit log lacks %s: %s", want, got)
				}
			}
			// No secret reached the log: no password, token, or hash.
			for _, e := range b.events(t, "") {
				all := fmt.Sprint(e)
				if strings.Contains(all, "fay's long password") || strings.Contains(all, fayToken) || strings.Contains(all, "argon2") {
					t.Fatalf("secret in audit event %d: %s", e.ID, all)
				}
			}
			if strings.Contains(b.logs.String(), "fay's long password") || strings.Contains(b.logs.String(), fayToken) {
				t.Fatal("secret in the logs")
			}
		})
	}
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, token := b.user(t, "gus", steward.Grant{Role: steward.RoleAuditor})
	for i := range 1234 {
		ev := &steward.AuditEvent{Actor: "=cmd", Action: "test.bulk", Target: fmt.Sprint(i), Outcome: steward.OutcomeSuccess}
		if err := b.db.AuditAppend(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/audit/export?action=test.bulk", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 1235 || !strings.Contains(lines[1], ",'=cmd,test.bulk,1233,") || !strings.Contains(lines[1234], ",'=cmd,test.bulk,0,") {
		t.Fatalf("CSV export: %d lines; first rows %q", len(lines), lines[:2])
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/audit/export?action=test.bulk&format=json", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	var evs []apiAuditEvent
	if err := json.Unmarshal([]byte(body), &evs); err != nil || len(evs) != 1234 {
		t.Fatalf("JSON export: %d events, %v", len(evs), err)
	}
	if len(b.events(t, "audit.export")) != 2 {
		t.Fatal("exports not audited")
	}
	// Paging through the API returns each event once.
	seen := map[int64]bool{}
	cursor := ""
	for {
		resp, body := b.do(t, req{method: "GET", path: "/api/v1/audit?action=test.bulk&limit=500&cursor=" + cursor, token: token})
		wantStatus(t, resp, body, http.StatusOK)
		var page listResponse[apiAuditEvent]
		json.Unmarshal([]byte(body), &page)
		for _, e := range page.Items {
			if seen[e.ID] {
				t.Fatalf("event %d twice", e.ID)
			}
			seen[e.ID] = true
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 1234 {
		t.Fatalf("paged %d events, want 1234", len(seen))
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/openapi.json"})
	wantStatus(t, resp, body, http.StatusOK)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			if op["responses"] == nil || op["summary"] == "" {
				t.Errorf("%s %s lacks responses or a summary", method, path)
			}
		}
	}
	sort.Strings(documented)
	if got, want := strings.Join(documented, "\n"), strings.Join(b.srv.apiPaths(), "\n"); got != want {
		t.Fatalf("documented operations differ from the API routes:\n%s\n---\n%s", got, want)
	}
	// Every route under /api/ is an API route, so the comparison covers them all.
	for _, rt := range b.srv.routes {
		if strings.HasPrefix(rt.path, "/api/") != (rt.kind == kindAPI) {
			t.Errorf("%s: kind does not match its path", rt.pattern())
		}
	}
	for _, ref := range refsIn(body) {
		if doc.Components.Schemas[ref] == nil {
			t.Errorf("$ref to missing schema %s", ref)
		}
	}
	// The API speaks camelCase: a domain struct served as it is would show
	// its Go field names.
	for name, schema := range doc.Components.Schemas {
		for _, field := range propertyNames(schema) {
			if !camelCase.MatchString(field) {
				t.Errorf("schema %s has field %q, not camelCase", name, field)
			}
		}
	}
	user, _ := json.Marshal(doc.Components.Schemas["User"])
	if !strings.Contains(string(user), `"lastLoginAt"`) || !strings.Contains(string(user), `"grants"`) {
		t.Errorf("User schema does not follow the Go type: %s", user)
	}
}

func refsIn(doc string) []string {
	var out []string
	for _, part := range strings.Split(doc, `"#/components/schemas/`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

// TestInternalErrorsStaySecret closes the database under the server: the
// caller gets "Internal error.", the log gets the cause.
func TestInternalErrorsStaySecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, token := b.user(t, "hal", steward.Grant{Role: steward.RoleAdmin})
	u, err := b.db.UserGetByName(context.Background(), "hal")
	if err != nil {
		t.Fatal(err)
	}
	cookie := b.session(t, u.ID)
	_ = token
	b.db.Close()
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/users", cookie: cookie})
	// Authentication itself fails first: still no detail.
	if resp.StatusCode != http.StatusInternalServerError && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "sql") || strings.Contains(body, "database") || strings.Contains(body, "steward.db") {
		t.Fatalf("internal detail leaked: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/readyz"})
	wantStatus(t, resp, body, http.StatusServiceUnavailable)
}

func TestServeTLSWithGeneratedCertificate(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	dir := t.TempDir()
	svc := services(t, db, discard())
	acc, err := accounts.New(accounts.Config{Store: db, Passwords: fastHash, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	start := func() (*Server, []byte) {
		s, err := New(Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: discard()}, Deps{Accounts: acc, Audit: db, Lighthouse: lighthouse.New(),
			InventoryService: svc.Inventory, Access: svc.Access})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := c.Get(s.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Fatalf("healthz over TLS: %d %v", resp.StatusCode, resp.TLS)
		}
		c.CloseIdleConnections()
		return s, resp.TLS.PeerCertificates[0].Raw
	}
	s1, cert1 := start()
	if err := s1.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s1.Stop(context.Background()) // safe twice
	info, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	s2, cert2 := start()
	defer s2.Stop(context.Background())
	if string(cert1) != string(cert2) {
		t.Fatal("the self-signed certificate was not kept across restarts")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// propertyNames lists every property name in a JSON schema, nested ones too.
func propertyNames(schema any) []string {
	var names []string
	switch v := schema.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			for k, p := range props {
				names = append(names, k)
				names = append(names, propertyNames(p)...)
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			names = append(names, propertyNames(v[k])...)
		}
	}
	return names
}

// TestMetricsNameRoutes: requests are counted by the route that served
// them, not lumped together as unmatched.
func TestMetricsNameRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleViewer})
	b.do(t, req{method: "GET", path: "/api/v1/me", token: token})
	b.do(t, req{method: "GET", path: "/api/v1/nothing-here", token: token})
	resp, body := b.do(t, req{method: "GET", path: "/metrics", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	for _, want := range []string{`steward_http_requests_total{method="GET",route="GET /api/v1/me",status="2xx"} 1`, `route="unmatched",status="4xx"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
