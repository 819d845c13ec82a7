package store_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

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
