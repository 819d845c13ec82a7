package inventory

import (
	"context"

	"github.com/stewardhq/steward"
)

// identity returns the identity Steward uses in a tenant for a purpose. A
// tenant connected by consent or through Lighthouse uses Steward's own app; otherwise the active
// credential of that purpose, or the read credential when there is no
// separate write credential ("same credentials"). The secret is opened
// only here and only for the call.
func (s *Service) identity(ctx context.Context, t *steward.Tenant, purpose steward.CredentialPurpose) (steward.AzureIdentity, error) {
	if t.Status != steward.TenantActive {
		return steward.AzureIdentity{}, steward.Errorf(steward.ECONFLICT, "Tenant %s is revoked; Steward no longer uses it.", t.Name)
	}
	if t.UsesAppIdentity() {
		return s.azure.AppIdentity(t.ID), nil
	}
	creds, err := s.store.CredentialList(ctx, visible(ctx), t.ID)
	if err != nil {
		return steward.AzureIdentity{}, err
	}
	pick := func(p steward.CredentialPurpose) *steward.Credential {
		for _, c := range creds { // newest first
			if c.Purpose == p && c.Status == steward.CredentialActive {
				return c
			}
		}
		return nil
	}
	c := pick(purpose)
	if c == nil && purpose == steward.CredentialWrite {
		c = pick(steward.CredentialRead)
	}
	if c == nil {
		return steward.AzureIdentity{}, steward.Errorf(steward.ECONFLICT, "Tenant %s has no active %s credential.", t.Name, purpose)
	}
	plain, err := s.box.Open(c.Sealed, c.AssociatedData())
	if err != nil {
		return steward.AzureIdentity{}, steward.WrapError(steward.EINTERNAL, err, "The credential of tenant %s cannot be opened.", t.Name)
	}
	id := steward.AzureIdentity{TenantID: t.ID, ClientID: c.ClientID}
	if c.Kind == steward.CredentialCertificate {
		id.Certificate = steward.Secret(plain)
	} else {
		id.Secret = steward.Secret(plain)
	}
	return id, nil
}
