package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
)

// createLink makes a consent link through the API and returns it.
func createLink(t *testing.T, b *testBundle, token, body string) apiConsentLinkCreated {
	t.Helper()
	resp, out := b.do(t, req{method: "POST", path: "/api/v1/consent-links", token: token, body: body})
	wantStatus(t, resp, out, http.StatusCreated)
	var l apiConsentLinkCreated
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// linkState reads a link's state through the API.
func linkState(t *testing.T, b *testBundle, token string, id int64) apiConsentLink {
	t.Helper()
	resp, out := b.do(t, req{method: "GET", path: "/api/v1/consent-links/" + strconv.FormatInt(id, 10), token: token})
	wantStatus(t, resp, out, http.StatusOK)
	var l apiConsentLink
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// followLink plays the customer's admin, with no Steward session: open
// the link, continue to consent, sign in and consent at the emulator, and
// come back to Steward. It returns the browser and the page it lands on.
func followLink(t *testing.T, b *testBundle, e *emulator.Emulator, link, upn string) (*http.Client, *http.Response, string) {
	t.Helper()
	c := b.browser(t)
	resp, body := get(t, c, link)
	wantStatus(t, resp, body, http.StatusOK)
	token := hiddenInput(body, "token")
	if !strings.HasPrefix(token, steward.InvitationTokenPrefix) || !strings.Contains(body, "Continue to consent") {
		t.Fatalf("landing page: %.1500s", body)
	}
	resp, body = postForm(t, c, b.ts.URL+"/invite/consent", url.Values{"token": {token}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, e.URL()) || !strings.Contains(authorize, url.QueryEscape(b.ts.URL+"/tenants/connect/callback")) {
		t.Fatalf("consent goes to %s", authorize)
	}
	answer := stewardtest.Consent(t, e, authorize, upn, true)
	resp, body = get(t, c, b.ts.URL+"/tenants/connect/callback?"+answer.Encode())
	return c, resp, body
}

// TestConsentLinkConnectsATenant goes from an operator's API call to a
// connected tenant, the customer's admin holding nothing but the link, and
// checks the link then works no more, never shows again, and is seen by
// no one limited to another tenant.
func TestConsentLinkConnectsATenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{})
	b.useEmulator(t, e)
	olivia, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	cf := e.Connection()
	contoso, _ := cf.Tenant(emulator.ContosoTenantName)
	northwind, _ := cf.Tenant(emulator.NorthwindTenantName)
	_, otherToken := b.user(t, "nora", steward.Grant{Role: steward.RoleOperator, Tenants: []string{northwind.ID}})

	l := createLink(t, b, token, `{"customerName":"Contoso Ltd","expectedTenant":"`+strings.ToUpper(contoso.ID)+`"}`)
	if !strings.HasPrefix(l.URL, b.ts.URL+"/invite?token="+steward.InvitationTokenPrefix) || l.State != "pending" || l.TenantID != contoso.ID ||
		l.ExpiresAt.Sub(l.CreatedAt).Round(time.Hour) != steward.DefaultInvitationLifetime {
		t.Fatalf("created %+v", l)
	}
	secret := mustURL(t, l.URL).Query().Get("token")
	seen := ""
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/consent-links", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	seen += body
	if !strings.Contains(body, `"id":`+strconv.FormatInt(l.ID, 10)) || strings.Contains(body, `"url"`) {
		t.Fatalf("list: %s", body)
	}
	// A user limited to Northwind sees none of it.
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/consent-links", token: otherToken})
	wantStatus(t, resp, body, http.StatusOK)
	if strings.TrimSpace(body) != `{"items":[]}` {
		t.Fatalf("Northwind's operator lists %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/consent-links/" + strconv.FormatInt(l.ID, 10), token: otherToken})
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = b.do(t, req{method: "DELETE", path: "/api/v1/consent-links/" + strconv.FormatInt(l.ID, 10), token: otherToken})
	wantStatus(t, resp, body, http.StatusNotFound)

	admin := contoso.Users[0].UserPrincipalName
	c, resp, body := followLink(t, b, e, l.URL, admin)
	wantStatus(t, resp, body, http.StatusOK)
	session := hiddenInput(body, "session")
	if session == "" || strings.Count(body, `name="subscription"`) != len(contoso.Subscriptions) || !strings.Contains(body, `action="/invite/complete"`) {
		t.Fatalf("choice page: %.2000s", body)
	}
	if got := linkState(t, b, token, l.ID); got.State != "consented" || got.ConsentedBy != admin || got.OpenedAt == nil {
		t.Fatalf("after consent: %+v", got)
	}
	// The session is the browser's: another one cannot complete it.
	resp, body = postForm(t, b.browser(t), b.ts.URL+"/invite/complete", url.Values{"session": {session}, "subscription": contoso.Subscriptions[:2]})
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = postForm(t, c, b.ts.URL+"/invite/complete", url.Values{"session": {session}, "subscription": contoso.Subscriptions[:2]})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Tenant connected") || !strings.Contains(body, "Contoso Ltd") {
		t.Fatalf("done page: %.2000s", body)
	}

	resp, body = b.do(t, req{method: "GET", path: "/api/v1/tenants/" + contoso.ID, token: token})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `"name":"Contoso Ltd"`) || !strings.Contains(body, `"connection":"consent"`) {
		t.Fatalf("tenant: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/subscriptions?tenant=" + contoso.ID, token: token})
	wantStatus(t, resp, body, http.StatusOK)
	for _, s := range contoso.Subscriptions[:2] {
		if !strings.Contains(body, s) {
			t.Fatalf("subscription %s not listed: %s", s, body)
		}
	}
	got := linkState(t, b, token, l.ID)
	if got.State != "connected" || got.ConnectedAt == nil || got.TenantID != contoso.ID {
		t.Fatalf("after connecting: %+v", got)
	}
	// The first sync runs with the consent's roles only, which do not let
	// Steward read the activity log: each run says so, per subscription.
	runs, err := b.db.SyncRunList(t.Context(), everything, contoso.Subscriptions[0], 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("first sync: %v %v", runs, err)
	}
	if err := b.svc.Inventory.RunSync(steward.NewSystemContext(t.Context()), runs[0].ID); err != nil {
		t.Fatal(err)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/subscriptions/" + contoso.Subscriptions[0] + "/sync-runs", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	if want, _ := json.Marshal(steward.WarnActivityLogForbidden); !strings.Contains(body, `"status":"succeeded"`) || !strings.Contains(body, `"warning":`+string(want)) {
		t.Fatalf("sync runs after consent: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/subscriptions/" + contoso.Subscriptions[0], cookie: b.session(t, olivia.ID)})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "missing permission") || !strings.Contains(body, "Monitoring Reader or Reader needed") {
		t.Fatalf("subscription page: %.3000s", body)
	}

	// Used up: the link, and a new consent through it, are refused.
	resp, body = get(t, b.browser(t), l.URL)
	wantStatus(t, resp, body, http.StatusConflict)
	if !strings.Contains(body, "has been used") {
		t.Fatalf("reused link: %.1500s", body)
	}
	resp, body = postForm(t, c, b.ts.URL+"/invite/consent", url.Values{"token": {secret}})
	wantStatus(t, resp, body, http.StatusConflict)
	resp, body = b.do(t, req{method: "DELETE", path: "/api/v1/consent-links/" + strconv.FormatInt(l.ID, 10), token: token})
	wantAPIError(t, resp, body, http.StatusConflict, steward.ECONFLICT, "already connected")

	// Every step is audited, as the invitation or the consenting admin;
	// the token is nowhere in the log, the API's answers since or the logs.
	for _, action := range []string{"invitation.create", "invitation.open", "invitation.consent", "invitation.use", "invitation.refused"} {
		if len(b.events(t, action)) == 0 {
			t.Errorf("no %s event", action)
		}
	}
	if use := b.events(t, "invitation.use"); len(use) != 1 || use[0].Actor != "invitation:"+strconv.FormatInt(l.ID, 10) || use[0].TenantID != contoso.ID {
		t.Errorf("use events: %+v", use)
	}
	assigned := 0
	for _, ev := range b.events(t, "role_assignment.create") {
		if ev.Actor == "azure:"+admin && ev.Outcome == steward.OutcomeSuccess && ev.TenantID == contoso.ID {
			assigned++
		}
	}
	if assigned != 4 {
		t.Errorf("%d role assignments by the consenting admin, want 4", assigned)
	}
	for _, ev := range b.events(t, "") {
		if j, _ := json.Marshal(ev); strings.Contains(string(j), secret) || strings.Contains(string(j), steward.HashToken(secret)) {
			t.Fatalf("the link's token in audit event %s", ev.Action)
		}
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/consent-links", token: token})
	seen += body
	if strings.Contains(seen, secret) || strings.Contains(b.logs.String(), secret) {
		t.Fatal("the link's token came back in a listing or the logs")
	}
}

// TestConsentLinkRefusals: a link named for one tenant refuses another's
// admin, an answer carried to another browser is refused (and the right
// browser may still use it), and revoked, expired and unknown links get a
// clear page. A user limited to one tenant may invite only that tenant.
func TestConsentLinkRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{})
	b.useEmulator(t, e)
	olivia, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	cf := e.Connection()
	contoso, _ := cf.Tenant(emulator.ContosoTenantName)
	northwind, _ := cf.Tenant(emulator.NorthwindTenantName)
	admin := contoso.Users[0].UserPrincipalName

	// Named for Northwind, used by Contoso's admin: refused, nothing bound.
	l := createLink(t, b, token, `{"customerName":"Northwind","expectedTenant":"`+northwind.ID+`"}`)
	c := b.browser(t)
	resp, body := get(t, c, l.URL)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = postForm(t, c, b.ts.URL+"/invite/consent", url.Values{"token": {hiddenInput(body, "token")}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	authorize := resp.Header.Get("Location")
	if !strings.Contains(authorize, "/"+northwind.ID+"/") {
		t.Fatalf("a link named for Northwind sends the admin to %s", authorize)
	}
	// The emulator signs Contoso's admin in only at Contoso's authority:
	// try what a crafted answer would bring, a consent in another tenant.
	authorize = strings.Replace(authorize, "/"+northwind.ID+"/", "/organizations/", 1)
	answer := stewardtest.Consent(t, e, authorize, admin, true)
	resp, body = get(t, c, b.ts.URL+"/tenants/connect/callback?"+answer.Encode())
	wantStatus(t, resp, body, http.StatusForbidden)
	if !strings.Contains(body, "this consent link is for another tenant") {
		t.Fatalf("wrong tenant: %.1500s", body)
	}
	if got := linkState(t, b, token, l.ID); got.State != "opened" || got.TenantID != northwind.ID || got.ConsentedBy != "" {
		t.Fatalf("after a refused tenant: %+v", got)
	}
	refused := b.events(t, "tenant.consent_refused")
	if len(refused) != 1 || refused[0].TenantID != contoso.ID || refused[0].Actor != "invitation:"+strconv.FormatInt(l.ID, 10) {
		t.Fatalf("refusals: %+v", refused)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/tenants/" + contoso.ID, token: token})
	wantStatus(t, resp, body, http.StatusNotFound)

	// An answer brought to another browser is refused; the one that
	// started the consent may still finish it.
	l = createLink(t, b, token, `{"customerName":"Contoso"}`)
	c = b.browser(t)
	resp, body = get(t, c, l.URL)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = postForm(t, c, b.ts.URL+"/invite/consent", url.Values{"token": {hiddenInput(body, "token")}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	answer = stewardtest.Consent(t, e, resp.Header.Get("Location"), admin, true)
	resp, body = get(t, b.browser(t), b.ts.URL+"/tenants/connect/callback?"+answer.Encode())
	wantStatus(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(body, "another browser") {
		t.Fatalf("another browser: %.1500s", body)
	}
	resp, body = get(t, c, b.ts.URL+"/tenants/connect/callback?"+answer.Encode())
	wantStatus(t, resp, body, http.StatusOK)
	if got := linkState(t, b, token, l.ID); got.State != "consented" || got.TenantID != contoso.ID {
		t.Fatalf("after consent: %+v", got)
	}

	// Revoked from the Tenants page, asked first.
	l = createLink(t, b, token, `{}`)
	op := b.browser(t)
	op.Jar.SetCookies(mustURL(t, b.ts.URL), []*http.Cookie{{Name: sessionCookie, Value: b.session(t, olivia.ID)}})
	path := b.ts.URL + "/tenants/invitations/" + strconv.FormatInt(l.ID, 10) + "/revoke"
	resp, body = postForm(t, op, path, url.Values{})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Revoke the link") || linkState(t, b, token, l.ID).State != "pending" {
		t.Fatalf("confirmation: %.1500s", body)
	}
	resp, body = postForm(t, op, path, url.Values{"confirm": {"yes"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	resp, body = get(t, b.browser(t), l.URL)
	wantStatus(t, resp, body, http.StatusConflict)
	if !strings.Contains(body, "revoked") || linkState(t, b, token, l.ID).State != "revoked" || len(b.events(t, "invitation.revoke")) != 1 {
		t.Fatalf("revoked link: %.1500s", body)
	}

	// Expired, and unknown.
	secret, hash := steward.NewToken(steward.InvitationTokenPrefix)
	old := &steward.Invitation{CreatedBy: "olivia", Hash: hash, ExpiresAt: time.Now().Add(-time.Minute)}
	if err := b.db.InvitationCreate(t.Context(), old, nil); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, b.browser(t), b.ts.URL+"/invite?token="+secret)
	wantStatus(t, resp, body, http.StatusConflict)
	if !strings.Contains(body, "expired") || linkState(t, b, token, old.ID).State != "expired" {
		t.Fatalf("expired link: %.1500s", body)
	}
	resp, body = get(t, b.browser(t), b.ts.URL+"/invite?token="+steward.InvitationTokenPrefix+"nosuchtoken")
	wantStatus(t, resp, body, http.StatusNotFound)

	// The Tenants page lists the links with their states.
	resp, body = get(t, op, b.ts.URL+"/tenants")
	wantStatus(t, resp, body, http.StatusOK)
	for _, s := range []string{"Invite customers", ">revoked<", ">consented<", ">opened<", ">expired<"} {
		if !strings.Contains(body, s) {
			t.Fatalf("Tenants page lacks %q: %.3000s", s, body)
		}
	}
	resp, body = postForm(t, op, b.ts.URL+"/tenants/invitations", url.Values{"customerName": {"Fabrikam"}, "expiresIn": {"7d"}})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `id="invite-url"`) || !strings.Contains(body, b.ts.URL+"/invite?token="+steward.InvitationTokenPrefix) {
		t.Fatalf("created link not shown: %.3000s", body)
	}

	// Limited to Contoso: only Contoso's links, by ID.
	_, scoped := b.user(t, "carl", steward.Grant{Role: steward.RoleOperator, Tenants: []string{contoso.ID}})
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/consent-links", token: scoped, body: `{"customerName":"Anyone"}`})
	wantAPIError(t, resp, body, http.StatusForbidden, steward.EFORBIDDEN, "name the tenant ID")
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/consent-links", token: scoped, body: `{"expectedTenant":"` + northwind.ID + `"}`})
	wantStatus(t, resp, body, http.StatusForbidden)
	createLink(t, b, scoped, `{"expectedTenant":"`+contoso.ID+`","expiresIn":"90d"}`)
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/consent-links", token: scoped, body: `{"expectedTenant":"` + contoso.ID + `","expiresIn":"91d"}`})
	wantAPIError(t, resp, body, http.StatusBadRequest, steward.EINVALID, "at most 90d")
}
