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

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	actor := steward.ActorFromContext(r.Context())
	u, err := s.deps.Users.UserGet(r.Context(), actor.UserID)
	if err != nil {
		return err
	}
	me := apiMe{apiUser: toAPIUser(u), Permissions: map[string]apiPermScope{}, ViaToken: actor.TokenID != 0}
	for _, p := range []steward.Permission{steward.PermInventoryRead, steward.PermTagsWrite, steward.PermTenantsManage, steward.PermAuditRead, steward.PermUsersManage} {
		if all, tenants := actor.Scope(p); all || len(tenants) > 0 {
			me.Permissions[string(p)] = apiPermScope{AllTenants: all, Tenants: tenants}
		}
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) error {
	var in passwordChange
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.changeOwnPassword(r, in); err != nil {
		return err
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.deps.Users.UserList(r.Context())
	if err != nil {
		return err
	}
	out := listResponse[apiUser]{Items: []apiUser{}}
	for _, u := range users {
		out.Items = append(out.Items, toAPIUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.createUser(r, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+strconv.FormatInt(u.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIUser(u))
	return nil
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.deps.Users.UserGet(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(u))
	return nil
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in userUpdateInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.updateUser(r, id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(u))
	return nil
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.deleteUser(r, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiCreateGrant(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in grantInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	g, err := s.createGrant(r, id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toAPIGrant(*g))
	return nil
}

func (s *Server) apiDeleteGrant(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.deleteGrant(r, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiListTokens(w http.ResponseWriter, r *http.Request) error {
	all, err := boolQuery(r, "all")
	if err != nil {
		return err
	}
	tokens, err := s.listTokens(r, all)
	if err != nil {
		return err
	}
	out := listResponse[apiToken]{Items: []apiToken{}}
	for _, t := range tokens {
		out.Items = append(out.Items, toAPIToken(t, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var in tokenInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	t, token, err := s.createToken(r, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, apiTokenCreated{apiToken: toAPIToken(t, s.cfg.Now()), Token: token})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.revokeToken(r, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, steward.Errorf(steward.EINVALID, "%s must be true or false.", name)
	}
	return b, nil
}

// auditFilter reads the audit filters from the query string and limits them
// to the tenants the caller may audit.
func auditFilter(r *http.Request) (steward.AuditFilter, error) {
	q := r.URL.Query()
	f := steward.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), TenantID: strings.ToLower(q.Get("tenant"))}
	if f.TenantID != "" && !steward.IsGUID(f.TenantID) {
		return f, steward.Errorf(steward.EINVALID, "tenant must be a tenant ID (a GUID).")
	}
	var err error
	if f.From, err = parseTimeParam(q.Get("from"), "from"); err != nil {
		return f, err
	}
	if f.To, err = parseTimeParam(q.Get("to"), "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, steward.Errorf(steward.EINVALID, "from must be before to.")
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return f, steward.Errorf(steward.EINVALID, "limit must be a number from 1 to 1000.")
		}
	}
	if v := q.Get("cursor"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 1 {
			return f, steward.Errorf(steward.EINVALID, "cursor is not one this API returned.")
		}
	}
	if all, tenants := steward.ActorFromContext(r.Context()).Scope(steward.PermAuditRead); !all {
		f.Scoped, f.Tenants = true, tenants
	}
	return f, nil
}

// parseTimeParam accepts RFC 3339 times and plain dates (midnight UTC).
func parseTimeParam(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, steward.Errorf(steward.EINVALID, "%s must be a date (2026-01-31) or a time (2026-01-31T12:00:00Z).", name)
}

func (s *Server) apiListAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	events, next, err := s.deps.Audit.AuditList(r.Context(), f)
	if err != nil {
		return err
	}
	out := listResponse[apiAuditEvent]{Items: []apiAuditEvent{}, Next: next}
	for _, e := range events {
		out.Items = append(out.Items, toAPIAuditEvent(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiExportAudit streams every matching event, page by page, as CSV or as
// a JSON array, so an export of millions of events needs little memory.
func (s *Server) apiExportAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return steward.Errorf(steward.EINVALID, "format must be csv or json.")
	}
	s.audit(r, newEvent(r, "audit.export", format).With("filter", r.URL.RawQuery))
	name := "steward-audit-" + s.cfg.Now().UTC().Format("20060102-150405") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	var emit func(e *steward.AuditEvent) error
	var finish func() error
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "time", "actor", "action", "target", "tenant_id", "outcome", "source_ip", "request_id", "details", "prev_hash", "hash"})
		emit = func(e *steward.AuditEvent) error {
			return cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), csvSafe(e.Actor), csvSafe(e.Action),
				csvSafe(e.Target), e.TenantID, e.Outcome, e.SourceIP, e.RequestID, csvSafe(e.DetailsJSON()), e.PrevHash, e.Hash})
		}
		finish = func() error { cw.Flush(); return cw.Error() }
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		first := true
		w.Write([]byte("[\n"))
		emit = func(e *steward.AuditEvent) error {
			if !first {
				w.Write([]byte(","))
			}
			first = false
			return enc.Encode(toAPIAuditEvent(e))
		}
		finish = func() error { _, err := w.Write([]byte("]\n")); return err }
	}
	f.Limit = 1000
	for {
		events, next, err := s.deps.Audit.AuditList(r.Context(), f)
		if err != nil {
			// Headers are sent; the truncated file is the only signal left.
			s.log.ErrorContext(r.Context(), "audit export failed", "error", err)
			return nil
		}
		for _, e := range events {
			if err := emit(e); err != nil {
				return nil // the client went away
			}
		}
		if next == "" {
			break
		}
		f.Before, _ = strconv.ParseInt(next, 10, 64)
	}
	finish()
	return nil
}

// csvSafe keeps spreadsheet programs from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func (s *Server) apiVerifyAudit(w http.ResponseWriter, r *http.Request) error {
	v, err := s.verifyAudit(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIVerification(v))
	return nil
}

// verifyAudit checks the chain and records that it was checked, and how it
// came out, as an event of its own.
func (s *Server) verifyAudit(r *http.Request) (*steward.AuditVerification, error) {
	v, err := s.deps.Audit.AuditVerify(r.Context())
	if err != nil {
		return nil, err
	}
	ev := newEvent(r, "audit.verify", "").With("checked", strconv.FormatInt(v.Checked, 10))
	if !v.OK() {
		ev.WithOutcome(steward.OutcomeFailure).With("bad_event", strconv.FormatInt(v.BadID, 10))
	}
	s.audit(r, ev)
	return v, nil
}
