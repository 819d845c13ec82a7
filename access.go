package steward

import (
	"context"
	"time"
)

// ValidationReport is what a credential check found, per subscription.
type ValidationReport struct {
	CheckedAt     time.Time                `json:"checkedAt"`
	Identities    []IdentityCheck          `json:"identities"`
	Subscriptions []SubscriptionValidation `json:"subscriptions"`
}

// IdentityCheck is whether one credential could sign in.
type IdentityCheck struct {
	Purpose   CredentialPurpose `json:"purpose"`
	ClientID  string            `json:"clientId"`
	OK        bool              `json:"ok"`
	Problem   string            `json:"problem,omitempty"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
}

// Validation verdicts for a subscription.
const (
	VerdictFine    = "fine"    // exactly what the level needs
	VerdictMissing = "missing" // something the level needs is not granted
	VerdictBroader = "broader" // more than the level needs is granted
)

// SubscriptionValidation compares what an identity may do in a
// subscription with what its sync level needs.
type SubscriptionValidation struct {
	SubscriptionID string            `json:"subscriptionId"`
	DisplayName    string            `json:"displayName"`
	SyncLevel      SyncLevel         `json:"syncLevel"`
	Purpose        CredentialPurpose `json:"purpose"`
	Verdict        string            `json:"verdict"`
	Missing        []MissingAction   `json:"missing,omitempty"`
	Broader        []string          `json:"broader,omitempty"` // what is granted beyond the need, in words
	Roles          []string          `json:"roles,omitempty"`   // the roles assigned to the identity there
}

// MissingAction is one permission a level needs and the identity lacks.
type MissingAction struct {
	Action string `json:"action"`
	Role   string `json:"role"` // the narrowest built-in role that grants it
}

// ConsentSession is an admin's consent in progress: the subscriptions the
// consenting user can see and whether they own each. The user's token stays
// in the server's memory, never in the database, and is dropped when the
// session completes or expires.
type ConsentSession struct {
	ID            string
	TenantID      string
	UserName      string
	ExpiresAt     time.Time
	Subscriptions []ConsentSubscription
	Purpose       string // "connect" or "revoke"
}

// ConsentSubscription is a subscription the consenting user sees.
type ConsentSubscription struct {
	ID          string
	DisplayName string
	Owner       bool   // the user may assign roles there
	Reason      string // why not, when not Owner
	Connected   bool   // Steward already has its roles there
}

// ConsentResult is what completing a consent did to one subscription.
type ConsentResult struct {
	SubscriptionID string
	Roles          []string // roles assigned (or removed, for revocation)
	Error          string
}

// ServicePrincipalInput connects a tenant with a customer's own app
// registration: one credential for reading and writing, or two.
type ServicePrincipalInput struct {
	TenantID string
	Name     string
	Read     CredentialInput
	Write    *CredentialInput // nil: the read credential also writes
}

// CredentialInput is a credential as a person enters it.
type CredentialInput struct {
	ClientID    string
	Secret      Secret
	Certificate Secret // PEM certificate and private key, instead of a secret
	ExpiresAt   time.Time
}

// RevocationMethod is one of the three ways to take Steward's access away.
type RevocationMethod string

// The ways to revoke.
const (
	RevokeWriteOff RevocationMethod = "write-off"       // turn write access off in Steward
	RevokeRoles    RevocationMethod = "remove-roles"    // remove Steward's role assignments
	RevokeIdentity RevocationMethod = "delete-identity" // delete the service principal or app
)

// RevocationProof is what Steward found when it checked that its access is
// gone.
type RevocationProof struct {
	CheckedAt time.Time `json:"checkedAt"`
	Verified  bool      `json:"verified"`
	Findings  []string  `json:"findings"` // what each check showed
}

// Alert is a critical event people are told about by email and webhook.
type Alert struct {
	Time     time.Time         `json:"time"`
	Kind     string            `json:"kind"` // e.g. write_access_enabled, credential_expiring
	Severity string            `json:"severity"`
	TenantID string            `json:"tenantId,omitempty"`
	Subject  string            `json:"subject"`
	Text     string            `json:"text"`
	Details  map[string]string `json:"details,omitempty"`
}

// Notifier sends alerts. Failures are returned, and logged by callers, but
// never undo the action that raised the alert.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// ReviewReport is a tenant's security review.
type ReviewReport struct {
	Tenant          *Tenant
	GeneratedAt     time.Time
	From, To        time.Time
	Credentials     []*Credential
	Validation      *ValidationReport
	StewardWrites   []CallerCount // tag writes by Steward user, from the audit log
	AzureWrites     []CallerCount // writes by Azure caller, from the activity log
	Permission      []string      // permission changes in the period (audit)
	Recommendations []string
}

// CallerCount is how many writes one caller made.
type CallerCount struct {
	Caller string
	Writes int
}

// AccessService connects tenants and keeps Steward's access under control.
type AccessService interface {
	// ConsentStart begins admin consent and returns the URL to send the
	// admin to. purpose is "connect" or "revoke".
	ConsentStart(ctx context.Context, tenantHint, purpose, redirectURI string) (string, error)
	// ConsentCallback handles the answer. A declined or failed consent is
	// audited and leaves nothing behind. EINVALID (unknown state),
	// EFORBIDDEN (declined).
	ConsentCallback(ctx context.Context, state, code, errCode, errDescription string) (*ConsentSession, error)
	// ConsentSession returns a consent in progress. ENOTFOUND (expired).
	ConsentSession(ctx context.Context, id string) (*ConsentSession, error)
	// ConsentComplete assigns Steward's roles on the chosen subscriptions
	// (or removes them, for revocation) as the consenting user, records the
	// tenant, drops the token and starts a sync. Each assignment is audited
	// with the consenting user as actor.
	ConsentComplete(ctx context.Context, sessionID, tenantName string, subscriptionIDs []string) (*Tenant, []ConsentResult, error)

	// InvitationCreate makes a consent link for one customer and returns
	// it with its token, which is shown this once and never stored. It
	// needs tenants.manage on the tenant named by ID, or on every tenant
	// when none is. EINVALID, EFORBIDDEN.
	InvitationCreate(ctx context.Context, in InvitationInput) (*Invitation, string, error)
	// Invitations lists the invitations the caller may manage, newest
	// first.
	Invitations(ctx context.Context) ([]*Invitation, error)
	// Invitation returns one of them. ENOTFOUND.
	Invitation(ctx context.Context, id int64) (*Invitation, error)
	// InvitationRevoke makes an invitation's link useless at once.
	// Audited. ENOTFOUND, ECONFLICT (already used or revoked).
	InvitationRevoke(ctx context.Context, id int64) (*Invitation, error)
	// InvitationOpen is the link's holder opening it: it returns the
	// invitation when it may still be used, and marks it opened. Refusals
	// are audited. ENOTFOUND (no such link), ECONFLICT (used, expired or
	// revoked).
	InvitationOpen(ctx context.Context, req InvitationRequest) (*Invitation, error)
	// InvitationConsentStart begins admin consent for the link's holder and
	// returns the URL to send them to; the answer comes back to
	// redirectURI, with the browser's req.Binding. As InvitationOpen.
	InvitationConsentStart(ctx context.Context, req InvitationRequest, redirectURI string) (string, error)
	// InvitationConsent reports whether state is that of a consent begun
	// through an invitation, so its answer needs no Steward session.
	InvitationConsent(state string) bool
	// InvitationConsentCallback handles the admin's answer to a consent
	// begun through an invitation: the invitation is bound to the tenant
	// the admin consented in (it must be the one named, and the
	// invitation bound to no other). EINVALID (unknown state), EFORBIDDEN
	// (declined, another browser, another tenant), ECONFLICT.
	InvitationConsentCallback(ctx context.Context, req InvitationRequest, state, code, errCode, errDescription string) (*ConsentSession, error)
	// InvitationConsentComplete assigns Steward's roles on the chosen
	// subscriptions as the consenting admin, connects the tenant under the
	// invitation's customer name and uses the invitation up, once.
	// ENOTFOUND (session expired), EINVALID, EFORBIDDEN, ECONFLICT.
	InvitationConsentComplete(ctx context.Context, req InvitationRequest, sessionID string, subscriptionIDs []string) (*Tenant, []ConsentResult, error)

	// ConnectServicePrincipal checks and stores a customer's app
	// credentials (sealed), validates them and starts a sync. EINVALID,
	// EUNAUTHORIZED (the credential does not work), ECONFLICT (connected).
	ConnectServicePrincipal(ctx context.Context, in ServicePrincipalInput) (*Tenant, *ValidationReport, error)
	// ConnectLighthouse connects the partner's own (managing) tenant,
	// where Steward's app is registered: Steward then works, with its app
	// identity, in the customer subscriptions delegated to that tenant
	// through Azure Lighthouse. EINVALID, EUNAUTHORIZED, ECONFLICT,
	// EUNPROCESSABLE (nothing is delegated yet).
	ConnectLighthouse(ctx context.Context, managingTenantID, name string) (*Tenant, *ValidationReport, error)
	// Validate checks every credential of a tenant and compares each
	// subscription's effective permissions with its sync level's needs.
	Validate(ctx context.Context, tenantID string) (*ValidationReport, error)
	// SetWriteAccess turns writing on or off for a tenant, at once. Off holds
	// pending edits; on releases them. Audited and alerted.
	SetWriteAccess(ctx context.Context, tenantID string, on bool) (*Tenant, error)
	// RotateCredential replaces a credential with overlap: add the new
	// secret (through Graph when Steward may, else the one given), validate
	// it, switch, retire the old one. EUNPROCESSABLE when the new one does
	// not work (the old stays active).
	RotateCredential(ctx context.Context, credentialID int64, replacement *CredentialInput) (*Credential, error)
	// Revoke takes access away one of three ways; for roles and identity it
	// then checks, with Steward's own tokens, that the access is gone.
	Revoke(ctx context.Context, tenantID string, method RevocationMethod) (*RevocationProof, error)
	// RevocationCommands are the exact commands a customer runs to remove
	// Steward's access themselves.
	RevocationCommands(ctx context.Context, tenantID string, method RevocationMethod) ([]string, error)
	// SetPartnerID links (or with "" unlinks) the partner's MPN ID to the
	// tenant's Steward identities. Audited.
	SetPartnerID(ctx context.Context, tenantID, partnerID string) (*Tenant, error)
	// LeastPrivilegeRole returns the custom role definition (JSON) that
	// grants exactly what the tenant's enabled features need, or for a
	// Lighthouse tenant the narrowest built-in roles.
	LeastPrivilegeRole(ctx context.Context, tenantID string) ([]byte, []string, error)
	// Review builds a tenant's security review over a period.
	Review(ctx context.Context, tenantID string, from, to time.Time) (*ReviewReport, error)
	// CheckExpiry warns about credentials expiring in 30, 14, 7 and 1 days
	// (once per threshold) and returns how many warnings it sent.
	CheckExpiry(ctx context.Context) (int, error)
	// Remind sends the periodic review reminders that are due: each
	// tenant's write activity monthly, its permissions quarterly, and
	// rotation of credentials older than a year. It returns how many.
	Remind(ctx context.Context) (int, error)

	// The reads below see only the tenants the caller may read
	// (inventory.read; audit.read for the audit log): anything else is
	// ENOTFOUND, or absent from a list. Each refuses a call without an
	// actor (EUNAUTHORIZED).

	// Tenants lists connected tenants by name.
	Tenants(ctx context.Context) ([]*Tenant, error)
	// FindTenants lists the connected tenants that match f, by name.
	FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, error)
	// Tenant returns one tenant. ENOTFOUND.
	Tenant(ctx context.Context, id string) (*Tenant, error)
	// Credentials returns a tenant's credentials (sealed secrets are
	// never opened), newest first. ENOTFOUND (tenant).
	Credentials(ctx context.Context, tenantID string) ([]*Credential, error)
	// Credential returns one credential. ENOTFOUND.
	Credential(ctx context.Context, id int64) (*Credential, error)
	// AuditEvents lists audit events matching f, newest first, and the
	// cursor of the next page; events of no tenant only for callers who
	// may read every tenant's. EINVALID.
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, string, error)
	// VerifyAudit checks the whole chain. EFORBIDDEN without audit.read.
	VerifyAudit(ctx context.Context) (*AuditVerification, error)
}
