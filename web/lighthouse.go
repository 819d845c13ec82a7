package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// Lighthouse: check delegation templates and build new ones. Both work
// offline, from the built-in role catalog.

type lighthouseFileInput struct {
	Name    string `json:"name"`
	Content string `json:"content"` // the file's text
}

type lighthouseValidateInput struct {
	Files []lighthouseFileInput `json:"files"`
}

type lighthouseReport struct {
	OK       bool                        `json:"ok"` // no errors
	Errors   int                         `json:"errors"`
	Warnings int                         `json:"warnings"`
	Findings []steward.LighthouseFinding `json:"findings"`
}

type lighthouseBuilt struct {
	Template   json.RawMessage             `json:"template"`
	Parameters json.RawMessage             `json:"parameters"`
	Findings   []steward.LighthouseFinding `json:"findings"`
}

// maxLighthouseFile bounds one uploaded template; Microsoft's samples are
// under 5 KB.
const maxLighthouseFile = 512 << 10

// validateLighthouse checks files and audits the check, refused input
// included.
func (s *Server) validateLighthouse(r *http.Request, files []steward.LighthouseFile) (*lighthouseReport, error) {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	ev := newEvent(r, "lighthouse.validate", strings.Join(names, ", "))
	findings, err := s.deps.Lighthouse.LighthouseValidate(r.Context(), files...)
	if err != nil {
		s.audit(r, ev.WithOutcome(steward.OutcomeFailure).With("reason", steward.ErrorMessage(err)))
		return nil, err
	}
	rep := &lighthouseReport{Findings: findings}
	for _, f := range findings {
		if f.Severity == steward.LighthouseError {
			rep.Errors++
		} else {
			rep.Warnings++
		}
	}
	rep.OK = rep.Errors == 0
	s.audit(r, ev.With("errors", strconv.Itoa(rep.Errors)).With("warnings", strconv.Itoa(rep.Warnings)))
	return rep, nil
}

func (s *Server) buildLighthouse(r *http.Request, spec steward.LighthouseSpec) (*steward.LighthouseTemplate, []steward.LighthouseFinding, error) {
	ev := newEvent(r, "lighthouse.template", spec.OfferName).With("scope", string(spec.Scope)).
		With("managed_by", spec.ManagedByTenantID).With("authorizations", strconv.Itoa(len(spec.Authorizations)))
	t, findings, err := s.deps.Lighthouse.LighthouseBuild(r.Context(), spec)
	if err != nil {
		s.audit(r, ev.WithOutcome(steward.OutcomeFailure).With("reason", steward.ErrorMessage(err)))
		return nil, findings, err
	}
	s.audit(r, ev)
	return t, findings, nil
}

func (s *Server) apiLighthouseValidate(w http.ResponseWriter, r *http.Request) error {
	var in lighthouseValidateInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if len(in.Files) == 0 {
		return steward.Errorf(steward.EINVALID, `Give the files to check: {"files":[{"name":"template.json","content":"…"}]}.`)
	}
	files := make([]steward.LighthouseFile, len(in.Files))
	for i, f := range in.Files {
		name := f.Name
		if name == "" {
			name = "file" + strconv.Itoa(i+1) + ".json"
		}
		files[i] = steward.LighthouseFile{Name: name, Data: []byte(f.Content)}
	}
	rep, err := s.validateLighthouse(r, files)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) apiLighthouseBuild(w http.ResponseWriter, r *http.Request) error {
	var spec steward.LighthouseSpec
	if err := s.decodeJSON(w, r, &spec); err != nil {
		return err
	}
	t, findings, err := s.buildLighthouse(r, spec)
	if err != nil {
		if steward.ErrorCode(err) == steward.EUNPROCESSABLE {
			// Say which rules the delegation breaks, not only that it does.
			writeJSON(w, http.StatusUnprocessableEntity, struct {
				apiError
				Findings []steward.LighthouseFinding `json:"findings"`
			}{apiError{apiErrorBody{steward.EUNPROCESSABLE, steward.ErrorMessage(err)}}, nonNil(findings)})
			return nil
		}
		return err
	}
	writeJSON(w, http.StatusOK, lighthouseBuilt{Template: t.Template, Parameters: t.Parameters, Findings: nonNil(findings)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) apiLighthouseRoles(w http.ResponseWriter, r *http.Request) error {
	roles, err := s.deps.Lighthouse.LighthouseRoles(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listResponse[steward.LighthouseRole]{Items: roles})
	return nil
}

// lighthousePage is the Lighthouse page's data.
type lighthousePage struct {
	Template, Parameters string // the check form's text
	Report               *lighthouseReport
	Spec                 lighthouseForm
	Built                *lighthouseBuilt
	BuildFindings        []steward.LighthouseFinding
	Roles                []steward.LighthouseRole
	CanBuild             bool
}

// lighthouseForm is the builder form as typed: a fixed number of rows, so
// the page needs no script; empty rows are ignored.
type lighthouseForm struct {
	Scope, ResourceGroups, OfferName, OfferDescription, ManagedBy string
	Auth                                                          []lighthouseAuthRow
	Eligible                                                      []lighthouseEligibleRow
}

type lighthouseAuthRow struct{ PrincipalID, DisplayName, Role, Delegated string }
type lighthouseEligibleRow struct{ PrincipalID, DisplayName, Role, Duration, Approvers string }

const authRows, eligibleRows = 5, 2

func newLighthouseForm() lighthouseForm {
	return lighthouseForm{Scope: "subscription", Auth: make([]lighthouseAuthRow, authRows), Eligible: make([]lighthouseEligibleRow, eligibleRows)}
}

func (s *Server) renderLighthouse(w http.ResponseWriter, r *http.Request, status int, errMsg string, d lighthousePage) error {
	roles, err := s.deps.Lighthouse.LighthouseRoles(r.Context())
	if err != nil {
		return err
	}
	for _, role := range roles {
		if role.Supported {
			d.Roles = append(d.Roles, role)
		}
	}
	d.CanBuild = steward.ActorFromContext(r.Context()).CanSome(steward.PermTenantsManage)
	s.render(w, r, status, "lighthouse", view{Title: "Azure Lighthouse", Nav: "lighthouse", Error: errMsg, Data: d})
	return nil
}

func (s *Server) pageLighthouse(w http.ResponseWriter, r *http.Request) error {
	return s.renderLighthouse(w, r, http.StatusOK, "", lighthousePage{Spec: newLighthouseForm()})
}

// pageLighthouseValidate checks what was pasted or uploaded.
func (s *Server) pageLighthouseValidate(w http.ResponseWriter, r *http.Request) error {
	d := lighthousePage{Spec: newLighthouseForm()}
	var files []steward.LighthouseFile
	if err := r.ParseMultipartForm(4 * maxLighthouseFile); err != nil && err != http.ErrNotMultipart {
		return steward.Errorf(steward.EINVALID, "The upload could not be read.")
	}
	d.Template, d.Parameters = r.FormValue("template"), r.FormValue("parameters")
	if d.Template != "" {
		files = append(files, steward.LighthouseFile{Name: "template.json", Data: []byte(d.Template)})
	}
	if d.Parameters != "" {
		files = append(files, steward.LighthouseFile{Name: "template.parameters.json", Data: []byte(d.Parameters)})
	}
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["files"] {
			if why := badText(fh.Filename); why != "" {
				err := steward.Errorf(steward.EINVALID, "An uploaded file's name %s; rename it and upload it again.", why)
				s.audit(r, newEvent(r, "request.invalid", "POST /lighthouse/validate").WithOutcome(steward.OutcomeDenied).With("reason", steward.ErrorMessage(err)))
				return err
			}
			if fh.Size > maxLighthouseFile {
				return s.renderLighthouse(w, r, http.StatusRequestEntityTooLarge, fh.Filename+" is larger than 512 KiB.", d)
			}
			f, err := fh.Open()
			if err != nil {
				return err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			files = append(files, steward.LighthouseFile{Name: fh.Filename, Data: data})
		}
	}
	if len(files) == 0 {
		return s.renderLighthouse(w, r, http.StatusBadRequest, "Paste a template or a parameters file, or upload them.", d)
	}
	rep, err := s.validateLighthouse(r, files)
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderLighthouse(w, r, errorStatus(err), steward.ErrorMessage(err), d)
	}
	d.Report = rep
	return s.renderLighthouse(w, r, http.StatusOK, "", d)
}

// pageLighthouseBuild builds a template from the form; with download=template
// or download=parameters it answers with that file to save.
func (s *Server) pageLighthouseBuild(w http.ResponseWriter, r *http.Request) error {
	form := lighthouseForm{
		Scope: r.PostFormValue("scope"), ResourceGroups: r.PostFormValue("resourceGroups"),
		OfferName: r.PostFormValue("offerName"), OfferDescription: r.PostFormValue("offerDescription"), ManagedBy: r.PostFormValue("managedBy"),
	}
	spec := steward.LighthouseSpec{Scope: steward.LighthouseScope(form.Scope), OfferName: form.OfferName, OfferDescription: form.OfferDescription, ManagedByTenantID: strings.TrimSpace(form.ManagedBy)}
	if form.Scope == string(steward.LighthouseScopeResourceGroup) {
		spec.ResourceGroups = tenantList(form.ResourceGroups)
	}
	for i := range authRows {
		n := strconv.Itoa(i)
		row := lighthouseAuthRow{PrincipalID: r.PostFormValue("auth" + n + "Principal"), DisplayName: r.PostFormValue("auth" + n + "Name"),
			Role: r.PostFormValue("auth" + n + "Role"), Delegated: r.PostFormValue("auth" + n + "Delegated")}
		form.Auth = append(form.Auth, row)
		if strings.TrimSpace(row.PrincipalID) == "" && row.DisplayName == "" {
			continue
		}
		spec.Authorizations = append(spec.Authorizations, steward.LighthouseAuthorization{
			PrincipalID: strings.TrimSpace(row.PrincipalID), PrincipalIDDisplayName: row.DisplayName,
			RoleDefinitionID: row.Role, DelegatedRoleDefinitionIDs: tenantList(row.Delegated)})
	}
	for i := range eligibleRows {
		n := strconv.Itoa(i)
		row := lighthouseEligibleRow{PrincipalID: r.PostFormValue("elig" + n + "Principal"), DisplayName: r.PostFormValue("elig" + n + "Name"),
			Role: r.PostFormValue("elig" + n + "Role"), Duration: r.PostFormValue("elig" + n + "Duration"), Approvers: r.PostFormValue("elig" + n + "Approvers")}
		form.Eligible = append(form.Eligible, row)
		if strings.TrimSpace(row.PrincipalID) == "" && row.DisplayName == "" {
			continue
		}
		e := steward.LighthouseEligibleAuthorization{PrincipalID: strings.TrimSpace(row.PrincipalID), PrincipalIDDisplayName: row.DisplayName, RoleDefinitionID: row.Role,
			JustInTimeAccessPolicy: steward.LighthouseAccessPolicy{MultiFactorAuthProvider: "Azure", MaximumActivationDuration: row.Duration}}
		for _, a := range tenantList(row.Approvers) {
			e.JustInTimeAccessPolicy.ManagedByTenantApprovers = append(e.JustInTimeAccessPolicy.ManagedByTenantApprovers, steward.LighthouseApprover{PrincipalID: a})
		}
		spec.EligibleAuthorizations = append(spec.EligibleAuthorizations, e)
	}
	d := lighthousePage{Spec: form}
	t, findings, err := s.buildLighthouse(r, spec)
	d.BuildFindings = findings
	if err != nil {
		if steward.ErrorCode(err) == steward.EINTERNAL {
			return err
		}
		return s.renderLighthouse(w, r, errorStatus(err), steward.ErrorMessage(err), d)
	}
	switch r.PostFormValue("download") {
	case "template":
		return download(w, steward.LighthouseTemplateFile, t.Template)
	case "parameters":
		return download(w, steward.LighthouseParametersFile, t.Parameters)
	}
	d.Built = &lighthouseBuilt{Template: t.Template, Parameters: t.Parameters}
	return s.renderLighthouse(w, r, http.StatusOK, "", d)
}

func download(w http.ResponseWriter, name string, data []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, err := w.Write(data)
	return err
}
