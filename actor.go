package steward

import (
	"context"
	"slices"
	"strings"
)

// Actor is whoever makes a request: a signed-in user, a user's API token, or
// Steward itself (jobs). Access checks go through Can and Scope only.
type Actor struct {
	UserID   int64
	Name     string // user name, or "system" for Steward's own jobs
	Grants   []Grant
	Auth     AuthMethod // how the actor proved who it is
	TokenID  int64      // set when the request came with an API token
	SourceIP string     // the client address, for audit events
	system   bool
}

// AuthMethod is how an actor proved who it is. Some actions need a person
// who knows the password or sits at the server (AccountService says which),
// so the method is explicit: an actor made without one (the zero value) is
// refused them, like a token, rather than let through.
type AuthMethod string

// The ways to be an actor.
const (
	AuthPassword AuthMethod = "password" // a browser session, begun with the user's password
	AuthToken    AuthMethod = "token"    // an API token
	AuthCommand  AuthMethod = "command"  // steward's command line, run on the server by its operator
)

// SystemActor is Steward itself, doing work on its own schedule (jobs): it
// may do everything, everywhere. Only NewSystemContext hands it out, so a
// request can never become it.
var SystemActor = &Actor{Name: "system", system: true}

// NewSystemContext returns a context in which Steward acts as itself: the
// job runner wraps every job in it, and commands run by an operator on the
// server's own machine (migrate, keys) use it.
func NewSystemContext(ctx context.Context) context.Context {
	return NewContextWithActor(ctx, SystemActor)
}

// IsSystem reports whether the actor is Steward itself.
func (a *Actor) IsSystem() bool { return a != nil && a.system }

// Interactive reports whether a person is behind the actor: one who signed
// in with the password, or the operator at the server's command line (or
// Steward itself). A token is not: it is a secret that may have leaked, so
// it may not change a password or mint tokens and users.
func (a *Actor) Interactive() bool {
	return a != nil && (a.system || a.Auth == AuthPassword || a.Auth == AuthCommand)
}

// Can reports whether the actor has the permission on the tenant. An empty
// tenantID asks for the permission everywhere, which needs a grant that is
// not limited to tenants.
func (a *Actor) Can(p Permission, tenantID string) bool {
	if a == nil {
		return false
	}
	if a.system {
		return true
	}
	for _, g := range a.Grants {
		if !g.Role.Has(p) {
			continue
		}
		if g.AllTenants() || (tenantID != "" && slices.Contains(g.Tenants, tenantID)) {
			return true
		}
	}
	return false
}

// CanSome reports whether the actor has the permission on at least one tenant,
// which is what a list page needs before it filters by Scope.
func (a *Actor) CanSome(p Permission) bool { return !a.Scope(p).Empty() }

// Scope says where the permission holds: everywhere, or on some tenants
// only. A nil actor's scope is empty.
func (a *Actor) Scope(p Permission) Scope {
	if a == nil {
		return Scope{}
	}
	if a.system {
		return Scope{all: true}
	}
	var tenants []string
	for _, g := range a.Grants {
		if !g.Role.Has(p) {
			continue
		}
		if g.AllTenants() {
			return Scope{all: true}
		}
		for _, t := range g.Tenants {
			tenants = append(tenants, strings.ToLower(t))
		}
	}
	slices.Sort(tenants)
	return Scope{tenants: slices.Compact(tenants)}
}

// Roles returns the distinct roles the actor holds, for display.
func (a *Actor) Roles() []Role {
	var out []Role
	for _, r := range Roles {
		for _, g := range a.Grants {
			if g.Role == r {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

type actorKey struct{}

// NewContextWithActor returns a context that carries the actor.
func NewContextWithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor of the request, or nil.
func ActorFromContext(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	return a
}

type requestIDKey struct{}

// NewContextWithRequestID returns a context carrying the request ID that
// logs and audit events quote.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request ID, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
