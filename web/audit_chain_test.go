package web

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/storetest"
)

// TestAuditChainHostileInput sends what clients can send into audit events
// (uploaded file names, form values and headers that are not UTF-8 or hold
// control characters, sign-in names of thousands of characters), on both
// engines, and expects every event to be recorded and the chain to verify
// through the API afterwards.
func TestAuditChainHostileInput(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t, engine)
			b.user(t, "olga", steward.Grant{Role: steward.RoleOperator})
			_, auditorToken := b.user(t, "ida", steward.Grant{Role: steward.RoleAuditor})
			c := b.browser(t)
			resp, body := postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"olga"}, "password": {"password-olga"}})
			wantStatus(t, resp, body, http.StatusSeeOther)

			// Uploads to the Lighthouse check: a file name that is not
			// UTF-8 is refused; names with control characters and a long
			// one are checked and recorded.
			resp, body = upload(t, c, b.ts.URL+"/lighthouse/validate", "\xff\xfe.json")
			wantStatus(t, resp, body, http.StatusBadRequest)
			long := noiseText(2000) + ".json"
			resp, body = upload(t, c, b.ts.URL+"/lighthouse/validate", "tab\tname\u009b\u200e.json", long)
			wantStatus(t, resp, body, http.StatusOK)
			if evs := b.events(t, "lighthouse.validate"); len(evs) != 1 || evs[0].Target != "tab\tname\ufffd\u200e.json, "+long {
				t.Errorf("lighthouse.validate events: %+v", evs)
			}

			// A tag edit whose form holds %ff is refused at the door and
			// the refusal recorded.
			resp, body = b.do(t, req{method: "POST", path: "/tag-edits/preview", cookie: cookieOf(t, c, b.ts.URL),
				body: "id=%2Fsubscriptions%2Fx&mk0=cost%ff&mv0=%ff%fe", contentType: "application/x-www-form-urlencoded"})
			wantStatus(t, resp, body, http.StatusBadRequest)
			// (The first refusal is the upload's.)
			if evs := b.events(t, "request.invalid"); len(evs) != 2 || evs[0].Target != "POST /lighthouse/validate" || evs[1].Actor != "olga" {
				t.Errorf("request.invalid events: %+v", evs)
			}

			// Another site's request, with an Origin and a path that are
			// not UTF-8, is refused before anything reads them as text.
			resp, body = b.do(t, req{method: "POST", path: "/api/v1/tag-edits%ff", body: `{}`,
				header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://\xff\xfe.example"}})
			wantStatus(t, resp, body, http.StatusForbidden)
			if evs := b.events(t, "access.cross_origin"); len(evs) != 1 || evs[0].Target != "POST /api/v1/tag-edits\ufffd" || evs[0].Details["origin"] != "https://\ufffd\ufffd.example" {
				t.Errorf("access.cross_origin events: %+v", evs)
			}

			// Failed sign-ins with names no user has: control characters,
			// and more characters than an index entry holds.
			for _, name := range []string{"bob\u009b\u200e\tx", noiseText(3000)} {
				resp, body = postForm(t, b.browser(t), b.ts.URL+"/login", url.Values{"name": {name}, "password": {"x"}})
				wantStatus(t, resp, body, http.StatusUnauthorized)
			}
			evs := b.events(t, "user.login_failed")
			if len(evs) != 2 || evs[0].Actor != "bob\ufffd\u200e x" || len(evs[1].Actor) > steward.AuditMaxShort || !strings.HasSuffix(evs[1].Actor, "…") {
				t.Errorf("user.login_failed events: %+v", evs)
			}

			head, _, err := b.db.AuditList(t.Context(), everything, steward.AuditFilter{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			resp, body = b.do(t, req{method: "POST", path: "/api/v1/audit/verify", token: auditorToken})
			wantStatus(t, resp, body, http.StatusOK)
			want := fmt.Sprintf(`{"ok":true,"checked":%d,"headId":%d,"headHash":%q}`, head[0].ID, head[0].ID, head[0].Hash)
			if !sameJSON(body, want) {
				t.Fatalf("verification = %s\nwant %s", body, want)
			}
		})
	}
}

// upload posts a multipart form with one template file under each name,
// as the Lighthouse page's file input does.
func upload(t *testing.T, c *http.Client, u string, names ...string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range names {
		fw, err := mw.CreateFormFile("files", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(definition(steward.BuiltInTagContributor)))
	}
	mw.Close()
	resp, err := c.Post(u, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.String()
}

// cookieOf returns the session cookie a browser holds for the server.
func cookieOf(t *testing.T, c *http.Client, server string) string {
	t.Helper()
	u, _ := url.Parse(server)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	t.Fatal("the browser holds no session")
	return ""
}

// noiseText returns n characters that do not compress, so no engine can
// shrink them below an index entry's limit.
func noiseText(n int) string {
	r := rand.New(rand.NewPCG(2, uint64(n)))
	var sb strings.Builder
	for range n {
		sb.WriteRune(rune(0x4e00 + r.IntN(0x5000)))
	}
	return sb.String()
}
