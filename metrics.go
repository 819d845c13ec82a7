package steward

// AzureService names the part of Azure a request went to, for an operator
// watching Steward's traffic and quotas: one of a handful of values, so a
// metric labelled by it stays small however many tenants Steward serves.
type AzureService string

// The Azure services Steward calls.
const (
	AzureARM            AzureService = "arm"             // Resource Manager (subscriptions, resources, tags, roles, Lighthouse)
	AzureResourceGraph  AzureService = "resource_graph"  // Microsoft.ResourceGraph queries
	AzureCostManagement AzureService = "cost_management" // Microsoft.CostManagement queries
	AzureGraph          AzureService = "graph"           // Microsoft Graph
	AzureEntra          AzureService = "entra"           // Entra ID: tokens, OpenID metadata
	AzureOther          AzureService = "other"           // anything else the connector was pointed at
)

// AzureExchange is one HTTP request to Azure and what came of it. Each try
// is one exchange: a request answered 429 and sent again counts twice, as
// Azure counts it.
type AzureExchange struct {
	Service AzureService
	// Status is the answer's HTTP status, 0 when none came (the network
	// failed, or the context ended first).
	Status int
	// Quotas are the remaining-request counts the answer carried, by
	// quota (see AzureQuota).
	Quotas []AzureQuota
}

// AzureQuota is one remaining-request count Azure reported in an answer's
// headers. Name is one of a fixed set, named after the header it came from
// without its prefix: "subscription-reads", "subscription-writes",
// "subscription-deletes", "subscription-global-reads" (and -writes,
// -deletes), "tenant-reads", "tenant-writes" (Resource Manager),
// "user-quota" (Resource Graph's x-ms-user-quota-remaining),
// "costmanagement-qpu" (the smallest of Cost Management's QPU windows),
// "microsoft.costmanagement-entity-requests" and
// "microsoft.costmanagement-tenant-requests" (Cost Management's request
// counts).
type AzureQuota struct {
	Name      string
	Remaining int
}

// AzureObserver is told of every exchange with Azure, as it completes. It
// must be safe for concurrent use and quick: it runs on the request's path.
type AzureObserver interface {
	ObserveAzure(AzureExchange)
}

// InventoryCounts are the inventory service's running totals since the
// process started, for the metrics: each replica counts its own work, so
// an operator sums them.
type InventoryCounts struct {
	// ResourcesSeen, ResourcesWritten and ResourcesDeleted are resources
	// listed by syncs, stored because they changed, and deleted because a
	// full listing no longer had them.
	ResourcesSeen, ResourcesWritten, ResourcesDeleted int64
	// SyncRuns counts finished sync runs by outcome: succeeded, failed,
	// canceled.
	SyncRuns map[SyncRunStatus]int64
	// TagWrites counts tag edit items written back by outcome: applied
	// (Azure has the tags), conflict (Azure changed them meanwhile), failed
	// (refused, or out of attempts) and retried (to be tried again).
	TagWrites map[string]int64
	// CostRows counts cost rows imported from Cost Management.
	CostRows int64
}

// Tag write outcomes in InventoryCounts.TagWrites.
const (
	TagWriteApplied  = "applied"
	TagWriteConflict = "conflict"
	TagWriteFailed   = "failed"
	TagWriteRetried  = "retried"
)
