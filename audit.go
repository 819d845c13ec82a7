package steward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
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
	PrevHash  string
	Hash      string
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

// DetailsJSON is the canonical encoding of Details that is stored and hashed:
// keys sorted, "{}" when empty.
func (e *AuditEvent) DetailsJSON() string {
	if len(e.Details) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(e.Details) // maps of strings always encode; keys sorted
	return string(b)
}

// ComputeHash returns the chain hash of the event: SHA-256 over its ID,
// time (microseconds), every field and the previous hash, each field
// length-prefixed so no two different events encode the same.
func (e *AuditEvent) ComputeHash() string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(e.ID, 10),
		strconv.FormatInt(e.Time.UnixMicro(), 10),
		e.Actor, e.Action, e.Target, e.TenantID, e.Outcome, e.SourceIP, e.RequestID,
		e.DetailsJSON(),
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

// AuditLog is the append-only, hash-chained event log.
type AuditLog interface {
	// AuditAppend adds an event at the head of the chain and fills ID, Time
	// and hashes. EINVALID.
	AuditAppend(ctx context.Context, ev *AuditEvent) error
	// AuditList returns the events within the scope matching f, newest
	// first, and the cursor of the next page ("" at the end). Events of no
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
