package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// noise returns n runes of incompressible text, so that neither engine can
// shrink a long value below an index's limit by compressing it.
func noise(n int) string {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4e00 + r.IntN(0x5000))) // CJK ideographs, 3 bytes each
	}
	return b.String()
}

// hostileEvents are events as handlers build them from what clients send:
// file names and form values that are not UTF-8, text cut inside a UTF-8
// sequence, NUL and other control characters, huge values and odd details.
func hostileEvents() []*steward.AuditEvent {
	consent := "Der Benutzer hat den Zugriff für die Anwendung verweigert"
	cut := consent[:strings.Index(consent, "ü")+1] // inside the ü
	ev := func(actor, action, target string, details ...string) *steward.AuditEvent {
		e := &steward.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: steward.OutcomeFailure, SourceIP: "192.0.2.1"}
		for i := 0; i+1 < len(details); i += 2 {
			e.With(details[i], details[i+1])
		}
		return e
	}
	return []*steward.AuditEvent{
		ev("olga", "lighthouse.validate", "\xff\xfe.json, template.json", "reason", "\xff\xfe.json: not JSON"),
		ev("olga", "tags.edit", "/subscriptions/x", "merge", "cost-centre=\xff", "\xff", "key from %ff"),
		ev("azure:admin@contoso.example", "tenant.consent", "11111111-1111-1111-1111-111111111111", "error", "access_denied", "description", cut+"…"),
		ev("bob\x00", "user.login_failed", "bob\x00admin", "reason", "unknown user\x00", "nul\x00key", "x"),
		ev("\xff\xfe", "user.login_failed", "\xff\xfe"),
		ev("tab\tname\r\n", "user.login_failed", "line\none", "c1", "\u0085\u009b\x7f\x1b[31m"),
		ev(noise(5000), "user.login_failed", noise(5000)),
		ev("olga", "lighthouse.validate", strings.Repeat("\xff", 300000), "huge", noise(400000), noise(1000), "long key"),
		ev("olga", "odd.details", "",
			"nested", `{"a":{"b":[1,2,{"c":null}]},"d":"\u0000"}`,
			`k"\`, `\"v\\`,
			"", "empty key",
			"\u2028", "line\u2028separators\u2029",
			"html", "<script>alert(1)</script>&amp;",
			"bom", "\ufeffbom",
			"emoji", "👩‍💻🏳️‍🌈",
			"\xfe", "collides with \\xff",
			"\ufffd", "a real replacement character",
		),
	}
}

// TestAuditHostileRoundTrip writes events holding what clients can send
// and expects each to be stored, read back as it was hashed, and the chain
// to verify intact on every engine.
func TestAuditHostileRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		evs := hostileEvents()
		for _, ev := range evs {
			if err := db.AuditAppend(ctx, ev); err != nil {
				t.Fatalf("appending %s by %.40q: %v", ev.Action, ev.Actor, err)
			}
		}
		v, err := db.AuditVerify(ctx)
		if err != nil || !v.OK() || v.Checked != int64(len(evs)) {
			t.Fatalf("verification = %+v, %v", v, err)
		}
		got, _, err := db.AuditList(ctx, everything, steward.AuditFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range got {
			want := evs[len(evs)-1-i]
			if g.Actor != want.Actor || g.Action != want.Action || g.Target != want.Target || g.Hash != want.Hash || !sameDetails(g.Details, want.Details) {
				t.Errorf("event %d read back as %.80q %q %.80q %.200q, written as %.80q %q %.80q %.200q",
					g.ID, g.Actor, g.Action, g.Target, g.Details, want.Actor, want.Action, want.Target, want.Details)
			}
		}
	})
}

func sameDetails(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAuditOldChainVerifies stores a chain as the first release wrote it,
// row for row, and expects it to verify. Its hashes were computed by that
// release's code; a change to the hash or to how rows are read would break
// every chain already written. The last event's details held bytes that
// were not UTF-8: that release stored them as \ufffd escapes and then
// failed its own verification, reading them back as a different encoding.
func TestAuditOldChainVerifies(t *testing.T) {
	t.Parallel()
	const tenant = "11111111-1111-1111-1111-111111111111"
	rows := []struct {
		id                                                 int64
		timeUS                                             int64
		actor, action, target, tenant, outcome, ip, req, d string
		hash                                               string
	}{
		{1, 1795339800123456, "alice", "user.login", "alice", "", "success", "192.0.2.1", "req-1", `{}`,
			"2b1d56563af425cb4d6edb0081523c33a090531f17f30132dba23c487043f04a"},
		{2, 1795339801123456, "alice", "tags.edit", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/sites/app", tenant, "success", "192.0.2.1", "req-2",
			`{"edit":"7","merge":"cost-centre=42"}`,
			"03205e1ccb5629b69129c421b576c0971a76b3a3058b069ed3498cf59a6936c3"},
		{3, 1795339802123456, "bob", "user.login_failed", "bob", "", "failure", "2001:db8::1", "", `{"reason":"wrong password"}`,
			"c84ed1210f5fdcfe9de22483c19381b58704c1c49706205445b2ab3847a0533a"},
		{4, 1795339803123456, "system", "sync.run", `Zoë's café <prod> & "test"`, tenant, "denied", "", "",
			`{"a":"line1\nline2\ttab","note":"naïve – “quoted” \u003cb\u003e\u0026amp;\u003c/b\u003e","z":""}`,
			"109497b97d81b06e7fa383b0befe0b881ee6f7e0e9a9abf8198a36fd5ce8325b"},
		{5, 1795339804123456, "azure:admin@contoso.example", "lighthouse.validate", "upload", "", "failure", "", "",
			`{"file":"\ufffd\ufffd.json","reason":"caf\ufffd"}`,
			"1d45c673f0cdc1ba6659c2b15ad4b814f82fbb369f54421bc128c046da5dc271"},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		prev := ""
		for _, r := range rows {
			storetest.Exec(t, db, `INSERT INTO audit_events (id, time_us, actor, action, target, tenant_id, outcome, source_ip, request_id, details, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				r.id, r.timeUS, r.actor, r.action, r.target, r.tenant, r.outcome, r.ip, r.req, r.d, prev, r.hash)
			prev = r.hash
		}
		storetest.Exec(t, db, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`, len(rows), prev)
		ctx := context.Background()
		v, err := db.AuditVerify(ctx)
		if err != nil || !v.OK() || v.Checked != int64(len(rows)) || v.HeadHash != prev {
			t.Fatalf("the old chain: verification = %+v, %v", v, err)
		}
		// The chain goes on from where the old release left it.
		if err := db.AuditAppend(ctx, steward.NewAuditEvent(ctxFor("alice"), "user.logout", "alice")); err != nil {
			t.Fatal(err)
		}
		if v, err := db.AuditVerify(ctx); err != nil || !v.OK() || v.Checked != int64(len(rows))+1 {
			t.Fatalf("the old chain continued: verification = %+v, %v", v, err)
		}
		evs, _, err := db.AuditList(ctx, everything, steward.AuditFilter{Actor: "azure:admin@contoso.example"})
		if err != nil || len(evs) != 1 || evs[0].Details["file"] != "\ufffd\ufffd.json" {
			t.Fatalf("old event read back as %+v, %v", evs, err)
		}
	})
}

// TestAuditFilterHostile filters by what clients sent: a filter holding a
// NUL or bytes that are not UTF-8 finds the events recorded from the same
// input, on both engines, and is never an internal error.
func TestAuditFilterHostile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, actor := range []string{"bob\x00", "bob\xff", "bob"} {
			ev := &steward.AuditEvent{Actor: actor, Action: "user.login_failed\x00", TenantID: "AAAAAAAA-0000-0000-0000-000000000001", Outcome: steward.OutcomeFailure}
			if err := db.AuditAppend(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			f    steward.AuditFilter
			want int
		}{
			{steward.AuditFilter{Actor: "bob\x00"}, 2}, // bob\x00 and bob\xff are both recorded as bob\ufffd
			{steward.AuditFilter{Actor: "bob\xff"}, 2},
			{steward.AuditFilter{Actor: "bob\ufffd"}, 2},
			{steward.AuditFilter{Actor: "bob"}, 1},
			{steward.AuditFilter{Action: "user.login_failed\x00"}, 3},
			{steward.AuditFilter{Action: "user."}, 3},
			{steward.AuditFilter{Action: "user.\x00"}, 0},
			{steward.AuditFilter{TenantID: "AAAAAAAA-0000-0000-0000-000000000001"}, 3},
			{steward.AuditFilter{TenantID: "\x00\xff"}, 0},
		}
		for _, tc := range tests {
			evs, _, err := db.AuditList(ctx, everything, tc.f)
			if err != nil || len(evs) != tc.want {
				t.Errorf("filter %#v: %d events, %v; want %d", tc.f, len(evs), err, tc.want)
			}
		}
	})
}

// FuzzAuditRoundTrip writes events of arbitrary text to every engine and
// expects each to be stored, found by a filter of the same text, read back
// as it was hashed, and the chain to verify. It checks the whole chain
// when its length is a power of two, so the checks cost linear time in
// all; each event alone is checked as verification checks it. The target
// and first detail value are repeated times%64+1 times, so that small
// inputs, which the fuzzer mutates and minimizes quickly, still reach the
// long limit and cut it anywhere.
func FuzzAuditRoundTrip(f *testing.F) {
	for _, ev := range hostileEvents() {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
			kv = append(kv, k, ev.Details[k])
		}
		kv = append(kv, "", "", "", "")
		f.Add(cutSeed(ev.Actor), cutSeed(ev.Action), cutSeed(ev.Target), uint8(0), "", uint8(1), cutSeed(kv[0]), cutSeed(kv[1]), cutSeed(kv[2]), cutSeed(kv[3]))
	}
	f.Add("a", "b", "", uint8(0), "AAAAAAAA-0000-0000-0000-00000000000A\x00", uint8(0), "\xff", "1", "\xfe", "2")
	f.Add("a", "b", "", uint8(0), "", uint8(2), "\ufffd", "1", "\xff", "2")
	f.Add("", "b", "", uint8(0), "", uint8(0), "", "", "", "")
	f.Add("olga", "lighthouse.validate", "日本語\xff"+noise(340), uint8(63), "", uint8(1), "k", "€"+noise(345), "", "") // over the long limit

	type target struct {
		db      *store.DB
		appends int
	}
	var targets []*target
	for _, e := range storetest.Engines() {
		targets = append(targets, &target{db: storetest.Open(f, e)})
	}
	outcomes := []string{steward.OutcomeSuccess, steward.OutcomeFailure, steward.OutcomeDenied}
	f.Fuzz(func(t *testing.T, actor, action, target string, times uint8, tenant string, outcome uint8, k1, v1, k2, v2 string) {
		ctx := context.Background()
		target, v1 = strings.Repeat(target, int(times)%64+1), strings.Repeat(v1, int(times)%64+1)
		for _, tg := range targets {
			ev := &steward.AuditEvent{Actor: actor, Action: action, Target: target, TenantID: tenant, Outcome: outcomes[int(outcome)%3],
				Details: map[string]string{k1: v1, k2: v2}}
			err := tg.db.AuditAppend(ctx, ev)
			if ev.Actor == "" || ev.Action == "" {
				if steward.ErrorCode(err) != steward.EINVALID {
					t.Fatalf("event without an actor or action: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("appending: %v", err)
			}
			tg.appends++
			checkCanonical(t, ev)
			// The filter of the text as sent finds the event.
			evs, _, err := tg.db.AuditList(ctx, everything, steward.AuditFilter{Actor: actor, Before: ev.ID + 1, Limit: 1})
			if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
				t.Fatalf("filtering by actor %q: %v, %v", actor, evs, err)
			}
			got := evs[0]
			if got.Actor != ev.Actor || got.Action != ev.Action || got.Target != ev.Target || got.TenantID != ev.TenantID ||
				got.Outcome != ev.Outcome || !sameDetails(got.Details, ev.Details) || got.StoredDetails != ev.StoredDetails {
				t.Fatalf("read back as\n%#v\nwritten as\n%#v", got, ev)
			}
			if h := got.ComputeHash(); h != ev.Hash || got.Hash != ev.Hash {
				t.Fatalf("read back hashing to %s, stored hash %s, written with hash %s", h, got.Hash, ev.Hash)
			}
			if tg.appends&(tg.appends-1) == 0 {
				v, err := tg.db.AuditVerify(ctx)
				if err != nil || !v.OK() || v.HeadID != ev.ID {
					t.Fatalf("after %d events: verification = %+v, %v", tg.appends, v, err)
				}
			}
		}
	})
}

// cutSeed keeps seeds small enough for the fuzzer to mutate and minimize
// quickly, still over the short limit.
func cutSeed(s string) string { return s[:min(len(s), 1024)] }

// checkCanonical checks a canonicalized event is within its limits, is
// text every engine stores as it is, and stays as it is when canonicalized
// again.
func checkCanonical(t *testing.T, ev *steward.AuditEvent) {
	t.Helper()
	check := func(what, s string, limit int) {
		t.Helper()
		if len(s) > limit || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) && (limit == steward.AuditMaxShort || !strings.ContainsRune("\t\n\r", r))
		}) {
			t.Fatalf("%s %+.100q is not canonical", what, s)
		}
	}
	for what, s := range map[string]string{"actor": ev.Actor, "action": ev.Action, "tenant": ev.TenantID, "outcome": ev.Outcome, "source IP": ev.SourceIP, "request ID": ev.RequestID} {
		check(what, s, steward.AuditMaxShort)
	}
	check("target", ev.Target, steward.AuditMaxLong)
	for k, v := range ev.Details {
		check("detail key", k, steward.AuditMaxShort)
		check("detail value", v, steward.AuditMaxLong)
	}
	again := *ev
	again.Details = maps.Clone(ev.Details)
	again.Canonicalize()
	if again.Actor != ev.Actor || again.Action != ev.Action || again.Target != ev.Target || again.TenantID != ev.TenantID || !sameDetails(again.Details, ev.Details) {
		t.Fatalf("canonicalizing again changed\n%#v\nto\n%#v", ev, &again)
	}
}

// TestAuditTimesFollowIDs appends from many goroutines, and from two
// replicas whose clocks disagree by a second, and checks that no event has
// a later ID and an earlier time than the one before it: a reader sorting
// by time sees the chain's order.
func TestAuditTimesFollowIDs(t *testing.T) {
	t.Parallel()
	ctx := ctxFor("frank")
	appendAll := func(t *testing.T, dbs []*store.DB, goroutines, each int) {
		t.Helper()
		var wg sync.WaitGroup
		for g := range goroutines {
			db := dbs[g%len(dbs)]
			wg.Go(func() {
				for i := range each {
					if err := db.AuditAppend(ctx, steward.NewAuditEvent(ctx, "test.append", fmt.Sprint(g, i))); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	// backwards counts adjacent pairs whose later ID has the earlier time.
	backwards := func(t *testing.T, db *store.DB, want int) {
		t.Helper()
		rows, err := db.WriteDB().QueryContext(ctx, `SELECT id, time_us FROM audit_events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n, bad := 0, 0
		var prev int64
		for rows.Next() {
			var id, us int64
			if err := rows.Scan(&id, &us); err != nil {
				t.Fatal(err)
			}
			if n > 0 && us < prev {
				bad++
			}
			prev = us
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("%d events stored, want %d", n, want)
		}
		if bad > 0 {
			t.Fatalf("%d of %d adjacent pairs have a later ID and an earlier time", bad, n-1)
		}
		if v, err := db.AuditVerify(ctx); err != nil || !v.OK() {
			t.Fatalf("verification = %+v, %v", v, err)
		}
	}
	for _, e := range storetest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			t.Run("one replica", func(t *testing.T) {
				t.Parallel()
				db := storetest.Open(t, e)
				appendAll(t, []*store.DB{db}, 8, 100)
				backwards(t, db, 800)
			})
			t.Run("two replicas, clocks a second apart", func(t *testing.T) {
				t.Parallel()
				url := storetest.URL(t, e)
				fast := storetest.OpenURL(t, url)
				slow, err := store.Open(ctx, store.Config{URL: url, Logger: slog.New(slog.DiscardHandler),
					Now: func() time.Time { return time.Now().Add(-time.Second) }})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { slow.Close() })
				appendAll(t, []*store.DB{fast, slow}, 8, 50)
				backwards(t, fast, 400)
			})
		})
	}
}
