package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/stewardhq/steward"
)

// scope says who may call a route.
type scope int

const (
	scopePublic   scope = iota // anyone, signed in or not
	scopeSignedIn              // any signed-in user; the handler limits them to their own things
	scopeGlobal                // the permission on every tenant
	scopeSome                  // the permission on at least one tenant; the handler filters by tenant
	scopeTenant                // the permission on the tenant in the {tenantId} path value
)

// kind says how a route answers, errors included.
type kind int

const (
	kindAPI  kind = iota // JSON, {"error":…} on failure, 401 when not signed in
	kindPage             // HTML, a redirect to /login when not signed in
	kindRaw              // plain: health, metrics, static files
)

// handlerFunc is a route handler; a returned error is written in the
// route's kind (JSON or HTML) with the status of its code.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route declares one endpoint and the access it needs.
type route struct {
	method, path string
	scope        scope
	perm         steward.Permission
	kind         kind
	h            handlerFunc
	doc          *apiDoc // OpenAPI description; required for kindAPI
	// open, when set, lets a request it accepts through without sign-in
	// or permission (input is still checked): the consent answer of a
	// consent link, which the customer's admin brings with no session.
	open func(r *http.Request) bool
}

// pattern is the net/http mux pattern.
func (rt *route) pattern() string { return rt.method + " " + rt.path }

// routeTable lists every route. Keep it the only place routes are added:
// the access checks, the OpenAPI document and the role-matrix test all
// read it.
func (s *Server) routeTable() []*route {
	return []*route{
		// Health and metrics.
		{method: "GET", path: "/healthz", scope: scopePublic, kind: kindRaw, h: s.handleHealthz},
		{method: "GET", path: "/readyz", scope: scopePublic, kind: kindRaw, h: s.handleReadyz},
		{method: "GET", path: "/metrics", scope: scopeSignedIn, kind: kindRaw, h: s.handleMetrics},
		{method: "GET", path: "/static/", scope: scopePublic, kind: kindRaw, h: s.handleStatic},

		// API: the document itself, the caller, users and grants, tokens, audit.
		{method: "GET", path: "/api/v1/openapi.json", scope: scopePublic, kind: kindAPI, h: s.handleOpenAPI,
			doc: &apiDoc{tag: "meta", summary: "This OpenAPI document", response: "object"}},
		{method: "GET", path: "/api/v1/me", scope: scopeSignedIn, kind: kindAPI, h: s.apiMe,
			doc: &apiDoc{tag: "account", summary: "The signed-in user, with grants and permissions", response: "Me"}},
		{method: "PUT", path: "/api/v1/me/password", scope: scopeSignedIn, kind: kindAPI, h: s.apiChangePassword,
			doc: &apiDoc{tag: "account", summary: "Change your own password (browser sessions only); ends your sessions and revokes your tokens", request: "PasswordChange", status: 204}},
		{method: "GET", path: "/api/v1/users", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiListUsers,
			doc: &apiDoc{tag: "users", summary: "List users", response: "UserList"}},
		{method: "POST", path: "/api/v1/users", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiCreateUser,
			doc: &apiDoc{tag: "users", summary: "Create a user (browser sessions only)", request: "UserCreate", response: "User", status: 201}},
		{method: "GET", path: "/api/v1/users/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiGetUser,
			doc: &apiDoc{tag: "users", summary: "Get a user", response: "User"}},
		{method: "PATCH", path: "/api/v1/users/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiUpdateUser,
			doc: &apiDoc{tag: "users", summary: "Change a user's details, password or status; a password needs a browser session, and ends the user's sessions and revokes their tokens", request: "UserUpdate", response: "User"}},
		{method: "DELETE", path: "/api/v1/users/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiDeleteUser,
			doc: &apiDoc{tag: "users", summary: "Delete a user with their grants, sessions and tokens", status: 204}},
		{method: "POST", path: "/api/v1/users/{id}/grants", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiCreateGrant,
			doc: &apiDoc{tag: "users", summary: "Grant a user a role on all tenants or on listed tenants", request: "GrantCreate", response: "Grant", status: 201}},
		{method: "DELETE", path: "/api/v1/grants/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindAPI, h: s.apiDeleteGrant,
			doc: &apiDoc{tag: "users", summary: "Remove a grant", status: 204}},
		{method: "GET", path: "/api/v1/tokens", scope: scopeSignedIn, kind: kindAPI, h: s.apiListTokens,
			doc: &apiDoc{tag: "tokens", summary: "List your API tokens (admins: everyone's with all=true)", query: []param{{"all", "boolean", "Admins only: list every user's tokens"}}, response: "TokenList"}},
		{method: "POST", path: "/api/v1/tokens", scope: scopeSignedIn, kind: kindAPI, h: s.apiCreateToken,
			doc: &apiDoc{tag: "tokens", summary: "Create an API token for yourself (browser sessions only), expiring in expiresIn (30d unless given, at most 730d); the token is in this response only", request: "TokenCreate", response: "TokenCreated", status: 201}},
		{method: "DELETE", path: "/api/v1/tokens/{id}", scope: scopeSignedIn, kind: kindAPI, h: s.apiRevokeToken,
			doc: &apiDoc{tag: "tokens", summary: "Revoke one of your tokens (admins: anyone's)", status: 204}},
		{method: "GET", path: "/api/v1/audit", scope: scopeSome, perm: steward.PermAuditRead, kind: kindAPI, h: s.apiListAudit,
			doc: &apiDoc{tag: "audit", summary: "List audit events, newest first", query: auditQuery(true), response: "AuditList"}},
		{method: "GET", path: "/api/v1/audit/export", scope: scopeSome, perm: steward.PermAuditRead, kind: kindAPI, h: s.apiExportAudit,
			doc: &apiDoc{tag: "audit", summary: "Export matching audit events as CSV or JSON", query: append(auditQuery(false), param{"format", "string", "csv (default) or json"}), response: "export"}},
		{method: "POST", path: "/api/v1/audit/verify", scope: scopeSome, perm: steward.PermAuditRead, kind: kindAPI, h: s.apiVerifyAudit,
			doc: &apiDoc{tag: "audit", summary: "Check the audit log's hash chain", response: "AuditVerification"}},

		{method: "POST", path: "/api/v1/lighthouse/validate", scope: scopeSignedIn, kind: kindAPI, h: s.apiLighthouseValidate,
			doc: &apiDoc{tag: "lighthouse", summary: "Check Lighthouse templates, parameters files or registration definitions against Microsoft's rules", request: "LighthouseValidate", response: "LighthouseReport"}},
		{method: "POST", path: "/api/v1/lighthouse/templates", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiLighthouseBuild,
			doc: &apiDoc{tag: "lighthouse", summary: "Build an onboarding template and parameters file; 422 with findings when the delegation breaks a rule", request: "LighthouseSpec", response: "LighthouseBuilt"}},
		{method: "GET", path: "/api/v1/lighthouse/roles", scope: scopeSignedIn, kind: kindAPI, h: s.apiLighthouseRoles,
			doc: &apiDoc{tag: "lighthouse", summary: "Built-in roles and whether Lighthouse accepts each", response: "LighthouseRoleList"}},

		{method: "GET", path: "/api/v1/subscriptions", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListSubscriptions,
			doc: &apiDoc{tag: "inventory", summary: "Subscriptions with their sync levels, by name, paged", query: []param{{"tenant", "string", "Only this tenant's"},
				{"q", "string", "Part of the display name or ID"}, {"state", "string", syncHealthDoc},
				{"limit", "integer", "At most this many (1–1000, default 1000)"}, {"cursor", "string", "The next value of the previous page"}}, response: "SubscriptionList"}},
		{method: "GET", path: "/api/v1/subscriptions/{subscriptionId}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiGetSubscription,
			doc: &apiDoc{tag: "inventory", summary: "One subscription", response: "Subscription"}},
		{method: "PUT", path: "/api/v1/subscriptions/{subscriptionId}/sync-level", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiSetSyncLevel,
			doc: &apiDoc{tag: "inventory", summary: "Set what Steward may do in a subscription: no-resources, no-tags, read-tags or read-write-tags; takes effect at once", request: "SyncLevel", response: "Subscription"}},
		{method: "POST", path: "/api/v1/subscriptions/{subscriptionId}/sync", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiSyncNow,
			doc: &apiDoc{tag: "inventory", summary: "Sync a subscription now (or get the sync already queued or running)", response: "SyncRun", status: 202}},
		{method: "GET", path: "/api/v1/subscriptions/{subscriptionId}/sync-runs", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListSyncRuns,
			doc: &apiDoc{tag: "inventory", summary: "A subscription's recent syncs", response: "SyncRunList"}},
		{method: "GET", path: "/api/v1/sync-runs/{id}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiGetSyncRun,
			doc: &apiDoc{tag: "inventory", summary: "A sync run, with progress and an estimated finish", response: "SyncRun"}},
		{method: "GET", path: "/api/v1/resources", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListResources,
			doc: &apiDoc{tag: "inventory", summary: "Resources, filtered and paged", query: resourceQuery(true), response: "ResourceList"}},
		{method: "GET", path: "/api/v1/resource", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiGetResource,
			doc: &apiDoc{tag: "inventory", summary: "One resource by ARM ID, with its tag history", query: []param{{"id", "string", "The resource's ARM ID"}}, response: "ResourceDetail"}},
		{method: "GET", path: "/api/v1/tag-keys", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiTagKeys,
			doc: &apiDoc{tag: "inventory", summary: "Tag names in use, with every spelling (for normalising)", query: resourceQuery(false), response: "TagKeyList"}},
		{method: "POST", path: "/api/v1/tag-edits", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindAPI, h: s.apiCreateTagEdit,
			doc: &apiDoc{tag: "tags", summary: "Edit tags on listed resources or a filter; with dryRun, preview exactly what changes (200); else store and write back (202)", request: "TagEditCreate", response: "TagEdit", status: 202}},
		{method: "GET", path: "/api/v1/tag-edits", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListTagEdits,
			doc: &apiDoc{tag: "tags", summary: "Recent tag edits", response: "TagEditList"}},
		{method: "GET", path: "/api/v1/tag-edits/{id}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiGetTagEdit,
			doc: &apiDoc{tag: "tags", summary: "A tag edit's state and its items", query: []param{{"cursor", "string", "The nextItems value of the previous page"}}, response: "TagEdit"}},
		{method: "POST", path: "/api/v1/tag-edit-items/{id}/resolve", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindAPI, h: s.apiResolveConflict,
			doc: &apiDoc{tag: "tags", summary: "Settle a conflict: keep Azure's value, or write Steward's over it", request: "Resolve", response: "TagEditItem"}},
		{method: "GET", path: "/api/v1/costs", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiCosts,
			doc: &apiDoc{tag: "spend", summary: "Spend grouped by tag, subscription, resource group, service or day", query: costParams, response: "CostList"}},
		{method: "GET", path: "/api/v1/cost-imports", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiCostImports,
			doc: &apiDoc{tag: "spend", summary: "How far each subscription's costs are imported (days stored of the days imported) and why an import waits", response: "CostImportList"}},

		{method: "GET", path: "/api/v1/tenants", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListTenants,
			doc: &apiDoc{tag: "tenants", summary: "Connected tenants, by name, paged", query: []param{{"q", "string", "Part of the name or tenant ID"},
				{"state", "string", "active or revoked; or, of its subscriptions' syncs, " + syncHealthDoc},
				{"limit", "integer", "At most this many (1–1000, default 1000)"}, {"cursor", "string", "The next value of the previous page"}}, response: "TenantList"}},
		{method: "POST", path: "/api/v1/tenants", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiCreateTenant,
			doc: &apiDoc{tag: "tenants", summary: "Connect a tenant with a service principal (read credential, and optionally a separate write credential); secrets are sealed and never returned", request: "TenantCreate", response: "Tenant", status: 201}},
		{method: "POST", path: "/api/v1/tenants/lighthouse", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiConnectLighthouse,
			doc: &apiDoc{tag: "tenants", summary: "Connect the partner's managing tenant: Steward's app then works in the customer subscriptions delegated to it through Azure Lighthouse", request: "LighthouseConnect", response: "Tenant", status: 201}},
		{method: "GET", path: "/api/v1/tenants/{tenantId}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiGetTenant,
			doc: &apiDoc{tag: "tenants", summary: "A tenant with its last validation", response: "Tenant"}},
		{method: "POST", path: "/api/v1/tenants/{tenantId}/validate", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiValidateTenant,
			doc: &apiDoc{tag: "tenants", summary: "Check the credentials and compare each subscription's permissions with what its level needs", response: "ValidationReport"}},
		{method: "PUT", path: "/api/v1/tenants/{tenantId}/write-access", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiSetWriteAccess,
			doc: &apiDoc{tag: "tenants", summary: "Turn writing on or off at once (off holds pending edits)", request: "WriteAccess", response: "Tenant"}},
		{method: "POST", path: "/api/v1/tenants/{tenantId}/sync", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiSyncTenant,
			doc: &apiDoc{tag: "tenants", summary: "Discover the tenant's subscriptions and sync them", response: "SyncRunList", status: 202}},
		{method: "GET", path: "/api/v1/tenants/{tenantId}/credentials", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiListCredentials,
			doc: &apiDoc{tag: "tenants", summary: "A tenant's credentials with their expiry (never the secrets)", response: "CredentialList"}},
		{method: "POST", path: "/api/v1/credentials/{id}/rotate", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiRotateCredential,
			doc: &apiDoc{tag: "tenants", summary: "Rotate with overlap: add the new secret (through Graph, or the one given), validate, switch, retire the old", request: "Rotate", response: "Credential"}},
		{method: "POST", path: "/api/v1/tenants/{tenantId}/revoke", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiRevoke,
			doc: &apiDoc{tag: "tenants", summary: "Revoke (write-off, remove-roles, delete-identity) and prove Steward's access is gone", request: "Revoke", response: "RevocationProof"}},
		{method: "GET", path: "/api/v1/tenants/{tenantId}/revocation-commands", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiRevocationCommands,
			doc: &apiDoc{tag: "tenants", summary: "The exact Azure CLI commands to remove Steward's access yourself", query: []param{{"method", "string", "remove-roles or delete-identity"}}, response: "StringList"}},
		{method: "PUT", path: "/api/v1/tenants/{tenantId}/partner", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiSetPartner,
			doc: &apiDoc{tag: "tenants", summary: "Link the partner's MPN ID to Steward's identities in the tenant (Partner Admin Link); empty removes it", request: "Partner", response: "Tenant"}},
		{method: "GET", path: "/api/v1/tenants/{tenantId}/least-privilege-role", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindAPI, h: s.apiLeastPrivilege,
			doc: &apiDoc{tag: "tenants", summary: "The narrowest role for what the tenant uses: a custom role definition, or built-in roles for Lighthouse", response: "LeastPrivilege"}},
		{method: "GET", path: "/api/v1/tenants/{tenantId}/review", scope: scopeTenant, perm: steward.PermAuditRead, kind: kindAPI, h: s.apiReview,
			doc: &apiDoc{tag: "tenants", summary: "Security review over a period: permissions, credentials, writes by caller (Steward and Azure); format=csv for a file", query: []param{{"from", "string", "Start (default a month ago)"}, {"to", "string", "End (default now)"}, {"format", "string", "json (default) or csv"}}, response: "Review"}},

		{method: "POST", path: "/api/v1/consent-links", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiCreateConsentLink,
			doc: &apiDoc{tag: "tenants", summary: "Create a consent link for one customer, optionally naming their tenant ID or domain, expiring in expiresIn (14d unless given, at most 90d); its URL is in this response only", request: "ConsentLinkCreate", response: "ConsentLinkCreated", status: 201}},
		{method: "GET", path: "/api/v1/consent-links", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiListConsentLinks,
			doc: &apiDoc{tag: "tenants", summary: "Consent links with their state (pending, opened, consented, connected, revoked, expired), newest first; never their URL", response: "ConsentLinkList"}},
		{method: "GET", path: "/api/v1/consent-links/{id}", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiGetConsentLink,
			doc: &apiDoc{tag: "tenants", summary: "One consent link and its state", response: "ConsentLink"}},
		{method: "DELETE", path: "/api/v1/consent-links/{id}", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindAPI, h: s.apiRevokeConsentLink,
			doc: &apiDoc{tag: "tenants", summary: "Revoke a consent link: it stops working at once", response: "ConsentLink"}},

		// Pages.
		{method: "GET", path: "/login", scope: scopePublic, kind: kindPage, h: s.pageLogin},
		{method: "POST", path: "/login", scope: scopePublic, kind: kindPage, h: s.pageLoginSubmit},
		{method: "POST", path: "/logout", scope: scopeSignedIn, kind: kindPage, h: s.pageLogout},
		{method: "GET", path: "/{$}", scope: scopeSignedIn, kind: kindPage, h: s.pageDashboard},
		{method: "GET", path: "/account", scope: scopeSignedIn, kind: kindPage, h: s.pageAccount},
		{method: "POST", path: "/account/password", scope: scopeSignedIn, kind: kindPage, h: s.pageAccountPassword},
		{method: "GET", path: "/tokens", scope: scopeSignedIn, kind: kindPage, h: s.pageTokens},
		{method: "POST", path: "/tokens", scope: scopeSignedIn, kind: kindPage, h: s.pageTokenCreate},
		{method: "POST", path: "/tokens/{id}/revoke", scope: scopeSignedIn, kind: kindPage, h: s.pageTokenRevoke},
		{method: "GET", path: "/users", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUsers},
		{method: "GET", path: "/users/new", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserNew},
		{method: "POST", path: "/users", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserCreate},
		{method: "GET", path: "/users/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUser},
		{method: "POST", path: "/users/{id}", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserUpdate},
		{method: "POST", path: "/users/{id}/password", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserPassword},
		{method: "POST", path: "/users/{id}/grants", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageGrantCreate},
		{method: "POST", path: "/grants/{id}/delete", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageGrantDelete},
		{method: "GET", path: "/users/{id}/delete", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserDeleteConfirm},
		{method: "POST", path: "/users/{id}/delete", scope: scopeGlobal, perm: steward.PermUsersManage, kind: kindPage, h: s.pageUserDelete},
		{method: "GET", path: "/tenants", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageTenants},
		{method: "GET", path: "/tenants/connect", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConnect},
		{method: "POST", path: "/tenants/connect/consent", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConsentStart},
		{method: "GET", path: "/tenants/connect/callback", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConsentCallback, open: s.consentAnswerIsInvitation},
		{method: "POST", path: "/tenants/connect/complete", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConsentComplete},
		{method: "POST", path: "/tenants/connect/service-principal", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConnectSP},
		{method: "POST", path: "/tenants/connect/lighthouse", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageConnectLighthouse},
		{method: "POST", path: "/tenants/invitations", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageInvitationCreate},
		{method: "POST", path: "/tenants/invitations/{id}/revoke", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageInvitationRevoke},
		{method: "GET", path: "/invite", scope: scopePublic, kind: kindPage, h: s.pageInvite},
		{method: "POST", path: "/invite/consent", scope: scopePublic, kind: kindPage, h: s.pageInviteConsent},
		{method: "POST", path: "/invite/complete", scope: scopePublic, kind: kindPage, h: s.pageInviteComplete},
		{method: "GET", path: "/tenants/{tenantId}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageTenant},
		{method: "POST", path: "/tenants/{tenantId}/write-access", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageWriteAccess},
		{method: "POST", path: "/tenants/{tenantId}/validate", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageValidate},
		{method: "POST", path: "/tenants/{tenantId}/sync", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageSyncTenant},
		{method: "POST", path: "/tenants/{tenantId}/partner", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindPage, h: s.pagePartner},
		{method: "POST", path: "/tenants/{tenantId}/revoke", scope: scopeTenant, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageRevoke},
		{method: "GET", path: "/tenants/{tenantId}/review", scope: scopeTenant, perm: steward.PermAuditRead, kind: kindPage, h: s.pageReview},
		{method: "POST", path: "/credentials/{id}/rotate", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageRotate},
		{method: "GET", path: "/subscriptions", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageSubscriptions},
		{method: "GET", path: "/subscriptions/{subscriptionId}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageSubscription},
		{method: "POST", path: "/subscriptions/{subscriptionId}/sync-level", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageSetSyncLevel},
		{method: "POST", path: "/subscriptions/{subscriptionId}/sync", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageSyncNow},
		{method: "GET", path: "/resources", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageResources},
		{method: "GET", path: "/resource", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageResource},
		{method: "GET", path: "/tags", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageTagKeys},
		{method: "GET", path: "/tag-edits", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageTagEdits},
		{method: "GET", path: "/tag-edits/new", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindPage, h: s.pageTagEditNew},
		{method: "POST", path: "/tag-edits/preview", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindPage, h: s.pageTagEditPreview},
		{method: "POST", path: "/tag-edits", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindPage, h: s.pageTagEditSubmit},
		{method: "GET", path: "/tag-edits/{id}", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageTagEdit},
		{method: "POST", path: "/tag-edit-items/{id}/resolve", scope: scopeSome, perm: steward.PermTagsWrite, kind: kindPage, h: s.pageResolveConflict},
		{method: "GET", path: "/costs", scope: scopeSome, perm: steward.PermInventoryRead, kind: kindPage, h: s.pageCosts},
		{method: "GET", path: "/lighthouse", scope: scopeSignedIn, kind: kindPage, h: s.pageLighthouse},
		{method: "POST", path: "/lighthouse/validate", scope: scopeSignedIn, kind: kindPage, h: s.pageLighthouseValidate},
		{method: "POST", path: "/lighthouse/build", scope: scopeSome, perm: steward.PermTenantsManage, kind: kindPage, h: s.pageLighthouseBuild},
		{method: "GET", path: "/audit", scope: scopeSome, perm: steward.PermAuditRead, kind: kindPage, h: s.pageAudit},
		{method: "POST", path: "/audit/verify", scope: scopeSome, perm: steward.PermAuditRead, kind: kindPage, h: s.pageAuditVerify},
	}
}

// buildHandler registers the routes behind the middleware chain.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.pattern(), s.guard(rt))
	}
	var h http.Handler = s.dispatch(mux)
	h = s.authenticate(h)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOriginRefused))
	h = cop.Handler(h)
	h = s.observe(h)
	h = s.securityHeaders(h)
	h = s.recoverPanics(h)
	return s.withRequestID(h)
}

// dispatch serves matched routes and turns the mux's own 404 and 405
// answers into the caller's format.
func (s *Server) dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		err := steward.Errorf(steward.ENOTFOUND, "There is nothing at %s.", r.URL.Path)
		if rec.status == http.StatusMethodNotAllowed {
			err = steward.Errorf(steward.EINVALID, "%s does not accept %s.", r.URL.Path, r.Method)
		}
		status := max(rec.status, http.StatusNotFound)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			writeJSONBody(w, apiError{Error: apiErrorBody{Code: steward.ErrorCode(err), Message: steward.ErrorMessage(err)}})
			return
		}
		s.renderError(w, r, status, steward.ErrorMessage(err))
	})
}

// crossOriginRefused answers a state-changing request another site's page
// sent, in the caller's format, and audits it. It runs before sign-in is
// read, so the actor is whoever the browser's cookie would have been.
func (s *Server) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	ev := newEvent(r, "access.cross_origin", r.Method+" "+r.URL.Path).WithOutcome(steward.OutcomeDenied).WithActor("anonymous").
		With("origin", r.Header.Get("Origin")).With("sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	s.audit(r, ev)
	err := steward.Errorf(steward.EFORBIDDEN, "Another site's page sent this request; Steward accepts changes only from its own pages.")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeAPIError(w, r, err)
		return
	}
	s.renderError(w, r, http.StatusForbidden, steward.ErrorMessage(err))
}

// statusRecorder captures the mux's not-found or not-allowed answer.
type statusRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// guard enforces the route's access rule, then runs its handler.
func (s *Server) guard(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nameRoute(r, rt.pattern())
		actor := steward.ActorFromContext(r.Context())
		open := rt.open != nil && rt.open(r)
		if rt.scope != scopePublic && actor == nil && !open {
			s.audit(r, newEvent(r, "access.unauthenticated", rt.pattern()).WithOutcome(steward.OutcomeDenied).WithActor("anonymous"))
			if rt.kind == kindPage {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.writeError(w, r, rt, steward.Errorf(steward.EUNAUTHORIZED, "Sign in or send an API token (Authorization: Bearer …)."))
			return
		}
		if !open && !allowed(rt, actor, r) {
			s.audit(r, newEvent(r, "access.denied", rt.pattern()).WithOutcome(steward.OutcomeDenied).With("permission", string(rt.perm)))
			s.writeError(w, r, rt, steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow this (it needs %s).", rt.perm))
			return
		}
		if err := s.checkInput(w, r, rt); err != nil {
			ev := newEvent(r, "request.invalid", rt.pattern()).WithOutcome(steward.OutcomeDenied).With("reason", steward.ErrorMessage(err))
			if actor == nil {
				ev.WithActor("anonymous")
			}
			s.audit(r, ev)
			s.writeError(w, r, rt, err)
			return
		}
		if err := rt.h(w, r); err != nil {
			s.writeError(w, r, rt, err)
		}
	})
}

// allowed is the one place a route's access rule is evaluated.
func allowed(rt *route, a *steward.Actor, r *http.Request) bool {
	switch rt.scope {
	case scopePublic, scopeSignedIn:
		return true
	case scopeGlobal:
		return a.Can(rt.perm, "")
	case scopeSome:
		return a.CanSome(rt.perm)
	case scopeTenant:
		return a.Can(rt.perm, strings.ToLower(r.PathValue("tenantId")))
	}
	return false
}

// writeError writes err in the route's kind.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rt *route, err error) {
	if rt.kind == kindAPI || rt.kind == kindRaw {
		s.writeAPIError(w, r, err)
		return
	}
	s.logError(r, err)
	s.renderError(w, r, errorStatus(err), steward.ErrorMessage(err))
}

// audit appends an event, logging rather than failing the request when the
// log cannot be written (the request itself has already been decided). It
// is written even when the client has hung up: a refusal is evidence.
func (s *Server) audit(r *http.Request, ev *steward.AuditEvent) {
	if err := s.deps.Audit.AuditAppend(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.ErrorContext(r.Context(), "audit event not written", slog.String("action", ev.Action), slog.Any("error", err))
	}
}
