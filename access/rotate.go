package access

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

// RotateCredential replaces a credential with overlap: the new secret is
// added and proven to work while the old one still works, then Steward
// switches to it and retires the old one. Without a replacement, Steward
// adds the new secret itself through Graph when its identity may manage its
// own app; otherwise the person is told to create one and enter it.
func (s *Service) RotateCredential(ctx context.Context, credentialID int64, replacement *steward.CredentialInput) (*steward.Credential, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	old, err := s.store.CredentialGet(ctx, sc, credentialID)
	if err != nil {
		return nil, err
	}
	if err := requireManage(ctx, old.TenantID); err != nil {
		return nil, err
	}
	if old.Status != steward.CredentialActive {
		return nil, steward.Errorf(steward.ECONFLICT, "Only an active credential can be rotated; this one is %s.", old.Status)
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), old.TenantID)
	if err != nil {
		return nil, err
	}
	oldID, err := s.open(old)
	if err != nil {
		return nil, err
	}
	in := replacement
	viaGraph := false
	if in == nil {
		if old.Kind != steward.CredentialSecret {
			return nil, steward.Errorf(steward.EUNPROCESSABLE, "Certificates are rotated by uploading the new one.")
		}
		expires := s.now().Add(s.cfg.SecretLifetime)
		sec, value, err := s.azure.AppSecretAdd(ctx, oldID, "Steward "+s.now().Format(time.DateOnly), expires)
		if err != nil {
			s.auditFailure(ctx, "credential.rotate", t.ID, steward.ErrorMessage(err))
			return nil, steward.WrapError(steward.EUNPROCESSABLE, err,
				"Steward may not add secrets to app %s (%s). Create a new client secret for it in Entra (App registrations → %s → Certificates & secrets, 12 months), then enter it here.",
				old.ClientID, steward.ErrorMessage(err), old.ClientID)
		}
		in = &steward.CredentialInput{ClientID: old.ClientID, Secret: value, ExpiresAt: sec.ExpiresAt}
		viaGraph = true
		defer func() { in.Secret = "" }()
	} else if err := s.checkInput(old.Purpose, in); err != nil {
		return nil, err
	}
	// Entra may take a moment before a new secret works everywhere.
	var fresh *steward.Credential
	for attempt := range 4 {
		fresh, err = s.credential(ctx, old.TenantID, old.Purpose, *in)
		if err == nil || attempt == 3 {
			break
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 2 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		s.auditFailure(ctx, "credential.rotate", t.ID, steward.ErrorMessage(err))
		return nil, steward.WrapError(steward.EUNPROCESSABLE, err, "The new credential does not work, so Steward keeps using the old one: %s", steward.ErrorMessage(err))
	}
	fresh.Status = steward.CredentialPending
	add := steward.NewAuditEvent(ctx, "credential.add", fresh.ClientID).WithTenant(t.ID).With("purpose", string(fresh.Purpose)).
		With("expires", fmt.Sprint(fresh.ExpiresAt.Format(time.DateOnly))).With("via", map[bool]string{true: "graph", false: "entered"}[viaGraph])
	if err := s.store.CredentialCreate(ctx, fresh, add); err != nil {
		return nil, err
	}
	// Switch: the new one becomes active, then the old one retires.
	fresh.Status = steward.CredentialActive
	if err := s.store.CredentialUpdate(ctx, fresh, steward.NewAuditEvent(ctx, "credential.activate", fresh.ClientID).WithTenant(t.ID).With("purpose", string(fresh.Purpose))); err != nil {
		return nil, err
	}
	old.Status, old.RetiredAt = steward.CredentialRetired, s.now()
	retire := steward.NewAuditEvent(ctx, "credential.retire", old.ClientID).WithTenant(t.ID).With("purpose", string(old.Purpose))
	// Remove the old secret from Entra too, with the new credential, when
	// its key ID is known and Steward may.
	if old.AzureKeyID != "" {
		newID, err := s.open(fresh)
		if err == nil {
			err = s.azure.AppSecretRemove(ctx, newID, old.AzureKeyID)
		}
		if err != nil {
			retire.With("entra", "old secret still in Entra: "+steward.ErrorMessage(err))
		} else {
			retire.With("entra", "old secret removed from the app")
		}
	} else {
		retire.With("entra", "remove the old secret from the app in Entra")
	}
	if err := s.store.CredentialUpdate(ctx, old, retire); err != nil {
		return nil, err
	}
	s.alert(ctx, steward.Alert{Kind: "credential_added", Severity: "warning", TenantID: t.ID, Subject: "A credential of " + t.Name + " was rotated",
		Text: fmt.Sprintf("%s rotated the %s credential of app %s: a new one is in use.", actor(ctx).Name, old.Purpose, old.ClientID)})
	s.alert(ctx, steward.Alert{Kind: "credential_removed", Severity: "warning", TenantID: t.ID, Subject: "A credential of " + t.Name + " was retired",
		Text: fmt.Sprintf("%s retired the old %s credential of app %s (%s).", actor(ctx).Name, old.Purpose, old.ClientID, retire.Details["entra"])})
	return fresh, nil
}
