package steward

import "strings"

// RoleDefinition is an Azure RBAC role definition, built in or custom. Azure
// grants an action when some permission block allows it: matched by Actions
// and not by NotActions (the same for data actions).
type RoleDefinition struct {
	ID               string           `json:"name"` // the GUID, as Azure calls it "name"
	RoleName         string           `json:"roleName"`
	Description      string           `json:"description"`
	RoleType         string           `json:"roleType"` // BuiltInRole or CustomRole
	AssignableScopes []string         `json:"assignableScopes"`
	Permissions      []RolePermission `json:"permissions"`
}

// RolePermission is one permission block of a role definition.
type RolePermission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
	// Condition restricts the block (ABAC); Steward shows it but does not
	// evaluate it, so a conditioned grant is never counted as narrower.
	Condition        string `json:"condition,omitempty"`
	ConditionVersion string `json:"conditionVersion,omitempty"`
}

// Built-in role definition IDs Steward names in its own logic. The catalog
// itself lives in package azroles.
const (
	BuiltInOwner                        = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	BuiltInContributor                  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	BuiltInReader                       = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	BuiltInTagContributor               = "4a9ae827-6dc8-4573-8ac7-8239d42aa03f"
	BuiltInUserAccessAdministrator      = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	BuiltInCostManagementReader         = "72fafb9e-0641-4937-9268-a91bfd8191a3"
	BuiltInRegistrationAssignmentDelete = "91c1777a-f3dc-4fae-b103-61d183457e46"
)

// Allows reports whether the role grants the (control-plane) action.
func (r *RoleDefinition) Allows(action string) bool {
	for _, p := range r.Permissions {
		if p.Allows(action) {
			return true
		}
	}
	return false
}

// HasDataActions reports whether any permission block grants data actions.
func (r *RoleDefinition) HasDataActions() bool {
	for _, p := range r.Permissions {
		if len(p.DataActions) > 0 {
			return true
		}
	}
	return false
}

// Allows reports whether this block grants the action: some Actions pattern
// matches it and no NotActions pattern does.
func (p RolePermission) Allows(action string) bool {
	return matchesAny(p.Actions, action) && !matchesAny(p.NotActions, action)
}

// AllowsData is Allows for data actions.
func (p RolePermission) AllowsData(action string) bool {
	return matchesAny(p.DataActions, action) && !matchesAny(p.NotDataActions, action)
}

func matchesAny(patterns []string, action string) bool {
	for _, pat := range patterns {
		if MatchAction(pat, action) {
			return true
		}
	}
	return false
}

// MatchAction reports whether an Azure RBAC action pattern matches an action.
// Azure compares case-insensitively, and '*' stands for any run of
// characters, '/' included: "*/read" matches every read action and
// "Microsoft.Authorization/*" every Authorization action.
func MatchAction(pattern, action string) bool {
	return globFold(strings.ToLower(pattern), strings.ToLower(action))
}

// globFold matches s against p where '*' matches any sequence. Iterative with
// one backtrack point, so it is linear in practice and never recurses.
func globFold(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
