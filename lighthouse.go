package steward

import "context"

// Lighthouse checks Azure Lighthouse delegations against Microsoft's rules
// and builds the onboarding templates a customer deploys. It works offline,
// from the built-in role catalog: nothing is sent to Azure, so a partner can
// check a template before any customer sees it.
type Lighthouse interface {
	// LighthouseValidate checks ARM templates, their parameters files and
	// bare registration definition bodies. A template and its parameters
	// file given together are checked as one deployment; each finding names
	// the file it concerns. Template expressions are evaluated under limits
	// on work, output, copy loops and time, and the check stops when ctx
	// ends. EINVALID when a file is not JSON or is not a Lighthouse
	// template, parameters file or registration definition; EUNPROCESSABLE
	// when evaluating a template exceeds a limit (the message names it);
	// EUNAVAILABLE, wrapping ctx's error, when ctx ends first.
	LighthouseValidate(ctx context.Context, files ...LighthouseFile) ([]LighthouseFinding, error)

	// LighthouseBuild checks the spec and writes a template and parameters
	// file that deploy as they are. It returns the findings in every case;
	// when one of them is an error no template is built. EINVALID when the
	// spec is malformed (scope, resource groups, offer name), EUNPROCESSABLE
	// when the delegation breaks a Lighthouse rule.
	LighthouseBuild(ctx context.Context, spec LighthouseSpec) (*LighthouseTemplate, []LighthouseFinding, error)

	// LighthouseRoles lists the built-in roles with whether Lighthouse
	// accepts each in an authorization, for pickers in the builder.
	LighthouseRoles(ctx context.Context) ([]LighthouseRole, error)
}

// LighthouseFile is one input file: a template, a parameters file or a
// registration definition body. Name is how the user calls it (a path or an
// upload's name); it is quoted in findings and used to pair X.json with
// X.parameters.json.
type LighthouseFile struct {
	Name string
	Data []byte
}

// LighthouseSeverity says whether a finding stops a deployment.
type LighthouseSeverity string

const (
	// LighthouseError marks a delegation Azure would refuse or that breaks a
	// documented Lighthouse rule.
	LighthouseError LighthouseSeverity = "error"
	// LighthouseWarning marks a delegation that deploys but goes against
	// Microsoft's best practice or grants more than Steward needs.
	LighthouseWarning LighthouseSeverity = "warning"
)

// Where a finding points: the whole registration definition, one of its
// authorizations, or one of its eligible (just-in-time) authorizations.
const (
	LighthouseKindDefinition    = "definition"
	LighthouseKindAuthorization = "authorization"
	LighthouseKindEligible      = "eligibleAuthorization"
)

// LighthouseFinding is one broken rule or piece of advice about a delegation.
// The JSON names are part of the CLI's --json output and the API.
type LighthouseFinding struct {
	Severity LighthouseSeverity `json:"severity"`
	Rule     string             `json:"rule"` // one of the LighthouseRule… identifiers
	Message  string             `json:"message"`
	// Authorization is the 1-based index of the authorization in its own
	// list (Kind says which list), or 0 when the finding is about the whole
	// definition.
	Authorization    int    `json:"authorization"`
	RoleDefinitionID string `json:"roleDefinitionId"` // the role concerned, or ""
	Kind             string `json:"kind"`             // LighthouseKind…
	File             string `json:"file,omitempty"`   // the input file the finding concerns
	// Definition is the 1-based index of the registration definition when a
	// template holds more than one, otherwise 0.
	Definition int `json:"definition,omitempty"`
}

// Lighthouse rule identifiers, as findings carry them. Errors first.
const (
	// Errors: Azure refuses the delegation, or Microsoft documents that the
	// role is not supported.
	LighthouseRuleOwner               = "owner"            // Owner is not supported
	LighthouseRuleDataActions         = "data-actions"     // roles with DataActions are not supported
	LighthouseRuleForbiddenAction     = "forbidden-action" // role lists an action Lighthouse does not support
	LighthouseRuleUAAWithoutDelegated = "uaa-without-delegated-roles"
	LighthouseRuleUAADelegatedRole    = "uaa-delegated-role"       // UAA may assign only supported roles other than Owner and UAA
	LighthouseRuleUnknownRole         = "unknown-role"             // custom role, or not in the built-in catalog
	LighthouseRuleEligibleUAA         = "eligible-uaa"             // UAA cannot be an eligible authorization
	LighthouseRuleEligibleDelegated   = "eligible-delegated-roles" // eligible authorizations cannot carry delegatedRoleDefinitionIds
	LighthouseRuleActivationDuration  = "activation-duration"      // maximumActivationDuration outside PT30M..PT8H
	LighthouseRuleTooManyApprovers    = "too-many-approvers"       // more than 10 managedByTenantApprovers
	LighthouseRuleEligiblePolicy      = "eligible-policy-mismatch" // same role, different just-in-time policy
	LighthouseRuleMFAProvider         = "mfa-provider"             // multiFactorAuthProvider is not Azure or None
	LighthouseRuleInvalidGUID         = "invalid-guid"             // an ID that must be a GUID is not one
	LighthouseRuleMissingField        = "missing-field"            // a required field is absent or of the wrong type
	LighthouseRuleParameterUndeclared = "parameter-not-declared"   // parameters file sets a parameter the template lacks

	// Warnings: the delegation deploys, but think again.
	LighthouseRuleNoDeleteRole        = "no-delete-role"             // only the customer could remove the delegation
	LighthouseRuleNoReader            = "no-reader"                  // no permanent */read role: the customer is missing from "My customers"
	LighthouseRuleListKeys            = "list-keys"                  // role reaches data through keys (listKeys)
	LighthouseRuleBroaderThanNeeded   = "broader-than-needed"        // role grants more than Steward's own job needs
	LighthouseRuleEligibleNoPermanent = "eligible-without-permanent" // eligible principal has no permanent authorization
	LighthouseRuleDelegatedIgnored    = "delegated-roles-ignored"    // delegatedRoleDefinitionIds on a role other than UAA
	LighthouseRulePlaceholderID       = "placeholder-id"             // the all-zero GUID from Microsoft's samples
	LighthouseRuleUnresolved          = "unresolved"                 // a value comes from an expression or parameter Steward cannot resolve
	LighthouseRuleNoAssignment        = "no-assignment"              // the template defines but never assigns the delegation
	LighthouseRuleDeploymentScope     = "deployment-scope"           // the template is not a subscription deployment
)

// LighthouseScope is what a customer delegates: a whole subscription or
// some of its resource groups.
type LighthouseScope string

// The scopes a template can delegate.
const (
	LighthouseScopeSubscription  LighthouseScope = "subscription"
	LighthouseScopeResourceGroup LighthouseScope = "resourceGroup"
)

// LighthouseSpec is what the template builder needs to write an onboarding
// template.
type LighthouseSpec struct {
	Scope          LighthouseScope `json:"scope"`
	ResourceGroups []string        `json:"resourceGroups,omitempty"` // resourceGroup scope: the groups to delegate (they must exist)
	// OfferName names the delegation as the customer sees it ("Managed by
	// …") and seeds the registration's GUID, so it must be unique per
	// managing tenant.
	OfferName              string                            `json:"offerName"`
	OfferDescription       string                            `json:"offerDescription"`
	ManagedByTenantID      string                            `json:"managedByTenantId"`
	Authorizations         []LighthouseAuthorization         `json:"authorizations"`
	EligibleAuthorizations []LighthouseEligibleAuthorization `json:"eligibleAuthorizations,omitempty"`
}

// LighthouseAuthorization is a permanent authorization: a principal in the
// managing tenant holds a built-in role on the delegated scope. The JSON
// names are Azure's.
type LighthouseAuthorization struct {
	PrincipalID            string `json:"principalId"`
	PrincipalIDDisplayName string `json:"principalIdDisplayName,omitempty"`
	// RoleDefinitionID is the built-in role's GUID. The builder also takes
	// a role name and writes the GUID.
	RoleDefinitionID string `json:"roleDefinitionId"`
	// DelegatedRoleDefinitionIDs are the roles a User Access Administrator
	// authorization may assign to managed identities; required for that
	// role and meaningless for any other.
	DelegatedRoleDefinitionIDs []string `json:"delegatedRoleDefinitionIds,omitempty"`
}

// LighthouseEligibleAuthorization is a just-in-time authorization: the
// principal must activate the role, for at most the policy's duration and
// possibly with approval.
type LighthouseEligibleAuthorization struct {
	PrincipalID            string                 `json:"principalId"`
	PrincipalIDDisplayName string                 `json:"principalIdDisplayName,omitempty"`
	RoleDefinitionID       string                 `json:"roleDefinitionId"`
	JustInTimeAccessPolicy LighthouseAccessPolicy `json:"justInTimeAccessPolicy"`
}

// LighthouseAccessPolicy is the just-in-time policy of an eligible
// authorization.
type LighthouseAccessPolicy struct {
	MultiFactorAuthProvider   string `json:"multiFactorAuthProvider"`             // "Azure" or "None"
	MaximumActivationDuration string `json:"maximumActivationDuration,omitempty"` // ISO 8601, PT30M to PT8H; Azure's default is PT8H
	// ManagedByTenantApprovers must approve each activation; at most 10
	// users or groups of the managing tenant.
	ManagedByTenantApprovers []LighthouseApprover `json:"managedByTenantApprovers,omitempty"`
}

// LighthouseApprover is a user or group of the managing tenant that approves
// activations.
type LighthouseApprover struct {
	PrincipalID            string `json:"principalId"`
	PrincipalIDDisplayName string `json:"principalIdDisplayName,omitempty"`
}

// LighthouseTemplate is a built onboarding template and its parameters
// file, ready for `az deployment sub create`.
type LighthouseTemplate struct {
	Template   []byte // the ARM template (JSON)
	Parameters []byte // its parameters file (JSON)
}

// Default file names for a built template, the pair Microsoft's tooling and
// the validator expect side by side.
const (
	LighthouseTemplateFile   = "template.json"
	LighthouseParametersFile = "template.parameters.json"
)

// LighthouseRole is a built-in role as Lighthouse sees it.
type LighthouseRole struct {
	ID        string `json:"id"` // the role's GUID
	Name      string `json:"name"`
	Supported bool   `json:"supported"`        // may be used in a permanent authorization
	Eligible  bool   `json:"eligible"`         // may be used in an eligible authorization
	Rule      string `json:"rule,omitempty"`   // when not supported: the rule that forbids it
	Reason    string `json:"reason,omitempty"` // when not supported: why, in words
}

// LighthouseRuleInfo describes a rule for help pages and the builder UI.
type LighthouseRuleInfo struct {
	ID       string             `json:"id"`
	Severity LighthouseSeverity `json:"severity"`
	Summary  string             `json:"summary"`
}

// LighthouseRules lists every rule the validator applies, errors first.
var LighthouseRules = []LighthouseRuleInfo{
	{LighthouseRuleOwner, LighthouseError, "Owner is not supported."},
	{LighthouseRuleDataActions, LighthouseError, "Roles with DataActions are not supported."},
	{LighthouseRuleForbiddenAction, LighthouseError, "Roles listing */write, */delete, Microsoft.Authorization/* or another action Microsoft lists are not supported."},
	{LighthouseRuleUAAWithoutDelegated, LighthouseError, "User Access Administrator needs delegatedRoleDefinitionIds: the roles it may assign to managed identities."},
	{LighthouseRuleUAADelegatedRole, LighthouseError, "User Access Administrator may assign only supported built-in roles other than Owner and User Access Administrator."},
	{LighthouseRuleUnknownRole, LighthouseError, "Custom roles, and roles not in the built-in catalog, are not supported."},
	{LighthouseRuleEligibleUAA, LighthouseError, "User Access Administrator cannot be an eligible authorization."},
	{LighthouseRuleEligibleDelegated, LighthouseError, "Eligible authorizations cannot carry delegatedRoleDefinitionIds."},
	{LighthouseRuleActivationDuration, LighthouseError, "maximumActivationDuration must be an ISO 8601 duration from PT30M to PT8H."},
	{LighthouseRuleTooManyApprovers, LighthouseError, "At most 10 managedByTenantApprovers."},
	{LighthouseRuleEligiblePolicy, LighthouseError, "Eligible authorizations with the same role must share one just-in-time policy."},
	{LighthouseRuleMFAProvider, LighthouseError, "multiFactorAuthProvider must be Azure or None."},
	{LighthouseRuleInvalidGUID, LighthouseError, "managedByTenantId, principal IDs and role IDs must be GUIDs."},
	{LighthouseRuleMissingField, LighthouseError, "A required field is missing or of the wrong type."},
	{LighthouseRuleParameterUndeclared, LighthouseError, "The parameters file sets a parameter the template does not declare."},
	{LighthouseRuleNoDeleteRole, LighthouseWarning, "Without the Managed Services Registration assignment Delete Role only the customer can remove the delegation."},
	{LighthouseRuleNoReader, LighthouseWarning, "Without a permanent Reader-level role the customer does not appear in \"My customers\"."},
	{LighthouseRuleListKeys, LighthouseWarning, "The role can list access keys, which reach data without DataActions."},
	{LighthouseRuleBroaderThanNeeded, LighthouseWarning, "The role grants more than Steward needs (read, tags, costs); fine for human operators."},
	{LighthouseRuleEligibleNoPermanent, LighthouseWarning, "An eligible principal should also have a permanent authorization, such as Reader."},
	{LighthouseRuleDelegatedIgnored, LighthouseWarning, "delegatedRoleDefinitionIds means something only for User Access Administrator."},
	{LighthouseRulePlaceholderID, LighthouseWarning, "The all-zero GUID is a placeholder to replace."},
	{LighthouseRuleUnresolved, LighthouseWarning, "A value Steward cannot compute offline was not checked."},
	{LighthouseRuleNoAssignment, LighthouseWarning, "The template defines a delegation but never assigns it."},
	{LighthouseRuleDeploymentScope, LighthouseWarning, "Lighthouse templates are subscription deployments."},
}
