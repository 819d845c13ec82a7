package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azroles"
)

// Actions each sync level needs of the read identity, of the write identity,
// and for spend. Reading one's own permissions (Microsoft.Authorization/
// permissions/read) is how validation itself works.
var (
	needRead     = []string{"Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Resources/subscriptions/resources/read"}
	needReadTags = []string{"Microsoft.Resources/tags/read"}
	needWrite    = []string{"Microsoft.Resources/tags/read", "Microsoft.Resources/tags/write"}
	needCosts    = []string{"Microsoft.CostManagement/query/read"}
)

// beyondNeed are actions no sync level needs; any of them granted means the
// identity holds more than Steward's job, with a word on what it allows.
var beyondNeed = []struct{ action, means string }{
	{"Microsoft.Compute/virtualMachines/write", "change resources (e.g. create or modify virtual machines)"},
	{"Microsoft.Resources/subscriptions/resourceGroups/delete", "delete resource groups"},
	{"Microsoft.Authorization/roleAssignments/write", "assign roles"},
	{"Microsoft.Storage/storageAccounts/listKeys/action", "read storage account keys (and so the data)"},
	{"Microsoft.KeyVault/vaults/write", "change key vaults"},
}

// needs lists what an identity of a purpose needs at a level.
func needs(level steward.SyncLevel, purpose steward.CredentialPurpose, sameCredential bool) []string {
	var out []string
	read := purpose == steward.CredentialRead
	if read && level.SyncsResources() {
		out = append(out, needRead...)
		out = append(out, needCosts...)
	}
	if read && level.ReadsTags() {
		out = append(out, needReadTags...)
	}
	if level.WritesTags() && (purpose == steward.CredentialWrite || sameCredential) {
		out = append(out, needWrite...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// roleName names a built-in role by ID, or returns the ID.
func roleName(id string) string {
	if r, ok := azroles.BuiltIn().ByID(id); ok {
		return r.RoleName
	}
	return id
}

// preferred are the roles Steward's job is built on, least privilege
// first: a missing action is named with the first of them that grants it.
var preferred = []string{steward.BuiltInTagContributor, steward.BuiltInCostManagementReader, steward.BuiltInReader}

// narrowest names the least-privileged built-in role granting an action.
func narrowest(action string) string {
	for _, id := range preferred {
		if r, ok := azroles.BuiltIn().ByID(id); ok && r.Allows(action) {
			return r.RoleName
		}
	}
	if rs := azroles.BuiltIn().Granting(action); len(rs) > 0 {
		return rs[0].RoleName
	}
	return "a custom role"
}

// identities returns the tenant's active identities by purpose. With one
// credential it serves both purposes ("same credentials").
func (s *Service) identities(ctx context.Context, t *steward.Tenant) (map[steward.CredentialPurpose]*steward.Credential, error) {
	creds, err := s.store.CredentialList(ctx, visible(ctx), t.ID)
	if err != nil {
		return nil, err
	}
	out := map[steward.CredentialPurpose]*steward.Credential{}
	for _, c := range creds { // newest first
		if c.Status == steward.CredentialActive && out[c.Purpose] == nil {
			out[c.Purpose] = c
		}
	}
	return out, nil
}

// open returns the identity of a stored credential.
func (s *Service) open(c *steward.Credential) (steward.AzureIdentity, error) {
	plain, err := s.box.Open(c.Sealed, c.AssociatedData())
	if err != nil {
		return steward.AzureIdentity{}, steward.WrapError(steward.EINTERNAL, err, "A stored credential cannot be opened.")
	}
	id := steward.AzureIdentity{TenantID: c.TenantID, ClientID: c.ClientID}
	if c.Kind == steward.CredentialCertificate {
		id.Certificate = steward.Secret(plain)
	} else {
		id.Secret = steward.Secret(plain)
	}
	return id, nil
}

type purposeIdentity struct {
	purpose steward.CredentialPurpose
	id      steward.AzureIdentity
	cred    *steward.Credential // nil for Steward's own app
}

// tenantIdentities lists the identities to check: Steward's app for a
// consent or Lighthouse connection, else each active credential.
func (s *Service) tenantIdentities(ctx context.Context, t *steward.Tenant) ([]purposeIdentity, bool, error) {
	if t.UsesAppIdentity() {
		return []purposeIdentity{{purpose: steward.CredentialRead, id: s.azure.AppIdentity(t.ID)}}, true, nil
	}
	byPurpose, err := s.identities(ctx, t)
	if err != nil {
		return nil, false, err
	}
	var out []purposeIdentity
	for _, p := range []steward.CredentialPurpose{steward.CredentialRead, steward.CredentialWrite} {
		c := byPurpose[p]
		if c == nil {
			continue
		}
		id, err := s.open(c)
		if err != nil {
			return nil, false, err
		}
		out = append(out, purposeIdentity{purpose: p, id: id, cred: c})
	}
	return out, byPurpose[steward.CredentialWrite] == nil, nil
}

// Validate checks a tenant's identities and compares each subscription's
// effective permissions with what its level needs.
func (s *Service) Validate(ctx context.Context, tenantID string) (*steward.ValidationReport, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	ids, same, err := s.tenantIdentities(ctx, t)
	if err != nil {
		return nil, err
	}
	rep := &steward.ValidationReport{CheckedAt: s.now()}
	subs, err := s.store.SubscriptionList(ctx, visible(ctx), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return nil, err
	}
	for _, pi := range ids {
		check := steward.IdentityCheck{Purpose: pi.purpose, ClientID: pi.id.ClientID, OK: true}
		if pi.cred != nil {
			check.ExpiresAt = optTime(pi.cred.ExpiresAt)
		}
		principal, err := s.azure.PrincipalID(ctx, pi.id)
		if err != nil {
			check.OK, check.Problem = false, steward.ErrorMessage(err)
			rep.Identities = append(rep.Identities, check)
			continue
		}
		rep.Identities = append(rep.Identities, check)
		for _, sub := range subs {
			if !sub.MissingSince.IsZero() {
				continue
			}
			rep.Subscriptions = append(rep.Subscriptions, s.validateSubscription(ctx, pi, principal, sub, same || t.UsesAppIdentity()))
		}
	}
	b, _ := json.Marshal(rep)
	t.Validation, t.LastValidatedAt = string(b), rep.CheckedAt
	ev := steward.NewAuditEvent(ctx, "tenant.validate", t.Name).WithTenant(t.ID).With("summary", summarize(rep))
	if err := s.store.TenantUpdate(ctx, t, ev); err != nil {
		return nil, err
	}
	return rep, nil
}

func (s *Service) validateSubscription(ctx context.Context, pi purposeIdentity, principal string, sub *steward.Subscription, same bool) steward.SubscriptionValidation {
	v := steward.SubscriptionValidation{SubscriptionID: sub.ID, DisplayName: sub.DisplayName, SyncLevel: sub.SyncLevel, Purpose: pi.purpose, Verdict: steward.VerdictFine}
	scope := "/subscriptions/" + sub.ID
	perms, err := s.azure.Permissions(ctx, pi.id, scope)
	if err != nil {
		v.Verdict = steward.VerdictMissing
		v.Missing = append(v.Missing, steward.MissingAction{Action: "Microsoft.Authorization/permissions/read", Role: "Reader or Tag Contributor"})
		v.Broader = append(v.Broader, "Steward could not read its permissions here: "+steward.ErrorMessage(err))
		return v
	}
	for _, a := range needs(sub.SyncLevel, pi.purpose, same) {
		if !perms.Allows(a) {
			v.Missing = append(v.Missing, steward.MissingAction{Action: a, Role: narrowest(a)})
		}
	}
	for _, b := range beyondNeed {
		if perms.Allows(b.action) {
			v.Broader = append(v.Broader, fmt.Sprintf("may %s (%s), which Steward never needs", b.means, b.action))
		}
	}
	if !sub.SyncLevel.SyncsResources() && perms.Allows("Microsoft.Resources/subscriptions/resources/read") {
		v.Broader = append(v.Broader, "may read resources, though the level is No Resources")
	}
	if !sub.SyncLevel.WritesTags() && perms.Allows("Microsoft.Resources/tags/write") {
		v.Broader = append(v.Broader, "may write tags, though the level is "+sub.SyncLevel.Label())
	}
	if ras, err := s.azure.RoleAssignments(ctx, pi.id, scope, principal); err == nil {
		for _, ra := range ras {
			v.Roles = append(v.Roles, roleName(ra.RoleDefinitionID))
		}
		slices.Sort(v.Roles)
		v.Roles = slices.Compact(v.Roles)
	}
	switch {
	case len(v.Missing) > 0:
		v.Verdict = steward.VerdictMissing
	case len(v.Broader) > 0:
		v.Verdict = steward.VerdictBroader
	}
	return v
}

func summarize(rep *steward.ValidationReport) string {
	count := map[string]int{}
	for _, v := range rep.Subscriptions {
		count[v.Verdict]++
	}
	bad := 0
	for _, c := range rep.Identities {
		if !c.OK {
			bad++
		}
	}
	parts := []string{fmt.Sprintf("%d fine", count[steward.VerdictFine]), fmt.Sprintf("%d missing", count[steward.VerdictMissing]), fmt.Sprintf("%d broader", count[steward.VerdictBroader])}
	if bad > 0 {
		parts = append(parts, fmt.Sprintf("%d credential(s) failing", bad))
	}
	return strings.Join(parts, ", ")
}
