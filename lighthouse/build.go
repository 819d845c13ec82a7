package lighthouse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/stewardhq/steward"
)

// What built templates use. The registration resources take the current
// Microsoft.ManagedServices API version; the nested deployment that reaches
// each resource group, a long-standing Microsoft.Resources one.
const (
	managedServicesAPI  = "2022-10-01"
	deploymentsAPI      = "2022-09-01"
	subscriptionSchema  = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
	subscriptionParams  = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentParameters.json#"
	resourceGroupSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
	contentVersion      = "1.0.0.0"
)

// LighthouseBuild checks the spec and writes the onboarding template and its
// parameters file. Role names are accepted wherever a role GUID is expected
// and are written as GUIDs; an eligible authorization's policy defaults to
// MFA through Azure and PT8H. The template takes everything that varies as
// parameters, so one template serves many customers with different
// parameters files. EINVALID for a malformed spec, EUNPROCESSABLE (with the
// findings) when the delegation breaks a Lighthouse rule.
func (s *Service) LighthouseBuild(ctx context.Context, spec steward.LighthouseSpec) (*steward.LighthouseTemplate, []steward.LighthouseFinding, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	spec, err := s.normalise(spec)
	if err != nil {
		return nil, nil, err
	}
	def := definition{tenant: spec.ManagedByTenantID, auths: toJSONValue(spec.Authorizations)}
	if len(spec.EligibleAuthorizations) > 0 {
		def.eligible, def.hasEligible = toJSONValue(spec.EligibleAuthorizations), true
	}
	c := &checker{s: s, b: newBudget(ctx, s.limits)}
	c.check(def)
	if c.b.err != nil {
		return nil, nil, c.b.err
	}
	findings := c.out
	if n := countErrors(findings); n > 0 {
		return nil, findings, steward.Errorf(steward.EUNPROCESSABLE, "The delegation breaks %d Lighthouse rule(s); no template was built.", n)
	}
	t := &steward.LighthouseTemplate{Template: render(templateFor(spec)), Parameters: render(parametersFor(spec))}

	// A template Steward builds must pass Steward's own validator.
	check, err := s.LighthouseValidate(ctx,
		steward.LighthouseFile{Name: steward.LighthouseTemplateFile, Data: t.Template},
		steward.LighthouseFile{Name: steward.LighthouseParametersFile, Data: t.Parameters})
	if err != nil {
		return nil, findings, steward.WrapError(steward.EINTERNAL, err, "The built template does not validate.")
	}
	if n := countErrors(check); n > 0 {
		return nil, findings, steward.WrapError(steward.EINTERNAL, fmt.Errorf("%d errors, first: %s", n, firstError(check)), "The built template does not validate.")
	}
	return t, findings, nil
}

func countErrors(fs []steward.LighthouseFinding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == steward.LighthouseError {
			n++
		}
	}
	return n
}

func firstError(fs []steward.LighthouseFinding) string {
	for _, f := range fs {
		if f.Severity == steward.LighthouseError {
			return f.Rule + ": " + f.Message
		}
	}
	return ""
}

// toJSONValue turns spec values into the generic form the checker reads.
func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	out, err := decodeJSON(b)
	if err != nil {
		return nil
	}
	return out
}

// normalise trims the spec, fills defaults, turns role names into GUIDs and
// rejects what cannot be a delegation at all.
func (s *Service) normalise(spec steward.LighthouseSpec) (steward.LighthouseSpec, error) {
	spec.OfferName = strings.TrimSpace(spec.OfferName)
	spec.OfferDescription = strings.TrimSpace(spec.OfferDescription)
	spec.ManagedByTenantID = strings.ToLower(strings.TrimSpace(spec.ManagedByTenantID))
	switch strings.ToLower(string(spec.Scope)) {
	case "":
		spec.Scope = steward.LighthouseScopeSubscription
		if len(spec.ResourceGroups) > 0 {
			spec.Scope = steward.LighthouseScopeResourceGroup
		}
	case "subscription":
		spec.Scope = steward.LighthouseScopeSubscription
	case "resourcegroup":
		spec.Scope = steward.LighthouseScopeResourceGroup
	default:
		return spec, steward.Errorf(steward.EINVALID, "Scope %q is not one Lighthouse delegates; use subscription or resourceGroup.", spec.Scope)
	}
	rgs := make([]string, 0, len(spec.ResourceGroups))
	for _, rg := range spec.ResourceGroups {
		rg = strings.TrimSpace(rg)
		if !validResourceGroup(rg) {
			return spec, steward.Errorf(steward.EINVALID, "Resource group name %q is not valid: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period.", rg)
		}
		if slices.ContainsFunc(rgs, func(x string) bool { return strings.EqualFold(x, rg) }) {
			return spec, steward.Errorf(steward.EINVALID, "Resource group %q is listed twice.", rg)
		}
		rgs = append(rgs, rg)
	}
	spec.ResourceGroups = rgs
	switch {
	case spec.Scope == steward.LighthouseScopeResourceGroup && len(rgs) == 0:
		return spec, steward.Errorf(steward.EINVALID, "A resource group delegation needs at least one resource group.")
	case spec.Scope == steward.LighthouseScopeSubscription && len(rgs) > 0:
		return spec, steward.Errorf(steward.EINVALID, "A subscription delegation takes no resource groups; use scope resourceGroup to delegate only some groups.")
	}
	if spec.OfferName == "" {
		return spec, steward.Errorf(steward.EINVALID, "The offer name is required; customers see the delegation under it.")
	}
	if len(spec.OfferName) > 200 || len(spec.OfferDescription) > 2000 {
		return spec, steward.Errorf(steward.EINVALID, "The offer name must be at most 200 characters and the description at most 2000.")
	}
	if spec.OfferDescription == "" {
		spec.OfferDescription = spec.OfferName
	}
	auths := make([]steward.LighthouseAuthorization, len(spec.Authorizations))
	for i, a := range spec.Authorizations {
		a.PrincipalID = strings.ToLower(strings.TrimSpace(a.PrincipalID))
		a.PrincipalIDDisplayName = strings.TrimSpace(a.PrincipalIDDisplayName)
		a.RoleDefinitionID = s.roleGUID(a.RoleDefinitionID)
		if a.DelegatedRoleDefinitionIDs != nil {
			ids := make([]string, len(a.DelegatedRoleDefinitionIDs))
			for j, id := range a.DelegatedRoleDefinitionIDs {
				ids[j] = s.roleGUID(id)
			}
			a.DelegatedRoleDefinitionIDs = ids
		}
		auths[i] = a
	}
	spec.Authorizations = auths
	elig := make([]steward.LighthouseEligibleAuthorization, len(spec.EligibleAuthorizations))
	for i, a := range spec.EligibleAuthorizations {
		a.PrincipalID = strings.ToLower(strings.TrimSpace(a.PrincipalID))
		a.PrincipalIDDisplayName = strings.TrimSpace(a.PrincipalIDDisplayName)
		a.RoleDefinitionID = s.roleGUID(a.RoleDefinitionID)
		p := &a.JustInTimeAccessPolicy
		p.MultiFactorAuthProvider = strings.TrimSpace(p.MultiFactorAuthProvider)
		switch strings.ToLower(p.MultiFactorAuthProvider) {
		case "":
			p.MultiFactorAuthProvider = "Azure"
		case "azure":
			p.MultiFactorAuthProvider = "Azure"
		case "none":
			p.MultiFactorAuthProvider = "None"
		}
		p.MaximumActivationDuration = strings.TrimSpace(p.MaximumActivationDuration)
		if p.MaximumActivationDuration == "" {
			p.MaximumActivationDuration = "PT8H"
		}
		approvers := make([]steward.LighthouseApprover, len(p.ManagedByTenantApprovers))
		for j, ap := range p.ManagedByTenantApprovers {
			approvers[j] = steward.LighthouseApprover{
				PrincipalID:            strings.ToLower(strings.TrimSpace(ap.PrincipalID)),
				PrincipalIDDisplayName: strings.TrimSpace(ap.PrincipalIDDisplayName),
			}
		}
		p.ManagedByTenantApprovers = approvers
		elig[i] = a
	}
	spec.EligibleAuthorizations = elig
	return spec, nil
}

// roleGUID returns the lower-case GUID of a role given by GUID, full ID or
// name; anything else is returned trimmed, for the checker to report.
func (s *Service) roleGUID(role string) string {
	role = strings.TrimSpace(role)
	if r, ok := s.roles.ByID(role); ok {
		return strings.ToLower(r.ID)
	}
	if r, ok := s.roles.ByName(role); ok {
		return strings.ToLower(r.ID)
	}
	return role
}

// validResourceGroup applies Azure's resource group naming rules.
func validResourceGroup(name string) bool {
	if name == "" || len([]rune(name)) > 90 || strings.HasSuffix(name, ".") {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.()", r) {
			return false
		}
	}
	return true
}

// obj is a JSON object that keeps its keys in the order written, so built
// templates read top-down like hand-written ones.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the fields in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(f.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// render writes a document indented, without HTML escaping (descriptions
// may hold & or <), ending in a newline.
func render(o obj) []byte {
	raw, err := marshalNoEscape(o)
	if err != nil {
		panic("lighthouse: rendering a template: " + err.Error()) // only plain values are rendered
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		panic("lighthouse: indenting a template: " + err.Error())
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func param(typ, description string) obj {
	return obj{{"type", typ}, {"metadata", obj{{"description", description}}}}
}

// templateFor writes the template. A subscription delegation is one
// registration definition and its assignment. A resource group delegation
// creates, per group, a definition at subscription level and assigns it in
// the group through a nested deployment (a copy loop over the resourceGroups
// parameter), the shape Microsoft's own samples use.
func templateFor(spec steward.LighthouseSpec) obj {
	eligible := len(spec.EligibleAuthorizations) > 0
	params := obj{
		{"mspOfferName", param("string", "Name of the delegation, shown to the customer; also seeds the registration's ID, so keep it unique per managing tenant.")},
		{"mspOfferDescription", param("string", "What the managing tenant does with this access, shown to the customer.")},
		{"managedByTenantId", param("string", "ID of the managing (partner) tenant that receives access.")},
		{"authorizations", param("array", "Permanent authorizations: principalId and principalIdDisplayName of a user, group or service principal of the managing tenant, the built-in roleDefinitionId it holds and, for User Access Administrator only, the delegatedRoleDefinitionIds it may assign to managed identities.")},
	}
	if eligible {
		params = append(params, kv{"eligibleAuthorizations", param("array", "Just-in-time authorizations: principal, built-in role and justInTimeAccessPolicy (multiFactorAuthProvider, maximumActivationDuration, managedByTenantApprovers).")})
	}
	defProps := obj{
		{"registrationDefinitionName", "[parameters('mspOfferName')]"},
		{"description", "[parameters('mspOfferDescription')]"},
		{"managedByTenantId", "[parameters('managedByTenantId')]"},
		{"authorizations", "[parameters('authorizations')]"},
	}
	if eligible {
		defProps = append(defProps, kv{"eligibleAuthorizations", "[parameters('eligibleAuthorizations')]"})
	}
	outputs := obj{
		{"mspOfferName", obj{{"type", "string"}, {"value", "[concat('Managed by ', parameters('mspOfferName'))]"}}},
		{"authorizations", obj{{"type", "array"}, {"value", "[parameters('authorizations')]"}}},
	}
	if eligible {
		outputs = append(outputs, kv{"eligibleAuthorizations", obj{{"type", "array"}, {"value", "[parameters('eligibleAuthorizations')]"}}})
	}

	var variables obj
	var resources []any
	if spec.Scope == steward.LighthouseScopeSubscription {
		variables = obj{
			{"registrationName", "[guid(parameters('mspOfferName'))]"},
			{"assignmentName", "[guid(parameters('mspOfferName'))]"},
		}
		defID := "[subscriptionResourceId('Microsoft.ManagedServices/registrationDefinitions', variables('registrationName'))]"
		resources = []any{
			obj{
				{"type", typeDefinition},
				{"apiVersion", managedServicesAPI},
				{"name", "[variables('registrationName')]"},
				{"properties", defProps},
			},
			obj{
				{"type", typeAssignment},
				{"apiVersion", managedServicesAPI},
				{"name", "[variables('assignmentName')]"},
				{"dependsOn", []any{defID}},
				{"properties", obj{{"registrationDefinitionId", defID}}},
			},
		}
	} else {
		params = append(params, kv{"resourceGroups", param("array", "The resource groups to delegate, as objects {\"rgName\": \"…\"}; they must already exist.")})
		rgName := "parameters('resourceGroups')[copyIndex()].rgName"
		name := "guid(parameters('mspOfferName'), " + rgName + ")"
		defID := "[subscriptionResourceId('Microsoft.ManagedServices/registrationDefinitions', " + name + ")]"
		count := "[length(parameters('resourceGroups'))]"
		resources = []any{
			obj{
				{"type", typeDefinition},
				{"apiVersion", managedServicesAPI},
				{"name", "[" + name + "]"},
				{"copy", obj{{"name", "definitions"}, {"count", count}}},
				{"properties", defProps},
			},
			obj{
				{"type", typeDeployment},
				{"apiVersion", deploymentsAPI},
				{"name", "[concat('lighthouseAssignment', copyIndex())]"},
				{"resourceGroup", "[" + rgName + "]"},
				{"copy", obj{{"name", "assignments"}, {"count", count}}},
				{"dependsOn", []any{defID}},
				{"properties", obj{
					{"mode", "Incremental"},
					{"template", obj{
						{"$schema", resourceGroupSchema},
						{"contentVersion", contentVersion},
						{"parameters", obj{}},
						{"resources", []any{
							obj{
								{"type", typeAssignment},
								{"apiVersion", managedServicesAPI},
								{"name", "[" + name + "]"},
								{"properties", obj{{"registrationDefinitionId", defID}}},
							},
						}},
					}},
				}},
			},
		}
	}
	t := obj{
		{"$schema", subscriptionSchema},
		{"contentVersion", contentVersion},
		{"metadata", obj{{"description", "Azure Lighthouse onboarding, built by Steward. Deploy with: az deployment sub create --location <region> --template-file " + steward.LighthouseTemplateFile + " --parameters @" + steward.LighthouseParametersFile}}},
		{"parameters", params},
	}
	if variables != nil {
		t = append(t, kv{"variables", variables})
	}
	return append(t, kv{"resources", resources}, kv{"outputs", outputs})
}

// parametersFor writes the parameters file holding the spec's values.
func parametersFor(spec steward.LighthouseSpec) obj {
	value := func(v any) obj { return obj{{"value", v}} }
	params := obj{
		{"mspOfferName", value(spec.OfferName)},
		{"mspOfferDescription", value(spec.OfferDescription)},
		{"managedByTenantId", value(spec.ManagedByTenantID)},
		{"authorizations", value(spec.Authorizations)},
	}
	if len(spec.EligibleAuthorizations) > 0 {
		params = append(params, kv{"eligibleAuthorizations", value(spec.EligibleAuthorizations)})
	}
	if spec.Scope == steward.LighthouseScopeResourceGroup {
		rgs := make([]obj, len(spec.ResourceGroups))
		for i, rg := range spec.ResourceGroups {
			rgs[i] = obj{{"rgName", rg}}
		}
		params = append(params, kv{"resourceGroups", value(rgs)})
	}
	return obj{
		{"$schema", subscriptionParams},
		{"contentVersion", contentVersion},
		{"parameters", params},
	}
}
