package steward_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

func TestAuditCanonicalize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", steward.AuditMaxShort+10)
	tests := []struct {
		name string
		in   steward.AuditEvent
		want steward.AuditEvent
	}{
		{"plain text is kept",
			steward.AuditEvent{Actor: "Zoë", Action: "user.login", Target: "a\tb\nc", TenantID: "11111111-aaaa-1111-1111-111111111111", Outcome: "success", SourceIP: "2001:db8::1", RequestID: "r1"},
			steward.AuditEvent{Actor: "Zoë", Action: "user.login", Target: "a\tb\nc", TenantID: "11111111-aaaa-1111-1111-111111111111", Outcome: "success", SourceIP: "2001:db8::1", RequestID: "r1"}},
		{"bytes that are not UTF-8",
			steward.AuditEvent{Actor: "\xff\xfe", Target: "\xff\xfe.json", Action: "caf\xc3"},
			steward.AuditEvent{Actor: "\ufffd\ufffd", Target: "\ufffd\ufffd.json", Action: "caf\ufffd"}},
		{"line breaks in short fields are spaces, in the target they stay",
			steward.AuditEvent{Actor: "tab\tname\r\n", Target: "tab\tname\r\n"},
			steward.AuditEvent{Actor: "tab name  ", Target: "tab\tname\r\n"}},
		{"other control characters, NUL and C1 included",
			steward.AuditEvent{Actor: "bob\x00", Target: "\x1b[31m\x7f\u0085\u009b"},
			steward.AuditEvent{Actor: "bob\ufffd", Target: "\ufffd[31m\ufffd\ufffd\ufffd"}},
		{"the tenant ID is lower-cased",
			steward.AuditEvent{TenantID: "AAAAAAAA-0000-0000-0000-00000000000A"},
			steward.AuditEvent{TenantID: "aaaaaaaa-0000-0000-0000-00000000000a"}},
		{"a long actor is cut and marked",
			steward.AuditEvent{Actor: long},
			steward.AuditEvent{Actor: long[:steward.AuditMaxShort-len("…")] + "…"}},
		{"a cut falls between characters",
			steward.AuditEvent{Actor: "x" + strings.Repeat("日", 100)},
			steward.AuditEvent{Actor: "x" + strings.Repeat("日", 84) + "…"}},
		{"details", steward.AuditEvent{Details: map[string]string{
			"ok":        "line\nbreaks\tstay",
			"nul\x00":   "\x00",
			"\xff":      "first",
			"\xfe":      "second",
			"\ufffd":    "already canonical: keeps its name",
			"\ufffd#2":  "so does this",
			"line\nkey": "x",
		}}, steward.AuditEvent{Details: map[string]string{
			"ok":        "line\nbreaks\tstay",
			"nul\ufffd": "\ufffd",
			"\ufffd":    "already canonical: keeps its name",
			"\ufffd#2":  "so does this",
			"\ufffd#3":  "second", // \xfe sorts before \xff
			"\ufffd#4":  "first",
			"line key":  "x",
		}}},
		{"empty details are none", steward.AuditEvent{Details: map[string]string{}}, steward.AuditEvent{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.in
			got.Canonicalize()
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Fatalf("Canonicalize() =\n%#v\nwant\n%#v", got, tc.want)
			}
			again := got
			again.Details = copyDetails(got.Details)
			again.Canonicalize()
			if fmt.Sprintf("%#v", again) != fmt.Sprintf("%#v", got) {
				t.Fatalf("Canonicalize() twice =\n%#v\nonce\n%#v", again, got)
			}
		})
	}
}

func copyDetails(d map[string]string) map[string]string {
	if d == nil {
		return nil
	}
	c := make(map[string]string, len(d))
	for k, v := range d {
		c[k] = v
	}
	return c
}

// TestAuditCanonicalizeLimits checks the caps on huge values and on keys
// that need a suffix at their full length.
func TestAuditCanonicalizeLimits(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("€", 1<<20) // 3 MiB
	key := strings.Repeat("k", steward.AuditMaxShort)
	e := &steward.AuditEvent{Target: huge + "\xff", Details: map[string]string{"v": huge, key: "a", key + "\x00": "b", key + "\x01": "c"}}
	e.Canonicalize()
	if len(e.Target) > steward.AuditMaxLong || len(e.Target) < steward.AuditMaxLong-utf8.UTFMax || !strings.HasSuffix(e.Target, "€…") || !utf8.ValidString(e.Target) {
		t.Fatalf("target cut to %d bytes ending %q", len(e.Target), e.Target[len(e.Target)-9:])
	}
	if e.Details["v"] != e.Target {
		t.Fatalf("detail value cut to %d bytes", len(e.Details["v"]))
	}
	cut := key[:steward.AuditMaxShort-len("…")] + "…"
	want := map[string]string{key: "a", cut: "b", key[:steward.AuditMaxShort-len("…")] + "#2": "c"}
	if len(e.Details) != 4 {
		t.Fatalf("%d details, want 4", len(e.Details))
	}
	for k, v := range want {
		if e.Details[k] != v {
			t.Errorf("detail %q = %q, want %q", k, e.Details[k], v)
		}
		if len(k) > steward.AuditMaxShort {
			t.Errorf("key of %d bytes", len(k))
		}
	}
}

func TestAuditFilterCanonicalize(t *testing.T) {
	t.Parallel()
	f := steward.AuditFilter{Actor: "bob\x00\xff", Action: "user.\n", TenantID: "AAAAAAAA-0000-0000-0000-000000000001", Limit: 7}
	f.Canonicalize()
	want := steward.AuditFilter{Actor: "bob\ufffd\ufffd", Action: "user. ", TenantID: "aaaaaaaa-0000-0000-0000-000000000001", Limit: 7}
	if f != want {
		t.Fatalf("Canonicalize() = %+v, want %+v", f, want)
	}
	e := &steward.AuditEvent{Actor: "bob\x00\xff"}
	e.Canonicalize()
	if e.Actor != f.Actor {
		t.Fatalf("event actor %q, filter actor %q", e.Actor, f.Actor)
	}
}

// TestAuditHashPinned pins the hash's formula with hashes computed by the
// first release: changing it would make every stored chain look changed.
// TestAuditOldChainVerifies in the store checks the same chain as rows.
func TestAuditHashPinned(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 22, 9, 30, 0, 123456000, time.UTC)
	tenant := "11111111-1111-1111-1111-111111111111"
	evs := []struct {
		e    steward.AuditEvent
		want string
	}{
		{steward.AuditEvent{Actor: "alice", Action: "user.login", Target: "alice", Outcome: "success", SourceIP: "192.0.2.1", RequestID: "req-1"},
			"2b1d56563af425cb4d6edb0081523c33a090531f17f30132dba23c487043f04a"},
		{steward.AuditEvent{Actor: "alice", Action: "tags.edit", Target: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/sites/app",
			TenantID: tenant, Outcome: "success", SourceIP: "192.0.2.1", RequestID: "req-2", Details: map[string]string{"merge": "cost-centre=42", "edit": "7"}},
			"03205e1ccb5629b69129c421b576c0971a76b3a3058b069ed3498cf59a6936c3"},
		{steward.AuditEvent{Actor: "bob", Action: "user.login_failed", Target: "bob", Outcome: "failure", SourceIP: "2001:db8::1", Details: map[string]string{"reason": "wrong password"}},
			"c84ed1210f5fdcfe9de22483c19381b58704c1c49706205445b2ab3847a0533a"},
		{steward.AuditEvent{Actor: "system", Action: "sync.run", Target: `Zoë's café <prod> & "test"`, TenantID: tenant, Outcome: "denied",
			Details: map[string]string{"note": "naïve – “quoted” <b>&amp;</b>", "z": "", "a": "line1\nline2\ttab"}},
			"109497b97d81b06e7fa383b0befe0b881ee6f7e0e9a9abf8198a36fd5ce8325b"},
		// Written from bytes that were not UTF-8: stored, and hashed, as
		// \ufffd escapes, which no longer need Details to re-encode alike.
		{steward.AuditEvent{Actor: "azure:admin@contoso.example", Action: "lighthouse.validate", Target: "upload", Outcome: "failure",
			Details: map[string]string{"file": "\ufffd\ufffd.json", "reason": "caf\ufffd"}, StoredDetails: `{"file":"\ufffd\ufffd.json","reason":"caf\ufffd"}`},
			"1d45c673f0cdc1ba6659c2b15ad4b814f82fbb369f54421bc128c046da5dc271"},
	}
	prev := ""
	for i, tc := range evs {
		e := tc.e
		e.ID, e.Time, e.PrevHash = int64(i+1), base.Add(time.Duration(i)*time.Second), prev
		if got := e.ComputeHash(); got != tc.want {
			t.Errorf("event %d hashes to %s, want %s", e.ID, got, tc.want)
		}
		if e.StoredDetails == "" {
			e.Canonicalize()
			if got := e.ComputeHash(); got != tc.want {
				t.Errorf("event %d canonicalized hashes to %s, want %s", e.ID, got, tc.want)
			}
		}
		prev = tc.want
	}
}

// TestAuditHashCoversStoredDetails checks the hash is of the details text
// as stored: a change to that text is found even when it decodes alike.
func TestAuditHashCoversStoredDetails(t *testing.T) {
	t.Parallel()
	e := &steward.AuditEvent{ID: 1, Actor: "a", Action: "b", Outcome: steward.OutcomeSuccess, Details: map[string]string{"k": "<"}}
	e.StoredDetails = e.DetailsJSON()
	e.Hash = e.ComputeHash()
	if e.StoredDetails != `{"k":"\u003c"}` {
		t.Fatalf("details stored as %s", e.StoredDetails)
	}
	var c steward.AuditChain
	if p := c.Next(e); p != "" {
		t.Fatal(p)
	}
	e.StoredDetails = `{"k":"<"}` // the same details, spelt otherwise
	c = steward.AuditChain{}
	if p := c.Next(e); !strings.Contains(p, "changed after it was written") {
		t.Fatalf("respelt details: %q", p)
	}
}
