package emulator

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"
)

// claimsOf decodes a JWT's claims without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClientSecretCredential(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	tok := b.appToken(t, b.secretCred(t, contoso.ID, p.ClientID, p.ClientSecret), b.e.URL()+"/.default")
	c := claimsOf(t, tok)
	for k, want := range map[string]string{
		"tid": contoso.ID, "oid": p.ObjectID, "appid": p.ClientID, "azp": p.ClientID, "aud": b.e.URL(),
		"iss": b.e.URL() + "/" + contoso.ID + "/v2.0", "idtyp": "app", "appidacr": "1",
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %s", k, c[k], want)
		}
	}
	if _, ok := c["scp"]; ok {
		t.Error("app token has scp")
	}
	exp := int64(c["exp"].(float64))
	if got := time.Unix(exp, 0).Sub(b.clock.Now()); got < 59*time.Minute || got > time.Hour {
		t.Errorf("app token lives %v", got)
	}

	// The same credential works for the public-cloud ARM audience.
	tok2 := b.appToken(t, b.secretCred(t, contoso.ID, p.ClientID, p.ClientSecret), "https://management.azure.com/.default")
	if aud := claimsOf(t, tok2)["aud"]; aud != "https://management.azure.com" {
		t.Errorf("aud %v", aud)
	}
	sc, err := armsubscriptions.NewClient(staticCred(tok2), b.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Get(context.Background(), contoso.Subscriptions[0], nil); err != nil {
		t.Fatalf("token with aud management.azure.com: %v", err)
	}
}

// entraError is Entra's token-endpoint error body.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	TraceID     string `json:"trace_id"`
	CorrID      string `json:"correlation_id"`
	Timestamp   string `json:"timestamp"`
}

func (b *testBundle) tokenRequest(t *testing.T, tenant string, form url.Values) (int, entraError, map[string]any) {
	t.Helper()
	resp, err := b.client.PostForm(b.e.URL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var ee entraError
	j, _ := json.Marshal(raw)
	_ = json.Unmarshal(j, &ee)
	return resp.StatusCode, ee, raw
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	arm := b.e.URL() + "/.default"
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID}, "client_secret": {p.ClientSecret}, "scope": {arm}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	cases := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"wrong secret", contoso.ID, form("client_secret", "nope"), 401, "invalid_client", 7000215},
		{"unknown app", contoso.ID, form("client_id", "11111111-2222-3333-4444-555555555555"), 400, "unauthorized_client", 700016},
		{"app not in tenant", b.tenant(t, NorthwindTenantName).ID, form(), 400, "unauthorized_client", 700016},
		{"multi-tenant app without consent", contoso.ID, form("client_id", b.cf.App.ClientID, "client_secret", b.cf.App.ClientSecret), 400, "unauthorized_client", 700016},
		{"unknown tenant", "99999999-2222-3333-4444-555555555555", form(), 400, "invalid_tenant", 90002},
		{"common tenant", "common", form(), 400, "invalid_request", 50059},
		{"no scope", contoso.ID, form("scope", ""), 400, "invalid_request", 900144},
		{"not .default", contoso.ID, form("scope", b.e.URL()+"/user_impersonation"), 400, "invalid_scope", 1002012},
		{"unknown resource", contoso.ID, form("scope", "https://vault.azure.net/.default"), 400, "invalid_resource", 500011},
		{"no credential", contoso.ID, form("client_secret", ""), 401, "invalid_client", 7000218},
		{"unsupported grant", contoso.ID, form("grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"no grant", contoso.ID, form("grant_type", ""), 400, "invalid_request", 900144},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, ee, _ := b.tokenRequest(t, tc.tenant, tc.form)
			if status != tc.status || ee.Error != tc.err || len(ee.Codes) != 1 || ee.Codes[0] != tc.code {
				t.Fatalf("got %d %s %v, want %d %s %d: %s", status, ee.Error, ee.Codes, tc.status, tc.err, tc.code, ee.Description)
			}
			if !strings.HasPrefix(ee.Description, "AADSTS") || ee.TraceID == "" || ee.CorrID == "" || ee.Timestamp == "" {
				t.Fatalf("error lacks Entra's fields: %+v", ee)
			}
		})
	}

	// azidentity surfaces the AADSTS code.
	_, err := b.secretCred(t, contoso.ID, p.ClientID, "nope").GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{arm}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("azidentity error = %v", err)
	}
}

func TestExpiredSecretStopsWorking(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID}, "client_secret": {p.ClientSecret}, "scope": {b.e.URL() + "/.default"}}
	if status, ee, _ := b.tokenRequest(t, contoso.ID, form); status != 200 {
		t.Fatalf("fresh secret: %d %+v", status, ee)
	}
	b.clock.Advance(366 * 24 * time.Hour) // seeded secrets expire after a year
	status, ee, _ := b.tokenRequest(t, contoso.ID, form)
	if status != 401 || ee.Error != "invalid_client" || ee.Codes[0] != 7000222 {
		t.Fatalf("expired secret: %d %+v", status, ee)
	}
}

// selfSignedCert makes an RSA certificate like those registered on apps.
func selfSignedCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func TestClientCertificateCredential(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.realClock = true })
	contoso := b.tenant(t, ContosoTenantName)
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	cert, key := selfSignedCert(t)
	newCred := func() *azidentity.ClientCertificateCredential {
		cred, err := azidentity.NewClientCertificateCredential(contoso.ID, p.ClientID, []*x509.Certificate{cert}, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: b.clientOptions(), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	// Not registered yet: Entra refuses the assertion.
	_, err := newCred().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{b.e.URL() + "/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("unregistered certificate: %v", err)
	}
	if err := b.e.AddAppCertificate(p.ClientID, cert.Raw); err != nil {
		t.Fatal(err)
	}
	tok := b.appToken(t, newCred(), b.e.URL()+"/.default")
	c := claimsOf(t, tok)
	if c["appidacr"] != "2" || c["oid"] != p.ObjectID {
		t.Fatalf("certificate token claims: %v", c)
	}
	sc, _ := armsubscriptions.NewClient(newCred(), b.armOptions())
	if _, err := sc.Get(context.Background(), contoso.Subscriptions[0], nil); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	for _, tenant := range []string{contoso.ID, "contoso.onmicrosoft.com", "common", "organizations"} {
		var doc map[string]any
		resp := b.do(t, "GET", "/"+tenant+"/v2.0/.well-known/openid-configuration", "", nil, &doc)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", tenant, resp.StatusCode)
		}
		iss, _ := doc["issuer"].(string)
		if !strings.HasPrefix(iss, b.e.URL()+"/") || !strings.HasSuffix(iss, "/v2.0") {
			t.Errorf("%s: issuer %q does not match the host", tenant, iss)
		}
		// The device-code flow is not served, so it is not advertised.
		if _, ok := doc["device_authorization_endpoint"]; ok {
			t.Errorf("%s: advertises a device-code endpoint the emulator does not serve", tenant)
		}
		if tenant == contoso.ID && iss != b.e.URL()+"/"+contoso.ID+"/v2.0" {
			t.Errorf("issuer %q", iss)
		}
	}
	var ee entraError
	if resp := b.do(t, "GET", "/nosuch.onmicrosoft.com/v2.0/.well-known/openid-configuration", "", nil, &ee); resp.StatusCode != 400 || ee.Codes[0] != 90002 {
		t.Fatalf("unknown tenant discovery: %d %+v", resp.StatusCode, ee)
	}

	// A token verifies against the JWKS.
	var jwks struct {
		Keys []struct {
			Kid string   `json:"kid"`
			N   string   `json:"n"`
			E   string   `json:"e"`
			X5c []string `json:"x5c"`
		} `json:"keys"`
	}
	b.do(t, "GET", "/"+contoso.ID+"/discovery/v2.0/keys", "", nil, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("jwks: %+v", jwks)
	}
	der, _ := base64.StdEncoding.DecodeString(jwks.Keys[0].X5c[0])
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		if tk.Header["kid"] != jwks.Keys[0].Kid {
			return nil, errors.New("kid mismatch")
		}
		return cert.PublicKey, nil
	}, jwt.WithTimeFunc(b.clock.Now))
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify against JWKS: %v", err)
	}
}

var flowRE = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// signIn walks the authorize pages as userID; consent is "yes", "no" or ""
// (expect no consent page). It returns the final response, whose body is in
// its (already read) Body.
func (b *testBundle) signIn(t *testing.T, authorizeURL, userID, consent string) *http.Response {
	t.Helper()
	resp, err := b.client.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, page)
	}
	m := flowRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, userID) {
		t.Fatalf("sign-in page without flow or user %s: %s", userID, page)
	}
	post := func(v url.Values) (*http.Response, string) {
		r, err := b.client.PostForm(strings.SplitN(authorizeURL, "?", 2)[0], v)
		if err != nil {
			t.Fatal(err)
		}
		return r, readAll(t, r)
	}
	usr, _ := b.e.w.objects[lowerGUID(userID)].(*user)
	if usr == nil {
		t.Fatalf("no user %s", userID)
	}
	resp, page = post(url.Values{"flow": {m[1]}, "action": {"signin"}, "user": {userID}, "password": {usr.Password}})
	if consent == "" || resp.StatusCode != 200 {
		resp.Body = io.NopCloser(strings.NewReader(page))
		return resp
	}
	if !strings.Contains(page, "Permissions requested") || !strings.Contains(page, "user_impersonation") {
		t.Fatalf("consent page: %s", page)
	}
	resp, page = post(url.Values{"flow": {m[1]}, "action": {"consent"}, "accept": {consent}})
	resp.Body = io.NopCloser(strings.NewReader(page))
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

func userID(t *testing.T, b *testBundle, upn string) string {
	t.Helper()
	for _, tn := range b.cf.Tenants {
		for _, u := range tn.Users {
			if u.UserPrincipalName == upn {
				return u.ObjectID
			}
		}
	}
	t.Fatalf("no user %s", upn)
	return ""
}

func TestAuthorizationCodeConsentFlow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.realClock = true })
	contoso := b.tenant(t, ContosoTenantName)
	redirect := "http://localhost:8080/auth/callback" // registered as http://localhost/auth/callback: any port
	armScope := b.e.URL() + "/user_impersonation"
	app := b.cf.App
	cred, err := confidential.NewCredFromSecret(app.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	msal, err := confidential.New(b.e.URL()+"/organizations", app.ClientID, cred, confidential.WithHTTPClient(b.client), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := msal.AuthCodeURL(context.Background(), app.ClientID, redirect, []string{armScope})
	if err != nil {
		t.Fatal(err)
	}
	adminID := userID(t, b, b.admin(t, ContosoTenantName))

	t.Run("declined", func(t *testing.T) {
		resp := b.signIn(t, authURL+"&state=s1", adminID, "no")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" || !strings.HasPrefix(loc.Query().Get("error_description"), "AADSTS65004") || loc.Query().Get("state") != "s1" {
			t.Fatalf("decline: %d %s", resp.StatusCode, loc)
		}
	})

	t.Run("the password is required", func(t *testing.T) {
		for _, pw := range []string{"", "not the password"} {
			resp, err := b.client.Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			m := flowRE.FindStringSubmatch(readAll(t, resp))
			if m == nil {
				t.Fatal("no sign-in flow")
			}
			resp, err = b.client.PostForm(strings.SplitN(authURL, "?", 2)[0], url.Values{"flow": {m[1]}, "action": {"signin"}, "user": {adminID}, "password": {pw}})
			if err != nil {
				t.Fatal(err)
			}
			if page := readAll(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "AADSTS50126") {
				t.Fatalf("sign-in with password %q: %d %.300s", pw, resp.StatusCode, page)
			}
		}
	})

	t.Run("non-admin needs approval", func(t *testing.T) {
		var megan string
		for _, u := range contoso.Users {
			if !strings.HasPrefix(u.UserPrincipalName, "admin@") {
				megan = u.ObjectID
			}
		}
		resp := b.signIn(t, authURL, megan, "")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("non-admin without consent: %d", resp.StatusCode)
		}
	})

	// The admin consents: the app's service principal appears in Contoso.
	resp := b.signIn(t, authURL+"&state=xyz", adminID, "yes")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "xyz" {
		t.Fatalf("consent redirect: %d %v", resp.StatusCode, loc)
	}
	if !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirected to %s", loc)
	}
	res, err := msal.AcquireTokenByAuthCode(context.Background(), loc.Query().Get("code"), redirect, []string{armScope})
	if err != nil {
		t.Fatalf("MSAL code exchange: %v", err)
	}
	c := claimsOf(t, res.AccessToken)
	if c["scp"] != "user_impersonation" || c["oid"] != adminID || c["tid"] != contoso.ID || c["idtyp"] != "user" || c["aud"] != b.e.URL() {
		t.Fatalf("delegated claims: %v", c)
	}
	if life := res.ExpiresOn.Sub(time.Now()); life > time.Hour || life < 55*time.Minute {
		t.Fatalf("delegated token lives %v", life)
	}
	if res.IDToken.Oid != adminID {
		t.Fatalf("id token oid %q", res.IDToken.Oid)
	}

	// Now Steward's app identity exists in Contoso (but holds no role yet).
	stewardCred := b.secretCred(t, contoso.ID, app.ClientID, app.ClientSecret)
	stewardTok := b.appToken(t, stewardCred, b.e.URL()+"/.default")
	sc, _ := armsubscriptions.NewClient(stewardCred, b.armOptions())
	pager := sc.NewListPager(nil)
	page, err := pager.NextPage(context.Background())
	if err != nil || len(page.Value) != 0 {
		t.Fatalf("service principal with no role sees %d subscriptions (%v)", len(page.Value), err)
	}
	spID := claimsOf(t, stewardTok)["oid"].(string)

	// The delegated token assigns Tag Contributor to the app's service
	// principal, as Steward's onboarding does; then the app sees resources.
	sub := contoso.Subscriptions[0]
	var ra map[string]any
	r := b.do(t, "PUT", "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments/"+newGUID()+"?api-version=2022-04-01", res.AccessToken,
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/4a9ae827-6dc8-4573-8ac7-8239d42aa03f", "principalId": spID, "principalType": "ServicePrincipal"}}, &ra)
	if r.StatusCode != 201 {
		t.Fatalf("role assignment by delegated token: %d %v", r.StatusCode, ra)
	}
	page, err = sc.NewListPager(nil).NextPage(context.Background())
	if err != nil || len(page.Value) != 1 {
		t.Fatalf("after assignment: %d subscriptions (%v)", len(page.Value), err)
	}

	t.Run("plain POST without offline_access gets no refresh token", func(t *testing.T) {
		u := b.e.URL() + "/" + contoso.ID + "/oauth2/v2.0/authorize?" + url.Values{
			"client_id": {app.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
			"scope": {armScope + " openid"}, "state": {"p"}, "code_challenge": {pkceChallenge("verifier-0123456789-0123456789-0123456789")}, "code_challenge_method": {"S256"},
		}.Encode()
		resp := b.signIn(t, u, adminID, "") // consented already: no consent page
		loc, _ := url.Parse(resp.Header.Get("Location"))
		code := loc.Query().Get("code")
		if code == "" {
			t.Fatalf("no code: %d %s", resp.StatusCode, loc)
		}
		exchange := url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
			"code": {code}, "redirect_uri": {redirect}, "scope": {armScope}, "code_verifier": {"wrong-verifier-0123456789-0123456789"}}
		if status, ee, _ := b.tokenRequest(t, contoso.ID, exchange); status != 400 || ee.Codes[0] != 501481 {
			t.Fatalf("bad PKCE verifier: %d %+v", status, ee)
		}
		exchange.Set("code_verifier", "verifier-0123456789-0123456789-0123456789")
		status, ee, raw := b.tokenRequest(t, contoso.ID, exchange)
		if status != 200 {
			t.Fatalf("exchange: %d %+v", status, ee)
		}
		if _, ok := raw["refresh_token"]; ok {
			t.Fatal("refresh token without offline_access")
		}
		if raw["id_token"] == nil || raw["expires_in"].(float64) > 3600 {
			t.Fatalf("token response: %v", raw)
		}
		if status, ee, _ := b.tokenRequest(t, contoso.ID, exchange); status != 400 || ee.Codes[0] != 54005 {
			t.Fatalf("code redeemed twice: %d %+v", status, ee)
		}
	})
}

func pkceChallenge(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	base := b.e.URL() + "/organizations/oauth2/v2.0/authorize?"
	app := b.cf.App
	// Unknown app and unregistered redirect URI: an error page, no redirect.
	for _, v := range []url.Values{
		{"client_id": {"11111111-2222-3333-4444-555555555555"}, "response_type": {"code"}, "redirect_uri": {"http://localhost/auth/callback"}, "scope": {"openid"}},
		{"client_id": {app.ClientID}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"}, "scope": {"openid"}},
	} {
		resp, err := b.client.Get(base + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page := readAll(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(page, "AADSTS") {
			t.Fatalf("%v: %d %s", v, resp.StatusCode, page)
		}
	}
	// A single-tenant app on /common: redirected with AADSTS50194.
	p := b.principal(t, ContosoTenantName, ContosoReaderApp)
	_ = contoso
	resp, err := b.client.Get(b.e.URL() + "/common/oauth2/v2.0/authorize?" + url.Values{"client_id": {p.ClientID}, "response_type": {"code"}, "redirect_uri": {"http://localhost/cb"}, "scope": {"openid"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != 400 {
		t.Fatalf("single-tenant app without redirect URIs: %d", resp.StatusCode)
	}
}

func TestRefreshTokenAndAdminConsent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	northwind := b.tenant(t, NorthwindTenantName)
	app := b.cf.App
	adminID := userID(t, b, b.admin(t, NorthwindTenantName))
	redirect := "https://localhost/connect/callback"

	// Admin consent without a code: the service principal appears.
	u := b.e.URL() + "/organizations/v2.0/adminconsent?" + url.Values{"client_id": {app.ClientID}, "redirect_uri": {redirect}, "state": {"ac"}}.Encode()
	resp := b.signIn(t, u, adminID, "yes")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("admin_consent") != "True" || loc.Query().Get("tenant") != northwind.ID || loc.Query().Get("state") != "ac" {
		t.Fatalf("admin consent: %d %s", resp.StatusCode, loc)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "scope": {b.e.URL() + "/.default"}}
	if status, ee, _ := b.tokenRequest(t, northwind.ID, form); status != 200 {
		t.Fatalf("client credentials after admin consent: %d %+v", status, ee)
	}

	// A code with offline_access brings a refresh token that works.
	armScope := "https://management.azure.com/user_impersonation"
	u = b.e.URL() + "/" + northwind.ID + "/oauth2/v2.0/authorize?" + url.Values{"client_id": {app.ClientID}, "response_type": {"code"},
		"redirect_uri": {redirect}, "scope": {armScope + " offline_access"}, "response_mode": {"form_post"}, "state": {"fp"}}.Encode()
	resp = b.signIn(t, u, adminID, "")
	page := readAll(t, resp)
	m := regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(page, `action="`+redirect+`"`) {
		t.Fatalf("form_post: %d %s", resp.StatusCode, page)
	}
	status, ee, raw := b.tokenRequest(t, northwind.ID, url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "code": {m[1]}, "redirect_uri": {redirect}})
	if status != 200 || raw["refresh_token"] == nil || claimsOf(t, raw["access_token"].(string))["aud"] != "https://management.azure.com" {
		t.Fatalf("code exchange: %d %+v %v", status, ee, raw)
	}
	status, ee, raw2 := b.tokenRequest(t, northwind.ID, url.Values{"grant_type": {"refresh_token"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "refresh_token": {raw["refresh_token"].(string)}, "scope": {armScope}})
	if status != 200 || claimsOf(t, raw2["access_token"].(string))["oid"] != adminID {
		t.Fatalf("refresh: %d %+v", status, ee)
	}
	if status, ee, _ := b.tokenRequest(t, northwind.ID, url.Values{"grant_type": {"refresh_token"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "refresh_token": {"bogus"}}); status != 400 || ee.Error != "invalid_grant" {
		t.Fatalf("bogus refresh token: %d %+v", status, ee)
	}
	// Graph and ARM in one token request: one resource per token.
	if status, ee, _ := b.tokenRequest(t, northwind.ID, url.Values{"grant_type": {"refresh_token"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "refresh_token": {raw["refresh_token"].(string)}, "scope": {armScope + " User.Read"}}); status != 400 || ee.Codes[0] != 28000 {
		t.Fatalf("two resources: %d %+v", status, ee)
	}
}

func TestGraphRegistersCertificate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.realClock = true })
	app := b.cf.App
	tok := b.graphToken(t, app.TenantID, app.ClientID, app.ClientSecret)
	cert, key := selfSignedCert(t)
	var got map[string]any
	b.do(t, "GET", "/v1.0/applications(appId='"+app.ClientID+"')", tok, nil, &got)
	body := map[string]any{"keyCredentials": []map[string]any{{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(cert.Raw), "displayName": "ci"}}}
	if r := b.do(t, "PATCH", "/v1.0/applications/"+got["id"].(string), tok, body, nil); r.StatusCode != 204 {
		t.Fatalf("PATCH keyCredentials: %d", r.StatusCode)
	}
	cred, err := azidentity.NewClientCertificateCredential(app.TenantID, app.ClientID, []*x509.Certificate{cert}, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: b.clientOptions(), DisableInstanceDiscovery: true, SendCertificateChain: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, b.appToken(t, cred, b.e.URL()+"/.default")); c["appidacr"] != "2" {
		t.Fatalf("claims %v", c)
	}
}
