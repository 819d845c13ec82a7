package lighthouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// templateParts are what a test template varies: parameter defaults,
// variables and the registration definition's properties.
type templateParts struct {
	params map[string]any // name → defaultValue
	vars   map[string]any
	props  map[string]any // nil: a tenant and authorizations that pass
}

// newTemplate builds a subscription template with one registration
// definition and its assignment.
func newTemplate(tb testing.TB, parts templateParts) steward.LighthouseFile {
	tb.Helper()
	params := map[string]any{}
	for name, v := range parts.params {
		params[name] = map[string]any{"type": "string", "defaultValue": v}
	}
	props := parts.props
	if props == nil {
		props = map[string]any{}
	}
	if _, ok := props["managedByTenantId"]; !ok {
		props["managedByTenantId"] = tenantID
	}
	if _, ok := props["authorizations"]; !ok && props["copy"] == nil {
		props["authorizations"] = []any{
			map[string]any{"principalId": stewardSP, "principalIdDisplayName": "Steward", "roleDefinitionId": idReader},
			map[string]any{"principalId": offboarding, "principalIdDisplayName": "Offboarding", "roleDefinitionId": idDelete},
		}
	}
	data, err := json.Marshal(map[string]any{
		"$schema":    subscriptionSchema,
		"parameters": params,
		"variables":  parts.vars,
		"resources": []any{
			map[string]any{"type": typeDefinition, "name": "def", "properties": props},
			map[string]any{"type": typeAssignment, "name": "assign", "properties": map[string]any{}},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return steward.LighthouseFile{Name: "hostile.json", Data: data}
}

// chainedIf: each parameter's default reads the one before three times, so
// without memoisation the work doubles per level (40 levels: days).
func chainedIf(levels int, first string) templateParts {
	params := map[string]any{"p0": first}
	for i := 1; i <= levels; i++ {
		prev := fmt.Sprintf("parameters('p%d')", i-1)
		params[fmt.Sprintf("p%d", i)] = fmt.Sprintf("[if(equals(%s, 'x'), %s, %s)]", prev, prev, prev)
	}
	return templateParts{params: params, props: map[string]any{"managedByTenantId": fmt.Sprintf("[parameters('p%d')]", levels)}}
}

// chainedVars: each variable is made of the one before twice, through fn
// ("concat(%[1]s, %[1]s)" doubles a string, "createArray(%[1]s, %[1]s)"
// nests shared arrays).
func chainedVars(levels int, first any, fn string) map[string]any {
	vars := map[string]any{"v0": first}
	for i := 1; i <= levels; i++ {
		vars[fmt.Sprintf("v%d", i)] = "[" + fmt.Sprintf(fn, fmt.Sprintf("variables('v%d')", i-1)) + "]"
	}
	return vars
}

// copyLoop is a property copy loop of authorizations.
func copyLoop(count int, input any) map[string]any {
	return map[string]any{"copy": []any{map[string]any{"name": "authorizations", "count": count, "input": input}}}
}

// cancelAfter is a context whose Err reports Canceled from its n+1st call
// on: it lets a test cancel in the middle of an evaluation without timing.
type cancelAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) > c.n {
		return context.Canceled
	}
	return nil
}

// busyWork is a loop that costs a few thousand steps, well inside the
// budget, so the clock and the context are looked at several times.
var busyWork = templateParts{props: copyLoop(400, map[string]any{
	"principalId":      "[if(equals(concat('a', 'b', 'c'), 'abc'), '" + stewardSP + "', 'no')]",
	"roleDefinitionId": "[toLower('" + strings.ToUpper(idReader) + "')]",
})}

func TestBudgets(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		parts   templateParts
		lim     func(*limits)
		want    []string // summary lines, when it validates
		wantErr string   // substring of the message; the code is EUNPROCESSABLE
	}{
		{
			name:  "chained ifs forty deep are evaluated once each",
			parts: chainedIf(40, "not-a-guid"),
			want:  []string{"error invalid-guid definition 0"},
		},
		{
			name:  "a parameter whose default refers to itself",
			parts: templateParts{params: map[string]any{"p": "[parameters('P')]"}, props: map[string]any{"managedByTenantId": "[parameters('p')]"}},
			want:  []string{"warning unresolved definition 0"},
		},
		{
			name:    "a doubling string concat stops at the output budget",
			parts:   templateParts{vars: chainedVars(40, "ab", "concat(%[1]s, %[1]s)"), props: map[string]any{"managedByTenantId": "[variables('v40')]"}},
			wantErr: "output budget of 8388608 bytes",
		},
		{
			name:    "a doubling array concat stops at the output budget",
			parts:   templateParts{vars: chainedVars(40, []any{"a"}, "concat(%[1]s, %[1]s)"), props: map[string]any{"authorizations": "[variables('v40')]"}},
			wantErr: "output budget",
		},
		{
			name: "comparing shared arrays stops at the step budget",
			parts: templateParts{
				vars:  chainedVars(40, "a", "createArray(%[1]s, %[1]s)"),
				props: map[string]any{"managedByTenantId": "[if(equals(variables('v40'), variables('v40')), 'same', 'different')]"},
			},
			wantErr: "step budget of 1000000 steps",
		},
		{
			name: "findings count against the output budget",
			parts: templateParts{
				vars:  chainedVars(17, []any{"not an authorization"}, "concat(%[1]s, %[1]s)"),
				props: map[string]any{"authorizations": "[variables('v17')]"},
			},
			wantErr: "output budget",
		},
		{
			name:    "nested copy loops multiply into the copy budget",
			parts:   templateParts{props: copyLoop(800, map[string]any{"copy": []any{map[string]any{"name": "ids", "count": 800, "input": "x"}}})},
			wantErr: "copy budget of 20000 copy-loop iterations",
		},
		{
			name:    "a copy loop longer than Azure allows",
			parts:   templateParts{props: copyLoop(801, map[string]any{})},
			wantErr: "a copy loop of 801 iterations is more than the 800 Azure allows",
		},
		{
			name:    "deeply nested expressions",
			parts:   templateParts{props: map[string]any{"managedByTenantId": "[" + strings.Repeat("concat(", 200) + "'x'" + strings.Repeat(")", 200) + "]"}},
			wantErr: "nesting budget of 128 levels",
		},
		{
			name:    "a long chain of variables",
			parts:   templateParts{vars: chainedVars(200, "x", "%s"), props: map[string]any{"managedByTenantId": "[variables('v200')]"}},
			wantErr: "nesting budget",
		},
		{
			name:    "the time budget",
			parts:   busyWork,
			lim:     func(l *limits) { l.time = time.Nanosecond },
			wantErr: "time budget of 1ns",
		},
		{
			name:  "busy work within the budget",
			parts: busyWork,
			want:  []string{"warning no-delete-role definition 0 " + idDelete},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New()
			if tt.lim != nil {
				tt.lim(&s.limits)
			}
			fs, err := s.LighthouseValidate(t.Context(), newTemplate(t, tt.parts))
			if tt.wantErr != "" {
				if steward.ErrorCode(err) != steward.EUNPROCESSABLE || !strings.Contains(steward.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v (%s), want EUNPROCESSABLE with %q", err, steward.ErrorCode(err), tt.wantErr)
				}
				if !strings.HasPrefix(steward.ErrorMessage(err), "Evaluating hostile.json exceeded its ") {
					t.Errorf("the message does not name the file and the budget: %s", steward.ErrorMessage(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(fs); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A request that goes away stops the evaluation where it is, not only
// between files.
func TestBudgetCancelled(t *testing.T) {
	t.Parallel()
	f := newTemplate(t, busyWork)
	for _, tt := range []struct {
		name string
		ctx  context.Context
	}{
		{"during the evaluation", &cancelAfter{Context: context.Background(), n: 1}},
		{"before the call", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().LighthouseValidate(tt.ctx, f)
			if !errors.Is(err, context.Canceled) || steward.ErrorCode(err) != steward.EUNAVAILABLE {
				t.Fatalf("got %v (%s), want EUNAVAILABLE wrapping context.Canceled", err, steward.ErrorCode(err))
			}
		})
	}
}

// Microsoft's samples use a small part of every budget: a hundredth at
// most, so that real templates never meet a limit. Run with -v to see what
// each costs.
func TestSampleBudgets(t *testing.T) {
	t.Parallel()
	files := readSamples(t, sampleDir(t))
	groups := Pair(files)
	groups = append(groups, files) // all at once, as one request
	for _, g := range groups {
		b := newBudget(t.Context(), defaultLimits)
		if _, err := svc.validate(b, g); err != nil {
			t.Fatalf("%s: %v", g[0].Name, err)
		}
		t.Logf("%d file(s) from %s: %d steps, %d bytes, %d copies", len(g), g[0].Name, b.steps, b.output, b.copies)
		if b.steps > maxSteps/100 || b.output > maxOutputBytes/100 || b.copies > maxCopyTotal/100 {
			t.Errorf("%s takes %d steps, %d bytes and %d copies: within a hundredth of a limit", g[0].Name, b.steps, b.output, b.copies)
		}
	}
}

// The steward-built templates stay well inside the budget too, even for
// many resource groups.
func TestBuiltTemplateBudget(t *testing.T) {
	t.Parallel()
	var rgs []string
	for i := range 50 {
		rgs = append(rgs, fmt.Sprintf("rg-%d", i))
	}
	tmpl, _ := build(t, newSpec(specOptions{scope: steward.LighthouseScopeResourceGroup, resourceGroups: rgs}))
	b := newBudget(t.Context(), defaultLimits)
	_, err := svc.validate(b, []steward.LighthouseFile{
		{Name: steward.LighthouseTemplateFile, Data: tmpl.Template},
		{Name: steward.LighthouseParametersFile, Data: tmpl.Parameters},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built template for 50 resource groups: %d steps, %d bytes", b.steps, b.output)
	if b.steps > maxSteps/100 || b.output > maxOutputBytes/100 {
		t.Errorf("%d steps and %d bytes: within a hundredth of a limit", b.steps, b.output)
	}
}

// A number of a million digits is parsed in linear time, not quadratic.
func TestLongActivationDuration(t *testing.T) {
	t.Parallel()
	if _, ok := parseISODuration("PT7." + strings.Repeat("5", 1<<20) + "H"); !ok {
		t.Fatal("a long but well-formed duration was refused")
	}
}

// The worst a template can cost: each runs until a budget stops it, except
// copy-work, which stays just inside the step and copy budgets (829,000
// steps, all 20,000 copies) and is the slowest.
func BenchmarkBudgetWorstCase(b *testing.B) {
	for _, bc := range []struct {
		name  string
		parts templateParts
	}{
		{"steps", templateParts{
			vars:  chainedVars(40, "a", "createArray(%[1]s, %[1]s)"),
			props: map[string]any{"managedByTenantId": "[if(equals(variables('v40'), variables('v40')), 'same', 'different')]"},
		}},
		{"output", templateParts{vars: chainedVars(40, "ab", "concat(%[1]s, %[1]s)"), props: map[string]any{"managedByTenantId": "[variables('v40')]"}}},
		{"copies", templateParts{props: copyLoop(800, map[string]any{"copy": []any{map[string]any{"name": "ids", "count": 800, "input": "x"}}})}},
		{"copy-work", templateParts{props: copyLoop(800, map[string]any{"copy": []any{map[string]any{
			"name": "ids", "count": 24, "input": "[concat(" + strings.Repeat("'ab', ", 40) + "'c')]",
		}}})}},
		{"findings", templateParts{
			vars:  chainedVars(17, []any{"not an authorization"}, "concat(%[1]s, %[1]s)"),
			props: map[string]any{"authorizations": "[variables('v17')]"},
		}},
		{"chained-if-40", chainedIf(40, tenantID)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newTemplate(b, bc.parts)
			for b.Loop() {
				svc.LighthouseValidate(context.Background(), f)
			}
		})
	}
}
