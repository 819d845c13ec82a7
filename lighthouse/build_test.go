package lighthouse

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the builder's output")

const (
	tenantID    = "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13"
	stewardSP   = "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c"
	offboarding = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
	onCall      = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
	approvers   = "d9b22cd6-6407-43cc-8c60-07c56df0b51a"
)

// specOptions adjusts the factory's spec.
type specOptions struct {
	scope          steward.LighthouseScope
	resourceGroups []string
	extra          []steward.LighthouseAuthorization
	eligible       []steward.LighthouseEligibleAuthorization
}

// newSpec is what Steward itself needs, by role name, plus the options.
func newSpec(opts specOptions) steward.LighthouseSpec {
	return steward.LighthouseSpec{
		Scope:             opts.scope,
		ResourceGroups:    opts.resourceGroups,
		OfferName:         "Steward inventory & tags",
		OfferDescription:  "Reads resources and costs, edits tags <nothing else>",
		ManagedByTenantID: strings.ToUpper(tenantID),
		Authorizations: append([]steward.LighthouseAuthorization{
			{PrincipalID: stewardSP, PrincipalIDDisplayName: "Steward", RoleDefinitionID: "Reader"},
			{PrincipalID: stewardSP, PrincipalIDDisplayName: "Steward", RoleDefinitionID: "tag contributor"},
			{PrincipalID: stewardSP, PrincipalIDDisplayName: "Steward", RoleDefinitionID: steward.BuiltInCostManagementReader},
			{PrincipalID: offboarding, PrincipalIDDisplayName: "Offboarding", RoleDefinitionID: "Managed Services Registration assignment Delete Role"},
		}, opts.extra...),
		EligibleAuthorizations: opts.eligible,
	}
}

func build(t *testing.T, spec steward.LighthouseSpec) (*steward.LighthouseTemplate, []steward.LighthouseFinding) {
	t.Helper()
	tmpl, findings, err := svc.LighthouseBuild(context.Background(), spec)
	if err != nil {
		t.Fatalf("build: %v (findings %q)", err, summary(findings))
	}
	return tmpl, findings
}

// golden compares with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the builder's output (run go test -update after checking the change):\n%s", path, got)
	}
}

// Built templates validate with zero findings, match the golden files, and
// hold what the spec said.
func TestBuildRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec steward.LighthouseSpec
	}{
		{"subscription", newSpec(specOptions{})},
		{"resource-groups", newSpec(specOptions{
			resourceGroups: []string{"inventory", "billing-(eu).prod"},
			eligible: []steward.LighthouseEligibleAuthorization{{
				PrincipalID: offboarding, PrincipalIDDisplayName: "Offboarding", RoleDefinitionID: "Reader",
				JustInTimeAccessPolicy: steward.LighthouseAccessPolicy{
					MaximumActivationDuration: "PT2H",
					ManagedByTenantApprovers:  []steward.LighthouseApprover{{PrincipalID: approvers, PrincipalIDDisplayName: "Approvers"}},
				},
			}},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, findings := build(t, tt.spec)
			if len(findings) != 0 {
				t.Errorf("findings for Steward's own needs: %q", summary(findings))
			}
			golden(t, tt.name+".template.json", tmpl.Template)
			golden(t, tt.name+".parameters.json", tmpl.Parameters)

			check, err := svc.LighthouseValidate(context.Background(),
				steward.LighthouseFile{Name: steward.LighthouseTemplateFile, Data: tmpl.Template},
				steward.LighthouseFile{Name: steward.LighthouseParametersFile, Data: tmpl.Parameters})
			if err != nil {
				t.Fatal(err)
			}
			if len(check) != 0 {
				t.Errorf("validating the built files: %q", summary(check))
			}

			var doc struct {
				Schema    string `json:"$schema"`
				Resources []struct {
					Type          string `json:"type"`
					APIVersion    string `json:"apiVersion"`
					ResourceGroup string `json:"resourceGroup"`
					Properties    struct {
						Template struct {
							Resources []struct {
								Type       string `json:"type"`
								APIVersion string `json:"apiVersion"`
							} `json:"resources"`
						} `json:"template"`
					} `json:"properties"`
				} `json:"resources"`
			}
			if err := json.Unmarshal(tmpl.Template, &doc); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(doc.Schema, "subscriptionDeploymentTemplate.json") {
				t.Errorf("$schema %s", doc.Schema)
			}
			var types []string
			for _, r := range doc.Resources {
				types = append(types, r.Type+"@"+r.APIVersion)
				for _, n := range r.Properties.Template.Resources {
					types = append(types, "nested "+n.Type+"@"+n.APIVersion)
				}
			}
			want := []string{
				"Microsoft.ManagedServices/registrationDefinitions@2022-10-01",
				"Microsoft.ManagedServices/registrationAssignments@2022-10-01",
			}
			if tt.spec.Scope == steward.LighthouseScopeResourceGroup || len(tt.spec.ResourceGroups) > 0 {
				want = []string{
					"Microsoft.ManagedServices/registrationDefinitions@2022-10-01",
					"Microsoft.Resources/deployments@2022-09-01",
					"nested Microsoft.ManagedServices/registrationAssignments@2022-10-01",
				}
			}
			if !slices.Equal(types, want) {
				t.Errorf("resources %q, want %q", types, want)
			}

			var params struct {
				Parameters struct {
					Tenant struct{ Value string } `json:"managedByTenantId"`
					Auths  struct {
						Value []steward.LighthouseAuthorization
					} `json:"authorizations"`
					ResourceGroups struct{ Value []struct{ RGName string } } `json:"resourceGroups"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(tmpl.Parameters, &params); err != nil {
				t.Fatal(err)
			}
			p := params.Parameters
			if p.Tenant.Value != tenantID {
				t.Errorf("tenant %q", p.Tenant.Value)
			}
			var roles []string
			for _, a := range p.Auths.Value {
				roles = append(roles, a.RoleDefinitionID)
			}
			wantRoles := []string{steward.BuiltInReader, steward.BuiltInTagContributor, steward.BuiltInCostManagementReader, steward.BuiltInRegistrationAssignmentDelete}
			if !slices.Equal(roles, wantRoles) {
				t.Errorf("roles %q, want %q (names become GUIDs)", roles, wantRoles)
			}
			if len(p.ResourceGroups.Value) != len(tt.spec.ResourceGroups) {
				t.Errorf("resource groups %+v", p.ResourceGroups.Value)
			}
		})
	}
}

func TestBuildDeterministic(t *testing.T) {
	t.Parallel()
	spec := newSpec(specOptions{resourceGroups: []string{"a", "b"}})
	a, _ := build(t, spec)
	b, _ := build(t, spec)
	if !bytes.Equal(a.Template, b.Template) || !bytes.Equal(a.Parameters, b.Parameters) {
		t.Error("two builds of one spec differ")
	}
}

// The builder refuses delegations that break a rule, with the findings, and
// passes warnings through with the template.
func TestBuildRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     specOptions
		wantErr  bool
		wantRule []string
	}{
		{
			name:     "owner",
			opts:     specOptions{extra: []steward.LighthouseAuthorization{{PrincipalID: onCall, RoleDefinitionID: "Owner"}}},
			wantErr:  true,
			wantRule: []string{"owner"},
		},
		{
			name:     "user access administrator without roles",
			opts:     specOptions{extra: []steward.LighthouseAuthorization{{PrincipalID: onCall, RoleDefinitionID: "User Access Administrator"}}},
			wantErr:  true,
			wantRule: []string{"uaa-without-delegated-roles"},
		},
		{
			name: "user access administrator with roles",
			opts: specOptions{extra: []steward.LighthouseAuthorization{{
				PrincipalID: onCall, RoleDefinitionID: "User Access Administrator", DelegatedRoleDefinitionIDs: []string{"Contributor"},
			}}},
			wantRule: []string{"broader-than-needed"},
		},
		{
			name:     "unknown role name",
			opts:     specOptions{extra: []steward.LighthouseAuthorization{{PrincipalID: onCall, RoleDefinitionID: "Tag Writer"}}},
			wantErr:  true,
			wantRule: []string{"invalid-guid"},
		},
		{
			name:     "bad principal",
			opts:     specOptions{extra: []steward.LighthouseAuthorization{{PrincipalID: "ops@example.com", RoleDefinitionID: "Reader"}}},
			wantErr:  true,
			wantRule: []string{"invalid-guid"},
		},
		{
			name: "eligible too long",
			opts: specOptions{eligible: []steward.LighthouseEligibleAuthorization{{
				PrincipalID: offboarding, RoleDefinitionID: "Reader",
				JustInTimeAccessPolicy: steward.LighthouseAccessPolicy{MaximumActivationDuration: "PT12H"},
			}}},
			wantErr:  true,
			wantRule: []string{"activation-duration"},
		},
		{
			name:     "contributor for operators",
			opts:     specOptions{extra: []steward.LighthouseAuthorization{{PrincipalID: onCall, PrincipalIDDisplayName: "Operators", RoleDefinitionID: "Contributor"}}},
			wantRule: []string{"list-keys", "broader-than-needed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, findings, err := svc.LighthouseBuild(context.Background(), newSpec(tt.opts))
			var rules []string
			for _, f := range findings {
				rules = append(rules, f.Rule)
			}
			if !slices.Equal(rules, tt.wantRule) {
				t.Errorf("rules %q, want %q", rules, tt.wantRule)
			}
			if tt.wantErr {
				if steward.ErrorCode(err) != steward.EUNPROCESSABLE || tmpl != nil {
					t.Errorf("got template=%v err=%v, want EUNPROCESSABLE and no template", tmpl != nil, err)
				}
				return
			}
			if err != nil || tmpl == nil {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestBuildInvalidSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*steward.LighthouseSpec)
		want   string
	}{
		{"scope", func(s *steward.LighthouseSpec) { s.Scope = "tenant" }, "Scope \"tenant\""},
		{"groups missing", func(s *steward.LighthouseSpec) { s.Scope = steward.LighthouseScopeResourceGroup }, "at least one resource group"},
		{"groups on a subscription", func(s *steward.LighthouseSpec) {
			s.Scope, s.ResourceGroups = steward.LighthouseScopeSubscription, []string{"a"}
		}, "takes no resource groups"},
		{"group name", func(s *steward.LighthouseSpec) { s.ResourceGroups = []string{"rg/1"} }, "\"rg/1\" is not valid"},
		{"group ending in a period", func(s *steward.LighthouseSpec) { s.ResourceGroups = []string{"rg."} }, "is not valid"},
		{"group twice", func(s *steward.LighthouseSpec) { s.ResourceGroups = []string{"rg", "RG"} }, "listed twice"},
		{"offer name", func(s *steward.LighthouseSpec) { s.OfferName = "  " }, "offer name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(specOptions{})
			tt.change(&spec)
			_, _, err := svc.LighthouseBuild(context.Background(), spec)
			if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tt.want)
			}
		})
	}
	// A missing tenant and no authorizations are rule findings, so the UI
	// can show them beside the rest.
	spec := newSpec(specOptions{})
	spec.ManagedByTenantID, spec.Authorizations = "", nil
	_, findings, err := svc.LighthouseBuild(context.Background(), spec)
	if steward.ErrorCode(err) != steward.EUNPROCESSABLE {
		t.Fatalf("got %v", err)
	}
	if got := summary(findings); !slices.Equal(got, []string{"error missing-field definition 0", "error missing-field definition 0"}) {
		t.Errorf("findings %q", got)
	}
}
