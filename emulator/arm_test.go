package emulator

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
)

func listAll(t *testing.T, rc *armresources.Client, opts *armresources.ClientListOptions) ([]*armresources.GenericResourceExpanded, int) {
	t.Helper()
	var out []*armresources.GenericResourceExpanded
	pages := 0
	p := rc.NewListPager(opts)
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Value...)
		pages++
	}
	return out, pages
}

func TestSubscriptionsAndTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cred := staticCred(b.userToken(t, b.admin(t, ContosoTenantName)))
	sc, _ := armsubscriptions.NewClient(cred, b.armOptions())
	page, err := sc.NewListPager(nil).NextPage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	contoso := b.tenant(t, ContosoTenantName)
	if len(page.Value) != len(contoso.Subscriptions) {
		t.Fatalf("admin sees %d subscriptions", len(page.Value))
	}
	for _, s := range page.Value {
		if *s.TenantID != contoso.ID || *s.State != armsubscriptions.SubscriptionStateEnabled || s.SubscriptionPolicies == nil || s.ManagedByTenants == nil {
			t.Fatalf("subscription %+v", s)
		}
	}
	got, err := sc.Get(context.Background(), contoso.Subscriptions[1], nil)
	if err != nil || *got.SubscriptionID != contoso.Subscriptions[1] {
		t.Fatalf("get: %v", err)
	}
	// Northwind's subscription is another tenant's: the token is refused.
	_, err = sc.Get(context.Background(), b.tenant(t, NorthwindTenantName).Subscriptions[0], nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 || re.ErrorCode != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("other tenant's subscription: %v", err)
	}
	tc, _ := armsubscriptions.NewTenantsClient(cred, b.armOptions())
	tp, err := tc.NewListPager(nil).NextPage(context.Background())
	if err != nil || len(tp.Value) != 1 || *tp.Value[0].TenantID != contoso.ID || *tp.Value[0].TenantCategory != armsubscriptions.TenantCategoryHome {
		t.Fatalf("tenants: %v %+v", err, tp.Value)
	}
	lp, err := sc.NewListLocationsPager(contoso.Subscriptions[0], nil).NextPage(context.Background())
	if err != nil || len(lp.Value) != len(locations) {
		t.Fatalf("locations: %v", err)
	}
}

func TestListResourcesPagingAndFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	rc, _ := armresources.NewClient(sub, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.armOptions())
	all, pages := listAll(t, rc, nil)
	if len(all) < 50 || pages != 1 {
		t.Fatalf("default page: %d resources in %d pages", len(all), pages)
	}
	paged, pages := listAll(t, rc, &armresources.ClientListOptions{Top: to.Ptr[int32](7)})
	if len(paged) != len(all) || pages != (len(all)+6)/7 {
		t.Fatalf("$top=7: %d resources in %d pages, want %d", len(paged), pages, len(all))
	}
	seen := map[string]bool{}
	for i, r := range paged {
		if seen[*r.ID] || *r.ID != *all[i].ID {
			t.Fatalf("paging order differs at %d: %s", i, *r.ID)
		}
		seen[*r.ID] = true
	}
	// resourceType filter.
	vms, _ := listAll(t, rc, &armresources.ClientListOptions{Filter: to.Ptr("resourceType eq 'Microsoft.Storage/storageAccounts'")})
	want := 0
	for _, r := range all {
		if *r.Type == "Microsoft.Storage/storageAccounts" {
			want++
		}
	}
	if len(vms) != want || want == 0 {
		t.Fatalf("resourceType filter: %d, want %d", len(vms), want)
	}
	// A tag filter matches names in any casing, values exactly, and the
	// result leaves tags out, as documented.
	var env *armresources.GenericResourceExpanded
	for _, r := range all {
		if v, ok := r.Tags["Environment"]; ok && v != nil {
			env = r
			break
		}
	}
	val := *env.Tags["Environment"]
	tagged, _ := listAll(t, rc, &armresources.ClientListOptions{Filter: to.Ptr("tagName eq 'ENVIRONMENT' and tagValue eq '" + val + "'")})
	want = 0
	for _, r := range all {
		for k, v := range r.Tags {
			if strings.EqualFold(k, "environment") && *v == val {
				want++
			}
		}
	}
	if len(tagged) != want {
		t.Fatalf("tag filter: %d, want %d", len(tagged), want)
	}
	for _, r := range tagged {
		if r.Tags != nil {
			t.Fatalf("tag-filtered resource carries tags: %v", r.Tags)
		}
	}
	// $expand adds times.
	exp, _ := listAll(t, rc, &armresources.ClientListOptions{Expand: to.Ptr("createdTime,changedTime,provisioningState"), Top: to.Ptr[int32](3)})
	if exp[0].CreatedTime == nil || exp[0].ChangedTime == nil || exp[0].ProvisioningState == nil {
		t.Fatalf("$expand: %+v", exp[0])
	}
	// By resource group.
	rg := strings.Split(*all[len(all)-1].ID, "/")[4]
	byRG := rc.NewListByResourceGroupPager(rg, nil)
	n := 0
	for byRG.More() {
		p, err := byRG.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Value)
	}
	want = 0
	for _, r := range all {
		if strings.EqualFold(strings.Split(*r.ID, "/")[4], rg) {
			want++
		}
	}
	if n != want {
		t.Fatalf("by group %s: %d, want %d", rg, n, want)
	}
	// Bad filters are 400 InvalidFilterInQueryString.
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	for _, f := range []string{"nonsense", "tagName eq 'a' and resourceType eq 'b'", "color eq 'red'", "tagName eq"} {
		b.expectARMError(t, "GET", "/subscriptions/"+sub+"/resources?api-version=2021-04-01&$filter="+q(f), tok, nil, 400, "InvalidFilterInQueryString")
	}
}

func TestResourceGroupsCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	gc, _ := armresources.NewResourceGroupsClient(sub, staticCred(b.userToken(t, b.admin(t, ContosoTenantName))), b.armOptions())
	ctx := context.Background()
	created, err := gc.CreateOrUpdate(ctx, "rg-emulator-test", armresources.ResourceGroup{Location: to.Ptr("westeurope"), Tags: map[string]*string{"Owner": to.Ptr("me")}}, nil)
	if err != nil || *created.Name != "rg-emulator-test" || *created.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("create: %v", err)
	}
	if _, err := gc.CreateOrUpdate(ctx, "rg-emulator-test", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err == nil || !strings.Contains(err.Error(), "InvalidResourceGroupLocation") {
		t.Fatalf("move location: %v", err)
	}
	upd, err := gc.Update(ctx, "rg-emulator-test", armresources.ResourceGroupPatchable{Tags: map[string]*string{"Owner": to.Ptr("you")}}, nil)
	if err != nil || *upd.Tags["Owner"] != "you" {
		t.Fatalf("patch: %v", err)
	}
	ex, err := gc.CheckExistence(ctx, "rg-emulator-test", nil)
	if err != nil || !ex.Success {
		t.Fatalf("exists: %v", err)
	}
	all := 0
	p := gc.NewListPager(&armresources.ResourceGroupsClientListOptions{Top: to.Ptr[int32](2)})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all += len(page.Value)
	}
	tagged := 0
	tp := gc.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: to.Ptr("tagName eq 'owner' and tagValue eq 'you'")})
	for tp.More() {
		page, _ := tp.NextPage(ctx)
		tagged += len(page.Value)
	}
	if all < 5 || tagged != 1 {
		t.Fatalf("list: %d groups, %d tagged", all, tagged)
	}
	poller, err := gc.BeginDelete(ctx, "rg-emulator-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Get(ctx, "rg-emulator-test", nil); err == nil || !strings.Contains(err.Error(), "ResourceGroupNotFound") {
		t.Fatalf("after delete: %v", err)
	}
}

func TestTagsAtScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	cred := b.spCred(t, ContosoTenantName, ContosoTaggerApp)
	tc, _ := armresources.NewTagsClient(sub, cred, b.armOptions())
	rc, _ := armresources.NewClient(sub, cred, b.armOptions())
	all, _ := listAll(t, rc, nil)
	var storage, vm string
	for _, r := range all {
		switch *r.Type {
		case "Microsoft.Storage/storageAccounts":
			storage = *r.ID
		case "Microsoft.Compute/virtualMachines", "Microsoft.KeyVault/vaults":
			vm = *r.ID
		}
	}
	ctx := context.Background()
	for _, scope := range []string{vm, "/subscriptions/" + sub, "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG"} {
		put, err := tc.CreateOrUpdateAtScope(ctx, scope, armresources.TagsResource{Properties: &armresources.Tags{Tags: map[string]*string{"Env": to.Ptr("Prod"), "Owner": to.Ptr("ops")}}}, nil)
		if err != nil || len(put.Properties.Tags) != 2 || *put.ID != scope+"/providers/Microsoft.Resources/tags/default" {
			t.Fatalf("put %s: %v %+v", scope, err, put)
		}
		merged, err := tc.UpdateAtScope(ctx, scope, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationMerge),
			Properties: &armresources.Tags{Tags: map[string]*string{"env": to.Ptr("prod"), "CostCenter": to.Ptr("42")}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Names are case-insensitive (env replaced Env, keeping the new
		// casing); values are case-sensitive (prod is not Prod).
		if len(merged.Properties.Tags) != 3 || merged.Properties.Tags["env"] == nil || *merged.Properties.Tags["env"] != "prod" {
			t.Fatalf("merge %s: %v", scope, keysOf(merged.Properties.Tags))
		}
		// Delete removes a name only while its value is the one named
		// (recordings/README.md §15): an empty or other value deletes nothing.
		for _, v := range []string{"", "OPS", "someone"} {
			del, err := tc.UpdateAtScope(ctx, scope, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationDelete),
				Properties: &armresources.Tags{Tags: map[string]*string{"OWNER": to.Ptr(v)}}}, nil)
			if err != nil || len(del.Properties.Tags) != 3 {
				t.Fatalf("delete op %s with value %q: %v %v", scope, v, err, keysOf(del.Properties.Tags))
			}
		}
		del, err := tc.UpdateAtScope(ctx, scope, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationDelete),
			Properties: &armresources.Tags{Tags: map[string]*string{"OWNER": to.Ptr("ops")}}}, nil)
		if err != nil || len(del.Properties.Tags) != 2 {
			t.Fatalf("delete op %s: %v %v", scope, err, keysOf(del.Properties.Tags))
		}
		rep, err := tc.UpdateAtScope(ctx, scope, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationReplace),
			Properties: &armresources.Tags{Tags: map[string]*string{"only": to.Ptr("one")}}}, nil)
		if err != nil || len(rep.Properties.Tags) != 1 {
			t.Fatalf("replace %s: %v", scope, err)
		}
		got, err := tc.GetAtScope(ctx, scope, nil)
		if err != nil || *got.Properties.Tags["only"] != "one" {
			t.Fatalf("get %s: %v", scope, err)
		}
		if _, err := tc.DeleteAtScope(ctx, scope, nil); err != nil {
			t.Fatal(err)
		}
		got, _ = tc.GetAtScope(ctx, scope, nil)
		if len(got.Properties.Tags) != 0 {
			t.Fatalf("after delete %s: %v", scope, got.Properties.Tags)
		}
	}

	// Limits.
	tok := b.appToken(t, cred, b.e.URL()+"/.default")
	put := func(scope string, tags map[string]string) *http.Response {
		return b.do(t, "PUT", scope+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", tok, map[string]any{"properties": map[string]any{"tags": tags}}, nil)
	}
	fifty := map[string]string{}
	for i := 0; i < 50; i++ {
		fifty["k"+itoa(i)] = "v"
	}
	if r := put(vm, fifty); r.StatusCode != 200 {
		t.Fatalf("50 tags: %d", r.StatusCode)
	}
	fifty["k50"] = "v"
	long := strings.Repeat("n", 129)
	cases := []struct {
		scope string
		tags  map[string]string
		code  string
	}{
		{vm, fifty, "InvalidTagCount"},
		{vm, map[string]string{strings.Repeat("n", 513): "v"}, "InvalidTagNameLength"},
		{storage, map[string]string{long: "v"}, "InvalidTagNameLength"},
		{vm, map[string]string{"a": strings.Repeat("v", 257)}, "InvalidTagValueLength"},
		{vm, map[string]string{"a/b": "v"}, "InvalidTagNameCharacters"},
		{vm, map[string]string{"50%": "v"}, "InvalidTagNameCharacters"},
		{vm, map[string]string{"": "v"}, "InvalidTagName"},
	}
	for _, c := range cases {
		b.expectARMError(t, "PUT", c.scope+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", tok, map[string]any{"properties": map[string]any{"tags": c.tags}}, 400, c.code)
	}
	// 129 characters are fine on a VM, 128 on a storage account, 512 on a VM.
	if r := put(vm, map[string]string{long: "v"}); r.StatusCode != 200 {
		t.Fatalf("129-char name on a VM: %d", r.StatusCode)
	}
	if r := put(storage, map[string]string{long[:128]: "v"}); r.StatusCode != 200 {
		t.Fatalf("128-char name on storage: %d", r.StatusCode)
	}
	if r := put(vm, map[string]string{strings.Repeat("n", 512): strings.Repeat("v", 256)}); r.StatusCode != 200 {
		t.Fatalf("512/256: %d", r.StatusCode)
	}
	// The list shows the new tags (the cached JSON was invalidated).
	after, _ := listAll(t, rc, &armresources.ClientListOptions{Filter: to.Ptr("tagName eq '" + strings.Repeat("n", 512) + "'")})
	if len(after) != 1 || *after[0].ID != vm {
		t.Fatalf("after tag write, filter finds %d", len(after))
	}
}

func keysOf(m map[string]*string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestResourceCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	cred := staticCred(b.userToken(t, b.admin(t, ContosoTenantName)))
	rc, _ := armresources.NewClient(sub, cred, b.armOptions())
	ctx := context.Background()
	id := "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Storage/storageAccounts/stemulatortest1"
	poller, err := rc.BeginCreateOrUpdateByID(ctx, id, "2023-01-01", armresources.GenericResource{
		Location: to.Ptr("westeurope"), Kind: to.Ptr("StorageV2"), SKU: &armresources.SKU{Name: to.Ptr("Standard_GRS")},
		Tags: map[string]*string{"Environment": to.Ptr("Test")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := poller.PollUntilDone(ctx, nil)
	if err != nil || *res.ID != id || *res.SKU.Name != "Standard_GRS" || *res.Kind != "StorageV2" {
		t.Fatalf("create: %v %+v", err, res)
	}
	got, err := rc.GetByID(ctx, id, "2023-01-01", nil)
	if err != nil || *got.Tags["Environment"] != "Test" {
		t.Fatalf("get: %v", err)
	}
	var re *azcore.ResponseError
	if _, err := rc.GetByID(ctx, id, "2099-01-01", nil); !errors.As(err, &re) || re.ErrorCode != "NoRegisteredProviderFound" {
		t.Fatalf("bad api-version: %v", err)
	}
	dp, err := rc.BeginDeleteByID(ctx, id, "2023-01-01", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.GetByID(ctx, id, "2023-01-01", nil); !errors.As(err, &re) || re.ErrorCode != "ResourceNotFound" {
		t.Fatalf("after delete: %v", err)
	}
}
