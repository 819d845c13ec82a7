package access

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

// reminders are the periodic reviews a careful security officer keeps:
// each is due when its audit event is older than its period for a tenant.
var reminders = []struct {
	action string // the audit event that records the reminder
	months int
	kind   string
	what   string
}{
	{"review.reminder_activity", 1, "review_activity", "Review last month's write activity (Steward's tag writes and Azure's activity log, by caller)"},
	{"review.reminder_permissions", 3, "review_permissions", "Review the permissions Steward holds in each subscription against what its sync level needs"},
}

// Remind sends the review reminders that are due. The audit log is their
// memory: a reminder is due when none was recorded for the tenant within
// its period, so replicas and restarts send each once.
func (s *Service) Remind(ctx context.Context) (int, error) {
	if err := steward.RequireSystem(ctx); err != nil {
		return 0, err
	}
	tenants, err := s.store.TenantList(ctx, visible(ctx))
	if err != nil {
		return 0, err
	}
	now := s.now()
	sent := 0
	for _, t := range tenants {
		if t.Status != steward.TenantActive {
			continue
		}
		for _, r := range reminders {
			due, err := s.due(ctx, t, r.action, now.AddDate(0, -r.months, 0))
			if err != nil {
				return sent, err
			}
			if !due {
				continue
			}
			if err := s.remind(ctx, t, r.action, r.kind, r.what+" of "+t.Name+".", nil); err != nil {
				return sent, err
			}
			sent++
		}
		// Yearly: credentials older than the recommended twelve months.
		creds, err := s.store.CredentialList(ctx, visible(ctx), t.ID)
		if err != nil {
			return sent, err
		}
		for _, c := range creds {
			if c.Status != steward.CredentialActive || now.Sub(c.CreatedAt) < 365*24*time.Hour {
				continue
			}
			due, err := s.due(ctx, t, "review.reminder_rotation", now.AddDate(-1, 0, 0))
			if err != nil {
				return sent, err
			}
			if !due {
				break
			}
			what := fmt.Sprintf("The %s credential of app %s is %d months old; rotate it (twelve months is the recommended lifetime).", c.Purpose, c.ClientID, int(now.Sub(c.CreatedAt).Hours()/24/30))
			if err := s.remind(ctx, t, "review.reminder_rotation", "review_rotation", what, map[string]string{"client_id": c.ClientID}); err != nil {
				return sent, err
			}
			sent++
			break
		}
	}
	return sent, nil
}

// due reports whether no reminder of this kind was recorded since.
func (s *Service) due(ctx context.Context, t *steward.Tenant, action string, since time.Time) (bool, error) {
	if t.CreatedAt.After(since) {
		return false, nil // a tenant connected within the period needs no reminder yet
	}
	evs, _, err := s.store.AuditList(ctx, steward.ScopeFor(ctx, steward.PermAuditRead), steward.AuditFilter{Action: action, TenantID: t.ID, From: since, Limit: 1})
	return len(evs) == 0, err
}

func (s *Service) remind(ctx context.Context, t *steward.Tenant, action, kind, text string, details map[string]string) error {
	ev := &steward.AuditEvent{Time: s.now(), Actor: steward.SystemActor.Name, Action: action, Target: t.Name, TenantID: t.ID, Outcome: steward.OutcomeSuccess}
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return err
	}
	s.alert(ctx, steward.Alert{Kind: kind, Severity: "info", TenantID: t.ID, Subject: "Steward review reminder: " + t.Name, Text: text, Details: details})
	return nil
}
