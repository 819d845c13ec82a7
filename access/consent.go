package access

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// A consent goes through two in-memory stages: pending (the admin is at
// Entra's consent page, known by the state parameter) and session (the admin
// came back; Steward holds their delegated token to assign roles). Neither
// is ever written to the database: on several replicas, route a user's
// requests to one replica (sticky sessions) for the minute this takes.

type pendingConsent struct {
	purpose, tenantHint, redirectURI string
	by                               string // the Steward user who started it
	byID                             int64
	expires                          time.Time
	// invitation is set when the holder of a consent link started it;
	// binding is then the hash of the value their browser keeps, which
	// must come back with the answer.
	invitation int64
	binding    string
}

type consentSession struct {
	view       steward.ConsentSession
	tok        *steward.DelegatedToken
	by         int64
	invitation int64  // as in pendingConsent
	binding    string // as in pendingConsent
	expires    time.Time
}

const (
	purposeConnect = "connect"
	purposeRevoke  = "revoke"
)

// sweep drops stale consents; callers hold s.mu.
func (s *Service) sweep(now time.Time) {
	for k, p := range s.pending {
		if now.After(p.expires) {
			delete(s.pending, k)
		}
	}
	for k, c := range s.sessions {
		if now.After(c.expires) {
			c.tok = nil // the token is dropped with its session
			delete(s.sessions, k)
		}
	}
}

// ConsentStart begins admin consent.
func (s *Service) ConsentStart(ctx context.Context, tenantHint, purpose, redirectURI string) (string, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return "", err
	}
	if purpose != purposeConnect && purpose != purposeRevoke {
		return "", steward.Errorf(steward.EINVALID, "Consent is for connect or revoke, not %q.", purpose)
	}
	tenantHint = strings.ToLower(strings.TrimSpace(tenantHint))
	switch {
	case tenantHint == "":
		tenantHint = "organizations"
	case !steward.IsGUID(tenantHint):
		return "", steward.Errorf(steward.EINVALID, "The tenant ID must be a GUID, or left empty to let the admin's sign-in decide.")
	}
	if tenantHint != "organizations" {
		if err := requireManage(ctx, tenantHint); err != nil {
			return "", err
		}
	} else if !a.CanSome(steward.PermTenantsManage) {
		return "", steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow connecting tenants.")
	}
	state := rand.Text()
	u, err := s.azure.ConsentURL(steward.ConsentRequest{TenantID: tenantHint, RedirectURI: redirectURI, State: state})
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	s.sweep(now)
	s.pending[state] = &pendingConsent{purpose: purpose, tenantHint: tenantHint, redirectURI: redirectURI, by: a.Name, byID: a.UserID, expires: now.Add(s.cfg.ConsentTTL)}
	s.mu.Unlock()
	ev := steward.NewAuditEvent(ctx, "tenant.consent_started", tenantHint).With("purpose", purpose)
	if tenantHint != "organizations" {
		ev.WithTenant(tenantHint)
	}
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return "", err
	}
	return u, nil
}

// ConsentCallback handles the admin's return from Entra.
func (s *Service) ConsentCallback(ctx context.Context, state, code, errCode, errDescription string) (*steward.ConsentSession, error) {
	now := s.now()
	s.mu.Lock()
	s.sweep(now)
	p := s.pending[state]
	if p != nil && p.invitation != 0 {
		p = nil // a consent link's answer: InvitationConsentCallback's, not a Steward user's
	} else {
		delete(s.pending, state)
	}
	s.mu.Unlock()
	if p == nil {
		s.auditFailure(ctx, "tenant.consent_failed", "", "unknown or expired consent state")
		return nil, steward.Errorf(steward.EINVALID, "This consent answer is unknown or has expired. Start again from Connect a tenant.")
	}
	if p.byID != actor(ctx).UserID {
		s.auditFailure(ctx, "tenant.consent_failed", p.tenantHint, "answered by another Steward user than the one who started it")
		return nil, steward.Errorf(steward.EFORBIDDEN, "This consent was started by another user.")
	}
	if errCode != "" {
		// Declined or abandoned at Entra: nothing was made, nothing is kept.
		ev := steward.NewAuditEvent(ctx, "tenant.consent_declined", p.tenantHint).WithOutcome(steward.OutcomeFailure).
			With("error", errCode).With("description", truncate(errDescription, 300))
		if err := s.store.AuditAppend(ctx, ev); err != nil {
			return nil, err
		}
		return nil, steward.Errorf(steward.EFORBIDDEN, "The admin did not consent (%s). Nothing was changed in Steward or in Azure.", errCode)
	}
	if code == "" {
		s.auditFailure(ctx, "tenant.consent_failed", p.tenantHint, "no authorization code")
		return nil, steward.Errorf(steward.EINVALID, "The consent answer has no authorization code.")
	}
	tok, err := s.azure.ConsentExchange(ctx, p.tenantHint, code, p.redirectURI)
	if err != nil {
		s.auditFailure(ctx, "tenant.consent_failed", p.tenantHint, steward.ErrorMessage(err))
		return nil, err
	}
	// The admin chose the tenant by signing in, which may not be the one
	// hinted, nor one the Steward user may manage: check the tenant the
	// consent actually affects before the token is used for anything.
	if err := s.consentAllowed(ctx, p.tenantHint, tok.TenantID, p.purpose); err != nil {
		tok = nil
		return nil, err
	}
	return s.openSession(ctx, p, tok)
}

// openSession lists what the consenting user can give Steward and keeps
// their token in memory, for the user (or the consent link's holder) who
// started the consent.
func (s *Service) openSession(ctx context.Context, p *pendingConsent, tok *steward.DelegatedToken) (*steward.ConsentSession, error) {
	now := s.now()
	subs, owned, err := s.azure.DelegatedSubscriptions(ctx, tok)
	if err != nil {
		s.auditFailure(ctx, "tenant.consent_failed", tok.TenantID, steward.ErrorMessage(err))
		return nil, err
	}
	view := steward.ConsentSession{ID: rand.Text(), TenantID: tok.TenantID, UserName: tok.UserName, Purpose: p.purpose}
	for _, a := range subs {
		if a.HomeTenantID != "" && !strings.EqualFold(a.HomeTenantID, tok.TenantID) {
			continue // a subscription delegated to the user's tenant: not theirs to give
		}
		cs := steward.ConsentSubscription{ID: strings.ToLower(a.ID), DisplayName: a.DisplayName, Owner: owned[a.ID] || owned[strings.ToLower(a.ID)]}
		if !cs.Owner {
			cs.Reason = tok.UserName + " is not Owner (nor User Access Administrator) of this subscription, so cannot assign roles there."
		}
		if known, err := s.store.SubscriptionGet(ctx, visible(ctx), cs.ID); err == nil && known.TenantID == tok.TenantID && known.MissingSince.IsZero() {
			cs.Connected = true
		}
		view.Subscriptions = append(view.Subscriptions, cs)
	}
	slices.SortFunc(view.Subscriptions, func(a, b steward.ConsentSubscription) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	expires := earlier(tok.ExpiresAt, now.Add(s.cfg.ConsentTTL))
	if tok.ExpiresAt.IsZero() {
		expires = now.Add(s.cfg.ConsentTTL)
	}
	view.ExpiresAt = expires
	s.mu.Lock()
	s.sessions[view.ID] = &consentSession{view: view, tok: tok, by: p.byID, invitation: p.invitation, binding: p.binding, expires: expires}
	s.mu.Unlock()
	ev := steward.NewAuditEvent(ctx, "tenant.consent_granted", tok.TenantID).WithTenant(tok.TenantID).
		With("consenting_user", tok.UserName).With("purpose", p.purpose).With("subscriptions", fmt.Sprint(len(view.Subscriptions)))
	if p.invitation != 0 {
		ev.With("invitation_id", fmt.Sprint(p.invitation))
	}
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return nil, err
	}
	return &view, nil
}

// consentAllowed checks that the Steward user may manage the tenant the
// admin consented in (and, when they named a tenant to start with, that it
// is that one). A refusal is audited on that tenant and nothing is done
// with the consent: no role is assigned or removed, no tenant recorded.
func (s *Service) consentAllowed(ctx context.Context, hint, tenantID, purpose string) error {
	reason := ""
	switch {
	case hint != "organizations" && !strings.EqualFold(hint, tenantID):
		reason = "the admin consented in another tenant than the one named"
	case !actor(ctx).Can(steward.PermTenantsManage, tenantID):
		reason = "the Steward user may not manage the tenant the admin consented in"
	default:
		return nil
	}
	ev := steward.NewAuditEvent(ctx, "tenant.consent_refused", tenantID).WithTenant(tenantID).WithOutcome(steward.OutcomeDenied).
		With("purpose", purpose).With("reason", reason)
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		return err
	}
	if hint != "organizations" && !strings.EqualFold(hint, tenantID) {
		return steward.Errorf(steward.EFORBIDDEN, "The admin signed in to tenant %s, not %s. Nothing was assigned; start again and sign in to the tenant you named.", tenantID, hint)
	}
	return steward.Errorf(steward.EFORBIDDEN, "The admin consented in tenant %s, which your roles do not allow you to manage. Nothing was assigned or changed.", tenantID)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ConsentSession returns a consent in progress of the calling user.
func (s *Service) ConsentSession(ctx context.Context, id string) (*steward.ConsentSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.now())
	c := s.sessions[id]
	if c == nil || c.invitation != 0 || c.by != actor(ctx).UserID {
		return nil, steward.Errorf(steward.ENOTFOUND, "This consent has expired (it lasts at most an hour). Start again.")
	}
	v := c.view
	return &v, nil
}

// take removes a session and hands over its token: whatever happens next,
// the token is gone from memory when the caller returns.
func (s *Service) take(ctx context.Context, id string) (*consentSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.now())
	c := s.sessions[id]
	if c == nil || c.invitation != 0 || c.by != actor(ctx).UserID {
		return nil, steward.Errorf(steward.ENOTFOUND, "This consent has expired (it lasts at most an hour). Start again.")
	}
	delete(s.sessions, id)
	return c, nil
}

// ConsentComplete assigns (or removes) Steward's roles on the chosen
// subscriptions as the consenting user, then drops the token.
func (s *Service) ConsentComplete(ctx context.Context, sessionID, tenantName string, subscriptionIDs []string) (*steward.Tenant, []steward.ConsentResult, error) {
	c, err := s.take(ctx, sessionID)
	if err != nil {
		return nil, nil, err
	}
	defer func() { c.tok = nil }()
	return s.complete(ctx, c, tenantName, subscriptionIDs, nil)
}

// complete does what the consenting user chose. claim, when given, runs
// once the choice is known to be good and before anything is assigned or
// recorded: a consent link uses itself up there, and an error stops it all.
func (s *Service) complete(ctx context.Context, c *consentSession, tenantName string, subscriptionIDs []string, claim func() error) (*steward.Tenant, []steward.ConsentResult, error) {
	// Grants may have changed since the callback: check again, before the
	// token assigns or removes anything.
	if err := s.consentAllowed(ctx, c.view.TenantID, c.view.TenantID, c.view.Purpose); err != nil {
		return nil, nil, err
	}
	if len(subscriptionIDs) == 0 {
		return nil, nil, steward.Errorf(steward.EINVALID, "Choose at least one subscription.")
	}
	byID := map[string]steward.ConsentSubscription{}
	for _, cs := range c.view.Subscriptions {
		byID[cs.ID] = cs
	}
	for _, id := range subscriptionIDs {
		cs, ok := byID[strings.ToLower(id)]
		if !ok {
			return nil, nil, steward.Errorf(steward.EINVALID, "Subscription %s is not one the consenting user can see.", id)
		}
		if !cs.Owner {
			return nil, nil, steward.Errorf(steward.EFORBIDDEN, "%s: %s", cs.DisplayName, cs.Reason)
		}
	}
	tenantID := c.view.TenantID
	sp, err := s.azure.PrincipalID(ctx, s.azure.AppIdentity(tenantID))
	if err != nil {
		return nil, nil, steward.WrapError(steward.ErrorCode(err), err, "Steward's app has no service principal in tenant %s yet: the admin must consent first (%s).", tenantID, steward.ErrorMessage(err))
	}
	consenter := "azure:" + c.tok.UserName
	if c.view.Purpose == purposeRevoke {
		results := s.removeRoles(ctx, c, sp, subscriptionIDs, consenter)
		t, _ := s.store.TenantGet(ctx, visible(ctx), tenantID)
		return t, results, nil
	}

	if claim != nil {
		if err := claim(); err != nil {
			return nil, nil, err
		}
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), tenantID)
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		name := strings.TrimSpace(tenantName)
		if name == "" {
			name = "Tenant " + tenantID[:8]
		}
		t = &steward.Tenant{ID: tenantID, Name: name, Connection: steward.ConnectConsent, WriteEnabled: true, Status: steward.TenantActive, SyncMethod: steward.SyncAuto}
		ev := steward.NewAuditEvent(ctx, "tenant.connect", name).WithTenant(tenantID).With("connection", string(steward.ConnectConsent)).
			With("consenting_user", c.tok.UserName).With("write_access", "on")
		if err := s.store.TenantCreate(ctx, t, nil, ev); err != nil {
			return nil, nil, err
		}
		s.alert(ctx, steward.Alert{Kind: "write_access_enabled", TenantID: tenantID, Subject: "Steward may now write tags in " + name,
			Text: "Tenant " + name + " was connected by consent of " + c.tok.UserName + "; write access is on."})
	} else if err != nil {
		return nil, nil, err
	} else if t.Status != steward.TenantActive {
		t.Status, t.StatusDetail, t.RevokedAt = steward.TenantActive, "reconnected by consent", time.Time{}
		if err := s.store.TenantUpdate(ctx, t, steward.NewAuditEvent(ctx, "tenant.reconnect", t.Name).WithTenant(t.ID)); err != nil {
			return nil, nil, err
		}
	}
	var results []steward.ConsentResult
	for _, id := range subscriptionIDs {
		scope := "/subscriptions/" + strings.ToLower(id)
		res := steward.ConsentResult{SubscriptionID: strings.ToLower(id)}
		for _, role := range s.cfg.ConsentRoles {
			name := roleName(role)
			ra, err := s.azure.DelegatedAssignRole(ctx, c.tok, scope, role, sp)
			ev := &steward.AuditEvent{Actor: consenter, Action: "role_assignment.create", Target: scope, TenantID: tenantID, Outcome: steward.OutcomeSuccess,
				SourceIP: actor(ctx).SourceIP, RequestID: steward.RequestIDFromContext(ctx)}
			ev.With("role", name).With("principal", sp).With("on_behalf_of_steward_user", actor(ctx).Name)
			if err != nil {
				ev.WithOutcome(steward.OutcomeFailure).With("reason", steward.ErrorMessage(err))
				res.Error = name + ": " + steward.ErrorMessage(err)
			} else {
				ev.With("assignment", ra.ID)
				res.Roles = append(res.Roles, name)
			}
			if err := s.store.AuditAppend(ctx, ev); err != nil {
				return t, results, err
			}
		}
		if len(res.Roles) > 0 {
			s.alert(ctx, steward.Alert{Kind: "role_assignment_added", TenantID: tenantID, Subject: "Steward was given roles on a subscription",
				Text: fmt.Sprintf("%s assigned %s to Steward on %s.", c.tok.UserName, strings.Join(res.Roles, " and "), scope)})
		}
		results = append(results, res)
	}
	if _, err := s.inv.SyncTenant(ctx, tenantID, "connected"); err != nil {
		s.log.WarnContext(ctx, "first sync after consent not started", "tenant_id", tenantID, "error", err)
	}
	return t, results, nil
}

// removeRoles deletes Steward's role assignments on the subscriptions as
// the consenting user (revocation through a fresh consent).
func (s *Service) removeRoles(ctx context.Context, c *consentSession, sp string, subscriptionIDs []string, consenter string) []steward.ConsentResult {
	tenantID := c.view.TenantID
	var results []steward.ConsentResult
	for _, id := range subscriptionIDs {
		scope := "/subscriptions/" + strings.ToLower(id)
		res := steward.ConsentResult{SubscriptionID: strings.ToLower(id)}
		assignments, err := s.azure.RoleAssignments(ctx, s.azure.AppIdentity(tenantID), scope, sp)
		if err != nil {
			res.Error = steward.ErrorMessage(err)
			results = append(results, res)
			continue
		}
		for _, ra := range assignments {
			if !strings.EqualFold(ra.PrincipalID, sp) {
				continue
			}
			err := s.azure.DelegatedRemoveRole(ctx, c.tok, ra.ID)
			ev := &steward.AuditEvent{Actor: consenter, Action: "role_assignment.delete", Target: ra.Scope, TenantID: tenantID, Outcome: steward.OutcomeSuccess,
				SourceIP: actor(ctx).SourceIP, RequestID: steward.RequestIDFromContext(ctx)}
			ev.With("role", roleName(ra.RoleDefinitionID)).With("principal", sp).With("on_behalf_of_steward_user", actor(ctx).Name)
			if err != nil {
				ev.WithOutcome(steward.OutcomeFailure).With("reason", steward.ErrorMessage(err))
				res.Error = steward.ErrorMessage(err)
			} else {
				res.Roles = append(res.Roles, roleName(ra.RoleDefinitionID))
			}
			if err := s.store.AuditAppend(ctx, ev); err != nil {
				// Azure has acted; say the record of it is missing rather
				// than report the removal as done.
				res.Error = "The role was removed in Azure, but its audit event could not be written: " + steward.ErrorMessage(err)
			}
		}
		results = append(results, res)
	}
	return results
}

func (s *Service) auditFailure(ctx context.Context, action, target, reason string) {
	ev := steward.NewAuditEvent(ctx, action, target).WithOutcome(steward.OutcomeFailure).With("reason", reason)
	if steward.IsGUID(target) {
		ev.WithTenant(target)
	}
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not written", "action", action, "error", err)
	}
}

// truncate cuts s to at most n bytes and marks the cut with "…". It cuts
// at a character boundary: half a UTF-8 sequence is not text, and an audit
// event quoting it would record U+FFFD instead of what Entra sent.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
