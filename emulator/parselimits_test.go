package emulator

import (
	"strings"
	"testing"
)

// fixtureResources are a few resources of different types, with and
// without tags, for running compiled queries and filters without a world.
func fixtureResources() []*resource {
	sub := &subscription{ID: "00000000-0000-0000-0000-0000000000aa", TenantID: "00000000-0000-0000-0000-0000000000bb"}
	g := &resourceGroup{sub: sub, Name: "RG-One", lname: "rg-one"}
	var out []*resource
	for i, typ := range resTypes[:4] {
		r := &resource{group: g, typ: typ, name: "res" + string(rune('a'+i))}
		if i%2 == 0 {
			r.tags = newTagSet([]string{"env", "Owner"}, []string{"prod", "ops"})
		}
		out = append(out, r)
	}
	return out
}

func nested(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func TestKQLLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		query   string
		matches int    // resources of fixtureResources the where keeps
		wantErr string // substring of the ParserFailure message
	}{
		{name: "parentheses at the limit", query: "Resources | where " + nested("(", "name == 'resa'", ")", maxKQLDepth), matches: 1},
		{name: "parentheses past the limit", query: "Resources | where " + nested("(", "name == 'resa'", ")", maxKQLDepth+1), wantErr: "more than 64 deep"},
		{name: "not() past the limit", query: "Resources | where " + nested("not(", "name == 'resa'", ")", maxKQLDepth+1), wantErr: "more than 64 deep"},
		{name: "a megabyte of parentheses", query: "Resources | where " + strings.Repeat("(", 1<<20), wantErr: "the emulator takes queries of up to 262144"},
		{name: "a long and chain", query: "Resources | where name != 'x'" + strings.Repeat(" and name != 'x'", 10_000), matches: 4},
		{name: "a long or chain", query: "Resources | where name == 'x'" + strings.Repeat(" or name == 'x'", 10_000) + " or name == 'resb'", matches: 1},
		{name: "and binds tighter than or", query: "Resources | where name == 'resa' and isempty(tags) or name == 'resb' and isempty(tags) or isnotempty(tags['env']) and name == 'resc'", matches: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := parseKQL(tt.query)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.msg, tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range fixtureResources() {
				keep := true
				for _, w := range q.where {
					keep = keep && w(r)
				}
				if keep {
					n++
				}
			}
			if n != tt.matches {
				t.Errorf("kept %d resources, want %d", n, tt.matches)
			}
		})
	}
}

func TestResourceFilterLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		filter  string
		ok      bool
		wantMsg string // substring of the error message, when refused
	}{
		{name: "parentheses at the limit", filter: nested("(", "name eq 'resa'", ")", maxFilterDepth), ok: true},
		{name: "parentheses past the limit", filter: nested("(", "name eq 'resa'", ")", maxFilterDepth+1), wantMsg: "Invalid $filter"},
		{name: "a megabyte of parentheses", filter: strings.Repeat("(", 1<<20), wantMsg: "the emulator takes at most 32768"},
		{name: "a long chain", filter: "name eq 'x'" + strings.Repeat(" or name eq 'x'", 1_000), ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseResourceFilter(tt.filter, false)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Code != "InvalidFilterInQueryString" || !strings.Contains(err.Message, tt.wantMsg) {
				t.Fatalf("got %v, want InvalidFilterInQueryString with %q", err, tt.wantMsg)
			}
		})
	}
}

// Whatever the query, parsing it and running it never panics.
func FuzzKQL(f *testing.F) {
	for _, q := range []string{
		"Resources",
		"Resources | project id, name, type, location, resourceGroup, subscriptionId, tags",
		"Resources | where type =~ 'Microsoft.Compute/virtualMachines' and tags['env'] == 'prod' | project name, env = tags.env | order by name asc | limit 5",
		"Resources | where not(isempty(tags)) or name in~ ('a', 'B') | summarize count() by location",
		"Resources | where name !has 'x' and name startswith 'r' | count",
		"resources | sort by name desc nulls last | take 3",
		"Resources | where sku.name == 'Standard' // comment\n| project sku",
		"Resources | where " + nested("(", "name == 'resa'", ")", maxKQLDepth+1),
		"Resources | where \"unterminated",
	} {
		f.Add(q)
	}
	rs := fixtureResources()
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseKQL(src)
		if err != nil {
			kqlLineCol(src, err.pos)
			return
		}
		for _, r := range rs {
			for _, w := range q.where {
				w(r)
			}
			for _, c := range q.cols {
				if c.get != nil {
					c.get(r)
				}
			}
			for _, o := range q.order {
				o.get(r)
			}
		}
	})
}

// Whatever the $filter, parsing it and matching with it never panics.
func FuzzResourceFilter(f *testing.F) {
	for _, s := range []string{
		"", "resourceType eq 'Microsoft.Compute/virtualMachines'", "name eq 'a' or (location ne 'westeurope' and resourceGroup eq 'rg-one')",
		"substringof('res', name)", "tagName eq 'env' and tagValue eq 'prod'", "startswith(tagName, 'Own')",
		"plan/publisher eq 'x'", "name eq 'it''s'", nested("(", "name eq 'a'", ")", maxFilterDepth+1), "tagName eq 'env' and name eq 'a'",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	rs := fixtureResources()
	f.Fuzz(func(t *testing.T, raw string, groupsOnly bool) {
		flt, err := parseResourceFilter(raw, groupsOnly)
		if err != nil {
			return
		}
		for _, r := range rs {
			flt.match(r)
			flt.matchTags(r.tags)
		}
	})
}
