package lighthouse

import (
	"context"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azroles"
)

// Service implements steward.Lighthouse with the embedded built-in role
// catalog. It holds no state besides the catalog and is safe for concurrent
// use.
type Service struct {
	roles  *azroles.Catalog
	limits limits // the budget of each call; see budget.go
	// needed are the action patterns of the roles Steward's own work needs;
	// a role granting a non-read action outside them is broader than needed.
	needed []string
}

var _ steward.Lighthouse = (*Service)(nil)

// stewardRoles are what Steward needs on a delegated scope: read the
// inventory, edit tags, read costs, and be able to remove the delegation.
var stewardRoles = []string{
	steward.BuiltInReader,
	steward.BuiltInTagContributor,
	steward.BuiltInCostManagementReader,
	steward.BuiltInRegistrationAssignmentDelete,
}

// New returns a Service over Azure's built-in roles.
func New() *Service {
	s := &Service{roles: azroles.BuiltIn(), limits: defaultLimits}
	for _, id := range stewardRoles {
		if r, ok := s.roles.ByID(id); ok {
			for _, p := range r.Permissions {
				s.needed = append(s.needed, p.Actions...)
			}
		}
	}
	return s
}

// LighthouseValidate checks the files, pairing each template with its
// parameters file (see Pair). Findings come per group in input order: first
// those about the files, then per definition the managing tenant, the
// authorizations, the eligible authorizations and the whole-definition
// advice. The whole call runs under one budget (see budget.go) and stops
// when ctx ends. EINVALID when a file is not JSON or not a Lighthouse input,
// EUNPROCESSABLE when evaluating the templates exceeds the budget (the
// message names the limit), EUNAVAILABLE wrapping ctx's error when ctx
// ends first.
func (s *Service) LighthouseValidate(ctx context.Context, files ...steward.LighthouseFile) ([]steward.LighthouseFinding, error) {
	if len(files) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "No file to check: give a Lighthouse ARM template, its parameters file or a registration definition.")
	}
	return s.validate(newBudget(ctx, s.limits), files)
}

// validate is LighthouseValidate under a given budget, which tests read
// afterwards to see what a template cost.
func (s *Service) validate(b *budget, files []steward.LighthouseFile) ([]steward.LighthouseFinding, error) {
	findings := []steward.LighthouseFinding{}
	for _, g := range Pair(files) {
		if err := b.ctx.Err(); err != nil {
			return nil, stopped(err)
		}
		f, err := s.validateGroup(b, g)
		if err != nil {
			return nil, err
		}
		findings = append(findings, f...)
	}
	return findings, nil
}

func (s *Service) validateGroup(b *budget, files []steward.LighthouseFile) ([]steward.LighthouseFinding, error) {
	docs := make([]*doc, 0, len(files))
	for _, f := range files {
		d, err := parseFile(f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	b.file = files[0].Name
	u, err := extract(docs, b)
	if err != nil {
		return nil, err
	}
	out := u.findings
	for i, d := range u.defs {
		c := &checker{s: s, b: b}
		if len(u.defs) > 1 {
			c.def = i + 1
		}
		c.check(d)
		if b.err != nil {
			return nil, b.err
		}
		out = append(out, c.out...)
	}
	return out, nil
}

// LighthouseRoles lists every built-in role, by name, with whether
// Lighthouse accepts it.
func (s *Service) LighthouseRoles(ctx context.Context) ([]steward.LighthouseRole, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := s.roles.All()
	out := make([]steward.LighthouseRole, 0, len(all))
	for _, r := range all {
		lr := steward.LighthouseRole{ID: r.ID, Name: r.RoleName}
		if isUAA(&r) {
			lr.Supported = true
			lr.Rule = steward.LighthouseRuleEligibleUAA
			lr.Reason = "Only to assign the roles listed in delegatedRoleDefinitionIds to managed identities; never as an eligible authorization."
		} else if vs := violations(r); len(vs) > 0 {
			lr.Rule = vs[0].rule
			lr.Reason = r.RoleName + " " + vs[0].reason + "."
		} else {
			lr.Supported, lr.Eligible = true, true
		}
		out = append(out, lr)
	}
	return out, nil
}

// beyondNeeds returns the role's non-read action patterns that none of the
// roles Steward needs grants: a pattern is covered when one of Steward's
// patterns matches it as written, so "*" is never covered and
// "Microsoft.Resources/tags/*" is.
func (s *Service) beyondNeeds(r steward.RoleDefinition) []string {
	var out []string
	for _, p := range r.Permissions {
		for _, a := range p.Actions {
			if strings.HasSuffix(strings.ToLower(a), "/read") {
				continue
			}
			covered := false
			for _, q := range s.needed {
				if steward.MatchAction(q, a) {
					covered = true
					break
				}
			}
			if !covered {
				out = append(out, a)
			}
		}
	}
	return out
}
