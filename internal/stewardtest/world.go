// Package stewardtest builds Steward's services for tests the way
// `steward serve` does: a real store, a keyring, and the Azure connector
// talking over HTTPS to an in-process emulator. Nothing in it is a fake.
package stewardtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/secrets"
	"github.com/stewardhq/steward/store"
)

// Emulator starts an emulator with the small estate, throttling off, for
// the test, and writes its connection file. Consent may return to
// https://127.0.0.1/tenants/connect/callback on any port.
func Emulator(t testing.TB, cfg emulator.Config) (*emulator.Emulator, string) {
	t.Helper()
	if cfg.Estate == "" {
		cfg.Estate = emulator.EstateSmall
	}
	cfg.RedirectURIs = append(cfg.RedirectURIs, "https://127.0.0.1/tenants/connect/callback")
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	path := filepath.Join(t.TempDir(), "emulator.json")
	if err := e.WriteConnectionFile(path); err != nil {
		t.Fatal(err)
	}
	return e, path
}

// Services are the inventory and access services over a store.
type Services struct {
	Keys      *secrets.Keyring
	Azure     *azure.Connector
	Inventory *inventory.Service
	Access    *access.Service
}

// NewServices builds the services over db, connected to the emulator whose
// connection file is at path.
func NewServices(t testing.TB, db *store.DB, path string, log *slog.Logger) *Services {
	t.Helper()
	return NewServicesObserved(t, db, path, log, nil)
}

// NewServicesObserved is NewServices with obs told of every exchange with
// Azure, as `steward serve` tells the metrics.
func NewServicesObserved(t testing.TB, db *store.DB, path string, log *slog.Logger, obs steward.AzureObserver) *Services {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Services{}
	var err error
	if s.Keys, err = secrets.NewKeyring(secrets.Config{DataDir: t.TempDir(), Logger: log}); err != nil {
		t.Fatal(err)
	}
	if s.Azure, err = azure.New(azure.Config{Cloud: path, Logger: log, Observer: obs}); err != nil {
		t.Fatal(err)
	}
	if s.Inventory, err = inventory.New(inventory.Config{Store: db, Azure: s.Azure, Box: s.Keys, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if s.Access, err = access.New(access.Config{Store: db, Azure: s.Azure, Box: s.Keys, Inventory: s.Inventory, Logger: log}); err != nil {
		t.Fatal(err)
	}
	return s
}

// Admin is a context acting as a portal admin named alice.
func Admin(ctx context.Context) context.Context {
	return steward.NewContextWithActor(ctx, &steward.Actor{UserID: 1, Name: "alice", Grants: []steward.Grant{{Role: steward.RoleAdmin}}})
}

// Principal returns the seeded service principal of a tenant whose name
// contains part (e.g. "tag", "reader").
func Principal(t testing.TB, e *emulator.Emulator, tenant, part string) (steward.ConnectionTenant, steward.ConnectionPrincipal) {
	t.Helper()
	ct, ok := e.Connection().Tenant(tenant)
	if !ok {
		t.Fatalf("no tenant %s in the emulator", tenant)
	}
	for _, p := range ct.ServicePrincipals {
		if strings.Contains(p.Name, part) {
			return *ct, p
		}
	}
	t.Fatalf("no service principal %q in %s", part, tenant)
	return *ct, steward.ConnectionPrincipal{}
}

// Identity is a seeded principal as an Azure identity.
func Identity(tenantID string, p steward.ConnectionPrincipal) steward.AzureIdentity {
	return steward.AzureIdentity{TenantID: tenantID, ClientID: p.ClientID, Secret: steward.Secret(p.ClientSecret)}
}

// Credential is a seeded principal as a person would enter it.
func Credential(p steward.ConnectionPrincipal) steward.CredentialInput {
	return steward.CredentialInput{ClientID: p.ClientID, Secret: steward.Secret(p.ClientSecret), ExpiresAt: time.Now().AddDate(1, 0, 0)}
}

// Consent plays the customer's admin at the emulator's sign-in and consent
// pages: it opens authorizeURL, signs in as the user with that UPN, accepts
// (or declines), and returns the query of the redirect back to Steward
// (code and state, or error and error_description).
func Consent(t testing.TB, e *emulator.Emulator, authorizeURL, upn string, accept bool) url.Values {
	t.Helper()
	return ConsentWith(t, e.Connection(), authorizeURL, upn, accept)
}

// ConsentWith is Consent for an emulator known by its connection file.
func ConsentWith(tb testing.TB, cf *steward.ConnectionFile, authorizeURL, upn string, accept bool) url.Values {
	tb.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(cf.CACertPEM))
	c := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	var user steward.ConnectionUser
	for _, ct := range cf.Tenants {
		for _, u := range ct.Users {
			if strings.EqualFold(u.UserPrincipalName, upn) {
				user = u
			}
		}
	}
	if user.ObjectID == "" {
		tb.Fatalf("no emulator user %s", upn)
	}
	resp, err := c.Get(authorizeURL)
	if err != nil {
		tb.Fatal(err)
	}
	page := readBody(tb, resp)
	flow := hiddenValue(page, "flow")
	if flow == "" {
		tb.Fatalf("the sign-in page has no flow: %.500s", page)
	}
	post := func(v url.Values) *http.Response {
		resp, err := c.PostForm(authorizeURL, v)
		if err != nil {
			tb.Fatal(err)
		}
		return resp
	}
	resp = post(url.Values{"flow": {flow}, "action": {"signin"}, "user": {user.ObjectID}, "password": {user.Password}})
	if resp.StatusCode == http.StatusOK {
		readBody(tb, resp)
		answer := "no"
		if accept {
			answer = "yes"
		}
		resp = post(url.Values{"flow": {flow}, "action": {"consent"}, "accept": {answer}})
	}
	defer resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		tb.Fatalf("no redirect back to Steward (status %d): %.500s", resp.StatusCode, readBody(tb, resp))
	}
	return loc.Query()
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hiddenValue finds <input type="hidden" name="NAME" value="…"> in a page.
func hiddenValue(page, name string) string {
	_, rest, ok := strings.Cut(page, `name="`+name+`" value="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return html.UnescapeString(v)
}

// GraphDelete sends DELETE to a Microsoft Graph path on the emulator as a
// seeded app, with a token from azidentity, and expects 204.
func GraphDelete(t testing.TB, e *emulator.Emulator, tenantID string, p steward.ConnectionPrincipal, path string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CACertPEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL() + "/"}, Transport: hc}
	cred, err := azidentity.NewClientSecretCredential(tenantID, p.ClientID, p.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d %s", path, resp.StatusCode, readBody(t, resp))
	}
}
