package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/stewardhq/steward"
)

func wantARMCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
}

func TestTagContributorCanOnlyTag(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	cred := b.spCred(t, ContosoTenantName, ContosoTaggerApp)
	ctx := context.Background()
	rc, _ := armresources.NewClient(sub, cred, b.armOptions())
	all, _ := listAll(t, rc, nil)
	if len(all) == 0 {
		t.Fatal("Tag Contributor lists no resources")
	}
	tc, _ := armresources.NewTagsClient(sub, cred, b.armOptions())
	if _, err := tc.UpdateAtScope(ctx, *all[0].ID, armresources.TagsPatchResource{Operation: to.Ptr(armresources.TagsPatchOperationMerge), Properties: &armresources.Tags{Tags: map[string]*string{"x": to.Ptr("y")}}}, nil); err != nil {
		t.Fatalf("tag write: %v", err)
	}
	gc, _ := armresources.NewResourceGroupsClient(sub, cred, b.armOptions())
	_, err := gc.CreateOrUpdate(ctx, "rg-not-allowed", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
	wantARMCode(t, err, 403, "AuthorizationFailed")
	if !strings.Contains(err.Error(), "Microsoft.Resources/subscriptions/resourceGroups/write") {
		t.Fatalf("message names the action: %v", err)
	}
	_, err = rc.BeginDeleteByID(ctx, *all[0].ID, "2023-01-01", nil)
	if err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
		// The type's api-versions differ; any 403 or 400 before a delete is fine, a delete is not.
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode == 200 {
			t.Fatalf("delete by Tag Contributor: %v", err)
		}
	}
	// It cannot read a resource through its provider (no */read).
	vmID := ""
	for _, r := range all {
		if *r.Type == "Microsoft.KeyVault/vaults" {
			vmID = *r.ID
		}
	}
	_, err = rc.GetByID(ctx, vmID, "2023-07-01", nil)
	wantARMCode(t, err, 403, "AuthorizationFailed")
	ac, _ := armauthorization.NewRoleAssignmentsClient(sub, cred, b.armOptions())
	_, err = ac.Create(ctx, "/subscriptions/"+sub, newGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + steward.BuiltInOwner),
		PrincipalID:      to.Ptr(b.principal(t, ContosoTenantName, ContosoTaggerApp).ObjectID),
	}}, nil)
	wantARMCode(t, err, 403, "AuthorizationFailed")

	// The Permissions API says what Tag Contributor may do.
	tok := b.appToken(t, cred, b.e.URL()+"/.default")
	var perms struct {
		Value []struct {
			Actions    []string `json:"actions"`
			NotActions []string `json:"notActions"`
		} `json:"value"`
	}
	if r := b.do(t, "GET", "/subscriptions/"+sub+"/providers/Microsoft.Authorization/permissions?api-version=2022-04-01", tok, nil, &perms); r.StatusCode != 200 || len(perms.Value) != 1 {
		t.Fatalf("permissions: %d %+v", r.StatusCode, perms)
	}
	if !strings.Contains(strings.Join(perms.Value[0].Actions, ","), "Microsoft.Resources/tags/*") {
		t.Fatalf("permissions: %+v", perms.Value[0])
	}
	pc, _ := armauthorization.NewPermissionsClient(sub, cred, b.armOptions())
	pp, err := pc.NewListForResourceGroupPager("NetworkWatcherRG", nil).NextPage(ctx)
	if err != nil || len(pp.Value) != 1 {
		t.Fatalf("permissions for group: %v", err)
	}
}

func TestReaderCannotWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	cred := b.spCred(t, ContosoTenantName, ContosoReaderApp)
	tc, _ := armresources.NewTagsClient(sub, cred, b.armOptions())
	_, err := tc.CreateOrUpdateAtScope(context.Background(), "/subscriptions/"+sub, armresources.TagsResource{Properties: &armresources.Tags{Tags: map[string]*string{"a": to.Ptr("b")}}}, nil)
	wantARMCode(t, err, 403, "AuthorizationFailed")
	rc, _ := armresources.NewClient(sub, cred, b.armOptions())
	all, _ := listAll(t, rc, nil)
	for _, r := range all {
		if *r.Type == "Microsoft.KeyVault/vaults" {
			if _, err := rc.GetByID(context.Background(), *r.ID, "2023-07-01", nil); err != nil {
				t.Fatalf("Reader GET resource: %v", err)
			}
			break
		}
	}
}

func TestNoRoleSeesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	// Alex has no role anywhere.
	var nobody string
	for _, u := range contoso.Users {
		if len(u.Roles) == 0 {
			nobody = u.UserPrincipalName
		}
	}
	if nobody == "" {
		t.Fatal("no role-less user in Contoso")
	}
	cred := b.userToken(t, nobody)
	sc, _ := armsubscriptions.NewClient(cred, b.armOptions())
	page, err := sc.NewListPager(nil).NextPage(context.Background())
	if err != nil || len(page.Value) != 0 {
		t.Fatalf("subscriptions: %v %d", err, len(page.Value))
	}
	_, err = sc.Get(context.Background(), contoso.Subscriptions[0], nil)
	wantARMCode(t, err, 404, "SubscriptionNotFound")
	rc, _ := armresources.NewClient(contoso.Subscriptions[0], cred, b.armOptions())
	_, err = rc.NewListPager(nil).NextPage(context.Background())
	wantARMCode(t, err, 403, "AuthorizationFailed")
	gc, _ := armresources.NewResourceGroupsClient(contoso.Subscriptions[0], cred, b.armOptions())
	_, err = gc.NewListPager(nil).NextPage(context.Background())
	wantARMCode(t, err, 403, "AuthorizationFailed")
}

func TestAssignmentsInheritanceAndGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	sub := contoso.Subscriptions[0]
	ctx := context.Background()
	admin := b.userToken(t, b.admin(t, ContosoTenantName))
	ac, _ := armauthorization.NewRoleAssignmentsClient(sub, admin, b.armOptions())
	var nobodyID, nobody string
	for _, u := range contoso.Users {
		if len(u.Roles) == 0 {
			nobodyID, nobody = u.ObjectID, u.UserPrincipalName
		}
	}
	rd := func(id string) *string {
		return to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + id)
	}
	// A Reader assignment on one resource group: the user sees that group's
	// resources and nothing else.
	rgScope := "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG"
	name := newGUID()
	created, err := ac.Create(ctx, rgScope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd(steward.BuiltInReader), PrincipalID: to.Ptr(nobodyID)}}, nil)
	if err != nil || *created.Properties.PrincipalType != armauthorization.PrincipalTypeUser || *created.Properties.Scope != rgScope {
		t.Fatalf("create at group: %v %+v", err, created)
	}
	_, err = ac.Create(ctx, rgScope, newGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd(steward.BuiltInReader), PrincipalID: to.Ptr(nobodyID)}}, nil)
	wantARMCode(t, err, 409, "RoleAssignmentExists")
	_, err = ac.Create(ctx, rgScope, "not-a-guid", armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd(steward.BuiltInReader), PrincipalID: to.Ptr(nobodyID)}}, nil)
	wantARMCode(t, err, 400, "InvalidRoleAssignmentId")
	_, err = ac.Create(ctx, rgScope, newGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd("00000000-0000-0000-0000-000000000001"), PrincipalID: to.Ptr(nobodyID)}}, nil)
	wantARMCode(t, err, 400, "RoleDefinitionDoesNotExist")
	_, err = ac.Create(ctx, rgScope, newGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd(steward.BuiltInReader), PrincipalID: to.Ptr("00000000-0000-0000-0000-0000000000aa")}}, nil)
	wantARMCode(t, err, 400, "PrincipalNotFound")

	user := b.userToken(t, nobody)
	rc, _ := armresources.NewClient(sub, user, b.armOptions())
	mine, _ := listAll(t, rc, nil)
	if len(mine) != 1 || !strings.Contains(*mine[0].ID, "/NetworkWatcherRG/") {
		t.Fatalf("group reader sees %d resources", len(mine))
	}
	sc, _ := armsubscriptions.NewClient(user, b.armOptions())
	page, _ := sc.NewListPager(nil).NextPage(ctx)
	if len(page.Value) != 1 {
		t.Fatalf("group reader sees %d subscriptions", len(page.Value))
	}

	// Assignments at a resource scope.
	resID := *mine[0].ID
	ra, err := ac.CreateByID(ctx, resID+"/providers/Microsoft.Authorization/roleAssignments/"+newGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: rd(steward.BuiltInTagContributor), PrincipalID: to.Ptr(nobodyID), PrincipalType: to.Ptr(armauthorization.PrincipalTypeUser)}}, nil)
	if err != nil || *ra.Properties.Scope != resID {
		t.Fatalf("create at resource: %v", err)
	}
	// List filters: at scope, by principal, assignedTo.
	count := func(scope, filter string) int {
		n := 0
		p := ac.NewListForScopePager(scope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr(filter)})
		for p.More() {
			pg, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("list %s %q: %v", scope, filter, err)
			}
			n += len(pg.Value)
		}
		return n
	}
	if n := count("/subscriptions/"+sub, "principalId eq '"+nobodyID+"'"); n != 2 {
		t.Fatalf("principalId filter: %d", n)
	}
	if n := count(rgScope, "atScope()"); n < 1 {
		t.Fatalf("atScope at group: %d", n)
	}
	if n := count(resID, "atScope() and assignedTo('"+nobodyID+"')"); n != 2 {
		t.Fatalf("assignedTo at resource: %d", n)
	}
	// Delete both; access is gone at once.
	if _, err := ac.Delete(ctx, rgScope, name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.DeleteByID(ctx, *ra.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = rc.NewListPager(nil).NextPage(ctx)
	wantARMCode(t, err, 403, "AuthorizationFailed")

	// Group membership carries roles: Cloud Operations holds Reader on the
	// first subscription.
	var member, memberSub string
	for _, u := range contoso.Users {
		for _, r := range u.Roles {
			if strings.HasPrefix(r, "Reader@/subscriptions/") && !strings.HasPrefix(u.UserPrincipalName, "admin@") {
				member, memberSub = u.UserPrincipalName, strings.TrimPrefix(r, "Reader@/subscriptions/")
			}
		}
	}
	mrc, _ := armresources.NewClient(memberSub, b.userToken(t, member), b.armOptions())
	if got, _ := listAll(t, mrc, nil); len(got) == 0 {
		t.Fatal("group member sees no resources")
	}
}

func TestRoleDefinitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	cred := b.spCred(t, ContosoTenantName, ContosoTaggerApp)
	dc, _ := armauthorization.NewRoleDefinitionsClient(cred, b.armOptions())
	ctx := context.Background()
	p := dc.NewListPager("/subscriptions/"+sub, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'Tag Contributor'")})
	page, err := p.NextPage(ctx)
	if err != nil || len(page.Value) != 1 {
		t.Fatalf("filter by name: %v", err)
	}
	rd := page.Value[0]
	if *rd.Name != steward.BuiltInTagContributor || *rd.ID != "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleDefinitions/"+steward.BuiltInTagContributor ||
		*rd.Properties.RoleType != "BuiltInRole" || len(rd.Properties.Permissions[0].Actions) != 8 {
		t.Fatalf("Tag Contributor: %+v", rd.Properties)
	}
	all, err := dc.NewListPager("/subscriptions/"+sub, nil).NextPage(ctx)
	if err != nil || len(all.Value) < 900 {
		t.Fatalf("catalog: %v %d", err, len(all.Value))
	}
	byID, err := dc.GetByID(ctx, "/providers/Microsoft.Authorization/roleDefinitions/"+steward.BuiltInOwner, nil)
	if err != nil || *byID.Properties.RoleName != "Owner" || *byID.ID != "/providers/Microsoft.Authorization/roleDefinitions/"+steward.BuiltInOwner {
		t.Fatalf("get by ID: %v", err)
	}
	_, err = dc.Get(ctx, "/subscriptions/"+sub, "00000000-0000-0000-0000-000000000001", nil)
	wantARMCode(t, err, 404, "RoleDefinitionDoesNotExist")
}

func TestSubscriptionTransfer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso, northwind := b.tenant(t, ContosoTenantName), b.tenant(t, NorthwindTenantName)
	sub := contoso.Subscriptions[0]
	cred := b.spCred(t, ContosoTenantName, ContosoReaderApp)
	sc, _ := armsubscriptions.NewClient(cred, b.armOptions())
	if _, err := sc.Get(context.Background(), sub, nil); err != nil {
		t.Fatal(err)
	}
	b.e.w.mu.Lock()
	ok := b.e.w.transferSubscription(sub, northwind.ID)
	b.e.w.mu.Unlock()
	if !ok {
		t.Fatal("transfer failed")
	}
	_, err := sc.Get(context.Background(), sub, nil)
	wantARMCode(t, err, 401, "InvalidAuthenticationTokenTenant")
	// Northwind's admin holds no role on it yet: assignments do not move.
	nsc, _ := armsubscriptions.NewClient(b.userToken(t, b.admin(t, NorthwindTenantName)), b.armOptions())
	_, err = nsc.Get(context.Background(), sub, nil)
	wantARMCode(t, err, 404, "SubscriptionNotFound")
}
