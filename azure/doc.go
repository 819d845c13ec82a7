// Package azure is Steward's connector to Azure: it implements
// steward.Azure with the official Azure SDK for Go (azidentity, azcore and
// the armsubscriptions, armresources, armauthorization, armresourcegraph and
// armcostmanagement modules).
//
// Microsoft.ManagedServices (Lighthouse), Microsoft.ManagementPartner
// (Partner Admin Link), Microsoft.Authorization/permissions at subscription
// scope and the activity log have no module on the proxy (or none that
// covers the call), so they go through a thin client over azcore's
// arm.Client pipeline; Microsoft Graph goes through an azcore pipeline with
// a bearer-token policy for the cloud's Graph audience. Every call therefore
// shares the same credentials, retries, throttling budget and cloud
// configuration.
//
// # Clouds
//
// Config.Cloud is "public", "usgov", "china" or the path of an emulator
// connection file (see package emulator): the connector then trusts the
// emulator's CA, points Entra ID, Resource Manager and Graph at it and turns
// off instance discovery. NewFromConnection does the same for an emulator
// started in-process.
//
// # Throttling
//
// Two policies sit in every pipeline. The budget policy (per try) reads
// Azure's remaining-request headers, each as the bucket it counts —
// Resource Manager's x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}
// (this principal), -subscription-global-* (all principals) and -tenant-*,
// Resource Graph's x-ms-user-quota-remaining over -resets-after, the Cost
// Management QPU headers; a service's own -resource-requests and Compute's
// -resource are not Resource Manager's — and, when a bucket runs low,
// spaces out the following requests that draw from it, so a sync slows
// down before Azure throttles it. azcore's retry policy retries a 429 after its
// Retry-After (Cost Management's own retry-after headers are copied into
// Retry-After so it does), and the patience policy (per call) keeps waiting
// out 429s for as long as the context lives, so throttling never fails a
// call on its own.
//
// # Errors
//
// Every error carries a steward code: EUNAUTHORIZED for a refused
// credential (the message names the AADSTS code, never the secret),
// EFORBIDDEN with the action Azure named, ENOTFOUND, EINVALID with Azure's
// message, ECONFLICT, ETHROTTLED (only when the context ended while
// throttled) and EUNAVAILABLE for Azure's failures and the network's. No
// secret or token ever reaches an error or a log line.
package azure
