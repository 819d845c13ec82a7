package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Azure Lighthouse (Microsoft.ManagedServices): registrationDefinitions and
// registrationAssignments at a subscription or resource group scope.
//
// A definition names a managing tenant and authorizations (principal, role);
// PUT checks them as Azure does: built-in roles only, not Owner, no role with
// DataActions, none with an action Microsoft lists as unsupported
// (*/write, Microsoft.Authorization/*, …, compared as written, so
// Contributor's "*" passes), User Access Administrator only with
// delegatedRoleDefinitionIds; failures answer 400 InvalidRequest naming the
// authorization. Writing either type needs the type's write action and
// Microsoft.Authorization/roleAssignments/write (Owner, in practice), as
// onboarding does in Azure.
//
// An assignment projects its definition: the managing tenant is added to
// the subscription's managedByTenants (its tokens are then accepted, and
// GET /subscriptions lists the subscription), and lighthouseGrants gives each
// authorized principal of that tenant its role at the assignment's scope.
// Deleting the assignment ends both. Eligible authorizations are stored and
// returned but grant nothing (just-in-time activation is not modelled), and
// User Access Administrator authorizations are not projected (assigning
// roles to managed identities is not modelled either).
//
// The rules are Azure's as documented (see rules.go in package
// lighthouse for Steward's own validator, which also warns); the emulator
// keeps its own copy so that it stays an independent check on Steward.

var managedServicesVersions = []string{"2018-06-01-preview", "2019-04-01-preview", "2019-06-01", "2019-09-01", "2020-02-01-preview", "2022-01-01-preview", "2022-10-01"}

const (
	actRegDefRead       = "Microsoft.ManagedServices/registrationDefinitions/read"
	actRegDefWrite      = "Microsoft.ManagedServices/registrationDefinitions/write"
	actRegDefDelete     = "Microsoft.ManagedServices/registrationDefinitions/delete"
	actRegAssignRead    = "Microsoft.ManagedServices/registrationAssignments/read"
	actRegAssignWrite   = "Microsoft.ManagedServices/registrationAssignments/write"
	actRegAssignDelete  = "Microsoft.ManagedServices/registrationAssignments/delete"
	actRoleAssignWrite  = "Microsoft.Authorization/roleAssignments/write"
	lhProvider          = "/providers/Microsoft.ManagedServices/"
	lhDefinitionsType   = "Microsoft.ManagedServices/registrationDefinitions"
	lhAssignmentsType   = "Microsoft.ManagedServices/registrationAssignments"
	lhUserAccessAdminID = steward.BuiltInUserAccessAdministrator
)

// lhUnsupportedActions are the actions that make a role unsupported
// ("Role support for Azure Lighthouse"), compared as written.
var lhUnsupportedActions = []string{
	"*/write", "*/delete", "Microsoft.Authorization/*", "Microsoft.Authorization/*/write", "Microsoft.Authorization/*/delete",
	"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete",
	"Microsoft.Authorization/roleDefinitions/write", "Microsoft.Authorization/roleDefinitions/delete",
	"Microsoft.Authorization/classicAdministrators/write", "Microsoft.Authorization/classicAdministrators/delete",
	"Microsoft.Authorization/locks/write", "Microsoft.Authorization/locks/delete",
	"Microsoft.Authorization/denyAssignments/write", "Microsoft.Authorization/denyAssignments/delete",
}

// lhSub is a subscription's Lighthouse registrations.
type lhSub struct {
	Definitions []*regDefinition
	Assignments []*regAssignment
}

type regDefinition struct {
	Name              string // GUID, lower-case
	Scope             string // as addressed
	ScopeKey          string
	ManagedByTenantID string
	Auths             []lhAuth
	Props             json.RawMessage // the properties as sent, for echoing
	Plan              json.RawMessage
	Created, Updated  time.Time
	CreatedBy         string
}

type lhAuth struct {
	PrincipalID, RoleDefinitionID string
}

type regAssignment struct {
	Name         string
	Scope        string
	ScopeKey     string
	DefinitionID string // as sent
	DefName      string // lower-case GUID of the definition
	Created      time.Time
	CreatedBy    string
}

func (ls *lhSub) definition(name string) *regDefinition {
	for _, d := range ls.Definitions {
		if strings.EqualFold(d.Name, name) {
			return d
		}
	}
	return nil
}

// lighthouseGrants is the grant hook projecting delegations: a principal of
// a managing tenant (or a group of it the caller belongs to) named in an
// assigned definition gets the authorization's role at the assignment's
// scope. Tokens of the customer's own tenant get nothing from here.
func lighthouseGrants(w *world, c *caller, s *subscription) []grant {
	ls := w.lighthouse[s.ID]
	if ls == nil || len(ls.Assignments) == 0 || strings.EqualFold(c.TenantID, s.TenantID) {
		return nil
	}
	var ids []string
	var out []grant
	for _, a := range ls.Assignments {
		d := ls.definition(a.DefName)
		if d == nil || !strings.EqualFold(d.ManagedByTenantID, c.TenantID) {
			continue
		}
		if ids == nil {
			ids = w.principalIDs(c)
		}
		for _, au := range d.Auths {
			if !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, au.PrincipalID) }) {
				continue
			}
			r := roleByID(au.RoleDefinitionID)
			if r == nil || strings.EqualFold(r.ID, lhUserAccessAdminID) {
				continue
			}
			out = append(out, grant{scopeKey: a.ScopeKey, roleID: strings.ToLower(r.ID), role: r, via: "lighthouse:" + d.Name})
		}
	}
	return out
}

// refreshManagedBy recomputes the subscription's managing tenants from its
// assignments.
func (w *world) refreshManagedBy(s *subscription) {
	var out []string
	if ls := w.lighthouse[s.ID]; ls != nil {
		for _, a := range ls.Assignments {
			if d := ls.definition(a.DefName); d != nil && !slices.ContainsFunc(out, func(t string) bool { return strings.EqualFold(t, d.ManagedByTenantID) }) {
				out = append(out, strings.ToLower(d.ManagedByTenantID))
			}
		}
	}
	s.ManagedByTenants = out
}

// delegateSubscription onboards a subscription as a PUT of the definition
// defName (properties props) and then of the assignment asgName, both at
// the subscription's scope, would: the same checks, the same records, the
// same projection. by is the onboarding identity (a UPN or an app ID) and
// at when it happened. The estate uses it for its seeded delegations.
func (w *world) delegateSubscription(s *subscription, defName, asgName string, props map[string]any, by string, at time.Time) error {
	defName, asgName = strings.ToLower(defName), strings.ToLower(asgName)
	if !isGUID(defName) || !isGUID(asgName) {
		return fmt.Errorf("lighthouse: registration names %q and %q must be GUIDs", defName, asgName)
	}
	d, aerr := w.checkDefinition(s, props)
	if aerr != nil {
		return fmt.Errorf("lighthouse: %s", aerr.Message)
	}
	ls := w.lighthouse[s.ID]
	if ls == nil {
		ls = &lhSub{}
		w.lighthouse[s.ID] = ls
	}
	if ls.definition(defName) != nil || slices.ContainsFunc(ls.Assignments, func(a *regAssignment) bool { return a.Name == asgName }) {
		return fmt.Errorf("lighthouse: %s already has registration %s or %s", s.ID, defName, asgName)
	}
	scope := s.scope()
	d.Name, d.Scope, d.ScopeKey = defName, scope, scope
	d.Created, d.Updated, d.CreatedBy = at, at, by
	ls.Definitions = append(ls.Definitions, d)
	ls.Assignments = append(ls.Assignments, &regAssignment{
		Name: asgName, Scope: scope, ScopeKey: scope, DefinitionID: scope + lhProvider + "registrationDefinitions/" + defName,
		DefName: defName, Created: at, CreatedBy: by,
	})
	w.refreshManagedBy(s)
	return nil
}

// lhRoleProblem says why Lighthouse refuses a role, or "".
func lhRoleProblem(r *steward.RoleDefinition, delegated bool) string {
	if strings.EqualFold(r.ID, steward.BuiltInOwner) {
		return "the Owner role is not supported by Azure Lighthouse"
	}
	if strings.EqualFold(r.ID, lhUserAccessAdminID) {
		if !delegated {
			return "User Access Administrator is supported only to assign roles to managed identities, and then delegatedRoleDefinitionIds must list the roles it may assign"
		}
		return ""
	}
	if r.RoleType != "" && r.RoleType != "BuiltInRole" {
		return "custom roles are not supported by Azure Lighthouse"
	}
	if r.HasDataActions() {
		return "roles with DataActions are not supported by Azure Lighthouse"
	}
	for _, p := range r.Permissions {
		for _, a := range p.Actions {
			for _, f := range lhUnsupportedActions {
				if strings.EqualFold(a, f) {
					return "roles with the action '" + a + "' are not supported by Azure Lighthouse"
				}
			}
		}
	}
	return ""
}

func lhInvalid(format string, args ...any) *armError {
	return newARMError(http.StatusBadRequest, "InvalidRequest", format, args...)
}

// checkDefinition validates a definition's properties against Azure's rules.
func (w *world) checkDefinition(s *subscription, props map[string]any) (*regDefinition, *armError) {
	raw, jerr := json.Marshal(props)
	if jerr != nil {
		return nil, lhInvalid("The properties could not be read.")
	}
	d := &regDefinition{Props: raw}
	tid, _ := props["managedByTenantId"].(string)
	if !isGUID(tid) {
		return nil, lhInvalid("The managedByTenantId '%s' is not a valid tenant ID (a GUID).", tid)
	}
	if strings.EqualFold(tid, s.TenantID) {
		return nil, lhInvalid("The managedByTenantId '%s' is the customer's own tenant; a delegation must name another tenant.", tid)
	}
	if w.tenants[strings.ToLower(tid)] == nil {
		return nil, lhInvalid("The managing tenant '%s' was not found.", tid)
	}
	d.ManagedByTenantID = strings.ToLower(tid)
	check := func(list any, field string, eligible bool) *armError {
		items, ok := list.([]any)
		if list != nil && !ok {
			return lhInvalid("The property '%s' must be an array.", field)
		}
		if !eligible && len(items) == 0 {
			return lhInvalid("The registration definition must have at least one authorization.")
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return lhInvalid("%s[%d] must be an object.", field, i)
			}
			pid, _ := m["principalId"].(string)
			rid, _ := m["roleDefinitionId"].(string)
			if !isGUID(pid) {
				return lhInvalid("%s[%d]: the principalId '%s' is not a valid object ID (a GUID).", field, i, pid)
			}
			if !isGUID(rid) {
				return lhInvalid("%s[%d]: the roleDefinitionId '%s' must be the GUID of an Azure built-in role.", field, i, rid)
			}
			r := roleByID(rid)
			if r == nil {
				return lhInvalid("%s[%d]: the role definition '%s' is not an Azure built-in role; custom roles are not supported by Azure Lighthouse.", field, i, rid)
			}
			delegated, _ := m["delegatedRoleDefinitionIds"].([]any)
			if eligible && strings.EqualFold(r.ID, lhUserAccessAdminID) {
				return lhInvalid("%s[%d]: User Access Administrator cannot be an eligible authorization.", field, i)
			}
			if msg := lhRoleProblem(r, len(delegated) > 0); msg != "" {
				return lhInvalid("%s[%d] (principal %s, role %s): %s.", field, i, pid, r.RoleName, msg)
			}
			if strings.EqualFold(r.ID, lhUserAccessAdminID) {
				for _, x := range delegated {
					xs, _ := x.(string)
					dr := roleByID(xs)
					switch {
					case !isGUID(xs) || dr == nil:
						return lhInvalid("%s[%d]: the delegated role definition '%s' is not an Azure built-in role.", field, i, xs)
					case strings.EqualFold(dr.ID, lhUserAccessAdminID):
						return lhInvalid("%s[%d]: User Access Administrator cannot be a delegated role.", field, i)
					}
					if msg := lhRoleProblem(dr, false); msg != "" {
						return lhInvalid("%s[%d]: the delegated role %s cannot be assigned: %s.", field, i, dr.RoleName, msg)
					}
				}
			}
			if !eligible {
				d.Auths = append(d.Auths, lhAuth{PrincipalID: strings.ToLower(pid), RoleDefinitionID: strings.ToLower(r.ID)})
			}
		}
		return nil
	}
	if err := check(props["authorizations"], "authorizations", false); err != nil {
		return nil, err
	}
	if err := check(props["eligibleAuthorizations"], "eligibleAuthorizations", true); err != nil {
		return nil, err
	}
	return d, nil
}

func (c *armCall) serveManagedServices(kind string) {
	if c.scope.Kind != scopeSubscription && c.scope.Kind != scopeGroup || len(c.rest) > 1 {
		c.fail(newARMError(http.StatusBadRequest, "InvalidScope", "Lighthouse registrations live at a subscription or resource group scope."))
		return
	}
	name := ""
	if len(c.rest) == 1 {
		name = strings.ToLower(c.rest[0])
		if !isGUID(name) {
			c.fail(lhInvalid("The %s name '%s' must be a GUID.", strings.TrimSuffix(kind, "s"), c.rest[0]))
			return
		}
	}
	isDef := kind == "registrationDefinitions"
	read, write, del := actRegAssignRead, actRegAssignWrite, actRegAssignDelete
	if isDef {
		read, write, del = actRegDefRead, actRegDefWrite, actRegDefDelete
	}
	w := c.e.w
	switch c.r.Method {
	case http.MethodGet:
		w.mu.RLock()
		c.loadGrants()
		rv, err := c.resolve(c.scope)
		if err == nil {
			err = c.denied(rv, read)
		}
		var b []byte
		if err == nil {
			b, err = c.lhGet(rv, isDef, name)
		}
		w.mu.RUnlock()
		c.send(http.StatusOK, b, err)
	case http.MethodPut:
		if name == "" {
			c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method 'PUT'."))
			return
		}
		c.action = write
		body, berr := c.readBody()
		if berr != nil {
			c.fail(berr)
			return
		}
		var in struct {
			Properties map[string]any  `json:"properties"`
			Plan       json.RawMessage `json:"plan"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			c.fail(invalidJSON(err))
			return
		}
		if in.Properties == nil {
			c.fail(lhInvalid("The request body must have properties."))
			return
		}
		w.mu.Lock()
		c.loadGrants()
		rv, err := c.resolve(c.scope)
		c.resourceID = rv.display + lhProvider + kind + "/" + name
		if err == nil {
			err = c.denied(rv, write, actRoleAssignWrite)
		}
		var status int
		var b []byte
		if err == nil {
			if isDef {
				status, b, err = c.putDefinition(rv, name, in.Properties, in.Plan)
			} else {
				status, b, err = c.putRegAssignment(rv, name, in.Properties)
			}
		}
		w.mu.Unlock()
		c.send(status, b, err)
	case http.MethodDelete:
		if name == "" {
			c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method 'DELETE'."))
			return
		}
		c.action = del
		w.mu.Lock()
		c.loadGrants()
		rv, err := c.resolve(c.scope)
		c.resourceID = rv.display + lhProvider + kind + "/" + name
		if err == nil {
			err = c.denied(rv, del)
		}
		status := http.StatusNoContent
		if err == nil {
			status, err = c.lhDelete(rv, isDef, name)
		}
		w.mu.Unlock()
		c.send(status, nil, err)
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	}
}

// denied is AuthorizationFailed for the first of the actions the caller
// may not perform at the scope, or nil.
func (c *armCall) denied(rv resolved, actions ...string) *armError {
	for _, a := range actions {
		if !allowed(c.grants, rv.key, a) {
			return c.forbidden(a, rv.display)
		}
	}
	return nil
}

func (c *armCall) putDefinition(rv resolved, name string, props map[string]any, plan json.RawMessage) (int, []byte, *armError) {
	w := c.e.w
	d, err := w.checkDefinition(rv.sub, props)
	if err != nil {
		return 0, nil, err
	}
	ls := w.lighthouse[rv.sub.ID]
	if ls == nil {
		ls = &lhSub{}
		w.lighthouse[rv.sub.ID] = ls
	}
	d.Name, d.Scope, d.ScopeKey, d.Updated = name, rv.display, rv.key, c.now
	if len(plan) > 0 && string(plan) != "null" {
		d.Plan = plan
	}
	status := http.StatusCreated
	if old := ls.definition(name); old != nil {
		if old.ScopeKey != d.ScopeKey {
			return 0, nil, newARMError(http.StatusConflict, "Conflict", "The registration definition '%s' exists at the scope '%s'.", name, old.Scope)
		}
		d.Created, d.CreatedBy = old.Created, old.CreatedBy
		*old = *d
		d = old
		status = http.StatusOK
	} else {
		d.Created, d.CreatedBy = c.now, c.c.display()
		ls.Definitions = append(ls.Definitions, d)
	}
	w.refreshManagedBy(rv.sub)
	return status, c.appendDefinition(nil, rv.sub, d), nil
}

func (c *armCall) putRegAssignment(rv resolved, name string, props map[string]any) (int, []byte, *armError) {
	w := c.e.w
	defID, _ := props["registrationDefinitionId"].(string)
	segs := splitPath(defID)
	var defName string
	if n := len(segs); n >= 6 && strings.EqualFold(segs[0], "subscriptions") && strings.EqualFold(segs[1], rv.sub.ID) &&
		strings.EqualFold(segs[n-2], "registrationDefinitions") && strings.EqualFold(segs[n-3], "Microsoft.ManagedServices") {
		defName = strings.ToLower(segs[n-1])
	}
	ls := w.lighthouse[rv.sub.ID]
	var d *regDefinition
	if ls != nil && defName != "" {
		d = ls.definition(defName)
	}
	if d == nil {
		return 0, nil, lhInvalid("The registration definition '%s' was not found in the subscription '%s'.", defID, rv.sub.ID)
	}
	if !inScope(d.ScopeKey, rv.key) {
		return 0, nil, lhInvalid("The registration definition '%s' is defined at '%s' and cannot be assigned at '%s'.", defID, d.Scope, rv.display)
	}
	status := http.StatusCreated
	var a *regAssignment
	for _, x := range ls.Assignments {
		if x.Name == name {
			a = x
		}
	}
	if a != nil {
		if a.ScopeKey != rv.key {
			return 0, nil, newARMError(http.StatusConflict, "Conflict", "The registration assignment '%s' exists at the scope '%s'.", name, a.Scope)
		}
		a.DefinitionID, a.DefName = defID, defName
		status = http.StatusOK
	} else {
		a = &regAssignment{Name: name, Scope: rv.display, ScopeKey: rv.key, DefinitionID: defID, DefName: defName, Created: c.now, CreatedBy: c.c.display()}
		ls.Assignments = append(ls.Assignments, a)
	}
	w.refreshManagedBy(rv.sub)
	return status, c.appendAssignment(nil, rv.sub, ls, a, true), nil
}

func (c *armCall) lhDelete(rv resolved, isDef bool, name string) (int, *armError) {
	w := c.e.w
	ls := w.lighthouse[rv.sub.ID]
	if ls == nil {
		return http.StatusNoContent, nil
	}
	if isDef {
		i := slices.IndexFunc(ls.Definitions, func(d *regDefinition) bool { return d.Name == name && d.ScopeKey == rv.key })
		if i < 0 {
			return http.StatusNoContent, nil
		}
		for _, a := range ls.Assignments {
			if a.DefName == name {
				return 0, newARMError(http.StatusConflict, "Conflict", "The registration definition '%s' has the registration assignment '%s'; delete the assignment first.", name, a.Name)
			}
		}
		ls.Definitions = slices.Delete(ls.Definitions, i, i+1)
		return http.StatusOK, nil
	}
	i := slices.IndexFunc(ls.Assignments, func(a *regAssignment) bool { return a.Name == name && a.ScopeKey == rv.key })
	if i < 0 {
		return http.StatusNoContent, nil
	}
	ls.Assignments = slices.Delete(ls.Assignments, i, i+1)
	w.refreshManagedBy(rv.sub)
	return http.StatusOK, nil
}

// lhGet serves one registration or the list at the scope ($filter
// managedByTenantId eq '…'; $expandRegistrationDefinition for assignments).
func (c *armCall) lhGet(rv resolved, isDef bool, name string) ([]byte, *armError) {
	ls := c.e.w.lighthouse[rv.sub.ID]
	if ls == nil {
		ls = &lhSub{}
	}
	q := c.r.URL.Query()
	expand := strings.EqualFold(q.Get("$expandRegistrationDefinition"), "true")
	var tenantFilter string
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		cl, ok := parseGraphFilter(f)
		if !ok || len(cl) != 1 || cl[0].op != "eq" || !strings.EqualFold(cl[0].prop, "managedByTenantId") {
			return nil, filterError(f)
		}
		tenantFilter = cl[0].val
	}
	if name != "" {
		if isDef {
			if d := ls.definition(name); d != nil && d.ScopeKey == rv.key {
				return c.appendDefinition(nil, rv.sub, d), nil
			}
			return nil, newARMError(http.StatusNotFound, "RegistrationDefinitionNotFound", "The registration definition '%s' was not found at the scope '%s'.", name, rv.display)
		}
		for _, a := range ls.Assignments {
			if a.Name == name && a.ScopeKey == rv.key {
				return c.appendAssignment(nil, rv.sub, ls, a, expand), nil
			}
		}
		return nil, newARMError(http.StatusNotFound, "RegistrationAssignmentNotFound", "The registration assignment '%s' was not found at the scope '%s'.", name, rv.display)
	}
	b := []byte(`{"value":[`)
	n := 0
	keep := func(d *regDefinition) bool {
		return tenantFilter == "" || d != nil && strings.EqualFold(d.ManagedByTenantID, tenantFilter)
	}
	if isDef {
		for _, d := range ls.Definitions {
			if inScope(rv.key, d.ScopeKey) && keep(d) {
				if n > 0 {
					b = append(b, ',')
				}
				b = c.appendDefinition(b, rv.sub, d)
				n++
			}
		}
	} else {
		for _, a := range ls.Assignments {
			if inScope(rv.key, a.ScopeKey) && keep(ls.definition(a.DefName)) {
				if n > 0 {
					b = append(b, ',')
				}
				b = c.appendAssignment(b, rv.sub, ls, a, expand)
				n++
			}
		}
	}
	return append(b, `]}`...), nil
}

func (c *armCall) appendDefinition(b []byte, s *subscription, d *regDefinition) []byte {
	props := map[string]any{}
	_ = json.Unmarshal(d.Props, &props) // it was marshalled from a map
	props["provisioningState"] = "Succeeded"
	props["manageeTenantId"] = s.TenantID
	if t := c.e.w.tenants[s.TenantID]; t != nil {
		props["manageeTenantName"] = t.DisplayName
	}
	if t := c.e.w.tenants[d.ManagedByTenantID]; t != nil {
		props["managedByTenantName"] = t.DisplayName
	}
	pj, _ := json.Marshal(props)
	b = append(b, `{"properties":`...)
	b = append(b, pj...)
	if d.Plan != nil {
		b = append(b, `,"plan":`...)
		b = append(b, d.Plan...)
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, d.Scope+lhProvider+"registrationDefinitions/"+d.Name)
	b = append(b, `,"type":"`+lhDefinitionsType+`","name":"`...)
	b = append(b, d.Name...)
	b = append(b, '"')
	b = appendSystemData(b, d.CreatedBy, d.Created, d.Updated)
	return append(b, '}')
}

func (c *armCall) appendAssignment(b []byte, s *subscription, ls *lhSub, a *regAssignment, expand bool) []byte {
	b = append(b, `{"properties":{"registrationDefinitionId":`...)
	b = appendJSONString(b, a.DefinitionID)
	b = append(b, `,"provisioningState":"Succeeded"`...)
	if d := ls.definition(a.DefName); expand && d != nil {
		b = append(b, `,"registrationDefinition":`...)
		b = c.appendDefinition(b, s, d)
	}
	b = append(b, `},"id":`...)
	b = appendJSONString(b, a.Scope+lhProvider+"registrationAssignments/"+a.Name)
	b = append(b, `,"type":"`+lhAssignmentsType+`","name":"`...)
	b = append(b, a.Name...)
	b = append(b, '"')
	b = appendSystemData(b, a.CreatedBy, a.Created, a.Created)
	return append(b, '}')
}

func appendSystemData(b []byte, by string, created, updated time.Time) []byte {
	typ := "User"
	if isGUID(by) {
		typ = "Application"
	}
	b = append(b, `,"systemData":{"createdBy":`...)
	b = appendJSONString(b, by)
	b = append(b, `,"createdByType":"`+typ+`","createdAt":`...)
	b = appendTime(b, created)
	b = append(b, `,"lastModifiedBy":`...)
	b = appendJSONString(b, by)
	b = append(b, `,"lastModifiedByType":"`+typ+`","lastModifiedAt":`...)
	b = appendTime(b, updated)
	return append(b, '}')
}
