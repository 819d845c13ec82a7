package lighthouse

import (
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
)

// Resource types the validator looks for, compared case-insensitively.
const (
	typeDefinition = "Microsoft.ManagedServices/registrationDefinitions"
	typeAssignment = "Microsoft.ManagedServices/registrationAssignments"
	typeDeployment = "Microsoft.Resources/deployments"
)

// definition is one registration definition to check: its three parts,
// evaluated, and the file each came from (a template's parameters file when
// the value was passed in, else the template).
type definition struct {
	tenant       any
	tenantFile   string
	auths        any // nil when the property is absent
	authsFile    string
	eligible     any
	hasEligible  bool
	eligibleFile string
}

// unit is what one group of files amounts to: the definitions in it and
// findings about the files themselves.
type unit struct {
	defs     []definition
	findings []steward.LighthouseFinding
}

// extract reads the definitions out of a group from Pair: one file, or a
// template and its parameters file. A template's expressions are evaluated
// under b; the budget's error is returned when they exceed it.
func extract(docs []*doc, b *budget) (*unit, error) {
	var tmpl, params *doc
	for _, d := range docs {
		switch d.kind {
		case kindTemplate:
			tmpl = d
		case kindParameters:
			params = d
		case kindDefinition:
			return &unit{defs: []definition{{
				tenant: getFold(d.props, "managedByTenantId"), tenantFile: d.name,
				auths: getFold(d.props, "authorizations"), authsFile: d.name,
				eligible: getFold(d.props, "eligibleAuthorizations"), hasEligible: hasKeyFold(d.props, "eligibleAuthorizations"), eligibleFile: d.name,
			}}}, nil
		}
	}
	if tmpl != nil {
		b.file = tmpl.name
		return extractTemplate(tmpl, params, b)
	}
	return extractParameters(params)
}

// extractParameters reads a parameters file on its own. Without the template
// the parameters are found by their usual names, or else by shape: an array
// of objects with a roleDefinitionId.
func extractParameters(p *doc) (*unit, error) {
	def := definition{tenantFile: p.name, authsFile: p.name, eligibleFile: p.name}
	def.tenant = p.values["managedbytenantid"]
	def.auths = p.values["authorizations"]
	def.eligible, def.hasEligible = p.values["eligibleauthorizations"]
	if def.auths == nil {
		for _, n := range p.names {
			v := p.values[strings.ToLower(n)]
			switch authListKind(v) {
			case listPermanent:
				if def.auths == nil {
					def.auths = v
				}
			case listEligible:
				if !def.hasEligible {
					def.eligible, def.hasEligible = v, true
				}
			}
		}
	}
	if def.auths == nil {
		return nil, steward.Errorf(steward.EINVALID, "%s is a parameters file without an \"authorizations\" parameter, so it is not a Lighthouse parameters file.", p.name)
	}
	return &unit{defs: []definition{def}}, nil
}

// Shapes of parameter values that hold authorizations.
const (
	listPermanent = 1
	listEligible  = 2
)

func authListKind(v any) int {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return 0
	}
	m, ok := arr[0].(map[string]any)
	if !ok || !hasKeyFold(m, "roleDefinitionId") {
		return 0
	}
	if hasKeyFold(m, "justInTimeAccessPolicy") {
		return listEligible
	}
	return listPermanent
}

// templateWalk collects what a template deploys.
type templateWalk struct {
	tmpl, params *doc
	defs         []definition
	assignments  int
}

func extractTemplate(t, p *doc, b *budget) (*unit, error) {
	u := &unit{}
	ev := newEvaluator(b)
	loadScope(ev, t.root)
	if p != nil {
		ev.values, ev.valuesFromFile = p.values, true
		decl, _ := getFold(t.root, "parameters").(map[string]any)
		for _, n := range p.names {
			if !hasKeyFold(decl, n) {
				u.findings = append(u.findings, steward.LighthouseFinding{
					Severity: steward.LighthouseError, Rule: steward.LighthouseRuleParameterUndeclared,
					Kind: steward.LighthouseKindDefinition, File: p.name,
					Message: fmt.Sprintf("The parameters file sets %q, which %s does not declare; Azure rejects the deployment.", n, t.name),
				})
			}
		}
	}
	w := &templateWalk{tmpl: t, params: p}
	w.resources(getFold(t.root, "resources"), ev, 0)
	if b.err != nil {
		return nil, b.err
	}
	if len(w.defs) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "%s is an ARM template but not a Lighthouse template: it has no %s resource.", t.name, typeDefinition)
	}
	u.defs = w.defs
	if w.assignments == 0 {
		u.findings = append(u.findings, steward.LighthouseFinding{
			Severity: steward.LighthouseWarning, Rule: steward.LighthouseRuleNoAssignment,
			Kind: steward.LighthouseKindDefinition, File: t.name,
			Message: fmt.Sprintf("The template creates a registration definition but no %s resource, so deploying it delegates nothing.", typeAssignment),
		})
	}
	schema, _ := getFold(t.root, "$schema").(string)
	if s := strings.ToLower(schema); s != "" && !strings.Contains(s, "subscriptiondeploymenttemplate") {
		u.findings = append(u.findings, steward.LighthouseFinding{
			Severity: steward.LighthouseWarning, Rule: steward.LighthouseRuleDeploymentScope,
			Kind: steward.LighthouseKindDefinition, File: t.name,
			Message: fmt.Sprintf("The template's $schema (%s) is not a subscription deployment template; Lighthouse onboarding is deployed at subscription level (az deployment sub create), with resource groups reached through nested deployments.", schema),
		})
	}
	return u, nil
}

// loadScope declares a template's parameters and variables in ev.
func loadScope(ev *evaluator, tmpl map[string]any) {
	decl, _ := getFold(tmpl, "parameters").(map[string]any)
	for name, d := range decl {
		m, _ := d.(map[string]any)
		pd := paramDef{}
		if m != nil && hasKeyFold(m, "defaultValue") {
			pd = paramDef{defaultValue: getFold(m, "defaultValue"), hasDefault: true}
		}
		ev.params[strings.ToLower(name)] = pd
	}
	vars, _ := getFold(tmpl, "variables").(map[string]any)
	for name, v := range vars {
		if strings.EqualFold(name, "copy") {
			// Variable loops: each becomes a variable holding an array.
			if loops, ok := v.([]any); ok {
				for _, l := range loops {
					if m, ok := l.(map[string]any); ok {
						if n, ok := m["name"].(string); ok {
							ev.vars[strings.ToLower(n)] = map[string]any{"copy": []any{m}}
							ev.varLoops[strings.ToLower(n)] = true
						}
					}
				}
			}
			continue
		}
		ev.vars[strings.ToLower(name)] = v
	}
}

// resources walks a resources list (an array, or an object of symbolic
// names in languageVersion 2.0), nested child resources and inline nested
// deployments.
func (w *templateWalk) resources(list any, ev *evaluator, depth int) {
	if depth > 10 {
		return
	}
	var items []any
	switch l := list.(type) {
	case []any:
		items = l
	case map[string]any:
		for _, k := range sortedKeys(l) {
			items = append(items, l[k])
		}
	}
	for _, it := range items {
		r, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if ev.b.err != nil {
			return
		}
		if existing, _ := getFold(r, "existing").(bool); existing {
			continue
		}
		typ, _ := ev.evalString(fmt.Sprint(getFold(r, "type"))).(string)
		switch {
		case strings.EqualFold(typ, typeDefinition):
			w.definition(r, ev)
		case strings.EqualFold(typ, typeAssignment):
			w.assignments++
		case strings.EqualFold(typ, typeDeployment):
			w.deployment(r, ev, depth)
		}
		if child := getFold(r, "resources"); child != nil {
			w.resources(child, ev, depth+1)
		}
	}
}

func (w *templateWalk) definition(r map[string]any, ev *evaluator) {
	var props map[string]any
	switch p := getFold(r, "properties").(type) {
	case map[string]any:
		props = p
	case string:
		props, _ = ev.evalString(p).(map[string]any)
	}
	def := definition{tenantFile: w.tmpl.name, authsFile: w.tmpl.name, eligibleFile: w.tmpl.name}
	if props == nil {
		u := unresolved{expr: "properties", reason: "not an object Steward can read"}
		def.tenant, def.auths = u, u
		w.defs = append(w.defs, def)
		return
	}
	// Property copy loops (what Bicep's for-expressions compile to) are
	// expanded first; their results are values, not template text.
	expanded, copyFromFile := map[string]any{}, false
	if loops, ok := getFold(props, "copy").([]any); ok {
		ev.usedValues = false
		if !ev.propertyCopy(loops, expanded) {
			expanded = map[string]any{}
		}
		copyFromFile = ev.usedValues
	}
	field := func(name string, file *string) any {
		for k, v := range expanded {
			if strings.EqualFold(k, name) {
				if copyFromFile && w.params != nil {
					*file = w.params.name
				}
				return v
			}
		}
		raw := getFold(props, name)
		if raw == nil {
			return nil
		}
		ev.usedValues = false
		v := ev.evalDeep(raw)
		// A value passed in whole from the parameters file is that file's;
		// a literal in the template stays the template's even when parts
		// of it are parameters.
		if s, ok := raw.(string); ok && isExpr(s) && ev.usedValues && w.params != nil {
			*file = w.params.name
		}
		return v
	}
	def.tenant = field("managedByTenantId", &def.tenantFile)
	def.auths = field("authorizations", &def.authsFile)
	def.eligible = field("eligibleAuthorizations", &def.eligibleFile)
	def.hasEligible = def.eligible != nil || hasKeyFold(props, "eligibleAuthorizations")
	w.defs = append(w.defs, def)
}

// deployment follows an inline nested deployment. With the default "outer"
// evaluation scope its template sees the parent's parameters and
// variables; with "inner" it gets its own, fed by properties.parameters.
func (w *templateWalk) deployment(r map[string]any, ev *evaluator, depth int) {
	props, _ := getFold(r, "properties").(map[string]any)
	inner, _ := getFold(props, "template").(map[string]any)
	if inner == nil {
		return // a templateLink: nothing to see offline
	}
	opts, _ := getFold(props, "expressionEvaluationOptions").(map[string]any)
	scope, _ := getFold(opts, "scope").(string)
	if !strings.EqualFold(scope, "inner") {
		w.resources(getFold(inner, "resources"), ev, depth+1)
		return
	}
	child := newEvaluator(ev.b)
	loadScope(child, inner)
	passed, _ := getFold(props, "parameters").(map[string]any)
	ev.usedValues = false
	for name, p := range passed {
		if m, ok := p.(map[string]any); ok && hasKeyFold(m, "value") {
			child.values[strings.ToLower(name)] = ev.evalDeep(getFold(m, "value"))
		}
	}
	child.valuesFromFile = ev.usedValues
	w.resources(getFold(inner, "resources"), child, depth+1)
}
