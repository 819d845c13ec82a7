package lighthouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// svc is shared: the Service is stateless and safe for concurrent use.
var svc = New()

// validatePaths reads the files and validates them as one input set.
func validatePaths(tb testing.TB, paths ...string) ([]steward.LighthouseFinding, error) {
	tb.Helper()
	var files []steward.LighthouseFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, steward.LighthouseFile{Name: filepath.Base(p), Data: data})
	}
	return svc.LighthouseValidate(context.Background(), files...)
}

// summary renders findings as "severity rule kind index roleDefinitionId".
func summary(fs []steward.LighthouseFinding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s %d %s", f.Severity, f.Rule, f.Kind, f.Authorization, f.RoleDefinitionID)))
	}
	return out
}

// Role GUIDs the fixtures use.
const (
	idReader   = steward.BuiltInReader
	idOwner    = steward.BuiltInOwner
	idUAA      = steward.BuiltInUserAccessAdministrator
	idDelete   = steward.BuiltInRegistrationAssignmentDelete
	idCost     = steward.BuiltInCostManagementReader
	idBlob     = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" // Storage Blob Data Reader: DataActions
	idRBAC     = "f58310d9-a9f6-439a-9e8d-f62e7b41a168" // Role Based Access Control Administrator
	idVMC      = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c" // Virtual Machine Contributor: listKeys
	idPolicy   = "36243c78-bf99-498c-9df9-86d9f8d28608" // Resource Policy Contributor
	idUnknown  = "5e1d0c9b-8a7f-4e6d-b5c4-a3b2c1d0e9f8" // no such built-in role
	idLogAnaly = "92aaf0da-9dab-42b6-94a3-d43ce8d16293" // Log Analytics Contributor, which now has a DataAction
)

// Each fixture in testdata/rules is the same good registration definition
// (Reader and Tag Contributor for Steward, the Delete Role for an
// offboarding group) with one thing changed.
func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"ok", nil},
		{"ok-eligible", nil}, // PT30M and 10 approvers are within the limits; approvers in any order are one policy
		{"ok-uaa", []string{"warning broader-than-needed authorization 4 " + idUAA}},
		{"owner", []string{"error owner authorization 4 " + idOwner}},
		{"data-actions", []string{"error data-actions authorization 4 " + idBlob}},
		{"forbidden-action", []string{"error forbidden-action authorization 4 " + idRBAC}},
		{"uaa-without-delegated-roles", []string{"error uaa-without-delegated-roles authorization 4 " + idUAA}},
		{"uaa-empty-delegated-roles", []string{"error uaa-without-delegated-roles authorization 4 " + idUAA}},
		{"uaa-delegated-owner", []string{"error uaa-delegated-role authorization 4 " + idOwner}},
		{"uaa-delegated-uaa", []string{"error uaa-delegated-role authorization 4 " + idUAA}},
		{"uaa-delegated-data-actions", []string{
			"error uaa-delegated-role authorization 4 " + idBlob,
			"warning broader-than-needed authorization 4 " + idUAA,
		}},
		{"uaa-delegated-forbidden", []string{
			"error uaa-delegated-role authorization 4 " + idRBAC,
			"warning broader-than-needed authorization 4 " + idUAA,
		}},
		{"uaa-delegated-unknown", []string{"error uaa-delegated-role authorization 4 " + idUnknown}},
		{"unknown-role", []string{"error unknown-role authorization 4 " + idUnknown}},
		{"eligible-uaa", []string{"error eligible-uaa eligibleAuthorization 1 " + idUAA}},
		{"eligible-delegated-roles", []string{"error eligible-delegated-roles eligibleAuthorization 1 " + idReader}},
		{"activation-too-short", []string{"error activation-duration eligibleAuthorization 1 " + idReader}},
		{"activation-too-long", []string{"error activation-duration eligibleAuthorization 1 " + idReader}},
		{"activation-not-iso", []string{"error activation-duration eligibleAuthorization 1 " + idReader}},
		{"too-many-approvers", []string{"error too-many-approvers eligibleAuthorization 1 " + idReader}},
		{"eligible-policy-mismatch", []string{"error eligible-policy-mismatch eligibleAuthorization 2 " + idReader}},
		{"mfa-provider", []string{"error mfa-provider eligibleAuthorization 1 " + idReader}},
		{"invalid-guid-principal", []string{"error invalid-guid authorization 4 " + idCost}},
		{"invalid-guid-tenant", []string{"error invalid-guid definition 0"}},
		{"invalid-guid-role-name", []string{"error invalid-guid authorization 4 " + idCost}},
		{"missing-field-principal", []string{"error missing-field authorization 4 " + idCost}},
		{"missing-field-authorizations", []string{"error missing-field definition 0"}},
		{"no-delete-role", []string{"warning no-delete-role definition 0 " + idDelete}},
		{"no-reader", []string{"warning no-reader definition 0 " + idReader}},
		{"list-keys", []string{
			"warning list-keys authorization 4 " + idVMC,
			"warning broader-than-needed authorization 4 " + idVMC,
		}},
		{"broader-than-needed", []string{"warning broader-than-needed authorization 4 " + idPolicy}},
		{"eligible-without-permanent", []string{"warning eligible-without-permanent eligibleAuthorization 1 " + idReader}},
		{"delegated-roles-ignored", []string{"warning delegated-roles-ignored authorization 4 " + idReader}},
		{"placeholder-id", []string{"warning placeholder-id authorization 4 " + idCost}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			fs, err := validatePaths(t, filepath.Join("testdata", "rules", tt.file+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(fs); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("findings:\n got %q\nwant %q", got, tt.want)
			}
			for _, f := range fs {
				if f.File != tt.file+".json" {
					t.Errorf("finding %s names file %q", f.Rule, f.File)
				}
			}
		})
	}
}

// Every rule is exercised by some fixture, and every finding about an
// authorization names it (kind, index, principal) and its role.
func TestRulesCoverageAndMessages(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var files []steward.LighthouseFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, steward.LighthouseFile{Name: p, Data: data})
	}
	seen := map[string]steward.LighthouseSeverity{}
	for _, group := range Pair(files) {
		p := group[0].Name
		fs, err := svc.LighthouseValidate(context.Background(), group...)
		if err != nil {
			continue // the bad-input fixtures
		}
		for _, f := range fs {
			seen[f.Rule] = f.Severity
			if f.Message == "" || f.Rule == "" {
				t.Errorf("%s: empty finding %+v", p, f)
			}
			switch f.Kind {
			case steward.LighthouseKindAuthorization, steward.LighthouseKindEligible:
				prefix := fmt.Sprintf("Authorization %d (", f.Authorization)
				if f.Kind == steward.LighthouseKindEligible {
					prefix = "Eligible " + strings.ToLower(prefix[:1]) + prefix[1:]
				}
				if !strings.HasPrefix(f.Message, prefix) {
					t.Errorf("%s: message %q does not start with %q", p, f.Message, prefix)
				}
				if f.Authorization < 1 {
					t.Errorf("%s: %s about an authorization has index %d", p, f.Rule, f.Authorization)
				}
			case steward.LighthouseKindDefinition:
				if f.Authorization != 0 {
					t.Errorf("%s: %s about the definition has index %d", p, f.Rule, f.Authorization)
				}
			default:
				t.Errorf("%s: unknown kind %q", p, f.Kind)
			}
		}
	}
	for _, r := range steward.LighthouseRules {
		sev, ok := seen[r.ID]
		if !ok {
			t.Errorf("no fixture triggers rule %s", r.ID)
			continue
		}
		if sev != r.Severity {
			t.Errorf("rule %s reported as %s, listed as %s", r.ID, sev, r.Severity)
		}
	}
	for id := range seen {
		if !slices.ContainsFunc(steward.LighthouseRules, func(r steward.LighthouseRuleInfo) bool { return r.ID == id }) {
			t.Errorf("rule %s is not in steward.LighthouseRules", id)
		}
	}
}

func TestRoleSupport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id        string
		supported bool
		eligible  bool
		rule      string
	}{
		{idReader, true, true, ""},
		{steward.BuiltInContributor, true, true, ""}, // "*" is not a listed action
		{steward.BuiltInTagContributor, true, true, ""},
		{idCost, true, true, ""},
		{idDelete, true, true, ""},
		{idVMC, true, true, ""},
		{idOwner, false, false, steward.LighthouseRuleOwner},
		{idUAA, true, false, steward.LighthouseRuleEligibleUAA},
		{idBlob, false, false, steward.LighthouseRuleDataActions},
		{idRBAC, false, false, steward.LighthouseRuleForbiddenAction},
		{idLogAnaly, false, false, steward.LighthouseRuleDataActions},
	}
	roles, err := svc.LighthouseRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) < 900 {
		t.Fatalf("only %d roles", len(roles))
	}
	for _, tt := range tests {
		i := slices.IndexFunc(roles, func(r steward.LighthouseRole) bool { return r.ID == tt.id })
		if i < 0 {
			t.Errorf("role %s missing", tt.id)
			continue
		}
		r := roles[i]
		if r.Supported != tt.supported || r.Eligible != tt.eligible || r.Rule != tt.rule {
			t.Errorf("%s: got supported=%v eligible=%v rule=%q, want %v %v %q", r.Name, r.Supported, r.Eligible, r.Rule, tt.supported, tt.eligible, tt.rule)
		}
	}
	// Microsoft's list of unsupported actions rules out 30 built-in roles
	// that have no DataActions (User Access Administrator among them).
	n := 0
	for _, r := range roles {
		if r.Rule == steward.LighthouseRuleForbiddenAction || r.ID == idUAA {
			n++
		}
	}
	if n != 30 {
		t.Errorf("%d roles with a listed action, want 30", n)
	}
}

func TestParseISODuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" when invalid
	}{
		{"PT30M", "30m0s"},
		{"PT8H", "8h0m0s"},
		{"PT1H30M", "1h30m0s"},
		{"PT0.5H", "30m0s"},
		{"PT1800S", "30m0s"},
		{"P1D", "24h0m0s"},
		{"P1DT2H", "26h0m0s"},
		{"P1W", "168h0m0s"},
		{"P0DT8H", "8h0m0s"},
		{"PT", ""},
		{"P", ""},
		{"8H", ""},
		{"PT8", ""},
		{"PTH", ""},
		{"P1DT", ""},
		{"PT1H2X", ""},
		{"pt8h", ""},
		{"PT1.2.3H", ""},
		{"", ""},
	}
	for _, tt := range tests {
		d, ok := parseISODuration(tt.in)
		got := ""
		if ok {
			got = d.String()
		}
		if got != tt.want {
			t.Errorf("parseISODuration(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
