package steward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SyncLevel is what Steward may do in a subscription. The customer picks it.
type SyncLevel string

// The four sync levels, as the product documents name them.
const (
	SyncNoResources   SyncLevel = "no-resources"    // No Resources: nothing synced; stored data is purged
	SyncNoTags        SyncLevel = "no-tags"         // No Tags: resources without their tags, in either direction
	SyncReadTags      SyncLevel = "read-tags"       // Read Tags Only: resources and tags; edits refused
	SyncReadWriteTags SyncLevel = "read-write-tags" // Read and Write Tags: edits are written back (the default)
)

// SyncLevels lists the levels from least to most access.
var SyncLevels = []SyncLevel{SyncNoResources, SyncNoTags, SyncReadTags, SyncReadWriteTags}

// Valid reports whether l is one of the four levels.
func (l SyncLevel) Valid() bool { return slices.Contains(SyncLevels, l) }

// SyncsResources reports whether resources are read at this level.
func (l SyncLevel) SyncsResources() bool {
	return l == SyncNoTags || l == SyncReadTags || l == SyncReadWriteTags
}

// ReadsTags reports whether tags are read at this level.
func (l SyncLevel) ReadsTags() bool { return l == SyncReadTags || l == SyncReadWriteTags }

// WritesTags reports whether tag edits are written back at this level.
func (l SyncLevel) WritesTags() bool { return l == SyncReadWriteTags }

// Label is the level's name in the product documents.
func (l SyncLevel) Label() string {
	switch l {
	case SyncNoResources:
		return "No Resources"
	case SyncNoTags:
		return "No Tags"
	case SyncReadTags:
		return "Read Tags Only"
	case SyncReadWriteTags:
		return "Read and Write Tags"
	}
	return string(l)
}

// Explain says in plain words what Steward does at this level.
func (l SyncLevel) Explain() string {
	switch l {
	case SyncNoResources:
		return "Steward reads nothing in this subscription and keeps no data about it; what it had is deleted."
	case SyncNoTags:
		return "Steward lists the resources but neither reads nor writes their tags."
	case SyncReadTags:
		return "Steward lists the resources and reads their tags; tag edits are refused."
	case SyncReadWriteTags:
		return "Steward lists the resources, reads their tags, and writes tag edits back through the Tags API — never anything else."
	}
	return ""
}

// ParseSyncLevel reads a level from the API. EINVALID.
func ParseSyncLevel(s string) (SyncLevel, error) {
	l := SyncLevel(s)
	if !l.Valid() {
		return "", Errorf(EINVALID, "Unknown sync level %q; levels are no-resources, no-tags, read-tags and read-write-tags.", s)
	}
	return l, nil
}

// Subscription is an Azure subscription a tenant connection can see.
type Subscription struct {
	ID               string // GUID, lower case
	TenantID         string // the connection that sees it
	HomeTenantID     string // the tenant that owns it (differs under Lighthouse)
	DisplayName      string
	State            string // Enabled, Disabled, Warned, PastDue, Deleted
	SyncLevel        SyncLevel
	ManagedByTenants []string // tenants it is delegated to through Lighthouse
	Tags             map[string]string
	DiscoveredAt     time.Time
	UpdatedAt        time.Time
	MissingSince     time.Time // no longer visible to the connection
	LastSyncRunID    int64
	LastSyncedAt     time.Time
	// CostsFrom and CostsTo are the days whose costs are stored (empty
	// days included), zero before the first cost import stores a month.
	CostsFrom, CostsTo time.Time
}

// ResourceGroup is a resource group with its tags.
type ResourceGroup struct {
	SubscriptionID string
	Name           string
	Location       string
	Tags           map[string]string
}

// Resource is an Azure resource as Steward last saw it.
type Resource struct {
	PK             int64  // Steward's row key, for paging and tag edits
	ID             string // the ARM ID as Azure spells it
	SubscriptionID string
	ResourceGroup  string
	Name           string
	Type           string
	Location       string
	Tags           map[string]string
	FirstSeenAt    time.Time
	SyncedAt       time.Time
}

// ContentHash summarises what sync compares: a re-sync writes a resource
// only when this changes. Tag keys are compared case-sensitively here, since
// a change of casing is a change people want to see.
func (r *Resource) ContentHash() string {
	// Each field as "len:value;", each tag as "len:key=len:value;", keys
	// sorted. Built by hand because fmt took half the time of hashing
	// the resources of a sync; the bytes are the same as ever, so stored
	// hashes stay valid.
	b := make([]byte, 0, 256)
	field := func(v string) {
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	for _, v := range []string{r.ID, r.ResourceGroup, r.Name, r.Type, r.Location} {
		field(v)
		b = append(b, ';')
	}
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(k)
		b = append(b, '=')
		field(r.Tags[k])
		b = append(b, ';')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// ResourceKey is how Steward keys an ARM ID: ARM IDs are case-insensitive.
func ResourceKey(armID string) string { return strings.ToLower(armID) }

// TagKey is how Steward groups tag names: Azure treats "Env", "env" and
// "ENV" as one name.
func TagKey(name string) string { return strings.ToLower(name) }

// TagMatch filters resources by one tag: Value "" with AnyValue matches any
// value. Keys match case-insensitively, values exactly (as in Azure).
type TagMatch struct {
	Key      string
	Value    string
	AnyValue bool
}

// ResourceFilter selects resources. Zero fields do not filter.
type ResourceFilter struct {
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	Type           string
	Tags           []TagMatch
	Untagged       string // resources without this tag key
	InConflict     bool   // resources with a tag edit in conflict
	NameContains   string
	// After continues a listing after this row key (the cursor); Limit
	// defaults to 100 and is at most 1,000.
	After int64
	Limit int
}

// SyncRunStatus is where a sync run is.
type SyncRunStatus string

// Sync run statuses.
const (
	SyncQueued    SyncRunStatus = "queued"
	SyncRunning   SyncRunStatus = "running"
	SyncSucceeded SyncRunStatus = "succeeded"
	SyncFailed    SyncRunStatus = "failed"
	SyncCanceled  SyncRunStatus = "canceled"
)

// SyncRun is one sync of one subscription.
type SyncRun struct {
	ID             int64
	SubscriptionID string
	Reason         string // schedule, manual, level-change
	Method         SyncMethod
	Status         SyncRunStatus
	CreatedBy      string
	CreatedAt      time.Time
	StartedAt      time.Time
	FinishedAt     time.Time
	Expected       int // resources the last good run saw, for progress
	Seen           int
	Written        int
	Deleted        int
	Pages          int
	Error          string
	Resume         string // the page to continue from after an interruption
	// HeartbeatAt is, while the run is running, when the process running
	// it last showed it was alive (see SyncRunClaim).
	HeartbeatAt time.Time
	// Warning is what the run could not do without failing, such as read
	// the activity log to name who changed tags outside Steward; "" when
	// it did everything.
	Warning string
	// Wait says why a queued run has not started; read from its job, not
	// stored. Nil when it is not queued or its job is not known.
	Wait *Wait
}

// WarnActivityLogForbidden is a sync run's warning when Steward's read
// identity may not read the subscription's activity log: the consent roles
// (Tag Contributor, Cost Management Reader) do not include
// Microsoft.Insights/eventtypes/values/read.
const WarnActivityLogForbidden = "Drift authors unknown: Steward's read identity lacks permission to read the activity log (Monitoring Reader or Reader needed)."

// AliveAt is when the process running r last showed it was alive: its
// heartbeat, or its start.
func (r *SyncRun) AliveAt() time.Time {
	if r.StartedAt.After(r.HeartbeatAt) {
		return r.StartedAt
	}
	return r.HeartbeatAt
}

// Progress returns the fraction done (0..1) and, once some work is done, an
// estimated finish.
func (r *SyncRun) Progress(now time.Time) (float64, time.Time) {
	if r.Status == SyncSucceeded {
		return 1, r.FinishedAt
	}
	if r.Expected <= 0 || r.Seen <= 0 || r.StartedAt.IsZero() {
		return 0, time.Time{}
	}
	f := min(float64(r.Seen)/float64(r.Expected), 0.99)
	elapsed := now.Sub(r.StartedAt)
	return f, r.StartedAt.Add(time.Duration(float64(elapsed) / f))
}

// ResourcePage is one page of a subscription's resources as Azure lists it.
// Sync consumes pages one by one, so a subscription is never held whole.
type ResourcePage struct {
	Resources []*Resource
	Next      string // continuation for resuming; "" on the last page
}

// ResourcePages iterates a listing page by page.
type ResourcePages = iter.Seq2[*ResourcePage, error]

// CostRow is one day's cost of one resource for one service, with the
// resource's tags of that day.
type CostRow struct {
	Day            time.Time // midnight UTC
	SubscriptionID string
	ResourceID     string
	ResourceGroup  string
	Service        string
	Cost           float64
	Currency       string
	Tags           map[string]string
}

// CostQuery asks for spend grouped one way over a period.
type CostQuery struct {
	From, To       time.Time // days, To exclusive
	GroupBy        string    // "tag:KEY", "subscription", "resourceGroup", "service" or "day"
	Daily          bool      // also split each group by day, for charts over time
	SubscriptionID string
}

// CostGroup is one line of a cost report.
type CostGroup struct {
	Key      string // the tag value ("" for untagged), subscription, group, service or day
	Day      time.Time
	Cost     float64
	Currency string
}

// SubscriptionFilter selects subscriptions.
type SubscriptionFilter struct {
	TenantID string
	Search   string // part of the display name or ID, in any case
	// Health, when set, keeps only subscriptions whose sync is in that
	// state (see SyncHealth).
	Health SyncHealth
	// Limit, when set, pages the list (by name, then ID) from Offset.
	Limit, Offset int
}

// SyncHealth is the state of a subscription's sync that an operator looks
// for: what failed, what has not synced for too long, what waits.
type SyncHealth string

// Sync health states. A tenant is in one when any of its subscriptions is.
const (
	// SyncHealthFailed: the subscription's latest sync run failed.
	SyncHealthFailed SyncHealth = "failed"
	// SyncHealthStale: a subscription whose level reads resources, still
	// visible in Azure, has had no successful sync within StaleAfter (of
	// its discovery, when it never synced).
	SyncHealthStale SyncHealth = "stale"
	// SyncHealthQueued: a sync run of the subscription is queued or
	// running.
	SyncHealthQueued SyncHealth = "queued"
)

// StaleAfter is how long a subscription may go without a successful sync
// before it counts as stale: twice the hourly sync, so one late or failed
// run does not make it stale, two do.
const StaleAfter = 2 * time.Hour

// ParseSyncHealth reads a health filter; "" is none. EINVALID.
func ParseSyncHealth(s string) (SyncHealth, error) {
	switch h := SyncHealth(s); h {
	case "", SyncHealthFailed, SyncHealthStale, SyncHealthQueued:
		return h, nil
	}
	return "", Errorf(EINVALID, "Unknown sync state %q; states are failed, stale and queued.", s)
}

// TagHistoryEntry is one change of one tag of one resource.
type TagHistoryEntry struct {
	At       time.Time
	Key      string
	Old, New *string // nil: absent
	Source   string  // "sync" (seen in Azure) or "steward" (written by an edit)
	Actor    string  // who made it: a Steward user, or Azure's caller when known
	EditID   int64
}

// TagKeyStat is one tag name across resources, with every spelling in use,
// for finding names to normalise ("Env", "env", "ENV").
type TagKeyStat struct {
	Key       string   // lower case
	Spellings []string // as resources spell it, most used first
	Resources int
}

// InventoryStore keeps subscriptions, resources and their tags, sync runs,
// tag edits (an outbox) and costs. Every read of them on someone's behalf
// takes the caller's Scope and finds nothing outside it: an object out of
// scope is ENOTFOUND, as if it did not exist.
type InventoryStore interface {
	// SubscriptionSync records the subscriptions a tenant connection can see
	// now: new ones are added with the default level, known ones updated,
	// and ones no longer visible get MissingSince. It returns the tenant's
	// subscriptions afterwards. ENOTFOUND (tenant).
	SubscriptionSync(ctx context.Context, tenantID string, seen []*Subscription) ([]*Subscription, error)
	// SubscriptionGet returns a subscription within the scope. ENOTFOUND.
	SubscriptionGet(ctx context.Context, scope Scope, id string) (*Subscription, error)
	// SubscriptionList returns the subscriptions within the scope, by
	// display name.
	SubscriptionList(ctx context.Context, scope Scope, f SubscriptionFilter) ([]*Subscription, error)
	// SubscriptionSetLevel changes a sync level at once. At no-resources
	// the subscription's resources, groups and costs are purged; at no-tags
	// its stored tags are; pending edits of a level that no longer writes
	// are held. All in one transaction with the event. ENOTFOUND, EINVALID.
	SubscriptionSetLevel(ctx context.Context, id string, level SyncLevel, ev *AuditEvent) (*Subscription, error)

	// SyncRunCreate stores a queued run with its job (SyncRunsCreate).
	SyncRunCreate(ctx context.Context, run *SyncRun) error
	// SyncRunsCreate stores queued runs and sets their IDs, in one
	// transaction with their jobs: one Resource Graph sync per tenant for
	// runs of that method, a sync per run for the others. Expected is taken
	// from each subscription's last successful run. ENOTFOUND (subscription).
	SyncRunsCreate(ctx context.Context, runs []*SyncRun) error
	// SyncRunUpdate saves a run's progress or outcome; a succeeded run also
	// becomes the subscription's last sync. ENOTFOUND; ECONFLICT when the
	// run was canceled meanwhile (another run took its place).
	SyncRunUpdate(ctx context.Context, run *SyncRun) error
	// SyncRunClaim starts a queued or failed run for the calling process,
	// which then renews its heartbeat (SyncRunHeartbeat), and returns the
	// run as it stands. At most one run of a subscription runs: a run whose
	// subscription has a newer run, or another run running with a
	// heartbeat since staleBefore, is canceled instead (its Error says
	// why); another running run with an older heartbeat was abandoned by a
	// process that died, and is canceled in its favour. A run already
	// succeeded or canceled is returned as it is. ENOTFOUND; ECONFLICT
	// when the run itself is running with a heartbeat since staleBefore.
	SyncRunClaim(ctx context.Context, id int64, staleBefore time.Time) (*SyncRun, error)
	// SyncRunHeartbeat renews the heartbeat of those of the runs still
	// running.
	SyncRunHeartbeat(ctx context.Context, ids []int64) error
	// SyncRunGet returns a run of a subscription within the scope.
	// ENOTFOUND.
	SyncRunGet(ctx context.Context, scope Scope, id int64) (*SyncRun, error)
	// SyncRunList returns a subscription's runs, newest first; none when
	// the subscription is outside the scope.
	SyncRunList(ctx context.Context, scope Scope, subscriptionID string, limit int) ([]*SyncRun, error)

	// ResourceGroupSync replaces a subscription's resource groups with the
	// listed ones, writing only what changed; it returns the rows written.
	ResourceGroupSync(ctx context.Context, subscriptionID string, groups []*ResourceGroup) (int, error)
	// ResourceUpsertMany stores one page of a subscription's resources in one
	// transaction, writing only resources whose content hash changed (and,
	// for changed tags, tag history with source "sync"). With readTags false
	// (level no-tags) tags are neither stored nor compared. It sets each
	// resource's PK and returns how many rows it wrote.
	ResourceUpsertMany(ctx context.Context, subscriptionID string, rs []*Resource, readTags bool) (int, error)
	// ResourceDeleteExcept deletes the subscription's resources whose PK is
	// not in keep (sorted ascending) — those a full listing no longer shows —
	// and returns how many.
	ResourceDeleteExcept(ctx context.Context, subscriptionID string, keep []int64) (int, error)
	// ResourceList returns resources within the scope matching f in PK
	// order and the cursor of the next page ("" at the end). EINVALID.
	ResourceList(ctx context.Context, scope Scope, f ResourceFilter) ([]*Resource, string, error)
	// ResourceAnalyze refreshes the database's statistics of resources and
	// tags, which listings are planned by, after a sync that wrote many
	// rows. Cheap enough to call after such a sync, not after every one.
	ResourceAnalyze(ctx context.Context) error
	// ResourceGet finds a resource within the scope by ARM ID,
	// case-insensitively. ENOTFOUND.
	ResourceGet(ctx context.Context, scope Scope, armID string) (*Resource, error)
	// ResourceCount counts resources within the scope matching f (Limit
	// and After ignored).
	ResourceCount(ctx context.Context, scope Scope, f ResourceFilter) (int, error)
	// TagHistory returns a resource's tag changes, newest first; none when
	// the resource is outside the scope.
	TagHistory(ctx context.Context, scope Scope, resourcePK int64, limit int) ([]*TagHistoryEntry, error)
	// TagHistoryAttribute names Azure's caller (by ARM ID) on tag changes
	// a sync found since a time that have no actor yet.
	TagHistoryAttribute(ctx context.Context, subscriptionID string, since time.Time, callers map[string]string) (int, error)
	// TagKeys lists tag names in use within the scope and f's tenant and
	// subscription, with their spellings, by number of resources.
	TagKeys(ctx context.Context, scope Scope, f ResourceFilter, limit int) ([]*TagKeyStat, error)

	// TagEditCreate stores an edit and its items as pending (or held) in one
	// transaction with the event: the outbox. It records the tenants the
	// edit touches, its items' tenants. EINVALID.
	TagEditCreate(ctx context.Context, e *TagEdit, items []*TagEditItem, ev *AuditEvent) error
	// TagEditGet returns an edit that touches a tenant within the scope.
	// When it also touches tenants outside the scope it is Partial: its
	// request is withheld and its counts are of the items within the
	// scope. ENOTFOUND.
	TagEditGet(ctx context.Context, scope Scope, id int64) (*TagEdit, error)
	// TagEditList returns the edits that touch a tenant within the scope,
	// newest first, shown as TagEditGet shows them.
	TagEditList(ctx context.Context, scope Scope, limit int) ([]*TagEdit, error)
	// TagEditItems returns the items within the scope of an edit (or, with
	// editID 0, items in the given status across edits) after an item ID.
	TagEditItems(ctx context.Context, scope Scope, editID int64, status TagEditStatus, after int64, limit int) ([]*TagEditItem, error)
	// TagEditItemGet returns one item within the scope. ENOTFOUND.
	TagEditItemGet(ctx context.Context, scope Scope, id int64) (*TagEditItem, error)
	// TagEditPending counts an edit's pending items within the scope per
	// subscription, at most limit subscriptions.
	TagEditPending(ctx context.Context, scope Scope, editID int64, limit int) ([]*PendingWrites, error)
	// TagEditItemsClaim claims up to limit of a subscription's pending items
	// whose next attempt is due, oldest first: in one statement it moves
	// their next attempt to now+lease and counts an attempt, so no other
	// worker (or replica) gets them until the lease passes, and a worker
	// that dies leaves them to be retried. It returns the claimed items.
	// Each claimed item carries a new Claim token.
	TagEditItemsClaim(ctx context.Context, subscriptionID string, now time.Time, lease time.Duration, limit int) ([]*TagEditItem, error)
	// TagEditItemsRenew moves the lease of claimed items on to until, for
	// those still pending under the same Claim, and returns their IDs; the
	// others were finished, canceled or claimed by another worker.
	TagEditItemsRenew(ctx context.Context, items []*TagEditItem, until time.Time) ([]int64, error)
	// TagEditItemsRelease gives claimed items still pending under the same
	// Claim back to the queue, due at now, without counting the attempt
	// their claim counted, and returns how many: a stopping worker hands
	// them to another at once rather than after the lease.
	TagEditItemsRelease(ctx context.Context, items []*TagEditItem, now time.Time) (int, error)
	// TagEditSubscriptionsDue lists subscriptions with pending items.
	TagEditSubscriptionsDue(ctx context.Context) ([]string, error)
	// TagEditItemFinish saves an item's new status (applied, failed,
	// conflict, canceled, or pending again with new Expected, Attempts and
	// NextAttemptAt) with its event in one transaction. When applied, the resource's stored tags become tags and
	// the change goes into tag history with source "steward". The edit's
	// counts and status follow. An item with a Claim is fenced: when the
	// stored item has been claimed again since, nothing is saved and the
	// answer is ErrClaimPassed. ENOTFOUND.
	TagEditItemFinish(ctx context.Context, item *TagEditItem, tags map[string]string, ev *AuditEvent) error
	// TagEditHold holds (hold true) or releases a tenant's pending items, or
	// one subscription's when subscriptionID is set, and returns how many.
	TagEditHold(ctx context.Context, tenantID, subscriptionID string, hold bool) (int, error)

	// CostDays returns the first and last day with costs of a subscription,
	// or zero times when there are none.
	CostDays(ctx context.Context, subscriptionID string) (first, last time.Time, err error)
	// CostUpsertMany stores daily cost rows, replacing rows of the same
	// subscription, day, resource and service.
	CostUpsertMany(ctx context.Context, rows []*CostRow) error
	// CostCover records that the subscription's costs of the days from..to
	// (included) are stored, so the days covered (Subscription.CostsFrom,
	// CostsTo) grow by them; days not next to those covered start the
	// range anew.
	CostCover(ctx context.Context, subscriptionID string, from, to time.Time) error
	// CostPrune deletes a subscription's cost rows of the days before
	// rowsBefore and its sums (by day, service, group and tag) of the days
	// before sumsBefore; the days covered start no earlier than the sums
	// kept, so days whose rows alone are gone are not imported again.
	CostPrune(ctx context.Context, subscriptionID string, rowsBefore, sumsBefore time.Time) error
	// CostReport sums the cost within the scope by q.GroupBy (and by day
	// when asked), largest first. EINVALID.
	CostReport(ctx context.Context, scope Scope, q CostQuery) ([]*CostGroup, error)
}

// TagEditPreview is exactly what an edit would change, resource by
// resource, before anything is stored.
type TagEditPreview struct {
	Resources int          // resources the request selects
	Changed   []*TagPlan   // those it changes, with their changes
	Refused   []TagRefusal // those it may not change, and why
}

// TagRefusal says why an edit may not touch a resource: Code is EFORBIDDEN
// when the caller may not, EUNPROCESSABLE when Azure would refuse it.
type TagRefusal struct {
	ResourceID string
	Reason     string
	Code       string
}

// InventoryService is Steward's main job: sync, tag edits and write-back,
// spend. Web handlers and jobs call it; it calls Azure and the stores.
type InventoryService interface {
	// SyncTenant discovers a tenant's subscriptions and queues a sync of
	// each one whose level reads resources. It returns the queued runs.
	// ENOTFOUND.
	SyncTenant(ctx context.Context, tenantID, reason string) ([]*SyncRun, error)
	// SyncNow queues a sync of one subscription, or returns the run already
	// queued or running. ENOTFOUND, ECONFLICT (level no-resources, tenant
	// revoked).
	SyncNow(ctx context.Context, subscriptionID string) (*SyncRun, error)
	// RunSync does a queued run (the job behind SyncNow and SyncTenant). A
	// failed run keeps where it stopped; running it again resumes there.
	RunSync(ctx context.Context, runID int64) error
	// RunGraphSync does the queued runs of several subscriptions of one
	// tenant with Resource Graph queries, a few requests for many small
	// subscriptions.
	RunGraphSync(ctx context.Context, tenantID string, runIDs []int64) error
	// SetSyncLevel changes a subscription's level at once, audited.
	// ENOTFOUND, EINVALID.
	SetSyncLevel(ctx context.Context, subscriptionID string, level SyncLevel) (*Subscription, error)
	// PreviewTagEdit shows what an edit would change. EINVALID,
	// EUNPROCESSABLE (Azure's limits), EFORBIDDEN.
	PreviewTagEdit(ctx context.Context, req *TagEditRequest) (*TagEditPreview, error)
	// SubmitTagEdit stores an edit as pending with its audit event and
	// queues the write-back. It refuses the whole edit when any resource is
	// in a subscription that is not read-write-tags, whose tenant has write
	// access off, or that the caller may not edit. EINVALID,
	// EUNPROCESSABLE, EFORBIDDEN, ECONFLICT.
	SubmitTagEdit(ctx context.Context, req *TagEditRequest) (*TagEdit, error)
	// ApplyTagEdits writes a subscription's due items to Azure (the
	// write-back job).
	ApplyTagEdits(ctx context.Context, subscriptionID string) error
	// ResolveConflict settles an item in conflict: keepAzure cancels it,
	// otherwise it is queued again over Azure's current value. ENOTFOUND,
	// ECONFLICT (not in conflict).
	ResolveConflict(ctx context.Context, itemID int64, keepAzure bool) error
	// IngestCosts fetches a subscription's recent daily costs.
	IngestCosts(ctx context.Context, subscriptionID string) error

	// The reads below see only what the caller may read (inventory.read,
	// by tenant): anything else is ENOTFOUND, or absent from a list. Every
	// one refuses a call without an actor (EUNAUTHORIZED).

	// Subscriptions lists subscriptions by display name.
	Subscriptions(ctx context.Context, f SubscriptionFilter) ([]*Subscription, error)
	// Subscription returns one subscription. ENOTFOUND.
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// SyncRuns returns a subscription's latest runs, newest first (none
	// for a subscription the caller may not read).
	SyncRuns(ctx context.Context, subscriptionID string, limit int) ([]*SyncRun, error)
	// SyncRun returns one run. ENOTFOUND.
	SyncRun(ctx context.Context, id int64) (*SyncRun, error)
	// Resources lists resources matching f and the cursor of the next
	// page. EINVALID.
	Resources(ctx context.Context, f ResourceFilter) ([]*Resource, string, error)
	// CountResources counts resources matching f. EINVALID.
	CountResources(ctx context.Context, f ResourceFilter) (int, error)
	// Resource returns a resource by ARM ID with its latest tag changes.
	// EINVALID, ENOTFOUND.
	Resource(ctx context.Context, armID string, history int) (*Resource, []*TagHistoryEntry, error)
	// TagKeys lists tag names in use within f's tenant and subscription.
	TagKeys(ctx context.Context, f ResourceFilter, limit int) ([]*TagKeyStat, error)
	// TagEdits lists the latest edits that touch a tenant the caller may
	// read; an edit that also touches others is Partial.
	TagEdits(ctx context.Context, limit int) ([]*TagEdit, error)
	// TagEdit returns an edit. ENOTFOUND.
	TagEdit(ctx context.Context, id int64) (*TagEdit, error)
	// TagEditItems returns a page of an edit's items (editID 0: items in
	// the status across edits) after an item ID, and the cursor of the
	// next page. ENOTFOUND (edit).
	TagEditItems(ctx context.Context, editID int64, status TagEditStatus, after int64, limit int) ([]*TagEditItem, string, error)
	// TagEditItem returns one item. ENOTFOUND.
	TagEditItem(ctx context.Context, id int64) (*TagEditItem, error)
	// Costs sums spend as q asks. EINVALID.
	Costs(ctx context.Context, q CostQuery) ([]*CostGroup, error)
	// CostImports says how far each subscription's costs are imported.
	CostImports(ctx context.Context) ([]*CostImport, error)
}

// JobQueue queues background work; each job runs once across replicas.
type JobQueue interface {
	// EnqueueSync queues a sync run's job, once per run; the run claims its
	// subscription when the job starts (SyncRunClaim).
	EnqueueSync(ctx context.Context, runID int64, subscriptionID string) error
	// EnqueueGraphSync queues one Resource Graph sync of a tenant's runs.
	EnqueueGraphSync(ctx context.Context, tenantID string, runIDs []int64) error
	// EnqueueWriteBack queues writing a subscription's pending tag edits.
	EnqueueWriteBack(ctx context.Context, subscriptionID string) error
	// EnqueueCosts queues fetching a subscription's costs.
	EnqueueCosts(ctx context.Context, subscriptionID string) error

	// SyncWait says why a queued run waits (its tenant's Resource Graph
	// sync for a run of that method), WriteBackWait why a subscription's
	// tag writes do; nil when their job is running or not queued.
	SyncWait(ctx context.Context, run *SyncRun, tenantID string) (*Wait, error)
	WriteBackWait(ctx context.Context, subscriptionID string) (*Wait, error)
	// CostsWaits says why cost imports wait, by subscription: those not
	// running or not queued are left out.
	CostsWaits(ctx context.Context) (map[string]*Wait, error)
}

// Wait says why work that is due has not started, for the people watching
// it: a run, a subscription's tag writes or its cost import.
type Wait struct {
	Reason WaitReason
	Queue  string    // the job queue it waits in
	Ahead  int       // WaitWorker: jobs before it in the queue
	Until  time.Time // WaitQuota, WaitRetry: when it runs again
}

// WaitReason is why work waits.
type WaitReason string

// The reasons work waits.
const (
	WaitWorker WaitReason = "worker" // ready; every worker of its queue is busy
	WaitQuota  WaitReason = "quota"  // Azure's quota is spent until Until
	WaitRetry  WaitReason = "retry"  // it failed and is tried again at Until
)

// Message says the wait in a sentence.
func (w *Wait) Message() string {
	at := w.Until.UTC().Format("15:04:05 UTC")
	switch w.Reason {
	case WaitWorker:
		if w.Ahead == 0 {
			return "Waiting for a worker of the " + w.Queue + " queue; it is next."
		}
		return fmt.Sprintf("Waiting for a worker of the %s queue, behind %d other jobs.", w.Queue, w.Ahead)
	case WaitQuota:
		return "Waiting for Azure's quota, spent until " + at + "."
	case WaitRetry:
		return "Failed for now; tried again at " + at + "."
	}
	return "Waiting."
}

// CostImport is how far a subscription's costs are imported.
type CostImport struct {
	SubscriptionID string
	Days           int       // the days imported: the last Days, today included
	DaysStored     int       // of those, the days stored
	StoredTo       time.Time // the last day stored
	Current        bool      // every day is stored, up to yesterday or today
	Wait           *Wait     // why its import waits, when it does
}

// QueueStat is how much work one job queue holds, for an operator watching
// the machine.
type QueueStat struct {
	Queue         string
	Waiting       int           // ready, waiting for a worker
	OldestWaiting time.Duration // how long the oldest of those has waited
	Running       int
	Later         int // snoozed until Azure's quota resets, or retrying
}
