package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// Fidelity: response bodies against Microsoft's published REST examples
// (azure-rest-api-specs, copied under STEWARD_AZURE_DIR/rest-api-specs).
// Values differ, of course; the shape must not: every field the example
// has, ours has too, at the same place, with the same JSON type. Ours may
// carry more fields (real responses do).

func azureDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("STEWARD_AZURE_DIR")
	if d == "" {
		d = filepath.Join("..", "..", "shared", "azure")
	}
	if _, err := os.Stat(filepath.Join(d, "rest-api-specs")); err != nil {
		t.Skipf("Azure ground truth not found at %s (set STEWARD_AZURE_DIR to the azure/ folder): %v", d, err)
	}
	return d
}

type restExample struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func loadExample(t *testing.T, dir, rel string) restExample {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "rest-api-specs", rel))
	if err != nil {
		t.Fatalf("example %s: %v", rel, err)
	}
	var ex restExample
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatalf("example %s: %v", rel, err)
	}
	return ex
}

// requestBody is the example's request body ("parameters" inside parameters).
func (ex restExample) requestBody(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if raw, ok := ex.Parameters["parameters"]; ok {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (ex restExample) body(t *testing.T, status string) any {
	t.Helper()
	r, ok := ex.Responses[status]
	if !ok || len(r.Body) == 0 {
		t.Fatalf("example has no %s body", status)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// optionalFields may be missing from ours when there is nothing to say.
var optionalFields = map[string]bool{"nextLink": true}

// sameShape reports how got differs in shape from want.
func sameShape(path string, want, got any) []string {
	switch w := want.(type) {
	case nil:
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", path, got)}
		}
		if strings.HasSuffix(path, ".tags") {
			// Tag names are data, not schema: a map of strings.
			for k, v := range g {
				if _, ok := v.(string); !ok {
					return []string{fmt.Sprintf("%s.%s: tag value is %T", path, k, v)}
				}
			}
			return nil
		}
		var out []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if !optionalFields[k] && wv != nil {
					out = append(out, path+"."+k+": missing")
				}
				continue
			}
			out = append(out, sameShape(path+"."+k, wv, gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", path, got)}
		}
		if len(w) > 0 && len(g) > 0 {
			return sameShape(path+"[0]", w[0], g[0])
		}
		return nil
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return []string{fmt.Sprintf("%s: want %T, got %T", path, want, got)}
		}
		return nil
	}
}

func TestFidelityWithRESTExamples(t *testing.T) {
	t.Parallel()
	dir := azureDir(t)
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	partner := b.tenant(t, PartnerTenantName)
	sub := contoso.Subscriptions[0]
	admin := string(b.userToken(t, b.admin(t, ContosoTenantName)))
	// Give the subscription what the examples show: tags and a managing tenant.
	b.e.w.mu.Lock()
	b.e.w.subscription(sub).ManagedByTenants = []string{partner.ID}
	b.e.w.mu.Unlock()
	b.do(t, "PUT", "/subscriptions/"+sub+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", admin,
		map[string]any{"properties": map[string]any{"tags": map[string]string{"tagKey1": "tagValue1"}}}, nil)

	var vault string
	var all struct{ Value []map[string]any }
	b.do(t, "GET", "/subscriptions/"+sub+"/resources?api-version=2021-04-01&$filter="+q("resourceType eq 'Microsoft.KeyVault/vaults'"), admin, nil, &all)
	vault = all.Value[0]["id"].(string)
	var someone string
	for _, u := range contoso.Users {
		if len(u.Roles) == 0 {
			someone = u.ObjectID
		}
	}

	check := func(t *testing.T, rel, status, method, path string, body any, wantStatus int) any {
		t.Helper()
		ex := loadExample(t, dir, rel)
		if body == nil {
			if rb := ex.requestBody(t); rb != nil {
				body = rb
			}
		}
		var got any
		r := b.do(t, method, path, admin, body, &got)
		if r.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %v", method, path, r.StatusCode, got)
		}
		if diffs := sameShape("$", ex.body(t, status), got); len(diffs) > 0 {
			t.Fatalf("%s differs from the example:\n%s", rel, strings.Join(diffs, "\n"))
		}
		return got
	}
	listFirst := func(t *testing.T, rel, path string) {
		t.Helper()
		ex := loadExample(t, dir, rel)
		var got map[string]any
		b.do(t, "GET", path, admin, nil, &got)
		if diffs := sameShape("$", ex.body(t, "200"), got); len(diffs) > 0 {
			t.Fatalf("%s differs from the example:\n%s", rel, strings.Join(diffs, "\n"))
		}
	}

	t.Run("subscriptions", func(t *testing.T) {
		check(t, "subscriptions/2022-12-01/GetSubscription.json", "200", "GET", "/subscriptions/"+sub+"?api-version=2022-12-01", nil, 200)
		listFirst(t, "subscriptions/2022-12-01/GetSubscriptions.json", "/subscriptions?api-version=2022-12-01")
	})
	t.Run("resource groups", func(t *testing.T) {
		check(t, "resources/2025-04-01/CreateResourceGroup.json", "201", "PUT", "/subscriptions/"+sub+"/resourcegroups/my-resource-group?api-version=2025-04-01", nil, 201)
		check(t, "resources/2025-04-01/CreateResourceGroup.json", "200", "PUT", "/subscriptions/"+sub+"/resourcegroups/my-resource-group?api-version=2025-04-01", nil, 200)
		check(t, "resources/2025-04-01/ResourceGroups_Get.json", "200", "GET", "/subscriptions/"+sub+"/resourcegroups/my-resource-group?api-version=2025-04-01", nil, 200)
	})
	t.Run("tags", func(t *testing.T) {
		for kind, scope := range map[string]string{"Resource": vault, "Subscription": "/subscriptions/" + sub} {
			path := scope + "/providers/Microsoft.Resources/tags/default?api-version=2025-04-01"
			check(t, "resources/2025-04-01/PutTags"+kind+".json", "200", "PUT", path, nil, 200)
			check(t, "resources/2025-04-01/PatchTags"+kind+".json", "200", "PATCH", path, nil, 200)
			check(t, "resources/2025-04-01/GetTags"+kind+".json", "200", "GET", path, nil, 200)
			if r := b.do(t, "DELETE", path, admin, nil, nil); r.StatusCode != 200 {
				t.Fatalf("DeleteTags%s: %d", kind, r.StatusCode)
			}
		}
	})
	t.Run("role definitions", func(t *testing.T) {
		// Storage Blob Data Reader has data actions, so every array is compared.
		const blobReader = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
		check(t, "authorization/2022-04-01/GetRoleDefinitionById.json", "200", "GET", "/providers/Microsoft.Authorization/roleDefinitions/"+blobReader+"?api-version=2022-04-01", nil, 200)
		check(t, "authorization/2022-04-01/GetRoleDefinitionByName.json", "200", "GET", "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleDefinitions/"+blobReader+"?api-version=2022-04-01", nil, 200)
	})
	t.Run("role assignments", func(t *testing.T) {
		body := func() map[string]any {
			return map[string]any{"properties": map[string]any{
				"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + steward.BuiltInReader,
				"principalId":      someone, "principalType": "User"}}
		}
		scopes := map[string]string{
			"Subscription":  "/subscriptions/" + sub,
			"ResourceGroup": "/subscriptions/" + sub + "/resourceGroups/my-resource-group",
			"Resource":      vault,
		}
		var subAssignment string
		for kind, scope := range scopes {
			name := newGUID()
			check(t, "authorization/2022-04-01/RoleAssignments_CreateFor"+kind+".json", "201", "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version=2022-04-01", body(), 201)
			if kind == "Subscription" {
				subAssignment = name
			}
		}
		path := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments"
		check(t, "authorization/2022-04-01/RoleAssignments_Get.json", "200", "GET", path+"/"+subAssignment+"?api-version=2022-04-01", nil, 200)
		listFirst(t, "authorization/2022-04-01/RoleAssignments_ListForScope.json", path+"?api-version=2022-04-01")
		check(t, "authorization/2022-04-01/RoleAssignments_Delete.json", "200", "DELETE", path+"/"+subAssignment+"?api-version=2022-04-01", nil, 200)
		if r := b.do(t, "DELETE", path+"/"+subAssignment+"?api-version=2022-04-01", admin, nil, nil); r.StatusCode != 204 {
			t.Fatalf("second delete: %d", r.StatusCode)
		}
	})
}
