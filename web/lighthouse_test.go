package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// definition is a registration definition body with one authorization of
// the given role, plus the roles every good delegation carries.
func definition(role string) string {
	return `{"properties":{"registrationDefinitionName":"Steward","managedByTenantId":"11111111-2222-3333-4444-555555555555","authorizations":[
 {"principalId":"aaaaaaaa-0000-0000-0000-000000000001","principalIdDisplayName":"Operators","roleDefinitionId":"` + role + `"},
 {"principalId":"aaaaaaaa-0000-0000-0000-000000000001","principalIdDisplayName":"Operators","roleDefinitionId":"` + steward.BuiltInReader + `"},
 {"principalId":"aaaaaaaa-0000-0000-0000-000000000002","principalIdDisplayName":"Offboarding","roleDefinitionId":"` + steward.BuiltInRegistrationAssignmentDelete + `"}]}}`
}

func TestLighthouseAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, token := b.user(t, "olga", steward.Grant{Role: steward.RoleOperator})
	_, viewerToken := b.user(t, "vic", steward.Grant{Role: steward.RoleViewer})

	validate := func(content string) lighthouseReport {
		t.Helper()
		body, _ := json.Marshal(lighthouseValidateInput{Files: []lighthouseFileInput{{Name: "delegation.json", Content: content}}})
		resp, out := b.do(t, req{method: "POST", path: "/api/v1/lighthouse/validate", token: viewerToken, body: string(body)})
		wantStatus(t, resp, out, http.StatusOK)
		var rep lighthouseReport
		json.Unmarshal([]byte(out), &rep)
		return rep
	}
	rep := validate(definition(steward.BuiltInOwner))
	if rep.OK || rep.Errors != 1 || rep.Findings[0].Rule != steward.LighthouseRuleOwner || rep.Findings[0].Authorization != 1 || rep.Findings[0].RoleDefinitionID != steward.BuiltInOwner {
		t.Fatalf("Owner delegation: %+v", rep)
	}
	if rep := validate(definition(steward.BuiltInTagContributor)); !rep.OK || rep.Errors != 0 {
		t.Fatalf("Tag Contributor delegation: %+v", rep)
	}
	resp, out := b.do(t, req{method: "POST", path: "/api/v1/lighthouse/validate", token: viewerToken, body: `{"files":[{"name":"x.json","content":"not json"}]}`})
	wantAPIError(t, resp, out, http.StatusBadRequest, steward.EINVALID, "x.json")
	fails := b.events(t, "lighthouse.validate")
	if len(fails) != 3 || fails[2].Outcome != steward.OutcomeFailure || fails[0].Details["errors"] != "1" {
		t.Fatalf("validation audit: %+v", fails)
	}

	spec := `{"scope":"subscription","offerName":"Steward for Contoso","managedByTenantId":"11111111-2222-3333-4444-555555555555",
	 "authorizations":[{"principalId":"aaaaaaaa-0000-0000-0000-000000000001","principalIdDisplayName":"Steward","roleDefinitionId":"Tag Contributor"},
	 {"principalId":"aaaaaaaa-0000-0000-0000-000000000001","principalIdDisplayName":"Steward","roleDefinitionId":"Reader"},
	 {"principalId":"aaaaaaaa-0000-0000-0000-000000000002","principalIdDisplayName":"Offboarding","roleDefinitionId":"` + steward.BuiltInRegistrationAssignmentDelete + `"}]}`
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/lighthouse/templates", token: viewerToken, body: spec})
	wantStatus(t, resp, out, http.StatusForbidden)
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/lighthouse/templates", token: token, body: spec})
	wantStatus(t, resp, out, http.StatusOK)
	var built lighthouseBuilt
	if err := json.Unmarshal([]byte(out), &built); err != nil || !strings.Contains(string(built.Template), "Microsoft.ManagedServices/registrationDefinitions") || !strings.Contains(string(built.Parameters), steward.BuiltInTagContributor) {
		t.Fatalf("built: %v %s", err, out)
	}
	// The built pair passes its own check.
	body, _ := json.Marshal(lighthouseValidateInput{Files: []lighthouseFileInput{{Name: "t.json", Content: string(built.Template)}, {Name: "t.parameters.json", Content: string(built.Parameters)}}})
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/lighthouse/validate", token: token, body: string(body)})
	if !strings.Contains(out, `"ok":true`) {
		t.Fatalf("built template does not validate: %s", out)
	}
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/lighthouse/templates", token: token, body: strings.Replace(spec, `"Tag Contributor"`, `"Owner"`, 1)})
	wantAPIError(t, resp, out, http.StatusUnprocessableEntity, steward.EUNPROCESSABLE, "")
	if !strings.Contains(out, `"rule":"owner"`) {
		t.Fatalf("refused build does not say why: %s", out)
	}
	resp, out = b.do(t, req{method: "GET", path: "/api/v1/lighthouse/roles", token: viewerToken})
	if resp.StatusCode != 200 || !strings.Contains(out, `"name":"Owner","supported":false`) {
		t.Fatalf("roles: %.300s", out)
	}
}

func TestLighthousePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "olga", steward.Grant{Role: steward.RoleOperator})
	c := b.browser(t)
	postForm(t, c, b.ts.URL+"/login", url.Values{"name": {"olga"}, "password": {"password-olga"}})

	resp, body := postForm(t, c, b.ts.URL+"/lighthouse/validate", url.Values{"template": {definition(steward.BuiltInOwner)}})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "1 error") || !strings.Contains(body, ">owner<") {
		t.Fatalf("Owner check page: %s", body)
	}
	resp, body = postForm(t, c, b.ts.URL+"/lighthouse/validate", url.Values{"template": {definition(steward.BuiltInTagContributor)}})
	if !strings.Contains(body, "No errors.") {
		t.Fatalf("fixed check page: %s", body)
	}
	resp, body = postForm(t, c, b.ts.URL+"/lighthouse/validate", url.Values{})
	wantStatus(t, resp, body, http.StatusBadRequest)

	form := url.Values{"scope": {"subscription"}, "offerName": {"Steward"}, "managedBy": {"11111111-2222-3333-4444-555555555555"},
		"auth0Principal": {"aaaaaaaa-0000-0000-0000-000000000001"}, "auth0Name": {"Steward"}, "auth0Role": {steward.BuiltInTagContributor},
		"auth1Principal": {"aaaaaaaa-0000-0000-0000-000000000001"}, "auth1Name": {"Steward"}, "auth1Role": {steward.BuiltInReader},
		"auth2Principal": {"aaaaaaaa-0000-0000-0000-000000000002"}, "auth2Name": {"Offboarding"}, "auth2Role": {steward.BuiltInRegistrationAssignmentDelete}}
	resp, body = postForm(t, c, b.ts.URL+"/lighthouse/build", form)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Built.") || !strings.Contains(body, "registrationAssignments") {
		t.Fatalf("build page: %.500s", body)
	}
	form.Set("download", "parameters")
	resp, body = postForm(t, c, b.ts.URL+"/lighthouse/build", form)
	if resp.Header.Get("Content-Disposition") != `attachment; filename="template.parameters.json"` || !json.Valid([]byte(body)) {
		t.Fatalf("download: %v %s", resp.Header, body)
	}
	form.Set("auth0Role", steward.BuiltInOwner)
	form.Del("download")
	resp, body = postForm(t, c, b.ts.URL+"/lighthouse/build", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, ">owner<") {
		t.Fatalf("refused build page: %s", body)
	}
	if n := len(b.events(t, "lighthouse.template")); n != 3 {
		t.Fatalf("%d build events, want 3", n)
	}
}
