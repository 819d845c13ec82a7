package web

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// The audit log: listing, export and verification, in the API and the UI.

// auditFilter reads the audit filters from the query string.
func auditFilter(r *http.Request) (steward.AuditFilter, error) {
	q := r.URL.Query()
	// checkInput has made sure tenant is a GUID.
	f := steward.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), TenantID: strings.ToLower(q.Get("tenant"))}
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
	f.Before, err = cursorParam(r)
	return f, err
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
	events, next, err := s.deps.Access.AuditEvents(r.Context(), f)
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
				csvSafe(e.Target), e.TenantID, e.Outcome, e.SourceIP, e.RequestID, csvSafe(cmp.Or(e.StoredDetails, e.DetailsJSON())), e.PrevHash, e.Hash}) // the text that was hashed
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
		events, next, err := s.deps.Access.AuditEvents(r.Context(), f)
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
	v, err := s.deps.Access.VerifyAudit(r.Context())
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

type auditPageData struct {
	Events       []*steward.AuditEvent
	Query        url.Values
	NextURL      string
	ExportCSV    string
	ExportJSON   string
	Verification *apiAuditVerification
	Scoped       []string
}

func (s *Server) pageAudit(w http.ResponseWriter, r *http.Request) error {
	return s.renderAudit(w, r, nil)
}

func (s *Server) renderAudit(w http.ResponseWriter, r *http.Request, v *apiAuditVerification) error {
	q := r.URL.Query()
	d := auditPageData{Query: q, Verification: v}
	f, err := auditFilter(r)
	status := http.StatusOK
	var errMsg string
	if err == nil {
		f.Limit = 50
		var next string
		d.Events, next, err = s.deps.Access.AuditEvents(r.Context(), f)
		if next != "" {
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("cursor", next)
			d.NextURL = "/audit?" + nq.Encode()
		}
	}
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		status, errMsg = errorStatus(err), steward.ErrorMessage(err)
	}
	eq := url.Values{}
	for _, k := range []string{"actor", "action", "tenant", "from", "to"} {
		if v := q.Get(k); v != "" {
			eq.Set(k, v)
		}
	}
	eq.Set("format", "csv")
	d.ExportCSV = "/api/v1/audit/export?" + eq.Encode()
	eq.Set("format", "json")
	d.ExportJSON = "/api/v1/audit/export?" + eq.Encode()
	if sc := steward.ScopeFor(r.Context(), steward.PermAuditRead); !sc.All() {
		d.Scoped = sc.Tenants()
	}
	s.render(w, r, status, "audit", view{Title: "Audit log", Nav: "audit", Error: errMsg, Data: d})
	return nil
}

func (s *Server) pageAuditVerify(w http.ResponseWriter, r *http.Request) error {
	v, err := s.verifyAudit(r)
	if err != nil {
		return err
	}
	av := toAPIVerification(v)
	return s.renderAudit(w, r, &av)
}
