package access

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// checkInput validates a credential as entered.
func (s *Service) checkInput(purpose steward.CredentialPurpose, in *steward.CredentialInput) error {
	in.ClientID = strings.ToLower(strings.TrimSpace(in.ClientID))
	if !steward.IsGUID(in.ClientID) {
		return steward.Errorf(steward.EINVALID, "The %s client ID must be the app's application (client) ID, a GUID.", purpose)
	}
	if (in.Secret == "") == (in.Certificate == "") {
		return steward.Errorf(steward.EINVALID, "Give the %s credential's client secret or its certificate (PEM with the private key), one of them.", purpose)
	}
	if !in.ExpiresAt.IsZero() {
		if in.ExpiresAt.Before(s.now()) {
			return steward.Errorf(steward.EINVALID, "The %s secret's expiry date is in the past.", purpose)
		}
		if in.ExpiresAt.After(s.now().Add(steward.MaxSecretLifetime + 48*time.Hour)) {
			return steward.Errorf(steward.EINVALID, "The %s secret expires more than 24 months from now, longer than Entra allows; check the date.", purpose)
		}
	}
	return nil
}

// credential checks one entered credential against Azure and seals it.
func (s *Service) credential(ctx context.Context, tenantID string, purpose steward.CredentialPurpose, in steward.CredentialInput) (*steward.Credential, error) {
	id := steward.AzureIdentity{TenantID: tenantID, ClientID: in.ClientID, Secret: in.Secret, Certificate: in.Certificate}
	if err := s.azure.CheckIdentity(ctx, id); err != nil {
		return nil, steward.WrapError(steward.EUNAUTHORIZED, err, "The %s credential does not work: %s", purpose, steward.ErrorMessage(err))
	}
	c := &steward.Credential{TenantID: tenantID, Purpose: purpose, ClientID: in.ClientID, Status: steward.CredentialActive,
		CreatedBy: actor(ctx).Name, ExpiresAt: in.ExpiresAt, ExpirySource: "entered"}
	plain := in.Secret
	c.Kind = steward.CredentialSecret
	if in.Certificate != "" {
		c.Kind, plain = steward.CredentialCertificate, in.Certificate
	}
	if in.Secret != "" {
		s.expiryFromGraph(ctx, id, c)
	}
	if c.ExpiresAt.IsZero() {
		c.ExpirySource = ""
	}
	sealed, err := s.box.Seal([]byte(plain.Reveal()), c.AssociatedData())
	if err != nil {
		return nil, err
	}
	c.Sealed = sealed
	if c.KeyVersion, err = s.box.KeyVersion(sealed); err != nil {
		return nil, err
	}
	return c, nil
}

// expiryFromGraph reads the secret's end date from the app's
// passwordCredentials when the identity may read its own app, matching the
// secret by its hint (its first characters, which Entra shows).
func (s *Service) expiryFromGraph(ctx context.Context, id steward.AzureIdentity, c *steward.Credential) {
	secrets, err := s.azure.AppSecrets(ctx, id)
	if err != nil {
		return // not allowed, or no Graph: the entered date stands
	}
	plain := id.Secret.Reveal()
	var match *steward.AzureAppSecret
	for _, sec := range secrets {
		if sec.Hint != "" && strings.HasPrefix(plain, sec.Hint) {
			if match != nil {
				return // ambiguous
			}
			match = sec
		}
	}
	if match != nil {
		c.ExpiresAt, c.AzureKeyID, c.ExpirySource = match.ExpiresAt, match.KeyID, "graph"
	}
}

// ConnectServicePrincipal stores a customer's app credentials after
// checking they work, then validates them and starts a sync.
func (s *Service) ConnectServicePrincipal(ctx context.Context, in steward.ServicePrincipalInput) (*steward.Tenant, *steward.ValidationReport, error) {
	in.TenantID = strings.ToLower(strings.TrimSpace(in.TenantID))
	// Every refused attempt is audited, bad input included.
	fail := func(err error) (*steward.Tenant, *steward.ValidationReport, error) {
		s.auditFailure(ctx, "tenant.connect", truncate(in.TenantID, 64), steward.ErrorMessage(err))
		return nil, nil, err
	}
	if err := requireManage(ctx, in.TenantID); err != nil {
		return fail(err)
	}
	if !steward.IsGUID(in.TenantID) {
		return fail(steward.Errorf(steward.EINVALID, "The tenant ID must be the directory (tenant) ID, a GUID."))
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		return fail(steward.Errorf(steward.EINVALID, "Give the tenant a name of 1 to 200 characters."))
	}
	if err := s.checkInput(steward.CredentialRead, &in.Read); err != nil {
		return fail(err)
	}
	if in.Write != nil {
		if err := s.checkInput(steward.CredentialWrite, in.Write); err != nil {
			return fail(err)
		}
	}
	// Steward's own app is configuration, not a customer credential: stored
	// and rotated as one, rotation would retire the secret every consent
	// and Lighthouse connection signs in with.
	if own := s.azure.AppIdentity(in.TenantID).ClientID; own != "" {
		for _, c := range []*steward.CredentialInput{&in.Read, in.Write} {
			if c != nil && strings.EqualFold(strings.TrimSpace(c.ClientID), own) {
				return fail(steward.Errorf(steward.EINVALID, "Client ID %s is Steward's own app. A service-principal connection takes the customer's own app registration; connect a customer by consent, or your managing tenant through Lighthouse.", own))
			}
		}
	}
	if _, err := s.store.TenantGet(ctx, visible(ctx), in.TenantID); err == nil {
		return fail(steward.Errorf(steward.ECONFLICT, "Tenant %s is already connected.", in.TenantID))
	}
	read, err := s.credential(ctx, in.TenantID, steward.CredentialRead, in.Read)
	if err != nil {
		return fail(err)
	}
	creds := []*steward.Credential{read}
	mode := "same credentials"
	if in.Write != nil {
		write, err := s.credential(ctx, in.TenantID, steward.CredentialWrite, *in.Write)
		if err != nil {
			return fail(err)
		}
		creds, mode = append(creds, write), "separate read and write credentials"
	}
	t := &steward.Tenant{ID: in.TenantID, Name: name, Connection: steward.ConnectServicePrincipal, WriteEnabled: true, Status: steward.TenantActive, SyncMethod: steward.SyncAuto}
	ev := steward.NewAuditEvent(ctx, "tenant.connect", name).WithTenant(t.ID).With("connection", string(t.Connection)).
		With("credentials", mode).With("read_client", in.Read.ClientID).With("write_access", "on")
	if err := s.store.TenantCreate(ctx, t, creds, ev); err != nil {
		return nil, nil, err
	}
	for _, c := range creds {
		s.alert(ctx, steward.Alert{Kind: "credential_added", TenantID: t.ID, Subject: "A credential was added for " + name,
			Text: "A " + string(c.Purpose) + " credential for app " + c.ClientID + " was added by " + actor(ctx).Name + "."})
	}
	s.alert(ctx, steward.Alert{Kind: "write_access_enabled", TenantID: t.ID, Subject: "Steward may now write tags in " + name,
		Text: "Tenant " + name + " was connected with a service principal; write access is on."})
	if _, err := s.inv.SyncTenant(ctx, t.ID, "connected"); err != nil {
		s.log.WarnContext(ctx, "first sync not started", "tenant_id", t.ID, "error", err)
	}
	rep, err := s.Validate(ctx, t.ID)
	if err != nil {
		return t, nil, err
	}
	return t, rep, nil
}

// ConnectLighthouse connects the managing tenant for its delegated
// subscriptions. Nothing is stored but the tenant: Steward's app identity
// is configuration, and the customers' delegations are in Azure.
func (s *Service) ConnectLighthouse(ctx context.Context, managingTenantID, name string) (*steward.Tenant, *steward.ValidationReport, error) {
	tid := strings.ToLower(strings.TrimSpace(managingTenantID))
	fail := func(err error) (*steward.Tenant, *steward.ValidationReport, error) {
		s.auditFailure(ctx, "tenant.connect", truncate(tid, 64), steward.ErrorMessage(err))
		return nil, nil, err
	}
	if err := requireManage(ctx, tid); err != nil {
		return fail(err)
	}
	if !steward.IsGUID(tid) {
		return fail(steward.Errorf(steward.EINVALID, "The managing tenant ID must be the partner's directory (tenant) ID, a GUID."))
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return fail(steward.Errorf(steward.EINVALID, "Give the connection a name of 1 to 200 characters."))
	}
	if _, err := s.store.TenantGet(ctx, visible(ctx), tid); err == nil {
		return fail(steward.Errorf(steward.ECONFLICT, "Tenant %s is already connected.", tid))
	}
	app := s.azure.AppIdentity(tid)
	if err := s.azure.CheckIdentity(ctx, app); err != nil {
		return fail(err)
	}
	subs, err := s.azure.Subscriptions(ctx, app)
	if err != nil {
		return fail(err)
	}
	delegated := 0
	for _, sub := range subs {
		if sub.HomeTenantID != "" && !strings.EqualFold(sub.HomeTenantID, tid) {
			delegated++
		}
	}
	if delegated == 0 {
		return fail(steward.Errorf(steward.EUNPROCESSABLE, "No customer subscription is delegated to tenant %s for Steward's app yet. Build the delegation template under Lighthouse, have the customer deploy it, then connect.", tid))
	}
	t := &steward.Tenant{ID: tid, Name: name, Connection: steward.ConnectLighthouse, WriteEnabled: true, Status: steward.TenantActive, SyncMethod: steward.SyncAuto}
	ev := steward.NewAuditEvent(ctx, "tenant.connect", name).WithTenant(tid).With("connection", string(steward.ConnectLighthouse)).
		With("delegated_subscriptions", strconv.Itoa(delegated)).With("write_access", "on")
	if err := s.store.TenantCreate(ctx, t, nil, ev); err != nil {
		return nil, nil, err
	}
	s.alert(ctx, steward.Alert{Kind: "write_access_enabled", TenantID: t.ID, Subject: "Steward may now write tags in " + name,
		Text: fmt.Sprintf("%s connected %d subscriptions delegated through Azure Lighthouse; write access is on where the delegation allows it.", actor(ctx).Name, delegated)})
	if _, err := s.inv.SyncTenant(ctx, t.ID, "connected"); err != nil {
		s.log.WarnContext(ctx, "first sync not started", "tenant_id", t.ID, "error", err)
	}
	rep, err := s.Validate(ctx, t.ID)
	if err != nil {
		return t, nil, err
	}
	return t, rep, nil
}
