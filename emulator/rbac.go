package emulator

import (
	"strings"
	"sync"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azroles"
)

// RBAC, evaluated the way Azure does: a caller may perform an action at a
// scope when some role assignment for the caller (directly, through a group,
// or projected through a Lighthouse delegation) sits at that scope or above
// it, and its role's actions match the action while its notActions don't.
// Matching is case-insensitive with '*' wildcards (steward.MatchAction).
//
// Every ARM handler goes through grantsIn and allowed; nothing else decides
// access, so part B's delegations plug in with one grantHook.

// grant is one role that applies to a caller somewhere in a subscription.
type grant struct {
	scopeKey   string // lower-case scope; "/" is the tenant root
	roleID     string
	role       *steward.RoleDefinition
	assignment *roleAssignment // nil for projected grants
	via        string          // "direct", "group", or a delegation's name
}

// grantHook adds grants from outside the subscription's own assignments.
// Part B registers one for Lighthouse: a managing-tenant principal named in a
// registration definition's authorizations gets that role at the assignment's
// scope. Hooks run under the world's read lock and must not take it again.
type grantHook func(w *world, c *caller, s *subscription) []grant

var builtinRoles = sync.OnceValue(func() map[string]*steward.RoleDefinition {
	m := map[string]*steward.RoleDefinition{}
	for _, r := range azroles.BuiltIn().All() {
		r := r
		m[strings.ToLower(r.ID)] = &r
	}
	return m
})

// roleByID finds a role definition by GUID or full role definition ID.
func roleByID(id string) *steward.RoleDefinition {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return builtinRoles()[strings.ToLower(id)]
}

// principalIDs returns the caller's object ID and every group it belongs to.
func (w *world) principalIDs(c *caller) []string {
	return append([]string{c.ObjectID}, w.groupsOf(c.ObjectID)...)
}

// grantsIn returns every grant the caller holds in the subscription: its
// assignments at or below the subscription, the tenant root's, and those
// of the hooks.
func (w *world) grantsIn(c *caller, s *subscription) []grant {
	ids := w.principalIDs(c)
	var out []grant
	add := func(a *roleAssignment, via string) {
		if r := roleByID(a.RoleDefinitionID); r != nil {
			out = append(out, grant{scopeKey: a.scopeKey, roleID: a.RoleDefinitionID, role: r, assignment: a, via: via})
		}
	}
	match := func(a *roleAssignment) {
		for i, id := range ids {
			if a.PrincipalID == id {
				via := "direct"
				if i > 0 {
					via = "group"
				}
				add(a, via)
				return
			}
		}
	}
	for _, a := range s.Assignments {
		match(a)
	}
	if t := w.tenants[s.TenantID]; t != nil {
		for _, a := range t.RootAssignments {
			match(a)
		}
	}
	for _, h := range w.grantHooks {
		out = append(out, h(w, c, s)...)
	}
	return out
}

// canAccessSubscription reports whether a token from the caller's tenant is
// accepted on the subscription: the subscription's own tenant, or a tenant
// managing it through Lighthouse.
func (s *subscription) acceptsTenant(tenantID string) bool {
	if strings.EqualFold(s.TenantID, tenantID) {
		return true
	}
	for _, t := range s.ManagedByTenants {
		if strings.EqualFold(t, tenantID) {
			return true
		}
	}
	return false
}

// inScope reports whether a grant at ancestor applies at target (both
// lower-case scopes).
func inScope(ancestor, target string) bool {
	if ancestor == "/" || ancestor == "" {
		return true
	}
	return strings.HasPrefix(target, ancestor) && (len(target) == len(ancestor) || target[len(ancestor)] == '/')
}

// allowed reports whether some grant applies at scopeKey and allows action.
func allowed(grants []grant, scopeKey, action string) bool {
	for i := range grants {
		if inScope(grants[i].scopeKey, scopeKey) && grants[i].role.Allows(action) {
			return true
		}
	}
	return false
}

// allowedAny is allowed for the first action of several that is granted.
func allowedAny(grants []grant, scopeKey string, actions ...string) bool {
	for _, a := range actions {
		if allowed(grants, scopeKey, a) {
			return true
		}
	}
	return false
}

// hasGrantBelow reports whether any grant sits strictly below scopeKey: a
// caller with only resource-group-level roles still sees the subscription
// and the groups it may read.
func hasGrantBelow(grants []grant, scopeKey string) bool {
	for i := range grants {
		if inScope(scopeKey, grants[i].scopeKey) && grants[i].scopeKey != scopeKey {
			return true
		}
	}
	return false
}
