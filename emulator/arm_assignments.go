package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Role assignments at any scope: create, get, delete, and list with
// Azure's filters (atScope(), principalId eq, assignedTo()).

const (
	actRAReadAssign   = "Microsoft.Authorization/roleAssignments/read"
	actRAWriteAssign  = "Microsoft.Authorization/roleAssignments/write"
	actRADeleteAssign = "Microsoft.Authorization/roleAssignments/delete"
)

func appendAssignment(b []byte, a *roleAssignment) []byte {
	b = append(b, `{"properties":{"roleDefinitionId":`...)
	rd := roleDefPath + a.RoleDefinitionID
	if strings.HasPrefix(a.scopeKey, "/subscriptions/") {
		parts := strings.SplitN(a.Scope, "/", 4)
		rd = "/subscriptions/" + parts[2] + rd
	}
	b = appendJSONString(b, rd)
	b = append(b, `,"principalId":`...)
	b = appendJSONString(b, a.PrincipalID)
	b = append(b, `,"principalType":`...)
	b = appendJSONString(b, a.PrincipalType)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, a.Scope)
	b = append(b, `,"condition":`...)
	b = appendNullable(b, a.Condition)
	b = append(b, `,"conditionVersion":`...)
	b = appendNullable(b, a.ConditionVersion)
	b = append(b, `,"createdOn":`...)
	b = appendTime(b, a.CreatedOn)
	b = append(b, `,"updatedOn":`...)
	b = appendTime(b, a.UpdatedOn)
	b = append(b, `,"createdBy":`...)
	b = appendNullable(b, a.CreatedBy)
	b = append(b, `,"updatedBy":`...)
	b = appendNullable(b, a.UpdatedBy)
	b = append(b, `,"delegatedManagedIdentityResourceId":null,"description":`...)
	b = appendNullable(b, a.Description)
	b = append(b, `},"id":`...)
	b = appendJSONString(b, assignmentID(a))
	b = append(b, `,"type":"Microsoft.Authorization/roleAssignments","name":`...)
	b = appendJSONString(b, a.Name)
	return append(b, '}')
}

func assignmentID(a *roleAssignment) string {
	s := a.Scope
	if s == "/" {
		s = ""
	}
	return s + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// assignmentsFor returns the list an assignment at this scope lives in.
func (c *armCall) assignmentsFor(rv resolved) *[]*roleAssignment {
	if rv.sub != nil {
		return &rv.sub.Assignments
	}
	t := c.e.w.tenants[c.c.TenantID]
	if t == nil {
		return nil
	}
	return &t.RootAssignments
}

func (c *armCall) serveRoleAssignments() {
	switch {
	case len(c.rest) == 0 && c.r.Method == http.MethodGet:
		c.listAssignments()
	case len(c.rest) == 1 && c.r.Method == http.MethodGet:
		c.getAssignment(c.rest[0])
	case len(c.rest) == 1 && c.r.Method == http.MethodPut:
		c.putAssignment(c.rest[0])
	case len(c.rest) == 1 && c.r.Method == http.MethodDelete:
		c.deleteAssignment(c.rest[0])
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	}
}

func (c *armCall) findAssignment(list []*roleAssignment, scopeKey, name string) *roleAssignment {
	for _, a := range list {
		if a.scopeKey == scopeKey && strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

func (c *armCall) getAssignment(name string) {
	c.e.w.mu.RLock()
	c.loadGrants()
	rv, err := c.resolve(c.scope)
	var b []byte
	switch {
	case err != nil:
	case !allowed(c.grants, rv.key, actRAReadAssign) && !(c.scope.Kind == scopeTenant):
		err = c.forbidden(actRAReadAssign, rv.display)
	default:
		list := c.assignmentsFor(rv)
		var a *roleAssignment
		if list != nil {
			a = c.findAssignment(*list, rv.key, name)
		}
		if a == nil {
			err = newARMError(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", name)
		} else {
			b = appendAssignment(nil, a)
		}
	}
	c.e.w.mu.RUnlock()
	c.send(http.StatusOK, b, err)
}

func (c *armCall) putAssignment(name string) {
	c.action = actRAWriteAssign
	body, rerr := c.readBody()
	if rerr != nil {
		c.fail(rerr)
		return
	}
	var in struct {
		Properties *struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
			PrincipalID      string `json:"principalId"`
			PrincipalType    string `json:"principalType"`
			Description      string `json:"description"`
			Condition        string `json:"condition"`
			ConditionVersion string `json:"conditionVersion"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		c.fail(invalidJSON(err))
		return
	}
	c.e.w.mu.Lock()
	status, b, err := c.putAssignmentLocked(name, in.Properties)
	c.e.w.mu.Unlock()
	c.send(status, b, err)
}

func (c *armCall) putAssignmentLocked(name string, p *struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType"`
	Description      string `json:"description"`
	Condition        string `json:"condition"`
	ConditionVersion string `json:"conditionVersion"`
}) (int, []byte, *armError) {
	c.loadGrants()
	rv, err := c.resolve(c.scope)
	if err != nil {
		return 0, nil, err
	}
	c.resourceID = rv.display
	if rv.display == "/" {
		c.resourceID = ""
	}
	c.resourceID += "/providers/Microsoft.Authorization/roleAssignments/" + name
	if !allowed(c.grants, rv.key, actRAWriteAssign) {
		return 0, nil, c.forbidden(actRAWriteAssign, rv.display)
	}
	if !isGUID(name) {
		return 0, nil, newARMError(http.StatusBadRequest, "InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name)
	}
	if p == nil {
		return 0, nil, newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'.")
	}
	role := roleByID(p.RoleDefinitionID)
	if role == nil {
		return 0, nil, newARMError(http.StatusBadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", p.RoleDefinitionID[strings.LastIndexByte(p.RoleDefinitionID, '/')+1:])
	}
	if !isGUID(p.PrincipalID) {
		return 0, nil, newARMError(http.StatusBadRequest, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.")
	}
	tenantID := c.c.TenantID
	if rv.sub != nil {
		tenantID = rv.sub.TenantID
	}
	ptype, ptenant, found := c.e.w.principalType(p.PrincipalID)
	if found && !strings.EqualFold(ptenant, tenantID) {
		found = false
	}
	switch {
	case !found && p.PrincipalType == "":
		return 0, nil, newARMError(http.StatusBadRequest, "PrincipalNotFound",
			"Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
			strings.ReplaceAll(lowerGUID(p.PrincipalID), "-", ""), tenantID)
	case found && p.PrincipalType != "" && !strings.EqualFold(p.PrincipalType, ptype):
		return 0, nil, newARMError(http.StatusBadRequest, "UnmatchedPrincipalType", "The PrincipalType in the request does not match the actual PrincipalType of the principal with ID '%s'.", p.PrincipalID)
	case !found:
		ptype = p.PrincipalType
	}
	list := c.assignmentsFor(rv)
	if list == nil {
		return 0, nil, newARMError(http.StatusBadRequest, "InvalidScope", "The scope '%s' is not valid for role assignments.", rv.display)
	}
	roleID := strings.ToLower(role.ID)
	pid := lowerGUID(p.PrincipalID)
	if a := c.findAssignment(*list, rv.key, name); a != nil {
		if a.PrincipalID != pid || a.RoleDefinitionID != roleID {
			return 0, nil, newARMError(http.StatusBadRequest, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
		}
		a.Description, a.Condition, a.ConditionVersion = p.Description, p.Condition, p.ConditionVersion
		a.UpdatedOn, a.UpdatedBy = c.now, c.c.ObjectID
		return http.StatusOK, appendAssignment(nil, a), nil
	}
	for _, a := range *list {
		if a.scopeKey == rv.key && a.PrincipalID == pid && a.RoleDefinitionID == roleID && a.Condition == p.Condition {
			return 0, nil, newARMError(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists.")
		}
	}
	a := &roleAssignment{
		Name: lowerGUID(name), Scope: rv.display, scopeKey: rv.key, RoleDefinitionID: roleID, PrincipalID: pid,
		PrincipalType: ptype, TenantID: tenantID, Description: p.Description, Condition: p.Condition,
		ConditionVersion: p.ConditionVersion, CreatedOn: c.now, UpdatedOn: c.now, CreatedBy: c.c.ObjectID, UpdatedBy: c.c.ObjectID,
	}
	*list = append(*list, a)
	return http.StatusCreated, appendAssignment(nil, a), nil
}

func (c *armCall) deleteAssignment(name string) {
	c.action = actRADeleteAssign
	c.e.w.mu.Lock()
	c.loadGrants()
	rv, err := c.resolve(c.scope)
	var b []byte
	status := http.StatusOK
	if err == nil {
		c.resourceID = strings.TrimSuffix(rv.display, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + name
		if !allowed(c.grants, rv.key, actRADeleteAssign) {
			err = c.forbidden(actRADeleteAssign, rv.display)
		} else if list := c.assignmentsFor(rv); list != nil {
			status = http.StatusNoContent
			for i, a := range *list {
				if a.scopeKey == rv.key && strings.EqualFold(a.Name, name) {
					b = appendAssignment(nil, a)
					*list = append((*list)[:i:i], (*list)[i+1:]...)
					status = http.StatusOK
					break
				}
			}
		}
	}
	c.e.w.mu.Unlock()
	c.send(status, b, err)
}

// listAssignments serves RoleAssignments_ListForScope (and the
// subscription, group and resource variants, which are the same path).
// Without a filter: assignments at, above and below the scope;
// atScope(): at or above; principalId eq '…': that principal's, at, above
// and below; assignedTo('…'): the principal's and its groups'.
func (c *armCall) listAssignments() {
	raw := c.r.URL.Query().Get("$filter")
	atScope, principal, assignedTo := false, "", ""
	for _, part := range splitAnd(raw) {
		p := strings.TrimSpace(part)
		lp := strings.ToLower(strings.ReplaceAll(p, " ", ""))
		switch {
		case p == "":
		case lp == "atscope()":
			atScope = true
		case strings.HasPrefix(lp, "principalideq"):
			principal = unquote(strings.TrimSpace(p[strings.Index(strings.ToLower(p), "eq")+2:]))
		case strings.HasPrefix(lp, "assignedto(") && strings.HasSuffix(lp, ")"):
			assignedTo = unquote(strings.TrimSpace(p[strings.IndexByte(p, '(')+1 : len(p)-1]))
		default:
			c.fail(filterError(raw))
			return
		}
	}
	c.e.w.mu.RLock()
	c.loadGrants()
	rv, err := c.resolve(c.scope)
	if err == nil && c.scope.Kind != scopeTenant && !allowed(c.grants, rv.key, actRAReadAssign) {
		err = c.forbidden(actRAReadAssign, rv.display)
	}
	var b []byte
	if err == nil {
		var ids []string
		if assignedTo != "" {
			ids = append([]string{lowerGUID(assignedTo)}, c.e.w.groupsOf(assignedTo)...)
		} else if principal != "" {
			ids = []string{lowerGUID(principal)}
		}
		var cand []*roleAssignment
		if list := c.assignmentsFor(rv); list != nil {
			cand = append(cand, *list...)
		}
		if rv.sub != nil {
			if t := c.e.w.tenants[rv.sub.TenantID]; t != nil {
				cand = append(cand, t.RootAssignments...)
			}
		}
		var out []*roleAssignment
		for _, a := range cand {
			above := inScope(a.scopeKey, rv.key)
			below := inScope(rv.key, a.scopeKey)
			if !above && !(below && !atScope) {
				continue
			}
			if below && !above && !allowed(c.grants, a.scopeKey, actRAReadAssign) {
				continue
			}
			if ids != nil && !containsFold(ids, a.PrincipalID) {
				continue
			}
			out = append(out, a)
		}
		sort.SliceStable(out, func(i, j int) bool { return len(out[i].scopeKey) < len(out[j].scopeKey) })
		b = append(b, `{"value":[`...)
		for i, a := range out {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAssignment(b, a)
		}
		b = append(b, `]}`...)
	}
	c.e.w.mu.RUnlock()
	c.send(http.StatusOK, b, err)
}

// assign adds a role assignment directly (seeding and test hooks).
func (w *world) assign(scope, roleID, principalID, principalType string, now time.Time) *roleAssignment {
	a := &roleAssignment{
		Name: newGUID(), Scope: scope, scopeKey: strings.ToLower(scope), RoleDefinitionID: strings.ToLower(roleID),
		PrincipalID: lowerGUID(principalID), PrincipalType: principalType, CreatedOn: now, UpdatedOn: now,
	}
	segs := splitPath(scope)
	if len(segs) >= 2 {
		if s := w.subscription(segs[1]); s != nil {
			a.TenantID = s.TenantID
			s.Assignments = append(s.Assignments, a)
		}
	}
	return a
}
