package lighthouse

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// The forms the validator reads, from testdata/forms, and the clear
// messages for what it cannot read.
func TestInputForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		want    []string // summary lines, as in TestRules
		wantErr string   // substring of the EINVALID message
	}{
		{name: "template with its parameters file", files: []string{"subscription.json", "subscription.parameters.json"}},
		{name: "parameters file first", files: []string{"subscription.parameters.json", "subscription.json"}},
		{
			name:  "template alone: parameters without values are not guessed",
			files: []string{"subscription.json"},
			want: []string{
				"warning unresolved definition 0",
				"warning unresolved authorization 1 " + idReader,
				"warning unresolved authorization 2 " + steward.BuiltInTagContributor,
				"warning unresolved authorization 3 " + idDelete,
			},
		},
		{
			name:  "inner-scope nested deployment fed from defaults",
			files: []string{"nested-inner.json"},
			want: []string{
				"warning no-delete-role definition 0 " + idDelete,
				"error owner authorization 2 " + idOwner,
			},
		},
		{
			name:  "languageVersion 2.0 with a property copy loop",
			files: []string{"property-copy.json"},
			want:  []string{"error data-actions authorization 3 " + idBlob},
		},
		{name: "comments and a byte order mark", files: []string{"commented.json"}},
		{name: "no assignment", files: []string{"no-assignment.json"}, want: []string{"warning no-assignment definition 0"}},
		{name: "resource group schema", files: []string{"rg-schema.json"}, want: []string{"warning deployment-scope definition 0"}},
		{
			name:  "parameter not declared",
			files: []string{"undeclared.json", "undeclared.parameters.json"},
			want:  []string{"error parameter-not-declared definition 0"},
		},
		{
			name:  "key vault reference",
			files: []string{"keyvault.parameters.json"},
			want:  []string{"warning unresolved definition 0"},
		},
		{name: "not JSON", files: []string{"not-json.json"}, wantErr: "not-json.json is not JSON: line 3, column 68: invalid character '}'"},
		{name: "an ARM template without a delegation", files: []string{"not-lighthouse.json"}, wantErr: "not-lighthouse.json is an ARM template but not a Lighthouse template: it has no Microsoft.ManagedServices/registrationDefinitions resource"},
		{name: "an array", files: []string{"array.json"}, wantErr: "array.json is JSON but not a Lighthouse template: the top level is an array"},
		{name: "unrelated JSON", files: []string{"unrelated.json"}, wantErr: "unrelated.json is JSON but not a Lighthouse template"},
		{name: "parameters without authorizations", files: []string{"no-authorizations.parameters.json"}, wantErr: "without an \"authorizations\" parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var paths []string
			for _, f := range tt.files {
				paths = append(paths, filepath.Join("testdata", "forms", f))
			}
			fs, err := validatePaths(t, paths...)
			if tt.wantErr != "" {
				if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got error %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(fs); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("findings:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Findings name the file the value came from: values passed in whole from
// the parameters file are its, the rest the template's.
func TestFindingFiles(t *testing.T) {
	t.Parallel()
	tmpl := `{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
	  "parameters": {"tenant": {"type": "string"}, "auths": {"type": "array"}},
	  "resources": [
	    {"type": "Microsoft.ManagedServices/registrationDefinitions", "name": "x",
	     "properties": {"managedByTenantId": "[parameters('tenant')]", "authorizations": "[parameters('auths')]"}}]}`
	params := `{"parameters": {"tenant": {"value": "nope"}, "auths": {"value": [
	    {"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "roleDefinitionId": "` + idOwner + `"}]}}}`
	fs, err := svc.LighthouseValidate(context.Background(),
		steward.LighthouseFile{Name: "t.json", Data: []byte(tmpl)},
		steward.LighthouseFile{Name: "t.parameters.json", Data: []byte(params)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+" "+f.File)
	}
	want := []string{
		"no-assignment t.json",
		"invalid-guid t.parameters.json",
		"no-delete-role t.parameters.json",
		"no-reader t.parameters.json",
		"owner t.parameters.json",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A template with several definitions numbers them in its findings.
func TestSeveralDefinitions(t *testing.T) {
	t.Parallel()
	def := func(role string) string {
		return `{"type": "Microsoft.ManagedServices/registrationDefinitions", "name": "x", "properties": {
		  "managedByTenantId": "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13",
		  "authorizations": [
		    {"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "roleDefinitionId": "` + idReader + `"},
		    {"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "roleDefinitionId": "` + idDelete + `"},
		    {"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "roleDefinitionId": "` + role + `"}]}}`
	}
	tmpl := `{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
	  "variables": {"props": "[subscription()]"},
	  "resources": [` + def(steward.BuiltInTagContributor) + `, ` + def(idOwner) + `,
	    {"type": "Microsoft.ManagedServices/registrationDefinitions", "name": "y", "properties": "[variables('props')]"},
	    {"type": "Microsoft.ManagedServices/registrationAssignments", "name": "x", "properties": {}}]}`
	fs, err := svc.LighthouseValidate(context.Background(), steward.LighthouseFile{Name: "two.json", Data: []byte(tmpl)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%d %s %s", f.Definition, f.Severity, f.Rule))
	}
	want := []string{"2 error owner", "3 warning unresolved", "3 warning unresolved"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPair(t *testing.T) {
	t.Parallel()
	tmpl := func(params ...string) []byte {
		decl := map[string]any{}
		for _, p := range params {
			decl[p] = map[string]any{"type": "string"}
		}
		b, _ := json.Marshal(map[string]any{"parameters": decl, "resources": []any{}})
		return b
	}
	params := func(names ...string) []byte {
		vals := map[string]any{}
		for _, n := range names {
			vals[n] = map[string]any{"value": "x"}
		}
		b, _ := json.Marshal(map[string]any{"parameters": vals})
		return b
	}
	tests := []struct {
		name  string
		files []steward.LighthouseFile
		want  string
	}{
		{
			name: "by name, in either order",
			files: []steward.LighthouseFile{
				{Name: "a/x.parameters.json", Data: params("p")},
				{Name: "a/y.json", Data: tmpl("p")},
				{Name: "a/x.json", Data: tmpl("p")},
				{Name: "a/y.parameters.json", Data: params("p")},
			},
			want: "[a/x.json a/x.parameters.json] [a/y.json a/y.parameters.json]",
		},
		{
			name: "leftover pairs by folder and declared parameters",
			files: []steward.LighthouseFile{
				{Name: "rg/rg.json", Data: tmpl("rgName")},
				{Name: "rg/rg.parameters.json", Data: params("rgName")},
				{Name: "rg/multi-rg.json", Data: tmpl("resourceGroups")},
				{Name: "rg/multiple-rg.parameters.json", Data: params("resourceGroups")},
				{Name: "other/lone.parameters.json", Data: params("resourceGroups")},
			},
			want: "[rg/rg.json rg/rg.parameters.json] [rg/multi-rg.json rg/multiple-rg.parameters.json] [other/lone.parameters.json]",
		},
		{
			name: "ambiguous leftovers stay alone",
			files: []steward.LighthouseFile{
				{Name: "a.json", Data: tmpl("p")},
				{Name: "b.json", Data: tmpl("p")},
				{Name: "c.parameters.json", Data: params("p")},
			},
			want: "[a.json] [b.json] [c.parameters.json]",
		},
		{
			name: "unreadable files stay alone",
			files: []steward.LighthouseFile{
				{Name: "x.json", Data: []byte("{")},
				{Name: "x.parameters.json", Data: params("p")},
			},
			want: "[x.json] [x.parameters.json]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var parts []string
			for _, g := range Pair(tt.files) {
				var names []string
				for _, f := range g {
					names = append(names, f.Name)
				}
				parts = append(parts, fmt.Sprint(names))
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateNoFiles(t *testing.T) {
	t.Parallel()
	if _, err := svc.LighthouseValidate(context.Background()); steward.ErrorCode(err) != steward.EINVALID {
		t.Errorf("got %v, want EINVALID", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := svc.LighthouseValidate(ctx, steward.LighthouseFile{Name: "x.json", Data: []byte("{}")}); err == nil {
		t.Error("a cancelled context validated")
	}
}

func TestExpressions(t *testing.T) {
	t.Parallel()
	ev := newEvaluator(newBudget(context.Background(), defaultLimits))
	ev.params["p"] = paramDef{defaultValue: "[concat('de', 'fault')]", hasDefault: true}
	ev.params["list"] = paramDef{}
	ev.values["list"] = []any{map[string]any{"Name": "first"}, map[string]any{"name": "second"}}
	ev.params["nodefault"] = paramDef{}
	ev.vars["v"] = map[string]any{"role": "[parameters('P')]", "n": "[length(parameters('list'))]"}
	ev.vars["self"] = "[variables('self')]"
	tests := []struct {
		in   string
		want string // fmt %v of the result; "?" for unresolved
	}{
		{"plain", "plain"},
		{"[[not an expression]", "[not an expression]"},
		{"[parameters('p')]", "default"},
		{"[variables('v').role]", "default"},
		{"[variables('V')['n']]", "2"},
		{"[parameters('list')[1].name]", "second"},
		{"[parameters('list')[0].name]", "first"}, // property names are case-insensitive
		{"[toLower(concat('A', 'b', 1))]", "ab1"},
		{"[if(equals(parameters('p'), 'default'), 'yes', 'no')]", "yes"},
		{"[if(not(true()), 'yes', 'no')]", "no"},
		{"[createArray('a', 'b')]", "[a b]"},
		{"[length(createObject('a', 1))]", "1"},
		{"[coalesce(null(), 'c')]", "c"},
		{"[empty(json('[]'))]", "true"},
		{"[string(concat(createArray('a'), createArray('b')))]", "?"},
		{"[concat('it''s')]", "it's"},
		{"[ parameters( 'p' ) ]", "default"},
		{"[guid(parameters('p'))]", "?"},
		{"[subscription().tenantId]", "?"},
		{"[parameters('nodefault')]", "?"},
		{"[parameters('undeclared')]", "?"},
		{"[variables('missing')]", "?"},
		{"[variables('self')]", "?"},
		{"[parameters('list')[5]]", "?"},
		{"[copyIndex()]", "?"},
		{"[parameters('p'", "[parameters('p'"}, // not bracketed: a plain string
		{"[unterminated('x)]", "?"},
		{"[]", "?"},
	}
	for _, tt := range tests {
		v := ev.evalString(tt.in)
		got := fmt.Sprint(v)
		if u, ok := v.(unresolved); ok {
			got = "?"
			if u.expr == "" {
				t.Errorf("%s: unresolved without its expression", tt.in)
			}
		}
		if got != tt.want {
			t.Errorf("evalString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
