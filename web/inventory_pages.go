package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

type subscriptionRow struct {
	Sub      *steward.Subscription
	Run      *apiSyncRun // latest run
	CanSync  bool
	Progress int // percent, while running
}

type subscriptionsPage struct {
	Rows           []subscriptionRow
	Running        bool
	Search, Tenant string
	State          string // the sync health filter, or ""
	States         []stateChoice
	First, Last    int    // the rows shown, counted from 1
	Next           string // the next page's link, or ""
}

func (s *Server) subscriptionRows(r *http.Request, subs []*steward.Subscription) ([]subscriptionRow, bool, error) {
	actor := steward.ActorFromContext(r.Context())
	now := s.cfg.Now()
	running := false
	rows := make([]subscriptionRow, 0, len(subs))
	for _, sub := range subs {
		row := subscriptionRow{Sub: sub, CanSync: actor.Can(steward.PermTenantsManage, sub.TenantID)}
		runs, err := s.deps.InventoryService.SyncRuns(r.Context(), sub.ID, 1)
		if err != nil {
			return nil, false, err
		}
		if len(runs) > 0 {
			ar := toAPISyncRun(runs[0], now)
			row.Run = &ar
			row.Progress = int(ar.Progress * 100)
			if runs[0].Status == steward.SyncRunning || runs[0].Status == steward.SyncQueued {
				running = true
			}
		}
		rows = append(rows, row)
	}
	return rows, running, nil
}

// stateChoice is one option of a list's state filter.
type stateChoice struct {
	Value, Label string
	Selected     bool
}

// healthStates are the sync health filters, as the lists offer them.
var healthStates = []stateChoice{
	{Value: string(steward.SyncHealthFailed), Label: "Sync failed"},
	{Value: string(steward.SyncHealthStale), Label: "Not synced for 2 hours"},
	{Value: string(steward.SyncHealthQueued), Label: "Sync queued or running"},
}

// stateChoices marks the chosen one of the options.
func stateChoices(current string, options []stateChoice) []stateChoice {
	out := slices.Clone(options)
	for i := range out {
		out[i].Selected = out[i].Value == current
	}
	return out
}

// subscriptionsPerPage keeps the page light with a thousand subscriptions.
const subscriptionsPerPage = 100

func (s *Server) pageSubscriptions(w http.ResponseWriter, r *http.Request) error {
	f, err := subscriptionFilter(r, subscriptionsPerPage)
	if err != nil {
		return err
	}
	subs, next, err := s.subscriptionPage(r, f)
	if err != nil {
		return err
	}
	rows, running, err := s.subscriptionRows(r, subs)
	if err != nil {
		return err
	}
	page := subscriptionsPage{Rows: rows, Running: running, Search: f.Search, Tenant: f.TenantID, State: string(f.Health),
		States: stateChoices(string(f.Health), healthStates), First: f.Offset + 1, Last: f.Offset + len(rows)}
	if next != "" {
		page.Next = "/subscriptions?" + url.Values{"q": {f.Search}, "tenant": {f.TenantID}, "state": {string(f.Health)}, "cursor": {next}}.Encode()
	}
	v := view{Title: "Subscriptions", Nav: "subscriptions", Flash: flash(r), Data: page}
	if running {
		v.Refresh = 3 // show sync progress without a script
	}
	s.render(w, r, http.StatusOK, "subscriptions", v)
	return nil
}

type levelChoice struct {
	Level   steward.SyncLevel
	Label   string
	Means   string
	Current bool
}

type subscriptionPage struct {
	Sub      *steward.Subscription
	Runs     []apiSyncRun
	Levels   []levelChoice
	CanSet   bool
	Resource int
}

func (s *Server) pageSubscription(w http.ResponseWriter, r *http.Request) error {
	return s.renderSubscription(w, r, http.StatusOK, "")
}

func (s *Server) renderSubscription(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	sub, err := s.visibleSubscription(r, r.PathValue("subscriptionId"))
	if err != nil {
		return err
	}
	runs, err := s.deps.InventoryService.SyncRuns(r.Context(), sub.ID, 20)
	if err != nil {
		return err
	}
	n, err := s.deps.InventoryService.CountResources(r.Context(), steward.ResourceFilter{SubscriptionID: sub.ID})
	if err != nil {
		return err
	}
	d := subscriptionPage{Sub: sub, CanSet: steward.ActorFromContext(r.Context()).Can(steward.PermTenantsManage, sub.TenantID), Resource: n}
	running := false
	for _, run := range runs {
		d.Runs = append(d.Runs, toAPISyncRun(run, s.cfg.Now()))
		running = running || run.Status == steward.SyncRunning || run.Status == steward.SyncQueued
	}
	for _, l := range steward.SyncLevels {
		d.Levels = append(d.Levels, levelChoice{Level: l, Label: l.Label(), Means: l.Explain(), Current: l == sub.SyncLevel})
	}
	v := view{Title: sub.DisplayName, Nav: "subscriptions", Flash: flash(r), Error: errMsg, Data: d}
	if running {
		v.Refresh = 3
	}
	s.render(w, r, status, "subscription", v)
	return nil
}

func (s *Server) pageSetSyncLevel(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.visibleSubscription(r, r.PathValue("subscriptionId"))
	if err != nil {
		return err
	}
	level, err := steward.ParseSyncLevel(r.PostFormValue("level"))
	if err == nil {
		_, err = s.deps.InventoryService.SetSyncLevel(r.Context(), sub.ID, level)
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderSubscription(w, r, errorStatus(err), steward.ErrorMessage(err))
	}
	return redirect(w, r, "/subscriptions/"+sub.ID+"?done=level")
}

func (s *Server) pageSyncNow(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.visibleSubscription(r, r.PathValue("subscriptionId"))
	if err != nil {
		return err
	}
	if _, err := s.deps.InventoryService.SyncNow(r.Context(), sub.ID); err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderSubscription(w, r, errorStatus(err), steward.ErrorMessage(err))
	}
	back := "/subscriptions/" + sub.ID + "?done=sync"
	if r.PostFormValue("back") == "list" {
		back = "/subscriptions?done=sync"
	}
	return redirect(w, r, back)
}

type resourcesPage struct {
	Query     url.Values
	Resources []*steward.Resource
	NextURL   string
	EditURL   string
	Subs      []*steward.Subscription
	SubNames  map[string]string
	CanEdit   bool
	Total     int
}

func (s *Server) pageResources(w http.ResponseWriter, r *http.Request) error {
	// The filter form sends every field, the empty ones too; an empty field
	// filters nothing (an empty tag= would otherwise be refused as a tag
	// without a name).
	q := r.URL.Query()
	for k, vs := range q {
		vs = slices.DeleteFunc(vs, func(v string) bool { return strings.TrimSpace(v) == "" })
		if len(vs) == 0 {
			delete(q, k)
		} else {
			q[k] = vs
		}
	}
	r.URL.RawQuery = q.Encode()
	d := resourcesPage{Query: q, SubNames: map[string]string{}}
	subs, err := s.deps.InventoryService.Subscriptions(r.Context(), steward.SubscriptionFilter{})
	if err != nil {
		return err
	}
	d.Subs = subs
	for _, sub := range subs {
		d.SubNames[sub.ID] = sub.DisplayName
	}
	d.CanEdit = steward.ActorFromContext(r.Context()).CanSome(steward.PermTagsWrite)
	f, err := resourceFilter(r)
	status, errMsg := http.StatusOK, ""
	if err == nil {
		if f.Limit == 0 {
			f.Limit = 50
		}
		var next string
		d.Resources, next, err = s.deps.InventoryService.Resources(r.Context(), f)
		if next != "" {
			nq := maps.Clone(q)
			nq.Set("cursor", next)
			d.NextURL = "/resources?" + nq.Encode()
		}
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		status, errMsg = errorStatus(err), steward.ErrorMessage(err)
	}
	eq := maps.Clone(q)
	eq.Del("cursor")
	eq.Del("limit")
	d.EditURL = "/tag-edits/new?" + eq.Encode()
	s.render(w, r, status, "resources", view{Title: "Resources", Nav: "resources", Error: errMsg, Data: d})
	return nil
}

type resourcePage struct {
	Res     *steward.Resource
	Sub     *steward.Subscription
	Keys    []string
	History []*steward.TagHistoryEntry
	CanEdit bool
	Why     string // why the tags cannot be edited here
}

func (s *Server) pageResource(w http.ResponseWriter, r *http.Request) error {
	res, hist, err := s.deps.InventoryService.Resource(r.Context(), r.URL.Query().Get("id"), 100)
	if err != nil {
		return err
	}
	sub, err := s.visibleSubscription(r, res.SubscriptionID)
	if err != nil {
		return err
	}
	d := resourcePage{Res: res, Sub: sub, Keys: slices.Sorted(maps.Keys(res.Tags)), History: hist}
	actor := steward.ActorFromContext(r.Context())
	switch {
	case !actor.Can(steward.PermTagsWrite, sub.TenantID):
		d.Why = "Your roles do not allow editing tags here."
	case !sub.SyncLevel.WritesTags():
		d.Why = "This subscription is set to " + sub.SyncLevel.Label() + ": " + sub.SyncLevel.Explain()
	default:
		d.CanEdit = true
	}
	s.render(w, r, http.StatusOK, "resource", view{Title: res.Name, Nav: "resources", Data: d})
	return nil
}

// editForm is the bulk tag editor as typed: which resources (IDs or the
// filter in the query string) and fixed rows for merge, delete and rename.
type editForm struct {
	IDs    []string
	Filter url.Values // the resources page's filter
	Merge  []kv
	Delete []string
	Rename []kv
	Skip   bool // apply to the others when some resources cannot be edited
}

type kv struct{ K, V string }

const editRows = 5

func readEditForm(r *http.Request) editForm {
	f := editForm{IDs: r.Form["id"], Filter: url.Values{}, Skip: r.Form.Get("skip") == "1"}
	for _, k := range []string{"tenant", "subscription", "resourceGroup", "type", "tag", "untagged", "conflict", "q"} {
		for _, v := range r.Form["f."+k] {
			if v != "" {
				f.Filter.Add(k, v)
			}
		}
	}
	for i := range editRows {
		n := strconv.Itoa(i)
		f.Merge = append(f.Merge, kv{r.FormValue("mk" + n), r.FormValue("mv" + n)})
		f.Delete = append(f.Delete, r.FormValue("dk"+n))
		f.Rename = append(f.Rename, kv{r.FormValue("rf" + n), r.FormValue("rt" + n)})
	}
	return f
}

// request turns the form into a tag edit request.
func (f editForm) request() (*steward.TagEditRequest, error) {
	in := tagEditInput{Resources: f.IDs, SkipRefused: f.Skip}
	if len(f.IDs) == 0 {
		conflict, _ := strconv.ParseBool(f.Filter.Get("conflict"))
		in.Filter = &apiResourceFilter{Tenant: f.Filter.Get("tenant"), Subscription: f.Filter.Get("subscription"), ResourceGroup: f.Filter.Get("resourceGroup"),
			Type: f.Filter.Get("type"), Tag: f.Filter["tag"], Untagged: f.Filter.Get("untagged"), InConflict: conflict, Name: f.Filter.Get("q")}
	}
	for _, m := range f.Merge {
		if strings.TrimSpace(m.K) != "" {
			if in.Merge == nil {
				in.Merge = map[string]string{}
			}
			in.Merge[strings.TrimSpace(m.K)] = m.V
		}
	}
	for _, d := range f.Delete {
		if strings.TrimSpace(d) != "" {
			in.Delete = append(in.Delete, strings.TrimSpace(d))
		}
	}
	for _, m := range f.Rename {
		if strings.TrimSpace(m.K) != "" {
			if in.Rename == nil {
				in.Rename = map[string]string{}
			}
			in.Rename[strings.TrimSpace(m.K)] = strings.TrimSpace(m.V)
		}
	}
	return in.request()
}

type tagEditPage struct {
	Form    editForm
	Preview *apiPreview
	Target  string // what the edit applies to, in words
}

func (f editForm) target() string {
	if len(f.IDs) == 1 {
		return "1 resource"
	}
	if len(f.IDs) > 0 {
		return strconv.Itoa(len(f.IDs)) + " selected resources"
	}
	if len(f.Filter) == 0 {
		return "every resource you can see"
	}
	return "every resource matching " + f.Filter.Encode()
}

func (s *Server) pageTagEditNew(w http.ResponseWriter, r *http.Request) error {
	r.ParseForm()
	f := readEditForm(r)
	// The resources page links here with its own filter names.
	for _, k := range []string{"tenant", "subscription", "resourceGroup", "type", "tag", "untagged", "conflict", "q"} {
		for _, v := range r.URL.Query()[k] {
			f.Filter.Add(k, v)
		}
	}
	if rename := r.URL.Query().Get("rename"); rename != "" {
		from, to, _ := strings.Cut(rename, ">")
		f.Rename[0] = kv{from, to}
	}
	s.render(w, r, http.StatusOK, "tag_edit", view{Title: "Edit tags", Nav: "resources", Data: tagEditPage{Form: f, Target: f.target()}})
	return nil
}

// pageTagEditPreview shows exactly what the edit will change, with a
// button to apply it; nothing is stored yet.
func (s *Server) pageTagEditPreview(w http.ResponseWriter, r *http.Request) error {
	r.ParseForm()
	f := readEditForm(r)
	d := tagEditPage{Form: f, Target: f.target()}
	req, err := f.request()
	if err == nil {
		var p *steward.TagEditPreview
		if p, err = s.deps.InventoryService.PreviewTagEdit(r.Context(), req); err == nil {
			ap := toAPIPreview(p, true)
			d.Preview = &ap
		}
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		s.render(w, r, errorStatus(err), "tag_edit", view{Title: "Edit tags", Nav: "resources", Error: steward.ErrorMessage(err), Data: d})
		return nil
	}
	s.render(w, r, http.StatusOK, "tag_edit", view{Title: "Edit tags", Nav: "resources", Data: d})
	return nil
}

func (s *Server) pageTagEditSubmit(w http.ResponseWriter, r *http.Request) error {
	r.ParseForm()
	f := readEditForm(r)
	req, err := f.request()
	var e *steward.TagEdit
	if err == nil {
		e, err = s.deps.InventoryService.SubmitTagEdit(r.Context(), req)
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		d := tagEditPage{Form: f, Target: f.target()}
		s.render(w, r, errorStatus(err), "tag_edit", view{Title: "Edit tags", Nav: "resources", Error: steward.ErrorMessage(err), Data: d})
		return nil
	}
	return redirect(w, r, "/tag-edits/"+strconv.FormatInt(e.ID, 10)+"?done=edit")
}

func (s *Server) pageTagEdits(w http.ResponseWriter, r *http.Request) error {
	edits, err := s.deps.InventoryService.TagEdits(r.Context(), 100)
	if err != nil {
		return err
	}
	conflicts, _, err := s.deps.InventoryService.TagEditItems(r.Context(), 0, steward.EditConflict, 0, 100)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "tag_edits", view{Title: "Tag edits", Nav: "edits", Flash: flash(r), Data: struct {
		Edits     []*steward.TagEdit
		Conflicts []*steward.TagEditItem
	}{edits, conflicts}})
	return nil
}

type tagEditDetail struct {
	Edit    *steward.TagEdit
	Items   []*steward.TagEditItem
	NextURL string
	Pending bool
	CanEdit bool
}

func (s *Server) pageTagEdit(w http.ResponseWriter, r *http.Request) error {
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
	items, next, err := s.deps.InventoryService.TagEditItems(r.Context(), id, "", after, 200)
	if err != nil {
		return err
	}
	d := tagEditDetail{Edit: e, Items: items, Pending: e.Status == steward.EditPending, CanEdit: steward.ActorFromContext(r.Context()).CanSome(steward.PermTagsWrite)}
	if next != "" {
		d.NextURL = "/tag-edits/" + strconv.FormatInt(id, 10) + "?cursor=" + next
	}
	v := view{Title: "Tag edit " + strconv.FormatInt(id, 10), Nav: "edits", Flash: flash(r), Data: d}
	if d.Pending {
		v.Refresh = 3
	}
	s.render(w, r, http.StatusOK, "tag_edit_detail", v)
	return nil
}

func (s *Server) pageResolveConflict(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	keep := r.PostFormValue("keep")
	if keep != "azure" && keep != "steward" {
		return steward.Errorf(steward.EINVALID, "Choose whose value to keep.")
	}
	item, err := s.deps.InventoryService.TagEditItem(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.deps.InventoryService.ResolveConflict(r.Context(), id, keep == "azure"); err != nil {
		return err
	}
	return redirect(w, r, "/tag-edits/"+strconv.FormatInt(item.EditID, 10)+"?done=resolved")
}

func (s *Server) pageTagKeys(w http.ResponseWriter, r *http.Request) error {
	f, err := resourceFilter(r)
	if err != nil {
		return err
	}
	keys, err := s.deps.InventoryService.TagKeys(r.Context(), f, 500)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "tag_keys", view{Title: "Tag names", Nav: "tags", Data: struct {
		Keys    []*steward.TagKeyStat
		CanEdit bool
	}{keys, steward.ActorFromContext(r.Context()).CanSome(steward.PermTagsWrite)}})
	return nil
}

type costsPage struct {
	Query   steward.CostQuery
	Form    url.Values
	Groups  []*steward.CostGroup
	Total   float64
	Chart   *barChart
	CSVURL  string
	Tags    []*steward.TagKeyStat
	Subs    []*steward.Subscription
	Labeler func(string) string
	Imports costImports
}

// costImports sums how far the subscriptions' costs are imported, for
// Spend's banner while a first import is under way.
type costImports struct {
	Subscriptions, Current int
	DaysStored, Days       int
	Quota, Worker, Retry   int       // imports waiting, by reason
	QuotaUntil             time.Time // the soonest a spent quota resets
}

// Importing reports whether some subscription's costs are not all stored.
func (c costImports) Importing() bool { return c.Current < c.Subscriptions }

func sumCostImports(imports []*steward.CostImport) costImports {
	var c costImports
	for _, ci := range imports {
		c.Subscriptions++
		c.DaysStored += ci.DaysStored
		c.Days += ci.Days
		if ci.Current {
			c.Current++
		}
		if w := ci.Wait; w != nil {
			switch w.Reason {
			case steward.WaitQuota:
				c.Quota++
				if c.QuotaUntil.IsZero() || w.Until.Before(c.QuotaUntil) {
					c.QuotaUntil = w.Until
				}
			case steward.WaitWorker:
				c.Worker++
			case steward.WaitRetry:
				c.Retry++
			}
		}
	}
	return c
}

func (s *Server) pageCosts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("groupBy") == "" {
		q.Set("groupBy", "service")
		r.URL.RawQuery = q.Encode()
	}
	d := costsPage{Form: q}
	subs, err := s.deps.InventoryService.Subscriptions(r.Context(), steward.SubscriptionFilter{})
	if err != nil {
		return err
	}
	d.Subs = subs
	imports, err := s.deps.InventoryService.CostImports(r.Context())
	if err != nil {
		return err
	}
	d.Imports = sumCostImports(imports)
	if d.Tags, err = s.deps.InventoryService.TagKeys(r.Context(), steward.ResourceFilter{}, 30); err != nil {
		return err
	}
	cq, err := costQuery(r, s.cfg.Now())
	status, errMsg := http.StatusOK, ""
	if err == nil {
		d.Query = cq
		cq.Daily = true
		var daily []*steward.CostGroup
		if daily, err = s.deps.InventoryService.Costs(r.Context(), cq); err == nil {
			cq.Daily = false
			d.Groups, err = s.deps.InventoryService.Costs(r.Context(), cq)
			for _, g := range d.Groups {
				d.Total += g.Cost
			}
			d.Chart = dailyChart(cq, daily, d.Groups)
		}
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		status, errMsg = errorStatus(err), steward.ErrorMessage(err)
	}
	cq2 := maps.Clone(q)
	cq2.Set("format", "csv")
	d.CSVURL = "/api/v1/costs?" + cq2.Encode()
	d.Labeler = func(k string) string { return costLabel(d.Query, k) }
	s.render(w, r, status, "costs", view{Title: "Spend", Nav: "costs", Error: errMsg, Data: d})
	return nil
}

// dayLabel formats a chart's day.
func dayLabel(t time.Time) string { return t.Format("Jan 2") }
