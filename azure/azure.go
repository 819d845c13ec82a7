package azure

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stewardhq/steward"
)

var _ steward.Azure = (*Connector)(nil)

// moduleName and moduleVersion identify the connector in azcore's
// telemetry (the User-Agent header).
const (
	moduleName    = "github.com/stewardhq/steward/azure"
	moduleVersion = "v1.0.0"
)

// Known clouds for Config.Cloud.
const (
	CloudPublic = "public"
	CloudUSGov  = "usgov"
	CloudChina  = "china"
)

// Config configures a Connector.
type Config struct {
	// Cloud is "public", "usgov", "china" or the path of an emulator
	// connection file. Defaults to "public".
	Cloud string
	// App is Steward's own multi-tenant app registration, used for
	// AppIdentity and the consent flow. Defaults to the connection file's
	// app when Cloud is an emulator and App is empty.
	App AppConfig
	// Logger receives throttling notices and warnings. Defaults to a logger
	// that discards everything.
	Logger *slog.Logger
	// HTTPClient sends every request (Entra ID, Resource Manager, Graph).
	// Defaults to a client with HTTP/2 that trusts the system roots, plus
	// the emulator's CA when Cloud is an emulator.
	HTTPClient *http.Client
	// Observer, when set, is told of every HTTP exchange with Azure (its
	// service, status and the remaining quota it reported), for the
	// metrics. Defaults to none.
	Observer steward.AzureObserver
	// PageSize is the page size ($top) of resource listings, through
	// Resource Manager and Resource Graph. Defaults to 1000, the most
	// either returns.
	PageSize int
}

// AppConfig is Steward's multi-tenant app.
type AppConfig struct {
	ClientID string
	Secret   steward.Secret
}

// WithDefaults returns a copy of c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.Cloud == "" {
		c.Cloud = CloudPublic
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	return c
}

func (c Config) validate() error {
	if c.PageSize < 1 || c.PageSize > 1000 {
		return steward.Errorf(steward.EINVALID, "The Azure page size must be between 1 and 1000, not %d.", c.PageSize)
	}
	return nil
}

// Connector implements steward.Azure. It is safe for concurrent use.
type Connector struct {
	cfg       Config
	log       *slog.Logger
	http      *http.Client
	ownHTTP   *http.Transport // closed by Close when the connector made it
	cloud     cloud.Configuration
	emulator  bool
	authority string // Entra ID authority host, ending in "/"
	armURL    string // Resource Manager endpoint, without a trailing "/"
	armScope  string // Resource Manager scope for tokens
	userScope string // the delegated permission asked at consent
	graphURL  string // Graph endpoint including the version, e.g. https://graph.microsoft.com/v1.0
	graphAud  string // Graph audience, e.g. https://graph.microsoft.com

	mu     sync.Mutex
	idents map[string]*identity
}

// identity is a cached credential with the clients built on it, so tokens
// and the throttling budget are shared by every call of one principal.
type identity struct {
	cred   azcore.TokenCredential
	budget *budget
	opts   *arm.ClientOptions
	arm    *arm.Client
	graph  runtime.Pipeline
}

// maxIdentities bounds the credential cache; wrong secrets tried over and
// over must not grow it without end.
const maxIdentities = 1000

// New returns a Connector for cfg.Cloud.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.WithDefaults()
	switch strings.ToLower(cfg.Cloud) {
	case CloudPublic, "azurepublic", "azurecloud":
		return newConnector(cfg, cloud.AzurePublic, "https://graph.microsoft.com", nil)
	case CloudUSGov, "azuregovernment", "azureusgovernment":
		return newConnector(cfg, cloud.AzureGovernment, "https://graph.microsoft.us", nil)
	case CloudChina, "azurechina", "azurechinacloud":
		return newConnector(cfg, cloud.AzureChina, "https://microsoftgraph.chinacloudapi.cn", nil)
	}
	cf, err := steward.ReadConnectionFile(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	return NewFromConnection(cf, cfg)
}

// NewFromConnection returns a Connector for an emulator described by cf,
// such as emulator.Emulator.Connection() in a test. cfg.Cloud is ignored.
func NewFromConnection(cf *steward.ConnectionFile, cfg Config) (*Connector, error) {
	cfg = cfg.WithDefaults()
	u := strings.TrimSuffix(cf.URL, "/")
	if !strings.HasPrefix(u, "https://") {
		return nil, steward.Errorf(steward.EINVALID, "The emulator URL %q must be https (azidentity refuses anything else).", cf.URL)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(cf.CACertPEM)) {
		return nil, steward.Errorf(steward.EINVALID, "The emulator connection file holds no usable CA certificate.")
	}
	if cfg.App.ClientID == "" && cf.App.ClientID != "" {
		cfg.App = AppConfig{ClientID: cf.App.ClientID, Secret: steward.Secret(cf.App.ClientSecret)}
	}
	cc := cloud.Configuration{
		ActiveDirectoryAuthorityHost: u + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: u, Audience: u},
		},
	}
	graphAud := "https://graph.microsoft.com"
	if cf.GraphAudience != "" {
		graphAud = cf.GraphAudience
	}
	return newConnector(cfg, cc, graphAud, &emulatorInfo{pool: pool, graphURL: u + "/v1.0"})
}

type emulatorInfo struct {
	pool     *x509.CertPool
	graphURL string
}

func newConnector(cfg Config, cc cloud.Configuration, graphAud string, emu *emulatorInfo) (*Connector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rm := cc.Services[cloud.ResourceManager]
	c := &Connector{
		cfg:       cfg,
		log:       cfg.Logger,
		cloud:     cc,
		emulator:  emu != nil,
		authority: strings.TrimSuffix(cc.ActiveDirectoryAuthorityHost, "/") + "/",
		armURL:    strings.TrimSuffix(rm.Endpoint, "/"),
		armScope:  rm.Audience + "/.default",
		userScope: strings.TrimSuffix(rm.Audience, "/") + "/user_impersonation",
		graphURL:  graphAud + "/v1.0",
		graphAud:  graphAud,
		idents:    map[string]*identity{},
	}
	if emu != nil {
		c.graphURL = emu.graphURL
	}
	c.http = cfg.HTTPClient
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ForceAttemptHTTP2 = true // armauthorization sends $filter unescaped; only HTTP/2 carries it
		if emu != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: emu.pool, MinVersion: tls.VersionTLS12}
		}
		c.ownHTTP = t
		c.http = &http.Client{Transport: t}
	}
	if cfg.Observer != nil {
		c.http = c.observeHTTP(c.http, cfg.Observer)
	}
	return c, nil
}

// Close releases idle connections of the connector's own HTTP client.
func (c *Connector) Close() {
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
}

// AppIdentity is Steward's own multi-tenant app in a tenant.
func (c *Connector) AppIdentity(tenantID string) steward.AzureIdentity {
	return steward.AzureIdentity{TenantID: tenantID, ClientID: c.cfg.App.ClientID, Secret: c.cfg.App.Secret}
}

// clientOptions are azcore's options shared by every client of a budget.
func (c *Connector) clientOptions(b *budget) policy.ClientOptions {
	return policy.ClientOptions{
		Cloud:     c.cloud,
		Transport: c.http,
		Retry: policy.RetryOptions{
			MaxRetries:    8,
			RetryDelay:    400 * time.Millisecond,
			MaxRetryDelay: 60 * time.Second, // a longer Retry-After is the patience policy's
			StatusCodes: []int{
				http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
				http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
			},
		},
		Telemetry:        policy.TelemetryOptions{ApplicationID: "steward"},
		PerCallPolicies:  []policy.Policy{&patience{b: b}},
		PerRetryPolicies: []policy.Policy{b},
	}
}

// armOptions are the options of Resource Manager clients of a budget.
func (c *Connector) armOptions(b *budget) *arm.ClientOptions {
	// Steward never registers resource providers: it has no right to.
	return &arm.ClientOptions{ClientOptions: c.clientOptions(b), DisableRPRegistration: true}
}

// identity returns the cached credential and clients for id, creating them
// on first use. Entries are keyed by tenant, client and a hash of the
// secret, so a rotated secret gets a fresh credential.
func (c *Connector) identity(id steward.AzureIdentity) (*identity, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", strings.ToLower(id.TenantID), strings.ToLower(id.ClientID), id.Secret.Reveal(), id.Certificate.Reveal())
	key := hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	defer c.mu.Unlock()
	if ent := c.idents[key]; ent != nil {
		return ent, nil
	}
	cred, err := c.credential(id)
	if err != nil {
		return nil, err
	}
	ent, err := c.newIdentity(cred)
	if err != nil {
		return nil, err
	}
	if len(c.idents) >= maxIdentities {
		clear(c.idents)
	}
	c.idents[key] = ent
	return ent, nil
}

// credential builds an azidentity credential for id, with its own token
// cache.
func (c *Connector) credential(id steward.AzureIdentity) (azcore.TokenCredential, error) {
	if id.TenantID == "" || id.ClientID == "" {
		return nil, steward.Errorf(steward.EINVALID, "An Azure identity needs a tenant ID and a client ID.")
	}
	if (id.Secret == "") == (id.Certificate == "") {
		return nil, steward.Errorf(steward.EINVALID, "An Azure identity needs exactly one of a client secret and a certificate.")
	}
	copts := azcore.ClientOptions{Cloud: c.cloud, Transport: c.http}
	var cred azcore.TokenCredential
	var err error
	if id.Secret != "" {
		cred, err = azidentity.NewClientSecretCredential(id.TenantID, id.ClientID, id.Secret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: c.emulator})
	} else {
		certs, pk, perr := azidentity.ParseCertificates([]byte(id.Certificate.Reveal()), nil)
		if perr != nil {
			return nil, steward.Errorf(steward.EINVALID, "The certificate of client %s is not a PEM certificate with its private key.", id.ClientID)
		}
		cred, err = azidentity.NewClientCertificateCredential(id.TenantID, id.ClientID, certs, pk,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: c.emulator, SendCertificateChain: true})
	}
	if err != nil {
		// azidentity checks the tenant ID's characters and, for a
		// certificate, that the key is RSA.
		if id.Certificate != "" && strings.Contains(err.Error(), "RSA") {
			return nil, steward.WrapError(steward.EINVALID, err, "The certificate of client %s must come with an RSA private key.", id.ClientID)
		}
		return nil, steward.WrapError(steward.EINVALID, err, "Cannot use client %s in tenant %q: the tenant must be a GUID or a domain name.", id.ClientID, id.TenantID)
	}
	return cred, nil
}

// newIdentity builds the budget and clients of a credential.
func (c *Connector) newIdentity(cred azcore.TokenCredential) (*identity, error) {
	b := newBudget(c.log)
	ent := &identity{cred: cred, budget: b, opts: c.armOptions(b)}
	var err error
	if ent.arm, err = arm.NewClient(moduleName, moduleVersion, cred, ent.opts); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot build the Resource Manager client.")
	}
	gopts := c.clientOptions(b)
	ent.graph = runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{c.graphAud + "/.default"}, nil)},
	}, &gopts)
	return ent, nil
}

// token gets a Resource Manager token for id.
func (c *Connector) token(ctx context.Context, id steward.AzureIdentity) (azcore.AccessToken, error) {
	ent, err := c.identity(id)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	tok, err := ent.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.armScope}})
	if err != nil {
		return azcore.AccessToken{}, azError(err, "signing in as client "+id.ClientID)
	}
	return tok, nil
}

// CheckIdentity gets a token for Resource Manager, proving the credential
// works now: it asks Entra afresh, never a cached token, so a secret that
// was removed or has expired fails here at once. EUNAUTHORIZED, EINVALID,
// EUNAVAILABLE.
func (c *Connector) CheckIdentity(ctx context.Context, id steward.AzureIdentity) error {
	cred, err := c.credential(id)
	if err != nil {
		return err
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.armScope}}); err != nil {
		return azError(err, "signing in as client "+id.ClientID)
	}
	return nil
}

// PrincipalID returns the object ID of the identity's service principal in
// its tenant: the oid claim of its Resource Manager token. ENOTFOUND when
// the app has no service principal there (no admin consented yet),
// EUNAUTHORIZED.
func (c *Connector) PrincipalID(ctx context.Context, id steward.AzureIdentity) (string, error) {
	tok, err := c.token(ctx, id)
	if err != nil {
		if aadsts(err) == 700016 {
			return "", steward.WrapError(steward.ENOTFOUND, err, "The app %s has no service principal in tenant %s: an administrator of that tenant has not consented to it (AADSTS700016).", id.ClientID, id.TenantID)
		}
		return "", err
	}
	cl, err := parseClaims(tok.Token)
	if err != nil || cl.OID == "" {
		return "", steward.Errorf(steward.EUNAVAILABLE, "Entra ID issued a token without an object ID for client %s.", id.ClientID)
	}
	return cl.OID, nil
}
