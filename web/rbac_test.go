package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// The principals the matrix is checked for.
const (
	anonymous     = "anonymous"
	admin         = "admin"
	operator      = "operator"
	tagEditor     = "tag-editor"
	viewer        = "viewer"
	auditor       = "auditor"
	scopedAuditor = "auditor-one-tenant"
	noRoles       = "no-roles"
)

var principals = []string{anonymous, admin, operator, tagEditor, viewer, auditor, scopedAuditor, noRoles}

var (
	everyone  = []string{anonymous, admin, operator, tagEditor, viewer, auditor, scopedAuditor, noRoles}
	signedIn  = []string{admin, operator, tagEditor, viewer, auditor, scopedAuditor, noRoles}
	admins    = []string{admin}
	auditors  = []string{admin, auditor, scopedAuditor}
	operators = []string{admin, operator}
	editors   = []string{admin, operator, tagEditor}
	readers   = []string{admin, operator, tagEditor, viewer, auditor, scopedAuditor}
)

// matrix is the whole allowed/denied table, written out by hand so that a
// change to a route's declared access fails this test until the table is
// changed too.
var matrix = map[string][]string{
	"GET /healthz":                                          everyone,
	"GET /readyz":                                           everyone,
	"GET /metrics":                                          signedIn,
	"GET /static/":                                          everyone,
	"GET /api/v1/openapi.json":                              everyone,
	"GET /api/v1/me":                                        signedIn,
	"PUT /api/v1/me/password":                               signedIn,
	"GET /api/v1/users":                                     admins,
	"POST /api/v1/users":                                    admins,
	"GET /api/v1/users/{id}":                                admins,
	"PATCH /api/v1/users/{id}":                              admins,
	"DELETE /api/v1/users/{id}":                             admins,
	"POST /api/v1/users/{id}/grants":                        admins,
	"DELETE /api/v1/grants/{id}":                            admins,
	"GET /api/v1/tokens":                                    signedIn,
	"POST /api/v1/tokens":                                   signedIn,
	"DELETE /api/v1/tokens/{id}":                            signedIn,
	"GET /api/v1/audit":                                     auditors,
	"GET /api/v1/audit/export":                              auditors,
	"POST /api/v1/audit/verify":                             auditors,
	"POST /api/v1/lighthouse/validate":                      signedIn,
	"POST /api/v1/lighthouse/templates":                     operators,
	"GET /api/v1/lighthouse/roles":                          signedIn,
	"GET /lighthouse":                                       signedIn,
	"POST /lighthouse/validate":                             signedIn,
	"POST /lighthouse/build":                                operators,
	"GET /api/v1/subscriptions":                             readers,
	"GET /api/v1/subscriptions/{subscriptionId}":            readers,
	"PUT /api/v1/subscriptions/{subscriptionId}/sync-level": operators,
	"POST /api/v1/subscriptions/{subscriptionId}/sync":      operators,
	"GET /api/v1/subscriptions/{subscriptionId}/sync-runs":  readers,
	"GET /api/v1/sync-runs/{id}":                            readers,
	"GET /api/v1/resources":                                 readers,
	"GET /api/v1/resource":                                  readers,
	"GET /api/v1/tag-keys":                                  readers,
	"POST /api/v1/tag-edits":                                editors,
	"GET /api/v1/tag-edits":                                 readers,
	"GET /api/v1/tag-edits/{id}":                            readers,
	"POST /api/v1/tag-edit-items/{id}/resolve":              editors,
	"GET /api/v1/costs":                                     readers,
	"GET /api/v1/cost-imports":                              readers,
	"GET /subscriptions":                                    readers,
	"GET /subscriptions/{subscriptionId}":                   readers,
	"POST /subscriptions/{subscriptionId}/sync-level":       operators,
	"POST /subscriptions/{subscriptionId}/sync":             operators,
	"GET /resources":                                        readers,
	"GET /resource":                                         readers,
	"GET /tags":                                             readers,
	"GET /tag-edits":                                        readers,
	"GET /tag-edits/new":                                    editors,
	"POST /tag-edits/preview":                               editors,
	"POST /tag-edits":                                       editors,
	"GET /tag-edits/{id}":                                   readers,
	"POST /tag-edit-items/{id}/resolve":                     editors,
	"GET /costs":                                            readers,
	"GET /api/v1/tenants":                                   readers,
	"POST /api/v1/tenants":                                  operators,
	"POST /api/v1/tenants/lighthouse":                       operators,
	"POST /tenants/connect/lighthouse":                      operators,
	"GET /api/v1/tenants/{tenantId}":                        readers,
	"POST /api/v1/tenants/{tenantId}/validate":              operators,
	"PUT /api/v1/tenants/{tenantId}/write-access":           operators,
	"POST /api/v1/tenants/{tenantId}/sync":                  operators,
	"GET /api/v1/tenants/{tenantId}/credentials":            readers,
	"POST /api/v1/credentials/{id}/rotate":                  operators,
	"POST /api/v1/tenants/{tenantId}/revoke":                operators,
	"GET /api/v1/tenants/{tenantId}/revocation-commands":    operators,
	"PUT /api/v1/tenants/{tenantId}/partner":                operators,
	"GET /api/v1/tenants/{tenantId}/least-privilege-role":   readers,
	"GET /api/v1/tenants/{tenantId}/review":                 auditors,
	"POST /api/v1/consent-links":                            operators,
	"GET /api/v1/consent-links":                             operators,
	"GET /api/v1/consent-links/{id}":                        operators,
	"DELETE /api/v1/consent-links/{id}":                     operators,
	"POST /tenants/invitations":                             operators,
	"POST /tenants/invitations/{id}/revoke":                 operators,
	"GET /invite":                                           everyone,
	"POST /invite/consent":                                  everyone,
	"POST /invite/complete":                                 everyone,
	"GET /tenants":                                          readers,
	"GET /tenants/connect":                                  operators,
	"POST /tenants/connect/consent":                         operators,
	"GET /tenants/connect/callback":                         operators,
	"POST /tenants/connect/complete":                        operators,
	"POST /tenants/connect/service-principal":               operators,
	"GET /tenants/{tenantId}":                               readers,
	"POST /tenants/{tenantId}/write-access":                 operators,
	"POST /tenants/{tenantId}/validate":                     operators,
	"POST /tenants/{tenantId}/sync":                         operators,
	"POST /tenants/{tenantId}/partner":                      operators,
	"POST /tenants/{tenantId}/revoke":                       operators,
	"GET /tenants/{tenantId}/review":                        auditors,
	"POST /credentials/{id}/rotate":                         operators,
	"GET /login":                                            everyone,
	"POST /login":                                           everyone,
	"POST /logout":                                          signedIn,
	"GET /{$}":                                              signedIn,
	"GET /account":                                          signedIn,
	"POST /account/password":                                signedIn,
	"GET /tokens":                                           signedIn,
	"POST /tokens":                                          signedIn,
	"POST /tokens/{id}/revoke":                              signedIn,
	"GET /users":                                            admins,
	"GET /users/new":                                        admins,
	"POST /users":                                           admins,
	"GET /users/{id}":                                       admins,
	"POST /users/{id}":                                      admins,
	"POST /users/{id}/password":                             admins,
	"POST /users/{id}/grants":                               admins,
	"POST /grants/{id}/delete":                              admins,
	"GET /users/{id}/delete":                                admins,
	"POST /users/{id}/delete":                               admins,
	"GET /audit":                                            auditors,
	"POST /audit/verify":                                    auditors,
}

// TestRoleMatrix walks every route with every principal and checks the
// whole allowed/denied matrix: denied means 401 (or a redirect to sign-in
// for pages) for anonymous callers and 403 for signed-in ones; allowed
// means anything else.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant := "aaaaaaaa-1111-2222-3333-444444444444"
	users := map[string]*steward.User{}
	for _, p := range principals[1:] {
		var grants []steward.Grant
		switch p {
		case scopedAuditor:
			grants = []steward.Grant{{Role: steward.RoleAuditor, Tenants: []string{tenant}}}
		case noRoles:
		default:
			grants = []steward.Grant{{Role: steward.Role(p)}}
		}
		users[p], _ = b.user(t, p, grants...)
	}

	seen := map[string]bool{}
	for _, rt := range b.srv.routes {
		pattern := rt.pattern()
		seen[pattern] = true
		allowedFor, ok := matrix[pattern]
		if !ok {
			t.Errorf("route %s is not in the role matrix: add its expected access", pattern)
			continue
		}
		path := strings.NewReplacer("{id}", "999999", "{tenantId}", tenant, "{subscriptionId}", "00000000-0000-0000-0000-000000000099", "{$}", "", "/static/", "/static/style.css").Replace(rt.path)
		for _, p := range principals {
			r := req{method: rt.method, path: path}
			if rt.method != "GET" {
				r.body = "{}"
				if rt.kind == kindPage {
					r.body, r.contentType = "x=1", "application/x-www-form-urlencoded"
				}
			}
			if p != anonymous {
				// A fresh session per request: logout ends the one it uses.
				r.cookie = b.session(t, users[p].ID)
			}
			resp, body := b.do(t, r)
			got := resp.StatusCode
			want := slices.Contains(allowedFor, p)
			denied := got == http.StatusForbidden || got == http.StatusUnauthorized ||
				(got == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?next="))
			if want == denied {
				t.Errorf("%s as %s: status %d (allowed=%v); body %.200s", pattern, p, got, want, body)
			}
			if !want {
				switch {
				case p == anonymous && rt.kind == kindPage && got != http.StatusSeeOther:
					t.Errorf("%s as anonymous: page answered %d, want a redirect to sign in", pattern, got)
				case p == anonymous && rt.kind != kindPage && got != http.StatusUnauthorized:
					t.Errorf("%s as anonymous: answered %d, want 401", pattern, got)
				case p != anonymous && got != http.StatusForbidden:
					t.Errorf("%s as %s: answered %d, want 403", pattern, p, got)
				}
			}
		}
	}
	for pattern := range matrix {
		if !seen[pattern] {
			t.Errorf("the role matrix lists %s, which is not a route", pattern)
		}
	}
	// Both kinds of refusal are audited.
	if len(b.events(t, "access.denied")) == 0 || len(b.events(t, "access.unauthenticated")) == 0 {
		t.Error("denied and unauthenticated requests were not audited")
	}
}

// TestScopedAuditorSeesOnlyItsTenants checks the tenant filter behind a
// tenant-limited audit grant.
func TestScopedAuditorSeesOnlyItsTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine, other := "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"
	_, token := b.user(t, "scoped", steward.Grant{Role: steward.RoleAuditor, Tenants: []string{mine}})
	for _, tenant := range []string{mine, other, mine, ""} {
		ev := &steward.AuditEvent{Actor: "system", Action: "test.event", TenantID: tenant, Outcome: steward.OutcomeSuccess}
		if err := b.db.AuditAppend(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/audit?action=test.event", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Count(body, `"tenantId":"`+mine+`"`) != 2 || strings.Contains(body, other) || strings.Contains(body, `"tenantId":""`) {
		t.Fatalf("scoped auditor saw: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/audit/export?format=csv&action=test.event", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Count(body, mine) != 2 || strings.Contains(body, other) {
		t.Fatalf("scoped export: %s", body)
	}
}
