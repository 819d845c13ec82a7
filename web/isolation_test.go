package web

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/store/storetest"
)

// alpha is the tenant the matrix's users may not touch: what it holds, and
// the strings that would show it leaked.
type alpha struct {
	tenant, sub, resource, run, edit, item, both string
	credential, credentialJSON                   string // a credential's row ID; its client ID and secret
	invitation                                   string // a consent link's ID
	markers                                      []string
}

// probe is one request aimed at alpha; target says it names one of alpha's
// objects, so it must be refused rather than answered.
type probe struct {
	path, body string
	target     bool
}

// isolationProbes says, for every route, how a user of another tenant would
// aim it at alpha. A route missing here fails TestTenantIsolation.
var isolationProbes = map[string]func(a alpha) []probe{
	"GET /healthz":                               plain,
	"GET /readyz":                                plain,
	"GET /metrics":                               plain,
	"GET /static/":                               plain,
	"GET /api/v1/openapi.json":                   plain,
	"GET /api/v1/me":                             plain,
	"PUT /api/v1/me/password":                    plain,
	"GET /api/v1/users":                          plain,
	"POST /api/v1/users":                         plain,
	"GET /api/v1/users/{id}":                     plain,
	"PATCH /api/v1/users/{id}":                   plain,
	"DELETE /api/v1/users/{id}":                  plain,
	"POST /api/v1/users/{id}/grants":             plain,
	"DELETE /api/v1/grants/{id}":                 plain,
	"GET /api/v1/tokens":                         plain,
	"POST /api/v1/tokens":                        plain,
	"DELETE /api/v1/tokens/{id}":                 plain,
	"GET /api/v1/audit":                          func(a alpha) []probe { return q("/api/v1/audit", "", "tenant="+a.tenant, "target="+a.sub) },
	"GET /api/v1/audit/export":                   func(a alpha) []probe { return q("/api/v1/audit/export", "format=json", "tenant="+a.tenant) },
	"POST /api/v1/audit/verify":                  plain,
	"POST /api/v1/lighthouse/validate":           plain,
	"POST /api/v1/lighthouse/templates":          plain,
	"GET /api/v1/lighthouse/roles":               plain,
	"GET /lighthouse":                            plain,
	"POST /lighthouse/validate":                  plain,
	"POST /lighthouse/build":                     plain,
	"GET /api/v1/subscriptions":                  func(a alpha) []probe { return q("/api/v1/subscriptions", "", "tenant="+a.tenant) },
	"GET /api/v1/subscriptions/{subscriptionId}": func(a alpha) []probe { return at("/api/v1/subscriptions/"+a.sub, "") },
	"PUT /api/v1/subscriptions/{subscriptionId}/sync-level": func(a alpha) []probe {
		return at("/api/v1/subscriptions/"+a.sub+"/sync-level", `{"level":"no-resources"}`)
	},
	"POST /api/v1/subscriptions/{subscriptionId}/sync":     func(a alpha) []probe { return at("/api/v1/subscriptions/"+a.sub+"/sync", "") },
	"GET /api/v1/subscriptions/{subscriptionId}/sync-runs": func(a alpha) []probe { return at("/api/v1/subscriptions/"+a.sub+"/sync-runs", "") },
	"GET /api/v1/sync-runs/{id}":                           func(a alpha) []probe { return at("/api/v1/sync-runs/"+a.run, "") },
	"GET /api/v1/resources": func(a alpha) []probe {
		return q("/api/v1/resources", "", "tenant="+a.tenant, "subscription="+a.sub, "tag=alphaonly")
	},
	"GET /api/v1/resource": func(a alpha) []probe { return at("/api/v1/resource?id="+url.QueryEscape(a.resource), "") },
	"GET /api/v1/tag-keys": func(a alpha) []probe { return q("/api/v1/tag-keys", "", "tenant="+a.tenant, "subscription="+a.sub) },
	"POST /api/v1/tag-edits": func(a alpha) []probe {
		return []probe{
			{body: `{"resources":["` + a.resource + `"],"merge":{"x":"y"}}`, target: true},
			{body: `{"resources":["` + a.resource + `"],"merge":{"x":"y"},"dryRun":true}`, target: true},
			{body: `{"filter":{"subscription":"` + a.sub + `"},"merge":{"x":"y"}}`},
			{body: `{"filter":{"tenant":"` + a.tenant + `"},"delete":["alphaonly"],"dryRun":true}`},
		}
	},
	"GET /api/v1/tag-edits": plain,
	"GET /api/v1/tag-edits/{id}": func(a alpha) []probe {
		return append(at("/api/v1/tag-edits/"+a.edit, ""), probe{path: "/api/v1/tag-edits/" + a.both})
	},
	"POST /api/v1/tag-edit-items/{id}/resolve": func(a alpha) []probe { return at("/api/v1/tag-edit-items/"+a.item+"/resolve", `{"keep":"steward"}`) },
	"GET /api/v1/cost-imports":                 plain,
	"GET /api/v1/costs": func(a alpha) []probe {
		return q("/api/v1/costs", "groupBy=subscription", "tenant="+a.tenant, "subscription="+a.sub)
	},
	"GET /subscriptions":                  func(a alpha) []probe { return q("/subscriptions", "", "tenant="+a.tenant) },
	"GET /subscriptions/{subscriptionId}": func(a alpha) []probe { return at("/subscriptions/"+a.sub, "") },
	"POST /subscriptions/{subscriptionId}/sync-level": func(a alpha) []probe {
		return at("/subscriptions/"+a.sub+"/sync-level", "level=no-resources")
	},
	"POST /subscriptions/{subscriptionId}/sync": func(a alpha) []probe { return at("/subscriptions/"+a.sub+"/sync", "x=1") },
	"GET /resources": func(a alpha) []probe {
		return q("/resources", "", "tenant="+a.tenant, "subscription="+a.sub, "tag=alphaonly")
	},
	"GET /resource":  func(a alpha) []probe { return at("/resource?id="+url.QueryEscape(a.resource), "") },
	"GET /tags":      func(a alpha) []probe { return q("/tags", "", "tenant="+a.tenant, "subscription="+a.sub) },
	"GET /tag-edits": plain,
	"GET /tag-edits/new": func(a alpha) []probe {
		return q("/tag-edits/new", "", "id="+url.QueryEscape(a.resource), "tenant="+a.tenant)
	},
	"POST /tag-edits/preview": func(a alpha) []probe {
		return []probe{{body: "id=" + url.QueryEscape(a.resource) + "&mk0=x&mv0=y"}, {body: "f.tenant=" + a.tenant + "&dk0=alphaonly"}}
	},
	"POST /tag-edits": func(a alpha) []probe {
		return []probe{{body: "id=" + url.QueryEscape(a.resource) + "&mk0=x&mv0=y"}, {body: "f.subscription=" + a.sub + "&mk0=x&mv0=y"}}
	},
	"GET /tag-edits/{id}": func(a alpha) []probe {
		return append(at("/tag-edits/"+a.edit, ""), probe{path: "/tag-edits/" + a.both})
	},
	"POST /tag-edit-items/{id}/resolve": func(a alpha) []probe { return at("/tag-edit-items/"+a.item+"/resolve", "keep=steward") },
	"GET /costs": func(a alpha) []probe {
		return q("/costs", "groupBy=subscription", "tenant="+a.tenant, "subscription="+a.sub)
	},
	"GET /api/v1/tenants": plain,
	"POST /api/v1/tenants": func(a alpha) []probe {
		return []probe{{body: `{"tenantId":"` + a.tenant + `","name":"Mine now","read":` + a.credentialJSON + `}`}}
	},
	"POST /api/v1/tenants/lighthouse":             func(a alpha) []probe { return []probe{{body: `{"tenantId":"` + a.tenant + `","name":"Mine now"}`}} },
	"POST /tenants/connect/lighthouse":            func(a alpha) []probe { return []probe{{body: "tenantId=" + a.tenant + "&name=Mine"}} },
	"GET /api/v1/tenants/{tenantId}":              func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant, "") },
	"POST /api/v1/tenants/{tenantId}/validate":    func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/validate", "") },
	"PUT /api/v1/tenants/{tenantId}/write-access": func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/write-access", `{"enabled":false}`) },
	"POST /api/v1/tenants/{tenantId}/sync":        func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/sync", "") },
	"GET /api/v1/tenants/{tenantId}/credentials":  func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/credentials", "") },
	"POST /api/v1/credentials/{id}/rotate":        func(a alpha) []probe { return at("/api/v1/credentials/"+a.credential+"/rotate", `{}`) },
	"POST /api/v1/tenants/{tenantId}/revoke":      func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/revoke", `{"method":"write-off"}`) },
	"GET /api/v1/tenants/{tenantId}/revocation-commands": func(a alpha) []probe {
		return at("/api/v1/tenants/"+a.tenant+"/revocation-commands?method=remove-roles", "")
	},
	"PUT /api/v1/tenants/{tenantId}/partner":              func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/partner", `{"partnerId":"1234567"}`) },
	"GET /api/v1/tenants/{tenantId}/least-privilege-role": func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/least-privilege-role", "") },
	"GET /api/v1/tenants/{tenantId}/review":               func(a alpha) []probe { return at("/api/v1/tenants/"+a.tenant+"/review", "") },
	"POST /api/v1/consent-links": func(a alpha) []probe {
		return []probe{{body: `{"customerName":"Mine","expectedTenant":"` + a.tenant + `"}`, target: true}, {body: `{"customerName":"Anyone"}`, target: true}}
	},
	"GET /api/v1/consent-links":         plain,
	"GET /api/v1/consent-links/{id}":    func(a alpha) []probe { return at("/api/v1/consent-links/"+a.invitation, "") },
	"DELETE /api/v1/consent-links/{id}": func(a alpha) []probe { return at("/api/v1/consent-links/"+a.invitation, "") },
	"POST /tenants/invitations": func(a alpha) []probe {
		return []probe{{body: "customerName=Mine&expectedTenant=" + a.tenant, target: true}}
	},
	"POST /tenants/invitations/{id}/revoke": func(a alpha) []probe { return at("/tenants/invitations/"+a.invitation+"/revoke", "confirm=yes") },
	"GET /invite":                           func(a alpha) []probe { return []probe{{path: "/invite?token=stwi_x", target: true}} },
	"POST /invite/consent":                  func(a alpha) []probe { return []probe{{body: "token=stwi_x", target: true}} },
	"POST /invite/complete":                 func(a alpha) []probe { return []probe{{body: "session=x&subscription=" + a.sub, target: true}} },
	"GET /tenants":                          plain,
	"GET /tenants/connect":                  func(a alpha) []probe { return q("/tenants/connect", "", "tenant="+a.tenant) },
	"POST /tenants/connect/consent":         func(a alpha) []probe { return []probe{{body: "tenant=" + a.tenant, target: true}} },
	"GET /tenants/connect/callback": func(a alpha) []probe {
		return []probe{{path: "/tenants/connect/callback?state=x&code=y", target: true}}
	},
	"POST /tenants/connect/complete": func(a alpha) []probe { return []probe{{body: "session=x&subscription=" + a.sub, target: true}} },
	"POST /tenants/connect/service-principal": func(a alpha) []probe {
		return []probe{{body: "tenantId=" + a.tenant + "&name=Mine&readClient=" + emulator.ContosoTaggerApp + "&readSecret=x", target: true}}
	},
	"GET /tenants/{tenantId}":               func(a alpha) []probe { return at("/tenants/"+a.tenant, "") },
	"POST /tenants/{tenantId}/write-access": func(a alpha) []probe { return at("/tenants/"+a.tenant+"/write-access", "enabled=false") },
	"POST /tenants/{tenantId}/validate":     func(a alpha) []probe { return at("/tenants/"+a.tenant+"/validate", "x=1") },
	"POST /tenants/{tenantId}/sync":         func(a alpha) []probe { return at("/tenants/"+a.tenant+"/sync", "x=1") },
	"POST /tenants/{tenantId}/partner":      func(a alpha) []probe { return at("/tenants/"+a.tenant+"/partner", "partnerId=1234567") },
	"POST /tenants/{tenantId}/revoke":       func(a alpha) []probe { return at("/tenants/"+a.tenant+"/revoke", "method=write-off&confirm=yes") },
	"GET /tenants/{tenantId}/review":        func(a alpha) []probe { return at("/tenants/"+a.tenant+"/review", "") },
	"POST /credentials/{id}/rotate":         func(a alpha) []probe { return at("/credentials/"+a.credential+"/rotate", "x=1") },
	"GET /login":                            plain,
	"POST /login":                           plain,
	"POST /logout":                          plain,
	"GET /{$}":                              plain,
	"GET /account":                          plain,
	"POST /account/password":                plain,
	"GET /tokens":                           plain,
	"POST /tokens":                          plain,
	"POST /tokens/{id}/revoke":              plain,
	"GET /users":                            plain,
	"GET /users/new":                        plain,
	"POST /users":                           plain,
	"GET /users/{id}":                       plain,
	"POST /users/{id}":                      plain,
	"POST /users/{id}/password":             plain,
	"POST /users/{id}/grants":               plain,
	"POST /grants/{id}/delete":              plain,
	"GET /users/{id}/delete":                plain,
	"POST /users/{id}/delete":               plain,
	"GET /audit":                            func(a alpha) []probe { return q("/audit", "", "tenant="+a.tenant, "target="+a.sub) },
	"POST /audit/verify":                    plain,
}

// plain is a route that holds nothing of any tenant: one ordinary request,
// whose answer must still show nothing of alpha.
func plain(alpha) []probe { return []probe{{}} }

// at is a request naming one of alpha's objects.
func at(path, body string) []probe { return []probe{{path: path, body: body, target: true}} }

// q is a listing asked for alpha's rows, once per filter.
func q(path, base string, filters ...string) []probe {
	ps := []probe{{path: path + "?" + base}}
	for _, f := range filters {
		ps = append(ps, probe{path: path + "?" + strings.TrimPrefix(base+"&"+f, "&")})
	}
	return ps
}

// TestTenantIsolation walks every route as operators, tag editors, viewers
// and auditors of tenant B (Northwind), aimed at tenant A's (Contoso's)
// objects, on both engines: no answer shows anything of A, no request
// naming one of A's objects is answered as done, and A is unchanged.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t, engine)
			e, _ := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
			b.useEmulator(t, e)
			a, bravo := isolationEstate(t, b, e)
			roles := []steward.Role{steward.RoleOperator, steward.RoleTagEditor, steward.RoleViewer, steward.RoleAuditor}
			users := map[steward.Role]*steward.User{}
			for _, role := range roles {
				users[role], _ = b.user(t, "bravo-"+string(role), steward.Grant{Role: role, Tenants: []string{bravo}})
			}
			before := alphaState(t, b, a)
			probes, checked := 0, map[string]bool{}
			for _, rt := range b.srv.routes {
				pattern := rt.pattern()
				mk, ok := isolationProbes[pattern]
				if !ok {
					t.Errorf("route %s has no isolation probe: say how a user of another tenant would aim it at tenant A", pattern)
					continue
				}
				checked[pattern] = true
				for _, p := range mk(a) {
					path := p.path
					if path == "" {
						path = strings.NewReplacer("{id}", "1", "{$}", "", "/static/", "/static/style.css").Replace(rt.path)
					}
					body, ct := p.body, ""
					if body == "" && rt.method != "GET" {
						body = "{}"
						if rt.kind == kindPage {
							body = "x=1"
						}
					}
					if rt.kind == kindPage && body != "" {
						ct = "application/x-www-form-urlencoded"
					}
					for _, role := range roles {
						probes++
						resp, out := b.do(t, req{method: rt.method, path: path, body: body, contentType: ct, cookie: b.session(t, users[role].ID)})
						asked := path + body
						if u, err := url.QueryUnescape(asked); err == nil {
							asked += u // what the request itself said may be echoed
						}
						shown := out + resp.Header.Get("Location")
						for _, m := range a.markers {
							if !strings.Contains(asked, m) && strings.Contains(shown, m) {
								t.Errorf("%s %s as a %s of tenant B: the answer (%d) shows tenant A's %q: %.300s", rt.method, path, role, resp.StatusCode, m, shown)
							}
						}
						if p.target && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
							t.Errorf("%s %s %s as a %s of tenant B: answered %d, want a refusal: %.300s", rt.method, path, p.body, role, resp.StatusCode, out)
						}
						if after := alphaState(t, b, a); after != before {
							t.Fatalf("%s %s %s as a %s of tenant B changed tenant A:\nbefore %s\nafter  %s", rt.method, path, p.body, role, before, after)
						}
					}
				}
			}
			for pattern := range isolationProbes {
				if !checked[pattern] {
					t.Errorf("isolationProbes lists %s, which is not a route", pattern)
				}
			}
			t.Logf("%d routes, %d requests by %d roles of tenant B aimed at tenant A", len(checked), probes, len(roles))
		})
	}
}

// isolationEstate connects Contoso (A) and Northwind (B) as an admin, syncs
// both, and leaves an edit on A alone and one across both. It returns A and
// B's tenant ID.
func isolationEstate(t testing.TB, b *testBundle, e *emulator.Emulator) (alpha, string) {
	t.Helper()
	ctx := stewardtest.Admin(t.Context())
	sys := steward.NewSystemContext(t.Context())
	contoso, tagger := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	northwind, own := stewardtest.Principal(t, e, emulator.NorthwindTenantName, "steward")
	write := stewardtest.Credential(tagger)
	for _, c := range []steward.ServicePrincipalInput{
		{TenantID: contoso.ID, Name: "Alpha Isolation Corp", Read: stewardtest.Credential(reader), Write: &write},
		{TenantID: northwind.ID, Name: "Bravo Corp", Read: stewardtest.Credential(own)},
	} {
		if _, _, err := b.svc.Access.ConnectServicePrincipal(ctx, c); err != nil {
			t.Fatal(err)
		}
		runs, err := b.svc.Inventory.SyncTenant(ctx, c.TenantID, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if err := b.svc.Inventory.RunSync(sys, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := alpha{tenant: contoso.ID, sub: contoso.Subscriptions[0]}
	for _, s := range []string{contoso.Subscriptions[0], northwind.Subscriptions[0]} {
		if err := b.svc.Inventory.IngestCosts(sys, s); err != nil {
			t.Fatal(err)
		}
	}
	first := func(tenant string) []*steward.Resource {
		rs, _, err := b.db.ResourceList(t.Context(), storetest.Scope(tenant), steward.ResourceFilter{Limit: 2})
		if err != nil || len(rs) < 2 {
			t.Fatalf("resources of %s: %v %v", tenant, rs, err)
		}
		return rs
	}
	ra, rb := first(contoso.ID), first(northwind.ID)
	a.resource = ra[0].ID
	edit, err := b.svc.Inventory.SubmitTagEdit(ctx, &steward.TagEditRequest{Resources: []string{ra[0].ID}, Merge: map[string]string{"alphaonly": "alpha-secret-value"}})
	if err != nil {
		t.Fatal(err)
	}
	both, err := b.svc.Inventory.SubmitTagEdit(ctx, &steward.TagEditRequest{Resources: []string{ra[1].ID, rb[0].ID}, Merge: map[string]string{"shared": "both"}})
	if err != nil {
		t.Fatal(err)
	}
	items, err := b.db.TagEditItems(t.Context(), everything, edit.ID, "", 0, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("items %v %v", items, err)
	}
	a.edit, a.both, a.item = strconv.FormatInt(edit.ID, 10), strconv.FormatInt(both.ID, 10), strconv.FormatInt(items[0].ID, 10)
	runs, err := b.db.SyncRunList(t.Context(), everything, a.sub, 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	creds, err := b.db.CredentialList(t.Context(), everything, contoso.ID)
	if err != nil || len(creds) == 0 {
		t.Fatalf("credentials %v %v", creds, err)
	}
	a.run, a.credential = strconv.FormatInt(runs[0].ID, 10), strconv.FormatInt(creds[0].ID, 10)
	cred, _ := json.Marshal(map[string]string{"clientId": reader.ClientID, "clientSecret": reader.ClientSecret})
	a.credentialJSON = string(cred)

	inv, _, err := b.svc.Access.InvitationCreate(ctx, steward.InvitationInput{CustomerName: "Alpha Invitee Ltd", ExpectedTenant: contoso.ID})
	if err != nil {
		t.Fatal(err)
	}
	a.invitation = strconv.FormatInt(inv.ID, 10)

	a.markers = []string{contoso.ID, "Alpha Isolation Corp", "Alpha Invitee Ltd", "alpha-secret-value", "alphaonly", reader.ClientID, tagger.ClientID, ra[0].ID, ra[1].ID}
	subs, err := b.db.SubscriptionList(t.Context(), everything, steward.SubscriptionFilter{TenantID: contoso.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		a.markers = append(a.markers, s.ID, s.DisplayName)
	}
	return a, northwind.ID
}

// alphaState is what a user of another tenant could change in A, as text.
func alphaState(t *testing.T, b *testBundle, a alpha) string {
	t.Helper()
	ctx, sc := t.Context(), storetest.Scope(a.tenant)
	var state []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		state = append(state, v)
	}
	add(b.db.TenantGet(ctx, sc, a.tenant))
	add(b.db.CredentialList(ctx, sc, a.tenant))
	subs, err := b.db.SubscriptionList(ctx, sc, steward.SubscriptionFilter{TenantID: a.tenant})
	add(subs, err)
	for _, s := range subs {
		add(b.db.SyncRunList(ctx, sc, s.ID, 100))
	}
	edits, err := b.db.TagEditList(ctx, sc, 100)
	add(edits, err)
	for _, e := range edits {
		add(b.db.TagEditItems(ctx, sc, e.ID, "", 0, 100))
	}
	rs, _, err := b.db.ResourceList(ctx, sc, steward.ResourceFilter{Limit: 1000})
	add(rs, err)
	add(b.db.InvitationList(ctx, sc))
	out, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
