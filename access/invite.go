package access

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Consent links (invitations). An operator makes one per customer; the
// customer's admin opens it with no Steward account and goes through the
// same consent as "Connect a tenant", acting as the invitation itself
// (steward.Invitation.Actor): before a tenant is known it may do nothing,
// after, manage that one tenant. The link's token is the only credential,
// so it is never stored, logged or audited; only its hash is. The browser
// that starts the consent keeps a random binding value, which must come
// back with the answer and the choice of subscriptions, so an answer or a
// session cannot be carried to another browser.

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// InvitationCreate makes a consent link.
func (s *Service) InvitationCreate(ctx context.Context, in steward.InvitationInput) (*steward.Invitation, string, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(in.CustomerName)
	if err := steward.CheckText("Customer name", name); err != nil {
		return nil, "", err
	}
	if len(name) > 200 {
		return nil, "", steward.Errorf(steward.EINVALID, "The customer name is at most 200 characters.")
	}
	expected := strings.ToLower(strings.TrimSpace(in.ExpectedTenant))
	tenantID := ""
	switch {
	case expected == "":
	case steward.IsGUID(expected):
		tenantID = expected
	case len(expected) <= 253 && domainRE.MatchString(expected):
	default:
		return nil, "", steward.Errorf(steward.EINVALID, "The expected tenant is a tenant ID (a GUID) or a domain such as contoso.onmicrosoft.com, or left empty.")
	}
	if tenantID != "" {
		if err := requireManage(ctx, tenantID); err != nil {
			return nil, "", err
		}
	} else if !a.Can(steward.PermTenantsManage, "") {
		// The tenant that will consent is unknown; only someone who may
		// manage every tenant may let it be any.
		return nil, "", steward.Errorf(steward.EFORBIDDEN, "Your roles let you manage some tenants only: name the tenant ID the customer will connect.")
	}
	life := in.ExpiresIn
	switch {
	case life == 0:
		life = steward.DefaultInvitationLifetime
	case life < time.Hour:
		return nil, "", steward.Errorf(steward.EINVALID, "An invitation lasts at least an hour.")
	case life > steward.MaxInvitationLifetime:
		return nil, "", steward.Errorf(steward.EINVALID, "An invitation lasts at most 90 days.")
	}
	token, hash := steward.NewToken(steward.InvitationTokenPrefix)
	inv := &steward.Invitation{CustomerName: name, ExpectedTenant: expected, TenantID: tenantID, State: steward.InvitationPending,
		CreatedBy: a.Name, Hash: hash, ExpiresAt: s.now().Add(life)}
	ev := steward.NewAuditEvent(ctx, "invitation.create", invitationTarget(inv)).
		With("expected_tenant", expected).With("expires_at", inv.ExpiresAt.Format(time.RFC3339))
	if tenantID != "" {
		ev.WithTenant(tenantID)
	}
	if err := s.store.InvitationCreate(ctx, inv, ev); err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

func invitationTarget(inv *steward.Invitation) string {
	if inv.CustomerName != "" {
		return "consent link for " + inv.CustomerName
	}
	return "consent link"
}

// Invitations lists the invitations the caller may manage.
func (s *Service) Invitations(ctx context.Context) ([]*steward.Invitation, error) {
	sc, err := steward.RequireScope(ctx, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	return s.store.InvitationList(ctx, sc)
}

// Invitation returns one invitation the caller may manage.
func (s *Service) Invitation(ctx context.Context, id int64) (*steward.Invitation, error) {
	sc, err := steward.RequireScope(ctx, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	return s.store.InvitationGet(ctx, sc, id)
}

// InvitationRevoke revokes an invitation.
func (s *Service) InvitationRevoke(ctx context.Context, id int64) (*steward.Invitation, error) {
	inv, err := s.Invitation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !inv.Open() {
		return nil, steward.Errorf(steward.ECONFLICT, "This invitation is already %s.", inv.State)
	}
	from := inv.State
	inv.State, inv.RevokedAt = steward.InvitationRevoked, s.now()
	ev := steward.NewAuditEvent(ctx, "invitation.revoke", invitationTarget(inv)).WithTenant(inv.TenantID).
		With("invitation_id", strconv.FormatInt(inv.ID, 10)).With("was", string(from))
	if err := s.store.InvitationUpdate(ctx, inv, []steward.InvitationState{from}, ev); err != nil {
		return nil, err
	}
	return inv, nil
}

// usable finds the link's invitation and checks it may still be used;
// refusals are audited, as the invitation when the link is known, as
// anonymous when not. The token itself appears nowhere.
func (s *Service) usable(ctx context.Context, req steward.InvitationRequest, step string) (*steward.Invitation, error) {
	var inv *steward.Invitation
	err := steward.Errorf(steward.ENOTFOUND, "This consent link is not known to Steward. Check that you copied all of it, or ask your partner for a new one.")
	if strings.HasPrefix(req.Token, steward.InvitationTokenPrefix) {
		var gerr error
		inv, gerr = s.store.InvitationGetByHash(ctx, steward.HashToken(req.Token))
		if gerr != nil && steward.ErrorCode(gerr) != steward.ENOTFOUND {
			return nil, gerr
		}
	}
	if inv != nil {
		switch inv.StateAt(s.now()) {
		case steward.InvitationConnected:
			err = steward.Errorf(steward.ECONFLICT, "This consent link has been used: it connected a tenant already, and works only once. Ask your partner for a new one if you need it.")
		case steward.InvitationRevoked:
			err = steward.Errorf(steward.ECONFLICT, "This consent link was revoked by your partner. Ask them for a new one.")
		case steward.InvitationExpired:
			err = steward.Errorf(steward.ECONFLICT, "This consent link expired on %s. Ask your partner for a new one.", inv.ExpiresAt.Format("2 January 2006"))
		default:
			return inv, nil
		}
	}
	s.refuse(ctx, inv, req, step, steward.ErrorMessage(err))
	return nil, err
}

// refuse audits a refused use of a consent link.
func (s *Service) refuse(ctx context.Context, inv *steward.Invitation, req steward.InvitationRequest, step, reason string) {
	ev := &steward.AuditEvent{Actor: "anonymous", Action: "invitation.refused", Target: "consent link", Outcome: steward.OutcomeDenied,
		SourceIP: req.SourceIP, RequestID: steward.RequestIDFromContext(ctx)}
	if inv != nil {
		ev.Actor, ev.Target, ev.TenantID = inv.Actor("", "").Name, invitationTarget(inv), inv.TenantID
		ev.With("invitation_id", strconv.FormatInt(inv.ID, 10))
	}
	ev.With("step", step).With("reason", reason)
	if err := s.store.AuditAppend(context.WithoutCancel(ctx), ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not written", "action", ev.Action, "error", err)
	}
}

// InvitationOpen marks the link opened, the first time.
func (s *Service) InvitationOpen(ctx context.Context, req steward.InvitationRequest) (*steward.Invitation, error) {
	inv, err := s.usable(ctx, req, "open")
	if err != nil || inv.State != steward.InvitationPending {
		return inv, err
	}
	inv.State, inv.OpenedAt = steward.InvitationOpened, s.now()
	ev := steward.NewAuditEvent(steward.NewContextWithActor(ctx, inv.Actor("", req.SourceIP)), "invitation.open", invitationTarget(inv)).
		WithTenant(inv.TenantID).With("invitation_id", strconv.FormatInt(inv.ID, 10))
	if err := s.store.InvitationUpdate(ctx, inv, []steward.InvitationState{steward.InvitationPending}, ev); err != nil && steward.ErrorCode(err) != steward.ECONFLICT {
		return nil, err
	}
	return inv, nil
}

// InvitationConsentStart sends the link's holder to the admin consent.
func (s *Service) InvitationConsentStart(ctx context.Context, req steward.InvitationRequest, redirectURI string) (string, error) {
	inv, err := s.InvitationOpen(ctx, req)
	if err != nil {
		return "", err
	}
	if len(req.Binding) < 16 {
		return "", steward.Errorf(steward.EINVALID, "This browser did not keep Steward's cookie; allow cookies for this site and open the link again.")
	}
	hint := cmp.Or(inv.TenantID, inv.ExpectedTenant, "organizations")
	state := rand.Text()
	u, err := s.azure.ConsentURL(steward.ConsentRequest{TenantID: hint, RedirectURI: redirectURI, State: state})
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	s.sweep(now)
	s.pending[state] = &pendingConsent{purpose: purposeConnect, tenantHint: hint, redirectURI: redirectURI, by: inv.Actor("", "").Name,
		invitation: inv.ID, binding: steward.HashToken(req.Binding), expires: earlier(now.Add(s.cfg.ConsentTTL), inv.ExpiresAt)}
	s.mu.Unlock()
	actx := steward.NewContextWithActor(ctx, inv.Actor("", req.SourceIP))
	ev := steward.NewAuditEvent(actx, "tenant.consent_started", hint).WithTenant(inv.TenantID).
		With("purpose", purposeConnect).With("invitation_id", strconv.FormatInt(inv.ID, 10))
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return "", err
	}
	return u, nil
}

// everywhere reads an invitation a consent in progress names: the link's
// token (or the session begun with it) found it, and its holder acts as
// the invitation, so the caller's scope has nothing to say.
var everywhere = steward.SystemActor.Scope(steward.PermTenantsManage)

// InvitationConsent reports whether state is a consent link's.
func (s *Service) InvitationConsent(state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[state]
	return p != nil && p.invitation != 0
}

// sameBinding compares a browser's binding value with the hash kept.
func sameBinding(binding, hash string) bool {
	return binding != "" && subtle.ConstantTimeCompare([]byte(steward.HashToken(binding)), []byte(hash)) == 1
}

// InvitationConsentCallback handles the admin's answer to a consent begun
// through a link.
func (s *Service) InvitationConsentCallback(ctx context.Context, req steward.InvitationRequest, state, code, errCode, errDescription string) (*steward.ConsentSession, error) {
	now := s.now()
	s.mu.Lock()
	s.sweep(now)
	p := s.pending[state]
	if p != nil && p.invitation != 0 && sameBinding(req.Binding, p.binding) {
		delete(s.pending, state)
	} else {
		p = nil
	}
	s.mu.Unlock()
	if p == nil {
		s.refuse(ctx, nil, req, "consent answer", "unknown or expired consent state, or another browser")
		return nil, steward.Errorf(steward.EINVALID, "This consent answer is unknown, has expired, or came back to another browser than the one that opened the link. Open the consent link again.")
	}
	inv, err := s.store.InvitationGet(ctx, everywhere, p.invitation)
	if err != nil {
		return nil, err
	}
	ictx := steward.NewContextWithActor(ctx, inv.Actor("", req.SourceIP))
	if !inv.Open() || inv.StateAt(now) == steward.InvitationExpired {
		s.refuse(ctx, inv, req, "consent answer", "the invitation is "+string(inv.StateAt(now)))
		return nil, steward.Errorf(steward.ECONFLICT, "This consent link is %s. Nothing was changed in Steward or in Azure.", inv.StateAt(now))
	}
	if errCode != "" {
		ev := steward.NewAuditEvent(ictx, "tenant.consent_declined", p.tenantHint).WithTenant(inv.TenantID).WithOutcome(steward.OutcomeFailure).
			With("error", errCode).With("description", truncate(errDescription, 300)).With("invitation_id", strconv.FormatInt(inv.ID, 10))
		if err := s.store.AuditAppend(ctx, ev); err != nil {
			return nil, err
		}
		return nil, steward.Errorf(steward.EFORBIDDEN, "You did not consent (%s). Nothing was changed in Steward or in Azure; the link still works.", errCode)
	}
	if code == "" {
		s.auditFailure(ictx, "tenant.consent_failed", inv.TenantID, "no authorization code")
		return nil, steward.Errorf(steward.EINVALID, "The consent answer has no authorization code.")
	}
	tok, err := s.azure.ConsentExchange(ctx, p.tenantHint, code, p.redirectURI)
	if err != nil {
		s.auditFailure(ictx, "tenant.consent_failed", inv.TenantID, steward.ErrorMessage(err))
		return nil, err
	}
	// Bind the invitation to the tenant the admin consented in, once: a
	// tenant named by ID must be that one (the store refuses another), and
	// a link bound to one tenant cannot connect a second.
	tenantID := strings.ToLower(tok.TenantID)
	if inv.TenantID != "" && inv.TenantID != tenantID {
		tok = nil
		s.refuseTenant(ctx, inv, req, tenantID, "the admin consented in another tenant than the invitation's")
		return nil, steward.Errorf(steward.EFORBIDDEN, "You signed in to tenant %s, but this consent link is for another tenant. Nothing was assigned; sign in to the tenant your partner named.", tenantID)
	}
	from := inv.State
	inv.State, inv.TenantID, inv.ConsentedBy, inv.ConsentedAt = steward.InvitationConsented, tenantID, tok.UserName, now
	actx := steward.NewContextWithActor(ctx, inv.Actor(tenantID, req.SourceIP))
	ev := steward.NewAuditEvent(actx, "invitation.consent", invitationTarget(inv)).WithTenant(tenantID).
		With("invitation_id", strconv.FormatInt(inv.ID, 10)).With("consenting_user", tok.UserName)
	if err := s.store.InvitationUpdate(ctx, inv, []steward.InvitationState{from}, ev); err != nil {
		tok = nil
		if steward.ErrorCode(err) == steward.ECONFLICT {
			s.refuseTenant(ctx, inv, req, tenantID, "the invitation was used, revoked or bound to another tenant meanwhile")
			return nil, steward.Errorf(steward.ECONFLICT, "This consent link was used, revoked or bound to another tenant meanwhile. Nothing was assigned.")
		}
		return nil, err
	}
	return s.openSession(actx, p, tok)
}

// refuseTenant audits a consent through a link that names the tenant
// refused, on that tenant.
func (s *Service) refuseTenant(ctx context.Context, inv *steward.Invitation, req steward.InvitationRequest, tenantID, reason string) {
	ev := steward.NewAuditEvent(steward.NewContextWithActor(ctx, inv.Actor("", req.SourceIP)), "tenant.consent_refused", tenantID).
		WithTenant(tenantID).WithOutcome(steward.OutcomeDenied).With("purpose", purposeConnect).With("reason", reason).
		With("invitation_id", strconv.FormatInt(inv.ID, 10))
	if err := s.store.AuditAppend(context.WithoutCancel(ctx), ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not written", "action", ev.Action, "error", err)
	}
	s.refuse(ctx, inv, req, "consent answer", reason)
}

// InvitationConsentComplete connects the tenant the admin consented in.
func (s *Service) InvitationConsentComplete(ctx context.Context, req steward.InvitationRequest, sessionID string, subscriptionIDs []string) (*steward.Tenant, []steward.ConsentResult, error) {
	s.mu.Lock()
	s.sweep(s.now())
	c := s.sessions[sessionID]
	if c == nil || c.invitation == 0 || !sameBinding(req.Binding, c.binding) {
		s.mu.Unlock()
		return nil, nil, steward.Errorf(steward.ENOTFOUND, "This consent has expired (it lasts at most half an hour) or was begun in another browser. Open the consent link again.")
	}
	if len(subscriptionIDs) == 0 {
		s.mu.Unlock() // the session stays, so the admin can choose again
		return nil, nil, steward.Errorf(steward.EINVALID, "Choose at least one subscription.")
	}
	delete(s.sessions, sessionID)
	s.mu.Unlock()
	defer func() { c.tok = nil }()
	inv, err := s.store.InvitationGet(ctx, everywhere, c.invitation)
	if err != nil {
		return nil, nil, err
	}
	tenantID := c.view.TenantID
	actx := steward.NewContextWithActor(ctx, inv.Actor(tenantID, req.SourceIP))
	claim := func() error {
		now := s.now()
		if inv.StateAt(now) != steward.InvitationConsented || inv.TenantID != tenantID {
			s.refuse(ctx, inv, req, "complete", "the invitation is "+string(inv.StateAt(now)))
			return steward.Errorf(steward.ECONFLICT, "This consent link is %s. Nothing was assigned.", inv.StateAt(now))
		}
		inv.State, inv.ConnectedAt = steward.InvitationConnected, now
		ev := steward.NewAuditEvent(actx, "invitation.use", invitationTarget(inv)).WithTenant(tenantID).
			With("invitation_id", strconv.FormatInt(inv.ID, 10)).With("consenting_user", c.tok.UserName).
			With("subscriptions", strings.Join(subscriptionIDs, ",")).With("invited_by", inv.CreatedBy)
		if err := s.store.InvitationUpdate(ctx, inv, []steward.InvitationState{steward.InvitationConsented}, ev); err != nil {
			if steward.ErrorCode(err) == steward.ECONFLICT {
				s.refuse(ctx, inv, req, "complete", "the invitation was used or revoked meanwhile")
				return steward.Errorf(steward.ECONFLICT, "This consent link was used or revoked meanwhile. Nothing was assigned.")
			}
			return err
		}
		return nil
	}
	name := inv.CustomerName
	return s.complete(actx, c, name, subscriptionIDs, claim)
}
