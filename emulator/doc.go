// Package emulator is Azure in a box: Entra ID, Microsoft Graph and Azure
// Resource Manager on one HTTPS host, with seeded estates, real RBAC, Azure's
// throttling and injectable faults. The demo, Steward's tests and users' own
// tests run Steward against it through the official Azure SDK for Go, so
// wire shapes, status codes and error codes follow Azure's.
//
// # Using it
//
//	e, err := emulator.New(emulator.Config{Estate: emulator.EstateSmall})
//	…
//	err = e.Start(ctx) // 127.0.0.1:0 unless Config.Addr says otherwise
//	defer e.Stop()
//	cf := e.Connection() // URL, CA, tenants, users, secrets: steward.ConnectionFile
//
// Clients trust e.CACertPEM() and configure azcore with
//
//	cloud.Configuration{
//		ActiveDirectoryAuthorityHost: e.URL() + "/",
//		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
//			cloud.ResourceManager: {Endpoint: e.URL(), Audience: e.URL()},
//		},
//	}
//
// and DisableInstanceDiscovery on credentials (instance discovery is
// answered too, for clients that can't turn it off).
//
// # Routes
//
// One host, routed by the first path segment:
//
//	/{tenant}/v2.0/.well-known/openid-configuration   OIDC discovery; issuer https://HOST/{tid}/v2.0
//	/{tenant}/discovery/v2.0/keys                      JWKS (RS256)
//	/{tenant}/oauth2/v2.0/token                        client_credentials (secret or certificate
//	                                                   assertion), authorization_code (PKCE), refresh_token
//	/{tenant}/oauth2/v2.0/authorize                    sign-in and consent pages
//	/{tenant}/v2.0/adminconsent                        tenant-wide admin consent
//	/v1.0/…  (and /beta/…)                             Microsoft Graph: applications (addPassword,
//	                                                   removePassword, keyCredentials), servicePrincipals,
//	                                                   users, /me, groups (+members), organization
//	/subscriptions…, /tenants, /providers…             Azure Resource Manager
//	/providers/Microsoft.ResourceGraph/resources       Resource Graph (POST, KQL subset)
//	{scope}/providers/Microsoft.CostManagement/query   Cost Management query (POST; subscription or group)
//	/providers/Microsoft.ManagementPartner/partners[/{id}]
//	                                                   Partner Admin Link (PUT, GET, PATCH, DELETE)
//	{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{id}
//	{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{id}
//	                                                   Lighthouse (PUT, GET, list, DELETE)
//	/metadata/endpoints                                cloud metadata (az cloud register)
//
// {tenant} is a tenant GUID, a domain (contoso.onmicrosoft.com), "common" or
// "organizations". ARM serves subscriptions (with managedByTenants), tenants,
// locations, resource groups, resources (list with $filter, $top, $expand and
// nextLink; GET/PUT/PATCH/DELETE/HEAD of one resource), the Tags API at any
// scope, tagNames, role definitions (the built-in catalog of package azroles),
// role assignments at any scope, Microsoft.Authorization/permissions, and the
// activity log (Microsoft.Insights/eventtypes/management/values).
//
// # Tokens and audiences
//
// Tokens are RS256 JWTs with Entra's claims (tid, oid, sub, azp/azpacr and
// the v1 appid/appidacr, scp or roles, aud, iss, iat/nbf/exp, idtyp, ver
// 2.0), issued by https://HOST/{tid}/v2.0 for the host the client used.
// Resource Manager accepts aud = the emulator's URL (what azcore asks for with
// the configuration above) and the public cloud's
// https://management.azure.com and https://management.core.windows.net.
// Microsoft Graph tokens have aud https://graph.microsoft.com, as in Azure
// (scope https://graph.microsoft.com/.default); Graph itself is served at
// URL/v1.0. App tokens for Graph carry the service principal's Graph
// application permissions (Application.ReadWrite.OwnedBy for Steward's app)
// in roles. Delegated tokens live one hour and come with a refresh token only
// when offline_access was asked. Validated tokens are cached, so the hot
// paths do not verify RSA signatures again.
//
// # The model
//
// world.go holds everything behind one RWMutex: tenants with their users,
// groups, app registrations (with secrets and certificates) and service
// principals; tenant-wide consent grants; subscriptions, which hold resource
// groups, which hold resources; role assignments; the activity log; pending
// sign-ins. Resources are kept small for the million-resource estate: type,
// location and kind/sku are indexes into shared tables, tags are immutable
// shared sets (tags.go), IDs are derived, and each resource caches its list
// JSON (arm_model.go), dropped on change. Groups and resources are sorted, so
// a list page resumes from its $skiptoken (the last key returned) by binary
// search. Readers build response bodies under the read lock and write them
// after releasing it.
//
// Estates (estate.go) derive from the seed through PCG streams, one per
// subscription, generated in parallel and identical for a given seed: the
// partner tenant (Adatum Partners) with Steward's multi-tenant app; Contoso
// (three subscriptions, an Owner admin, a Reader and a Tag Contributor app
// for people's own tests, a security group holding Reader); Northwind (two
// subscriptions, each delegated to the partner through Lighthouse: the
// registration "Steward managed services" gives the partner's Steward
// Operators group Reader, and Steward's service principal Reader, Tag
// Contributor and Cost Management Reader, so Steward's app signed in to the
// partner tenant sees exactly Northwind's subscriptions); more customers in
// the medium (50 subscriptions, ≈100,000 resources) and large (1,000
// subscriptions, 1,000,000 resources) estates, and in the ci estate (21
// customer tenants, 100 subscriptions of 60 resources, for CI's
// many-tenant test), which have the same partner, Contoso and Northwind.
// Tags are realistically messy: Env/env/ENV, typos (enviroment), missing
// owners, untagged resources.
//
// # Authorization
//
// rbac.go is the only place that decides ARM access: the caller's
// assignments (direct, through groups, at the tenant root, and from grant
// hooks) at the scope or above, with actions/notActions wildcards matched
// case-insensitively by steward.MatchAction. A token must come from the
// subscription's tenant or from a tenant in its ManagedByTenants (401
// InvalidAuthenticationTokenTenant otherwise). Collection reads are filtered
// to what the caller may read, as ARM does; a caller with no role in a
// subscription gets 403 AuthorizationFailed, and an empty GET /subscriptions.
//
// # Throttling and faults
//
// ARM requests take a token from the principal's bucket per subscription and
// kind (reads 250 +25/s, writes and deletes 200 +10/s) and from the
// subscription-wide bucket (15 times that), or from the principal's tenant
// bucket for tenant-level requests; responses carry
// x-ms-ratelimit-remaining-subscription-{reads,writes,deletes} (and -global-,
// or -tenant-), and an empty bucket answers 429 SubscriptionRequestsThrottled
// with Retry-After. The limiter (throttle.go) is generic: keys, bucket specs,
// and atomic takes across several buckets. Faults (faults.go) add latency,
// 500/503 answers, connection resets, truncated and slow bodies, by rate or
// by script, deterministically, switchable at runtime with SetFaults.
//
// # Where the emulator knowingly differs from Azure
//
//   - It offers HTTP/2 first, as Azure does. That matters: armauthorization
//     sends $filter values unescaped, which only HTTP/2 can carry.
//   - Operations finish at once: Tags API writes answer 200 (as api-version
//     2021-04-01 does); resource group deletion answers 202 with a Location
//     but no Retry-After, and the Location answers 200 at once.
//   - ARM's error codes for broken tag limits are not published; these use
//     InvalidTagCount, InvalidTagNameLength, InvalidTagValueLength,
//     InvalidTagNameCharacters (seen in the wild) and InvalidTagName.
//   - $filter on tags: names compare case-insensitively, values
//     case-sensitively; tag filters cannot be combined with others (as in
//     Azure).
//   - Resource list $filters of more than 32 KiB or nesting parentheses
//     more than 64 deep are refused (InvalidFilterInQueryString), and so
//     are Resource Graph queries of more than 256 KiB or 64 levels of
//     parentheses and not() (ParserFailure): limits of the emulator's own,
//     so that no request can make its parsers recurse without bound.
//   - The activity log's caller is the UPN for users and the object ID for
//     service principals; only writes are recorded, each as one EndRequest.
//   - The sign-in page lists the seeded users; a password is optional (if
//     typed, it must match). Only Global Administrators may consent, and
//     consent is always tenant-wide.
//   - Only built-in role definitions exist; creating custom roles is refused.
//   - Graph permissions follow Entra's model loosely (see graph.go).
//   - Deleting a service principal or app stops new tokens (AADSTS700016);
//     tokens already issued keep working until they expire, and role
//     assignments stay behind, orphaned, as in Azure.
//   - Cost Management's QPU windows are kept per caller tenant (Microsoft
//     says "per tenant" without saying which), and the -qpu-remaining list
//     format is the emulator's own (only "QueriesPerHour:n" has been seen
//     in the wild). A refused query consumes nothing here.
//   - Lighthouse writes finish at once (201 with provisioningState
//     Succeeded, no Azure-AsyncOperation), and its validation errors use
//     the code InvalidRequest, as Azure's codes are not published. The
//     rules are kept here rather than imported from package lighthouse, so
//     the emulator stays an independent check on Steward's validator.
//
// # Resource Graph, Cost Management, Partner Admin Link, Lighthouse
//
// These plug in as ARM extension types (partb.go: registerARM with an
// armExtension{Namespace, Type, APIVersions, Kind, SkipThrottle, Serve}),
// persist through a stateHook in the state file's Ext map, and decide
// access through rbac.go like everything else.
//
//   - Resource Graph (resourcegraph.go, kql.go): Resources with where,
//     project, order by, limit, count and summarize count() by; rows of the
//     subscriptions named (or all the caller can see, delegated ones
//     included) filtered by RBAC; pages of up to 1,000 with $skipToken when
//     id is projected (else resultTruncated); objectArray or table results.
//     Quota: 15 queries per 5-second window per caller, in
//     x-ms-user-quota-remaining and x-ms-user-quota-resets-after (hh:mm:ss);
//     429 RateLimiting with Retry-After. Bad queries: 400 BadRequest with
//     InvalidQuery and ParserFailure (line, position, token) in details.
//   - Cost Management (costs.go, costquery.go): ActualCost, AmortizedCost
//     and Usage; Custom, MonthToDate, TheLastMonth, WeekToDate; granularity
//     Daily (UsageDate yyyymmdd), Monthly (BillingMonth) or None; Sum of
//     Cost, PreTaxCost, CostUSD or PreTaxCostUSD; up to two groupings by
//     dimension (ResourceId, ResourceGroupName, ResourceType, ServiceName,
//     ResourceLocation, SubscriptionId, MeterCategory…) or TagKey (TagKey and
//     TagValue columns, null for untagged cost); dimension and tag filters
//     with and/or/not. Costs are deterministic per resource and day (seed,
//     ID, type, SKU, date), none before a resource's creation, through
//     yesterday, in the customer tenant's currency (USD, EUR or GBP). 1,000
//     rows a page; nextLink is the same URL with $skiptoken, POSTed the same
//     body. Needs query/action or read (401 RBACAccessDenied otherwise).
//     QPU: a query costs one per calendar month it spans, from windows of
//     12 per 10 s, 60 per minute and 600 per hour per caller tenant; headers
//     x-ms-ratelimit-microsoft.costmanagement-qpu-consumed, -qpu-remaining
//     ("QueriesPerTenSeconds:n;QueriesPerMinute:n;QueriesPerHour:n") and, on
//     429, -qpu-retry-after with Retry-After.
//   - Partner Admin Link (pal.go): one link per calling identity, keyed by
//     its tenant and object ID; 6–7 digit MPN IDs; the estate's partner has
//     Emulator.PartnerMPNID.
//   - Lighthouse (lighthouse.go): definitions checked against Azure's role
//     rules (400 InvalidRequest); an assignment adds the managing tenant to
//     the subscription's managedByTenants and projects each authorization's
//     role onto the assignment's scope through the grant hook
//     lighthouseGrants; deleting it ends both. Writing needs the type's
//     write action and Microsoft.Authorization/roleAssignments/write. The
//     estate's own delegations (Northwind's) are made at seeding by
//     world.delegateSubscription, with the same checks and records as the
//     API, as if Northwind's admin had onboarded them.
//
// The limiter (throttle.go) takes any keys and bucket specs; fixed-window
// quotas with a reset time (Resource Graph, Cost Management) use
// quotaWindows (quota.go). Emulator.TransferSubscription moves a
// subscription between tenants as Azure does: role assignments are deleted,
// Lighthouse delegations stay, except one to the tenant it moves into.
//
// Known gaps beyond the list above: Resource Graph serves only the Resources
// table (no ResourceContainers, joins, extend or mv-expand) and no
// management-group scopes; cost history follows the live estate, so a
// deleted resource's past costs vanish; Cost Management serves no billing
// account or management group scopes; Lighthouse eligible authorizations are
// stored but never activate, and User Access Administrator authorizations
// are not projected.
package emulator
