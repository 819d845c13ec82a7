package web

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Consent links (invitations): an operator makes one per customer and
// sends it; the customer's admin opens it with no Steward session,
// consents and picks subscriptions on public pages bound to it. The link's
// token travels in the query string, which the request log leaves out, and
// is never written back anywhere but in the one answer that creates it.

// inviteCookie keeps the value that binds a consent begun through a link
// to the browser that began it.
const inviteCookie = "__Host-steward_invite"

type apiConsentLink struct {
	ID             int64      `json:"id"`
	CustomerName   string     `json:"customerName,omitempty"`
	ExpectedTenant string     `json:"expectedTenant,omitempty"`
	TenantID       string     `json:"tenantId,omitempty"`
	State          string     `json:"state"` // pending, opened, consented, connected, revoked, expired
	ConsentedBy    string     `json:"consentedBy,omitempty"`
	CreatedBy      string     `json:"createdBy"`
	CreatedAt      time.Time  `json:"createdAt"`
	ExpiresAt      time.Time  `json:"expiresAt"`
	OpenedAt       *time.Time `json:"openedAt,omitempty"`
	ConsentedAt    *time.Time `json:"consentedAt,omitempty"`
	ConnectedAt    *time.Time `json:"connectedAt,omitempty"`
	RevokedAt      *time.Time `json:"revokedAt,omitempty"`
}

// apiConsentLinkCreated is the one answer that holds the link.
type apiConsentLinkCreated struct {
	apiConsentLink
	URL string `json:"url"` // shown once: Steward keeps only its token's hash
}

type consentLinkInput struct {
	CustomerName   string `json:"customerName"`
	ExpectedTenant string `json:"expectedTenant"` // a tenant ID or domain; optional
	ExpiresIn      string `json:"expiresIn"`      // days ("14d") or a Go duration; empty: 14 days; at most 90 days
}

func toAPIConsentLink(i *steward.Invitation, now time.Time) apiConsentLink {
	return apiConsentLink{ID: i.ID, CustomerName: i.CustomerName, ExpectedTenant: i.ExpectedTenant, TenantID: i.TenantID,
		State: string(i.StateAt(now)), ConsentedBy: i.ConsentedBy, CreatedBy: i.CreatedBy, CreatedAt: i.CreatedAt.UTC(), ExpiresAt: i.ExpiresAt.UTC(),
		OpenedAt: optTime(i.OpenedAt), ConsentedAt: optTime(i.ConsentedAt), ConnectedAt: optTime(i.ConnectedAt), RevokedAt: optTime(i.RevokedAt)}
}

// parseInviteLifetime reads "14d" or a Go duration; "" is the default.
func parseInviteLifetime(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	bad := steward.Errorf(steward.EINVALID, "Expiry %q is not a lifetime such as 14d or 72h (at most 90d).", v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil || n > 90 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > steward.MaxInvitationLifetime {
		return 0, bad
	}
	return d, nil
}

func (s *Server) inviteURL(r *http.Request, token string) string {
	return s.publicURL(r) + "/invite?" + url.Values{"token": {token}}.Encode()
}

func (s *Server) createInvitation(r *http.Request, in consentLinkInput) (*steward.Invitation, string, error) {
	d, err := parseInviteLifetime(in.ExpiresIn)
	if err != nil {
		return nil, "", err
	}
	inv, token, err := s.deps.Access.InvitationCreate(r.Context(), steward.InvitationInput{CustomerName: in.CustomerName, ExpectedTenant: in.ExpectedTenant, ExpiresIn: d})
	if err != nil {
		return nil, "", err
	}
	return inv, s.inviteURL(r, token), nil
}

func (s *Server) apiCreateConsentLink(w http.ResponseWriter, r *http.Request) error {
	var in consentLinkInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	inv, u, err := s.createInvitation(r, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/consent-links/"+strconv.FormatInt(inv.ID, 10))
	writeJSON(w, http.StatusCreated, apiConsentLinkCreated{apiConsentLink: toAPIConsentLink(inv, s.cfg.Now()), URL: u})
	return nil
}

func (s *Server) apiListConsentLinks(w http.ResponseWriter, r *http.Request) error {
	invs, err := s.deps.Access.Invitations(r.Context())
	if err != nil {
		return err
	}
	out := listResponse[apiConsentLink]{Items: []apiConsentLink{}}
	for _, i := range invs {
		out.Items = append(out.Items, toAPIConsentLink(i, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGetConsentLink(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inv, err := s.deps.Access.Invitation(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIConsentLink(inv, s.cfg.Now()))
	return nil
}

func (s *Server) apiRevokeConsentLink(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inv, err := s.deps.Access.InvitationRevoke(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIConsentLink(inv, s.cfg.Now()))
	return nil
}

// Pages for operators: the "Invite customers" section of Tenants.

func (s *Server) pageInvitationCreate(w http.ResponseWriter, r *http.Request) error {
	in := consentLinkInput{CustomerName: r.PostFormValue("customerName"), ExpectedTenant: r.PostFormValue("expectedTenant"), ExpiresIn: r.PostFormValue("expiresIn")}
	inv, u, err := s.createInvitation(r, in)
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		s.logError(r, err)
		return s.renderTenants(w, r, errorStatus(err), steward.ErrorMessage(err), nil, in)
	}
	// Rendered, not redirected: the link must not travel in a URL.
	return s.renderTenants(w, r, http.StatusOK, "", &createdLink{Link: toAPIConsentLink(inv, s.cfg.Now()), URL: u}, consentLinkInput{})
}

type createdLink struct {
	Link apiConsentLink
	URL  string
}

// pageInvitationRevoke asks first, then revokes.
func (s *Server) pageInvitationRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inv, err := s.deps.Access.Invitation(r.Context(), id)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "yes" {
		s.render(w, r, http.StatusOK, "invitation_revoke", view{Title: "Revoke a consent link", Nav: "tenants", Data: toAPIConsentLink(inv, s.cfg.Now())})
		return nil
	}
	if _, err := s.deps.Access.InvitationRevoke(r.Context(), id); err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderTenants(w, r, errorStatus(err), steward.ErrorMessage(err), nil, consentLinkInput{})
	}
	return redirect(w, r, "/tenants?done=link-revoked")
}

// Public pages, for the customer's admin holding a link.

func (s *Server) inviteRequest(r *http.Request, token string) steward.InvitationRequest {
	req := steward.InvitationRequest{Token: token}
	req.SourceIP, _ = r.Context().Value(clientIPKey{}).(string)
	if c, err := r.Cookie(inviteCookie); err == nil {
		req.Binding = c.Value
	}
	return req
}

// inviteFailed shows a link's refusal on its own page, which names no
// Steward page the holder cannot use.
func (s *Server) inviteFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if steward.ErrorCode(err) == steward.EINTERNAL {
		return err
	}
	s.logError(r, err)
	status := errorStatus(err)
	s.render(w, r, status, "invite", view{Title: "Connect your tenant", Error: steward.ErrorMessage(err), Data: invitePage{Failed: true}})
	return nil
}

type invitePage struct {
	Failed   bool
	Token    string
	Customer string
	Expires  time.Time
	Tenant   string
	Roles    string
	Session  *steward.ConsentSession
	Tenant2  *steward.Tenant
	Results  []steward.ConsentResult
	Redirect string
}

const consentRoles = "Tag Contributor and Cost Management Reader"

// pageInvite is the link's landing page: who invites, what Steward will
// be given, and a button to go on (a GET alone, as a mail scanner sends,
// starts nothing).
func (s *Server) pageInvite(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	inv, err := s.deps.Access.InvitationOpen(r.Context(), s.inviteRequest(r, token))
	if err != nil {
		return s.inviteFailed(w, r, err)
	}
	allowConsentForm(w)
	s.render(w, r, http.StatusOK, "invite", view{Title: "Connect your tenant", Data: invitePage{Token: token, Customer: inv.CustomerName,
		Expires: inv.ExpiresAt, Tenant: inv.ExpectedTenant, Roles: consentRoles, Redirect: s.consentRedirect(r)}})
	return nil
}

// pageInviteConsent binds the browser and sends the admin to consent.
func (s *Server) pageInviteConsent(w http.ResponseWriter, r *http.Request) error {
	req := s.inviteRequest(r, r.PostFormValue("token"))
	if len(req.Binding) < 16 {
		req.Binding = rand.Text()
		http.SetCookie(w, &http.Cookie{Name: inviteCookie, Value: req.Binding, Path: "/", MaxAge: int(time.Hour / time.Second),
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	u, err := s.deps.Access.InvitationConsentStart(r.Context(), req, s.consentRedirect(r))
	if err != nil {
		return s.inviteFailed(w, r, err)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}

// consentAnswerIsInvitation lets the consent answer of a link through
// without a Steward session; every other answer needs the operator who
// began it.
func (s *Server) consentAnswerIsInvitation(r *http.Request) bool {
	return s.deps.Access.InvitationConsent(r.URL.Query().Get("state"))
}

func (s *Server) pageInviteCallback(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sess, err := s.deps.Access.InvitationConsentCallback(r.Context(), s.inviteRequest(r, ""), q.Get("state"), q.Get("code"), q.Get("error"), q.Get("error_description"))
	if err != nil {
		return s.inviteFailed(w, r, err)
	}
	s.render(w, r, http.StatusOK, "invite", view{Title: "Choose subscriptions", Data: invitePage{Session: sess, Roles: consentRoles}})
	return nil
}

func (s *Server) pageInviteComplete(w http.ResponseWriter, r *http.Request) error {
	r.ParseForm()
	t, results, err := s.deps.Access.InvitationConsentComplete(r.Context(), s.inviteRequest(r, ""), r.PostFormValue("session"), r.Form["subscription"])
	if err != nil {
		return s.inviteFailed(w, r, err)
	}
	http.SetCookie(w, &http.Cookie{Name: inviteCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.render(w, r, http.StatusOK, "invite", view{Title: "Tenant connected", Data: invitePage{Tenant2: t, Results: results, Roles: consentRoles}})
	return nil
}
