package steward

import (
	"context"
	"slices"
	"strings"
)

// Scope is where a caller may use one permission: on every tenant, or on
// some tenants only. Every read of tenant-owned data takes one, and only an
// actor makes one (Actor.Scope, ScopeFor), so a scope cannot be widened by
// input. The zero value reaches no tenant: a forgotten scope sees nothing.
type Scope struct {
	all     bool
	tenants []string // sorted, lower case, without duplicates
}

// ScopeFor is the scope of the context's actor for the permission; with no
// actor it is empty.
func ScopeFor(ctx context.Context, p Permission) Scope {
	return ActorFromContext(ctx).Scope(p)
}

// All reports whether the scope reaches every tenant, including data that
// belongs to no tenant.
func (s Scope) All() bool { return s.all }

// Empty reports whether the scope reaches no tenant at all.
func (s Scope) Empty() bool { return !s.all && len(s.tenants) == 0 }

// Tenants returns the tenants a limited scope reaches (sorted); nil when
// the scope reaches all of them.
func (s Scope) Tenants() []string {
	if s.all {
		return nil
	}
	return slices.Clone(s.tenants)
}

// Allows reports whether the scope reaches the tenant. No tenant ID ("")
// is reached by an unlimited scope only.
func (s Scope) Allows(tenantID string) bool {
	if s.all {
		return true
	}
	if tenantID == "" {
		return false
	}
	_, ok := slices.BinarySearch(s.tenants, strings.ToLower(tenantID))
	return ok
}

// AllowsAll reports whether the scope reaches every one of the tenants.
func (s Scope) AllowsAll(tenantIDs []string) bool {
	for _, t := range tenantIDs {
		if !s.Allows(t) {
			return false
		}
	}
	return true
}

// AllowsAny reports whether the scope reaches at least one of the tenants.
func (s Scope) AllowsAny(tenantIDs []string) bool {
	return slices.ContainsFunc(tenantIDs, s.Allows)
}

// RequireActor returns the context's actor, or EUNAUTHORIZED when there is
// none: services refuse work that does not say on whose behalf it is done,
// rather than doing it as nobody or as the system.
func RequireActor(ctx context.Context) (*Actor, error) {
	a := ActorFromContext(ctx)
	if a == nil {
		return nil, Errorf(EUNAUTHORIZED, "No one is signed in: this needs a user, an API token or Steward's own jobs.")
	}
	return a, nil
}

// RequireScope is RequireActor's scope for the permission.
func RequireScope(ctx context.Context, p Permission) (Scope, error) {
	a, err := RequireActor(ctx)
	if err != nil {
		return Scope{}, err
	}
	return a.Scope(p), nil
}

// RequireSystem refuses work that only Steward's own jobs do (the job
// runner runs every job as the system actor). EFORBIDDEN.
func RequireSystem(ctx context.Context) error {
	if !ActorFromContext(ctx).IsSystem() {
		return Errorf(EFORBIDDEN, "Only Steward's own jobs do this.")
	}
	return nil
}

// TenantGetter reads one tenant within a scope.
type TenantGetter interface {
	TenantGet(ctx context.Context, scope Scope, id string) (*Tenant, error)
}

// TenantFor returns a tenant on which the caller holds p: ENOTFOUND when
// they may not even read it (as if it did not exist), EFORBIDDEN when they
// may read it but not p, EUNAUTHORIZED without an actor.
func TenantFor(ctx context.Context, tenants TenantGetter, id string, p Permission) (*Tenant, error) {
	a, err := RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	t, err := tenants.TenantGet(ctx, a.Scope(PermInventoryRead), id)
	if err != nil {
		return nil, err
	}
	if !a.Can(p, t.ID) {
		if p == PermTenantsManage {
			return nil, Errorf(EFORBIDDEN, "Your roles do not allow managing tenant %s.", t.Name)
		}
		return nil, Errorf(EFORBIDDEN, "Your roles do not allow this in tenant %s (it needs %s).", t.Name, p)
	}
	return t, nil
}
