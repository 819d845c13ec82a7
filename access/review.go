package access

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Review gathers a tenant's security review for a period: what Steward may
// do there, its credentials' age and expiry, the last validation, who wrote
// through Steward (its audit log) and who wrote in Azure (the activity log).
func (s *Service) Review(ctx context.Context, tenantID string, from, to time.Time) (*steward.ReviewReport, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermAuditRead)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.AddDate(0, -1, 0)
	}
	r := &steward.ReviewReport{Tenant: t, GeneratedAt: now, From: from, To: to}
	if r.Credentials, err = s.store.CredentialList(ctx, visible(ctx), t.ID); err != nil {
		return nil, err
	}
	if t.Validation != "" {
		var v steward.ValidationReport
		if json.Unmarshal([]byte(t.Validation), &v) == nil {
			r.Validation = &v
		}
	}
	writes := map[string]int{}
	f := steward.AuditFilter{TenantID: t.ID, From: from, To: to, Limit: 1000}
	for {
		evs, next, err := s.store.AuditList(ctx, steward.ScopeFor(ctx, steward.PermAuditRead), f)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			switch {
			case e.Action == "tags.write" && e.Outcome == steward.OutcomeSuccess:
				writes[e.Actor]++
			case strings.HasPrefix(e.Action, "role_assignment."), strings.HasPrefix(e.Action, "credential."),
				e.Action == "tenant.write_access", e.Action == "tenant.revoke", e.Action == "tenant.connect", e.Action == "subscription.sync_level":
				r.Permission = append(r.Permission, fmt.Sprintf("%s %s by %s: %s %s", e.Time.Format("2006-01-02 15:04"), e.Action, e.Actor, e.Target, e.DetailsJSON()))
			}
		}
		if next == "" {
			break
		}
		f.Before, _ = strconv.ParseInt(next, 10, 64)
	}
	r.StewardWrites = counts(writes)
	if t.Status == steward.TenantActive {
		r.AzureWrites = s.azureWrites(ctx, t, from)
	}
	r.Recommendations = recommend(t, r, now)
	ev := steward.NewAuditEvent(ctx, "tenant.review", t.Name).WithTenant(t.ID).With("from", from.Format(time.DateOnly)).With("to", to.Format(time.DateOnly))
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return nil, err
	}
	return r, nil
}

// azureWrites counts tag writes by caller in each subscription's activity
// log; a subscription whose log cannot be read is left out.
func (s *Service) azureWrites(ctx context.Context, t *steward.Tenant, since time.Time) []steward.CallerCount {
	ids, _, err := s.tenantIdentities(ctx, t)
	if err != nil || len(ids) == 0 {
		return nil
	}
	subs, err := s.store.SubscriptionList(ctx, visible(ctx), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return nil
	}
	byCaller := map[string]int{}
	for _, sub := range subs {
		if !sub.SyncLevel.SyncsResources() || !sub.MissingSince.IsZero() {
			continue
		}
		acts, err := s.azure.Activity(ctx, ids[0].id, sub.ID, since)
		if err != nil {
			continue
		}
		for _, a := range acts {
			if strings.HasSuffix(strings.ToLower(a.Operation), "/write") || strings.HasSuffix(strings.ToLower(a.Operation), "/delete") {
				byCaller[a.Caller]++
			}
		}
	}
	return counts(byCaller)
}

func counts(m map[string]int) []steward.CallerCount {
	out := make([]steward.CallerCount, 0, len(m))
	for k, v := range m {
		out = append(out, steward.CallerCount{Caller: k, Writes: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Writes != out[j].Writes {
			return out[i].Writes > out[j].Writes
		}
		return out[i].Caller < out[j].Caller
	})
	return out
}

// recommend lists what a careful security officer would act on.
func recommend(t *steward.Tenant, r *steward.ReviewReport, now time.Time) []string {
	var out []string
	for _, c := range r.Credentials {
		if c.Status != steward.CredentialActive {
			continue
		}
		switch {
		case c.ExpiresAt.IsZero():
			out = append(out, fmt.Sprintf("The %s credential (%s) has no known expiry: enter it, or let Steward read it from Entra.", c.Purpose, c.ClientID))
		case c.ExpiresAt.Before(now.Add(30 * 24 * time.Hour)):
			out = append(out, fmt.Sprintf("The %s credential (%s) expires on %s: rotate it now.", c.Purpose, c.ClientID, c.ExpiresAt.Format(time.DateOnly)))
		}
		if now.Sub(c.CreatedAt) > steward.RecommendedSecretLifetime {
			out = append(out, fmt.Sprintf("The %s credential (%s) is over 12 months old: rotate it (yearly rotation).", c.Purpose, c.ClientID))
		}
	}
	if r.Validation == nil || now.Sub(t.LastValidatedAt) > 7*24*time.Hour {
		out = append(out, "Validate the credentials: the last check is over a week old.")
	} else {
		for _, v := range r.Validation.Subscriptions {
			if v.Verdict == steward.VerdictBroader {
				out = append(out, fmt.Sprintf("%s: Steward holds more than it needs (%s); narrow its roles to Tag Contributor and Cost Management Reader.", v.DisplayName, strings.Join(v.Roles, ", ")))
			}
			if v.Verdict == steward.VerdictMissing {
				out = append(out, fmt.Sprintf("%s: Steward lacks what its level needs; grant %s.", v.DisplayName, v.Missing[0].Role))
			}
		}
	}
	if t.WriteEnabled && len(r.StewardWrites) == 0 {
		out = append(out, "Write access is on but nobody wrote tags through Steward in this period: consider turning it off until needed.")
	}
	return out
}
