package access

import (
	"context"

	"github.com/stewardhq/steward"
)

// The reads people make of tenants, their credentials and the audit log,
// each within the caller's scope: the store finds nothing outside it.

// Tenants lists the tenants the caller may read, by name.
func (s *Service) Tenants(ctx context.Context) ([]*steward.Tenant, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TenantList(ctx, sc)
}

// FindTenants lists the tenants the caller may read that match f.
func (s *Service) FindTenants(ctx context.Context, f steward.TenantFilter) ([]*steward.Tenant, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TenantFind(ctx, sc, f)
}

// Tenant returns one tenant.
func (s *Service) Tenant(ctx context.Context, id string) (*steward.Tenant, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TenantGet(ctx, sc, id)
}

// Credentials returns a tenant's credentials, newest first.
func (s *Service) Credentials(ctx context.Context, tenantID string) ([]*steward.Credential, error) {
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return s.store.CredentialList(ctx, visible(ctx), t.ID)
}

// Credential returns one credential.
func (s *Service) Credential(ctx context.Context, id int64) (*steward.Credential, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CredentialGet(ctx, sc, id)
}

// AuditEvents lists the audit events the caller may read.
func (s *Service) AuditEvents(ctx context.Context, f steward.AuditFilter) ([]*steward.AuditEvent, string, error) {
	sc, err := steward.RequireScope(ctx, steward.PermAuditRead)
	if err != nil {
		return nil, "", err
	}
	return s.store.AuditList(ctx, sc, f)
}

// VerifyAudit checks the whole chain. The answer names at most the first
// broken event's ID, so anyone who may read some tenant's events may ask.
func (s *Service) VerifyAudit(ctx context.Context) (*steward.AuditVerification, error) {
	sc, err := steward.RequireScope(ctx, steward.PermAuditRead)
	if err != nil {
		return nil, err
	}
	if sc.Empty() {
		return nil, steward.Errorf(steward.EFORBIDDEN, "Checking the audit log needs the auditor or admin role.")
	}
	return s.store.AuditVerify(ctx)
}
