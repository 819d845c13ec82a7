package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// publicURL is the URL people reach Steward at: the configured one, or the
// one this request came in on (the browser's view, via a trusted proxy's
// X-Forwarded-Proto and Host).
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "https"
	if s.cfg.InsecureHTTP && !(s.viaTrustedProxy(r) && r.Header.Get("X-Forwarded-Proto") == "https") {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (s *Server) consentRedirect(r *http.Request) string {
	return s.publicURL(r) + "/tenants/connect/callback"
}

// allowConsentForm widens the page's form-action to HTTPS origins. The
// consent form posts to Steward, which answers with a redirect to Entra's
// authorize endpoint, and browsers hold the redirects after a form
// submission to form-action too: with 'self' alone, Chromium stops the
// consent at Steward's door. The web server does not know the authority
// host, so any https origin is allowed, on the pages with a consent form
// only.
func allowConsentForm(w http.ResponseWriter) {
	h := w.Header()
	if csp := h.Get("Content-Security-Policy"); csp != "" {
		h.Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' https:", 1))
	}
}

type tenantsPage struct {
	Rows          []tenantRow
	CanConnect    bool
	Search, State string
	States        []stateChoice
	First, Last   int    // the rows shown, counted from 1
	Next          string // the next page's link, or ""
	Links         []apiConsentLink
	Created       *createdLink // a consent link just made, shown this once
	Form          consentLinkInput
}

type tenantRow struct {
	T             *steward.Tenant
	Subscriptions int
	Expiring      *apiCredential // the soonest-expiring active credential
}

// tenantsPerPage keeps the page light with hundreds of customers.
const tenantsPerPage = 100

// tenantStates are the Tenants page's state filters: a status, or the
// health of a subscription's sync.
var tenantStates = append([]stateChoice{{Value: string(steward.TenantActive), Label: "Active"}, {Value: string(steward.TenantRevoked), Label: "Revoked"}},
	healthStates...)

func (s *Server) pageTenants(w http.ResponseWriter, r *http.Request) error {
	return s.renderTenants(w, r, http.StatusOK, "", nil, consentLinkInput{})
}

// renderTenants shows the tenants and, to those who may connect tenants,
// the consent links they may manage; created is a link just made, shown
// this once.
func (s *Server) renderTenants(w http.ResponseWriter, r *http.Request, status int, errMsg string, created *createdLink, form consentLinkInput) error {
	actor := steward.ActorFromContext(r.Context())
	f, err := tenantFilter(r, tenantsPerPage)
	if err != nil {
		return err
	}
	ts, next, err := s.tenantPage(r, f)
	if err != nil {
		return err
	}
	state := r.URL.Query().Get("state")
	var rows []tenantRow
	for _, t := range ts {
		row := tenantRow{T: t}
		subs, err := s.deps.InventoryService.Subscriptions(r.Context(), steward.SubscriptionFilter{TenantID: t.ID})
		if err != nil {
			return err
		}
		row.Subscriptions = len(subs)
		creds, err := s.deps.Access.Credentials(r.Context(), t.ID)
		if err != nil {
			return err
		}
		for _, c := range creds {
			if c.Status == steward.CredentialActive && !c.ExpiresAt.IsZero() && (row.Expiring == nil || c.ExpiresAt.Before(*row.Expiring.ExpiresAt)) {
				ac := toAPICredential(c, s.cfg.Now())
				row.Expiring = &ac
			}
		}
		rows = append(rows, row)
	}
	d := tenantsPage{Rows: rows, CanConnect: actor.CanSome(steward.PermTenantsManage), Search: f.Search, State: state,
		States: stateChoices(state, tenantStates), First: f.Offset + 1, Last: f.Offset + len(rows), Created: created, Form: form}
	if next != "" {
		d.Next = "/tenants?" + url.Values{"q": {f.Search}, "state": {state}, "cursor": {next}}.Encode()
	}
	if d.CanConnect {
		invs, err := s.deps.Access.Invitations(r.Context())
		if err != nil {
			return err
		}
		for _, i := range invs {
			d.Links = append(d.Links, toAPIConsentLink(i, s.cfg.Now()))
		}
	}
	s.render(w, r, status, "tenants", view{Title: "Tenants", Nav: "tenants", Flash: flash(r), Error: errMsg, Data: d})
	return nil
}

type connectPage struct {
	TenantHint string
	SP         tenantForm
	Lighthouse lighthouseConnect
	Session    *steward.ConsentSession
	Redirect   string
}

// tenantForm is the service-principal form as typed (secrets are never
// echoed back).
type tenantForm struct {
	TenantID, Name, ReadClient, ReadExpires, WriteClient, WriteExpires string
	Separate                                                           bool
}

func (s *Server) pageConnect(w http.ResponseWriter, r *http.Request) error {
	allowConsentForm(w)
	s.render(w, r, http.StatusOK, "connect", view{Title: "Connect a tenant", Nav: "tenants", Data: connectPage{Redirect: s.consentRedirect(r)}})
	return nil
}

func (s *Server) connectFailed(w http.ResponseWriter, r *http.Request, d connectPage, err error) error {
	if steward.ErrorCode(err) == steward.EINTERNAL {
		return err
	}
	s.logError(r, err)
	d.Redirect = s.consentRedirect(r)
	allowConsentForm(w)
	s.render(w, r, errorStatus(err), "connect", view{Title: "Connect a tenant", Nav: "tenants", Error: steward.ErrorMessage(err), Data: d})
	return nil
}

// pageConsentStart sends the admin to Entra's consent page.
func (s *Server) pageConsentStart(w http.ResponseWriter, r *http.Request) error {
	purpose := r.PostFormValue("purpose")
	if purpose == "" {
		purpose = "connect"
	}
	u, err := s.deps.Access.ConsentStart(r.Context(), r.PostFormValue("tenant"), purpose, s.consentRedirect(r))
	if err != nil {
		return s.connectFailed(w, r, connectPage{TenantHint: r.PostFormValue("tenant")}, err)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}

// pageConsentCallback is where Entra sends the admin back.
func (s *Server) pageConsentCallback(w http.ResponseWriter, r *http.Request) error {
	if s.consentAnswerIsInvitation(r) {
		return s.pageInviteCallback(w, r)
	}
	q := r.URL.Query()
	sess, err := s.deps.Access.ConsentCallback(r.Context(), q.Get("state"), q.Get("code"), q.Get("error"), q.Get("error_description"))
	if err != nil {
		return s.connectFailed(w, r, connectPage{}, err)
	}
	return s.renderConsent(w, r, http.StatusOK, "", sess)
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, status int, errMsg string, sess *steward.ConsentSession) error {
	var existing string
	if t, err := s.deps.Access.Tenant(r.Context(), sess.TenantID); err == nil {
		existing = t.Name
	}
	s.render(w, r, status, "consent", view{Title: "Choose subscriptions", Nav: "tenants", Error: errMsg, Data: struct {
		S        *steward.ConsentSession
		Existing string
		Roles    string
	}{sess, existing, "Tag Contributor and Cost Management Reader"}})
	return nil
}

func (s *Server) pageConsentComplete(w http.ResponseWriter, r *http.Request) error {
	r.ParseForm()
	id := r.PostFormValue("session")
	t, results, err := s.deps.Access.ConsentComplete(r.Context(), id, r.PostFormValue("name"), r.Form["subscription"])
	if err != nil {
		if sess, serr := s.deps.Access.ConsentSession(r.Context(), id); serr == nil && steward.ErrorCode(err) != steward.EINTERNAL {
			return s.renderConsent(w, r, errorStatus(err), steward.ErrorMessage(err), sess)
		}
		return s.connectFailed(w, r, connectPage{}, err)
	}
	failed := 0
	for _, res := range results {
		if res.Error != "" {
			failed++
		}
	}
	done := "connected"
	if failed > 0 {
		done = "connected-partly"
	}
	if t == nil {
		return redirect(w, r, "/tenants")
	}
	return redirect(w, r, "/tenants/"+t.ID+"?done="+done)
}

func (s *Server) pageConnectSP(w http.ResponseWriter, r *http.Request) error {
	f := tenantForm{TenantID: r.PostFormValue("tenantId"), Name: r.PostFormValue("name"), ReadClient: r.PostFormValue("readClient"),
		ReadExpires: r.PostFormValue("readExpires"), WriteClient: r.PostFormValue("writeClient"), WriteExpires: r.PostFormValue("writeExpires"),
		Separate: r.PostFormValue("separate") == "on"}
	in := tenantCreate{TenantID: f.TenantID, Name: f.Name,
		Read: credentialBody{ClientID: f.ReadClient, ClientSecret: steward.Secret(r.PostFormValue("readSecret")), ExpiresAt: f.ReadExpires}}
	if f.Separate {
		in.Write = &credentialBody{ClientID: f.WriteClient, ClientSecret: steward.Secret(r.PostFormValue("writeSecret")), ExpiresAt: f.WriteExpires}
	}
	spi, err := in.input()
	if err == nil {
		var t *steward.Tenant
		if t, _, err = s.deps.Access.ConnectServicePrincipal(r.Context(), spi); err == nil {
			return redirect(w, r, "/tenants/"+t.ID+"?done=connected")
		}
	}
	return s.connectFailed(w, r, connectPage{SP: f}, err)
}

type tenantPage struct {
	T           apiTenant
	Credentials []apiCredential
	Subs        []subscriptionRow
	CanManage   bool
	CanAudit    bool
	Role        string   // least-privilege custom role JSON
	BuiltIn     []string // or built-in roles, for Lighthouse
	Commands    map[string][]string
	Proof       *steward.RevocationProof
}

func (s *Server) pageTenant(w http.ResponseWriter, r *http.Request) error {
	return s.renderTenant(w, r, http.StatusOK, "", nil)
}

func (s *Server) renderTenant(w http.ResponseWriter, r *http.Request, status int, errMsg string, proof *steward.RevocationProof) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	actor := steward.ActorFromContext(r.Context())
	d := tenantPage{T: toAPITenant(t), CanManage: actor.Can(steward.PermTenantsManage, t.ID), CanAudit: actor.Can(steward.PermAuditRead, t.ID), Proof: proof, Commands: map[string][]string{}}
	creds, err := s.deps.Access.Credentials(r.Context(), t.ID)
	if err != nil {
		return err
	}
	for _, c := range creds {
		d.Credentials = append(d.Credentials, toAPICredential(c, s.cfg.Now()))
	}
	subs, err := s.deps.InventoryService.Subscriptions(r.Context(), steward.SubscriptionFilter{TenantID: t.ID})
	if err != nil {
		return err
	}
	if d.Subs, _, err = s.subscriptionRows(r, subs); err != nil {
		return err
	}
	if role, builtIn, err := s.deps.Access.LeastPrivilegeRole(r.Context(), t.ID); err == nil {
		d.Role, d.BuiltIn = string(role), builtIn
	}
	if d.CanManage && t.Status == steward.TenantActive {
		for _, m := range []steward.RevocationMethod{steward.RevokeRoles, steward.RevokeIdentity} {
			if cmds, err := s.deps.Access.RevocationCommands(r.Context(), t.ID, m); err == nil {
				d.Commands[string(m)] = cmds
			}
		}
	}
	if d.CanManage && t.Connection == steward.ConnectConsent {
		allowConsentForm(w) // the fresh consent that removes Steward's roles
	}
	s.render(w, r, status, "tenant", view{Title: t.Name, Nav: "tenants", Flash: flash(r), Error: errMsg, Data: d})
	return nil
}

// tenantAction runs a tenant form action and shows the tenant page again
// with its outcome.
func (s *Server) tenantAction(w http.ResponseWriter, r *http.Request, done string, act func(t *steward.Tenant) error) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	if err := act(t); err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		s.logError(r, err)
		return s.renderTenant(w, r, errorStatus(err), steward.ErrorMessage(err), nil)
	}
	return redirect(w, r, "/tenants/"+t.ID+"?done="+done)
}

func (s *Server) pageWriteAccess(w http.ResponseWriter, r *http.Request) error {
	on := r.PostFormValue("enabled") == "true"
	done := map[bool]string{true: "write-on", false: "write-off"}[on]
	return s.tenantAction(w, r, done, func(t *steward.Tenant) error {
		if on && r.PostFormValue("confirm") != "yes" {
			return steward.Errorf(steward.EINVALID, "Tick the box to confirm that Steward may write tags in %s.", t.Name)
		}
		_, err := s.deps.Access.SetWriteAccess(r.Context(), t.ID, on)
		return err
	})
}

func (s *Server) pageValidate(w http.ResponseWriter, r *http.Request) error {
	return s.tenantAction(w, r, "validated", func(t *steward.Tenant) error {
		_, err := s.deps.Access.Validate(r.Context(), t.ID)
		return err
	})
}

func (s *Server) pageSyncTenant(w http.ResponseWriter, r *http.Request) error {
	return s.tenantAction(w, r, "sync", func(t *steward.Tenant) error {
		if !steward.ActorFromContext(r.Context()).Can(steward.PermTenantsManage, t.ID) {
			return steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow starting syncs in this tenant.")
		}
		_, err := s.deps.InventoryService.SyncTenant(r.Context(), t.ID, "manual")
		return err
	})
}

func (s *Server) pagePartner(w http.ResponseWriter, r *http.Request) error {
	return s.tenantAction(w, r, "partner", func(t *steward.Tenant) error {
		_, err := s.deps.Access.SetPartnerID(r.Context(), t.ID, r.PostFormValue("partnerId"))
		return err
	})
}

func (s *Server) pageRotate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.deps.Access.Credential(r.Context(), id)
	if err != nil {
		return err
	}
	r.SetPathValue("tenantId", c.TenantID)
	return s.tenantAction(w, r, "rotated", func(t *steward.Tenant) error {
		var rep *steward.CredentialInput
		if secret := r.PostFormValue("secret"); secret != "" {
			in := credentialBody{ClientID: c.ClientID, ClientSecret: steward.Secret(secret), ExpiresAt: r.PostFormValue("expires")}
			ci, err := in.input("new secret")
			if err != nil {
				return err
			}
			rep = &ci
		}
		_, err := s.deps.Access.RotateCredential(r.Context(), c.ID, rep)
		return err
	})
}

// pageRevoke asks first, then revokes and shows the proof.
func (s *Server) pageRevoke(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	method := steward.RevocationMethod(r.PostFormValue("method"))
	if r.PostFormValue("confirm") != "yes" {
		s.render(w, r, http.StatusOK, "revoke_confirm", view{Title: "Revoke access to " + t.Name, Nav: "tenants", Data: struct {
			T      *steward.Tenant
			Method string
		}{t, string(method)}})
		return nil
	}
	proof, err := s.deps.Access.Revoke(r.Context(), t.ID, method)
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderTenant(w, r, errorStatus(err), steward.ErrorMessage(err), nil)
	}
	return s.renderTenant(w, r, http.StatusOK, "", proof)
}

func (s *Server) pageReview(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	from, to, err := reviewPeriod(r)
	if err != nil {
		return err
	}
	rep, err := s.deps.Access.Review(r.Context(), t.ID, from, to)
	if err != nil {
		return err
	}
	q := url.Values{"format": {"csv"}, "from": {rep.From.Format(time.DateOnly)}, "to": {rep.To.Format(time.DateOnly)}}
	s.render(w, r, http.StatusOK, "review", view{Title: "Security review of " + t.Name, Nav: "tenants", Data: struct {
		R      apiReview
		CSVURL string
	}{toAPIReview(rep, s.cfg.Now()), "/api/v1/tenants/" + t.ID + "/review?" + q.Encode()}})
	return nil
}

// pageDashboardData gathers what the dashboard shows.
func (s *Server) dashboardData(r *http.Request) (any, error) {
	actor := steward.ActorFromContext(r.Context())
	d := struct {
		Tenants, Subscriptions, Resources int
		Expiring                          []string
		Conflicts                         int
		Failed                            []subscriptionRow
		Running                           []subscriptionRow
		CanConnect                        bool
	}{CanConnect: actor.CanSome(steward.PermTenantsManage)}
	if !actor.CanSome(steward.PermInventoryRead) {
		return d, nil
	}
	ts, err := s.deps.Access.Tenants(r.Context())
	if err != nil {
		return nil, err
	}
	d.Tenants = len(ts)
	now := s.cfg.Now()
	for _, t := range ts {
		creds, err := s.deps.Access.Credentials(r.Context(), t.ID)
		if err != nil {
			return nil, err
		}
		for _, c := range creds {
			if c.Status == steward.CredentialActive && !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(now.Add(30*24*time.Hour)) {
				d.Expiring = append(d.Expiring, t.Name+": the "+string(c.Purpose)+" secret expires on "+c.ExpiresAt.Format(time.DateOnly)+" ("+strconv.Itoa(int(c.ExpiresAt.Sub(now).Hours()/24))+" days)")
			}
		}
	}
	subs, err := s.deps.InventoryService.Subscriptions(r.Context(), steward.SubscriptionFilter{})
	if err != nil {
		return nil, err
	}
	d.Subscriptions = len(subs)
	rows, _, err := s.subscriptionRows(r, subs)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row.Run != nil && row.Run.Status == string(steward.SyncFailed) {
			d.Failed = append(d.Failed, row)
		}
		if row.Run != nil && (row.Run.Status == string(steward.SyncRunning) || row.Run.Status == string(steward.SyncQueued)) {
			d.Running = append(d.Running, row)
		}
	}
	if d.Resources, err = s.deps.InventoryService.CountResources(r.Context(), steward.ResourceFilter{}); err != nil {
		return nil, err
	}
	conflicts, _, err := s.deps.InventoryService.TagEditItems(r.Context(), 0, steward.EditConflict, 0, 1000)
	if err != nil {
		return nil, err
	}
	d.Conflicts = len(conflicts)
	return d, nil
}

func (s *Server) pageConnectLighthouse(w http.ResponseWriter, r *http.Request) error {
	in := lighthouseConnect{TenantID: r.PostFormValue("tenantId"), Name: r.PostFormValue("name")}
	t, _, err := s.deps.Access.ConnectLighthouse(r.Context(), in.TenantID, in.Name)
	if err != nil {
		return s.connectFailed(w, r, connectPage{Lighthouse: in}, err)
	}
	return redirect(w, r, "/tenants/"+t.ID+"?done=connected")
}
