package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
)

// TestConnectByConsentPages walks "Connect a tenant" as an operator does:
// the portal sends them to Entra (the emulator's pages), the customer's
// admin consents, and back in Steward they pick subscriptions.
func TestConnectByConsentPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{}) // its own Azure: consent changes it
	b.useEmulator(t, e)
	u, _ := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	c := b.browser(t)
	c.Jar.SetCookies(mustURL(t, b.ts.URL), []*http.Cookie{{Name: sessionCookie, Value: b.session(t, u.ID)}})

	resp, body := postForm(t, c, b.ts.URL+"/tenants/connect/consent", url.Values{"purpose": {"connect"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, e.URL()) || !strings.Contains(authorize, url.QueryEscape(b.ts.URL+"/tenants/connect/callback")) {
		t.Fatalf("consent goes to %s", authorize)
	}
	contoso, _ := e.Connection().Tenant(emulator.ContosoTenantName)
	answer := stewardtest.Consent(t, e, authorize, contoso.Users[0].UserPrincipalName, true)

	resp, body = get(t, c, b.ts.URL+"/tenants/connect/callback?"+answer.Encode())
	wantStatus(t, resp, body, http.StatusOK)
	session := hiddenInput(body, "session")
	if session == "" || strings.Count(body, `name="subscription"`) != len(contoso.Subscriptions) {
		t.Fatalf("consent page: %.2000s", body)
	}
	resp, body = postForm(t, c, b.ts.URL+"/tenants/connect/complete", url.Values{"session": {session}, "name": {"Contoso"}, "subscription": contoso.Subscriptions[:2]})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/tenants/"+contoso.ID+"?done=connected" {
		t.Fatalf("after connecting: %s", loc)
	}
	resp, body = get(t, c, b.ts.URL+"/tenants/"+contoso.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Contoso") {
		t.Fatalf("tenant page: %.1000s", body)
	}
	// The consenting user is the actor of the role assignments.
	n := 0
	for _, ev := range b.events(t, "") {
		if ev.Actor == "azure:"+contoso.Users[0].UserPrincipalName {
			n++
		}
	}
	if n < 4 {
		t.Fatalf("%d audit events by the consenting user", n)
	}
}

// TestTenantAPI connects a tenant with a service principal through the API
// and checks that its secret never comes back.
func TestTenantAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{})
	b.useEmulator(t, e)
	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")

	in := map[string]any{"tenantId": contoso.ID, "name": "Contoso", "read": map[string]string{"clientId": writer.ClientID, "clientSecret": writer.ClientSecret}, "write": nil}
	raw, _ := json.Marshal(in)
	resp, body := b.do(t, req{method: "POST", path: "/api/v1/tenants", token: token, body: string(raw)})
	wantStatus(t, resp, body, http.StatusCreated)
	all := body
	for _, path := range []string{"/api/v1/tenants", "/api/v1/tenants/" + contoso.ID, "/api/v1/tenants/" + contoso.ID + "/credentials"} {
		resp, body = b.do(t, req{method: "GET", path: path, token: token})
		wantStatus(t, resp, body, http.StatusOK)
		all += body
	}
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/tenants/" + contoso.ID + "/validate", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	all += body
	if !strings.Contains(body, `"verdict"`) {
		t.Fatalf("validation: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/subscriptions", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	for _, s := range contoso.Subscriptions {
		if !strings.Contains(body, s) {
			t.Fatalf("subscription %s not listed: %s", s, body)
		}
	}
	// A wrong secret: a clear error, no secret in it.
	in["read"] = map[string]string{"clientId": writer.ClientID, "clientSecret": "wrong-" + writer.ClientSecret}
	in["tenantId"], in["name"] = contoso.ID, "Contoso again"
	raw, _ = json.Marshal(in)
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/tenants", token: token, body: string(raw)})
	if resp.StatusCode < 400 {
		t.Fatalf("wrong secret accepted: %d %s", resp.StatusCode, body)
	}
	all += body
	if strings.Contains(all, writer.ClientSecret) || strings.Contains(b.logs.String(), writer.ClientSecret) {
		t.Fatal("the client secret came back in a response or the logs")
	}
	// Nor is it in the audit log.
	for _, ev := range b.events(t, "") {
		if j, _ := json.Marshal(ev); strings.Contains(string(j), writer.ClientSecret) {
			t.Fatalf("secret in audit event %s", ev.Action)
		}
	}
}

// useEmulator points the server's services at an emulator of the test's own.
func (b *testBundle) useEmulator(t testing.TB, e *emulator.Emulator) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emulator.json")
	if err := e.WriteConnectionFile(path); err != nil {
		t.Fatal(err)
	}
	svc := stewardtest.NewServices(t, b.db, path, nil)
	b.svc.Inventory, b.svc.Access, b.svc.Azure = svc.Inventory, svc.Access, svc.Azure
	b.srv.deps.InventoryService, b.srv.deps.Access = svc.Inventory, svc.Access
}

func hiddenInput(page, name string) string {
	_, rest, ok := strings.Cut(page, `name="`+name+`" value="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLighthouseConnectAPI connects the partner's managing tenant through
// the API and sees Northwind's delegated subscriptions.
func TestLighthouseConnectAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{})
	b.useEmulator(t, e)
	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	cf := e.Connection()
	resp, body := b.do(t, req{method: "POST", path: "/api/v1/tenants/lighthouse", token: token, body: `{"tenantId": "not-a-guid", "name": "x"}`})
	wantAPIError(t, resp, body, http.StatusBadRequest, steward.EINVALID, "GUID")
	resp, body = b.do(t, req{method: "POST", path: "/api/v1/tenants/lighthouse", token: token, body: `{"tenantId": "` + cf.App.TenantID + `", "name": "Our customers"}`})
	wantStatus(t, resp, body, http.StatusCreated)
	if !strings.Contains(body, `"connection":"lighthouse"`) {
		t.Fatalf("tenant: %s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/subscriptions", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	northwind, _ := cf.Tenant(emulator.NorthwindTenantName)
	for _, s := range northwind.Subscriptions {
		if !strings.Contains(body, s) {
			t.Fatalf("delegated %s not listed: %s", s, body)
		}
	}
}
