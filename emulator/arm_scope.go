package emulator

import (
	"net/http"
	"strings"
)

// Scopes: "", /subscriptions/{id}, …/resourceGroups/{rg}, or a resource
// …/providers/{ns}/{type}/{name}[/{type}/{name}…].

type scopeKind int

const (
	scopeTenant scopeKind = iota
	scopeSubscription
	scopeGroup
	scopeResource
	scopeManagementGroup
)

type scopeRef struct {
	Kind      scopeKind
	SubID     string // lower-case
	Group     string // as given
	Namespace string
	TypeName  string // Microsoft.Sql/servers/databases, as given
	Type      *resType
	Name      string // srv/db
	MgmtGroup string
}

// parse splits the path into scope and extension; the core routes keep
// the whole path and only learn the subscription here.
func (c *armCall) parse() *armError {
	segs := c.segs
	for i := len(segs) - 3; i >= 0; i-- {
		if !strings.EqualFold(segs[i], "providers") {
			continue
		}
		if x, ok := c.e.armExt[strings.ToLower(segs[i+1]+"/"+segs[i+2])]; ok {
			c.ext = &x
			c.rest = segs[i+3:]
			sc, err := parseScope(segs[:i])
			if err != nil {
				return err
			}
			c.scope = sc
			return nil
		}
	}
	if strings.EqualFold(segs[0], "subscriptions") && len(segs) > 1 {
		if !isGUID(segs[1]) {
			return newARMError(http.StatusBadRequest, "InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid.", segs[1])
		}
		c.scope.SubID = strings.ToLower(segs[1])
		c.scope.Kind = scopeSubscription
	}
	return nil
}

func invalidScope(segs []string) *armError {
	return newARMError(http.StatusBadRequest, "InvalidScope", "The scope '/%s' is not a valid scope for this operation.", strings.Join(segs, "/"))
}

// parseScope reads a scope's segments.
func parseScope(segs []string) (scopeRef, *armError) {
	var s scopeRef
	if len(segs) == 0 {
		return s, nil
	}
	switch strings.ToLower(segs[0]) {
	case "subscriptions":
		if len(segs) < 2 {
			return s, invalidScope(segs)
		}
		if !isGUID(segs[1]) {
			return s, newARMError(http.StatusBadRequest, "InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid.", segs[1])
		}
		s.Kind, s.SubID = scopeSubscription, strings.ToLower(segs[1])
		if len(segs) == 2 {
			return s, nil
		}
		if len(segs) < 4 || !strings.EqualFold(segs[2], "resourceGroups") {
			return s, invalidScope(segs)
		}
		s.Kind, s.Group = scopeGroup, segs[3]
		if len(segs) == 4 {
			return s, nil
		}
		return parseResourceSegs(s, segs[4:], segs)
	case "providers":
		if len(segs) == 4 && strings.EqualFold(segs[1], "Microsoft.Management") && strings.EqualFold(segs[2], "managementGroups") {
			s.Kind, s.MgmtGroup = scopeManagementGroup, segs[3]
			return s, nil
		}
	}
	return s, invalidScope(segs)
}

// parseResourceSegs reads providers/{ns}/{type}/{name}[/{type}/{name}…].
func parseResourceSegs(s scopeRef, segs, all []string) (scopeRef, *armError) {
	if len(segs) < 4 || !strings.EqualFold(segs[0], "providers") || (len(segs)-2)%2 != 0 {
		return s, invalidScope(all)
	}
	s.Kind = scopeResource
	s.Namespace = segs[1]
	types := []string{segs[1]}
	var names []string
	for i := 2; i < len(segs); i += 2 {
		types = append(types, segs[i])
		names = append(names, segs[i+1])
	}
	s.TypeName = strings.Join(types, "/")
	s.Name = strings.Join(names, "/")
	if _, ok := resNamespaces[strings.ToLower(s.Namespace)]; !ok {
		return s, newARMError(http.StatusBadRequest, "InvalidResourceNamespace", "The resource namespace '%s' is invalid.", s.Namespace)
	}
	s.Type = resTypeByLower[strings.ToLower(s.TypeName)]
	if s.Type == nil {
		return s, newARMError(http.StatusBadRequest, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s'.", strings.Join(types[1:], "/"), s.Namespace)
	}
	return s, nil
}

// resolved is a scope found in the world.
type resolved struct {
	sub     *subscription
	group   *resourceGroup
	res     *resource
	display string // canonical: stored casing of names
	key     string // lower-case display
}

// resolve finds the scope's objects under the read (or write) lock. The
// subscription was checked by serveARM.
func (c *armCall) resolve(s scopeRef) (resolved, *armError) {
	var rv resolved
	switch s.Kind {
	case scopeTenant:
		rv.display, rv.key = "/", "/"
		return rv, nil
	case scopeManagementGroup:
		return rv, newARMError(http.StatusNotFound, "ManagementGroupNotFound", "The management group '%s' could not be found.", s.MgmtGroup)
	}
	rv.sub = c.e.w.subscription(s.SubID)
	if rv.sub == nil {
		return rv, newARMError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", s.SubID)
	}
	rv.display = rv.sub.scope()
	if s.Kind == scopeSubscription {
		rv.key = rv.display
		return rv, nil
	}
	rv.group = rv.sub.group(s.Group)
	if rv.group == nil {
		return rv, newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", s.Group)
	}
	rv.display = rv.group.id()
	if s.Kind == scopeGroup {
		rv.key = strings.ToLower(rv.display)
		return rv, nil
	}
	rv.res, _ = rv.group.findResource(s.Type, s.Name)
	if rv.res == nil {
		return rv, notFoundResource(s)
	}
	rv.display = rv.res.id()
	rv.key = strings.ToLower(rv.display)
	return rv, nil
}

func notFoundResource(s scopeRef) *armError {
	return newARMError(http.StatusNotFound, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", s.TypeName, s.Name, s.Group)
}

// send writes a body built under the lock, or the error.
func (c *armCall) send(status int, body []byte, err *armError) {
	if err != nil {
		c.fail(err)
		return
	}
	if body == nil {
		c.w.Header().Set("Content-Length", "0")
		c.w.WriteHeader(status)
		return
	}
	writeJSONBytes(c.w, status, body)
}
