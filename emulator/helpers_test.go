package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"go.uber.org/goleak"

	"github.com/stewardhq/steward"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClock is a settable clock for token lifetimes and secret expiry.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testBundle struct {
	e      *Emulator
	cf     *steward.ConnectionFile
	client *http.Client // trusts the emulator's CA, follows no redirects
	cloud  cloud.Configuration
	clock  *testClock
}

type setupOpts struct {
	cfg       Config
	realClock bool
}

// setup starts a small-estate emulator on 127.0.0.1:0 and stops it when the
// test ends.
func setup(t *testing.T, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	o := &setupOpts{}
	for _, f := range opts {
		f(o)
	}
	b := &testBundle{clock: &testClock{t: time.Now().UTC().Truncate(time.Second)}}
	if !o.realClock && o.cfg.Now == nil {
		o.cfg.Now = b.clock.Now
	}
	e, err := New(o.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	b.e = e
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CACertPEM()) {
		t.Fatal("CA PEM does not parse")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	b.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		e.Stop()
	})
	b.cf = e.Connection()
	b.cloud = cloud.Configuration{
		ActiveDirectoryAuthorityHost: e.URL() + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: e.URL(), Audience: e.URL()},
		},
	}
	return b
}

func withConfig(f func(*Config)) func(*setupOpts) { return func(o *setupOpts) { f(&o.cfg) } }

func (b *testBundle) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: b.cloud, Transport: b.client, Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}}
}

func (b *testBundle) armOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: b.clientOptions()}
}

func (b *testBundle) tenant(t *testing.T, name string) *steward.ConnectionTenant {
	t.Helper()
	ct, ok := b.cf.Tenant(name)
	if !ok {
		t.Fatalf("no tenant %s", name)
	}
	return ct
}

func (b *testBundle) principal(t *testing.T, tenantName, appName string) steward.ConnectionPrincipal {
	t.Helper()
	for _, p := range b.tenant(t, tenantName).ServicePrincipals {
		if p.Name == appName {
			return p
		}
	}
	t.Fatalf("no principal %s in %s", appName, tenantName)
	return steward.ConnectionPrincipal{}
}

func (b *testBundle) secretCred(t *testing.T, tenantID, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: b.clientOptions(), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func (b *testBundle) spCred(t *testing.T, tenantName, appName string) azcore.TokenCredential {
	p := b.principal(t, tenantName, appName)
	return b.secretCred(t, b.tenant(t, tenantName).ID, p.ClientID, p.ClientSecret)
}

// staticCred hands out a fixed token, for ARM tests that act as a user.
type staticCred string

func (s staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// userToken mints a delegated ARM token for a seeded user without the
// sign-in pages (those have their own tests).
func (b *testBundle) userToken(t *testing.T, upn string) staticCred {
	t.Helper()
	b.e.w.mu.RLock()
	u := b.e.w.userByUPN(upn)
	b.e.w.mu.RUnlock()
	if u == nil {
		t.Fatalf("no user %s", upn)
	}
	tok, _, err := b.e.issueAccessToken(tokenSpec{
		Issuer: issuerFor(b.e.URL(), u.TenantID), TenantID: u.TenantID, Audience: b.e.URL(), AppID: b.cf.App.ClientID,
		AppACR: "1", ObjectID: u.ID, User: u, Scopes: []string{"user_impersonation"}, Lifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return staticCred(tok)
}

func (b *testBundle) admin(t *testing.T, tenantName string) string {
	t.Helper()
	for _, u := range b.tenant(t, tenantName).Users {
		if strings.HasPrefix(u.UserPrincipalName, "admin@") {
			return u.UserPrincipalName
		}
	}
	t.Fatalf("no admin in %s", tenantName)
	return ""
}

// do sends a raw request and decodes a JSON response into out (if not nil).
func (b *testBundle) do(t *testing.T, method, path, token string, body any, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = strings.NewReader(string(v))
	default:
		j, _ := json.Marshal(v)
		rd = strings.NewReader(string(j))
	}
	u := path
	if !strings.HasPrefix(path, "https://") {
		u = b.e.URL() + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	resp.Body = io.NopCloser(strings.NewReader(string(data)))
	return resp
}

// armErr is ARM's error body.
type armErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (b *testBundle) expectARMError(t *testing.T, method, path, token string, body any, status int, code string) armErr {
	t.Helper()
	var e armErr
	resp := b.do(t, method, path, token, body, &e)
	if resp.StatusCode != status || e.Error.Code != code {
		t.Fatalf("%s %s: got %d %q (%s), want %d %q", method, path, resp.StatusCode, e.Error.Code, e.Error.Message, status, code)
	}
	if e.Error.Message == "" {
		t.Fatalf("%s %s: error without message", method, path)
	}
	return e
}

func (b *testBundle) appToken(t *testing.T, cred azcore.TokenCredential, scope string) string {
	t.Helper()
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatalf("GetToken %s: %v", scope, err)
	}
	return tok.Token
}

func q(v string) string { return url.QueryEscape(v) }
