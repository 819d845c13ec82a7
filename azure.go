package steward

import (
	"context"
	"iter"
	"time"
)

// AzureIdentity is an app identity Steward signs in with: Steward's own
// multi-tenant app in a consenting tenant, or a customer's app registration.
// Exactly one of Secret and Certificate is set.
type AzureIdentity struct {
	TenantID    string
	ClientID    string
	Secret      Secret // client secret
	Certificate Secret // PEM: certificate and private key
}

// AzureSubscription is a subscription as Azure lists it to an identity.
type AzureSubscription struct {
	ID               string
	DisplayName      string
	State            string
	HomeTenantID     string   // the owning tenant (tenantId in the REST shape)
	ManagedByTenants []string // managing tenants of Lighthouse delegations
	Tags             map[string]string
}

// AzurePermissions are an identity's effective permissions at a scope, as
// Microsoft.Authorization/permissions returns them.
type AzurePermissions []RolePermission

// Allows reports whether the permissions grant the action.
func (p AzurePermissions) Allows(action string) bool {
	for _, b := range p {
		if b.Allows(action) {
			return true
		}
	}
	return false
}

// AzureRoleAssignment is a role assignment at or above a scope.
type AzureRoleAssignment struct {
	ID               string // full ARM ID
	Scope            string
	RoleDefinitionID string // GUID
	PrincipalID      string
	PrincipalType    string
}

// AzureActivity is one write in a subscription's activity log.
type AzureActivity struct {
	Time          time.Time
	Caller        string // UPN or app ID of whoever made the change
	Operation     string // e.g. Microsoft.Resources/tags/write
	ResourceID    string
	Status        string // Succeeded, Failed, …
	CorrelationID string
}

// AzureRegistration is a Lighthouse registration assignment seen from the
// customer's subscription.
type AzureRegistration struct {
	ID                string
	DefinitionID      string
	Scope             string
	ManagedByTenantID string
	OfferName         string
	Authorizations    []LighthouseAuthorization
}

// AzurePartner is a Partner Admin Link record of the calling identity.
type AzurePartner struct {
	PartnerID   string
	PartnerName string
	TenantID    string
	ObjectID    string
	State       string
	UpdatedAt   time.Time
}

// AzureAppSecret is a client secret of an app registration as Graph shows
// it (without its value, which Graph returns only when it is created).
type AzureAppSecret struct {
	KeyID       string
	DisplayName string
	Hint        string // the first characters, as Entra shows them
	StartsAt    time.Time
	ExpiresAt   time.Time
}

// DelegatedToken is a user's access token from admin consent. It is held in
// memory for at most its lifetime, never stored and never refreshed.
type DelegatedToken struct {
	TenantID  string
	UserID    string // object ID of the consenting user
	UserName  string // their UPN
	Token     Secret
	ExpiresAt time.Time
}

// ConsentRequest starts admin consent for Steward's app.
type ConsentRequest struct {
	TenantID    string // "organizations" when the customer's tenant is not known yet
	RedirectURI string
	State       string // ties the answer to this request
}

// Azure is everything Steward asks of Azure, through the official SDK (and
// thin clients on azcore's pipeline where no SDK module exists). The cloud
// (public, a sovereign cloud or the emulator) is configuration. Calls honour
// Azure's throttling: they slow down as the remaining-request headers fall,
// and a 429 waits for Retry-After instead of failing. Errors carry codes:
// EUNAUTHORIZED (bad or expired credential), EFORBIDDEN (the identity lacks
// the permission; the message names the action), ENOTFOUND, EINVALID (Azure
// refused the input; the message is Azure's), EUNAVAILABLE (Azure failed).
type Azure interface {
	// CheckIdentity gets a token for Resource Manager, proving the
	// credential works.
	CheckIdentity(ctx context.Context, id AzureIdentity) error
	// Subscriptions lists the subscriptions the identity can see,
	// Lighthouse-delegated ones included.
	Subscriptions(ctx context.Context, id AzureIdentity) ([]*AzureSubscription, error)
	// ResourceGroups lists a subscription's resource groups with tags.
	ResourceGroups(ctx context.Context, id AzureIdentity, subscriptionID string) ([]*ResourceGroup, error)
	// Resources lists a subscription's resources through ARM page by page,
	// from resume (a nextLink from an earlier page) or from the start.
	Resources(ctx context.Context, id AzureIdentity, subscriptionID, resume string) ResourcePages
	// ResourcesGraph lists the resources of many subscriptions through
	// Resource Graph, 1,000 a page, from resume (a $skipToken) or the start.
	ResourcesGraph(ctx context.Context, id AzureIdentity, subscriptionIDs []string, resume string) ResourcePages
	// TagsGet returns the tags at a scope (resource, group or subscription).
	TagsGet(ctx context.Context, id AzureIdentity, scope string) (map[string]string, error)
	// TagsMerge sets tags at a scope with the Tags API (PATCH Merge) and
	// returns the scope's tags afterwards.
	TagsMerge(ctx context.Context, id AzureIdentity, scope string, tags map[string]string) (map[string]string, error)
	// TagsDelete removes tags at a scope while they hold the values given
	// (PATCH Delete with name and value: Azure deletes a name only while
	// its value matches) and returns the scope's tags afterwards.
	TagsDelete(ctx context.Context, id AzureIdentity, scope string, tags map[string]string) (map[string]string, error)
	// Permissions returns the identity's effective permissions at a scope.
	Permissions(ctx context.Context, id AzureIdentity, scope string) (AzurePermissions, error)
	// RoleAssignments lists assignments at or above a scope, for one
	// principal when principalID is set.
	RoleAssignments(ctx context.Context, id AzureIdentity, scope, principalID string) ([]*AzureRoleAssignment, error)
	// Costs streams daily costs per resource and service of a subscription
	// over [from, to), respecting Cost Management's quotas.
	Costs(ctx context.Context, id AzureIdentity, subscriptionID string, from, to time.Time) iter.Seq2[*CostRow, error]
	// Activity lists a subscription's write operations since a time.
	Activity(ctx context.Context, id AzureIdentity, subscriptionID string, since time.Time) ([]*AzureActivity, error)
	// Registrations lists the Lighthouse registration assignments on a
	// subscription.
	Registrations(ctx context.Context, id AzureIdentity, subscriptionID string) ([]*AzureRegistration, error)

	// PartnerGet returns the identity's Partner Admin Link. ENOTFOUND.
	PartnerGet(ctx context.Context, id AzureIdentity) (*AzurePartner, error)
	// PartnerSet links the identity to an MPN ID (creating or changing it).
	PartnerSet(ctx context.Context, id AzureIdentity, partnerID string) (*AzurePartner, error)
	// PartnerDelete removes the link.
	PartnerDelete(ctx context.Context, id AzureIdentity, partnerID string) error

	// AppSecrets lists the client secrets of the identity's own app
	// registration (Graph), when the identity may read it.
	AppSecrets(ctx context.Context, id AzureIdentity) ([]*AzureAppSecret, error)
	// AppSecretAdd adds a client secret to the identity's app and returns it
	// with its value, which Graph shows only now.
	AppSecretAdd(ctx context.Context, id AzureIdentity, displayName string, expires time.Time) (*AzureAppSecret, Secret, error)
	// AppSecretRemove removes a client secret by key ID.
	AppSecretRemove(ctx context.Context, id AzureIdentity, keyID string) error

	// ConsentURL is where to send a customer's admin to consent to Steward's
	// app and sign in (authorization code flow).
	ConsentURL(req ConsentRequest) (string, error)
	// ConsentExchange swaps the authorization code for the consenting
	// user's delegated Resource Manager token. It asks for no refresh token.
	ConsentExchange(ctx context.Context, tenantID, code, redirectURI string) (*DelegatedToken, error)
	// DelegatedSubscriptions lists the subscriptions the user can see, and
	// whether the user is Owner (may assign roles) on each.
	DelegatedSubscriptions(ctx context.Context, tok *DelegatedToken) ([]*AzureSubscription, map[string]bool, error)
	// DelegatedAssignRole assigns a role to a principal at a scope as the
	// consenting user, and returns the assignment (an existing identical
	// assignment counts as success).
	DelegatedAssignRole(ctx context.Context, tok *DelegatedToken, scope, roleDefinitionID, principalID string) (*AzureRoleAssignment, error)
	// DelegatedRemoveRole deletes a role assignment as the user.
	DelegatedRemoveRole(ctx context.Context, tok *DelegatedToken, assignmentID string) error
	// PrincipalID returns the object ID of the identity's service principal
	// in its tenant (the oid claim of its token): for Steward's own app, it
	// exists once an admin consented. EUNAUTHORIZED, ENOTFOUND.
	PrincipalID(ctx context.Context, id AzureIdentity) (string, error)
	// AppIdentity is Steward's own multi-tenant app in a tenant.
	AppIdentity(tenantID string) AzureIdentity
}
