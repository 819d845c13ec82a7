package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Inventory: subscriptions and their sync levels and runs, resources and
// their tags, tag edits, and spend.

type apiSubscription struct {
	ID               string            `json:"id"`
	TenantID         string            `json:"tenantId"`
	HomeTenantID     string            `json:"homeTenantId"`
	DisplayName      string            `json:"displayName"`
	State            string            `json:"state"`
	SyncLevel        string            `json:"syncLevel"`
	SyncLevelLabel   string            `json:"syncLevelLabel"`
	SyncLevelMeans   string            `json:"syncLevelMeans"`
	ManagedByTenants []string          `json:"managedByTenants"`
	Tags             map[string]string `json:"tags"`
	LastSyncedAt     *time.Time        `json:"lastSyncedAt,omitempty"`
	MissingSince     *time.Time        `json:"missingSince,omitempty"`
}

type apiSyncRun struct {
	ID              int64      `json:"id"`
	SubscriptionID  string     `json:"subscriptionId"`
	Reason          string     `json:"reason"`
	Method          string     `json:"method"`
	Status          string     `json:"status"`
	CreatedBy       string     `json:"createdBy"`
	CreatedAt       time.Time  `json:"createdAt"`
	StartedAt       *time.Time `json:"startedAt,omitempty"`
	FinishedAt      *time.Time `json:"finishedAt,omitempty"`
	Expected        int        `json:"expected"`
	Seen            int        `json:"seen"`
	Written         int        `json:"written"`
	Deleted         int        `json:"deleted"`
	Pages           int        `json:"pages"`
	Progress        float64    `json:"progress"` // 0..1
	EstimatedFinish *time.Time `json:"estimatedFinish,omitempty"`
	// HeartbeatAt is, while running, when the process running the sync
	// last showed it was alive; a run without one for two minutes was
	// abandoned, and the next sync takes its place.
	HeartbeatAt *time.Time `json:"heartbeatAt,omitempty"`
	Error       string     `json:"error,omitempty"`
	// Warning is what a run could not do without failing: for one, naming
	// who changed tags in Azure, when Steward may not read the activity log.
	Warning string `json:"warning,omitempty"`
	// Wait says why a queued run has not started.
	Wait *apiWait `json:"wait,omitempty"`
}

// apiWait says why work waits: for a worker of its queue (behind ahead
// other jobs), for Azure's quota or a retry until a time.
type apiWait struct {
	Reason  string     `json:"reason"` // worker, quota or retry
	Queue   string     `json:"queue"`
	Ahead   int        `json:"ahead"`
	Until   *time.Time `json:"until,omitempty"`
	Message string     `json:"message"`
}

func toAPIWait(w *steward.Wait) *apiWait {
	if w == nil {
		return nil
	}
	return &apiWait{Reason: string(w.Reason), Queue: w.Queue, Ahead: w.Ahead, Until: optTime(w.Until), Message: w.Message()}
}

// apiPendingWrites is what of an edit waits to be written in one
// subscription, and why.
type apiPendingWrites struct {
	SubscriptionID string     `json:"subscriptionId"`
	Items          int        `json:"items"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt,omitempty"`
	Wait           *apiWait   `json:"wait,omitempty"`
}

// apiCostImport is how far a subscription's costs are imported.
type apiCostImport struct {
	SubscriptionID string     `json:"subscriptionId"`
	Days           int        `json:"days"`
	DaysStored     int        `json:"daysStored"`
	StoredTo       *time.Time `json:"storedTo,omitempty"`
	Current        bool       `json:"current"`
	Wait           *apiWait   `json:"wait,omitempty"`
}

type apiResource struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	SubscriptionID string            `json:"subscriptionId"`
	Tags           map[string]string `json:"tags"`
}

type apiTagHistory struct {
	At     time.Time `json:"at"`
	Key    string    `json:"key"`
	Old    *string   `json:"old"`
	New    *string   `json:"new"`
	Source string    `json:"source"`
	Actor  string    `json:"actor"`
	EditID int64     `json:"editId,omitempty"`
}

type apiResourceDetail struct {
	apiResource
	History []apiTagHistory `json:"history"`
}

type apiTagEdit struct {
	ID        int64     `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	Request   string    `json:"request"`
	Tenants   []string  `json:"tenants"`
	// Partial: the edit also touches tenants the caller may not read; the
	// request is withheld and the counts are of the items they may read.
	Partial       bool       `json:"partial"`
	Items         int        `json:"items"`
	Applied       int        `json:"applied"`
	Failed        int        `json:"failed"`
	Conflicts     int        `json:"conflicts"`
	FinishedAt    *time.Time `json:"finishedAt,omitempty"`
	ItemsOnPage   []apiItem  `json:"itemList,omitempty"`
	NextItemsPage string     `json:"nextItems,omitempty"`
	// Pending is, for the first 50 subscriptions with items still to be
	// written, how many and why they wait; on reads of one edit.
	Pending []apiPendingWrites `json:"pending,omitempty"`
}

type apiItem struct {
	ID         int64                 `json:"id"`
	ResourceID string                `json:"resourceId"`
	Status     string                `json:"status"`
	Merge      map[string]string     `json:"merge"`
	Delete     []string              `json:"delete"`
	Attempts   int                   `json:"attempts"`
	Error      string                `json:"error,omitempty"`
	Conflicts  []steward.TagConflict `json:"conflicts,omitempty"`
	AppliedAt  *time.Time            `json:"appliedAt,omitempty"`
}

// apiPreview is what an edit changes: every change summed up by tag and
// values, and the first previewRows resources one by one, so the preview
// of fifty thousand resources stays a few kilobytes.
type apiPreview struct {
	DryRun       bool                 `json:"dryRun"`
	Resources    int                  `json:"resources"`    // resources the edit selects
	Changed      int                  `json:"changed"`      // of those, how many it changes
	RefusedCount int                  `json:"refusedCount"` // how many it may not change
	Summary      []apiChangeSummary   `json:"summary"`      // the commonest previewRows changes
	MoreChanges  int                  `json:"moreChanges"`  // distinct changes beyond those
	Changes      []apiPreviewResource `json:"changes"`      // the first previewRows changed
	Refused      []apiRefusal         `json:"refused"`      // the first previewRows refused
}

// previewRows is how many resources a preview lists one by one.
const previewRows = 200

// apiChangeSummary is one change (a tag from one value to another) and how
// many resources it makes; old or new is null where the tag is absent.
type apiChangeSummary struct {
	Key       string  `json:"key"`
	Old       *string `json:"old"`
	New       *string `json:"new"`
	Resources int     `json:"resources"`
}

// apiRefusal is a resource the edit may not change: code is forbidden (the
// caller's roles) or unprocessable (Azure would refuse it).
type apiRefusal struct {
	ResourceID string `json:"resourceId"`
	Reason     string `json:"reason"`
	Code       string `json:"code"`
}

// apiTagKey is a tag name in use: key in lower case, with every spelling
// resources use, most used first.
type apiTagKey struct {
	Key       string   `json:"key"`
	Spellings []string `json:"spellings"`
	Resources int      `json:"resources"`
}

type apiPreviewResource struct {
	ResourceID string              `json:"resourceId"`
	Changes    []steward.TagChange `json:"changes"`
}

type apiCostGroup struct {
	Key      string     `json:"key"`
	Day      *time.Time `json:"day,omitempty"`
	Cost     float64    `json:"cost"`
	Currency string     `json:"currency"`
}

func toAPISubscription(s *steward.Subscription) apiSubscription {
	tags := s.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return apiSubscription{ID: s.ID, TenantID: s.TenantID, HomeTenantID: s.HomeTenantID, DisplayName: s.DisplayName, State: s.State,
		SyncLevel: string(s.SyncLevel), SyncLevelLabel: s.SyncLevel.Label(), SyncLevelMeans: s.SyncLevel.Explain(),
		ManagedByTenants: nonNil(s.ManagedByTenants), Tags: tags, LastSyncedAt: optTime(s.LastSyncedAt), MissingSince: optTime(s.MissingSince)}
}

func toAPISyncRun(r *steward.SyncRun, now time.Time) apiSyncRun {
	p, eta := r.Progress(now)
	out := apiSyncRun{ID: r.ID, SubscriptionID: r.SubscriptionID, Reason: r.Reason, Method: string(r.Method), Status: string(r.Status),
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), StartedAt: optTime(r.StartedAt), FinishedAt: optTime(r.FinishedAt),
		Expected: r.Expected, Seen: r.Seen, Written: r.Written, Deleted: r.Deleted, Pages: r.Pages, Progress: p, EstimatedFinish: optTime(eta), Error: r.Error, Warning: r.Warning,
		Wait: toAPIWait(r.Wait)}
	if r.Status == steward.SyncRunning {
		out.HeartbeatAt = optTime(r.AliveAt())
	}
	return out
}

func toAPIResource(r *steward.Resource) apiResource {
	tags := r.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return apiResource{ID: r.ID, Name: r.Name, Type: r.Type, ResourceGroup: r.ResourceGroup, Location: r.Location, SubscriptionID: r.SubscriptionID, Tags: tags}
}

func toAPITagEdit(e *steward.TagEdit) apiTagEdit {
	out := apiTagEdit{ID: e.ID, Status: string(e.Status), CreatedAt: e.CreatedAt.UTC(), CreatedBy: e.CreatedBy, Request: e.Request,
		Tenants: nonNil(e.Tenants), Partial: e.Partial, Items: e.ItemCount, Applied: e.AppliedCount, Failed: e.FailedCount, Conflicts: e.ConflictCount, FinishedAt: optTime(e.FinishedAt)}
	for _, p := range e.Pending {
		out.Pending = append(out.Pending, apiPendingWrites{SubscriptionID: p.SubscriptionID, Items: p.Items, NextAttemptAt: optTime(p.NextAttemptAt), Wait: toAPIWait(p.Wait)})
	}
	return out
}

func toAPICostImport(c *steward.CostImport) apiCostImport {
	return apiCostImport{SubscriptionID: c.SubscriptionID, Days: c.Days, DaysStored: c.DaysStored, StoredTo: optTime(c.StoredTo), Current: c.Current, Wait: toAPIWait(c.Wait)}
}

// apiCostImports says how far each subscription's costs are imported.
func (s *Server) apiCostImports(w http.ResponseWriter, r *http.Request) error {
	imports, err := s.deps.InventoryService.CostImports(r.Context())
	if err != nil {
		return err
	}
	out := make([]apiCostImport, len(imports))
	for i, c := range imports {
		out[i] = toAPICostImport(c)
	}
	writeJSON(w, http.StatusOK, listResponse[apiCostImport]{Items: out})
	return nil
}

func toAPIItem(i *steward.TagEditItem) apiItem {
	return apiItem{ID: i.ID, ResourceID: i.ResourceID, Status: string(i.Status), Merge: i.Merge, Delete: nonNil(i.Delete), Attempts: i.Attempts,
		Error: i.LastError, Conflicts: i.Conflicts, AppliedAt: optTime(i.AppliedAt)}
}

// visibleSubscription returns a subscription the caller may see, or
// ENOTFOUND as if it did not exist.
func (s *Server) visibleSubscription(r *http.Request, id string) (*steward.Subscription, error) {
	return s.deps.InventoryService.Subscription(r.Context(), strings.ToLower(id))
}

func (s *Server) apiListSubscriptions(w http.ResponseWriter, r *http.Request) error {
	f, err := subscriptionFilter(r, 1000)
	if err != nil {
		return err
	}
	subs, next, err := s.subscriptionPage(r, f)
	if err != nil {
		return err
	}
	out := listResponse[apiSubscription]{Items: []apiSubscription{}, Next: next}
	for _, sub := range subs {
		out.Items = append(out.Items, toAPISubscription(sub))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// syncHealthDoc documents the state filter of sync health.
const syncHealthDoc = "failed (the latest sync run failed), stale (no successful sync for 2 hours, twice the sync interval) or queued (a sync run queued or running)"

// subscriptionFilter reads tenant, q (part of a name or ID), state (sync
// health), limit (at most, and by default, max) and cursor (where the
// previous page ended).
func subscriptionFilter(r *http.Request, max int) (steward.SubscriptionFilter, error) {
	q := r.URL.Query()
	f := steward.SubscriptionFilter{TenantID: strings.ToLower(q.Get("tenant")), Search: strings.TrimSpace(q.Get("q"))}
	var err error
	if f.Health, err = steward.ParseSyncHealth(q.Get("state")); err != nil {
		return f, err
	}
	f.Limit, f.Offset, err = pageParams(r, max)
	return f, err
}

// pageParams reads limit (at most, and by default, max) and cursor (where
// the previous page ended) of a list paged by offset.
func pageParams(r *http.Request, max int) (limit, offset int, err error) {
	limit = max
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return 0, 0, steward.Errorf(steward.EINVALID, "limit must be a number from 1 to %d.", max)
		}
		limit = n
	}
	o, err := cursorParam(r)
	return limit, int(min(o, 1<<31)), err
}

// nextCursor is the cursor after a page of n asked for limit from offset,
// "" when it was the last; the page was asked one longer to tell.
func nextCursor(n, limit, offset int) string {
	if n <= limit {
		return ""
	}
	return strconv.Itoa(offset + limit)
}

// subscriptionPage lists one page, and the cursor of the next ("" at the end).
func (s *Server) subscriptionPage(r *http.Request, f steward.SubscriptionFilter) ([]*steward.Subscription, string, error) {
	limit := f.Limit
	f.Limit++ // one more says whether a next page exists
	subs, err := s.deps.InventoryService.Subscriptions(r.Context(), f)
	if err != nil {
		return nil, "", err
	}
	next := nextCursor(len(subs), limit, f.Offset)
	return subs[:min(len(subs), limit)], next, nil
}

func (s *Server) apiGetSubscription(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.visibleSubscription(r, r.PathValue("subscriptionId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISubscription(sub))
	return nil
}

type syncLevelInput struct {
	Level string `json:"level"`
}

func (s *Server) apiSetSyncLevel(w http.ResponseWriter, r *http.Request) error {
	var in syncLevelInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	level, err := steward.ParseSyncLevel(in.Level)
	if err != nil {
		return err
	}
	sub, err := s.deps.InventoryService.SetSyncLevel(r.Context(), strings.ToLower(r.PathValue("subscriptionId")), level)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISubscription(sub))
	return nil
}

func (s *Server) apiSyncNow(w http.ResponseWriter, r *http.Request) error {
	run, err := s.deps.InventoryService.SyncNow(r.Context(), strings.ToLower(r.PathValue("subscriptionId")))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/sync-runs/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusAccepted, toAPISyncRun(run, s.cfg.Now()))
	return nil
}

func (s *Server) apiListSyncRuns(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.visibleSubscription(r, r.PathValue("subscriptionId"))
	if err != nil {
		return err
	}
	runs, err := s.deps.InventoryService.SyncRuns(r.Context(), sub.ID, 50)
	if err != nil {
		return err
	}
	out := listResponse[apiSyncRun]{Items: []apiSyncRun{}}
	for _, run := range runs {
		out.Items = append(out.Items, toAPISyncRun(run, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGetSyncRun(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	run, err := s.deps.InventoryService.SyncRun(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISyncRun(run, s.cfg.Now()))
	return nil
}

// maxTagFilters bounds the tags one filter names: each is a join in the
// listing's query, and a resource has at most 50 tags to match anyway.
const maxTagFilters = steward.MaxTagsPerResource

// apiResourceFilter is a resource filter in a tag edit's body; the same
// fields as the resources query string.
type apiResourceFilter struct {
	Tenant        string   `json:"tenant"`
	Subscription  string   `json:"subscription"`
	ResourceGroup string   `json:"resourceGroup"`
	Type          string   `json:"type"`
	Tag           []string `json:"tag"` // KEY=VALUE, or KEY for any value
	Untagged      string   `json:"untagged"`
	InConflict    bool     `json:"inConflict"`
	Name          string   `json:"name"`
}

func (f apiResourceFilter) filter() (steward.ResourceFilter, error) {
	out := steward.ResourceFilter{TenantID: strings.ToLower(f.Tenant), SubscriptionID: strings.ToLower(f.Subscription),
		ResourceGroup: f.ResourceGroup, Type: f.Type, Untagged: f.Untagged, InConflict: f.InConflict, NameContains: f.Name}
	if out.TenantID != "" && !steward.IsGUID(out.TenantID) {
		return out, steward.Errorf(steward.EINVALID, "tenant must be a tenant ID (a GUID).")
	}
	if out.SubscriptionID != "" && !steward.IsGUID(out.SubscriptionID) {
		return out, steward.Errorf(steward.EINVALID, "subscription must be a subscription ID (a GUID).")
	}
	if len(f.Tag) > maxTagFilters {
		return out, steward.Errorf(steward.EINVALID, "A filter may name at most %d tags, not %d.", maxTagFilters, len(f.Tag))
	}
	for _, t := range f.Tag {
		k, v, hasValue := strings.Cut(t, "=")
		if strings.TrimSpace(k) == "" {
			return out, steward.Errorf(steward.EINVALID, "tag %q: write KEY=VALUE, or KEY for any value.", t)
		}
		out.Tags = append(out.Tags, steward.TagMatch{Key: k, Value: v, AnyValue: !hasValue})
	}
	return out, nil
}

// resourceFilter reads the resources query string.
func resourceFilter(r *http.Request) (steward.ResourceFilter, error) {
	q := r.URL.Query()
	conflict, err := boolQuery(r, "conflict")
	if err != nil {
		return steward.ResourceFilter{}, err
	}
	af := apiResourceFilter{Tenant: q.Get("tenant"), Subscription: q.Get("subscription"), ResourceGroup: q.Get("resourceGroup"),
		Type: q.Get("type"), Tag: q["tag"], Untagged: q.Get("untagged"), InConflict: conflict, Name: q.Get("q")}
	f, err := af.filter()
	if err != nil {
		return f, err
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return f, steward.Errorf(steward.EINVALID, "limit must be a number from 1 to 1000.")
		}
	}
	f.After, err = cursorParam(r)
	return f, err
}

func (s *Server) apiListResources(w http.ResponseWriter, r *http.Request) error {
	f, err := resourceFilter(r)
	if err != nil {
		return err
	}
	rs, next, err := s.deps.InventoryService.Resources(r.Context(), f)
	if err != nil {
		return err
	}
	out := listResponse[apiResource]{Items: []apiResource{}, Next: next}
	for _, res := range rs {
		out.Items = append(out.Items, toAPIResource(res))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGetResource(w http.ResponseWriter, r *http.Request) error {
	res, hist, err := s.deps.InventoryService.Resource(r.Context(), r.URL.Query().Get("id"), 200)
	if err != nil {
		return err
	}
	out := apiResourceDetail{apiResource: toAPIResource(res), History: []apiTagHistory{}}
	for _, h := range hist {
		out.History = append(out.History, apiTagHistory{At: h.At.UTC(), Key: h.Key, Old: h.Old, New: h.New, Source: h.Source, Actor: h.Actor, EditID: h.EditID})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiTagKeys(w http.ResponseWriter, r *http.Request) error {
	f, err := resourceFilter(r)
	if err != nil {
		return err
	}
	keys, err := s.deps.InventoryService.TagKeys(r.Context(), f, 500)
	if err != nil {
		return err
	}
	out := listResponse[apiTagKey]{Items: make([]apiTagKey, len(keys))}
	for i, k := range keys {
		out.Items[i] = apiTagKey{Key: k.Key, Spellings: nonNil(k.Spellings), Resources: k.Resources}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tagEditInput is the body of POST /api/v1/tag-edits.
type tagEditInput struct {
	Resources []string           `json:"resources"`
	Filter    *apiResourceFilter `json:"filter"`
	Merge     map[string]string  `json:"merge"`
	Delete    []string           `json:"delete"`
	Rename    map[string]string  `json:"rename"`
	DryRun    bool               `json:"dryRun"`
	// SkipRefused applies the edit to the resources it may change when
	// some may not be changed, instead of refusing it.
	SkipRefused bool `json:"skipRefused"`
}

func (in tagEditInput) request() (*steward.TagEditRequest, error) {
	if len(in.Resources) > 0 && in.Filter != nil {
		return nil, steward.Errorf(steward.EINVALID, "Give resources or a filter, not both.")
	}
	req := &steward.TagEditRequest{Resources: in.Resources, Merge: in.Merge, Delete: in.Delete, Rename: in.Rename, SkipRefused: in.SkipRefused}
	if in.Filter != nil {
		f, err := in.Filter.filter()
		if err != nil {
			return nil, err
		}
		req.Filter = &f
	}
	return req, nil
}

func toAPIPreview(p *steward.TagEditPreview, dryRun bool) apiPreview {
	out := apiPreview{DryRun: dryRun, Resources: p.Resources, Changed: len(p.Changed), RefusedCount: len(p.Refused),
		Summary: []apiChangeSummary{}, Changes: []apiPreviewResource{}, Refused: []apiRefusal{}}
	for _, r := range p.Refused[:min(len(p.Refused), previewRows)] {
		out.Refused = append(out.Refused, apiRefusal{ResourceID: r.ResourceID, Reason: r.Reason, Code: r.Code})
	}
	type change struct{ key, old, new string }
	counts := map[change]int{}
	var order []change
	for i, c := range p.Changed {
		if i < previewRows {
			out.Changes = append(out.Changes, apiPreviewResource{ResourceID: c.Resource.ID, Changes: c.Changes})
		}
		for _, tc := range c.Changes {
			k := change{tc.Key, valueKey(tc.Old), valueKey(tc.New)}
			if counts[k] == 0 {
				order = append(order, k)
			}
			counts[k]++
		}
	}
	slices.SortStableFunc(order, func(a, b change) int { return counts[b] - counts[a] }) // the commonest first
	for _, k := range order[:min(len(order), previewRows)] {
		out.Summary = append(out.Summary, apiChangeSummary{Key: k.key, Old: valueOf(k.old), New: valueOf(k.new), Resources: counts[k]})
	}
	out.MoreChanges = max(len(order)-previewRows, 0)
	return out
}

// valueKey and valueOf carry an optional value through a map key: "\x00"
// stands for absent, which no stored value can be.
func valueKey(v *string) string {
	if v == nil {
		return "\x00"
	}
	return *v
}

func valueOf(k string) *string {
	if k == "\x00" {
		return nil
	}
	return &k
}

func (s *Server) apiCreateTagEdit(w http.ResponseWriter, r *http.Request) error {
	var in tagEditInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	req, err := in.request()
	if err != nil {
		return err
	}
	if in.DryRun {
		p, err := s.deps.InventoryService.PreviewTagEdit(r.Context(), req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toAPIPreview(p, true))
		return nil
	}
	e, err := s.deps.InventoryService.SubmitTagEdit(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tag-edits/"+strconv.FormatInt(e.ID, 10))
	writeJSON(w, http.StatusAccepted, toAPITagEdit(e))
	return nil
}

func (s *Server) apiListTagEdits(w http.ResponseWriter, r *http.Request) error {
	edits, err := s.deps.InventoryService.TagEdits(r.Context(), 100)
	if err != nil {
		return err
	}
	out := listResponse[apiTagEdit]{Items: []apiTagEdit{}}
	for _, e := range edits {
		out.Items = append(out.Items, toAPITagEdit(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cursorParam reads a listing's cursor: absent (0), or a row ID this API
// returned. EINVALID otherwise.
func cursorParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, steward.Errorf(steward.EINVALID, "cursor is not one this API returned.")
	}
	return n, nil
}

func (s *Server) apiGetTagEdit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	after, err := cursorParam(r)
	if err != nil {
		return err
	}
	e, err := s.deps.InventoryService.TagEdit(r.Context(), id)
	if err != nil {
		return err
	}
	items, next, err := s.deps.InventoryService.TagEditItems(r.Context(), id, "", after, 500)
	if err != nil {
		return err
	}
	out := toAPITagEdit(e)
	for _, it := range items {
		out.ItemsOnPage = append(out.ItemsOnPage, toAPIItem(it))
	}
	out.NextItemsPage = next
	writeJSON(w, http.StatusOK, out)
	return nil
}

type resolveInput struct {
	Keep string `json:"keep"` // "azure" or "steward"
}

func (s *Server) apiResolveConflict(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in resolveInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Keep != "azure" && in.Keep != "steward" {
		return steward.Errorf(steward.EINVALID, `keep must be "azure" (drop Steward's change) or "steward" (write it over Azure's value).`)
	}
	if err := s.deps.InventoryService.ResolveConflict(r.Context(), id, in.Keep == "azure"); err != nil {
		return err
	}
	item, err := s.deps.InventoryService.TagEditItem(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIItem(item))
	return nil
}

// costQuery reads a cost report's query string.
func costQuery(r *http.Request, now time.Time) (steward.CostQuery, error) {
	q := r.URL.Query()
	cq := steward.CostQuery{GroupBy: q.Get("groupBy"), SubscriptionID: strings.ToLower(q.Get("subscription"))}
	if cq.GroupBy == "" {
		cq.GroupBy = "service"
	}
	if k, ok := strings.CutPrefix(cq.GroupBy, "tag:"); ok && strings.TrimSpace(k) == "" {
		return cq, steward.Errorf(steward.EINVALID, "groupBy tag: needs a tag name, as in tag:owner.")
	}
	switch {
	case strings.HasPrefix(cq.GroupBy, "tag:"), cq.GroupBy == "subscription", cq.GroupBy == "resourceGroup", cq.GroupBy == "service", cq.GroupBy == "day":
	default:
		return cq, steward.Errorf(steward.EINVALID, "groupBy must be tag:KEY, subscription, resourceGroup, service or day.")
	}
	var err error
	if cq.From, err = parseTimeParam(q.Get("from"), "from"); err != nil {
		return cq, err
	}
	if cq.To, err = parseTimeParam(q.Get("to"), "to"); err != nil {
		return cq, err
	}
	today := now.UTC().Truncate(24 * time.Hour)
	if cq.To.IsZero() {
		cq.To = today.AddDate(0, 0, 1)
	}
	if cq.From.IsZero() {
		cq.From = cq.To.AddDate(0, 0, -30)
	}
	if !cq.From.Before(cq.To) {
		return cq, steward.Errorf(steward.EINVALID, "from must be before to.")
	}
	if cq.To.Sub(cq.From) > 366*24*time.Hour {
		return cq, steward.Errorf(steward.EINVALID, "A cost report covers at most a year.")
	}
	if cq.Daily, err = boolQuery(r, "daily"); err != nil {
		return cq, err
	}
	return cq, nil
}

func (s *Server) apiCosts(w http.ResponseWriter, r *http.Request) error {
	cq, err := costQuery(r, s.cfg.Now())
	if err != nil {
		return err
	}
	groups, err := s.deps.InventoryService.Costs(r.Context(), cq)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="steward-costs-`+url.PathEscape(strings.ReplaceAll(cq.GroupBy, ":", "-"))+`.csv"`)
		cw := csv.NewWriter(w)
		cw.Write([]string{"group", "day", "cost", "currency"})
		for _, g := range groups {
			day := ""
			if !g.Day.IsZero() {
				day = g.Day.Format(time.DateOnly)
			}
			cw.Write([]string{csvSafe(costLabel(cq, g.Key)), day, strconv.FormatFloat(g.Cost, 'f', 2, 64), g.Currency})
		}
		cw.Flush()
		return cw.Error()
	}
	out := listResponse[apiCostGroup]{Items: []apiCostGroup{}}
	for _, g := range groups {
		out.Items = append(out.Items, apiCostGroup{Key: costLabel(cq, g.Key), Day: optTime(g.Day), Cost: g.Cost, Currency: g.Currency})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// costLabel names a group: an empty tag value is "untagged".
func costLabel(q steward.CostQuery, key string) string {
	if key == "" && strings.HasPrefix(q.GroupBy, "tag:") {
		return "untagged"
	}
	return key
}
