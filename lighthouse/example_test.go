package lighthouse_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/lighthouse"
)

// Build the delegation Steward needs on a customer's subscription, then
// check the result the way a customer's template would be checked.
func ExampleService_LighthouseBuild() {
	svc := lighthouse.New()
	spec := steward.LighthouseSpec{
		Scope:             steward.LighthouseScopeSubscription,
		OfferName:         "Contoso tag management",
		ManagedByTenantID: "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13",
		Authorizations: []steward.LighthouseAuthorization{
			// Roles by name or GUID; the template gets GUIDs.
			{PrincipalID: "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", PrincipalIDDisplayName: "Steward", RoleDefinitionID: "Reader"},
			{PrincipalID: "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", PrincipalIDDisplayName: "Steward", RoleDefinitionID: "Tag Contributor"},
			{PrincipalID: "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", PrincipalIDDisplayName: "Offboarding", RoleDefinitionID: steward.BuiltInRegistrationAssignmentDelete},
			// A human team with more rights than Steward needs: allowed,
			// with a warning.
			{PrincipalID: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", PrincipalIDDisplayName: "Operators", RoleDefinitionID: "Virtual Machine Contributor"},
		},
	}
	tmpl, findings, err := svc.LighthouseBuild(context.Background(), spec)
	if err != nil {
		fmt.Println("not built:", steward.ErrorMessage(err))
		return
	}
	for _, f := range findings {
		fmt.Println(f.Severity, f.Rule, f.Kind, f.Authorization)
	}

	var doc struct {
		Resources []struct{ Type, APIVersion string }
	}
	if err := json.Unmarshal(tmpl.Template, &doc); err != nil {
		panic(err)
	}
	for _, r := range doc.Resources {
		fmt.Println(r.Type, r.APIVersion)
	}

	check, err := svc.LighthouseValidate(context.Background(),
		steward.LighthouseFile{Name: steward.LighthouseTemplateFile, Data: tmpl.Template},
		steward.LighthouseFile{Name: steward.LighthouseParametersFile, Data: tmpl.Parameters})
	if err != nil {
		panic(err)
	}
	fmt.Println("findings when validated:", len(check))
	// Output:
	// warning list-keys authorization 4
	// warning broader-than-needed authorization 4
	// Microsoft.ManagedServices/registrationDefinitions 2022-10-01
	// Microsoft.ManagedServices/registrationAssignments 2022-10-01
	// findings when validated: 2
}

// Validate a bare registration definition body, as the REST API takes it.
func ExampleService_LighthouseValidate() {
	body := []byte(`{"properties": {
	  "managedByTenantId": "6c3b8e2a-1f4d-4b7e-9a51-2d8c0f7e4a13",
	  "authorizations": [
	    {"principalId": "3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c", "principalIdDisplayName": "Admins",
	     "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}
	  ]}}`)
	findings, err := lighthouse.New().LighthouseValidate(context.Background(), steward.LighthouseFile{Name: "definition.json", Data: body})
	if err != nil {
		panic(err)
	}
	for _, f := range findings {
		fmt.Printf("%s %s: %s\n", f.Severity, f.Rule, f.Message)
	}
	// Output:
	// warning no-delete-role: No authorization holds the Managed Services Registration assignment Delete Role (91c1777a-f3dc-4fae-b103-61d183457e46), so only the customer could remove this delegation; Microsoft recommends including it.
	// warning no-reader: No permanent authorization grants read access to everything (Reader or a role that includes it), so the managing tenant's users will not see this customer in "My customers".
	// error owner: Authorization 1 ("Admins", Owner): Owner is not supported by Lighthouse.
}
