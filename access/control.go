package access

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// SetWriteAccess turns writing on or off at once.
func (s *Service) SetWriteAccess(ctx context.Context, tenantID string, on bool) (*steward.Tenant, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	if on && t.Status != steward.TenantActive {
		return nil, steward.Errorf(steward.ECONFLICT, "Tenant %s is revoked; connect it again before writing.", t.Name)
	}
	if t.WriteEnabled == on {
		return t, nil
	}
	t.WriteEnabled = on
	state := map[bool]string{true: "on", false: "off"}[on]
	if err := s.store.TenantUpdate(ctx, t, steward.NewAuditEvent(ctx, "tenant.write_access", t.Name).WithTenant(t.ID).With("write_access", state)); err != nil {
		return nil, err
	}
	// Off: pending edits wait, held. On: they go out again.
	if _, err := s.store.TagEditHold(ctx, t.ID, "", !on); err != nil {
		return t, err
	}
	if on {
		s.alert(ctx, steward.Alert{Kind: "write_access_enabled", TenantID: t.ID, Subject: "Write access turned on for " + t.Name,
			Text: actor(ctx).Name + " turned write access on: Steward writes tag edits to " + t.Name + " again."})
	} else {
		s.alert(ctx, steward.Alert{Kind: "revocation", Severity: "warning", TenantID: t.ID, Subject: "Write access turned off for " + t.Name,
			Text: actor(ctx).Name + " turned write access off: Steward writes nothing to " + t.Name + "; pending edits are held."})
	}
	return t, nil
}

var mpnRE = regexp.MustCompile(`^[0-9]{6,10}$`)

// SetPartnerID links the partner's MPN ID to each of the tenant's Steward
// identities (Partner Admin Link is per identity), or removes the link.
func (s *Service) SetPartnerID(ctx context.Context, tenantID, partnerID string) (*steward.Tenant, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	partnerID = strings.TrimSpace(partnerID)
	if partnerID != "" && !mpnRE.MatchString(partnerID) {
		return nil, steward.Errorf(steward.EINVALID, "An MPN (partner) ID is a number of 6 to 10 digits.")
	}
	ids, _, err := s.tenantIdentities(ctx, t)
	if err != nil {
		return nil, err
	}
	old := t.PALPartnerID
	for _, pi := range ids {
		if partnerID == "" {
			err = s.azure.PartnerDelete(ctx, pi.id, old)
			if steward.ErrorCode(err) == steward.ENOTFOUND {
				err = nil
			}
		} else {
			_, err = s.azure.PartnerSet(ctx, pi.id, partnerID)
		}
		if err != nil {
			s.auditFailure(ctx, "tenant.partner_link", t.ID, steward.ErrorMessage(err))
			return nil, err
		}
	}
	t.PALPartnerID = partnerID
	ev := steward.NewAuditEvent(ctx, "tenant.partner_link", t.Name).WithTenant(t.ID).With("from", old).With("to", partnerID)
	if err := s.store.TenantUpdate(ctx, t, ev); err != nil {
		return nil, err
	}
	return t, nil
}

// customRole is the shape `az role definition create --role-definition`
// takes.
type customRole struct {
	Name             string   `json:"Name"`
	IsCustom         bool     `json:"IsCustom"`
	Description      string   `json:"Description"`
	Actions          []string `json:"Actions"`
	NotActions       []string `json:"NotActions"`
	DataActions      []string `json:"DataActions"`
	NotDataActions   []string `json:"NotDataActions"`
	AssignableScopes []string `json:"AssignableScopes"`
}

// LeastPrivilegeRole returns the narrowest role for what the tenant uses:
// a custom role for a service principal (or consent), the narrowest
// built-in roles for Lighthouse, which accepts only built-in roles.
func (s *Service) LeastPrivilegeRole(ctx context.Context, tenantID string) ([]byte, []string, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermInventoryRead)
	if err != nil {
		return nil, nil, err
	}
	subs, err := s.store.SubscriptionList(ctx, visible(ctx), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return nil, nil, err
	}
	actions := []string{"Microsoft.Authorization/permissions/read"}
	var scopes []string
	writes := false
	for _, sub := range subs {
		if !sub.MissingSince.IsZero() || !sub.SyncLevel.SyncsResources() {
			continue
		}
		scopes = append(scopes, "/subscriptions/"+sub.ID)
		actions = append(actions, needs(sub.SyncLevel, steward.CredentialRead, false)...)
		if sub.SyncLevel.WritesTags() && t.WriteEnabled {
			actions = append(actions, needs(sub.SyncLevel, steward.CredentialWrite, false)...)
			writes = true
		}
	}
	slices.Sort(actions)
	actions = slices.Compact(actions)
	if t.Connection == steward.ConnectLighthouse {
		roles := []string{"Reader", "Cost Management Reader"}
		if writes {
			roles = []string{"Tag Contributor", "Cost Management Reader"}
		}
		return nil, append(roles, "Managed Services Registration assignment Delete Role"), nil
	}
	if len(scopes) == 0 {
		return nil, nil, steward.Errorf(steward.ECONFLICT, "No subscription of %s is synced, so Steward needs no role there.", t.Name)
	}
	role := customRole{Name: "Steward for " + t.Name, IsCustom: true,
		Description: "What Steward needs: read the inventory and spend" + map[bool]string{true: ", read and write tags", false: ""}[writes] + "; nothing else.",
		Actions:     actions, NotActions: []string{}, DataActions: []string{}, NotDataActions: []string{}, AssignableScopes: scopes}
	b, err := json.MarshalIndent(role, "", "  ")
	return b, nil, err
}

// CheckExpiry warns once per threshold about credentials expiring soon.
func (s *Service) CheckExpiry(ctx context.Context) (int, error) {
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
		creds, err := s.store.CredentialList(ctx, visible(ctx), t.ID)
		if err != nil {
			return sent, err
		}
		for _, c := range creds {
			if c.Status != steward.CredentialActive || c.ExpiresAt.IsZero() {
				continue
			}
			left := c.ExpiresAt.Sub(now)
			threshold := 0
			for _, d := range []int{1, 7, 14, 30} {
				if left <= time.Duration(d)*24*time.Hour {
					threshold = d
					break
				}
			}
			if threshold == 0 || (c.WarnedDays != 0 && c.WarnedDays <= threshold) {
				continue
			}
			c.WarnedDays = threshold
			what := fmt.Sprintf("expires in %d days, on %s", int(left.Hours()/24), c.ExpiresAt.Format(time.DateOnly))
			kind := "credential_expiring"
			if left <= 0 {
				what, kind = "has expired", "credential_expired"
			}
			ev := &steward.AuditEvent{Actor: steward.SystemActor.Name, Action: "credential.expiry_warning", Target: c.ClientID, TenantID: t.ID, Outcome: steward.OutcomeSuccess}
			ev.With("purpose", string(c.Purpose)).With("days", fmt.Sprint(threshold))
			if err := s.store.CredentialUpdate(ctx, c, ev); err != nil {
				return sent, err
			}
			s.alert(ctx, steward.Alert{Kind: kind, Severity: map[bool]string{true: "critical", false: "warning"}[threshold <= 7], TenantID: t.ID,
				Subject: fmt.Sprintf("Steward's %s credential for %s %s", c.Purpose, t.Name, what),
				Text:    fmt.Sprintf("The client secret of app %s %s. Rotate it in Steward (Tenants → %s → Credentials): Steward adds the new secret, checks it, switches, and retires the old one.", c.ClientID, what, t.Name),
				Details: map[string]string{"client_id": c.ClientID, "purpose": string(c.Purpose), "expires": c.ExpiresAt.Format(time.RFC3339)}})
			sent++
		}
	}
	return sent, nil
}
