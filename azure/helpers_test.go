package azure_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
)

// testBundle is an emulator with a connector pointed at it and the seeded
// identities the tests use.
type testBundle struct {
	e       *emulator.Emulator
	cf      *steward.ConnectionFile
	az      *azure.Connector
	contoso *steward.ConnectionTenant
	reader  steward.AzureIdentity // Reader on Contoso's subscriptions
	tagger  steward.AzureIdentity // Tag Contributor on Contoso's subscriptions
	sub     string                // Contoso's first subscription
}

func setup(t *testing.T, cfg emulator.Config) *testBundle {
	t.Helper()
	if cfg.Estate == "" {
		cfg.Estate = emulator.EstateSmall
	}
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	cf := e.Connection()
	az, err := azure.NewFromConnection(cf, azure.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Close)
	contoso, ok := cf.Tenant(emulator.ContosoTenantName)
	if !ok {
		t.Fatal("no Contoso tenant")
	}
	tb := &testBundle{e: e, cf: cf, az: az, contoso: contoso, sub: contoso.Subscriptions[0]}
	for _, sp := range contoso.ServicePrincipals {
		id := steward.AzureIdentity{TenantID: contoso.ID, ClientID: sp.ClientID, Secret: steward.Secret(sp.ClientSecret)}
		switch sp.Name {
		case emulator.ContosoReaderApp:
			tb.reader = id
		case emulator.ContosoTaggerApp:
			tb.tagger = id
		}
	}
	if tb.reader.ClientID == "" || tb.tagger.ClientID == "" {
		t.Fatal("Contoso's reader or tag contributor app is missing")
	}
	return tb
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// requireCode fails unless err carries the steward code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := steward.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// skipIfMissing skips a test of an endpoint another change is adding to
// the emulator, while the emulator still does not route it.
func skipIfMissing(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range []string{"NoRegisteredProviderFound", "InvalidResourceNamespace", "InvalidResourceType", "InvalidScope", "404 page not found"} {
		if strings.Contains(msg, s) && !strings.Contains(msg, "AuthorizationFailed") {
			t.Skipf("the emulator does not serve this endpoint yet: %v", err)
		}
	}
}

// adminOf returns a tenant's seeded administrator (admin@…).
func adminOf(t *testing.T, ct *steward.ConnectionTenant) steward.ConnectionUser {
	t.Helper()
	for _, u := range ct.Users {
		if strings.HasPrefix(u.UserPrincipalName, "admin@") {
			return u
		}
	}
	t.Fatalf("tenant %s has no admin", ct.Name)
	return steward.ConnectionUser{}
}

var reFlow = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// consent drives the emulator's sign-in and consent pages as user, the way
// a browser would, and returns the authorization code the redirect carries.
func (tb *testBundle) consent(t *testing.T, ctx context.Context, authorizeURL string, user steward.ConnectionUser) (code, state string) {
	t.Helper()
	hc := tb.httpClient(t)
	do := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	resp, page := do(get)
	m := reFlow.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("authorize page: %s\n%s", resp.Status, page)
	}
	post := func(form url.Values) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, authorizeURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(req)
	}
	flow := html.UnescapeString(m[1])
	resp, page = post(url.Values{"flow": {flow}, "action": {"signin"}, "user": {user.ObjectID}, "password": {user.Password}})
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `value="consent"`) {
		resp, page = post(url.Values{"flow": {flow}, "action": {"consent"}, "accept": {"yes"}})
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent: %s\n%s", resp.Status, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("consent refused: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("code"), q.Get("state")
}

// httpClient trusts the emulator's CA and does not follow redirects, so a
// test sees where the consent page sends the browser.
func (tb *testBundle) httpClient(t *testing.T) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(tb.cf.CACertPEM))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
