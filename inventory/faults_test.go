package inventory_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/secrets"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// faultPageSize is the listing page size of the fault tests: Contoso's
// subscriptions hold 60 resources each, so a sync reads 6 pages and a fault
// can land in the middle of one.
const faultPageSize = 10

// faultWorld is a world whose connector lists small pages and whose HTTP
// traffic to the emulator the test can watch, and whose inventory clock
// the test can move.
type faultWorld struct {
	*world
	wire  *wire
	clock *testClock
	keys  *secrets.Keyring // what the inventory opens stored secrets with
	path  string           // the emulator's connection file
}

type faultOptions struct {
	Emulator emulator.Config
	Lease    time.Duration // the service's; its default when zero
}

// newFaultWorld is newWorld with a watched transport, small pages and a
// clock of the test's own. Throttling is off unless opts turn it on.
func newFaultWorld(t *testing.T, db *store.DB, opts faultOptions) *faultWorld {
	t.Helper()
	cfg := opts.Emulator
	if cfg.Throttling == (emulator.Throttling{}) {
		cfg.Throttling.Disabled = true
	}
	e, path := stewardtest.Emulator(t, cfg)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CACertPEM())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	wr := &wire{next: tr}

	fw := &faultWorld{wire: wr, clock: &testClock{}, path: path}
	w := &world{db: db, emu: e, ctx: stewardtest.Admin(t.Context())}
	fw.world = w
	keys, err := secrets.NewKeyring(secrets.Config{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fw.keys = keys
	if w.az, err = azure.New(azure.Config{Cloud: path, Logger: log, HTTPClient: &http.Client{Transport: wr}, PageSize: faultPageSize}); err != nil {
		t.Fatal(err)
	}
	if w.inv, err = inventory.New(inventory.Config{Store: db, Azure: w.az, Box: keys, Logger: log, Now: fw.clock.Now, Lease: opts.Lease}); err != nil {
		t.Fatal(err)
	}
	if w.acc, err = access.New(access.Config{Store: db, Azure: w.az, Box: keys, Inventory: w.inv, Logger: log}); err != nil {
		t.Fatal(err)
	}
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	w.subs = contoso.Subscriptions
	w.tenant, _, err = w.acc.ConnectServicePrincipal(w.ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso",
		Read: stewardtest.Credential(reader), Write: ptr(stewardtest.Credential(writer))})
	if err != nil {
		t.Fatal(err)
	}
	w.outside = stewardtest.Identity(contoso.ID, writer)
	return fw
}

// testClock is time.Now moved forward by what the test skipped.
type testClock struct{ skipped atomic.Int64 }

func (c *testClock) Now() time.Time       { return time.Now().Add(time.Duration(c.skipped.Load())) }
func (c *testClock) Skip(d time.Duration) { c.skipped.Add(int64(d)) }
func (c *testClock) String() string       { return fmt.Sprint(time.Duration(c.skipped.Load())) }
func (fw *faultWorld) setFaults(t *testing.T, f emulator.Faults) {
	t.Helper()
	if err := fw.emu.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// wire is the connector's transport, with a hook that sees every answer
// (or transport error), and every body that broke off while being read.
type wire struct {
	next http.RoundTripper
	hook atomic.Pointer[func(r *http.Request, status int, err error)]
}

func (w *wire) watch(fn func(r *http.Request, status int, err error)) { w.hook.Store(&fn) }
func (w *wire) unwatch()                                              { w.hook.Store(nil) }

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(r)
	h := w.hook.Load()
	if h == nil {
		return resp, err
	}
	if err != nil {
		(*h)(r, 0, err)
		return resp, err
	}
	(*h)(r, resp.StatusCode, nil)
	resp.Body = &watchedBody{ReadCloser: resp.Body, broke: func(err error) { (*h)(r, resp.StatusCode, err) }}
	return resp, nil
}

type watchedBody struct {
	io.ReadCloser
	once  sync.Once
	broke func(error)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.once.Do(func() { b.broke(err) })
	}
	return n, err
}

// isListing reports whether r reads a page of a subscription's resources.
func isListing(r *http.Request) bool {
	p := strings.ToLower(r.URL.Path)
	return strings.HasPrefix(p, "/subscriptions/") && strings.HasSuffix(p, "/resources")
}

// azurePages lists a subscription as Azure pages it, by resource ID.
func (w *world) azurePages(t *testing.T, sub string) [][]string {
	t.Helper()
	var pages [][]string
	for page, err := range w.az.Resources(w.ctx, w.outside, sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range page.Resources {
			ids = append(ids, strings.ToLower(r.ID))
		}
		pages = append(pages, ids)
	}
	return pages
}

// tagsByID is a subscription's resources' tags, by lower-case ID.
func tagsByID(rs []*steward.Resource) map[string]map[string]string {
	out := make(map[string]map[string]string, len(rs))
	for _, r := range rs {
		out[strings.ToLower(r.ID)] = r.Tags
	}
	return out
}

// sameAsAzure fails unless Steward stores exactly the resources and tags
// that Azure lists for the subscription.
func (w *world) sameAsAzure(t *testing.T, sub string) {
	t.Helper()
	want := tagsByID(w.azureResources(t, sub))
	got := tagsByID(w.stored(t, sub))
	if len(got) != len(want) {
		t.Fatalf("Steward stores %d resources of %s, Azure lists %d", len(got), sub, len(want))
	}
	for id, tags := range want {
		stored, ok := got[id]
		if !ok {
			t.Fatalf("%s is in Azure but not stored", id)
		}
		if !sameTags(stored, tags) {
			t.Fatalf("%s: stored tags %v, Azure has %v", id, stored, tags)
		}
	}
}

// changeOnePerPage sets a tag in Azure, as someone outside Steward, on the
// first resource of every page, and returns the changed IDs by page.
func (w *world) changeOnePerPage(t *testing.T, pages [][]string, value string) []string {
	t.Helper()
	changed := make([]string, len(pages))
	for i, p := range pages {
		changed[i] = p[0]
		if _, err := w.az.TagsMerge(w.ctx, w.outside, p[0], map[string]string{"fault-test": fmt.Sprintf("%s-%d", value, i)}); err != nil {
			t.Fatal(err)
		}
	}
	return changed
}

// TestSyncRidesThroughTransientFaults puts two faults in a row on the third
// page of a sync: the connector's retries carry the sync through, and it
// ends with exactly Azure's state, including tags changed since the last.
func TestSyncRidesThroughTransientFaults(t *testing.T) {
	t.Parallel()
	for _, kind := range []emulator.FaultKind{emulator.Fault500, emulator.Fault503, emulator.FaultReset, emulator.FaultTruncate, emulator.FaultSlow} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			fw := newFaultWorld(t, storetest.Open(t, store.SQLite), faultOptions{})
			fw.syncAll(t)
			sub := fw.subs[0]
			pages := fw.azurePages(t, sub)
			if len(pages) < 4 {
				t.Fatalf("only %d pages of %d; the test needs a sync of several", len(pages), faultPageSize)
			}
			fw.changeOnePerPage(t, pages, "transient")

			run, err := fw.inv.SyncNow(fw.ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			var faulted, listings atomic.Int64
			fw.wire.watch(func(r *http.Request, status int, err error) {
				if !isListing(r) {
					return
				}
				if err != nil || status >= 500 {
					faulted.Add(1)
				} else {
					listings.Add(1)
				}
			})
			fw.setFaults(t, emulator.Faults{Script: []emulator.FaultKind{emulator.FaultNone, emulator.FaultNone, kind, kind}, PathContains: "/resources"})
			start := time.Now()
			err = fw.inv.RunSync(steward.NewSystemContext(fw.ctx), run.ID)
			took := time.Since(start)
			fw.wire.unwatch()
			fw.setFaults(t, emulator.Faults{})
			if err != nil {
				t.Fatalf("sync through two %s faults: %v", kind, err)
			}
			if kind != emulator.FaultSlow && faulted.Load() != 2 {
				t.Errorf("the connector saw %d faulted pages, want 2", faulted.Load())
			}
			got, err := fw.db.SyncRunGet(fw.ctx, everything, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != steward.SyncSucceeded || got.Pages != len(pages) || got.Seen != 60 || got.Written != len(pages) || got.Deleted != 0 || got.Resume != "" {
				t.Fatalf("run after %s faults: %+v", kind, got)
			}
			fw.sameAsAzure(t, sub)
			t.Logf("%s: %d good listing answers, %d faulted, %v", kind, listings.Load(), faulted.Load(), took.Round(time.Millisecond))
		})
	}
}

// TestSyncStoppedMidwayKeepsLastGoodStateAndResumes makes the third page of
// a sync keep failing, with each of the faults the emulator can inject,
// until the sync gives up. The store then holds the last good state plus
// the two whole pages read (nothing deleted, nothing half-written), the run
// records where it stopped, and running it again reads only the rest and
// ends with exactly Azure's state.
//
// The connector retries a failing page 8 times with exponential backoff
// (minutes in all), so the test does not wait for that: it stops the sync
// after the third failed answer, as a shutdown or the job's timeout would.
// Both paths end in the same place (RunSync's fail).
func TestSyncStoppedMidwayKeepsLastGoodStateAndResumes(t *testing.T) {
	t.Parallel()
	for _, kind := range []emulator.FaultKind{emulator.Fault503, emulator.Fault500, emulator.FaultReset, emulator.FaultTruncate} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				fw := newFaultWorld(t, db, faultOptions{})
				fw.syncAll(t)
				sub := fw.subs[1]
				before := tagsByID(fw.stored(t, sub))
				pages := fw.azurePages(t, sub)
				if len(pages) < 4 {
					t.Fatalf("only %d pages; the test needs a sync of several", len(pages))
				}
				changed := fw.changeOnePerPage(t, pages, "midway")
				now := tagsByID(fw.azureResources(t, sub))

				run, err := fw.inv.SyncNow(fw.ctx, sub)
				if err != nil {
					t.Fatal(err)
				}
				ctx, stop := context.WithCancel(fw.ctx)
				defer stop()
				var failed atomic.Int64
				fw.wire.watch(func(r *http.Request, status int, err error) {
					if isListing(r) && (err != nil || status >= 500) && failed.Add(1) == 3 {
						stop()
					}
				})
				script := []emulator.FaultKind{emulator.FaultNone, emulator.FaultNone}
				for range 50 {
					script = append(script, kind)
				}
				fw.setFaults(t, emulator.Faults{Script: script, PathContains: "/resources"})
				err = fw.inv.RunSync(steward.NewSystemContext(ctx), run.ID)
				fw.wire.unwatch()
				fw.setFaults(t, emulator.Faults{})
				if err == nil {
					t.Fatal("the sync succeeded through a page that never came")
				}

				// The run says where it stopped.
				got, err := fw.db.SyncRunGet(fw.ctx, everything, run.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != steward.SyncFailed || got.Resume == "" || got.Pages != 2 || got.Seen != 2*faultPageSize || got.Error == "" {
					t.Fatalf("stopped run: %+v", got)
				}
				// The store: the last good state plus the two whole pages.
				stored := tagsByID(fw.stored(t, sub))
				if len(stored) != len(before) {
					t.Fatalf("a partial listing changed the count of stored resources: %d before, %d after", len(before), len(stored))
				}
				read := map[string]bool{}
				for _, p := range pages[:2] {
					for _, id := range p {
						read[id] = true
					}
				}
				for id, tags := range stored {
					want := before[id]
					if read[id] {
						want = now[id]
					}
					if !sameTags(tags, want) {
						t.Errorf("%s (read: %v): stored %v, want %v", id, read[id], tags, want)
					}
				}
				for i, id := range changed {
					if has := tagValue(stored[id], "fault-test") != ""; has != (i < 2) {
						t.Errorf("page %d's changed resource stored with tags %v", i+1, stored[id])
					}
				}
				if t.Failed() {
					t.FailNow()
				}

				// Running it again resumes at the third page.
				var listings atomic.Int64
				fw.wire.watch(func(r *http.Request, status int, err error) {
					if isListing(r) && err == nil {
						listings.Add(1)
					}
				})
				err = fw.inv.RunSync(steward.NewSystemContext(fw.ctx), run.ID)
				fw.wire.unwatch()
				if err != nil {
					t.Fatalf("resumed sync: %v", err)
				}
				if n := int(listings.Load()); n != len(pages)-2 {
					t.Errorf("the resumed sync read %d pages, want the %d it had not", n, len(pages)-2)
				}
				if got, err = fw.db.SyncRunGet(fw.ctx, everything, run.ID); err != nil {
					t.Fatal(err)
				}
				if got.Status != steward.SyncSucceeded || got.Pages != len(pages) || got.Seen != 60 || got.Written != len(pages) || got.Deleted != 0 || got.Resume != "" {
					t.Fatalf("resumed run: %+v", got)
				}
				fw.sameAsAzure(t, sub)

				// A new run finds nothing left to write.
				again, err := fw.inv.SyncNow(fw.ctx, sub)
				if err != nil {
					t.Fatal(err)
				}
				if err := fw.inv.RunSync(steward.NewSystemContext(fw.ctx), again.ID); err != nil {
					t.Fatal(err)
				}
				if got, _ := fw.db.SyncRunGet(fw.ctx, everything, again.ID); got.Status != steward.SyncSucceeded || got.Written != 0 || got.Deleted != 0 {
					t.Fatalf("the next run: %+v", got)
				}
				fw.sameAsAzure(t, sub)
			})
		})
	}
}

// TestThrottledSyncWaitsAndSucceeds shrinks Contoso's read bucket to 2
// requests refilled at 3 a second, which the connector's pacing (at most
// 250 ms between requests) cannot keep under: the sync meets 429s in the
// middle of its pages, waits them out, and succeeds with Azure's state.
// TestThrottlingStormBeyondRetriesNeverFailsSync is the long storm.
func TestThrottledSyncWaitsAndSucceeds(t *testing.T) {
	t.Parallel()
	fw := newFaultWorld(t, storetest.Open(t, store.SQLite), faultOptions{Emulator: emulator.Config{
		Throttling: emulator.Throttling{Reads: emulator.BucketSpec{Size: 2, RefillPerSecond: 3}, GlobalFactor: 1}}})
	sub := fw.subs[2]
	run, err := fw.inv.SyncNow(fw.ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	var throttled, listings atomic.Int64
	fw.wire.watch(func(r *http.Request, status int, err error) {
		if status == http.StatusTooManyRequests && strings.Contains(strings.ToLower(r.URL.Path), sub) {
			throttled.Add(1)
		}
		if isListing(r) && status == http.StatusOK {
			listings.Add(1)
		}
	})
	start := time.Now()
	err = fw.inv.RunSync(steward.NewSystemContext(fw.ctx), run.ID)
	fw.wire.unwatch()
	if err != nil {
		t.Fatalf("a throttled sync failed: %v", err)
	}
	got, err := fw.db.SyncRunGet(fw.ctx, everything, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sync of %d pages in %v through %d answers of 429", got.Pages, time.Since(start).Round(time.Millisecond), throttled.Load())
	if throttled.Load() == 0 {
		t.Fatal("Azure never throttled the sync: the test proves nothing")
	}
	if got.Status != steward.SyncSucceeded || got.Seen != 60 || got.Pages < 4 {
		t.Fatalf("run: %+v", got)
	}
	fw.sameAsAzure(t, sub)
}

// TestTagWriteLandedButAnswerLost breaks the answer to a tag PATCH after
// Azure applied it (the body is cut off half way): Steward cannot know the
// write landed, so it retries the item later; the retry must see that
// Azure already holds the result and write nothing again. This is the
// path a crash between the write and its "applied" mark takes.
func TestTagWriteLandedButAnswerLost(t *testing.T) {
	t.Parallel()
	fw := newFaultWorld(t, storetest.Open(t, store.SQLite), faultOptions{})
	fw.syncAll(t)
	sub := fw.subs[0]
	res := fw.stored(t, sub)[0]
	since := time.Now().Add(-time.Minute)
	edit, err := fw.inv.SubmitTagEdit(fw.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"answer-lost": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	// The item's read goes through; its PATCH lands, and its answer breaks.
	fw.setFaults(t, emulator.Faults{Script: []emulator.FaultKind{emulator.FaultNone, emulator.FaultTruncate}, PathContains: "/providers/microsoft.resources/tags/"})
	if err := fw.inv.ApplyTagEdits(steward.NewSystemContext(fw.ctx), sub); err != nil {
		t.Fatal(err)
	}
	fw.setFaults(t, emulator.Faults{})
	items, err := fw.db.TagEditItems(fw.ctx, everything, edit.ID, "", 0, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("items: %v, %v", items, err)
	}
	if items[0].Status != steward.EditPending {
		t.Fatalf("after a lost answer the item is %s (%s), want pending for a retry", items[0].Status, items[0].LastError)
	}
	if tags, err := fw.az.TagsGet(fw.ctx, fw.outside, res.ID); err != nil || tags["answer-lost"] != "1" {
		t.Fatalf("the PATCH did not land: %v, %v", tags, err)
	}
	writes := fw.tagWrites(t, sub, since)
	if writes[strings.ToLower(res.ID)] != 1 {
		t.Fatalf("tag writes before the retry: %v", writes)
	}

	// Past the retry's backoff, the item is applied without a second write.
	fw.clock.Skip(time.Hour)
	if err := fw.inv.ApplyTagEdits(steward.NewSystemContext(fw.ctx), sub); err != nil {
		t.Fatal(err)
	}
	if got, err := fw.db.TagEditGet(fw.ctx, everything, edit.ID); err != nil || got.AppliedCount != 1 || got.Status != steward.EditDone {
		t.Fatalf("edit after the retry: %+v, %v", got, err)
	}
	if writes := fw.tagWrites(t, sub, since); writes[strings.ToLower(res.ID)] != 1 || len(writes) != 1 {
		t.Fatalf("tag writes after the retry: %v, want exactly one on %s", writes, res.ID)
	}
	evs, _, err := fw.db.AuditList(fw.ctx, everything, steward.AuditFilter{Action: "tags.write", Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Details["note"] != "already in Azure" {
		t.Fatalf("write events: %+v, %v", evs, err)
	}
}

// tagWrites counts the Microsoft.Resources/tags/write entries of a
// subscription's activity log since a time, by lower-case resource ID.
func (w *world) tagWrites(t *testing.T, sub string, since time.Time) map[string]int {
	t.Helper()
	contoso, reader := stewardtest.Principal(t, w.emu, emulator.ContosoTenantName, "reader")
	acts, err := w.az.Activity(w.ctx, stewardtest.Identity(contoso.ID, reader), sub, since)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range acts {
		if strings.EqualFold(a.Operation, "Microsoft.Resources/tags/write") {
			id := strings.ToLower(a.ResourceID)
			id = strings.TrimSuffix(id, "/providers/microsoft.resources/tags/default")
			out[id]++
		}
	}
	return out
}

// freezableClock is the emulator's clock; frozen, its token buckets never
// refill.
type freezableClock struct {
	mu     sync.Mutex
	frozen time.Time
}

func (c *freezableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now()
}

func (c *freezableClock) set(frozen time.Time) {
	c.mu.Lock()
	c.frozen = frozen
	c.mu.Unlock()
}

// TestThrottlingStormBeyondRetriesNeverFailsSync throttles a sync after its
// second page for 11 seconds: someone else empties the subscription's
// read bucket and the emulator's clock stops, so it does not refill. Every
// try of the third page is answered 429 for longer than the connector's
// retry policy tries (1 + 8), and the sync still waits and succeeds.
func TestThrottlingStormBeyondRetriesNeverFailsSync(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out 11 seconds of 429s")
	}
	t.Parallel()
	clock := &freezableClock{}
	const size = 40
	fw := newFaultWorld(t, storetest.Open(t, store.SQLite), faultOptions{Emulator: emulator.Config{Now: clock.Now,
		Throttling: emulator.Throttling{Reads: emulator.BucketSpec{Size: size, RefillPerSecond: size}, GlobalFactor: 1}}})
	sub := fw.subs[2]

	// The other reader: Contoso's Tag Contributor app, straight over HTTP.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fw.emu.CACertPEM())
	other := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	t.Cleanup(other.CloseIdleConnections)
	_, writer := stewardtest.Principal(t, fw.emu, emulator.ContosoTenantName, "tag")
	resp, err := other.PostForm(fw.emu.URL()+"/"+fw.tenant.ID+"/oauth2/v2.0/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {writer.ClientID}, "client_secret": {writer.ClientSecret}, "scope": {fw.emu.URL() + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token for the other reader: %v", err)
	}
	drain := func() int {
		for i := range 10 * size {
			req, _ := http.NewRequest("GET", fw.emu.URL()+"/subscriptions/"+sub+"/resourcegroups?api-version=2021-04-01", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := other.Do(req)
			if err != nil {
				t.Error(err)
				return i
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				return i
			}
		}
		t.Error("the other reader never emptied the bucket")
		return 0
	}

	run, err := fw.inv.SyncNow(fw.ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		throttled = map[string]int{} // 429s by client request ID: one call and its retries
		listings  int
		thaw      *time.Timer
	)
	fw.wire.watch(func(r *http.Request, status int, err error) {
		if err != nil || !strings.Contains(strings.ToLower(r.URL.Path), sub) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if status == http.StatusTooManyRequests {
			throttled[r.Header.Get("x-ms-client-request-id")]++
		}
		if isListing(r) && status == http.StatusOK {
			if listings++; listings == 2 {
				clock.set(time.Now())
				n := drain()
				t.Logf("storm: the other reader took the last %d requests of the bucket", n)
				thaw = time.AfterFunc(11*time.Second, func() { clock.set(time.Time{}) })
			}
		}
	})
	start := time.Now()
	err = fw.inv.RunSync(steward.NewSystemContext(fw.ctx), run.ID)
	fw.wire.unwatch()
	mu.Lock()
	if thaw != nil {
		thaw.Stop()
	}
	clock.set(time.Time{})
	most := 0
	for _, n := range throttled {
		most = max(most, n)
	}
	mu.Unlock()
	if err != nil {
		t.Fatalf("the sync failed in a 429 storm: %v", err)
	}
	t.Logf("sync in %v; one call was answered 429 %d times in a row", time.Since(start).Round(time.Millisecond), most)
	if most < 10 {
		t.Fatalf("no call met more 429s (%d) than the connector's 1+8 tries: the test proves nothing", most)
	}
	got, err := fw.db.SyncRunGet(fw.ctx, everything, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != steward.SyncSucceeded || got.Seen != 60 || got.Pages != 6 {
		t.Fatalf("run: %+v", got)
	}
	fw.sameAsAzure(t, sub)
}
