package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Tenants: connecting them, their credentials, write access, validation,
// revocation, Partner Admin Link and security reviews.

type apiTenant struct {
	ID              string                    `json:"id"`
	Name            string                    `json:"name"`
	Connection      string                    `json:"connection"`
	WriteEnabled    bool                      `json:"writeEnabled"`
	Status          string                    `json:"status"`
	StatusDetail    string                    `json:"statusDetail,omitempty"`
	SyncMethod      string                    `json:"syncMethod"`
	PartnerID       string                    `json:"partnerId,omitempty"`
	LastValidatedAt *time.Time                `json:"lastValidatedAt,omitempty"`
	Validation      *steward.ValidationReport `json:"validation,omitempty"`
	CreatedAt       time.Time                 `json:"createdAt"`
	RevokedAt       *time.Time                `json:"revokedAt,omitempty"`
}

// apiCredential never carries the secret: only what identifies it and when
// it expires.
type apiCredential struct {
	ID            int64      `json:"id"`
	Purpose       string     `json:"purpose"`
	ClientID      string     `json:"clientId"`
	Kind          string     `json:"kind"`
	Status        string     `json:"status"`
	ExpiresAt     *time.Time `json:"expiresAt,omitempty"`
	ExpiresInDays *int       `json:"expiresInDays,omitempty"`
	ExpirySource  string     `json:"expirySource,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedBy     string     `json:"createdBy"`
	RetiredAt     *time.Time `json:"retiredAt,omitempty"`
}

func toAPITenant(t *steward.Tenant) apiTenant {
	out := apiTenant{ID: t.ID, Name: t.Name, Connection: string(t.Connection), WriteEnabled: t.WriteEnabled, Status: string(t.Status),
		StatusDetail: t.StatusDetail, SyncMethod: string(t.SyncMethod), PartnerID: t.PALPartnerID, LastValidatedAt: optTime(t.LastValidatedAt),
		CreatedAt: t.CreatedAt.UTC(), RevokedAt: optTime(t.RevokedAt)}
	if t.Validation != "" {
		var v steward.ValidationReport
		if json.Unmarshal([]byte(t.Validation), &v) == nil {
			out.Validation = &v
		}
	}
	return out
}

func toAPICredential(c *steward.Credential, now time.Time) apiCredential {
	out := apiCredential{ID: c.ID, Purpose: string(c.Purpose), ClientID: c.ClientID, Kind: string(c.Kind), Status: string(c.Status),
		ExpiresAt: optTime(c.ExpiresAt), ExpirySource: c.ExpirySource, CreatedAt: c.CreatedAt.UTC(), CreatedBy: c.CreatedBy, RetiredAt: optTime(c.RetiredAt)}
	if !c.ExpiresAt.IsZero() {
		d := int(c.ExpiresAt.Sub(now).Hours() / 24)
		out.ExpiresInDays = &d
	}
	return out
}

// visibleTenant returns a tenant the caller may see, or ENOTFOUND. The
// path's tenant ID is a GUID: checkInput refuses any other.
func (s *Server) visibleTenant(r *http.Request) (*steward.Tenant, error) {
	return s.deps.Access.Tenant(r.Context(), strings.ToLower(r.PathValue("tenantId")))
}

func (s *Server) apiListTenants(w http.ResponseWriter, r *http.Request) error {
	f, err := tenantFilter(r, 1000)
	if err != nil {
		return err
	}
	ts, next, err := s.tenantPage(r, f)
	if err != nil {
		return err
	}
	out := listResponse[apiTenant]{Items: []apiTenant{}, Next: next}
	for _, t := range ts {
		out.Items = append(out.Items, toAPITenant(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tenantFilter reads q (part of a name or tenant ID), state (a status, or
// the sync health of any of its subscriptions), limit (at most, and by
// default, max) and cursor, as subscriptionFilter does.
func tenantFilter(r *http.Request, max int) (steward.TenantFilter, error) {
	q := r.URL.Query()
	f, err := steward.ParseTenantState(q.Get("state"))
	if err != nil {
		return f, err
	}
	f.Search = strings.TrimSpace(q.Get("q"))
	f.Limit, f.Offset, err = pageParams(r, max)
	return f, err
}

// tenantPage lists one page, and the cursor of the next ("" at the end).
func (s *Server) tenantPage(r *http.Request, f steward.TenantFilter) ([]*steward.Tenant, string, error) {
	limit := f.Limit
	f.Limit++ // one more says whether a next page exists
	ts, err := s.deps.Access.FindTenants(r.Context(), f)
	if err != nil {
		return nil, "", err
	}
	return ts[:min(len(ts), limit)], nextCursor(len(ts), limit, f.Offset), nil
}

func (s *Server) apiGetTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITenant(t))
	return nil
}

// credentialBody is a credential in a request; the secret comes in and is
// never sent back.
type credentialBody struct {
	ClientID     string         `json:"clientId"`
	ClientSecret steward.Secret `json:"clientSecret"`
	Certificate  steward.Secret `json:"certificate"` // PEM certificate and private key
	ExpiresAt    string         `json:"expiresAt"`   // date or RFC 3339; optional when Steward may read it from Entra
}

func (c credentialBody) input(what string) (steward.CredentialInput, error) {
	in := steward.CredentialInput{ClientID: c.ClientID, Secret: c.ClientSecret, Certificate: c.Certificate}
	if c.ExpiresAt != "" {
		t, err := parseTimeParam(c.ExpiresAt, what+".expiresAt")
		if err != nil {
			return in, err
		}
		in.ExpiresAt = t
	}
	return in, nil
}

type tenantCreate struct {
	TenantID string          `json:"tenantId"`
	Name     string          `json:"name"`
	Read     credentialBody  `json:"read"`
	Write    *credentialBody `json:"write"`
}

func (in tenantCreate) input() (steward.ServicePrincipalInput, error) {
	out := steward.ServicePrincipalInput{TenantID: in.TenantID, Name: in.Name}
	var err error
	if out.Read, err = in.Read.input("read"); err != nil {
		return out, err
	}
	if in.Write != nil {
		w, err := in.Write.input("write")
		if err != nil {
			return out, err
		}
		out.Write = &w
	}
	return out, nil
}

func (s *Server) apiCreateTenant(w http.ResponseWriter, r *http.Request) error {
	var in tenantCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	spi, err := in.input()
	if err != nil {
		return err
	}
	t, _, err := s.deps.Access.ConnectServicePrincipal(r.Context(), spi)
	if err != nil {
		return err
	}
	s.writeCreatedTenant(w, r, t)
	return nil
}

func (s *Server) apiValidateTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	rep, err := s.deps.Access.Validate(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type writeAccessInput struct {
	Enabled *bool `json:"enabled"`
}

func (s *Server) apiSetWriteAccess(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	var in writeAccessInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return steward.Errorf(steward.EINVALID, `Give {"enabled": true} or {"enabled": false}.`)
	}
	t, err = s.deps.Access.SetWriteAccess(r.Context(), t.ID, *in.Enabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITenant(t))
	return nil
}

func (s *Server) apiSyncTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	if !steward.ActorFromContext(r.Context()).Can(steward.PermTenantsManage, t.ID) {
		return steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow starting syncs in this tenant.")
	}
	runs, err := s.deps.InventoryService.SyncTenant(r.Context(), t.ID, "manual")
	if err != nil {
		return err
	}
	out := listResponse[apiSyncRun]{Items: []apiSyncRun{}}
	for _, run := range runs {
		out.Items = append(out.Items, toAPISyncRun(run, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiListCredentials(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	creds, err := s.deps.Access.Credentials(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := listResponse[apiCredential]{Items: []apiCredential{}}
	for _, c := range creds {
		out.Items = append(out.Items, toAPICredential(c, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type rotateInput struct {
	Replacement *credentialBody `json:"replacement"` // nil: Steward adds a secret through Graph
}

func (s *Server) apiRotateCredential(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in rotateInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	var rep *steward.CredentialInput
	if in.Replacement != nil {
		c, err := in.Replacement.input("replacement")
		if err != nil {
			return err
		}
		rep = &c
	}
	c, err := s.deps.Access.RotateCredential(r.Context(), id, rep)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPICredential(c, s.cfg.Now()))
	return nil
}

type revokeInput struct {
	Method string `json:"method"` // write-off, remove-roles, delete-identity
}

func (s *Server) apiRevoke(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	var in revokeInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	proof, err := s.deps.Access.Revoke(r.Context(), t.ID, steward.RevocationMethod(in.Method))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, proof)
	return nil
}

func (s *Server) apiRevocationCommands(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	cmds, err := s.deps.Access.RevocationCommands(r.Context(), t.ID, steward.RevocationMethod(r.URL.Query().Get("method")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listResponse[string]{Items: nonNil(cmds)})
	return nil
}

type partnerInput struct {
	PartnerID string `json:"partnerId"` // "" removes the link
}

func (s *Server) apiSetPartner(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	var in partnerInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err = s.deps.Access.SetPartnerID(r.Context(), t.ID, in.PartnerID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITenant(t))
	return nil
}

type leastPrivilege struct {
	CustomRole   json.RawMessage `json:"customRole,omitempty"`
	BuiltInRoles []string        `json:"builtInRoles,omitempty"`
}

func (s *Server) apiLeastPrivilege(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleTenant(r)
	if err != nil {
		return err
	}
	role, builtIn, err := s.deps.Access.LeastPrivilegeRole(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, leastPrivilege{CustomRole: role, BuiltInRoles: builtIn})
	return nil
}

// reviewPeriod reads from/to, defaulting to the last month.
func reviewPeriod(r *http.Request) (time.Time, time.Time, error) {
	from, err := parseTimeParam(r.URL.Query().Get("from"), "from")
	if err != nil {
		return from, time.Time{}, err
	}
	to, err := parseTimeParam(r.URL.Query().Get("to"), "to")
	return from, to, err
}

func (s *Server) apiReview(w http.ResponseWriter, r *http.Request) error {
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
	if r.URL.Query().Get("format") == "csv" {
		return writeReviewCSV(w, rep, s.cfg.Now())
	}
	writeJSON(w, http.StatusOK, toAPIReview(rep, s.cfg.Now()))
	return nil
}

type apiReview struct {
	Tenant          apiTenant        `json:"tenant"`
	GeneratedAt     time.Time        `json:"generatedAt"`
	From            time.Time        `json:"from"`
	To              time.Time        `json:"to"`
	Credentials     []apiCredential  `json:"credentials"`
	StewardWrites   []apiCallerCount `json:"stewardWrites"`
	AzureWrites     []apiCallerCount `json:"azureWrites"`
	Permission      []string         `json:"permissionChanges"`
	Recommendations []string         `json:"recommendations"`
}

// apiCallerCount is how many writes one caller made.
type apiCallerCount struct {
	Caller string `json:"caller"`
	Writes int    `json:"writes"`
}

func toAPICallerCounts(cs []steward.CallerCount) []apiCallerCount {
	out := make([]apiCallerCount, len(cs))
	for i, c := range cs {
		out[i] = apiCallerCount{Caller: c.Caller, Writes: c.Writes}
	}
	return out
}

func toAPIReview(r *steward.ReviewReport, now time.Time) apiReview {
	out := apiReview{Tenant: toAPITenant(r.Tenant), GeneratedAt: r.GeneratedAt, From: r.From, To: r.To, Credentials: []apiCredential{},
		StewardWrites: toAPICallerCounts(r.StewardWrites), AzureWrites: toAPICallerCounts(r.AzureWrites), Permission: nonNil(r.Permission), Recommendations: nonNil(r.Recommendations)}
	for _, c := range r.Credentials {
		out.Credentials = append(out.Credentials, toAPICredential(c, now))
	}
	return out
}

// writeReviewCSV writes the review as sections of rows, one file a
// spreadsheet opens.
func writeReviewCSV(w http.ResponseWriter, r *steward.ReviewReport, now time.Time) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="steward-review-`+r.Tenant.ID+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"section", "item", "value", "detail"})
	t := r.Tenant
	cw.Write([]string{"tenant", csvSafe(t.Name), t.ID, string(t.Connection)})
	cw.Write([]string{"tenant", "write access", strconv.FormatBool(t.WriteEnabled), string(t.Status)})
	cw.Write([]string{"tenant", "period", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly)})
	for _, c := range r.Credentials {
		ac := toAPICredential(c, now)
		exp := ""
		if ac.ExpiresAt != nil {
			exp = ac.ExpiresAt.Format(time.DateOnly)
		}
		cw.Write([]string{"credential", string(c.Purpose) + " " + c.ClientID, string(c.Status), "created " + c.CreatedAt.Format(time.DateOnly) + "; expires " + exp})
	}
	if r.Validation != nil {
		for _, v := range r.Validation.Subscriptions {
			cw.Write([]string{"permissions", csvSafe(v.DisplayName) + " (" + string(v.Purpose) + ")", v.Verdict, csvSafe(strings.Join(v.Roles, ", "))})
		}
	}
	for _, c := range r.StewardWrites {
		cw.Write([]string{"writes through Steward", csvSafe(c.Caller), strconv.Itoa(c.Writes), ""})
	}
	for _, c := range r.AzureWrites {
		cw.Write([]string{"writes in Azure", csvSafe(c.Caller), strconv.Itoa(c.Writes), ""})
	}
	for _, p := range r.Permission {
		cw.Write([]string{"permission change", "", "", csvSafe(p)})
	}
	for _, rec := range r.Recommendations {
		cw.Write([]string{"recommendation", "", "", csvSafe(rec)})
	}
	cw.Flush()
	return cw.Error()
}

// lighthouseConnect connects the partner's managing tenant for the
// subscriptions customers delegated to it.
type lighthouseConnect struct {
	TenantID string `json:"tenantId"` // the managing (partner) tenant, where Steward's app is registered
	Name     string `json:"name"`
}

func (s *Server) apiConnectLighthouse(w http.ResponseWriter, r *http.Request) error {
	var in lighthouseConnect
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	t, _, err := s.deps.Access.ConnectLighthouse(r.Context(), in.TenantID, in.Name)
	if err != nil {
		return err
	}
	s.writeCreatedTenant(w, r, t)
	return nil
}

// writeCreatedTenant answers 201 with the tenant as stored now (its first
// validation included), or as connected when it cannot be read back.
func (s *Server) writeCreatedTenant(w http.ResponseWriter, r *http.Request, t *steward.Tenant) {
	if stored, err := s.deps.Access.Tenant(r.Context(), t.ID); err == nil {
		t = stored
	}
	w.Header().Set("Location", "/api/v1/tenants/"+t.ID)
	writeJSON(w, http.StatusCreated, toAPITenant(t))
}
