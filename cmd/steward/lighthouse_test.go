package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lighthouseFixture is a file from the lighthouse package's test data.
func lighthouseFixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "lighthouse", "testdata"}, parts...)...)
}

type lighthouseResult struct {
	code           int
	stdout, stderr string
}

func runLighthouseT(t *testing.T, args ...string) lighthouseResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runLighthouse(context.Background(), args, &stdout, &stderr)
	return lighthouseResult{code, stdout.String(), stderr.String()}
}

func lighthouseWriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLighthouseValidateExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notJSON := lighthouseWriteFile(t, dir, "notes.json", "Reader for Steward, please\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string // in stdout or stderr
	}{
		{"clean", []string{"validate", lighthouseFixture("rules", "ok.json")}, 0, "ok.json: no findings"},
		{"warnings only", []string{"validate", lighthouseFixture("rules", "no-delete-role.json")}, 0, "0 errors, 1 warning"},
		{"errors", []string{"validate", lighthouseFixture("rules", "owner.json")}, 1, "error    owner"},
		{"errors and clean", []string{"validate", lighthouseFixture("rules", "ok.json"), lighthouseFixture("rules", "owner.json")}, 1, "2 files checked: 1 error, 0 warnings"},
		{"not JSON", []string{"validate", notJSON}, 2, "notes.json is not JSON: line 1, column 1"},
		{"not a Lighthouse template", []string{"validate", lighthouseFixture("forms", "not-lighthouse.json")}, 2, "not a Lighthouse template"},
		{"unreadable beats errors", []string{"validate", lighthouseFixture("rules", "owner.json"), notJSON}, 2, "cannot check"},
		{"missing file", []string{"validate", filepath.Join(dir, "nope.json")}, 2, "no such file"},
		{"no file", []string{"validate"}, 2, "no file given"},
		{"bad flag", []string{"validate", "--yaml", "x.json"}, 2, "flag provided but not defined"},
		{"unknown command", []string{"deploy"}, 2, "unknown command \"deploy\""},
		{"no command", nil, 2, "Usage: steward lighthouse"},
		{"help", []string{"-h"}, 0, "Usage: steward lighthouse"},
		{"validate help", []string{"validate", "-h"}, 0, "Exit status: 0 no errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runLighthouseT(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, tt.contains) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tt.contains, r.stdout, r.stderr)
			}
		})
	}
}

func TestLighthouseValidateJSON(t *testing.T) {
	t.Parallel()
	// Flags may follow the files.
	r := runLighthouseT(t, "validate", lighthouseFixture("rules", "uaa-delegated-data-actions.json"), "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(raw) != 2 {
		t.Fatalf("%d findings, want 2:\n%s", len(raw), r.stdout)
	}
	for _, f := range raw {
		for key, kind := range map[string]string{"severity": "string", "rule": "string", "message": "string", "authorization": "number", "roleDefinitionId": "string", "kind": "string", "file": "string"} {
			v, ok := f[key]
			got := map[bool]string{true: "number", false: "string"}[lighthouseIsNumber(v)]
			if !ok || got != kind {
				t.Errorf("field %q is %v, want a %s: %v", key, v, kind, f)
			}
		}
	}
	first := raw[0]
	want := map[string]any{
		"severity":         "error",
		"rule":             "uaa-delegated-role",
		"authorization":    4.0,
		"roleDefinitionId": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
		"kind":             "authorization",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	msg, _ := first["message"].(string)
	if !strings.Contains(msg, `Authorization 4 ("Policy automation", User Access Administrator)`) || !strings.Contains(msg, "Storage Blob Data Reader") {
		t.Errorf("message does not name the authorization and roles: %s", msg)
	}

	// A clean file prints an empty array, not null.
	r = runLighthouseT(t, "validate", "--json", lighthouseFixture("rules", "ok.json"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	// Unreadable input: exit 2, the reason on stderr, valid JSON on stdout.
	r = runLighthouseT(t, "validate", "--json", lighthouseFixture("forms", "array.json"))
	if r.code != 2 || strings.TrimSpace(r.stdout) != "[]" || !strings.Contains(r.stderr, "array.json is JSON but not a Lighthouse template") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func lighthouseIsNumber(v any) bool {
	_, ok := v.(float64)
	return ok
}

// Giving the template finds its parameters file beside it, and the other
// way round.
func TestLighthouseValidateSideBySide(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmpl, err := os.ReadFile(lighthouseFixture("forms", "undeclared.json"))
	if err != nil {
		t.Fatal(err)
	}
	lighthouseWriteFile(t, dir, "onboard.json", string(tmpl))
	lighthouseWriteFile(t, dir, "onboard.parameters.json", `{"parameters": {
	  "managedByTenantId": {"value": "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13"},
	  "authorizations": {"value": [{"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "principalIdDisplayName": "Admins", "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}]}}}`)
	for _, arg := range []string{"onboard.json", "onboard.parameters.json"} {
		r := runLighthouseT(t, "validate", filepath.Join(dir, arg))
		if r.code != 1 {
			t.Errorf("%s: exit %d\n%s%s", arg, r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"onboard.json (checked with onboard.parameters.json): no findings",
			"onboard.parameters.json (checked with onboard.json): 1 error, 2 warnings",
			`Authorization 1 ("Admins", Owner)`,
			"2 files checked",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", arg, want, r.stdout)
			}
		}
	}
}

func TestLighthouseTemplate(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "contoso")
	args := []string{
		"template",
		"--tenant", "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13",
		"--offer-name", "Contoso inventory",
		"--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,Reader",
		"--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,4a9ae827-6dc8-4573-8ac7-8239d42aa03f",
		"--authorization", "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d,Offboarding,Managed Services Registration assignment Delete Role",
		"--authorization", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f,Policy robots,User Access Administrator,Contributor",
		"--eligible", "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d,Offboarding,Reader,duration=PT1H,mfa=Azure,approver=d9b22cd6-6407-43cc-8c60-07c56df0b51a:Approvers",
		"--resource-group", "inventory",
		"--out", out,
	}
	r := runLighthouseT(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"template.json", "template.parameters.json"} {
		p := filepath.Join(out, name)
		if !strings.Contains(r.stdout, "Wrote "+p) {
			t.Errorf("stdout does not say it wrote %s:\n%s", p, r.stdout)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(r.stderr, "broader-than-needed") {
		t.Errorf("the User Access Administrator warning is missing from stderr:\n%s", r.stderr)
	}
	params, err := os.ReadFile(filepath.Join(out, "template.parameters.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"rgName": "inventory"`, `"maximumActivationDuration": "PT1H"`, `"b24988ac-6180-42a0-ab88-20f7382dd24c"`, `"principalIdDisplayName": "Approvers"`} {
		if !bytes.Contains(params, []byte(want)) {
			t.Errorf("parameters file lacks %s", want)
		}
	}

	// What it wrote validates without errors.
	if r := runLighthouseT(t, "validate", out); r.code != 0 {
		t.Errorf("validate the output: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// It does not overwrite unless told to.
	if r := runLighthouseT(t, args...); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second run: exit %d\n%s", r.code, r.stderr)
	}
	if r := runLighthouseT(t, append(args, "--force")...); r.code != 0 {
		t.Errorf("--force: exit %d\n%s", r.code, r.stderr)
	}
}

func TestLighthouseTemplateErrors(t *testing.T) {
	t.Parallel()
	base := []string{"template", "--tenant", "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13", "--offer-name", "X"}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"owner", []string{"--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Admins,Owner"}, 1, "owner"},
		{"eligible too long", []string{"--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,Reader", "--eligible", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,Contributor,duration=PT9H"}, 1, "activation-duration"},
		{"no authorization", nil, 1, "missing-field"},
		{"short authorization", []string{"--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward"}, 2, "want principalId,displayName,role"},
		{"bad eligible key", []string{"--eligible", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,Reader,hours=2"}, 2, "unknown key \"hours\""},
		{"bad scope", []string{"--scope", "tenant"}, 2, "scope is subscription or resourceGroup"},
		{"resource group scope without groups", []string{"--scope", "rg", "--authorization", "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c,Steward,Reader"}, 2, "at least one resource group"},
		{"stray argument", []string{"extra"}, 2, "unexpected argument"},
		{"help", []string{"-h"}, 0, "--authorization principalId,displayName,role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			r := runLighthouseT(t, append(append(slices.Clone(base), "--out", out), tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, tt.contains) {
				t.Errorf("output lacks %q:\n%s%s", tt.contains, r.stdout, r.stderr)
			}
			if entries, _ := os.ReadDir(out); tt.code != 0 && len(entries) > 0 {
				t.Errorf("files written despite exit %d", tt.code)
			}
		})
	}
}

// Microsoft's samples through the CLI: every template pairs with its
// parameters file, and the ones with errors make the exit status 1.
func TestLighthouseValidateMicrosoftSamples(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(cmp.Or(os.Getenv("STEWARD_AZURE_DIR"), "/work/shared/azure"), "lighthouse-samples")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Microsoft's Lighthouse samples are not at %s (set STEWARD_AZURE_DIR): %v", dir, err)
	}
	r := runLighthouseT(t, "validate", dir)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "cannot check") || strings.Count(r.stdout, "(checked with ") != 22 {
		t.Errorf("not every sample was paired and checked:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "22 files checked: 11 errors") {
		t.Errorf("summary:\n%s", r.stdout)
	}
}
