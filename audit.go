package steward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AuditEvent records one action: who did what to which target, in which
// tenant, when, from where and with what outcome. Events form a hash chain:
// each holds the hash of the one before it, so an edited, deleted or
// reordered row breaks the chain. Details never hold a secret.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Actor     string // user name, "system", or "azure:<upn>" for a consenting Azure user
	Action    string // dotted, e.g. "user.login", "token.create", "tags.edit"
	Target    string
	TenantID  string
	Outcome   string // OutcomeSuccess, OutcomeFailure or OutcomeDenied
	SourceIP  string
	RequestID string
	Details   map[string]string
	// StoredDetails is the text of Details as the store holds it, set
	// when an event is appended or read back. The hash covers this text,
	// not a new encoding of Details, so no encoder's or engine's way of
	// spelling JSON can make an intact event look changed.
	StoredDetails string
	PrevHash      string
	Hash          string
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// NewAuditEvent starts an event with the actor, source IP and request ID of
// the context. The store fills ID, Time and the hashes when it appends it.
func NewAuditEvent(ctx context.Context, action, target string) *AuditEvent {
	ev := &AuditEvent{Action: action, Target: target, Outcome: OutcomeSuccess, RequestID: RequestIDFromContext(ctx)}
	if a := ActorFromContext(ctx); a != nil {
		ev.Actor, ev.SourceIP = a.Name, a.SourceIP
	}
	return ev
}

// With sets a detail and returns the event, for chaining.
func (e *AuditEvent) With(key, value string) *AuditEvent {
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details[key] = value
	return e
}

// WithOutcome sets the outcome and returns the event.
func (e *AuditEvent) WithOutcome(outcome string) *AuditEvent { e.Outcome = outcome; return e }

// WithActor names the actor, for events without a signed-in user (a failed
// sign-in names the account that was tried).
func (e *AuditEvent) WithActor(actor string) *AuditEvent { e.Actor = actor; return e }

// WithTenant sets the tenant the event concerns.
func (e *AuditEvent) WithTenant(tenantID string) *AuditEvent { e.TenantID = tenantID; return e }

// DetailsJSON is the encoding of Details that the store keeps as
// StoredDetails: keys sorted, "{}" when empty.
func (e *AuditEvent) DetailsJSON() string {
	if len(e.Details) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(e.Details) // maps of strings always encode; keys sorted
	return string(b)
}

// Limits on an event's text, in bytes. The short fields are indexed, and a
// PostgreSQL index entry cannot exceed about 2.7 KB, so an actor of a few
// thousand characters (a sign-in with a made-up name) could not be
// recorded; the long ones hold paths, file names and messages, which are
// kept whole up to a size no handler produces from honest input.
const (
	// AuditMaxShort bounds actor, action, tenant ID, outcome, source IP,
	// request ID and each detail key.
	AuditMaxShort = 256
	// AuditMaxLong bounds the target and each detail value.
	AuditMaxLong = 64 << 10
)

// Canonicalize rewrites the event's text into the one form that both
// engines store byte for byte, so that what is hashed is what is read back:
// bytes that are not UTF-8 and control characters (NUL and C1 included)
// become U+FFFD, except that tab, line feed and carriage return become
// spaces in the short fields and stay in the target and detail values;
// text over its limit is cut at a character boundary and ends in "…"; the
// tenant ID is lower-cased, as filters compare it. Detail keys that come
// out alike are told apart by suffixes "#2", "#3", …: a key that was
// already canonical keeps its name, and the others take theirs in the
// order of their original bytes. Canonicalizing twice changes nothing.
// The store calls it before it hashes an event.
func (e *AuditEvent) Canonicalize() {
	e.Actor = auditShort(e.Actor)
	e.Action = auditShort(e.Action)
	e.Target = auditText(e.Target, AuditMaxLong, false)
	e.TenantID = auditShort(strings.ToLower(e.TenantID))
	e.Outcome = auditShort(e.Outcome)
	e.SourceIP = auditShort(e.SourceIP)
	e.RequestID = auditShort(e.RequestID)
	e.Details = canonicalDetails(e.Details)
}

// canonicalDetails canonicalizes keys and values; see Canonicalize.
func canonicalDetails(d map[string]string) map[string]string {
	if len(d) == 0 {
		return nil
	}
	out := make(map[string]string, len(d))
	var renamed []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if auditShort(k) == k {
			out[k] = auditText(d[k], AuditMaxLong, false)
		} else {
			renamed = append(renamed, k)
		}
	}
	for _, k := range renamed {
		c := auditShort(k)
		name := c
		for n := 2; ; n++ {
			if _, taken := out[name]; !taken {
				break
			}
			suffix := "#" + strconv.Itoa(n)
			name = cutText(c, AuditMaxShort-len(suffix)) + suffix
		}
		out[name] = auditText(d[k], AuditMaxLong, false)
	}
	return out
}

// auditShort canonicalizes a one-line field of at most AuditMaxShort bytes.
func auditShort(s string) string { return auditText(s, AuditMaxShort, true) }

// auditText returns s as UTF-8 without control characters, of at most
// limit bytes; see Canonicalize.
func auditText(s string, limit int, oneLine bool) string {
	if len(s) <= limit && auditClean(s, oneLine) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), limit) + utf8.UTFMax)
	for _, r := range s { // a byte that is not UTF-8 comes as utf8.RuneError
		if b.Len() > limit {
			break // it is cut below; the rest cannot matter
		}
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			if oneLine {
				r = ' '
			}
		case unicode.IsControl(r):
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= limit {
		return out
	}
	return cutText(out, limit-len("…")) + "…"
}

// auditClean reports whether auditText would return s unchanged.
func auditClean(s string, oneLine bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && (oneLine || r != '\t' && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

// cutText returns the longest prefix of s of at most n bytes that ends at
// a character boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// detailsText is the details text the hash covers: as stored, or for an
// event not yet stored, as it will be.
func (e *AuditEvent) detailsText() string {
	if e.StoredDetails != "" {
		return e.StoredDetails
	}
	return e.DetailsJSON()
}

// ComputeHash returns the chain hash of the event: SHA-256 over its ID,
// time (microseconds), every field as stored and the previous hash, each
// field length-prefixed so no two different events encode the same.
func (e *AuditEvent) ComputeHash() string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(e.ID, 10),
		strconv.FormatInt(e.Time.UnixMicro(), 10),
		e.Actor, e.Action, e.Target, e.TenantID, e.Outcome, e.SourceIP, e.RequestID,
		e.detailsText(),
		e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Validate checks the fields every event needs.
func (e *AuditEvent) Validate() error {
	if e.Actor == "" || e.Action == "" {
		return Errorf(EINVALID, "Audit event needs an actor and an action.")
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return Errorf(EINVALID, "Audit outcome %q is not success, failure or denied.", e.Outcome)
	}
	return nil
}

// AuditFilter selects events. Zero fields do not filter. Events come newest
// first; Before continues a listing below an ID (the cursor).
type AuditFilter struct {
	Actor    string
	Action   string // exact, or a prefix ending in "." such as "user."
	TenantID string
	From, To time.Time // From inclusive, To exclusive
	Before   int64
	Limit    int // defaults to 100, at most 1000
}

// Canonicalize spells the filter's text as AuditEvent.Canonicalize spells
// an event's, so that a filter matches events written from the same input
// (a sign-in name with a NUL finds the event that recorded it) and holds
// only text every engine can compare.
func (f *AuditFilter) Canonicalize() {
	f.Actor = auditShort(f.Actor)
	f.Action = auditShort(f.Action)
	f.TenantID = auditShort(strings.ToLower(f.TenantID))
}

// AuditLog is the append-only, hash-chained event log.
type AuditLog interface {
	// AuditAppend canonicalizes the event in place (see Canonicalize), adds
	// it at the head of the chain and fills ID, Time, StoredDetails and
	// hashes. Time is read while the chain's head is held, and is never
	// earlier than the previous event's (a given Time is raised to it), so
	// events sorted by time are in ID order whatever the replicas' clocks.
	// EINVALID.
	AuditAppend(ctx context.Context, ev *AuditEvent) error
	// AuditList returns the events within the scope matching f, newest
	// first, and the cursor of the next page ("" at the end). f is
	// canonicalized first, so it compares like stored text. Events of no
	// tenant are within an unlimited scope only. EINVALID.
	AuditList(ctx context.Context, scope Scope, f AuditFilter) ([]*AuditEvent, string, error)
	// AuditVerify walks the whole chain from the first event.
	AuditVerify(ctx context.Context) (*AuditVerification, error)
}

// AuditVerification is the outcome of checking the chain.
type AuditVerification struct {
	Checked  int64  // events checked
	HeadID   int64  // last event, when the chain is intact
	HeadHash string // its hash: record it elsewhere to detect a full rewrite
	BadID    int64  // first event where the chain breaks; 0 when intact
	Problem  string // what is wrong with it
}

// OK reports whether the chain is intact.
func (v *AuditVerification) OK() bool { return v.Problem == "" }

// AuditChain checks events one by one in ID order. Stores feed it rows as
// they read them, so a chain of millions is checked in constant memory.
type AuditChain struct {
	prevID   int64
	prevHash string
	n        int64
}

// Next checks one event against the previous one. It returns a description
// of the first problem, or "".
func (c *AuditChain) Next(e *AuditEvent) string {
	switch {
	case c.n > 0 && e.ID <= c.prevID:
		return fmt.Sprintf("event %d comes after event %d: the log was reordered", e.ID, c.prevID)
	case e.PrevHash != c.prevHash:
		if c.n == 0 {
			return fmt.Sprintf("event %d is the first event but links to an earlier one: events before it were deleted", e.ID)
		}
		return fmt.Sprintf("event %d does not link to event %d: an event between them was deleted or changed", e.ID, c.prevID)
	case e.ComputeHash() != e.Hash:
		return fmt.Sprintf("event %d was changed after it was written (its hash does not match its contents)", e.ID)
	}
	c.prevID, c.prevHash = e.ID, e.Hash
	c.n++
	return ""
}

// Checked returns how many events passed, and the last one's ID and hash.
func (c *AuditChain) Checked() (n, lastID int64, lastHash string) {
	return c.n, c.prevID, c.prevHash
}
