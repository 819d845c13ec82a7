package lighthouse

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ARM template expressions, as far as a delegation needs them. Templates
// hand authorizations around with [parameters('x')] and [variables('x')];
// those, property access, indexing, property copy loops and a handful of
// pure functions are evaluated. Anything else (guid, subscription(),
// resourceId, reference …) becomes an unresolved value that keeps its text,
// so a check that needs it can say so and every other check goes on.
//
// Every evaluation runs under a budget (see budget.go): each node, function
// call and element visited is a step, each value made is charged by its
// size, and parameter defaults and variables are evaluated once each, so a
// template costs time in proportion to its text rather than to what its
// references multiply out to. Once the budget is spent every evaluation
// answers unresolved at once, and the caller returns the budget's error.

// unresolved stands for a value that cannot be computed offline.
type unresolved struct {
	expr   string // the expression, as written
	reason string // why, for messages; may be ""
}

func (u unresolved) String() string {
	if u.reason != "" {
		return u.expr + " (" + u.reason + ")"
	}
	return u.expr
}

// paramDef is a template parameter declaration.
type paramDef struct {
	defaultValue any
	hasDefault   bool
}

// memo is a parameter default or variable evaluated once, with whether its
// value came from the parameters file.
type memo struct {
	v          any
	fromValues bool
}

// evaluator resolves expressions in one template scope. Parameter values from
// a parameters file win over defaults; ARM parameter and variable names are
// case-insensitive, so every map is keyed by the lower-case name.
type evaluator struct {
	b         *budget // shared by every scope of one call
	params    map[string]paramDef
	values    map[string]any      // from the parameters file
	vars      map[string]any      // raw variable values, evaluated on use
	varLoops  map[string]bool     // variables made by a variable copy loop
	cache     map[string]memo     // "p:" + parameter or "v:" + variable, evaluated
	busy      map[string]bool     // the same keys, while being evaluated
	depth     int                 // parameters and variables being evaluated
	parsed    map[string]exprNode // expressions parsed so far, by their text
	copyIndex map[string]int      // property copy loops in progress; "" is the innermost

	// valuesFromFile says values come from the parameters file (directly,
	// or passed down to an inner-scope nested deployment).
	valuesFromFile bool

	// usedValues is set whenever a value came from the parameters file, so
	// a caller can tell which file a finding belongs to.
	usedValues bool
}

func newEvaluator(b *budget) *evaluator {
	return &evaluator{
		b:         b,
		params:    map[string]paramDef{},
		values:    map[string]any{},
		vars:      map[string]any{},
		varLoops:  map[string]bool{},
		cache:     map[string]memo{},
		busy:      map[string]bool{},
		parsed:    map[string]exprNode{},
		copyIndex: map[string]int{},
	}
}

// spent is what every evaluation answers once the budget is gone.
var spent = unresolved{reason: "evaluation budget spent"}

// isExpr reports whether a template string is an expression: it is wrapped
// in brackets and does not start with the "[[" escape.
func isExpr(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && !strings.HasPrefix(s, "[[")
}

// evalString evaluates one template string.
func (e *evaluator) evalString(s string) any {
	if strings.HasPrefix(s, "[[") {
		return s[1:]
	}
	if !isExpr(s) {
		return s
	}
	// A copy loop evaluates the same text many times: parse it once.
	n, ok := e.parsed[s]
	if !ok {
		var err error
		n, err = parseExpr(s[1:len(s)-1], e.b)
		if err != nil {
			if errors.Is(err, errSpent) {
				return spent
			}
			return unresolved{expr: s, reason: err.Error()}
		}
		e.parsed[s] = n
	}
	v := e.eval(n)
	if u, ok := v.(unresolved); ok && u.expr == "" {
		u.expr = s
		return u
	}
	return v
}

// evalDeep evaluates every expression inside a template value, including
// property copy loops ("copy": [{name, count, input}]).
func (e *evaluator) evalDeep(v any) any {
	if !e.b.step() {
		return spent
	}
	switch v := v.(type) {
	case string:
		return e.evalString(v)
	case []any:
		if !e.b.grow(elemBytes * len(v)) {
			return spent
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = e.evalDeep(x)
		}
		return out
	case map[string]any:
		if !e.b.grow(elemBytes * len(v)) {
			return spent
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			if strings.EqualFold(k, "copy") {
				if loops, ok := x.([]any); ok && e.propertyCopy(loops, out) {
					continue
				}
			}
			out[k] = e.evalDeep(x)
		}
		return out
	}
	return v
}

// propertyCopy expands property copy loops into out. It reports false when
// the value does not look like property loops, so the caller keeps it as is.
func (e *evaluator) propertyCopy(loops []any, out map[string]any) bool {
	for _, l := range loops {
		m, ok := l.(map[string]any)
		if !ok || m["name"] == nil || m["input"] == nil {
			return false
		}
	}
	for _, l := range loops {
		m := l.(map[string]any)
		name, _ := m["name"].(string)
		count, ok := toInt(e.evalDeep(m["count"]))
		if !ok || count < 0 {
			expr, _ := m["count"].(string)
			out[name] = unresolved{expr: cmp.Or(expr, jsonType(m["count"])), reason: "copy count"}
			continue
		}
		if !e.b.copyLoop(count) || !e.b.grow(elemBytes*count) {
			return true
		}
		items := make([]any, 0, count)
		saveNamed, hadNamed := e.copyIndex[strings.ToLower(name)]
		saveInner, hadInner := e.copyIndex[""]
		for i := range count {
			if e.b.err != nil {
				break
			}
			e.copyIndex[strings.ToLower(name)] = i
			e.copyIndex[""] = i
			items = append(items, e.evalDeep(m["input"]))
		}
		restore(e.copyIndex, strings.ToLower(name), saveNamed, hadNamed)
		restore(e.copyIndex, "", saveInner, hadInner)
		out[name] = items
	}
	return true
}

func restore(m map[string]int, k string, v int, had bool) {
	if had {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// parameter returns a parameter's value: the parameters file's, else the
// default (which may itself hold expressions), evaluated once.
func (e *evaluator) parameter(name string) any {
	k := strings.ToLower(name)
	if v, ok := e.values[k]; ok {
		if e.valuesFromFile {
			e.usedValues = true
		}
		return v
	}
	d, declared := e.params[k]
	if declared && d.hasDefault {
		return e.once("p:"+k, "parameter", name, func() any { return e.evalDeep(d.defaultValue) })
	}
	if !declared {
		return unresolved{reason: fmt.Sprintf("parameter %q is not declared", name)}
	}
	return unresolved{reason: fmt.Sprintf("parameter %q has no value", name)}
}

// variable returns a variable's value, evaluated once.
func (e *evaluator) variable(name string) any {
	k := strings.ToLower(name)
	raw, ok := e.vars[k]
	if !ok {
		return unresolved{reason: fmt.Sprintf("variable %q is not defined", name)}
	}
	return e.once("v:"+k, "variable", name, func() any {
		v := e.evalDeep(raw)
		if e.varLoops[k] {
			if m, ok := v.(map[string]any); ok {
				v = getFold(m, name)
			}
		}
		return v
	})
}

// once evaluates a parameter default or a variable the first time it is
// asked for and remembers the value, with whether it came from the
// parameters file, so that references cost a lookup however often and
// however deeply they repeat. Copy loops in progress are hidden from it:
// ARM allows copyIndex() in neither, and a remembered value must not
// depend on where it was first asked for.
func (e *evaluator) once(key, what, name string, eval func() any) any {
	if m, ok := e.cache[key]; ok {
		if m.fromValues {
			e.usedValues = true
		}
		return m.v
	}
	if e.busy[key] {
		return unresolved{reason: fmt.Sprintf("%s %q refers to itself", what, name)}
	}
	if !e.b.nested(e.depth + 1) {
		return spent
	}
	e.busy[key], e.depth = true, e.depth+1
	used, loops := e.usedValues, e.copyIndex
	e.usedValues, e.copyIndex = false, map[string]int{}
	v := eval()
	fromValues := e.usedValues
	e.usedValues, e.copyIndex = used || fromValues, loops
	delete(e.busy, key)
	e.depth--
	if e.b.err == nil {
		e.cache[key] = memo{v: v, fromValues: fromValues}
	}
	return v
}

// Expression syntax tree.
type (
	exprString string
	exprNumber int64
	exprCall   struct {
		name string
		args []exprNode
	}
	exprProp struct {
		x    exprNode
		name string
	}
	exprIndex struct {
		x, i exprNode
	}
	exprNode interface{}
)

// errSpent is the parse error for an expression the budget refused; the
// budget holds the error to report.
var errSpent = errors.New("evaluation budget spent")

// parseExpr parses the inside of "[…]", charging b a step for each node
// and the bytes of each string literal.
func parseExpr(s string, b *budget) (exprNode, error) {
	p := &exprParser{s: s, b: b}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
	}
	return n, nil
}

type exprParser struct {
	s     string
	i     int
	b     *budget
	depth int
}

func (p *exprParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *exprParser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *exprParser) expr() (exprNode, error) {
	if !p.b.nested(p.depth+1) || !p.b.step() {
		return nil, errSpent
	}
	p.depth++
	defer func() { p.depth-- }()
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case '.':
			if !p.b.step() {
				return nil, errSpent
			}
			p.i++
			p.space()
			name := p.ident()
			if name == "" {
				return nil, fmt.Errorf("property name expected at %d", p.i)
			}
			n = exprProp{x: n, name: name}
		case '[':
			p.i++
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.peek() != ']' {
				return nil, fmt.Errorf("']' expected at %d", p.i)
			}
			p.i++
			n = exprIndex{x: n, i: idx}
		default:
			return n, nil
		}
	}
}

func (p *exprParser) primary() (exprNode, error) {
	c := p.peek()
	switch {
	case c == '\'':
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unterminated string")
			}
			if p.s[p.i] == '\'' {
				if p.i+1 < len(p.s) && p.s[p.i+1] == '\'' {
					b.WriteByte('\'')
					p.i += 2
					continue
				}
				p.i++
				// The literal is no longer than the expression, so it is
				// charged once made.
				if !p.b.grow(b.Len()) {
					return nil, errSpent
				}
				return exprString(b.String()), nil
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		p.i++
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", p.s[start:p.i])
		}
		return exprNumber(n), nil
	}
	start := p.i
	if p.ident() == "" {
		return nil, fmt.Errorf("unexpected %q at %d", string(c), p.i)
	}
	// User-defined functions are namespace.function.
	for p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		p.ident()
	}
	name := p.s[start:p.i]
	if p.peek() != '(' {
		return nil, fmt.Errorf("'(' expected after %s", name)
	}
	p.i++
	call := exprCall{name: strings.ToLower(name)}
	if p.peek() == ')' {
		p.i++
		return call, nil
	}
	for {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		call.args = append(call.args, a)
		switch p.peek() {
		case ',':
			p.i++
		case ')':
			p.i++
			return call, nil
		default:
			return nil, fmt.Errorf("',' or ')' expected at %d", p.i)
		}
	}
}

func (p *exprParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (p.i > start && c >= '0' && c <= '9') {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// eval computes a node. An unresolved result with an empty expr is filled
// in with the whole expression by evalString.
func (e *evaluator) eval(n exprNode) any {
	if !e.b.step() {
		return spent
	}
	switch n := n.(type) {
	case exprString:
		return string(n)
	case exprNumber:
		return int64(n)
	case exprProp:
		x := e.eval(n.x)
		if _, ok := x.(unresolved); ok {
			return x
		}
		m, ok := x.(map[string]any)
		if !ok {
			return unresolved{reason: fmt.Sprintf("property %q of a non-object", n.name)}
		}
		if v, ok := m[n.name]; ok {
			return v
		}
		if !e.b.work(len(m)) {
			return spent
		}
		for k, v := range m {
			if strings.EqualFold(k, n.name) {
				return v
			}
		}
		return unresolved{reason: fmt.Sprintf("no property %q", n.name)}
	case exprIndex:
		x, i := e.eval(n.x), e.eval(n.i)
		if _, ok := x.(unresolved); ok {
			return x
		}
		if _, ok := i.(unresolved); ok {
			return i
		}
		switch x := x.(type) {
		case []any:
			j, ok := toInt(i)
			if !ok || j < 0 || j >= len(x) {
				return unresolved{reason: "index out of range"}
			}
			return x[j]
		case map[string]any:
			if k, ok := i.(string); ok {
				return e.eval(exprProp{x: constNode{x}, name: k})
			}
		}
		return unresolved{reason: "cannot index"}
	case constNode:
		return n.v
	case exprCall:
		return e.call(n)
	}
	return unresolved{}
}

// constNode wraps an evaluated value so it can be fed back to eval.
type constNode struct{ v any }

func (e *evaluator) call(c exprCall) any {
	// Functions whose arguments are evaluated lazily.
	if c.name == "if" {
		if len(c.args) != 3 {
			return unresolved{reason: "if takes three arguments"}
		}
		cond := e.eval(c.args[0])
		b, ok := cond.(bool)
		if !ok {
			return unresolved{}
		}
		if b {
			return e.eval(c.args[1])
		}
		return e.eval(c.args[2])
	}
	args := make([]any, len(c.args))
	for i, a := range c.args {
		args[i] = e.eval(a)
		if u, ok := args[i].(unresolved); ok && c.name != "coalesce" {
			return u
		}
	}
	str := func(i int) (string, bool) {
		if i >= len(args) {
			return "", false
		}
		s, ok := args[i].(string)
		return s, ok
	}
	switch c.name {
	case "parameters":
		if s, ok := str(0); ok {
			return e.parameter(s)
		}
	case "variables":
		if s, ok := str(0); ok {
			return e.variable(s)
		}
	case "copyindex":
		name, offset := "", 0
		for _, a := range args {
			switch a := a.(type) {
			case string:
				name = a
			default:
				offset, _ = toInt(a)
			}
		}
		if i, ok := e.copyIndex[strings.ToLower(name)]; ok {
			return int64(i + offset)
		}
		return unresolved{reason: "resource copy index"}
	case "concat":
		// Sizes are charged before anything is built: a chain of concats
		// that doubles its value stops at the output budget.
		if len(args) > 0 {
			if _, isArr := args[0].([]any); isArr {
				n := 0
				for _, a := range args {
					arr, ok := a.([]any)
					if !ok {
						return unresolved{}
					}
					n += len(arr)
				}
				if !e.b.grow(elemBytes * n) {
					return spent
				}
				out := make([]any, 0, n)
				for _, a := range args {
					out = append(out, a.([]any)...)
				}
				return out
			}
		}
		parts := make([]string, len(args))
		n := 0
		for i, a := range args {
			s, ok := scalarString(a)
			if !ok {
				return unresolved{}
			}
			parts[i], n = s, n+len(s)
		}
		if !e.b.grow(n) {
			return spent
		}
		return strings.Join(parts, "")
	case "string":
		if len(args) == 1 {
			if s, ok := scalarString(args[0]); ok {
				return s
			}
		}
	case "tolower", "toupper":
		if s, ok := str(0); ok {
			if !e.b.grow(len(s)) || !e.b.work(len(s)/1024) {
				return spent
			}
			if c.name == "tolower" {
				return strings.ToLower(s)
			}
			return strings.ToUpper(s)
		}
	case "length":
		if len(args) == 1 {
			switch a := args[0].(type) {
			case []any:
				return int64(len(a))
			case string:
				return int64(len(a))
			case map[string]any:
				return int64(len(a))
			}
		}
	case "empty":
		if len(args) == 1 {
			switch a := args[0].(type) {
			case nil:
				return true
			case []any:
				return len(a) == 0
			case string:
				return a == ""
			case map[string]any:
				return len(a) == 0
			}
		}
	case "equals":
		if len(args) == 2 {
			eq := e.equal(args[0], args[1])
			if e.b.err != nil {
				return spent
			}
			return eq
		}
	case "not":
		if len(args) == 1 {
			if b, ok := args[0].(bool); ok {
				return !b
			}
		}
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "createarray":
		if !e.b.grow(elemBytes * len(args)) {
			return spent
		}
		return append([]any{}, args...)
	case "createobject":
		if len(args)%2 == 0 {
			if !e.b.grow(elemBytes * len(args)) {
				return spent
			}
			m := map[string]any{}
			for i := 0; i < len(args); i += 2 {
				k, ok := args[i].(string)
				if !ok {
					return unresolved{}
				}
				m[k] = args[i+1]
			}
			return m
		}
	case "coalesce":
		for _, a := range args {
			if _, ok := a.(unresolved); ok {
				return a
			}
			if a != nil {
				return a
			}
		}
		return nil
	case "json":
		if s, ok := str(0); ok {
			// What decoding makes is about as large as the text.
			if !e.b.grow(len(s)) || !e.b.work(len(s)/64) {
				return spent
			}
			v, err := decodeJSON([]byte(s))
			if err == nil {
				return v
			}
		}
	}
	return unresolved{}
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		return int(v), true
	case int:
		return v, true
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// equal compares two values as ARM's equals does: numbers by value,
// strings exactly, arrays and objects element by element. Each element
// visited is a step, so values that share parts (createArray(v, v) nested
// forty deep) cannot make a comparison walk for ever; once the budget is
// spent it answers false and the caller reports the budget.
func (e *evaluator) equal(a, b any) bool {
	if !e.b.step() {
		return false
	}
	if x, ok := toInt(a); ok {
		y, ok := toInt(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !e.equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !e.equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}
