package steward

import (
	"context"
	"strconv"
	"time"
)

// Invitation is a consent link a partner sends one customer: the customer's
// admin opens it with no Steward account, consents to Steward's app in their
// tenant and picks subscriptions, and the tenant is connected. The link
// holds a random token; only its SHA-256 is stored, and the token is shown
// once, to the operator who made it. An invitation connects one tenant,
// once: the tenant it names, or else the first that consents through it.
type Invitation struct {
	ID int64
	// CustomerName is what the operator called the customer; the tenant is
	// connected under this name.
	CustomerName string
	// ExpectedTenant is the tenant ID or domain the operator named, or "":
	// the admin must sign in to that tenant.
	ExpectedTenant string
	// TenantID is the tenant the invitation belongs to: the one named by
	// ID, else the one whose admin consented through it; "" before then.
	// Scopes read invitations by it.
	TenantID    string
	State       InvitationState // as stored; see StateAt
	ConsentedBy string          // the consenting admin's user principal name
	CreatedBy   string
	Hash        string // hex SHA-256 of the link's token; never shown
	CreatedAt   time.Time
	ExpiresAt   time.Time
	OpenedAt    time.Time
	ConsentedAt time.Time
	ConnectedAt time.Time
	RevokedAt   time.Time
}

// InvitationState is where an invitation is.
type InvitationState string

// Invitation states. Expired is never stored: an invitation not yet
// connected or revoked is expired from its ExpiresAt on.
const (
	InvitationPending   InvitationState = "pending"   // made, not yet opened
	InvitationOpened    InvitationState = "opened"    // the link was opened
	InvitationConsented InvitationState = "consented" // an admin consented; subscriptions not yet picked
	InvitationConnected InvitationState = "connected" // the tenant is connected: used up
	InvitationRevoked   InvitationState = "revoked"
	InvitationExpired   InvitationState = "expired"
)

// Invitation lifetimes.
const (
	DefaultInvitationLifetime = 14 * 24 * time.Hour
	MaxInvitationLifetime     = 90 * 24 * time.Hour
)

// InvitationTokenPrefix starts every consent link's token.
const InvitationTokenPrefix = "stwi_"

// StateAt is the invitation's state at t, expiry included.
func (i *Invitation) StateAt(t time.Time) InvitationState {
	if i.Open() && !t.Before(i.ExpiresAt) {
		return InvitationExpired
	}
	return i.State
}

// Open reports whether the invitation is neither used nor revoked (it may
// have expired).
func (i *Invitation) Open() bool {
	return i.State != InvitationConnected && i.State != InvitationRevoked
}

// Actor is who acts when the customer's admin uses the invitation: no
// Steward user, but the invitation itself, named "invitation:ID" in the
// audit log. Once the tenant is known (tenantID not ""), it may manage that
// tenant and no other, which is all that connecting it takes; before, it
// may do nothing.
func (i *Invitation) Actor(tenantID, sourceIP string) *Actor {
	a := &Actor{Name: "invitation:" + strconv.FormatInt(i.ID, 10), SourceIP: sourceIP}
	if tenantID != "" {
		a.Grants = []Grant{{Role: RoleOperator, Tenants: []string{tenantID}}}
	}
	return a
}

// InvitationInput is what an operator asks for.
type InvitationInput struct {
	CustomerName   string
	ExpectedTenant string        // a tenant ID or domain; optional
	ExpiresIn      time.Duration // defaults to DefaultInvitationLifetime; at most MaxInvitationLifetime
}

// InvitationRequest is a request by the holder of a consent link, who has
// no Steward session.
type InvitationRequest struct {
	Token    string // the link's token (to open it and start consent)
	Binding  string // a random value the browser keeps in a cookie from start to finish
	SourceIP string
}

// InvitationStore keeps invitations. Reads on someone's behalf take a
// Scope: an invitation belonging to no tenant yet is reached only by a scope
// over every tenant.
type InvitationStore interface {
	// InvitationCreate stores an invitation and sets its ID. EINVALID,
	// ECONFLICT (the hash exists).
	InvitationCreate(ctx context.Context, inv *Invitation, ev *AuditEvent) error
	// InvitationGet returns an invitation within the scope. ENOTFOUND.
	InvitationGet(ctx context.Context, scope Scope, id int64) (*Invitation, error)
	// InvitationGetByHash returns an invitation by its token's hash: the
	// token is the holder's only credential. ENOTFOUND.
	InvitationGetByHash(ctx context.Context, hash string) (*Invitation, error)
	// InvitationList returns the invitations within the scope, newest first.
	InvitationList(ctx context.Context, scope Scope) ([]*Invitation, error)
	// InvitationUpdate saves inv's state, tenant, consenting admin and
	// times, with ev, provided the stored invitation is still in one of the
	// states from and belongs to no tenant or to inv.TenantID. ENOTFOUND,
	// ECONFLICT when it moved on meanwhile or belongs to another tenant.
	InvitationUpdate(ctx context.Context, inv *Invitation, from []InvitationState, ev *AuditEvent) error
}
