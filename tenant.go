package steward

import (
	"context"
	"time"
)

// ConnectionKind says how Steward got into a tenant.
type ConnectionKind string

// The ways to connect a tenant.
const (
	// ConnectConsent: an admin of the tenant consented to Steward's
	// multi-tenant app, and Steward assigned its service principal roles
	// on the subscriptions that admin owns.
	ConnectConsent ConnectionKind = "consent"
	// ConnectServicePrincipal: the customer made an app registration and
	// gave Steward its client ID and secret or certificate.
	ConnectServicePrincipal ConnectionKind = "service-principal"
	// ConnectLighthouse: the customer delegated subscriptions to the
	// partner's tenant with Azure Lighthouse; Steward works with the
	// partner tenant's identity.
	ConnectLighthouse ConnectionKind = "lighthouse"
)

// UsesAppIdentity reports whether Steward works in the tenant with its own
// multi-tenant app (consent, and Lighthouse from the partner's tenant)
// rather than with credentials the customer gave it.
func (t *Tenant) UsesAppIdentity() bool {
	return t.Connection == ConnectConsent || t.Connection == ConnectLighthouse
}

// TenantStatus says whether Steward may still use a tenant.
type TenantStatus string

// Tenant statuses.
const (
	TenantActive          TenantStatus = "active"
	TenantRevoked         TenantStatus = "revoked"          // access removed, not yet proven gone
	TenantRevokedVerified TenantStatus = "revoked-verified" // Steward's tokens were shown to grant nothing
)

// SyncMethod says how a tenant's resources are listed.
type SyncMethod string

// Sync methods.
const (
	// SyncAuto lists through Resource Graph when the tenant has many small
	// subscriptions, and per subscription through ARM otherwise.
	SyncAuto SyncMethod = "auto"
	// SyncARM lists each subscription's resources through ARM, in
	// parallel across subscriptions.
	SyncARM SyncMethod = "arm"
	// SyncResourceGraph queries Resource Graph for many subscriptions at
	// once, 1,000 rows a page.
	SyncResourceGraph SyncMethod = "resource-graph"
)

// Tenant is a connected Entra tenant: the credentials Steward uses there and
// the switch that allows writing. For a Lighthouse connection it is the
// partner's own (managing) tenant, which sees the customers' delegated
// subscriptions.
type Tenant struct {
	ID              string // Entra tenant ID, lower case
	Name            string
	Connection      ConnectionKind
	WriteEnabled    bool // off: no tag is written, pending edits are held
	Status          TenantStatus
	StatusDetail    string
	SyncMethod      SyncMethod
	PALPartnerID    string // the partner's MPN ID linked to Steward's identity
	Validation      string // the last validation report, as JSON
	LastValidatedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	RevokedAt       time.Time
}

// TenantFilter selects tenants.
type TenantFilter struct {
	Search string // part of the name or tenant ID, in any case
	// Status, when set, keeps tenants in it: TenantActive, or TenantRevoked
	// for revoked ones whether or not the revocation is verified.
	Status TenantStatus
	// Health, when set, keeps tenants with a subscription in that state.
	Health SyncHealth
	// Limit, when set, pages the list (by name, then ID) from Offset.
	Limit, Offset int
}

// ParseTenantState reads the state filter of tenant lists: a status
// (active, revoked) or a sync health (failed, stale, queued); "" is none.
// EINVALID.
func ParseTenantState(s string) (TenantFilter, error) {
	switch TenantStatus(s) {
	case TenantActive, TenantRevoked:
		return TenantFilter{Status: TenantStatus(s)}, nil
	}
	h, err := ParseSyncHealth(s)
	if err != nil {
		return TenantFilter{}, Errorf(EINVALID, "Unknown tenant state %q; states are active, revoked, failed, stale and queued.", s)
	}
	return TenantFilter{Health: h}, nil
}

// CredentialPurpose says what a credential is used for.
type CredentialPurpose string

// Credential purposes. A tenant with one read credential and no write
// credential uses the read one for both ("same credentials").
const (
	CredentialRead  CredentialPurpose = "read"
	CredentialWrite CredentialPurpose = "write"
)

// CredentialKind says what secret a credential holds.
type CredentialKind string

// Credential kinds.
const (
	CredentialSecret      CredentialKind = "secret"      // a client secret
	CredentialCertificate CredentialKind = "certificate" // a PEM certificate and private key
)

// CredentialStatus is a credential's place in rotation.
type CredentialStatus string

// Credential statuses: a new credential is pending until validated, then
// active; the one it replaces is retired.
const (
	CredentialPending CredentialStatus = "pending"
	CredentialActive  CredentialStatus = "active"
	CredentialRetired CredentialStatus = "retired"
)

// MaxSecretLifetime is the longest lifetime Entra allows a client secret;
// RecommendedSecretLifetime is Microsoft's recommendation.
const (
	MaxSecretLifetime         = 24 * 30 * 24 * time.Hour
	RecommendedSecretLifetime = 12 * 30 * 24 * time.Hour
)

// Credential is an app identity Steward uses in a tenant. The secret is
// sealed (see SecretBox) with associated data "credential:<tenant>/<purpose>/<client>".
type Credential struct {
	ID           int64
	TenantID     string
	Purpose      CredentialPurpose
	ClientID     string
	Kind         CredentialKind
	Sealed       []byte
	KeyVersion   int
	AzureKeyID   string    // the passwordCredential's keyId in Entra, when known
	ExpiresAt    time.Time // zero when unknown
	ExpirySource string    // "graph" or "entered"
	Status       CredentialStatus
	CreatedAt    time.Time
	CreatedBy    string
	RetiredAt    time.Time
	// WarnedDays is the smallest expiry threshold (30, 14, 7, 1 days)
	// already warned about, so each warning goes out once; 0 when none.
	WarnedDays int
}

// AssociatedData is what binds the sealed secret to this credential.
func (c *Credential) AssociatedData() []byte {
	return []byte("credential:" + c.TenantID + "/" + string(c.Purpose) + "/" + c.ClientID)
}

// TenantStore keeps connected tenants and their credentials. Reads take the
// caller's Scope: a tenant outside it is ENOTFOUND.
type TenantStore interface {
	// TenantCreate stores a tenant with its credentials. EINVALID,
	// ECONFLICT when the tenant is already connected.
	TenantCreate(ctx context.Context, t *Tenant, creds []*Credential, ev *AuditEvent) error
	// TenantGet returns a tenant within the scope. ENOTFOUND.
	TenantGet(ctx context.Context, scope Scope, id string) (*Tenant, error)
	// TenantList returns the tenants within the scope, by name.
	TenantList(ctx context.Context, scope Scope) ([]*Tenant, error)
	// TenantFind returns the tenants within the scope that match f, by
	// name, then ID.
	TenantFind(ctx context.Context, scope Scope, f TenantFilter) ([]*Tenant, error)
	// TenantUpdate saves the tenant's mutable fields. ENOTFOUND.
	TenantUpdate(ctx context.Context, t *Tenant, ev *AuditEvent) error
	// CredentialList returns a tenant's credentials, newest first; none
	// when the tenant is outside the scope.
	CredentialList(ctx context.Context, scope Scope, tenantID string) ([]*Credential, error)
	// CredentialGet returns one credential of a tenant within the scope.
	// ENOTFOUND.
	CredentialGet(ctx context.Context, scope Scope, id int64) (*Credential, error)
	// CredentialCreate adds a credential. EINVALID, ENOTFOUND (tenant).
	CredentialCreate(ctx context.Context, c *Credential, ev *AuditEvent) error
	// CredentialUpdate saves status, expiry, sealed blob and key version.
	// ENOTFOUND.
	CredentialUpdate(ctx context.Context, c *Credential, ev *AuditEvent) error
}
