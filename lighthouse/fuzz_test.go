package lighthouse

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// fuzzLimits are smaller than the defaults so that each input runs in
// milliseconds; what matters is that every input ends inside them.
var fuzzLimits = limits{steps: 100_000, output: 1 << 20, copyCount: maxCopyCount, copyTotal: 2_000, nesting: maxNesting, time: maxEvalTime}

// hostileSeeds are the templates of TestBudgets.
func hostileSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, parts := range []templateParts{
		chainedIf(40, "x"),
		{params: map[string]any{"p": "[parameters('p')]"}, props: map[string]any{"managedByTenantId": "[parameters('p')]"}},
		{vars: chainedVars(40, "ab", "concat(%[1]s, %[1]s)"), props: map[string]any{"managedByTenantId": "[variables('v40')]"}},
		{vars: chainedVars(40, "a", "createArray(%[1]s, %[1]s)"), props: map[string]any{"managedByTenantId": "[equals(variables('v40'), variables('v40'))]"}},
		{props: copyLoop(800, map[string]any{"copy": []any{map[string]any{"name": "ids", "count": 800, "input": "x"}}})},
		busyWork,
	} {
		out = append(out, newTemplate(tb, parts).Data)
	}
	return out
}

// Whatever a template holds, validating it never panics, never fails with
// an internal error, and ends inside the budget.
func FuzzLighthouseValidate(f *testing.F) {
	// Microsoft's samples when they are here, as pairs.
	if _, err := os.Stat(samplesPath()); err == nil {
		for _, g := range Pair(readSamples(f, samplesPath())) {
			if len(g) == 2 {
				f.Add(g[0].Data, g[1].Data)
			}
		}
	}
	forms, _ := filepath.Glob("testdata/*/*.json")
	for _, p := range forms {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte(nil))
	}
	for _, data := range hostileSeeds(f) {
		f.Add(data, []byte(nil))
	}
	s := New()
	f.Fuzz(func(t *testing.T, template, params []byte) {
		files := []steward.LighthouseFile{{Name: "t.json", Data: template}}
		if len(params) > 0 {
			files = append(files, steward.LighthouseFile{Name: "t.parameters.json", Data: params})
		}
		b := newBudget(context.Background(), fuzzLimits)
		_, err := s.validate(b, files)
		switch code := steward.ErrorCode(err); code {
		case "", steward.EINVALID:
		case steward.EUNPROCESSABLE:
			if err != b.err {
				t.Fatalf("EUNPROCESSABLE that is not the budget's: %v", err)
			}
		default:
			t.Fatalf("%s: %v", code, err)
		}
		if b.err == nil && (b.steps > fuzzLimits.steps || b.output > fuzzLimits.output || b.copies > fuzzLimits.copyTotal) {
			t.Fatalf("over budget without an error: %d steps, %d bytes, %d copies", b.steps, b.output, b.copies)
		}
	})
}

// Whatever an expression says, evaluating it never panics and ends inside
// the budget.
func FuzzExpression(f *testing.F) {
	for _, s := range []string{
		"parameters('p')", "variables('v').role", "variables('V')['n']", "parameters('list')[1].name",
		"toLower(concat('A', 'b', 1))", "if(equals(parameters('p'), 'default'), 'yes', 'no')",
		"if(not(true()), 'yes', 'no')", "createArray('a', 'b')", "length(createObject('a', 1))",
		"coalesce(null(), 'c')", "empty(json('[]'))", "string(concat(createArray('a'), createArray('b')))",
		"concat('it''s')", " parameters( 'p' ) ", "guid(parameters('p'))", "subscription().tenantId",
		"variables('self')", "copyIndex(1)", "not()", "json('{\"a\": [1, 2, {\"b\": null}]}').a[2]",
		"equals(variables('v'), variables('v'))", "ns.fn.x('a')", strings.Repeat("concat(", 200) + "'x'" + strings.Repeat(")", 200),
		"concat(variables('twice'), variables('twice'))", "-9223372036854775808", "99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := newBudget(context.Background(), fuzzLimits)
		ev := newEvaluator(b)
		ev.params["p"] = paramDef{defaultValue: "[concat('de', 'fault')]", hasDefault: true}
		ev.params["list"] = paramDef{}
		ev.values["list"] = []any{map[string]any{"Name": "first"}, map[string]any{"name": "second"}}
		ev.vars["v"] = map[string]any{"role": "[parameters('P')]", "n": "[length(parameters('list'))]"}
		ev.vars["self"] = "[variables('self')]"
		ev.vars["twice"] = "[concat(variables('v').role, variables('v').role)]"
		v := ev.evalString("[" + s + "]")
		if u, ok := v.(unresolved); ok && u.expr == "" && b.err == nil {
			t.Errorf("unresolved without its expression: %#v", u)
		}
		if b.err == nil && (b.steps > fuzzLimits.steps || b.output > fuzzLimits.output) {
			t.Fatalf("over budget without an error: %d steps, %d bytes", b.steps, b.output)
		}
	})
}
