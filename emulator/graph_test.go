package emulator

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func (b *testBundle) graphToken(t *testing.T, tenantID, clientID, secret string) string {
	t.Helper()
	return b.appToken(t, b.secretCred(t, tenantID, clientID, secret), "https://graph.microsoft.com/.default")
}

func TestGraphSecretRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.cf.App
	tok := b.graphToken(t, app.TenantID, app.ClientID, app.ClientSecret)
	if roles, _ := claimsOf(t, tok)["roles"].([]any); len(roles) != 1 || roles[0] != "Application.ReadWrite.OwnedBy" {
		t.Fatalf("graph token roles %v", claimsOf(t, tok)["roles"])
	}

	// Find our own app registration by appId.
	var apps struct {
		Context string           `json:"@odata.context"`
		Value   []map[string]any `json:"value"`
	}
	if r := b.do(t, "GET", "/v1.0/applications?$filter="+q("appId eq '"+app.ClientID+"'"), tok, nil, &apps); r.StatusCode != 200 || len(apps.Value) != 1 {
		t.Fatalf("list applications: %d %+v", r.StatusCode, apps)
	}
	objID := apps.Value[0]["id"].(string)
	if !strings.HasSuffix(apps.Context, "/v1.0/$metadata#applications") {
		t.Errorf("@odata.context %q", apps.Context)
	}
	var byAppID map[string]any
	if r := b.do(t, "GET", "/v1.0/applications(appId='"+app.ClientID+"')", tok, nil, &byAppID); r.StatusCode != 200 || byAppID["id"] != objID {
		t.Fatalf("applications(appId=…): %d %v", r.StatusCode, byAppID)
	}

	// Overlap rotation: add a new secret that expires in 30 days.
	end := b.clock.Now().Add(30 * 24 * time.Hour)
	var pw map[string]any
	r := b.do(t, "POST", "/v1.0/applications/"+objID+"/addPassword", tok,
		map[string]any{"passwordCredential": map[string]any{"displayName": "rotated", "endDateTime": end.Format(time.RFC3339)}}, &pw)
	if r.StatusCode != 200 || pw["secretText"] == nil || pw["keyId"] == nil || pw["hint"] != pw["secretText"].(string)[:3] {
		t.Fatalf("addPassword: %d %v", r.StatusCode, pw)
	}
	newSecret := pw["secretText"].(string)
	form := func(secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {secret}, "scope": {b.e.URL() + "/.default"}}
	}
	if status, ee, _ := b.tokenRequest(t, app.TenantID, form(newSecret)); status != 200 {
		t.Fatalf("new secret: %d %+v", status, ee)
	}
	// The listing never shows secret text.
	var got map[string]any
	b.do(t, "GET", "/v1.0/applications/"+objID, tok, nil, &got)
	pws := got["passwordCredentials"].([]any)
	if len(pws) != 2 || pws[1].(map[string]any)["secretText"] != nil {
		t.Fatalf("passwordCredentials: %v", pws)
	}

	// Retire the old secret.
	oldKey := pws[0].(map[string]any)["keyId"].(string)
	if r := b.do(t, "POST", "/v1.0/applications/"+objID+"/removePassword", tok, map[string]any{"keyId": oldKey}, nil); r.StatusCode != 204 {
		t.Fatalf("removePassword: %d", r.StatusCode)
	}
	if status, ee, _ := b.tokenRequest(t, app.TenantID, form(app.ClientSecret)); status != 401 || ee.Codes[0] != 7000215 {
		t.Fatalf("removed secret: %d %+v", status, ee)
	}
	// And the new one expires for real.
	b.clock.Advance(31 * 24 * time.Hour)
	if status, ee, _ := b.tokenRequest(t, app.TenantID, form(newSecret)); status != 401 || ee.Codes[0] != 7000222 {
		t.Fatalf("expired secret: %d %+v", status, ee)
	}
}

func TestGraphRevocation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	p := b.principal(t, ContosoTenantName, ContosoTaggerApp)
	adminTok := b.userGraphToken(t, b.admin(t, ContosoTenantName))

	var sp map[string]any
	if r := b.do(t, "GET", "/v1.0/servicePrincipals(appId='"+p.ClientID+"')", adminTok, nil, &sp); r.StatusCode != 200 || sp["id"] != p.ObjectID {
		t.Fatalf("servicePrincipals(appId=…): %d %v", r.StatusCode, sp)
	}
	var list struct{ Value []map[string]any }
	b.do(t, "GET", "/v1.0/servicePrincipals?$filter="+q("appId eq '"+p.ClientID+"'"), adminTok, nil, &list)
	if len(list.Value) != 1 {
		t.Fatalf("filter by appId: %v", list)
	}
	// A reader app can't delete anything.
	readerTok := b.graphToken(t, contoso.ID, p.ClientID, p.ClientSecret)
	var ge struct{ Error struct{ Code string } }
	if r := b.do(t, "DELETE", "/v1.0/servicePrincipals/"+p.ObjectID, readerTok, nil, &ge); r.StatusCode != 403 || ge.Error.Code != "Authorization_RequestDenied" {
		t.Fatalf("delete without rights: %d %+v", r.StatusCode, ge)
	}
	if r := b.do(t, "DELETE", "/v1.0/servicePrincipals/"+p.ObjectID, adminTok, nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete service principal: %d", r.StatusCode)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID}, "client_secret": {p.ClientSecret}, "scope": {b.e.URL() + "/.default"}}
	if status, ee, _ := b.tokenRequest(t, contoso.ID, form); status != 400 || ee.Codes[0] != 700016 {
		t.Fatalf("token after service principal deletion: %d %+v", status, ee)
	}
	if r := b.do(t, "GET", "/v1.0/servicePrincipals/"+p.ObjectID, adminTok, nil, &ge); r.StatusCode != 404 || ge.Error.Code != "Request_ResourceNotFound" {
		t.Fatalf("deleted service principal: %d %+v", r.StatusCode, ge)
	}

	// Deleting an application revokes it everywhere.
	r := b.principal(t, ContosoTenantName, ContosoReaderApp)
	var app map[string]any
	b.do(t, "GET", "/v1.0/applications(appId='"+r.ClientID+"')", adminTok, nil, &app)
	if resp := b.do(t, "DELETE", "/v1.0/applications/"+app["id"].(string), adminTok, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete application: %d", resp.StatusCode)
	}
	form.Set("client_id", r.ClientID)
	form.Set("client_secret", r.ClientSecret)
	if status, ee, _ := b.tokenRequest(t, contoso.ID, form); status != 400 || ee.Codes[0] != 700016 {
		t.Fatalf("token after application deletion: %d %+v", status, ee)
	}
}

// userGraphToken mints a delegated Graph token for a seeded user.
func (b *testBundle) userGraphToken(t *testing.T, upn string) string {
	t.Helper()
	b.e.w.mu.RLock()
	u := b.e.w.userByUPN(upn)
	b.e.w.mu.RUnlock()
	tok, _, err := b.e.issueAccessToken(tokenSpec{
		Issuer: issuerFor(b.e.URL(), u.TenantID), TenantID: u.TenantID, Audience: graphResource, AppID: b.cf.App.ClientID,
		AppACR: "1", ObjectID: u.ID, User: u, Scopes: []string{"Directory.Read.All", "Application.ReadWrite.All"}, Lifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGraphUsersGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	tok := b.userGraphToken(t, b.admin(t, ContosoTenantName))
	var users struct{ Value []map[string]any }
	if r := b.do(t, "GET", "/v1.0/users", tok, nil, &users); r.StatusCode != 200 || len(users.Value) != len(contoso.Users) {
		t.Fatalf("users: %d %d", r.StatusCode, len(users.Value))
	}
	var me map[string]any
	b.do(t, "GET", "/v1.0/me", tok, nil, &me)
	if me["userPrincipalName"] != b.admin(t, ContosoTenantName) {
		t.Fatalf("me: %v", me)
	}
	var groups struct{ Value []map[string]any }
	b.do(t, "GET", "/v1.0/groups?$filter="+q("securityEnabled eq true"), tok, nil, &groups)
	if len(groups.Value) != 1 || groups.Value[0]["securityEnabled"] != true || groups.Value[0]["displayName"] != "Cloud Operations" {
		t.Fatalf("security groups: %v", groups.Value)
	}
	var members struct{ Value []map[string]any }
	b.do(t, "GET", "/v1.0/groups/"+groups.Value[0]["id"].(string)+"/members", tok, nil, &members)
	if len(members.Value) != 2 || members.Value[0]["@odata.type"] != "#microsoft.graph.user" {
		t.Fatalf("members: %v", members.Value)
	}
	// An app-only token without Graph permissions is refused.
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	appTok := b.graphToken(t, contoso.ID, p.ClientID, p.ClientSecret)
	var ge struct {
		Error struct{ Code, Message string }
	}
	if r := b.do(t, "GET", "/v1.0/users", appTok, nil, &ge); r.StatusCode != 403 || ge.Error.Code != "Authorization_RequestDenied" {
		t.Fatalf("users without permission: %d %+v", r.StatusCode, ge)
	}
	// ARM tokens are not Graph tokens.
	armTok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	if r := b.do(t, "GET", "/v1.0/users", armTok, nil, &ge); r.StatusCode != 401 || ge.Error.Code != "InvalidAuthenticationToken" {
		t.Fatalf("ARM token on Graph: %d %+v", r.StatusCode, ge)
	}
	if r := b.do(t, "GET", "/v1.0/users", "", nil, &ge); r.StatusCode != 401 {
		t.Fatalf("no token on Graph: %d", r.StatusCode)
	}
}
