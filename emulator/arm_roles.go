package emulator

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/stewardhq/steward"
)

// Role definitions: Azure's built-in catalog (package azroles) in the ARM
// REST shape, and the Permissions API that tells a caller what it may do.

const (
	actRoleDefRead   = "Microsoft.Authorization/roleDefinitions/read"
	actRoleDefWrite  = "Microsoft.Authorization/roleDefinitions/write"
	actRoleDefDelete = "Microsoft.Authorization/roleDefinitions/delete"
	roleDefPath      = "/providers/Microsoft.Authorization/roleDefinitions/"
	// builtinRoleDate stands in for createdOn/updatedOn, which the catalog
	// does not carry.
	builtinRoleDate = "2015-02-02T21:55:09.8806423Z"
)

// roleFragments holds, per role, the JSON after its id: the rest of the
// object, ready to append to any id prefix.
var roleFragments = sync.OnceValue(func() map[string][]byte {
	m := map[string][]byte{}
	for id, r := range builtinRoles() {
		b := append([]byte(nil), `,"name":"`...)
		b = append(b, r.ID...)
		b = append(b, `","type":"Microsoft.Authorization/roleDefinitions","properties":{"roleName":`...)
		b = appendJSONString(b, r.RoleName)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, r.RoleType)
		b = append(b, `,"description":`...)
		b = appendJSONString(b, r.Description)
		b = append(b, `,"assignableScopes":`...)
		b = appendStrings(b, r.AssignableScopes)
		b = append(b, `,"permissions":[`...)
		for i, p := range r.Permissions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPermission(b, p)
		}
		b = append(b, `],"createdOn":"`+builtinRoleDate+`","updatedOn":"`+builtinRoleDate+`","createdBy":null,"updatedBy":null}}`...)
		m[id] = b
	}
	return m
})

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendPermission(b []byte, p steward.RolePermission) []byte {
	b = append(b, `{"actions":`...)
	b = appendStrings(b, p.Actions)
	b = append(b, `,"notActions":`...)
	b = appendStrings(b, p.NotActions)
	b = append(b, `,"dataActions":`...)
	b = appendStrings(b, p.DataActions)
	b = append(b, `,"notDataActions":`...)
	b = appendStrings(b, p.NotDataActions)
	if p.Condition != "" {
		b = append(b, `,"condition":`...)
		b = appendJSONString(b, p.Condition)
		b = append(b, `,"conditionVersion":`...)
		b = appendJSONString(b, p.ConditionVersion)
	}
	return append(b, '}')
}

// roleDefPrefix is the id prefix of role definitions seen from a scope:
// subscription-qualified inside a subscription, bare at the tenant root.
func (c *armCall) roleDefPrefix() string {
	if c.scope.SubID != "" {
		return "/subscriptions/" + c.scope.SubID
	}
	return ""
}

func appendRoleDef(b []byte, prefix, id string) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, prefix...)
	b = append(b, roleDefPath...)
	b = append(b, id...)
	b = append(b, '"')
	return append(b, roleFragments()[id]...)
}

func (c *armCall) serveRoleDefinitions() {
	scopeKey := "/"
	if c.scope.Kind != scopeTenant {
		c.e.w.mu.RLock()
		c.loadGrants()
		rv, err := c.resolve(c.scope)
		c.e.w.mu.RUnlock()
		if err != nil {
			c.fail(err)
			return
		}
		scopeKey = rv.key
		act := actRoleDefRead
		switch c.r.Method {
		case http.MethodPut:
			act = actRoleDefWrite
		case http.MethodDelete:
			act = actRoleDefDelete
		}
		if !c.authorize(scopeKey, rv.display, act) {
			return
		}
	}
	switch {
	case c.r.Method == http.MethodPut || c.r.Method == http.MethodDelete:
		c.action = actRoleDefWrite
		if c.r.Method == http.MethodDelete {
			c.action = actRoleDefDelete
		}
		c.fail(newARMError(http.StatusBadRequest, "UnsupportedRoleDefinitionOperation", "The emulator serves Azure's built-in role definitions only; custom roles cannot be created or deleted."))
	case c.r.Method != http.MethodGet:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	case len(c.rest) == 1:
		id := strings.ToLower(c.rest[0])
		if roleFragments()[id] == nil {
			c.fail(newARMError(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", c.rest[0]))
			return
		}
		writeJSONBytes(c.w, http.StatusOK, appendRoleDef(nil, c.roleDefPrefix(), id))
	case len(c.rest) == 0:
		c.listRoleDefinitions()
	default:
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.Authorization'."))
	}
}

func (c *armCall) listRoleDefinitions() {
	raw := c.r.URL.Query().Get("$filter")
	var byName, byType string
	var kept []string
	for _, part := range splitAnd(raw) {
		if !strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "atScopeAndBelow()") {
			kept = append(kept, part)
		}
	}
	if expr := strings.Join(kept, " and "); strings.TrimSpace(expr) != "" {
		f, ok := parseGraphFilter(expr)
		if !ok {
			c.fail(filterError(raw))
			return
		}
		for _, cl := range f {
			switch {
			case cl.op == "eq" && strings.EqualFold(cl.prop, "roleName"):
				byName = cl.val
			case cl.op == "eq" && strings.EqualFold(cl.prop, "type"):
				byType = cl.val
			default:
				c.fail(filterError(raw))
				return
			}
		}
	}
	roles := builtinRoles()
	ids := make([]string, 0, len(roles))
	for id, r := range roles {
		if byName != "" && !strings.EqualFold(r.RoleName, byName) || byType != "" && !strings.EqualFold(r.RoleType, byType) {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return roles[ids[i]].RoleName < roles[ids[j]].RoleName })
	prefix := c.roleDefPrefix()
	b := make([]byte, 0, 1500*len(ids)+32)
	b = append(b, `{"value":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRoleDef(b, prefix, id)
	}
	b = append(b, `]}`...)
	writeJSONBytes(c.w, http.StatusOK, b)
}

// servePermissions serves GET {scope}/providers/Microsoft.Authorization/
// permissions: one entry per permission block of every role that applies to
// the caller at the scope.
func (c *armCall) servePermissions() {
	if c.r.Method != http.MethodGet || len(c.rest) != 0 {
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
		return
	}
	if c.scope.Kind == scopeTenant {
		c.fail(newARMError(http.StatusBadRequest, "InvalidScope", "Permissions can be listed at a subscription, resource group or resource scope."))
		return
	}
	c.e.w.mu.RLock()
	c.loadGrants()
	rv, err := c.resolve(c.scope)
	var b []byte
	if err == nil {
		b = append(b, `{"value":[`...)
		n := 0
		for _, g := range c.grants {
			if !inScope(g.scopeKey, rv.key) {
				continue
			}
			for _, p := range g.role.Permissions {
				if n > 0 {
					b = append(b, ',')
				}
				b = appendPermission(b, p)
				if p.Condition == "" {
					b = append(b[:len(b)-1], `,"condition":null,"conditionVersion":null}`...)
				}
				n++
			}
		}
		b = append(b, `]}`...)
	}
	c.e.w.mu.RUnlock()
	c.send(http.StatusOK, b, err)
}
