package emulator

import (
	"net/http"
	"strings"
	"unicode"
)

// The $filter of Resources_List and ResourceGroups_List, as the REST
// reference documents it: eq and ne on resourceType, name, resourceGroup,
// location, identity and plan; substringof('x', name|resourceGroup);
// tagName eq 'k' [and tagValue eq 'v'] (one tag, the pair); startswith
// (tagName, 'p'); combined with and/or and parentheses. Tag filters cannot
// be combined with other properties (Azure rejects that too), and a
// tag-filtered resource list leaves the resources' tags out, as documented.
// Tag names compare case-insensitively; tag values are case-sensitive.
// Anything else is 400 InvalidFilterInQueryString.

// Limits on a $filter, so that a request cannot make its parser recurse
// without bound (each parenthesis is a level of Go recursion). ARM
// documents none; filters that Steward, the SDK or a person write are a
// few hundred characters and a level or two deep.
const (
	maxFilterBytes = 32 << 10
	maxFilterDepth = 64
)

type rfNode struct {
	kind        string // and, or, cmp, substringof, startswith
	left, right *rfNode
	prop        string // lower-case property
	cmp         string // eq, ne
	val         string
}

type resourceFilter struct {
	root   *rfNode
	byTags bool
}

func filterError(raw string) *armError {
	return newARMError(http.StatusBadRequest, "InvalidFilterInQueryString", "Invalid $filter '%s' specified in the query string.", raw)
}

// parseResourceFilter parses a $filter; groupsOnly allows only tag filters
// (resource groups).
func parseResourceFilter(raw string, groupsOnly bool) (*resourceFilter, *armError) {
	f := &resourceFilter{}
	if strings.TrimSpace(raw) == "" {
		return f, nil
	}
	if len(raw) > maxFilterBytes {
		return nil, newARMError(http.StatusBadRequest, "InvalidFilterInQueryString", "Invalid $filter specified in the query string: it is %d characters long, and the emulator takes at most %d.", len(raw), maxFilterBytes)
	}
	toks, ok := lexFilter(raw)
	if !ok {
		return nil, filterError(raw)
	}
	p := &rfParser{toks: toks}
	n, ok := p.or()
	if !ok || p.i != len(toks) {
		return nil, filterError(raw)
	}
	var tagProps, otherProps int
	valid := true
	walkFilter(n, func(x *rfNode) {
		switch x.prop {
		case "tagname", "tagvalue":
			tagProps++
		case "resourcetype", "name", "resourcegroup", "location", "identity", "identity/principalid",
			"plan", "plan/publisher", "plan/product", "plan/name", "plan/version", "plan/promotioncode":
			otherProps++
		default:
			valid = false
		}
		if x.kind == "startswith" && x.prop != "tagname" || x.kind == "substringof" && x.prop != "name" && x.prop != "resourcegroup" {
			valid = false
		}
	})
	if !valid || tagProps > 0 && otherProps > 0 || groupsOnly && otherProps > 0 {
		return nil, filterError(raw)
	}
	f.root, f.byTags = n, tagProps > 0
	return f, nil
}

func walkFilter(n *rfNode, fn func(*rfNode)) {
	if n == nil {
		return
	}
	if n.kind == "and" || n.kind == "or" {
		walkFilter(n.left, fn)
		walkFilter(n.right, fn)
		return
	}
	fn(n)
}

type ftok struct {
	s      string
	quoted bool
}

func lexFilter(s string) ([]ftok, bool) {
	var out []ftok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, ftok{s: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, false
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			out = append(out, ftok{s: b.String(), quoted: true})
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '/' || s[j] == '_' || s[j] == '.') {
				j++
			}
			if j == i {
				return nil, false
			}
			out = append(out, ftok{s: s[i:j]})
			i = j
		}
	}
	return out, true
}

type rfParser struct {
	toks  []ftok
	i     int
	depth int // parentheses being parsed
}

func (p *rfParser) peekWord(w string) bool {
	return p.i < len(p.toks) && !p.toks[p.i].quoted && strings.EqualFold(p.toks[p.i].s, w)
}

func (p *rfParser) or() (*rfNode, bool) {
	l, ok := p.and()
	for ok && p.peekWord("or") {
		p.i++
		var r *rfNode
		if r, ok = p.and(); ok {
			l = &rfNode{kind: "or", left: l, right: r}
		}
	}
	return l, ok
}

func (p *rfParser) and() (*rfNode, bool) {
	l, ok := p.term()
	for ok && p.peekWord("and") {
		p.i++
		var r *rfNode
		if r, ok = p.term(); ok {
			l = &rfNode{kind: "and", left: l, right: r}
		}
	}
	return l, ok
}

func (p *rfParser) next() (ftok, bool) {
	if p.i >= len(p.toks) {
		return ftok{}, false
	}
	t := p.toks[p.i]
	p.i++
	return t, true
}

func (p *rfParser) expect(s string) bool {
	t, ok := p.next()
	return ok && !t.quoted && t.s == s
}

func (p *rfParser) term() (*rfNode, bool) {
	t, ok := p.next()
	if !ok {
		return nil, false
	}
	if !t.quoted && t.s == "(" {
		if p.depth >= maxFilterDepth {
			return nil, false
		}
		p.depth++
		n, ok := p.or()
		p.depth--
		return n, ok && p.expect(")")
	}
	if t.quoted {
		return nil, false
	}
	switch strings.ToLower(t.s) {
	case "substringof":
		if !p.expect("(") {
			return nil, false
		}
		v, ok1 := p.next()
		if !ok1 || !v.quoted || !p.expect(",") {
			return nil, false
		}
		prop, ok2 := p.next()
		if !ok2 || prop.quoted || !p.expect(")") {
			return nil, false
		}
		return &rfNode{kind: "substringof", prop: strings.ToLower(prop.s), val: v.s}, true
	case "startswith":
		if !p.expect("(") {
			return nil, false
		}
		prop, ok1 := p.next()
		if !ok1 || prop.quoted || !p.expect(",") {
			return nil, false
		}
		v, ok2 := p.next()
		if !ok2 || !v.quoted || !p.expect(")") {
			return nil, false
		}
		return &rfNode{kind: "startswith", prop: strings.ToLower(prop.s), val: v.s}, true
	}
	op, ok := p.next()
	if !ok || op.quoted || !strings.EqualFold(op.s, "eq") && !strings.EqualFold(op.s, "ne") {
		return nil, false
	}
	v, ok := p.next()
	if !ok || !v.quoted {
		return nil, false
	}
	return &rfNode{kind: "cmp", prop: strings.ToLower(t.s), cmp: strings.ToLower(op.s), val: v.s}, true
}

// match reports whether a resource passes.
func (f *resourceFilter) match(r *resource) bool {
	if f == nil || f.root == nil {
		return true
	}
	return evalRF(f.root, r, r.tags)
}

// matchTags is match for a tagged entity without resource properties
// (resource groups).
func (f *resourceFilter) matchTags(ts *tagSet) bool {
	if f == nil || f.root == nil {
		return true
	}
	return evalRF(f.root, nil, ts)
}

func evalRF(n *rfNode, r *resource, ts *tagSet) bool {
	switch n.kind {
	case "or":
		return evalRF(n.left, r, ts) || evalRF(n.right, r, ts)
	case "and":
		// A tagName/tagValue pair in one and-chain names one tag.
		var terms []*rfNode
		collectAnd(n, &terms)
		var name, value *rfNode
		for _, t := range terms {
			switch {
			case t.kind == "cmp" && t.prop == "tagname" && t.cmp == "eq" && name == nil:
				name = t
			case t.kind == "cmp" && t.prop == "tagvalue" && t.cmp == "eq" && value == nil:
				value = t
			default:
				if !evalRF(t, r, ts) {
					return false
				}
			}
		}
		switch {
		case name != nil && value != nil:
			v, ok := ts.get(name.val)
			return ok && v == value.val
		case name != nil:
			return evalRF(name, r, ts)
		case value != nil:
			return evalRF(value, r, ts)
		}
		return true
	case "substringof":
		s := ""
		switch n.prop {
		case "name":
			if r != nil {
				s = r.name
			}
		case "resourcegroup":
			if r != nil {
				s = r.group.Name
			}
		}
		return strings.Contains(strings.ToLower(s), strings.ToLower(n.val))
	case "startswith":
		if ts == nil {
			return false
		}
		for _, k := range ts.keys {
			if len(k) >= len(n.val) && strings.EqualFold(k[:len(n.val)], n.val) {
				return true
			}
		}
		return false
	}
	var hit bool
	switch n.prop {
	case "tagname":
		_, hit = ts.get(n.val)
	case "tagvalue":
		if ts != nil {
			for _, v := range ts.vals {
				if v == n.val {
					hit = true
					break
				}
			}
		}
	case "resourcetype":
		hit = r != nil && strings.EqualFold(r.typ.Name, n.val)
	case "name":
		hit = r != nil && strings.EqualFold(r.name, n.val)
	case "resourcegroup":
		hit = r != nil && strings.EqualFold(r.group.Name, n.val)
	case "location":
		hit = r != nil && strings.EqualFold(r.location(), n.val)
	}
	if n.cmp == "ne" {
		return !hit
	}
	return hit
}

func collectAnd(n *rfNode, out *[]*rfNode) {
	if n.kind == "and" {
		collectAnd(n.left, out)
		collectAnd(n.right, out)
		return
	}
	*out = append(*out, n)
}
