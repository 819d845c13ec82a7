// Package azroles holds Azure's built-in role catalog as data: the 928 role
// definitions Microsoft ships, as `az role definition list` printed them.
// The emulator evaluates RBAC with it, the Lighthouse rules check
// authorizations against it, and the connector names the built-in role that
// would grant a missing action. SOURCE.md says where the file came from.
package azroles

import (
	_ "embed"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/stewardhq/steward"
)

//go:embed builtin-roles.json
var builtinJSON []byte

var catalog = sync.OnceValue(func() *Catalog {
	var roles []steward.RoleDefinition
	if err := json.Unmarshal(builtinJSON, &roles); err != nil {
		panic("azroles: embedded catalog does not parse: " + err.Error())
	}
	c := &Catalog{roles: roles, byID: map[string]int{}, byName: map[string]int{}}
	for i, r := range roles {
		c.byID[strings.ToLower(r.ID)] = i
		c.byName[strings.ToLower(r.RoleName)] = i
	}
	return c
})

// Catalog is a read-only set of role definitions, safe for concurrent use.
type Catalog struct {
	roles  []steward.RoleDefinition
	byID   map[string]int
	byName map[string]int
}

// BuiltIn returns the embedded built-in catalog.
func BuiltIn() *Catalog { return catalog() }

// All returns every role, sorted by name. The slice is a copy; the roles'
// permission slices are shared and must not be modified.
func (c *Catalog) All() []steward.RoleDefinition {
	out := append([]steward.RoleDefinition(nil), c.roles...)
	sort.Slice(out, func(i, j int) bool { return out[i].RoleName < out[j].RoleName })
	return out
}

// ByID finds a role by its GUID, or by a full role definition ID such as
// "/subscriptions/…/providers/Microsoft.Authorization/roleDefinitions/{guid}".
func (c *Catalog) ByID(id string) (steward.RoleDefinition, bool) {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	i, ok := c.byID[strings.ToLower(id)]
	if !ok {
		return steward.RoleDefinition{}, false
	}
	return c.roles[i], true
}

// ByName finds a role by its display name, case-insensitively.
func (c *Catalog) ByName(name string) (steward.RoleDefinition, bool) {
	i, ok := c.byName[strings.ToLower(name)]
	if !ok {
		return steward.RoleDefinition{}, false
	}
	return c.roles[i], true
}

// Granting returns the roles that allow every one of the actions, narrowest
// first (fewest action patterns), so a caller can name the least-privileged
// built-in role for a need.
func (c *Catalog) Granting(actions ...string) []steward.RoleDefinition {
	var out []steward.RoleDefinition
	for _, r := range c.roles {
		ok := true
		for _, a := range actions {
			if !r.Allows(a) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		wi, wj := breadth(out[i]), breadth(out[j])
		if wi != wj {
			return wi < wj
		}
		return out[i].RoleName < out[j].RoleName
	})
	return out
}

// breadth is a rough measure of how much a role grants: wildcards count for
// more than literal actions, and data actions count too.
func breadth(r steward.RoleDefinition) int {
	n := 0
	for _, p := range r.Permissions {
		for _, a := range append(append([]string(nil), p.Actions...), p.DataActions...) {
			switch {
			case a == "*":
				n += 100000
			case strings.HasPrefix(a, "*/"):
				n += 10000
			case strings.Contains(a, "*"):
				n += 100
			default:
				n++
			}
		}
	}
	return n
}
