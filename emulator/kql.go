package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A subset of KQL, the Kusto query language Resource Graph speaks: enough
// for an inventory. One table (Resources), then any of
//
//	where <predicate>            and, or, not(…), parentheses;
//	                             ==, !=, =~, !~, in, in~, !in, !in~,
//	                             contains, !contains, startswith, endswith,
//	                             has, !has; isempty, isnotempty, isnull,
//	                             isnotnull
//	project a, b, alias = c      columns, tags['k'], tags.k, sku.name …
//	order by c [asc|desc], …     (sort by too; descending unless asc, as KQL)
//	limit n / take n
//	count                        one row {"Count": n}
//	summarize count() [by c, …]  rows of the by-columns and count_
//
// Semantics follow Resource Graph where it surprises: type, location and
// resourceGroup are lower case, so type == 'Microsoft.Compute/virtualMachines'
// finds nothing (use =~); tag names in tags['k'] are case-sensitive, as in
// any KQL dynamic bag. Anything else is an InvalidQuery, and so is a column
// that an earlier project dropped.

// Limits on a query, so that a request cannot make the parser or the
// predicates it compiles recurse without bound: each parenthesis or not()
// is a level of Go recursion when the query is parsed and again for every
// resource it is run on, and four megabytes of "(" overflowed the stack.
// Resource Graph documents no such limits; these are far above any query
// Steward or a person writes.
const (
	// maxKQLBytes leaves room for an in~ list of a couple of thousand
	// resource IDs, the longest queries seen in practice.
	maxKQLBytes = 256 << 10
	// maxKQLDepth: real queries nest parentheses a few deep.
	maxKQLDepth = 64
)

// kqlVal is a column value: a string, a JSON object (tags, sku) or null.
type kqlVal struct {
	s    string
	raw  []byte // JSON for objects
	null bool
	obj  bool
}

type kqlGetter func(r *resource) kqlVal

// kqlColumn is one output or referenceable column.
type kqlColumn struct {
	name string
	get  kqlGetter
	obj  bool
}

type kqlQuery struct {
	where   []func(r *resource) bool
	cols    []kqlColumn // output columns
	order   []kqlOrder
	limit   int // -1 for none
	count   bool
	summary *kqlSummary
}

type kqlOrder struct {
	get  kqlGetter
	desc bool
}

type kqlSummary struct {
	by []kqlColumn
}

// kqlError is a query that does not parse or names what does not exist.
type kqlError struct {
	pos   int
	token string
	msg   string
}

func (e *kqlError) Error() string { return e.msg }

type kqlTok struct {
	kind byte // 'i' ident/word, 's' string, 'n' number, 'p' punctuation
	text string
	pos  int
}

func kqlLex(src string) ([]kqlTok, *kqlError) {
	var out []kqlTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			start := i
			i++
			var sb strings.Builder
			for i < len(src) && src[i] != c {
				if src[i] == '\\' && i+1 < len(src) {
					i++
				}
				sb.WriteByte(src[i])
				i++
			}
			if i >= len(src) {
				return nil, &kqlError{pos: start, token: src[start:], msg: "unterminated string literal"}
			}
			i++
			out = append(out, kqlTok{'s', sb.String(), start})
		case c >= '0' && c <= '9':
			start := i
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			out = append(out, kqlTok{'n', src[start:i], start})
		case isIdentByte(c) || c == '!' && i+1 < len(src) && isIdentByte(src[i+1]):
			start := i
			i++
			for i < len(src) && (isIdentByte(src[i]) || src[i] >= '0' && src[i] <= '9' || src[i] == '-' && i+1 < len(src) && isIdentByte(src[i+1])) {
				i++
			}
			if i < len(src) && src[i] == '~' {
				i++
			}
			out = append(out, kqlTok{'i', src[start:i], start})
		default:
			start := i
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "=~", "!=", "!~":
				out = append(out, kqlTok{'p', two, start})
				i += 2
				continue
			}
			if strings.IndexByte("|()[],.=", c) < 0 {
				return nil, &kqlError{pos: start, token: string(c), msg: fmt.Sprintf("unexpected character %q", c)}
			}
			out = append(out, kqlTok{'p', string(c), start})
			i++
		}
	}
	return out, nil
}

func isIdentByte(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

type kqlParser struct {
	src   string
	toks  []kqlTok
	i     int
	env   map[string]kqlColumn // columns a stage may reference
	depth int                  // parentheses and not() being parsed
}

func (p *kqlParser) peek() kqlTok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return kqlTok{kind: 0, text: "<EOF>", pos: len(p.src)}
}

func (p *kqlParser) next() kqlTok { t := p.peek(); p.i++; return t }

func (p *kqlParser) fail(t kqlTok, format string, args ...any) *kqlError {
	return &kqlError{pos: t.pos, token: t.text, msg: fmt.Sprintf(format, args...)}
}

func (p *kqlParser) word(w string) bool {
	t := p.peek()
	if t.kind == 'i' && strings.EqualFold(t.text, w) {
		p.i++
		return true
	}
	return false
}

func (p *kqlParser) punct(s string) bool {
	t := p.peek()
	if t.kind == 'p' && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *kqlParser) expect(s string) *kqlError {
	if !p.punct(s) {
		t := p.peek()
		return p.fail(t, "expected '%s' but found '%s'", s, t.text)
	}
	return nil
}

// resourceColumns are the columns of the Resources table, in Resource
// Graph's order.
func resourceColumns() []kqlColumn {
	str := func(f func(r *resource) string) kqlGetter { return func(r *resource) kqlVal { return kqlVal{s: f(r)} } }
	return []kqlColumn{
		{name: "id", get: str(func(r *resource) string { return r.id() })},
		{name: "name", get: str(func(r *resource) string { return r.name })},
		{name: "type", get: str(func(r *resource) string { return r.typ.lower })},
		{name: "tenantId", get: str(func(r *resource) string { return r.group.sub.TenantID })},
		{name: "kind", get: str(func(r *resource) string { return r.typ.Variants[r.variant].Kind })},
		{name: "location", get: str(func(r *resource) string { return locations[r.loc] })},
		{name: "resourceGroup", get: str(func(r *resource) string { return r.group.lname })},
		{name: "subscriptionId", get: str(func(r *resource) string { return r.group.sub.ID })},
		{name: "managedBy", get: str(func(r *resource) string {
			if r.managedBy == nil {
				return ""
			}
			return r.managedBy.id()
		})},
		{name: "sku", obj: true, get: func(r *resource) kqlVal {
			v := r.typ.Variants[r.variant]
			if v.SkuName == "" {
				return kqlVal{null: true, obj: true}
			}
			b := append([]byte(`{"name":`), appendJSONString(nil, v.SkuName)...)
			if v.SkuTier != "" {
				b = append(b, `,"tier":`...)
				b = appendJSONString(b, v.SkuTier)
			}
			return kqlVal{obj: true, raw: append(b, '}')}
		}},
		{name: "plan", obj: true, get: func(*resource) kqlVal { return kqlVal{null: true, obj: true} }},
		{name: "properties", obj: true, get: func(*resource) kqlVal { return kqlVal{obj: true, raw: []byte(`{"provisioningState":"Succeeded"}`)} }},
		{name: "tags", obj: true, get: func(r *resource) kqlVal {
			if r.tags == nil {
				return kqlVal{null: true, obj: true}
			}
			return kqlVal{obj: true, raw: r.tags.json}
		}},
		{name: "identity", obj: true, get: func(*resource) kqlVal { return kqlVal{null: true, obj: true} }},
		{name: "zones", obj: true, get: func(*resource) kqlVal { return kqlVal{null: true, obj: true} }},
		{name: "extendedLocation", obj: true, get: func(*resource) kqlVal { return kqlVal{null: true, obj: true} }},
	}
}

// parseKQL compiles a query over the Resources table.
func parseKQL(src string) (*kqlQuery, *kqlError) {
	if len(src) > maxKQLBytes {
		return nil, &kqlError{pos: maxKQLBytes, msg: fmt.Sprintf("the query is %d characters long; the emulator takes queries of up to %d", len(src), maxKQLBytes)}
	}
	toks, err := kqlLex(src)
	if err != nil {
		return nil, err
	}
	p := &kqlParser{src: src, toks: toks, env: map[string]kqlColumn{}}
	q := &kqlQuery{limit: -1, cols: resourceColumns()}
	for _, c := range q.cols {
		p.env[c.name] = c
	}
	t := p.next()
	if t.kind != 'i' || !strings.EqualFold(t.text, "resources") {
		if t.kind == 'i' {
			return nil, p.fail(t, "table '%s' is not served by the emulator (only Resources)", t.text)
		}
		return nil, p.fail(t, "a query starts with a table name")
	}
	for p.i < len(p.toks) {
		if err := p.expect("|"); err != nil {
			return nil, err
		}
		if q.count || q.summary != nil {
			if t := p.peek(); !(t.kind == 'i' && (strings.EqualFold(t.text, "order") || strings.EqualFold(t.text, "sort") || strings.EqualFold(t.text, "limit") || strings.EqualFold(t.text, "take"))) {
				return nil, p.fail(t, "the emulator supports only order by and limit after count or summarize")
			}
		}
		op := p.next()
		if op.kind != 'i' {
			return nil, p.fail(op, "expected an operator after '|' but found '%s'", op.text)
		}
		switch strings.ToLower(op.text) {
		case "where":
			f, err := p.orExpr()
			if err != nil {
				return nil, err
			}
			q.where = append(q.where, f)
		case "project":
			cols, err := p.projectList()
			if err != nil {
				return nil, err
			}
			q.cols = cols
			p.env = map[string]kqlColumn{}
			for _, c := range cols {
				p.env[c.name] = c
			}
		case "order", "sort":
			if !p.word("by") {
				return nil, p.fail(p.peek(), "expected 'by' after '%s'", op.text)
			}
			q.order = q.order[:0]
			for {
				t := p.peek()
				c, err := p.column()
				if err != nil {
					return nil, err
				}
				if c.obj {
					return nil, p.fail(t, "cannot order by the dynamic column '%s'", c.name)
				}
				o := kqlOrder{get: c.get, desc: true}
				if p.word("asc") {
					o.desc = false
				} else {
					p.word("desc")
				}
				if p.word("nulls") {
					if !p.word("first") && !p.word("last") {
						return nil, p.fail(p.peek(), "expected 'first' or 'last' after 'nulls'")
					}
				}
				q.order = append(q.order, o)
				if !p.punct(",") {
					break
				}
			}
		case "limit", "take":
			t := p.next()
			n, err := strconv.Atoi(t.text)
			if t.kind != 'n' || err != nil {
				return nil, p.fail(t, "expected a number after '%s'", op.text)
			}
			if q.limit < 0 || n < q.limit {
				q.limit = n
			}
		case "count":
			q.count = true
			q.cols = []kqlColumn{{name: "Count"}}
		case "summarize":
			if !p.word("count") {
				return nil, p.fail(p.peek(), "the emulator supports only summarize count() [by …]")
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			s := &kqlSummary{}
			if p.word("by") {
				for {
					t := p.peek()
					c, err := p.column()
					if err != nil {
						return nil, err
					}
					if c.obj {
						return nil, p.fail(t, "cannot summarize by the dynamic column '%s'", c.name)
					}
					s.by = append(s.by, c)
					if !p.punct(",") {
						break
					}
				}
			}
			q.summary = s
			q.cols = append(append([]kqlColumn(nil), s.by...), kqlColumn{name: "count_"})
			q.order = nil
		default:
			return nil, p.fail(op, "the operator '%s' is not supported by the emulator", op.text)
		}
	}
	if (q.count || q.summary != nil) && len(q.order) > 0 {
		// Sorting the aggregate is not modelled; keys come out sorted.
		q.order = nil
	}
	return q, nil
}

// column reads a column reference: name, name['key'], name["key"] or
// name.key, resolved in the current environment.
func (p *kqlParser) column() (kqlColumn, *kqlError) {
	t := p.next()
	if t.kind != 'i' || strings.HasPrefix(t.text, "!") {
		return kqlColumn{}, p.fail(t, "expected a column name but found '%s'", t.text)
	}
	c, ok := p.env[t.text]
	if !ok {
		return kqlColumn{}, p.fail(t, "Failed to resolve scalar expression named '%s'", t.text)
	}
	var key string
	switch {
	case p.punct("["):
		k := p.next()
		if k.kind != 's' {
			return kqlColumn{}, p.fail(k, "expected a string key in '%s[…]'", t.text)
		}
		if err := p.expect("]"); err != nil {
			return kqlColumn{}, err
		}
		key = k.text
	case p.punct("."):
		k := p.next()
		if k.kind != 'i' {
			return kqlColumn{}, p.fail(k, "expected a property name after '%s.'", t.text)
		}
		key = k.text
	default:
		return c, nil
	}
	if !c.obj {
		return kqlColumn{}, p.fail(t, "'%s' is not a dynamic column", t.text)
	}
	switch t.text {
	case "tags":
		return kqlColumn{name: "tags_" + key, get: func(r *resource) kqlVal {
			if r.tags != nil {
				for i, k := range r.tags.keys {
					if k == key {
						return kqlVal{s: r.tags.vals[i]}
					}
				}
			}
			return kqlVal{null: true}
		}}, nil
	case "sku":
		return kqlColumn{name: "sku_" + key, get: func(r *resource) kqlVal {
			v := r.typ.Variants[r.variant]
			switch {
			case v.SkuName == "":
			case key == "name":
				return kqlVal{s: v.SkuName}
			case key == "tier" && v.SkuTier != "":
				return kqlVal{s: v.SkuTier}
			}
			return kqlVal{null: true}
		}}, nil
	case "properties":
		return kqlColumn{name: "properties_" + key, get: func(*resource) kqlVal {
			if key == "provisioningState" {
				return kqlVal{s: "Succeeded"}
			}
			return kqlVal{null: true}
		}}, nil
	}
	return kqlColumn{name: t.text + "_" + key, get: func(*resource) kqlVal { return kqlVal{null: true} }}, nil
}

func (p *kqlParser) projectList() ([]kqlColumn, *kqlError) {
	var out []kqlColumn
	seen := map[string]bool{}
	for {
		var alias string
		if t := p.peek(); t.kind == 'i' && p.i+1 < len(p.toks) && p.toks[p.i+1].text == "=" {
			alias = t.text
			p.i += 2
		}
		c, err := p.column()
		if err != nil {
			return nil, err
		}
		if alias != "" {
			c.name = alias
		}
		if seen[c.name] {
			return nil, p.fail(p.toks[p.i-1], "the column '%s' is projected twice", c.name)
		}
		seen[c.name] = true
		out = append(out, c)
		if !p.punct(",") {
			return out, nil
		}
	}
}

// orExpr and andExpr compile a chain into one loop over its terms rather
// than nested closures, so a long chain costs no stack when it runs.
func (p *kqlParser) orExpr() (func(*resource) bool, *kqlError) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	terms := []func(*resource) bool{l}
	for p.word("or") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		terms = append(terms, r)
	}
	if len(terms) == 1 {
		return l, nil
	}
	return func(x *resource) bool {
		for _, f := range terms {
			if f(x) {
				return true
			}
		}
		return false
	}, nil
}

func (p *kqlParser) andExpr() (func(*resource) bool, *kqlError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	terms := []func(*resource) bool{l}
	for p.word("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, r)
	}
	if len(terms) == 1 {
		return l, nil
	}
	return func(x *resource) bool {
		for _, f := range terms {
			if !f(x) {
				return false
			}
		}
		return true
	}, nil
}

func (p *kqlParser) unary() (func(*resource) bool, *kqlError) {
	if t := p.peek(); t.text == "(" || strings.EqualFold(t.text, "not") {
		if p.depth >= maxKQLDepth {
			return nil, p.fail(t, "the query nests parentheses and not() more than %d deep, the emulator's limit", maxKQLDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
	}
	if p.punct("(") {
		f, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		return f, p.expect(")")
	}
	t := p.peek()
	if t.kind == 'i' {
		fn := strings.ToLower(t.text)
		switch fn {
		case "not", "isempty", "isnotempty", "isnull", "isnotnull":
			if p.i+1 < len(p.toks) && p.toks[p.i+1].text == "(" {
				p.i += 2
				if fn == "not" {
					f, err := p.orExpr()
					if err != nil {
						return nil, err
					}
					return func(x *resource) bool { return !f(x) }, p.expect(")")
				}
				c, err := p.column()
				if err != nil {
					return nil, err
				}
				if err := p.expect(")"); err != nil {
					return nil, err
				}
				get := c.get
				switch fn {
				case "isempty":
					return func(x *resource) bool { v := get(x); return v.null || !v.obj && v.s == "" }, nil
				case "isnotempty":
					return func(x *resource) bool { v := get(x); return !v.null && (v.obj || v.s != "") }, nil
				case "isnull":
					return func(x *resource) bool { return get(x).null }, nil
				default:
					return func(x *resource) bool { return !get(x).null }, nil
				}
			}
		}
	}
	return p.comparison()
}

func (p *kqlParser) comparison() (func(*resource) bool, *kqlError) {
	ct := p.peek()
	c, err := p.column()
	if err != nil {
		return nil, err
	}
	if c.obj {
		return nil, p.fail(ct, "cannot compare the dynamic column '%s'; use a property such as %s['name']", c.name, c.name)
	}
	opt := p.next()
	op := opt.text
	if opt.kind == 'i' {
		op = strings.ToLower(op)
	}
	get := c.get
	switch op {
	case "in", "in~", "!in", "!in~":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var vals []string
		for {
			v := p.next()
			if v.kind != 's' {
				return nil, p.fail(v, "expected a string literal in the list but found '%s'", v.text)
			}
			vals = append(vals, v.text)
			if !p.punct(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		fold := strings.HasSuffix(op, "~")
		neg := strings.HasPrefix(op, "!")
		return func(x *resource) bool {
			v := get(x)
			hit := false
			if !v.null {
				for _, s := range vals {
					if v.s == s || fold && strings.EqualFold(v.s, s) {
						hit = true
						break
					}
				}
			}
			return hit != neg
		}, nil
	}
	lit := p.next()
	if lit.kind != 's' {
		return nil, p.fail(lit, "expected a string literal after '%s' but found '%s'", op, lit.text)
	}
	s := lit.text
	ls := strings.ToLower(s)
	var f func(v string) bool
	switch op {
	case "==":
		f = func(v string) bool { return v == s }
	case "!=":
		f = func(v string) bool { return v != s }
	case "=~":
		f = func(v string) bool { return strings.EqualFold(v, s) }
	case "!~":
		f = func(v string) bool { return !strings.EqualFold(v, s) }
	case "contains":
		f = func(v string) bool { return strings.Contains(strings.ToLower(v), ls) }
	case "!contains":
		f = func(v string) bool { return !strings.Contains(strings.ToLower(v), ls) }
	case "contains_cs":
		f = func(v string) bool { return strings.Contains(v, s) }
	case "startswith":
		f = func(v string) bool { return strings.HasPrefix(strings.ToLower(v), ls) }
	case "!startswith":
		f = func(v string) bool { return !strings.HasPrefix(strings.ToLower(v), ls) }
	case "endswith":
		f = func(v string) bool { return strings.HasSuffix(strings.ToLower(v), ls) }
	case "has":
		f = func(v string) bool { return hasTerm(v, ls) }
	case "!has":
		f = func(v string) bool { return !hasTerm(v, ls) }
	default:
		return nil, p.fail(opt, "the operator '%s' is not supported by the emulator", opt.text)
	}
	neg := strings.HasPrefix(op, "!")
	return func(x *resource) bool {
		v := get(x)
		if v.null {
			// Comparisons with null are false, and so their negations
			// hold, as in KQL for missing tags.
			return neg
		}
		return f(v.s)
	}, nil
}

// hasTerm reports whether v contains the term t (lower case) as a whole
// alphanumeric run, case-insensitively, as KQL's has does.
func hasTerm(v, t string) bool {
	if t == "" {
		return true
	}
	terms := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, x := range terms {
		if x == t {
			return true
		}
	}
	return false
}

// line and column of a byte offset, 1-based, for ParserFailure details.
func kqlLineCol(src string, pos int) (int, int) {
	line, col := 1, 0
	for i := 0; i < pos && i < len(src); i++ {
		if src[i] == '\n' {
			line++
			col = 0
		} else {
			col++
		}
	}
	return line, col
}
