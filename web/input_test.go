package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/storetest"
)

// TestHostileInput sends bytes that are not text, IDs that are not IDs and
// requests from other sites, on both engines: each is answered 400 (or the
// status named) with the JSON error document below, the same on SQLite and
// PostgreSQL, and nothing is stored.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t, engine)
			u, token := b.user(t, "root", steward.Grant{Role: steward.RoleAdmin})
			cookie := b.session(t, u.ID)
			sub := "/api/v1/subscriptions/00000000-0000-0000-0000-000000000001"
			tests := []struct {
				name string
				r    req
				want string // the whole answer
			}{
				{"NUL in a tag filter", req{method: "GET", path: "/api/v1/resources?tag=a%00b"},
					`{"error":{"code":"invalid","message":"The query parameter \"tag\" holds a NUL byte."}}`},
				{"NUL in a tenant filter", req{method: "GET", path: "/api/v1/subscriptions?tenant=x%00"},
					`{"error":{"code":"invalid","message":"The query parameter \"tenant\" holds a NUL byte."}}`},
				{"not UTF-8 in an audit filter", req{method: "GET", path: "/api/v1/audit?actor=%ff"},
					`{"error":{"code":"invalid","message":"The query parameter \"actor\" is not valid UTF-8."}}`},
				{"not UTF-8 in a parameter name", req{method: "GET", path: "/api/v1/audit?%fe=1"},
					`{"error":{"code":"invalid","message":"A query parameter name is not valid UTF-8."}}`},
				{"a broken escape", req{method: "GET", path: "/api/v1/resources?q=%zz"},
					`{"error":{"code":"invalid","message":"The query string is malformed (a % is not followed by two hex digits)."}}`},
				{"NUL as a subscription ID", req{method: "POST", path: "/api/v1/subscriptions/%00/sync"},
					`{"error":{"code":"invalid","message":"The request's path holds a NUL byte."}}`},
				{"not a GUID as a subscription ID", req{method: "GET", path: "/api/v1/subscriptions/contoso-prod"},
					`{"error":{"code":"invalid","message":"\"contoso-prod\" is not a subscription ID (a GUID)."}}`},
				{"not a GUID as a tenant ID", req{method: "POST", path: "/api/v1/tenants/contoso/sync"},
					`{"error":{"code":"invalid","message":"\"contoso\" is not a tenant ID (a GUID)."}}`},
				{"not a GUID as a subscription filter", req{method: "GET", path: "/api/v1/resources?subscription=prod"},
					`{"error":{"code":"invalid","message":"Query parameter \"subscription\" must be a subscription ID (a GUID), not \"prod\"."}}`},
				{"not UTF-8 in a JSON body", req{method: "PUT", path: sub + "/sync-level", body: "{\"level\":\"\xff\"}"},
					`{"error":{"code":"invalid","message":"The request body is not valid UTF-8."}}`},
				{"NUL in a display name", req{method: "PATCH", path: "/api/v1/users/1", body: `{"displayName":"a\u0000b"}`},
					`{"error":{"code":"invalid","message":"The request body holds a NUL character (\\u0000) in displayName."}}`},
				{"NUL in a token name", req{method: "POST", path: "/api/v1/tokens", body: `{"name":"ci\u0000"}`, cookie: cookie},
					`{"error":{"code":"invalid","message":"The request body holds a NUL character (\\u0000) in name."}}`},
				{"NUL in a tag name", req{method: "POST", path: "/api/v1/tag-edits", body: `{"resources":["x"],"merge":{"a\u0000":"b"}}`},
					`{"error":{"code":"invalid","message":"The request body holds a NUL character (\\u0000) in merge.(a key)."}}`},
				{"a tab in a tag name", req{method: "POST", path: "/api/v1/tag-edits", body: `{"resources":["x"],"merge":{"cost\tcentre":"b"}}`},
					`{"error":{"code":"unprocessable","message":"The edit: tag name \"cost\\tcentre\" contains a control character (such as a tab or line break)."}}`},
				{"too many tag filters", req{method: "GET", path: "/api/v1/resources?" + strings.Repeat("tag=a&", 51)},
					`{"error":{"code":"invalid","message":"A filter may name at most 50 tags, not 51."}}`},
				{"a bad cursor on an edit", req{method: "GET", path: "/api/v1/tag-edits/1?cursor=junk"},
					`{"error":{"code":"invalid","message":"cursor is not one this API returned."}}`},
				{"another site's request", req{method: "POST", path: "/api/v1/tag-edits", body: `{}`, header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
					`{"error":{"code":"forbidden","message":"Another site's page sent this request; Steward accepts changes only from its own pages."}}`},
			}
			for _, tc := range tests {
				r := tc.r
				if r.cookie == "" {
					r.token = token
				}
				resp, body := b.do(t, r)
				if resp.StatusCode >= 500 || !sameJSON(body, tc.want) {
					t.Errorf("%s: %s %s answered %d %s\nwant %s", tc.name, r.method, r.path, resp.StatusCode, body, tc.want)
				}
				var e apiError
				json.Unmarshal([]byte(body), &e)
				if want := errorStatus(steward.Errorf(e.Error.Code, "")); resp.StatusCode != want {
					t.Errorf("%s: status %d for code %s, want %d", tc.name, resp.StatusCode, e.Error.Code, want)
				}
			}
			// The pages' forms: a sign-in name that is not text is refused
			// and recorded.
			resp, body := b.do(t, req{method: "POST", path: "/login", body: "name=%ff%fe&password=x", contentType: "application/x-www-form-urlencoded"})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "The form field &#34;name&#34; is not valid UTF-8.") {
				t.Errorf("sign-in with a name that is not UTF-8: %d %.300s", resp.StatusCode, body)
			}
			// Those refused before any handler ran: nine above, and the sign-in.
			if n := len(b.events(t, "request.invalid")); n != 10 {
				t.Errorf("%d refusals audited as request.invalid, want 10", n)
			}
			if n := len(b.events(t, "access.cross_origin")); n != 1 {
				t.Errorf("%d cross-origin refusals audited, want 1", n)
			}
			if edits, _ := b.db.TagEditList(t.Context(), everything, 10); len(edits) != 0 {
				t.Errorf("a refused edit was stored")
			}
		})
	}
}

// sameJSON reports whether two documents hold the same JSON value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// TestRefusalAuditedAfterHangUp: a refused request whose client has gone is
// still recorded.
func TestRefusalAuditedAfterHangUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/users", nil)
	b.srv.audit(r, newEvent(r, "access.denied", "GET /api/v1/users").WithActor("mallory").WithOutcome(steward.OutcomeDenied))
	if evs := b.events(t, "access.denied"); len(evs) != 1 || evs[0].Actor != "mallory" {
		t.Fatalf("events after hang-up: %+v", evs)
	}
}
