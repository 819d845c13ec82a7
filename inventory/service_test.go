package inventory_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// world is Steward's inventory on a real store, talking through the real
// connector over HTTPS to an emulator of its own: Contoso connected with
// its Tag Contributor service principal.
type world struct {
	db      *store.DB
	emu     *emulator.Emulator
	az      *azure.Connector
	inv     *inventory.Service
	acc     *access.Service
	box     steward.SecretBox
	tenant  *steward.Tenant
	subs    []string              // Contoso's subscriptions
	outside steward.AzureIdentity // someone else in Contoso who changes tags meanwhile
	ctx     context.Context
}

func newWorld(t *testing.T, db *store.DB) *world {
	t.Helper()
	e, path := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
	w := &world{db: db, emu: e, ctx: stewardtest.Admin(t.Context())}
	svc := stewardtest.NewServices(t, w.db, path, nil)
	w.az, w.inv, w.acc, w.box = svc.Azure, svc.Inventory, svc.Access, svc.Keys
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	w.subs = contoso.Subscriptions
	var err error
	// Separate identities: a Reader reads (resources and spend), a Tag
	// Contributor writes.
	w.tenant, _, err = w.acc.ConnectServicePrincipal(w.ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso",
		Read: stewardtest.Credential(reader), Write: ptr(stewardtest.Credential(writer))})
	if err != nil {
		t.Fatal(err)
	}
	// The same Tag Contributor app, used by a person outside Steward.
	w.outside = stewardtest.Identity(contoso.ID, writer)
	return w
}

// syncAll discovers the tenant and runs every queued sync to the end.
func (w *world) syncAll(t *testing.T) []*steward.SyncRun {
	t.Helper()
	runs, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if err := w.inv.RunSync(steward.NewSystemContext(w.ctx), r.ID); err != nil {
			t.Fatalf("run %d: %v", r.ID, err)
		}
	}
	out := make([]*steward.SyncRun, len(runs))
	for i, r := range runs {
		if out[i], err = w.db.SyncRunGet(w.ctx, everything, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// azureResources counts a subscription's resources as Azure lists them.
func (w *world) azureResources(t *testing.T, sub string) []*steward.Resource {
	t.Helper()
	var all []*steward.Resource
	for page, err := range w.az.Resources(w.ctx, w.outside, sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Resources...)
	}
	return all
}

func (w *world) stored(t *testing.T, sub string) []*steward.Resource {
	t.Helper()
	var all []*steward.Resource
	f := steward.ResourceFilter{SubscriptionID: sub, Limit: 1000}
	for {
		rs, next, err := w.db.ResourceList(w.ctx, everything, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
		if next == "" || len(rs) == 0 {
			return all
		}
		f.After = rs[len(rs)-1].PK
	}
}

func TestSyncMirrorsAzure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		runs := w.syncAll(t)
		if len(runs) != len(w.subs) {
			t.Fatalf("%d runs for %d subscriptions", len(runs), len(w.subs))
		}
		for _, r := range runs {
			if r.Status != steward.SyncSucceeded {
				t.Fatalf("run %+v", r)
			}
			want := w.azureResources(t, r.SubscriptionID)
			got := w.stored(t, r.SubscriptionID)
			if len(got) != len(want) || r.Seen != len(want) || len(want) == 0 {
				t.Fatalf("subscription %s: Azure has %d resources, Steward stored %d, run saw %d", r.SubscriptionID, len(want), len(got), r.Seen)
			}
			tags := map[string]map[string]string{}
			for _, x := range want {
				tags[strings.ToLower(x.ID)] = x.Tags
			}
			for _, x := range got {
				if !sameTags(tags[strings.ToLower(x.ID)], x.Tags) {
					t.Fatalf("%s: stored tags %v, Azure %v", x.ID, x.Tags, tags[strings.ToLower(x.ID)])
				}
			}
		}
		// A second sync finds nothing changed and writes nothing.
		for _, r := range w.syncAll(t) {
			if r.Status != steward.SyncSucceeded || r.Written != 0 || r.Deleted != 0 {
				t.Fatalf("unchanged estate, second run %+v", r)
			}
		}
		// A tag changed in Azure arrives with the next sync.
		res := w.stored(t, w.subs[0])[0]
		if _, err := w.az.TagsMerge(w.ctx, w.outside, res.ID, map[string]string{"steward-test": "changed"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range w.syncAll(t) {
			if r.SubscriptionID == w.subs[0] && r.Written != 1 {
				t.Fatalf("after one tag change, run %+v", r)
			}
		}
		got, err := w.db.ResourceGet(w.ctx, everything, res.ID)
		if err != nil || got.Tags["steward-test"] != "changed" {
			t.Fatalf("resource after sync: %+v, %v", got, err)
		}
		// The drift is in the resource's history with Azure's caller: for an
		// app, its service principal's object ID.
		_, writer := stewardtest.Principal(t, w.emu, emulator.ContosoTenantName, "tag")
		hist, err := w.db.TagHistory(w.ctx, everything, got.PK, 10)
		if err != nil || len(hist) == 0 || hist[0].Key != "steward-test" || hist[0].Source != "sync" || hist[0].Actor != writer.ObjectID {
			for _, h := range hist {
				t.Logf("history: %+v", *h)
			}
			t.Fatalf("history after drift: want steward-test found by sync, by %s (%v)", writer.ObjectID, err)
		}
	})
}

func TestSyncLevels(t *testing.T) {
	w := newWorld(t, storetest.Open(t, store.SQLite))
	w.syncAll(t)
	sub := w.subs[1]
	res := w.stored(t, sub)[0]

	// Read Tags Only: edits are refused with the reason.
	if _, err := w.inv.SetSyncLevel(w.ctx, sub, steward.SyncReadTags); err != nil {
		t.Fatal(err)
	}
	_, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"owner": "alice"}})
	if err == nil || !strings.Contains(steward.ErrorMessage(err), "Read Tags Only") {
		t.Fatalf("edit at read-tags: %v", err)
	}

	// No Resources purges what was stored and syncs nothing.
	if _, err := w.inv.SetSyncLevel(w.ctx, sub, steward.SyncNoResources); err != nil {
		t.Fatal(err)
	}
	if n := len(w.stored(t, sub)); n != 0 {
		t.Fatalf("no-resources kept %d resources", n)
	}
	if _, err := w.inv.SyncNow(w.ctx, sub); steward.ErrorCode(err) != steward.ECONFLICT {
		t.Fatalf("sync at no-resources: %v", err)
	}

	// No Tags stores resources without their tags.
	if _, err := w.inv.SetSyncLevel(w.ctx, sub, steward.SyncNoTags); err != nil {
		t.Fatal(err)
	}
	w.syncAll(t)
	rs := w.stored(t, sub)
	if len(rs) == 0 {
		t.Fatal("no-tags stored no resources")
	}
	for _, r := range rs {
		if len(r.Tags) != 0 {
			t.Fatalf("no-tags stored tags of %s: %v", r.ID, r.Tags)
		}
	}
	// Every change of level is audited.
	evs, _, err := w.db.AuditList(w.ctx, everything, steward.AuditFilter{Action: "subscription.sync_level", Limit: 10})
	if err != nil || len(evs) != 3 {
		t.Fatalf("sync level events: %d, %v", len(evs), err)
	}
}

func TestBulkEditWritesBackThroughTagsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.syncAll(t)
		sub := w.subs[2]
		req := &steward.TagEditRequest{Filter: &steward.ResourceFilter{SubscriptionID: sub}, Merge: map[string]string{"owner": "alice"}}
		preview, err := w.inv.PreviewTagEdit(w.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		n := len(w.stored(t, sub))
		if preview.Resources != n || len(preview.Changed) == 0 || len(preview.Changed)+len(preview.Refused) != n {
			t.Fatalf("preview of %d resources: %d selected, %d changed, %d refused", n, preview.Resources, len(preview.Changed), len(preview.Refused))
		}
		// App Service sites carry Azure's own hidden-related:/… tags, which
		// the Tags API refuses to write back: those are refused up front,
		// by name, and the whole edit with them unless the rest is asked for.
		skipped := map[string]bool{}
		for _, r := range preview.Refused {
			if !strings.Contains(r.Reason, "hidden-related:") {
				t.Fatalf("refused %s: %s", r.ResourceID, r.Reason)
			}
			skipped[strings.ToLower(r.ResourceID)] = true
		}
		if len(skipped) > 0 {
			if _, err := w.inv.SubmitTagEdit(w.ctx, req); steward.ErrorCode(err) != steward.EUNPROCESSABLE {
				t.Fatalf("edit with refused resources: %v", err)
			}
			req.SkipRefused = true
		}
		edit, err := w.inv.SubmitTagEdit(w.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if edit.Status != steward.EditPending || edit.ItemCount != len(preview.Changed) {
			t.Fatalf("submitted %+v", edit)
		}
		if err := w.inv.ApplyTagEdits(steward.NewSystemContext(w.ctx), sub); err != nil {
			t.Fatal(err)
		}
		if edit, err = w.db.TagEditGet(w.ctx, everything, edit.ID); err != nil || edit.AppliedCount != edit.ItemCount {
			failed, _ := w.db.TagEditItems(w.ctx, everything, edit.ID, steward.EditFailed, 0, 10)
			for _, f := range failed {
				t.Logf("failed: %s: %s", f.ResourceID, f.LastError)
			}
			t.Fatalf("after write-back: %+v, %v", edit, err)
		}
		// Azure has it, read back through the SDK.
		for _, r := range w.azureResources(t, sub) {
			if tagValue(r.Tags, "owner") != "alice" && !skipped[strings.ToLower(r.ID)] {
				t.Fatalf("%s in Azure: %v", r.ID, r.Tags)
			}
		}
		// Written by the Tags API only: the activity log holds tag writes
		// and nothing else from Steward's identity.
		contoso, reader := stewardtest.Principal(t, w.emu, emulator.ContosoTenantName, "reader")
		auditor := stewardtest.Identity(contoso.ID, reader)
		acts, err := w.az.Activity(w.ctx, auditor, sub, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) < edit.ItemCount {
			t.Fatalf("%d activity entries for %d writes", len(acts), edit.ItemCount)
		}
		for _, a := range acts {
			if !strings.EqualFold(a.Operation, "Microsoft.Resources/tags/write") {
				t.Fatalf("Steward wrote %s", a.Operation)
			}
		}
		// Running the job again writes nothing more (idempotent).
		if err := w.inv.ApplyTagEdits(steward.NewSystemContext(w.ctx), sub); err != nil {
			t.Fatal(err)
		}
		if again, _ := w.az.Activity(w.ctx, auditor, sub, time.Now().Add(-time.Hour)); len(again) != len(acts) {
			t.Fatalf("second write-back wrote again: %d then %d entries", len(acts), len(again))
		}
	})
}

func TestConflictIsHeldForAPerson(t *testing.T) {
	w := newWorld(t, storetest.Open(t, store.SQLite))
	w.syncAll(t)
	res := w.stored(t, w.subs[0])[0]
	edit, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"costcenter": "steward"}})
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile someone sets the same tag in Azure.
	if _, err := w.az.TagsMerge(w.ctx, w.outside, res.ID, map[string]string{"CostCenter": "portal"}); err != nil {
		t.Fatal(err)
	}
	if err := w.inv.ApplyTagEdits(steward.NewSystemContext(w.ctx), w.subs[0]); err != nil {
		t.Fatal(err)
	}
	items, err := w.db.TagEditItems(w.ctx, everything, edit.ID, "", 0, 10)
	if err != nil || len(items) != 1 || items[0].Status != steward.EditConflict || len(items[0].Conflicts) != 1 {
		t.Fatalf("items: %+v, %v", items, err)
	}
	tags, err := w.az.TagsGet(w.ctx, w.outside, res.ID)
	if err != nil || tags["CostCenter"] != "portal" {
		t.Fatalf("Azure's value was overwritten: %v, %v", tags, err)
	}
	// The person decides for Steward's value: it is written over Azure's.
	if err := w.inv.ResolveConflict(w.ctx, items[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if err := w.inv.ApplyTagEdits(steward.NewSystemContext(w.ctx), w.subs[0]); err != nil {
		t.Fatal(err)
	}
	tags, err = w.az.TagsGet(w.ctx, w.outside, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tags {
		if strings.EqualFold(k, "costcenter") && v != "steward" {
			t.Fatalf("after resolving for Steward, Azure has %s=%s", k, v)
		}
	}
}

func TestWriteAccessOffHoldsEdits(t *testing.T) {
	w := newWorld(t, storetest.Open(t, store.SQLite))
	w.syncAll(t)
	res := w.stored(t, w.subs[0])[0]
	if _, err := w.acc.SetWriteAccess(w.ctx, w.tenant.ID, false); err != nil {
		t.Fatal(err)
	}
	_, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"owner": "bob"}})
	if err == nil || !strings.Contains(strings.ToLower(steward.ErrorMessage(err)), "write access") {
		t.Fatalf("edit with write access off: %v", err)
	}
}

func TestTagLimitsCheckedBeforeWriting(t *testing.T) {
	w := newWorld(t, storetest.Open(t, store.SQLite))
	w.syncAll(t)
	res := w.stored(t, w.subs[0])[0]
	_, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"bad/name": "x"}})
	if err == nil || !strings.Contains(steward.ErrorMessage(err), "bad/name") {
		t.Fatalf("invalid tag name: %v", err)
	}
	// Control characters in a name are refused at submit, not at write-back.
	for _, name := range []string{"tab\there", "new\nline", "bell\x07"} {
		_, err = w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{name: "x"}})
		if steward.ErrorCode(err) != steward.EUNPROCESSABLE || !strings.Contains(steward.ErrorMessage(err), "control character") {
			t.Fatalf("tag name %q: %v", name, err)
		}
	}
	// One tag past Azure's 50 is Azure's limit, not the caller's roles: 422.
	merge := map[string]string{}
	for i := len(res.Tags); i <= steward.MaxTagsPerResource; i++ {
		merge[fmt.Sprintf("extra%02d", i)] = "x"
	}
	_, err = w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: merge})
	if steward.ErrorCode(err) != steward.EUNPROCESSABLE || !strings.Contains(steward.ErrorMessage(err), "51 tags") {
		t.Fatalf("a resource with 51 tags: %v", err)
	}
	if edits, _ := w.db.TagEditList(w.ctx, everything, 10); len(edits) != 0 {
		t.Fatalf("a refused edit was stored: %+v", edits[0])
	}
}

func ptr[T any](v T) *T { return &v }

// TestCostsImportResumes: an import fills the last 90 days; one that
// stopped after its newest months (Azure's quota, a restart) goes on with
// the older ones and ends with the same report.
func TestCostsImportResumes(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	w := newWorld(t, db)
	w.syncAll(t)
	sub, sys := w.subs[0], steward.NewSystemContext(w.ctx)
	if err := w.inv.IngestCosts(sys, sub); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	first, last, err := db.CostDays(w.ctx, sub)
	if err != nil || first.After(today.AddDate(0, 0, -85)) || last.Before(today.AddDate(0, 0, -3)) {
		t.Fatalf("after the first import: days %v to %v, %v", first, last, err)
	}
	q := steward.CostQuery{From: today.AddDate(0, 0, -90), To: today.AddDate(0, 0, 1), GroupBy: "service", SubscriptionID: sub}
	whole, err := db.CostReport(w.ctx, everything, q)
	if err != nil || len(whole) == 0 {
		t.Fatalf("report %v, %v", whole, err)
	}
	// As if the import had stopped after this month and the last.
	cut := time.Date(today.Year(), today.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	day := cut.Year()*10000 + int(cut.Month())*100 + cut.Day()
	storetest.Exec(t, db, `DELETE FROM cost_rows WHERE day < $1`, day)
	storetest.Exec(t, db, `DELETE FROM cost_daily WHERE day < $1`, day)
	storetest.Exec(t, db, `UPDATE subscriptions SET costs_from = $1 WHERE id = $2`, day, sub)
	if first, _, _ := db.CostDays(w.ctx, sub); first.Before(cut) {
		t.Fatalf("first day %v after the cut", first)
	}
	if err := w.inv.IngestCosts(sys, sub); err != nil {
		t.Fatal(err)
	}
	again, err := db.CostReport(w.ctx, everything, q)
	if err != nil {
		t.Fatal(err)
	}
	if first2, _, _ := db.CostDays(w.ctx, sub); !first2.Equal(first) || len(again) != len(whole) {
		t.Fatalf("after resuming: first day %v (was %v), %d groups (was %d)", first2, first, len(again), len(whole))
	}
	for i := range whole {
		if again[i].Key != whole[i].Key || math.Abs(again[i].Cost-whole[i].Cost) > 0.01 {
			t.Fatalf("after resuming, %s: %v, was %v", whole[i].Key, again[i].Cost, whole[i].Cost)
		}
	}
}

// TestCostsByTag fetches a subscription's daily costs and reports them by
// tag: the report adds up to what Cost Management says.
func TestCostsByTag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.syncAll(t)
		sub := w.subs[0]
		if err := w.inv.IngestCosts(steward.NewSystemContext(w.ctx), sub); err != nil {
			t.Fatal(err)
		}
		contoso, reader := stewardtest.Principal(t, w.emu, emulator.ContosoTenantName, "reader")
		to := time.Now().UTC().Truncate(24 * time.Hour)
		from := to.AddDate(0, 0, -30)
		var azureTotal float64
		for row, err := range w.az.Costs(w.ctx, stewardtest.Identity(contoso.ID, reader), sub, from, to) {
			if err != nil {
				t.Fatal(err)
			}
			azureTotal += row.Cost
		}
		groups, err := db.CostReport(w.ctx, everything, steward.CostQuery{From: from, To: to, GroupBy: "tag:environment", SubscriptionID: sub})
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for _, g := range groups {
			total += g.Cost
		}
		if azureTotal <= 0 || len(groups) < 2 || total < azureTotal*0.999 || total > azureTotal*1.001 {
			t.Fatalf("report by tag: %d groups summing to %.2f; Cost Management says %.2f", len(groups), total, azureTotal)
		}
		// Fetching again changes nothing.
		if err := w.inv.IngestCosts(steward.NewSystemContext(w.ctx), sub); err != nil {
			t.Fatal(err)
		}
		again, _ := db.CostReport(w.ctx, everything, steward.CostQuery{From: from, To: to, GroupBy: "tag:environment", SubscriptionID: sub})
		var total2 float64
		for _, g := range again {
			total2 += g.Cost
		}
		if total2 < total*0.999 || total2 > total*1.001 {
			t.Fatalf("second fetch: %.2f, first %.2f", total2, total)
		}
	})
}

// tagValue looks a tag up as Azure does, ignoring the case of its name.
func tagValue(tags map[string]string, name string) string {
	for k, v := range tags {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func sameTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestConnectThroughLighthouse connects the partner's tenant as a
// Lighthouse connection: Steward's app identity, no stored secret, the
// delegated subscriptions synced, and revocation commands for the customer.
func TestConnectThroughLighthouse(t *testing.T) {
	e, path := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
	db := storetest.Open(t, store.SQLite)
	svc := stewardtest.NewServices(t, db, path, nil)
	ctx := stewardtest.Admin(t.Context())
	cf := e.Connection()
	northwind, _ := cf.Tenant(emulator.NorthwindTenantName)
	contoso, _ := cf.Tenant(emulator.ContosoTenantName)
	if _, _, err := svc.Access.ConnectLighthouse(ctx, contoso.ID, "Contoso"); steward.ErrorCode(err) == "" {
		t.Fatal("Contoso delegates nothing to Steward's app, yet it connected")
	}
	// Steward's own app is not a customer credential.
	own := steward.CredentialInput{ClientID: cf.App.ClientID, Secret: steward.Secret(cf.App.ClientSecret)}
	if _, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: cf.App.TenantID, Name: "Adatum", Read: own}); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("Steward's own app as a service principal: %v", err)
	}
	tenant, rep, err := svc.Access.ConnectLighthouse(ctx, cf.App.TenantID, "Adatum (Lighthouse)")
	if err != nil {
		t.Fatal(err)
	}
	if creds, _ := db.CredentialList(ctx, everything, tenant.ID); len(creds) != 0 {
		t.Fatalf("a Lighthouse connection stored %d credentials", len(creds))
	}
	for _, v := range rep.Subscriptions {
		if v.Verdict == steward.VerdictMissing {
			t.Fatalf("delegated %s: %+v", v.DisplayName, v)
		}
	}
	runs, err := svc.Inventory.SyncTenant(ctx, tenant.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if err := svc.Inventory.RunSync(steward.NewSystemContext(ctx), r.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range northwind.Subscriptions {
		if rs, _, err := db.ResourceList(ctx, everything, steward.ResourceFilter{SubscriptionID: id, Limit: 1}); err != nil || len(rs) == 0 {
			t.Fatalf("delegated %s not synced: %v", id, err)
		}
	}
	cmds, err := svc.Access.RevocationCommands(ctx, tenant.ID, steward.RevokeRoles)
	if err != nil || len(cmds) < len(northwind.Subscriptions) || !strings.Contains(cmds[0], "az managedservices assignment delete") {
		t.Fatalf("revocation commands: %v, %v", cmds, err)
	}
}

// TestResourceGraphSync lists a tenant's subscriptions with Resource Graph
// queries instead of ARM, and ends with the same inventory.
func TestResourceGraphSync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.syncAll(t) // the runs queued at connection, through ARM
		// Change a tag in Azure: the Resource Graph sync must find it.
		res := w.stored(t, w.subs[0])[0]
		if _, err := w.az.TagsMerge(w.ctx, w.outside, res.ID, map[string]string{"graph": "seen"}); err != nil {
			t.Fatal(err)
		}
		w.tenant.SyncMethod = steward.SyncResourceGraph
		if err := db.TenantUpdate(w.ctx, w.tenant, steward.NewAuditEvent(w.ctx, "tenant.sync_method", w.tenant.Name).WithTenant(w.tenant.ID)); err != nil {
			t.Fatal(err)
		}
		runs, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range runs {
			if r.Method != steward.SyncResourceGraph {
				t.Fatalf("run %+v", r)
			}
			ids = append(ids, r.ID)
		}
		if err := w.inv.RunGraphSync(steward.NewSystemContext(w.ctx), w.tenant.ID, ids); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			got, err := db.SyncRunGet(w.ctx, everything, r.ID)
			if err != nil || got.Status != steward.SyncSucceeded {
				t.Fatalf("graph run %+v, %v", got, err)
			}
			want := w.azureResources(t, r.SubscriptionID)
			stored := w.stored(t, r.SubscriptionID)
			if len(stored) != len(want) || got.Seen != len(want) {
				t.Fatalf("%s: Resource Graph sync saw %d and stored %d, ARM lists %d", r.SubscriptionID, got.Seen, len(stored), len(want))
			}
			tags := map[string]map[string]string{}
			for _, x := range want {
				tags[strings.ToLower(x.ID)] = x.Tags
			}
			for _, x := range stored {
				if !sameTags(tags[strings.ToLower(x.ID)], x.Tags) {
					t.Fatalf("%s: tags %v, ARM %v", x.ID, x.Tags, tags[strings.ToLower(x.ID)])
				}
			}
		}
	})
}

// TestSubscriptionsThatMove follows delegated subscriptions moved between
// tenants: one moved to another customer keeps its delegation and shows its
// new home; one moved into the managing tenant loses the delegation and is
// marked missing (its data kept until someone decides).
func TestSubscriptionsThatMove(t *testing.T) {
	e, path := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
	db := storetest.Open(t, store.SQLite)
	svc := stewardtest.NewServices(t, db, path, nil)
	ctx := stewardtest.Admin(t.Context())
	cf := e.Connection()
	northwind, _ := cf.Tenant(emulator.NorthwindTenantName)
	contoso, _ := cf.Tenant(emulator.ContosoTenantName)
	tenant, _, err := svc.Access.ConnectLighthouse(ctx, cf.App.TenantID, "Our customers")
	if err != nil {
		t.Fatal(err)
	}
	moved, home := northwind.Subscriptions[0], northwind.Subscriptions[1]
	if err := e.TransferSubscription(moved, contoso.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.TransferSubscription(home, cf.App.TenantID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Inventory.SyncTenant(ctx, tenant.ID, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := db.SubscriptionGet(ctx, everything, moved)
	if err != nil || got.HomeTenantID != contoso.ID || !got.MissingSince.IsZero() {
		t.Fatalf("moved to Contoso: %+v, %v", got, err)
	}
	got, err = db.SubscriptionGet(ctx, everything, home)
	if err != nil || got.MissingSince.IsZero() {
		t.Fatalf("moved into the managing tenant: %+v, %v", got, err)
	}
}

// everything is the scope of Steward's own jobs, for tests that read the
// store directly to check what a service did.
var everything = steward.SystemActor.Scope(steward.PermInventoryRead)
