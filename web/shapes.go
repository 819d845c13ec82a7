package web

import (
	"time"

	"github.com/stewardhq/steward"
)

// API shapes: what the API says, kept apart from the domain types and
// converted here only. Times are RFC 3339 in UTC; absent times are omitted.

type apiUser struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	DisplayName string     `json:"displayName"`
	Email       string     `json:"email"`
	Disabled    bool       `json:"disabled"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	LastLoginAt *time.Time `json:"lastLoginAt,omitempty"`
	Grants      []apiGrant `json:"grants"`
}

type apiGrant struct {
	ID        int64     `json:"id"`
	Role      string    `json:"role"`
	Tenants   []string  `json:"tenants"` // empty: all tenants
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

type apiMe struct {
	apiUser
	Permissions map[string]apiPermScope `json:"permissions"`
	ViaToken    bool                    `json:"viaToken"`
}

type apiPermScope struct {
	AllTenants bool     `json:"allTenants"`
	Tenants    []string `json:"tenants,omitempty"`
}

type apiToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	User       string     `json:"user"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	Active     bool       `json:"active"`
}

type apiTokenCreated struct {
	apiToken
	Token string `json:"token"` // shown once
}

type apiAuditEvent struct {
	ID        int64             `json:"id"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Target    string            `json:"target"`
	TenantID  string            `json:"tenantId"`
	Outcome   string            `json:"outcome"`
	SourceIP  string            `json:"sourceIp"`
	RequestID string            `json:"requestId"`
	Details   map[string]string `json:"details"`
	PrevHash  string            `json:"prevHash"`
	Hash      string            `json:"hash"`
}

type apiAuditVerification struct {
	OK       bool   `json:"ok"`
	Checked  int64  `json:"checked"`
	HeadID   int64  `json:"headId"`
	HeadHash string `json:"headHash"`
	BadID    int64  `json:"badId,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

type listResponse[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toAPIUser(u *steward.User) apiUser {
	out := apiUser{ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: optTime(u.LastLoginAt), Grants: []apiGrant{}}
	for _, g := range u.Grants {
		out.Grants = append(out.Grants, toAPIGrant(g))
	}
	return out
}

func toAPIGrant(g steward.Grant) apiGrant {
	tenants := g.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	return apiGrant{ID: g.ID, Role: string(g.Role), Tenants: tenants, CreatedAt: g.CreatedAt.UTC(), CreatedBy: g.CreatedBy}
}

func toAPIToken(t *steward.APIToken, now time.Time) apiToken {
	return apiToken{ID: t.ID, Name: t.Name, Prefix: t.Prefix, User: t.UserName, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: optTime(t.Expiry()), LastUsedAt: optTime(t.LastUsedAt), RevokedAt: optTime(t.RevokedAt), Active: t.Active(now)}
}

func toAPIAuditEvent(e *steward.AuditEvent) apiAuditEvent {
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	return apiAuditEvent{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, TenantID: e.TenantID,
		Outcome: e.Outcome, SourceIP: e.SourceIP, RequestID: e.RequestID, Details: d, PrevHash: e.PrevHash, Hash: e.Hash}
}

func toAPIVerification(v *steward.AuditVerification) apiAuditVerification {
	return apiAuditVerification{OK: v.OK(), Checked: v.Checked, HeadID: v.HeadID, HeadHash: v.HeadHash, BadID: v.BadID, Problem: v.Problem}
}
