package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
)

// Revoke takes access away and proves it: write-off is immediate in
// Steward; after roles or the identity were removed (by Steward through a
// fresh consent, or by the customer), Steward checks with its own tokens
// that nothing is granted any more and marks the tenant revoked-verified.
func (s *Service) Revoke(ctx context.Context, tenantID string, method steward.RevocationMethod) (*steward.RevocationProof, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	proof := &steward.RevocationProof{CheckedAt: s.now()}
	switch method {
	case steward.RevokeWriteOff:
		if _, err := s.SetWriteAccess(ctx, t.ID, false); err != nil {
			return nil, err
		}
		proof.Verified = true
		proof.Findings = append(proof.Findings, "Write access is off in Steward: no tag is written and pending edits are held.")
		return proof, nil
	case steward.RevokeRoles, steward.RevokeIdentity:
	default:
		return nil, steward.Errorf(steward.EINVALID, "Revoke by write-off, remove-roles or delete-identity, not %q.", method)
	}
	ids, _, err := s.tenantIdentities(ctx, t)
	if err != nil {
		return nil, err
	}
	subs, err := s.store.SubscriptionList(ctx, visible(ctx), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return nil, err
	}
	proof.Verified = true
	for _, pi := range ids {
		if err := s.azure.CheckIdentity(ctx, pi.id); err != nil {
			if steward.ErrorCode(err) == steward.EUNAUTHORIZED {
				proof.Findings = append(proof.Findings, fmt.Sprintf("The %s identity %s can no longer sign in: %s", pi.purpose, pi.id.ClientID, steward.ErrorMessage(err)))
				continue
			}
			return nil, err // Azure did not answer: nothing is proven
		}
		if method == steward.RevokeIdentity {
			proof.Verified = false
			proof.Findings = append(proof.Findings, fmt.Sprintf("The %s identity %s still signs in: its service principal or app still exists.", pi.purpose, pi.id.ClientID))
			continue
		}
		visible, err := s.azure.Subscriptions(ctx, pi.id)
		if err != nil {
			return nil, err
		}
		if len(visible) == 0 {
			proof.Findings = append(proof.Findings, fmt.Sprintf("The %s identity %s sees no subscription.", pi.purpose, pi.id.ClientID))
		}
		for _, sub := range subs {
			perms, err := s.azure.Permissions(ctx, pi.id, "/subscriptions/"+sub.ID)
			if err != nil && steward.ErrorCode(err) != steward.EFORBIDDEN && steward.ErrorCode(err) != steward.ENOTFOUND {
				return nil, err
			}
			var kept []string
			for _, a := range []string{"Microsoft.Resources/subscriptions/resources/read", "Microsoft.Resources/tags/write", "Microsoft.CostManagement/query/read"} {
				if err == nil && perms.Allows(a) {
					kept = append(kept, a)
				}
			}
			if len(kept) > 0 {
				proof.Verified = false
				proof.Findings = append(proof.Findings, fmt.Sprintf("%s (%s): the %s identity may still %s.", sub.DisplayName, sub.ID, pi.purpose, strings.Join(kept, ", ")))
			} else {
				proof.Findings = append(proof.Findings, fmt.Sprintf("%s (%s): the %s identity may read or write nothing.", sub.DisplayName, sub.ID, pi.purpose))
			}
		}
	}
	ev := steward.NewAuditEvent(ctx, "tenant.revoke", t.Name).WithTenant(t.ID).With("method", string(method)).
		With("verified", fmt.Sprint(proof.Verified)).With("findings", truncate(strings.Join(proof.Findings, " | "), 2000))
	if !proof.Verified {
		ev.WithOutcome(steward.OutcomeFailure)
		if err := s.store.AuditAppend(ctx, ev); err != nil {
			return nil, err
		}
		return proof, nil
	}
	t.Status, t.StatusDetail, t.RevokedAt, t.WriteEnabled = steward.TenantRevokedVerified, "revoked ("+string(method)+") and verified", s.now(), false
	if err := s.store.TenantUpdate(ctx, t, ev); err != nil {
		return nil, err
	}
	if _, err := s.store.TagEditHold(ctx, t.ID, "", true); err != nil {
		return proof, err
	}
	s.alert(ctx, steward.Alert{Kind: "revocation", TenantID: t.ID, Subject: "Steward's access to " + t.Name + " is revoked and verified",
		Text: "Steward checked with its own tokens that it can no longer read or write in " + t.Name + ": " + strings.Join(proof.Findings, " ")})
	return proof, nil
}

// RevocationCommands are the Azure CLI commands a customer runs to remove
// Steward's access without Steward's help.
func (s *Service) RevocationCommands(ctx context.Context, tenantID string, method steward.RevocationMethod) ([]string, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	ids, _, err := s.tenantIdentities(ctx, t)
	if err != nil {
		return nil, err
	}
	subs, err := s.store.SubscriptionList(ctx, visible(ctx), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return nil, err
	}
	var cmds []string
	if t.Connection == steward.ConnectLighthouse && method != steward.RevokeWriteOff {
		// The customer ends a delegation by removing its registration
		// assignment; each subscription is its customer's to revoke.
		for _, sub := range subs {
			regs, err := s.azure.Registrations(ctx, ids[0].id, sub.ID)
			if err != nil {
				cmds = append(cmds, fmt.Sprintf("az managedservices assignment list --subscription %s   # then delete the one for %s", sub.ID, t.Name))
				continue
			}
			for _, r := range regs {
				if strings.EqualFold(r.ManagedByTenantID, t.ID) {
					cmds = append(cmds, fmt.Sprintf("az managedservices assignment delete --assignment %s --subscription %s   # %s", r.ID, sub.ID, r.OfferName))
				}
			}
		}
		return cmds, nil
	}
	switch method {
	case steward.RevokeRoles:
		for _, pi := range ids {
			principal, err := s.azure.PrincipalID(ctx, pi.id)
			if err != nil {
				principal = "<object ID of app " + pi.id.ClientID + "'s service principal>"
			}
			for _, sub := range subs {
				cmds = append(cmds, fmt.Sprintf("az role assignment delete --assignee-object-id %s --scope /subscriptions/%s", principal, sub.ID))
			}
		}
	case steward.RevokeIdentity:
		for _, pi := range ids {
			if t.Connection == steward.ConnectConsent {
				cmds = append(cmds, fmt.Sprintf("az ad sp delete --id %s   # Steward's service principal in tenant %s", pi.id.ClientID, t.ID))
			} else {
				cmds = append(cmds, fmt.Sprintf("az ad app delete --id %s   # the app registration Steward uses", pi.id.ClientID))
			}
		}
	case steward.RevokeWriteOff:
		return nil, steward.Errorf(steward.EINVALID, "Write access is turned off in Steward itself; there is no command to run.")
	default:
		return nil, steward.Errorf(steward.EINVALID, "Unknown revocation method %q.", method)
	}
	return cmds, nil
}
