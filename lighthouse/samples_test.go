package lighthouse

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// sampleDir finds Microsoft's Lighthouse samples: $STEWARD_AZURE_DIR, else
// the shared folder beside the repository on the team's machines.
func sampleDir(t testing.TB) string {
	t.Helper()
	dir := samplesPath()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Microsoft's Lighthouse samples are not at %s (set STEWARD_AZURE_DIR to the folder holding lighthouse-samples/): %v", dir, err)
	}
	return dir
}

func samplesPath() string {
	return filepath.Join(cmp.Or(os.Getenv("STEWARD_AZURE_DIR"), "/work/shared/azure"), "lighthouse-samples")
}

func readSamples(t testing.TB, dir string) []steward.LighthouseFile {
	t.Helper()
	var files []steward.LighthouseFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, steward.LighthouseFile{Name: filepath.ToSlash(rel), Data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(files, func(a, b steward.LighthouseFile) int { return strings.Compare(a.Name, b.Name) })
	return files
}

// Microsoft's samples, each template with its parameters file, checked by
// hand against the rules:
//
//   - All principals are the all-zero placeholder (placeholder-id).
//   - User Access Administrator with delegatedRoleDefinitionIds is fine in
//     itself, but the samples let it assign Log Analytics Contributor
//     (92aaf0da…), which has since gained a DataAction
//     (Microsoft.OperationalInsights/workspaces/jobs/export/action), so it
//     is no longer a supported role and uaa-delegated-role is an error.
//     Microsoft notes roles that gain DataActions can't be used in new
//     delegations. The marketplace sample lets it assign Storage Account and
//     Virtual Machine Contributor, which are fine.
//   - Several parameters files still say "<insert managing tenant id>"
//     (invalid-guid): they cannot deploy as they are.
//   - Contributor and Resource Policy Contributor are supported (their
//     actions are not in Microsoft's list) but broader than Steward needs;
//     Contributor also reaches storage keys (list-keys).
//   - The marketplace sample has no Delete Role (no-delete-role).
//
// Samples without errors: eligible rg.json, eligible
// subscription-managing-tenant-approvers.json, marketplace.
func TestMicrosoftSamples(t *testing.T) {
	t.Parallel()
	dir := sampleDir(t)
	want := map[string][]string{
		"delegated-resource-management-azmigrate/delegatedResourceManagementAzMigrate.json": {
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"warning list-keys authorization 3",
			"warning broader-than-needed authorization 3",
			"error uaa-delegated-role authorization 4",
			"warning placeholder-id authorization 4",
			"warning broader-than-needed authorization 4",
		},
		"delegated-resource-management-eligible-authorizations/rg/multiple-rg-managing-tenant-approvers.json": {
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"error uaa-delegated-role authorization 3",
			"warning placeholder-id authorization 3",
			"warning broader-than-needed authorization 3",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
			"warning placeholder-id eligibleAuthorization 1",
		},
		"delegated-resource-management-eligible-authorizations/rg/multiple-rg.json": {
			"error invalid-guid definition 0",
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
		},
		"delegated-resource-management-eligible-authorizations/rg/rg-managing-tenant-approvers.json": {
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"error uaa-delegated-role authorization 3",
			"warning placeholder-id authorization 3",
			"warning broader-than-needed authorization 3",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
			"warning placeholder-id eligibleAuthorization 1",
		},
		"delegated-resource-management-eligible-authorizations/rg/rg.json": {
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
		},
		"delegated-resource-management-eligible-authorizations/subscription/subscription-managing-tenant-approvers.json": {
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
			"warning placeholder-id eligibleAuthorization 1",
		},
		"delegated-resource-management-eligible-authorizations/subscription/subscription.json": {
			"error invalid-guid definition 0",
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"warning placeholder-id eligibleAuthorization 1",
			"warning broader-than-needed eligibleAuthorization 1",
		},
		"delegated-resource-management/rg/multi-rg.json": {
			"error invalid-guid definition 0",
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"error uaa-delegated-role authorization 3",
			"warning placeholder-id authorization 3",
			"warning broader-than-needed authorization 3",
		},
		"delegated-resource-management/rg/rg.json": {
			"error invalid-guid definition 0",
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"error uaa-delegated-role authorization 3",
			"warning placeholder-id authorization 3",
			"warning broader-than-needed authorization 3",
		},
		"delegated-resource-management/subscription/subscription.json": {
			"error invalid-guid definition 0",
			"warning placeholder-id authorization 1",
			"warning placeholder-id authorization 2",
			"error uaa-delegated-role authorization 3",
			"warning placeholder-id authorization 3",
			"warning broader-than-needed authorization 3",
		},
		"marketplace-delegated-resource-management/marketplaceDelegatedResourceManagement.json": {
			"warning no-delete-role definition 0",
			"warning list-keys authorization 1",
			"warning broader-than-needed authorization 1",
			"warning list-keys authorization 2",
			"warning broader-than-needed authorization 2",
			"warning broader-than-needed authorization 3",
			"warning broader-than-needed authorization 4",
		},
	}
	files := readSamples(t, dir)
	groups := Pair(files)
	seen := map[string]bool{}
	for _, g := range groups {
		name := g[0].Name
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			if len(g) != 2 {
				t.Fatalf("%s was not paired with its parameters file: %d file(s)", name, len(g))
			}
			fs, err := svc.LighthouseValidate(t.Context(), g...)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, f := range fs {
				got = append(got, strings.Join([]string{string(f.Severity), f.Rule, f.Kind, strconv.Itoa(f.Authorization)}, " "))
				if f.File != g[1].Name {
					t.Errorf("%s: finding %s names %q, not the parameters file", name, f.Rule, f.File)
				}
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s; findings: %q", name, got)
			}
			if !slices.Equal(got, w) {
				t.Errorf("findings:\n got %q\nwant %q", got, w)
			}

			// The parameters file alone says the same: the templates add
			// nothing but plumbing.
			alone, err := svc.LighthouseValidate(t.Context(), g[1])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(summary(alone), summary(fs)) {
				t.Errorf("parameters file alone:\n got %q\nwant %q", summary(alone), summary(fs))
			}
		})
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("sample %s is gone", name)
		}
	}
}

// A sample template alone cannot be judged where its authorizations come
// from parameters without values, and says so; with defaults it is checked.
func TestMicrosoftSampleTemplatesAlone(t *testing.T) {
	t.Parallel()
	dir := sampleDir(t)
	for _, f := range readSamples(t, dir) {
		if strings.HasSuffix(f.Name, ".parameters.json") {
			continue
		}
		fs, err := svc.LighthouseValidate(t.Context(), f)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		rules := []string{}
		for _, x := range fs {
			rules = append(rules, x.Rule)
		}
		switch {
		case strings.Contains(f.Name, "azmigrate"):
			// Its defaults hold the authorizations: Contributor for the
			// migration team, without the User Access Administrator of its
			// parameters file.
			want := []string{"placeholder-id", "placeholder-id", "list-keys", "broader-than-needed"}
			if !slices.Equal(rules, want) {
				t.Errorf("%s: got %q, want %q", f.Name, rules, want)
			}
		default:
			for _, x := range fs {
				if x.Rule != steward.LighthouseRuleUnresolved {
					t.Errorf("%s: %s: %s", f.Name, x.Rule, x.Message)
				}
			}
			if !slices.Contains(rules, steward.LighthouseRuleUnresolved) {
				t.Errorf("%s: no unresolved finding", f.Name)
			}
		}
	}
}
