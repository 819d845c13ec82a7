package azure

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/stewardhq/steward"
)

// sdkResourcePage is how Resources mapped armresources' model before the
// lean decode; the lean decode must give the same resources.
func sdkResourcePage(subscriptionID string, res armresources.ResourceListResult) *steward.ResourcePage {
	p := &steward.ResourcePage{Resources: make([]*steward.Resource, 0, len(res.Value)), Next: deref(res.NextLink)}
	for _, r := range res.Value {
		if r == nil || r.ID == nil {
			continue
		}
		p.Resources = append(p.Resources, &steward.Resource{
			ID: *r.ID, SubscriptionID: subscriptionID, ResourceGroup: groupOf(*r.ID),
			Name: deref(r.Name), Type: deref(r.Type), Location: deref(r.Location), Tags: tagMap(r.Tags),
		})
	}
	return p
}

func TestLeanDecodeMatchesSDK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
	}{
		{"full", `{"value":[{"id":"/subscriptions/s/resourceGroups/G1/providers/Microsoft.Compute/virtualMachines/vm1","name":"vm1",
			"type":"Microsoft.Compute/virtualMachines","location":"westeurope","kind":"k","sku":{"name":"Standard"},
			"identity":{"type":"SystemAssigned"},"properties":{"x":1},"managedBy":"m","plan":{"name":"p"},"extendedLocation":{"name":"e"},
			"tags":{"env":"prod","Owner":"Ann","empty":"","nil":null}}],"nextLink":"https://management.azure.com/subscriptions/s/resources?$skiptoken=a"}`},
		{"no tags", `{"value":[{"id":"/subscriptions/s/providers/Microsoft.Web/sites/a","name":"a","type":"t","location":"l"},
			{"id":"/subscriptions/s/resourcegroups/g/providers/x/y/z","name":"z","type":"x/y","location":"l","tags":{}},
			{"id":"/subscriptions/s/resourceGroups/g/providers/x/y/w","tags":null}]}`},
		{"nulls", `{"value":[null,{"name":"no-id"},{"id":"/subscriptions/s/resourceGroups/g/providers/a/b/c","name":null,"type":null,"location":null}],"nextLink":null}`},
		{"empty", `{"value":[]}`},
		{"nothing", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sdk armresources.ResourceListResult
			if err := json.Unmarshal([]byte(tt.body), &sdk); err != nil {
				t.Fatal(err)
			}
			var lean armResourceList
			if err := json.Unmarshal([]byte(tt.body), &lean); err != nil {
				t.Fatal(err)
			}
			want, got := sdkResourcePage("s", sdk), resourcePage("s", &lean)
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Fatalf("lean decode differs:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestLeanGroupDecodeMatchesSDK(t *testing.T) {
	t.Parallel()
	body := `{"value":[{"id":"/subscriptions/s/resourceGroups/g1","name":"g1","type":"Microsoft.Resources/resourceGroups","location":"westeurope",
		"properties":{"provisioningState":"Succeeded"},"managedBy":"m","tags":{"env":"prod","n":null}},
		{"id":"/subscriptions/s/resourceGroups/g2","name":"g2","location":"northeurope","tags":{}},null],"nextLink":"x"}`
	var sdk armresources.ResourceGroupListResult
	if err := json.Unmarshal([]byte(body), &sdk); err != nil {
		t.Fatal(err)
	}
	var lean armGroupList
	if err := json.Unmarshal([]byte(body), &lean); err != nil {
		t.Fatal(err)
	}
	var want, got []*steward.ResourceGroup
	for _, g := range sdk.Value {
		if g != nil {
			want = append(want, &steward.ResourceGroup{SubscriptionID: "s", Name: deref(g.Name), Location: deref(g.Location), Tags: tagMap(g.Tags)})
		}
	}
	for _, g := range lean.Value {
		if g != nil {
			got = append(got, &steward.ResourceGroup{SubscriptionID: "s", Name: g.Name, Location: g.Location, Tags: leanTags(g.Tags)})
		}
	}
	if !reflect.DeepEqual(got, want) || lean.NextLink != deref(sdk.NextLink) {
		t.Fatalf("lean decode differs:\n got %+v\nwant %+v", got, want)
	}
}

func BenchmarkDecodeResourcePage(b *testing.B) {
	page := armResourceList{NextLink: "https://management.azure.com/subscriptions/s/resources?$skiptoken=abc"}
	for i := range 1000 {
		page.Value = append(page.Value, &armResource{
			ID:   "/subscriptions/s/resourceGroups/rg-01/providers/Microsoft.Compute/virtualMachines/vm-" + string(rune('a'+i%26)),
			Name: "vm", Type: "Microsoft.Compute/virtualMachines", Location: "westeurope",
			Tags: map[string]string{"env": "prod", "owner": "owner-042", "app": "billing"},
		})
	}
	body, _ := json.Marshal(page)
	b.Run("sdk", func(b *testing.B) {
		for b.Loop() {
			var res armresources.ResourceListResult
			if err := json.Unmarshal(body, &res); err != nil {
				b.Fatal(err)
			}
			sdkResourcePage("s", res)
		}
	})
	b.Run("lean", func(b *testing.B) {
		for b.Loop() {
			var res armResourceList
			if err := json.Unmarshal(body, &res); err != nil {
				b.Fatal(err)
			}
			resourcePage("s", &res)
		}
	})
}

func TestGroupOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ id, want string }{
		{"", ""},
		{"/subscriptions/s", ""},
		{"/subscriptions/s/resourceGroups", ""},
		{"/subscriptions/s/resourceGroups/", ""},
		{"/subscriptions/s/resourceGroups/g", "g"},
		{"/subscriptions/s/RESOURCEGROUPS/G/providers/a/b/c", "G"},
		{"subscriptions/s/resourcegroups/g/", "g"},
		{"/subscriptions/s/resourceGroups//x", ""},
		{"/subscriptions/s/providers/a/resourceGroups/g", "g"},
	} {
		if got := groupOf(tt.id); got != tt.want {
			t.Errorf("groupOf(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
