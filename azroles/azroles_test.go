package azroles

import (
	"testing"

	"github.com/stewardhq/steward"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	c := BuiltIn()
	if n := len(c.All()); n != 928 {
		t.Fatalf("%d roles, want 928", n)
	}
	tc, ok := c.ByName("tag contributor")
	if !ok || tc.ID != steward.BuiltInTagContributor {
		t.Fatalf("ByName(tag contributor) = %v %v", tc.ID, ok)
	}
	if r, ok := c.ByID("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/" + steward.BuiltInOwner); !ok || r.RoleName != "Owner" {
		t.Fatalf("ByID(full ID) = %v %v", r.RoleName, ok)
	}
	if _, ok := c.ByID("00000000-0000-0000-0000-000000000000"); ok {
		t.Fatal("found a role that does not exist")
	}
	// Tag Contributor writes tags, reads resource lists, and writes nothing else.
	for action, want := range map[string]bool{
		"Microsoft.Resources/tags/write":                         true,
		"Microsoft.Resources/subscriptions/resources/read":       true,
		"Microsoft.Resources/subscriptions/resourceGroups/read":  true,
		"Microsoft.Compute/virtualMachines/write":                false,
		"Microsoft.Authorization/roleAssignments/write":          false,
		"Microsoft.Storage/storageAccounts/listKeys/action":      false,
		"Microsoft.Resources/subscriptions/resourceGroups/write": false,
		"Microsoft.CostManagement/query/read":                    false,
	} {
		if got := tc.Allows(action); got != want {
			t.Errorf("Tag Contributor allows %s = %v, want %v", action, got, want)
		}
	}
	// The narrowest built-in role that can write tags and list resources.
	g := c.Granting("Microsoft.Resources/tags/write", "Microsoft.Resources/subscriptions/resources/read")
	if len(g) == 0 || g[0].RoleName != "Tag Contributor" {
		t.Fatalf("narrowest role for tag writes = %v", g[0].RoleName)
	}
	owner, _ := c.ByID(steward.BuiltInOwner)
	if len(g) < 3 || g[len(g)-1].RoleName == "Tag Contributor" || !containsRole(g, owner.RoleName) {
		t.Fatal("Granting does not list broader roles after narrower ones")
	}
}

func containsRole(rs []steward.RoleDefinition, name string) bool {
	for _, r := range rs {
		if r.RoleName == name {
			return true
		}
	}
	return false
}
