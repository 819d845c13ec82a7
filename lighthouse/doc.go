// Package lighthouse checks Azure Lighthouse delegations against Microsoft's
// rules and builds onboarding templates that pass them. It implements
// steward.Lighthouse offline, with the built-in role catalog of package
// azroles; the web UI, the API and `steward lighthouse` all go through it.
//
// # What it reads
//
// The validator takes, in any mix:
//
//   - an ARM deployment template with a
//     Microsoft.ManagedServices/registrationDefinitions resource, at
//     subscription level, with its assignment directly or in nested
//     deployments to resource groups, as in Microsoft's samples;
//   - a deployment parameters file whose authorizations and
//     eligibleAuthorizations are in parameters.*.value;
//   - a template together with its parameters file (see Pair);
//   - a bare registration definition body, {"properties": {…}}.
//
// Template expressions are evaluated as far as a delegation needs:
// parameters(), variables(), property access and indexing, property and
// variable copy loops, and a few pure functions (concat, length, if, equals,
// createArray, createObject, json …). Other expressions (guid, resourceId,
// subscription() …) stay opaque; where one decides what is delegated, the
// finding "unresolved" says so instead of guessing. Each call evaluates and
// checks under one budget of steps, output, copy-loop iterations, nesting
// and time (budget.go), with parameter defaults and variables evaluated once
// each, so a hostile template is refused with EUNPROCESSABLE, naming the
// limit, instead of running for days.
//
// # Rules
//
// Errors are what Azure refuses or what Microsoft documents as unsupported
// ("Tenants, users, and roles in Azure Lighthouse scenarios", "Create eligible
// authorizations", "Deploy a policy that can be remediated within a delegated
// subscription"):
//
//	owner                       the Owner role
//	data-actions                a role with DataActions
//	forbidden-action            a role whose Actions list one of the actions Microsoft lists
//	                            (*/write, */delete, Microsoft.Authorization/*, …), compared as written
//	uaa-without-delegated-roles User Access Administrator without delegatedRoleDefinitionIds
//	uaa-delegated-role          delegatedRoleDefinitionIds naming Owner, User Access Administrator,
//	                            or a role that is itself unsupported or unknown
//	unknown-role                a custom role, or a GUID not in the built-in catalog
//	eligible-uaa                User Access Administrator as an eligible authorization
//	eligible-delegated-roles    delegatedRoleDefinitionIds on an eligible authorization
//	activation-duration         maximumActivationDuration outside PT30M..PT8H, or not ISO 8601
//	too-many-approvers          more than 10 managedByTenantApprovers
//	eligible-policy-mismatch    eligible authorizations with one role but different policies
//	mfa-provider                multiFactorAuthProvider other than Azure or None
//	invalid-guid                managedByTenantId, a principalId or a role ID that is not a GUID
//	missing-field               a required field absent or of the wrong type
//	parameter-not-declared      a parameters file setting a parameter its template lacks
//
// Warnings are advice; the delegation deploys:
//
//	no-delete-role              no Managed Services Registration assignment Delete Role:
//	                            only the customer could remove the delegation
//	no-reader                   no permanent role with */read: the customer is not in "My customers"
//	list-keys                   a role that lists keys (listKeys), reaching data without DataActions
//	broader-than-needed         a role granting more than Steward's job (read, tags, costs);
//	                            fine for an authorization meant for human operators
//	eligible-without-permanent  an eligible principal without a permanent authorization
//	delegated-roles-ignored     delegatedRoleDefinitionIds on a role other than User Access Administrator
//	placeholder-id              the all-zero GUID Microsoft's samples use as a placeholder
//	unresolved                  a value Steward cannot compute offline, so not checked
//	no-assignment               a template that defines but never assigns the delegation
//	deployment-scope            a template that is not a subscription deployment
//
// Microsoft's samples validate with warnings only, except where they carry
// an unfilled managedByTenantId placeholder ("<insert managing tenant id>",
// invalid-guid) and where User Access Administrator may assign Log Analytics
// Contributor (uaa-delegated-role): that role has since gained a DataAction,
// and Microsoft notes that a role that gains DataActions can no longer be
// used in new delegations.
package lighthouse
