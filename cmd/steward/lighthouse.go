package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/lighthouse"
)

// runLighthouse runs `steward lighthouse template …` and `steward lighthouse
// validate …`, offline, and returns the exit status: 0 when nothing is
// wrong, 1 when the delegation breaks a Lighthouse rule, 2 for bad usage or
// input that cannot be read. Everything else it needs is local to it, so
// package main gains one name.
func runLighthouse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = `Usage: steward lighthouse COMMAND [flags]

Builds and checks Azure Lighthouse onboarding templates, offline.

Commands:
  template   write an onboarding template and its parameters file
  validate   check templates, parameters files and registration definitions

Run "steward lighthouse COMMAND -h" for a command's flags.
`
	const templateUsage = `Usage: steward lighthouse template [flags]

Writes template.json and template.parameters.json for a customer to deploy
(az deployment sub create). The delegation is checked first: nothing is
written when it breaks a Lighthouse rule (exit status 1).

  --authorization principalId,displayName,role[,delegatedRole…]
        a permanent authorization (repeatable). The role is a built-in role's
        name or GUID; delegated roles, for User Access Administrator only, are
        the roles it may assign to managed identities.
  --eligible principalId,displayName,role[,duration=PT8H][,mfa=Azure|None][,approver=principalId[:displayName]]…
        a just-in-time authorization (repeatable); approver repeats, up to 10.

Display names cannot hold commas. Flags:
`
	const validateUsage = `Usage: steward lighthouse validate [--json] FILE|DIR…

Checks Lighthouse ARM templates, parameters files and registration definition
bodies against Lighthouse's rules and Steward's advice. A template X.json and
its parameters file X.parameters.json are checked together, whether both are
given or found side by side. A directory stands for the .json files in it.

Exit status: 0 no errors (warnings allowed), 1 errors, 2 input that cannot be
read. Flags:
`
	// newFlags makes a flag set whose help goes to stdout when asked for
	// and to stderr after a mistake.
	newFlags := func(name, text string) *flag.FlagSet {
		fset := flag.NewFlagSet("steward lighthouse "+name, flag.ContinueOnError)
		fset.SetOutput(stderr)
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				fset.SetOutput(stdout)
			}
		}
		fset.Usage = func() {
			fmt.Fprint(fset.Output(), text)
			fset.PrintDefaults()
		}
		return fset
	}
	// parse reads flags wherever they stand among the arguments.
	parse := func(fset *flag.FlagSet, args []string) ([]string, error) {
		var rest []string
		for {
			if err := fset.Parse(args); err != nil {
				return nil, err
			}
			args = fset.Args()
			if len(args) == 0 {
				return rest, nil
			}
			if args[0] == "--" {
				return append(rest, args[1:]...), nil
			}
			rest = append(rest, args[0])
			args = args[1:]
		}
	}
	splitList := func(s string) []string {
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	plural := func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	printFindings := func(w io.Writer, findings []steward.LighthouseFinding, indent string) {
		for _, f := range findings {
			fmt.Fprintf(w, "%s%-7s  %-27s  %s\n", indent, f.Severity, f.Rule, f.Message)
		}
	}
	count := func(findings []steward.LighthouseFinding) (errs, warns int) {
		for _, f := range findings {
			if f.Severity == steward.LighthouseError {
				errs++
			} else {
				warns++
			}
		}
		return errs, warns
	}

	template := func(args []string) int {
		var spec steward.LighthouseSpec
		var out string
		var force bool
		fset := newFlags("template", templateUsage)
		fset.Func("scope", "`subscription` or resourceGroup (default subscription, or resourceGroup with --resource-group)", func(s string) error {
			switch strings.ToLower(s) {
			case "subscription", "sub":
				spec.Scope = steward.LighthouseScopeSubscription
			case "resourcegroup", "resource-group", "rg":
				spec.Scope = steward.LighthouseScopeResourceGroup
			default:
				return fmt.Errorf("scope is subscription or resourceGroup")
			}
			return nil
		})
		fset.Func("resource-group", "a resource group to delegate (repeatable; they must exist)", func(s string) error {
			spec.ResourceGroups = append(spec.ResourceGroups, s)
			return nil
		})
		fset.StringVar(&spec.ManagedByTenantID, "tenant", "", "the managing tenant's `ID`, which receives access")
		fset.StringVar(&spec.ManagedByTenantID, "managed-by-tenant-id", "", "the same as --tenant")
		fset.StringVar(&spec.OfferName, "offer-name", "", "the delegation's `name`, as the customer sees it (required)")
		fset.StringVar(&spec.OfferDescription, "offer-description", "", "what the access is for (default: the offer name)")
		fset.Func("authorization", "a permanent authorization (repeatable, see above)", func(s string) error {
			p := splitList(s)
			if len(p) < 3 || p[2] == "" {
				return fmt.Errorf("want principalId,displayName,role[,delegatedRole…]")
			}
			a := steward.LighthouseAuthorization{PrincipalID: p[0], PrincipalIDDisplayName: p[1], RoleDefinitionID: p[2]}
			for _, d := range p[3:] {
				if d != "" {
					a.DelegatedRoleDefinitionIDs = append(a.DelegatedRoleDefinitionIDs, d)
				}
			}
			spec.Authorizations = append(spec.Authorizations, a)
			return nil
		})
		fset.Func("eligible", "a just-in-time authorization (repeatable, see above)", func(s string) error {
			p := splitList(s)
			if len(p) < 3 || p[2] == "" {
				return fmt.Errorf("want principalId,displayName,role[,duration=…][,mfa=…][,approver=…]")
			}
			e := steward.LighthouseEligibleAuthorization{PrincipalID: p[0], PrincipalIDDisplayName: p[1], RoleDefinitionID: p[2]}
			for _, kv := range p[3:] {
				k, v, ok := strings.Cut(kv, "=")
				switch {
				case !ok:
					return fmt.Errorf("%q is not key=value (duration, mfa or approver)", kv)
				case k == "duration":
					e.JustInTimeAccessPolicy.MaximumActivationDuration = v
				case k == "mfa":
					e.JustInTimeAccessPolicy.MultiFactorAuthProvider = v
				case k == "approver":
					id, name, _ := strings.Cut(v, ":")
					e.JustInTimeAccessPolicy.ManagedByTenantApprovers = append(e.JustInTimeAccessPolicy.ManagedByTenantApprovers,
						steward.LighthouseApprover{PrincipalID: id, PrincipalIDDisplayName: name})
				default:
					return fmt.Errorf("unknown key %q: use duration, mfa or approver", k)
				}
			}
			spec.EligibleAuthorizations = append(spec.EligibleAuthorizations, e)
			return nil
		})
		fset.StringVar(&out, "out", ".", "the `directory` to write into (created if missing)")
		fset.BoolVar(&force, "force", false, "overwrite existing files")
		rest, err := parse(fset, args)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			return 2
		}
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "steward lighthouse template: unexpected argument %q\n", rest[0])
			return 2
		}

		t, findings, err := lighthouse.New().LighthouseBuild(ctx, spec)
		printFindings(stderr, findings, "")
		switch steward.ErrorCode(err) {
		case "":
		case steward.EUNPROCESSABLE:
			fmt.Fprintf(stderr, "steward lighthouse template: %s\n", steward.ErrorMessage(err))
			return 1
		case steward.EINVALID:
			fmt.Fprintf(stderr, "steward lighthouse template: %s\n", steward.ErrorMessage(err))
			return 2
		default:
			fmt.Fprintf(stderr, "steward lighthouse template: %v\n", err)
			return 2
		}
		tmplPath := filepath.Join(out, steward.LighthouseTemplateFile)
		paramPath := filepath.Join(out, steward.LighthouseParametersFile)
		if !force {
			for _, p := range []string{tmplPath, paramPath} {
				if _, err := os.Stat(p); err == nil {
					fmt.Fprintf(stderr, "steward lighthouse template: %s exists; use --force to overwrite it or --out for another directory\n", p)
					return 2
				}
			}
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			fmt.Fprintf(stderr, "steward lighthouse template: %v\n", err)
			return 2
		}
		for _, f := range []struct {
			path string
			data []byte
		}{{tmplPath, t.Template}, {paramPath, t.Parameters}} {
			if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
				fmt.Fprintf(stderr, "steward lighthouse template: %v\n", err)
				return 2
			}
			fmt.Fprintf(stdout, "Wrote %s\n", f.path)
		}
		fmt.Fprintf(stdout, "Deploy it in the customer's subscription with:\n  az deployment sub create --location <region> --template-file %s --parameters @%s\n", tmplPath, paramPath)
		return 0
	}

	validate := func(args []string) int {
		fset := newFlags("validate", validateUsage)
		asJSON := fset.Bool("json", false, `print the findings as a JSON array of {"severity", "rule", "message", "authorization", "roleDefinitionId", "kind", "file"}`)
		paths, err := parse(fset, args)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			return 2
		}
		if len(paths) == 0 {
			fmt.Fprintln(stderr, "steward lighthouse validate: no file given")
			fset.Usage()
			return 2
		}
		status := 0
		fail := func(format string, a ...any) {
			fmt.Fprintf(stderr, "steward lighthouse validate: "+format+"\n", a...)
			status = 2
		}

		// Expand directories, then add parameters files and templates found
		// side by side with the ones given.
		var names []string
		seen := map[string]bool{}
		add := func(p string) {
			if !seen[filepath.Clean(p)] {
				seen[filepath.Clean(p)] = true
				names = append(names, p)
			}
		}
		for _, p := range paths {
			info, err := os.Stat(p)
			switch {
			case err != nil:
				fail("%v", err)
			case info.IsDir():
				var found []string
				err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(q), ".json") {
						found = append(found, q)
					}
					return err
				})
				if err != nil {
					fail("%v", err)
				}
				slices.Sort(found)
				for _, q := range found {
					add(q)
				}
			default:
				add(p)
			}
		}
		given := slices.Clone(names)
		for _, p := range given {
			lower := strings.ToLower(p)
			var other string
			switch {
			case strings.HasSuffix(lower, ".parameters.json"):
				other = p[:len(p)-len(".parameters.json")] + ".json"
			case strings.HasSuffix(lower, ".json"):
				other = p[:len(p)-len(".json")] + ".parameters.json"
			default:
				continue
			}
			if info, err := os.Stat(other); err == nil && !info.IsDir() {
				add(other)
			}
		}

		var files []steward.LighthouseFile
		for _, p := range names {
			data, err := os.ReadFile(p)
			if err != nil {
				fail("%v", err)
				continue
			}
			files = append(files, steward.LighthouseFile{Name: p, Data: data})
		}

		svc := lighthouse.New()
		all := []steward.LighthouseFinding{}
		totalErrs, totalWarns := 0, 0
		for _, group := range lighthouse.Pair(files) {
			findings, err := svc.LighthouseValidate(ctx, group...)
			if err != nil {
				msg := err.Error()
				if steward.ErrorCode(err) == steward.EINVALID {
					msg = steward.ErrorMessage(err)
				}
				if *asJSON {
					fail("%s", msg)
				} else {
					status = 2
					groupNames := make([]string, len(group))
					for i, f := range group {
						groupNames[i] = f.Name
					}
					fmt.Fprintf(stdout, "%s: cannot check: %s\n", strings.Join(groupNames, " + "), msg)
				}
				continue
			}
			for i := range findings {
				if findings[i].File == "" {
					findings[i].File = group[0].Name
				}
			}
			all = append(all, findings...)
			errs, warns := count(findings)
			totalErrs, totalWarns = totalErrs+errs, totalWarns+warns
			if *asJSON {
				continue
			}
			for _, f := range group {
				var mine []steward.LighthouseFinding
				for _, x := range findings {
					if x.File == f.Name {
						mine = append(mine, x)
					}
				}
				with := ""
				for _, o := range group {
					if o.Name != f.Name {
						with = " (checked with " + filepath.Base(o.Name) + ")"
					}
				}
				errs, warns := count(mine)
				switch {
				case len(mine) == 0:
					fmt.Fprintf(stdout, "%s%s: no findings\n", f.Name, with)
				default:
					fmt.Fprintf(stdout, "%s%s: %s, %s\n", f.Name, with, plural(errs, "error"), plural(warns, "warning"))
					printFindings(stdout, mine, "  ")
				}
			}
		}
		if *asJSON {
			b, err := json.MarshalIndent(all, "", "  ")
			if err != nil {
				fail("%v", err)
				return 2
			}
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintf(stdout, "%s checked: %s, %s\n", plural(len(files), "file"), plural(totalErrs, "error"), plural(totalWarns, "warning"))
		}
		if status == 0 && totalErrs > 0 {
			status = 1
		}
		return status
	}

	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "template":
		return template(args[1:])
	case "validate":
		return validate(args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "steward lighthouse: unknown command %q\n\n%s", args[0], usage)
	return 2
}
