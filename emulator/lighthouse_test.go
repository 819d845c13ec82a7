package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/stewardhq/steward"
)

// armRaw sends a request through azcore's ARM pipeline (bearer token,
// retries, telemetry), for services without an SDK module
// (Microsoft.ManagedServices, Microsoft.ManagementPartner). It returns the
// status and the decoded JSON body (nil when empty).
func (b *testBundle) armRaw(t *testing.T, cred azcore.TokenCredential, method, path string, body any) (int, map[string]any) {
	t.Helper()
	cl, err := arm.NewClient("emulator.test", "v0.0.0", cred, b.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	req, err := runtime.NewRequest(context.Background(), method, b.e.URL()+path)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cl.Pipeline().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}

func wantRaw(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	code := ""
	if e, ok := body["error"].(map[string]any); ok {
		code, _ = e["code"].(string)
	}
	if status != wantStatus || code != wantCode {
		t.Fatalf("got %d %q (%v), want %d %q", status, code, body, wantStatus, wantCode)
	}
}

// lhIDs are the partner-side principals the delegation names.
type lhIDs struct {
	partnerTenant, stewardSP, operators, olivia, oliviaUPN string
}

func (b *testBundle) lighthouseIDs(t *testing.T) lhIDs {
	t.Helper()
	p := b.tenant(t, PartnerTenantName)
	ids := lhIDs{partnerTenant: p.ID}
	for _, u := range p.Users {
		if strings.HasPrefix(u.UserPrincipalName, "olivia.operator@") {
			ids.olivia, ids.oliviaUPN = u.ObjectID, u.UserPrincipalName
		}
	}
	b.e.w.mu.RLock()
	defer b.e.w.mu.RUnlock()
	ids.stewardSP = b.e.w.spsByApp[strings.ToLower(b.cf.App.ClientID)][0]
	for _, o := range b.e.w.objects {
		if g, ok := o.(*group); ok && g.DisplayName == "Steward Operators" {
			ids.operators = g.ID
		}
	}
	if ids.olivia == "" || ids.operators == "" {
		t.Fatal("partner principals missing")
	}
	return ids
}

// definitionBody is shaped on Microsoft's Lighthouse sample
// (delegated-resource-management/subscription, parameters "Relecloud
// Managed Services"), with this estate's partner principals and Steward's
// roles added. The sample's second delegated role, Log Analytics
// Contributor (92aaf0da-…), has since gained DataActions, so Azure's rules
// refuse it now; Tag Contributor stands in.
func definitionBody(ids lhIDs, extra ...map[string]any) map[string]any {
	auths := []any{
		map[string]any{"principalId": ids.operators, "principalIdDisplayName": "Steward Operators", "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7"},
		map[string]any{"principalId": ids.olivia, "principalIdDisplayName": "Olivia Operator", "roleDefinitionId": "91c1777a-f3dc-4fae-b103-61d183457e46"},
		map[string]any{"principalId": ids.stewardSP, "principalIdDisplayName": "Steward", "roleDefinitionId": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
			"delegatedRoleDefinitionIds": []any{"b24988ac-6180-42a0-ab88-20f7382dd24c", "4a9ae827-6dc8-4573-8ac7-8239d42aa03f"}},
		map[string]any{"principalId": ids.stewardSP, "principalIdDisplayName": "Steward", "roleDefinitionId": steward.BuiltInReader},
		map[string]any{"principalId": ids.stewardSP, "principalIdDisplayName": "Steward", "roleDefinitionId": "72fafb9e-0641-4937-9268-a91bfd8191a3"}, // Cost Management Reader
	}
	for _, x := range extra {
		auths = append(auths, x)
	}
	return map[string]any{"properties": map[string]any{
		"registrationDefinitionName": "Relecloud Managed Services", "description": "Relecloud Managed Services",
		"managedByTenantId": ids.partnerTenant, "authorizations": auths,
	}}
}

const (
	lhDefName    = "5f2d1c1e-7a55-4bde-9f55-0a3b2f0c9d11"
	lhAssignName = "8b0e4a62-3c1d-4f0e-a0f4-6c2e9d7b1a22"
	lhVersion    = "?api-version=2022-10-01"
)

func TestLighthouseDelegation(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	ctx := context.Background()
	ids := b.lighthouseIDs(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	defPath := "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + lhDefName + lhVersion
	asgPath := "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationAssignments/" + lhAssignName + lhVersion
	owner := b.userToken(t, b.admin(t, ContosoTenantName))
	stewardCred := b.stewardCred(t)

	// Before: the partner's token is not accepted on the subscription.
	st, body := b.armRaw(t, stewardCred, http.MethodGet, "/subscriptions/"+sub+"/resources?api-version=2021-04-01", nil)
	wantRaw(t, st, body, 401, "InvalidAuthenticationTokenTenant")

	// Only an Owner may onboard: a Reader is refused.
	st, body = b.armRaw(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), http.MethodPut, defPath, definitionBody(ids))
	wantRaw(t, st, body, 403, "AuthorizationFailed")

	// Azure's role rules.
	for _, tc := range []struct {
		name, role string
		delegated  []any
		want       string
	}{
		{"owner", steward.BuiltInOwner, nil, "Owner"},
		{"data actions", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", nil, "DataActions"},                           // Storage Blob Data Reader
		{"authorization writes", "f58310d9-a9f6-439a-9e8d-f62e7b41a168", nil, "roleAssignments/write"},         // RBAC Administrator
		{"uaa alone", steward.BuiltInUserAccessAdministrator, nil, "delegatedRoleDefinitionIds"},               //
		{"uaa delegating owner", steward.BuiltInUserAccessAdministrator, []any{steward.BuiltInOwner}, "Owner"}, //
		{"custom role", "11111111-2222-4333-8444-555555555555", nil, "custom roles"},
	} {
		a := map[string]any{"principalId": ids.stewardSP, "roleDefinitionId": tc.role}
		if tc.delegated != nil {
			a["delegatedRoleDefinitionIds"] = tc.delegated
		}
		st, body := b.armRaw(t, owner, http.MethodPut, defPath, definitionBody(ids, a))
		wantRaw(t, st, body, 400, "InvalidRequest")
		if msg := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: %s", tc.name, msg)
		}
	}

	// Onboard: definition then assignment.
	st, body = b.armRaw(t, owner, http.MethodPut, defPath, definitionBody(ids))
	if st != 201 || body["properties"].(map[string]any)["managedByTenantName"] != PartnerTenantName || body["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Fatalf("definition: %d %v", st, body)
	}
	st, body = b.armRaw(t, owner, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.ManagedServices/registrationDefinitions"+lhVersion+"&$filter="+q("managedByTenantId eq '"+ids.partnerTenant+"'"), nil)
	if st != 200 || len(body["value"].([]any)) != 1 {
		t.Fatalf("list definitions: %d %v", st, body)
	}
	defID := "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + lhDefName
	st, body = b.armRaw(t, owner, http.MethodPut, asgPath, map[string]any{"properties": map[string]any{"registrationDefinitionId": defID}})
	if st != 201 || body["id"] != "/subscriptions/"+sub+"/providers/Microsoft.ManagedServices/registrationAssignments/"+lhAssignName {
		t.Fatalf("assignment: %d %v", st, body)
	}
	st, body = b.armRaw(t, owner, http.MethodGet, asgPath+"&$expandRegistrationDefinition=true", nil)
	if st != 200 || body["properties"].(map[string]any)["registrationDefinition"] == nil {
		t.Fatalf("expanded assignment: %d %v", st, body)
	}

	// Projected: Steward sees the subscription, managed by its tenant, with
	// exactly Reader and Cost Management Reader.
	sc, _ := armsubscriptions.NewClient(stewardCred, b.armOptions())
	found := false
	for p := sc.NewListPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			if *s.SubscriptionID == sub {
				found = len(s.ManagedByTenants) == 1 && *s.ManagedByTenants[0].TenantID == ids.partnerTenant
			}
		}
	}
	if !found {
		t.Fatal("delegated subscription missing from the partner's list, or without managedByTenants")
	}
	rc, _ := armresources.NewClient(sub, stewardCred, b.armOptions())
	if all, _ := listAll(t, rc, nil); len(all) != b.countResources(sub) {
		t.Fatalf("partner lists %d resources", len(all))
	}
	// Resource Graph spans every delegated subscription: this one and the
	// estate's own Northwind delegation.
	seeded := b.countResources(b.tenant(t, NorthwindTenantName).Subscriptions...)
	gc, _ := armresourcegraph.NewClient(stewardCred, b.armOptions())
	if _, _, total := argAll(t, gc, "Resources | project id", nil, 0); int(total) != b.countResources(sub)+seeded {
		t.Fatalf("Resource Graph across tenants: %d, want %d", total, b.countResources(sub)+seeded)
	}
	qc, _ := armcostmanagement.NewQueryClient(stewardCred, b.armOptions())
	today := b.clock.Now().UTC().Truncate(24 * time.Hour)
	if _, err := qc.Usage(ctx, "subscriptions/"+sub, costDefinition(costOpts(today.AddDate(0, 0, -7), today, "", "Cost")), nil); err != nil {
		t.Fatalf("delegated cost query: %v", err)
	}
	tc, _ := armresources.NewTagsClient(sub, stewardCred, b.armOptions())
	_, err := tc.CreateOrUpdateAtScope(ctx, "/subscriptions/"+sub, armresources.TagsResource{Properties: &armresources.Tags{Tags: map[string]*string{"x": to.Ptr("y")}}}, nil)
	wantARMCode(t, err, 403, "AuthorizationFailed")
	// User Access Administrator is not projected: no role assignments.
	st, body = b.armRaw(t, stewardCred, http.MethodPut, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments/"+newGUID()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/subscriptions/" + sub + roleDefPath + steward.BuiltInReader, "principalId": ids.stewardSP}})
	wantRaw(t, st, body, 403, "AuthorizationFailed")
	// Group membership in the managing tenant counts: Olivia is in Steward
	// Operators (Reader).
	orc, _ := armresources.NewClient(sub, b.userToken(t, ids.oliviaUPN), b.armOptions())
	if all, _ := listAll(t, orc, nil); len(all) == 0 {
		t.Fatal("operator group member sees nothing")
	}

	// The definition cannot go while assigned; the partner's holder of the
	// Delete Role may remove the assignment, which ends the projection.
	st, body = b.armRaw(t, owner, http.MethodDelete, defPath, nil)
	wantRaw(t, st, body, 409, "Conflict")
	st, _ = b.armRaw(t, b.userToken(t, ids.oliviaUPN), http.MethodDelete, asgPath, nil)
	if st != 200 {
		t.Fatalf("delete assignment: %d", st)
	}
	st, body = b.armRaw(t, stewardCred, http.MethodGet, "/subscriptions/"+sub+"/resources?api-version=2021-04-01", nil)
	wantRaw(t, st, body, 401, "InvalidAuthenticationTokenTenant")
	if _, _, total := argAll(t, gc, "Resources | project id", nil, 0); int(total) != seeded {
		t.Fatalf("Resource Graph after offboarding: %d, want Northwind's %d", total, seeded)
	}
	if st, _ = b.armRaw(t, owner, http.MethodDelete, defPath, nil); st != 200 {
		t.Fatalf("delete definition: %d", st)
	}
	st, body = b.armRaw(t, owner, http.MethodGet, defPath, nil)
	wantRaw(t, st, body, 404, "RegistrationDefinitionNotFound")
}

func TestPartnerAdminLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cred := b.stewardCred(t)
	ids := b.lighthouseIDs(t)
	mpn := b.e.PartnerMPNID()
	base := "/providers/Microsoft.ManagementPartner/partners"
	v := "?api-version=2018-02-01"

	st, body := b.armRaw(t, cred, http.MethodGet, base+v, nil)
	wantRaw(t, st, body, 404, "NotFound")
	st, body = b.armRaw(t, cred, http.MethodPut, base+"/12345"+v, nil)
	wantRaw(t, st, body, 400, "BadRequest")

	st, body = b.armRaw(t, cred, http.MethodPut, base+"/"+mpn+v, nil)
	props, _ := body["properties"].(map[string]any)
	if st != 200 || body["id"] != "/providers/microsoft.managementpartner/partners/"+mpn || body["type"] != "Microsoft.ManagementPartner/partner" ||
		props["partnerName"] != PartnerTenantName || props["objectId"] != ids.stewardSP || props["tenantId"] != ids.partnerTenant ||
		props["state"] != "Active" || props["version"] != "1" || body["etag"] != float64(1) {
		t.Fatalf("create: %d %v", st, body)
	}
	st, body = b.armRaw(t, cred, http.MethodPut, base+"/"+mpn+v, nil)
	wantRaw(t, st, body, 409, "Conflict")

	st, body = b.armRaw(t, cred, http.MethodGet, base+v, nil)
	if st != 200 || body["id"] != "/providers/microsoft.managementpartner/partners" || body["name"] != mpn {
		t.Fatalf("get without ID: %d %v", st, body)
	}
	st, body = b.armRaw(t, cred, http.MethodPatch, base+"/7654321"+v, nil)
	if props := body["properties"].(map[string]any); st != 200 || props["partnerId"] != "7654321" || props["version"] != "2" || body["etag"] != float64(2) {
		t.Fatalf("update: %d %v", st, body)
	}
	// The link is the identity's own: nobody else sees it.
	st, body = b.armRaw(t, b.userToken(t, b.admin(t, ContosoTenantName)), http.MethodGet, base+v, nil)
	wantRaw(t, st, body, 404, "NotFound")

	if st, _ = b.armRaw(t, cred, http.MethodDelete, base+"/7654321"+v, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	st, body = b.armRaw(t, cred, http.MethodGet, base+"/7654321"+v, nil)
	wantRaw(t, st, body, 404, "NotFound")
}

func TestPartBStatePersists(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.gob")
	b := setup(t, withConfig(func(c *Config) { c.StatePath = path; c.Throttling.Disabled = true }))
	ids := b.lighthouseIDs(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[1]
	owner := b.userToken(t, b.admin(t, ContosoTenantName))
	defPath := "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + lhDefName + lhVersion
	if st, body := b.armRaw(t, owner, http.MethodPut, defPath, definitionBody(ids)); st != 201 {
		t.Fatalf("definition: %d %v", st, body)
	}
	asg := map[string]any{"properties": map[string]any{"registrationDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + lhDefName}}
	if st, body := b.armRaw(t, owner, http.MethodPut, "/subscriptions/"+sub+"/providers/Microsoft.ManagedServices/registrationAssignments/"+lhAssignName+lhVersion, asg); st != 201 {
		t.Fatalf("assignment: %d %v", st, body)
	}
	if st, _ := b.armRaw(t, b.stewardCred(t), http.MethodPut, "/providers/Microsoft.ManagementPartner/partners/"+b.e.PartnerMPNID()+"?api-version=2018-02-01", nil); st != 200 {
		t.Fatalf("PAL: %d", st)
	}
	b.e.Stop()

	e2, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	e2.w.mu.RLock()
	defer e2.w.mu.RUnlock()
	s := e2.w.subscription(sub)
	ls := e2.w.lighthouse[s.ID]
	if ls == nil || len(ls.Assignments) != 1 || len(ls.Definitions) != 1 || len(s.ManagedByTenants) != 1 || len(e2.w.partners) != 1 {
		t.Fatalf("restored: %+v managedBy %v partners %d", ls, s.ManagedByTenants, len(e2.w.partners))
	}
	c := &caller{TenantID: ids.partnerTenant, ObjectID: ids.stewardSP}
	if g := e2.w.grantsIn(c, s); len(g) != 2 {
		t.Fatalf("restored projection: %d grants", len(g))
	}
}

// The seeded estate delegates Northwind's subscriptions to the partner:
// Steward's app, signed in to its home tenant, sees them with the partner
// as managing tenant, reads their resources and costs, writes tags, and
// nothing else.
func TestSeededNorthwindDelegation(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	ctx := context.Background()
	ids := b.lighthouseIDs(t)
	northwind := b.tenant(t, NorthwindTenantName)
	if len(northwind.Subscriptions) != 2 {
		t.Fatalf("Northwind has %d subscriptions", len(northwind.Subscriptions))
	}
	stewardCred := b.stewardCred(t)
	if b.cf.App.TenantID != ids.partnerTenant {
		t.Fatalf("Steward's app is registered in %s, not the partner tenant", b.cf.App.TenantID)
	}

	// GET /subscriptions: exactly Northwind's, managed by the partner.
	sc, _ := armsubscriptions.NewClient(stewardCred, b.armOptions())
	var seen []string
	for p := sc.NewListPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			seen = append(seen, *s.SubscriptionID)
			if *s.TenantID != northwind.ID || len(s.ManagedByTenants) != 1 || *s.ManagedByTenants[0].TenantID != ids.partnerTenant {
				t.Fatalf("subscription %s: tenant %s, managedByTenants %v", *s.SubscriptionID, *s.TenantID, s.ManagedByTenants)
			}
		}
	}
	if len(seen) != 2 || !slices.Contains(seen, northwind.Subscriptions[0]) || !slices.Contains(seen, northwind.Subscriptions[1]) {
		t.Fatalf("Steward sees %v, want Northwind's %v", seen, northwind.Subscriptions)
	}
	// Other customers stay out of reach.
	st, body := b.armRaw(t, stewardCred, http.MethodGet, "/subscriptions/"+b.tenant(t, ContosoTenantName).Subscriptions[0]+"/resources?api-version=2021-04-01", nil)
	wantRaw(t, st, body, 401, "InvalidAuthenticationTokenTenant")

	today := b.clock.Now().UTC().Truncate(24 * time.Hour)
	for _, sub := range northwind.Subscriptions {
		// Reads: resources, groups, one resource through its provider, costs.
		rc, _ := armresources.NewClient(sub, stewardCred, b.armOptions())
		all, _ := listAll(t, rc, nil)
		if len(all) == 0 || len(all) != b.countResources(sub) {
			t.Fatalf("%s: Steward lists %d resources, want %d", sub, len(all), b.countResources(sub))
		}
		gc, _ := armresources.NewResourceGroupsClient(sub, stewardCred, b.armOptions())
		if page, err := gc.NewListPager(nil).NextPage(ctx); err != nil || len(page.Value) == 0 {
			t.Fatalf("%s: resource groups: %v", sub, err)
		}
		var vault string
		for _, r := range all {
			if *r.Type == "Microsoft.KeyVault/vaults" {
				vault = *r.ID
			}
		}
		if vault != "" {
			if _, err := rc.GetByID(ctx, vault, "2023-07-01", nil); err != nil {
				t.Fatalf("%s: Reader reads a resource: %v", sub, err)
			}
		}
		qc, _ := armcostmanagement.NewQueryClient(stewardCred, b.armOptions())
		if _, err := qc.Usage(ctx, "subscriptions/"+sub, costDefinition(costOpts(today.AddDate(0, 0, -7), today, "", "Cost")), nil); err != nil {
			t.Fatalf("%s: delegated cost query: %v", sub, err)
		}

		// Tag writes, at a resource and at the subscription.
		tc, _ := armresources.NewTagsClient(sub, stewardCred, b.armOptions())
		res := *all[0].ID
		if _, err := tc.UpdateAtScope(ctx, res, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationMerge),
			Properties: &armresources.Tags{Tags: map[string]*string{"ManagedBy": to.Ptr("Adatum")}}}, nil); err != nil {
			t.Fatalf("%s: tag merge: %v", sub, err)
		}
		got, err := tc.GetAtScope(ctx, res, nil)
		if err != nil || got.Properties.Tags["ManagedBy"] == nil || *got.Properties.Tags["ManagedBy"] != "Adatum" {
			t.Fatalf("%s: tags after merge: %v %v", sub, got, err)
		}
		if _, err := tc.CreateOrUpdateAtScope(ctx, "/subscriptions/"+sub, armresources.TagsResource{Properties: &armresources.Tags{Tags: map[string]*string{"Partner": to.Ptr("Adatum")}}}, nil); err != nil {
			t.Fatalf("%s: subscription tags: %v", sub, err)
		}

		// Nothing else: no groups, no deletes, no role assignments, no
		// Lighthouse changes.
		_, err = gc.CreateOrUpdate(ctx, "rg-not-allowed", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
		wantARMCode(t, err, 403, "AuthorizationFailed")
		rg := strings.Split(res, "/")[4]
		_, err = gc.BeginDelete(ctx, rg, nil)
		wantARMCode(t, err, 403, "AuthorizationFailed")
		st, body := b.armRaw(t, stewardCred, http.MethodPut, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments/"+newGUID()+"?api-version=2022-04-01",
			map[string]any{"properties": map[string]any{"roleDefinitionId": "/subscriptions/" + sub + roleDefPath + steward.BuiltInReader, "principalId": ids.stewardSP}})
		wantRaw(t, st, body, 403, "AuthorizationFailed")
		st, body = b.armRaw(t, stewardCred, http.MethodPut, "/subscriptions/"+sub+"/providers/Microsoft.ManagedServices/registrationDefinitions/"+lhDefName+lhVersion, definitionBody(ids))
		wantRaw(t, st, body, 403, "AuthorizationFailed")

		// The operators group holds Reader: reads, but no tag writes.
		orc, _ := armresources.NewClient(sub, b.userToken(t, ids.oliviaUPN), b.armOptions())
		if ol, _ := listAll(t, orc, nil); len(ol) != len(all) {
			t.Fatalf("%s: operator lists %d of %d", sub, len(ol), len(all))
		}
		otc, _ := armresources.NewTagsClient(sub, b.userToken(t, ids.oliviaUPN), b.armOptions())
		_, err = otc.CreateOrUpdateAtScope(ctx, "/subscriptions/"+sub, armresources.TagsResource{Properties: &armresources.Tags{Tags: map[string]*string{"x": to.Ptr("y")}}}, nil)
		wantARMCode(t, err, 403, "AuthorizationFailed")
	}

	// The registrations are there to read, as if Northwind's admin had
	// onboarded through the API, and the partner sees them too.
	owner := b.userToken(t, b.admin(t, NorthwindTenantName))
	sub := northwind.Subscriptions[0]
	base := "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/"
	for _, cred := range []azcore.TokenCredential{owner, stewardCred} {
		st, body := b.armRaw(t, cred, http.MethodGet, base+"registrationDefinitions"+lhVersion+"&$filter="+q("managedByTenantId eq '"+ids.partnerTenant+"'"), nil)
		defs, _ := body["value"].([]any)
		if st != 200 || len(defs) != 1 {
			t.Fatalf("definitions: %d %v", st, body)
		}
		def := defs[0].(map[string]any)
		props := def["properties"].(map[string]any)
		auths, _ := props["authorizations"].([]any)
		if props["registrationDefinitionName"] != LighthouseOfferName || props["managedByTenantId"] != ids.partnerTenant ||
			props["managedByTenantName"] != PartnerTenantName || props["manageeTenantId"] != northwind.ID || len(auths) != 4 {
			t.Fatalf("definition: %v", def)
		}
		want := map[string]bool{
			ids.operators + " " + steward.BuiltInReader:               true,
			ids.stewardSP + " " + steward.BuiltInReader:               true,
			ids.stewardSP + " " + steward.BuiltInTagContributor:       true,
			ids.stewardSP + " " + steward.BuiltInCostManagementReader: true,
		}
		for _, a := range auths {
			m := a.(map[string]any)
			k := m["principalId"].(string) + " " + m["roleDefinitionId"].(string)
			if !want[k] {
				t.Fatalf("unexpected authorization %v", m)
			}
			delete(want, k)
		}
		st, body = b.armRaw(t, cred, http.MethodGet, base+"registrationAssignments"+lhVersion+"&$expandRegistrationDefinition=true", nil)
		asgs, _ := body["value"].([]any)
		if st != 200 || len(asgs) != 1 {
			t.Fatalf("assignments: %d %v", st, body)
		}
		ap := asgs[0].(map[string]any)["properties"].(map[string]any)
		if ap["registrationDefinitionId"] != def["id"] || ap["registrationDefinition"].(map[string]any)["name"] != def["name"] {
			t.Fatalf("assignment: %v", asgs[0])
		}
	}

	// Offboarding through the API ends the seeded delegation like any other.
	st, body = b.armRaw(t, owner, http.MethodGet, base+"registrationAssignments"+lhVersion, nil)
	asgID := body["value"].([]any)[0].(map[string]any)["id"].(string)
	if st, _ = b.armRaw(t, owner, http.MethodDelete, asgID+lhVersion, nil); st != 200 {
		t.Fatalf("delete assignment: %d", st)
	}
	st, body = b.armRaw(t, stewardCred, http.MethodGet, "/subscriptions/"+sub+"/resources?api-version=2021-04-01", nil)
	wantRaw(t, st, body, 401, "InvalidAuthenticationTokenTenant")
	if page, err := sc.NewListPager(nil).NextPage(ctx); err != nil || len(page.Value) != 1 || *page.Value[0].SubscriptionID != northwind.Subscriptions[1] {
		t.Fatalf("after offboarding one: %v %v", page.Value, err)
	}
}

// The seeded registrations are part of the estate: the same for a seed,
// different across seeds.
func TestSeededDelegationIsDeterministic(t *testing.T) {
	t.Parallel()
	names := func(seed int64) []string {
		e, err := New(Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range e.w.subList {
			if ls := e.w.lighthouse[s.ID]; ls != nil {
				for _, d := range ls.Definitions {
					out = append(out, s.ID+" "+d.Name)
				}
				for _, a := range ls.Assignments {
					out = append(out, s.ID+" "+a.Name+" "+a.DefinitionID)
				}
			}
		}
		return out
	}
	a, b, c := names(42), names(42), names(43)
	if len(a) != 4 || !slices.Equal(a, b) {
		t.Fatalf("same seed: %v vs %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same registrations")
	}
}
