package lighthouse

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// forbiddenActions are the actions Microsoft lists as making a role
// unsupported by Lighthouse ("Role support for Azure Lighthouse"). A role is
// out when its Actions contain one of these strings, compared as written,
// case-insensitively: Contributor's "*" is not in the list, and Microsoft's
// own samples delegate Contributor.
var forbiddenActions = []string{
	"*/write",
	"*/delete",
	"Microsoft.Authorization/*",
	"Microsoft.Authorization/*/write",
	"Microsoft.Authorization/*/delete",
	"Microsoft.Authorization/roleAssignments/write",
	"Microsoft.Authorization/roleAssignments/delete",
	"Microsoft.Authorization/roleDefinitions/write",
	"Microsoft.Authorization/roleDefinitions/delete",
	"Microsoft.Authorization/classicAdministrators/write",
	"Microsoft.Authorization/classicAdministrators/delete",
	"Microsoft.Authorization/locks/write",
	"Microsoft.Authorization/locks/delete",
	"Microsoft.Authorization/denyAssignments/write",
	"Microsoft.Authorization/denyAssignments/delete",
}

// Limits on eligible authorizations ("Create eligible authorizations").
const (
	minActivation = 30 * time.Minute
	maxActivation = 8 * time.Hour
	maxApprovers  = 10
)

const nilGUID = "00000000-0000-0000-0000-000000000000"

// violation is one reason Lighthouse does not accept a role.
type violation struct {
	rule   string
	reason string // completes "<role> …"
}

// violations lists why Lighthouse does not accept the role in an
// authorization. User Access Administrator has its own rules and is handled
// by the callers; here it shows as a role with a forbidden action.
func violations(r steward.RoleDefinition) []violation {
	if strings.EqualFold(r.ID, steward.BuiltInOwner) {
		return []violation{{steward.LighthouseRuleOwner, "is not supported by Lighthouse"}}
	}
	var out []violation
	if r.RoleType != "" && r.RoleType != "BuiltInRole" {
		out = append(out, violation{steward.LighthouseRuleUnknownRole, "is a custom role, and Lighthouse supports built-in roles only"})
	}
	if r.HasDataActions() {
		var data []string
		for _, p := range r.Permissions {
			data = append(data, p.DataActions...)
		}
		out = append(out, violation{steward.LighthouseRuleDataActions, fmt.Sprintf("has DataActions (%s), and Lighthouse does not support roles with DataActions", examples(data))})
	}
	var listed []string
	for _, p := range r.Permissions {
		for _, a := range p.Actions {
			for _, f := range forbiddenActions {
				if strings.EqualFold(a, f) && !slices.Contains(listed, a) {
					listed = append(listed, a)
				}
			}
		}
	}
	if len(listed) > 0 {
		out = append(out, violation{steward.LighthouseRuleForbiddenAction, fmt.Sprintf("includes %s, which Lighthouse lists as unsupported", examples(listed))})
	}
	return out
}

// examples quotes up to three items of a list, saying how many more there are.
func examples(list []string) string {
	const n = 3
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:n], ", "), len(list)-n)
}

// entry is one authorization or eligible authorization being checked.
type entry struct {
	kind      string // steward.LighthouseKindAuthorization or …Eligible
	index     int    // 1-based, in its own list
	file      string
	raw       map[string]any
	principal string // "" when absent or unresolved
	display   string
	roleText  string                  // roleDefinitionId as written, or "" when absent/unresolved
	role      *steward.RoleDefinition // nil when unknown or unresolved
}

// roleID is the ID findings quote: the catalog's GUID when known, else what
// the file says.
func (a *entry) roleID() string {
	if a.role != nil {
		return a.role.ID
	}
	return a.roleText
}

// label names the authorization in messages: kind, index, display name or
// principal, and role.
func (a *entry) label() string {
	kind := "Authorization"
	if a.kind == steward.LighthouseKindEligible {
		kind = "Eligible authorization"
	}
	who := fmt.Sprintf("%q", a.display)
	if a.display == "" {
		who = "principal " + cmp.Or(a.principal, "?")
	}
	role := cmp.Or(a.roleText, "no role")
	if a.role != nil {
		role = a.role.RoleName
	}
	return fmt.Sprintf("%s %d (%s, %s)", kind, a.index, who, role)
}

// checker applies the rules to one registration definition.
type checker struct {
	s   *Service
	b   *budget // findings are output, entries and their fields are steps
	def int     // 1-based definition index when a template holds several, else 0
	out []steward.LighthouseFinding

	unsureRoles bool // some role could not be resolved: skip the whole-definition advice
}

func (c *checker) add(sev steward.LighthouseSeverity, rule string, a *entry, roleID, file, format string, args ...any) {
	f := steward.LighthouseFinding{
		Severity: sev, Rule: rule, RoleDefinitionID: roleID, File: file, Definition: c.def,
		Kind: steward.LighthouseKindDefinition,
	}
	msg := fmt.Sprintf(format, args...)
	if a != nil {
		f.Kind, f.Authorization, f.File = a.kind, a.index, a.file
		msg = a.label() + ": " + msg
	}
	if !c.b.grow(findingBytes + len(msg)) {
		return
	}
	f.Message = msg
	c.out = append(c.out, f)
}

func (c *checker) errorf(rule string, a *entry, roleID, file, format string, args ...any) {
	c.add(steward.LighthouseError, rule, a, roleID, file, format, args...)
}

func (c *checker) warnf(rule string, a *entry, roleID, file, format string, args ...any) {
	c.add(steward.LighthouseWarning, rule, a, roleID, file, format, args...)
}

// check applies every rule to the definition.
func (c *checker) check(d definition) {
	c.tenant(d)
	perm, ok := c.list(d.auths, d.authsFile, steward.LighthouseKindAuthorization, true)
	var elig []*entry
	eligOK := true
	if d.hasEligible {
		elig, eligOK = c.list(d.eligible, d.eligibleFile, steward.LighthouseKindEligible, false)
	}
	for _, a := range perm {
		c.permanent(a)
	}
	permanents := map[string]bool{}
	for _, a := range perm {
		permanents[a.principal] = true
	}
	for _, a := range elig {
		c.eligible(a, permanents, ok)
	}
	c.policies(elig)
	if ok && eligOK && !c.unsureRoles {
		c.advice(perm, elig, d.authsFile)
	}
	// Whole-definition findings first, then each authorization's, errors
	// before warnings, each group in the order the rules ran.
	order := map[string]int{steward.LighthouseKindDefinition: 0, steward.LighthouseKindAuthorization: 1, steward.LighthouseKindEligible: 2}
	sev := func(s steward.LighthouseSeverity) int {
		if s == steward.LighthouseError {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(c.out, func(a, b steward.LighthouseFinding) int {
		return cmp.Or(
			cmp.Compare(order[a.Kind], order[b.Kind]),
			cmp.Compare(a.Authorization, b.Authorization),
			cmp.Compare(sev(a.Severity), sev(b.Severity)),
		)
	})
}

func (c *checker) tenant(d definition) {
	switch v := d.tenant.(type) {
	case nil:
		c.errorf(steward.LighthouseRuleMissingField, nil, "", d.tenantFile, "The registration definition has no managedByTenantId (the managing tenant's ID).")
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, nil, "", d.tenantFile, "managedByTenantId comes from %s, which Steward cannot resolve offline, so it was not checked.", v)
	case string:
		switch {
		case strings.TrimSpace(v) == "":
			c.errorf(steward.LighthouseRuleMissingField, nil, "", d.tenantFile, "managedByTenantId is empty; it must be the managing tenant's ID.")
		case strings.EqualFold(v, nilGUID):
			c.warnf(steward.LighthouseRulePlaceholderID, nil, "", d.tenantFile, "managedByTenantId is the all-zero GUID, a placeholder: put the managing tenant's ID there.")
		case !steward.IsGUID(v):
			c.errorf(steward.LighthouseRuleInvalidGUID, nil, "", d.tenantFile, "managedByTenantId %q is not a GUID%s; it must be the managing tenant's ID.", v, placeholderHint(v))
		}
	default:
		c.errorf(steward.LighthouseRuleMissingField, nil, "", d.tenantFile, "managedByTenantId is %s, not a string.", jsonType(v))
	}
}

func placeholderHint(s string) string {
	if strings.ContainsAny(s, "<>") || strings.Contains(strings.ToLower(s), "insert") {
		return " (it looks like a placeholder left to fill in)"
	}
	return ""
}

// list reads an authorizations array. It reports false when the array
// cannot be checked as a whole (absent, unresolved, not an array).
func (c *checker) list(v any, file, kind string, required bool) ([]*entry, bool) {
	name := "authorizations"
	if kind == steward.LighthouseKindEligible {
		name = "eligibleAuthorizations"
	}
	switch v := v.(type) {
	case nil:
		if required {
			c.errorf(steward.LighthouseRuleMissingField, nil, "", file, "The registration definition has no authorizations; Lighthouse needs at least one.")
			return nil, false
		}
		return nil, true
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, nil, "", file, "%s come from %s, which Steward cannot resolve offline, so they were not checked; check the template together with its parameters file.", name, v)
		return nil, false
	case []any:
		if len(v) == 0 && required {
			c.errorf(steward.LighthouseRuleMissingField, nil, "", file, "The registration definition's authorizations are empty; Lighthouse needs at least one.")
			return nil, false
		}
		var out []*entry
		for i, item := range v {
			a := &entry{kind: kind, index: i + 1, file: file}
			if !c.b.step() {
				return nil, false
			}
			switch item := item.(type) {
			case map[string]any:
				// Fields are looked up case-insensitively, a scan each.
				if !c.b.work(len(item)) {
					return nil, false
				}
				a.raw = item
				c.parse(a)
				out = append(out, a)
			case unresolved:
				c.unsureRoles = true
				c.warnf(steward.LighthouseRuleUnresolved, a, "", file, "the authorization comes from %s, which Steward cannot resolve offline, so it was not checked.", item)
			default:
				c.errorf(steward.LighthouseRuleMissingField, a, "", file, "the authorization is %s, not an object.", jsonType(item))
			}
		}
		return out, true
	default:
		c.errorf(steward.LighthouseRuleMissingField, nil, "", file, "%s is %s, not an array.", name, jsonType(v))
		return nil, false
	}
}

// parse reads and checks an authorization's principal and role.
func (c *checker) parse(a *entry) {
	a.display, _ = getFold(a.raw, "principalIdDisplayName").(string)
	role := getFold(a.raw, "roleDefinitionId")
	switch r := role.(type) {
	case string:
		a.roleText = r
		a.role = c.lookupRole(r)
	case unresolved:
		c.unsureRoles = true
	}
	c.principal(a, getFold(a.raw, "principalId"), "principalId", a.roleID())
	switch r := role.(type) {
	case nil:
		c.errorf(steward.LighthouseRuleMissingField, a, "", a.file, "roleDefinitionId is missing.")
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, "", a.file, "roleDefinitionId comes from %s, which Steward cannot resolve offline, so the role was not checked.", r)
	case string:
		if strings.TrimSpace(r) == "" {
			c.errorf(steward.LighthouseRuleMissingField, a, "", a.file, "roleDefinitionId is empty.")
			break
		}
		c.roleIDFormat(a, r, "roleDefinitionId", a.role)
		if a.role == nil && steward.IsGUID(r) {
			c.errorf(steward.LighthouseRuleUnknownRole, a, r, a.file, "role %s is not an Azure built-in role; Lighthouse does not support custom roles. (If Microsoft added it after Steward's role catalog was taken, check it by hand.)", r)
		}
	default:
		c.errorf(steward.LighthouseRuleMissingField, a, "", a.file, "roleDefinitionId is %s, not a string.", jsonType(r))
	}
}

// lookupRole finds a role by GUID, full role definition ID or name.
func (c *checker) lookupRole(s string) *steward.RoleDefinition {
	if r, ok := c.s.roles.ByID(s); ok {
		return &r
	}
	if r, ok := c.s.roles.ByName(s); ok {
		return &r
	}
	return nil
}

// roleIDFormat reports a role reference that is not a bare GUID, naming the
// GUID to use when the role is known.
func (c *checker) roleIDFormat(a *entry, s, field string, r *steward.RoleDefinition) {
	if steward.IsGUID(s) {
		return
	}
	id := s
	hint := ""
	if r != nil {
		id = r.ID
		hint = fmt.Sprintf("; use %s (%s)", r.ID, r.RoleName)
	}
	c.errorf(steward.LighthouseRuleInvalidGUID, a, id, a.file, "%s %q is not a GUID%s.", field, s, hint)
}

// principal checks a principal ID: present, a GUID, not the placeholder.
// The authorization's own principalId is remembered for later rules.
func (c *checker) principal(a *entry, v any, field, roleID string) {
	switch p := v.(type) {
	case nil:
		c.errorf(steward.LighthouseRuleMissingField, a, roleID, a.file, "%s is missing.", field)
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, roleID, a.file, "%s comes from %s, which Steward cannot resolve offline.", field, p)
	case string:
		if field == "principalId" {
			a.principal = strings.ToLower(p)
		}
		switch {
		case strings.TrimSpace(p) == "":
			c.errorf(steward.LighthouseRuleMissingField, a, roleID, a.file, "%s is empty.", field)
		case strings.EqualFold(p, nilGUID):
			c.warnf(steward.LighthouseRulePlaceholderID, a, roleID, a.file, "%s is the all-zero GUID, a placeholder: put the object ID of a user, group or service principal of the managing tenant there.", field)
		case !steward.IsGUID(p):
			c.errorf(steward.LighthouseRuleInvalidGUID, a, roleID, a.file, "%s %q is not a GUID%s.", field, p, placeholderHint(p))
		}
	default:
		c.errorf(steward.LighthouseRuleMissingField, a, roleID, a.file, "%s is %s, not a string.", field, jsonType(p))
	}
}

func isUAA(r *steward.RoleDefinition) bool {
	return r != nil && strings.EqualFold(r.ID, steward.BuiltInUserAccessAdministrator)
}

// delegatedIDs returns delegatedRoleDefinitionIds: the list, whether the
// field is present, and whether it is an array.
func delegatedIDs(a *entry) (list []any, present bool, v any) {
	v = getFold(a.raw, "delegatedRoleDefinitionIds")
	list, _ = v.([]any)
	return list, v != nil, v
}

// permanent applies the rules for a permanent authorization.
func (c *checker) permanent(a *entry) {
	if a.role == nil {
		return
	}
	list, present, raw := delegatedIDs(a)
	if isUAA(a.role) {
		switch {
		case !present || (raw != nil && len(list) == 0 && isArray(raw)):
			c.errorf(steward.LighthouseRuleUAAWithoutDelegated, a, a.role.ID, a.file, "User Access Administrator is supported only to assign roles to managed identities, and then delegatedRoleDefinitionIds must list the roles it may assign.")
		case !isArray(raw):
			if u, ok := raw.(unresolved); ok {
				c.warnf(steward.LighthouseRuleUnresolved, a, a.role.ID, a.file, "delegatedRoleDefinitionIds comes from %s, which Steward cannot resolve offline, so the roles it may assign were not checked.", u)
			} else {
				c.errorf(steward.LighthouseRuleMissingField, a, a.role.ID, a.file, "delegatedRoleDefinitionIds is %s, not an array.", jsonType(raw))
			}
		default:
			c.delegated(a, list)
		}
		return
	}
	vs := violations(*a.role)
	for _, v := range vs {
		c.errorf(v.rule, a, a.role.ID, a.file, "%s %s.", a.role.RoleName, v.reason)
	}
	if present && (!isArray(raw) || len(list) > 0) {
		c.warnf(steward.LighthouseRuleDelegatedIgnored, a, a.role.ID, a.file, "delegatedRoleDefinitionIds applies only to User Access Administrator; for %s it grants nothing, so remove it.", a.role.RoleName)
	}
	if len(vs) == 0 {
		c.roleAdvice(a)
	}
}

func isArray(v any) bool {
	_, ok := v.([]any)
	return ok
}

// delegated checks the roles a User Access Administrator authorization may
// assign: Microsoft says any supported built-in role except User Access
// Administrator and Owner.
func (c *checker) delegated(a *entry, list []any) {
	var names []string
	for i, v := range list {
		if !c.b.step() {
			return
		}
		field := fmt.Sprintf("delegatedRoleDefinitionIds[%d]", i)
		switch id := v.(type) {
		case unresolved:
			c.warnf(steward.LighthouseRuleUnresolved, a, a.role.ID, a.file, "%s comes from %s, which Steward cannot resolve offline.", field, id)
		case string:
			r := c.lookupRole(id)
			c.roleIDFormat(a, id, field, r)
			switch {
			case r == nil:
				if steward.IsGUID(id) {
					c.errorf(steward.LighthouseRuleUAADelegatedRole, a, id, a.file, "%s is %s, which is not an Azure built-in role; User Access Administrator may assign only supported built-in roles.", field, id)
				}
			case strings.EqualFold(r.ID, steward.BuiltInOwner) || isUAA(r):
				c.errorf(steward.LighthouseRuleUAADelegatedRole, a, r.ID, a.file, "%s is %s; User Access Administrator may assign any supported built-in role except Owner and User Access Administrator.", field, r.RoleName)
			default:
				for _, vi := range violations(*r) {
					c.errorf(steward.LighthouseRuleUAADelegatedRole, a, r.ID, a.file, "%s is %s (%s), which %s; User Access Administrator may assign only roles Lighthouse supports.", field, r.RoleName, r.ID, vi.reason)
				}
				names = append(names, r.RoleName)
			}
		default:
			c.errorf(steward.LighthouseRuleMissingField, a, a.role.ID, a.file, "%s is %s, not a string.", field, jsonType(id))
		}
	}
	if len(names) > 0 {
		c.warnf(steward.LighthouseRuleBroaderThanNeeded, a, a.role.ID, a.file, "this lets the principal assign %s to managed identities in the customer's tenant, which Steward's own work (reading inventory and costs, editing tags) never needs. Keep it if people or automation of the managing tenant need it.", examples(names))
	}
}

// roleAdvice warns about supported roles that reach data through keys or
// grant more than Steward needs.
func (c *checker) roleAdvice(a *entry) {
	r := a.role
	if keys := keyActions(*r); len(keys) > 0 {
		c.warnf(steward.LighthouseRuleListKeys, a, r.ID, a.file, "%s can list access keys (%s); keys reach the data even though Lighthouse delegates no DataActions.", r.RoleName, examples(keys))
	}
	if extra := c.s.beyondNeeds(*r); len(extra) > 0 {
		c.warnf(steward.LighthouseRuleBroaderThanNeeded, a, r.ID, a.file, "%s can write, delete or act beyond what Steward needs (%s); Steward's own service principal needs only Reader, Tag Contributor and Cost Management Reader. Keep it if this authorization is for people who operate the customer's resources.", r.RoleName, examples(extra))
	}
}

// keyActions returns the role's actions that list keys: those naming
// listKeys, and a storage account's listKeys when a wildcard grants it.
func keyActions(r steward.RoleDefinition) []string {
	var out []string
	for _, p := range r.Permissions {
		for _, a := range p.Actions {
			if strings.Contains(strings.ToLower(a), "listkeys") && !matchesAnyFold(p.NotActions, a) {
				out = append(out, a)
			}
		}
	}
	const storageKeys = "Microsoft.Storage/storageAccounts/listKeys/action"
	if len(out) == 0 && r.Allows(storageKeys) {
		out = append(out, storageKeys)
	}
	return out
}

func matchesAnyFold(patterns []string, action string) bool {
	for _, p := range patterns {
		if steward.MatchAction(p, action) {
			return true
		}
	}
	return false
}

// eligible applies the rules for an eligible authorization.
func (c *checker) eligible(a *entry, permanents map[string]bool, permOK bool) {
	if a.role != nil {
		if isUAA(a.role) {
			c.errorf(steward.LighthouseRuleEligibleUAA, a, a.role.ID, a.file, "User Access Administrator cannot be an eligible authorization; only permanent authorizations may assign roles to managed identities.")
		} else {
			vs := violations(*a.role)
			for _, v := range vs {
				c.errorf(v.rule, a, a.role.ID, a.file, "%s %s.", a.role.RoleName, v.reason)
			}
			if len(vs) == 0 {
				c.roleAdvice(a)
			}
		}
	}
	if list, present, raw := delegatedIDs(a); present && (!isArray(raw) || len(list) > 0) {
		c.errorf(steward.LighthouseRuleEligibleDelegated, a, a.roleID(), a.file, "eligible authorizations cannot carry delegatedRoleDefinitionIds; put the User Access Administrator authorization in the permanent list.")
	}
	c.policy(a)
	if permOK && a.principal != "" && !strings.EqualFold(a.principal, nilGUID) && !permanents[a.principal] {
		c.warnf(steward.LighthouseRuleEligibleNoPermanent, a, a.roleID(), a.file, "principal %s has no permanent authorization; Microsoft advises also giving it a permanent one with another role, such as Reader, so it can see the delegation before it activates.", a.principal)
	}
}

// policyKey is an eligible authorization's just-in-time policy, normalised
// for comparison.
type policyKey struct {
	mfa       string
	duration  string
	approvers string
}

// policy checks the just-in-time access policy and returns it normalised.
func (c *checker) policy(a *entry) policyKey {
	key := policyKey{mfa: "none", duration: maxActivation.String()}
	raw := getFold(a.raw, "justInTimeAccessPolicy")
	var pol map[string]any
	switch p := raw.(type) {
	case nil:
		return key
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, a.roleID(), a.file, "justInTimeAccessPolicy comes from %s, which Steward cannot resolve offline.", p)
		return key
	case map[string]any:
		if !c.b.work(len(p)) {
			return key
		}
		pol = p
	default:
		c.errorf(steward.LighthouseRuleMissingField, a, a.roleID(), a.file, "justInTimeAccessPolicy is %s, not an object.", jsonType(p))
		return key
	}
	switch m := getFold(pol, "multiFactorAuthProvider").(type) {
	case nil:
		c.errorf(steward.LighthouseRuleMissingField, a, a.roleID(), a.file, "justInTimeAccessPolicy.multiFactorAuthProvider is missing; it must be \"Azure\" or \"None\".")
	case string:
		if !strings.EqualFold(m, "Azure") && !strings.EqualFold(m, "None") {
			c.errorf(steward.LighthouseRuleMFAProvider, a, a.roleID(), a.file, "justInTimeAccessPolicy.multiFactorAuthProvider is %q; it must be \"Azure\" or \"None\".", m)
		}
		key.mfa = strings.ToLower(m)
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, a.roleID(), a.file, "multiFactorAuthProvider comes from %s, which Steward cannot resolve offline.", m)
	default:
		c.errorf(steward.LighthouseRuleMFAProvider, a, a.roleID(), a.file, "justInTimeAccessPolicy.multiFactorAuthProvider is %s; it must be \"Azure\" or \"None\".", jsonType(m))
	}
	switch d := getFold(pol, "maximumActivationDuration").(type) {
	case nil:
	case string:
		dur, ok := parseISODuration(d)
		switch {
		case !ok:
			c.errorf(steward.LighthouseRuleActivationDuration, a, a.roleID(), a.file, "maximumActivationDuration %q is not an ISO 8601 duration such as PT30M, PT4H or PT8H.", d)
		case dur < minActivation || dur > maxActivation:
			c.errorf(steward.LighthouseRuleActivationDuration, a, a.roleID(), a.file, "maximumActivationDuration %s is %s; it must be from 30 minutes (PT30M) to 8 hours (PT8H).", d, dur)
		}
		key.duration = d
		if ok {
			key.duration = dur.String()
		}
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, a.roleID(), a.file, "maximumActivationDuration comes from %s, which Steward cannot resolve offline.", d)
	default:
		c.errorf(steward.LighthouseRuleActivationDuration, a, a.roleID(), a.file, "maximumActivationDuration is %s, not an ISO 8601 duration string.", jsonType(d))
	}
	switch ap := getFold(pol, "managedByTenantApprovers").(type) {
	case nil:
	case []any:
		if len(ap) > maxApprovers {
			c.errorf(steward.LighthouseRuleTooManyApprovers, a, a.roleID(), a.file, "justInTimeAccessPolicy lists %d managedByTenantApprovers; at most %d users or groups may approve.", len(ap), maxApprovers)
		}
		var ids []string
		for i, x := range ap {
			if !c.b.step() {
				return key
			}
			field := fmt.Sprintf("managedByTenantApprovers[%d].principalId", i)
			m, ok := x.(map[string]any)
			if !ok {
				c.errorf(steward.LighthouseRuleMissingField, a, a.roleID(), a.file, "managedByTenantApprovers[%d] is %s, not an object.", i, jsonType(x))
				continue
			}
			if !c.b.work(len(m)) {
				return key
			}
			p, _ := getFold(m, "principalId").(string)
			ids = append(ids, strings.ToLower(p))
			c.principal(a, getFold(m, "principalId"), field, a.roleID())
		}
		slices.Sort(ids)
		key.approvers = strings.Join(ids, ",")
	case unresolved:
		c.warnf(steward.LighthouseRuleUnresolved, a, a.roleID(), a.file, "managedByTenantApprovers comes from %s, which Steward cannot resolve offline.", ap)
	default:
		c.errorf(steward.LighthouseRuleMissingField, a, a.roleID(), a.file, "managedByTenantApprovers is %s, not an array.", jsonType(ap))
	}
	return key
}

// policies checks that eligible authorizations with the same role share one
// access policy, as Microsoft requires.
func (c *checker) policies(elig []*entry) {
	type first struct {
		a   *entry
		key policyKey
	}
	seen := map[string]first{}
	for _, a := range elig {
		if a.role == nil {
			continue
		}
		probe := &checker{s: c.s, b: c.b} // policy() reports; count findings once, here
		key := probe.policy(a)
		id := strings.ToLower(a.role.ID)
		f, ok := seen[id]
		if !ok {
			seen[id] = first{a, key}
			continue
		}
		if f.key != key {
			c.errorf(steward.LighthouseRuleEligiblePolicy, a, a.role.ID, a.file, "its just-in-time policy differs from eligible authorization %d's for the same role; Lighthouse requires eligible authorizations with the same role to share one policy (MFA, maximum duration and approvers).", f.a.index)
		}
	}
}

// advice gives the whole-definition best-practice warnings.
func (c *checker) advice(perm, elig []*entry, file string) {
	hasDelete, hasReader := false, false
	for _, a := range append(slices.Clone(perm), elig...) {
		if a.role != nil && strings.EqualFold(a.role.ID, steward.BuiltInRegistrationAssignmentDelete) {
			hasDelete = true
		}
	}
	for _, a := range perm {
		if a.role != nil && !isUAA(a.role) && len(violations(*a.role)) == 0 && a.role.Allows("*/read") {
			hasReader = true
		}
	}
	if !hasDelete {
		c.warnf(steward.LighthouseRuleNoDeleteRole, nil, steward.BuiltInRegistrationAssignmentDelete, file, "No authorization holds the Managed Services Registration assignment Delete Role (%s), so only the customer could remove this delegation; Microsoft recommends including it.", steward.BuiltInRegistrationAssignmentDelete)
	}
	if !hasReader {
		c.warnf(steward.LighthouseRuleNoReader, nil, steward.BuiltInReader, file, "No permanent authorization grants read access to everything (Reader or a role that includes it), so the managing tenant's users will not see this customer in \"My customers\".")
	}
}

// parseISODuration parses an ISO 8601 duration as Azure writes them
// (PT30M, PT8H, P1DT2H, PT1.5H). Years count 365 days and months 30; the
// result only needs to be compared with Lighthouse's limits.
func parseISODuration(s string) (time.Duration, bool) {
	if len(s) < 3 || s[0] != 'P' {
		return 0, false
	}
	var total float64
	inTime, seen := false, false
	var num []byte // appended, not concatenated: a long number stays linear
	units := map[byte]float64{
		'Y': 365 * 24 * float64(time.Hour), 'W': 7 * 24 * float64(time.Hour), 'D': 24 * float64(time.Hour),
	}
	timeUnits := map[byte]float64{'H': float64(time.Hour), 'M': float64(time.Minute), 'S': float64(time.Second)}
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == 'T':
			if inTime || len(num) > 0 {
				return 0, false
			}
			inTime = true
		case (ch >= '0' && ch <= '9') || ch == '.' || ch == ',':
			if ch == ',' {
				ch = '.'
			}
			num = append(num, ch)
		default:
			if len(num) == 0 {
				return 0, false
			}
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil {
				return 0, false
			}
			var unit float64
			var ok bool
			switch {
			case inTime:
				unit, ok = timeUnits[ch]
			case ch == 'M':
				unit, ok = 30*24*float64(time.Hour), true
			default:
				unit, ok = units[ch]
			}
			if !ok {
				return 0, false
			}
			total += f * unit
			num, seen = num[:0], true
		}
	}
	if len(num) > 0 || !seen || (inTime && strings.HasSuffix(s, "T")) {
		return 0, false
	}
	return time.Duration(total), true
}
