package emulator

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The Azure Resource Manager model: subscriptions hold resource groups, which
// hold resources, kept sorted so list pages resume by key in O(log n).
// Every field is guarded by world.mu.

// subscription is an Azure subscription, homed in one tenant.
type subscription struct {
	ID                  string // lower-case GUID
	DisplayName         string
	TenantID            string
	State               string // Enabled, Disabled, Warned, PastDue, Deleted
	Tags                *tagSet
	QuotaID             string
	SpendingLimit       string
	LocationPlacementID string
	// ManagedByTenants are tenants that manage this subscription through
	// Azure Lighthouse (filled by delegations, part B).
	ManagedByTenants []string

	groups   []*resourceGroup // sorted by lower-case name
	groupIdx map[string]*resourceGroup
	nres     int

	Assignments []*roleAssignment // every assignment at or below this subscription
	activity    []*activityEvent  // oldest first
}

func (s *subscription) scope() string { return "/subscriptions/" + s.ID }

// resourceGroup is a resource group.
type resourceGroup struct {
	sub       *subscription
	Name      string
	lname     string
	Location  string
	Tags      *tagSet
	ManagedBy string
	Created   time.Time
	resources []*resource // sorted by (lower type, lower name)
}

func (g *resourceGroup) id() string {
	return "/subscriptions/" + g.sub.ID + "/resourceGroups/" + g.Name
}

// resource is one ARM resource, kept small: the type, location and sku/kind
// are indexes into shared tables, tags are a shared immutable set, and the
// ID is derived.
type resource struct {
	group     *resourceGroup
	typ       *resType
	name      string
	loc       uint8
	variant   uint8
	tags      *tagSet
	managedBy *resource // a disk's VM
	created   int64     // unix seconds
	changed   int64
}

func (r *resource) location() string { return locations[r.loc] }

// appendID appends the resource ID: type segments interleaved with name
// segments, as in …/providers/Microsoft.Sql/servers/srv/databases/db.
func (r *resource) appendID(b []byte) []byte {
	b = append(b, "/subscriptions/"...)
	b = append(b, r.group.sub.ID...)
	b = append(b, "/resourceGroups/"...)
	b = append(b, r.group.Name...)
	b = append(b, "/providers/"...)
	b = append(b, r.typ.Namespace...)
	name := r.name
	for i, seg := range r.typ.segments {
		b = append(b, '/')
		b = append(b, seg...)
		b = append(b, '/')
		if i == len(r.typ.segments)-1 {
			b = append(b, name...)
		} else if j := strings.IndexByte(name, '/'); j >= 0 {
			b = append(b, name[:j]...)
			name = name[j+1:]
		}
	}
	return b
}

func (r *resource) id() string { return string(r.appendID(nil)) }

// appendIDJSON appends the ID as a JSON string. Names may hold quotes or
// backslashes; only then is the ID escaped, so the common case stays a copy.
func (r *resource) appendIDJSON(b []byte) []byte {
	start := len(b)
	b = append(b, '"')
	b = r.appendID(b)
	for _, c := range b[start+1:] {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			id := string(b[start+1:])
			return appendJSONString(b[:start], id)
		}
	}
	return append(b, '"')
}

// appendOpen appends the resource's list-shape JSON without the closing
// brace, so callers can add $expand fields. Everything but the ID and the
// name is a precomputed, shared fragment (type, sku/kind, location, tag
// set), so this is a handful of copies; that is fast enough (see
// BenchmarkListPageLarge) that a per-resource cache would only cost memory.
func (r *resource) appendOpen(b []byte, withTags bool) []byte {
	b = append(b, `{"id":`...)
	b = r.appendIDJSON(b)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.name)
	b = append(b, `,"type":"`...)
	b = append(b, r.typ.Name...)
	b = append(b, '"')
	b = append(b, r.typ.Variants[r.variant].frag...)
	if r.managedBy != nil {
		b = append(b, `,"managedBy":`...)
		b = r.managedBy.appendIDJSON(b)
	}
	b = append(b, `,"location":"`...)
	b = append(b, locations[r.loc]...)
	b = append(b, '"')
	if withTags && r.tags != nil {
		b = append(b, `,"tags":`...)
		b = append(b, r.tags.json...)
	}
	return b
}

func (r *resource) setTags(t *tagSet, now time.Time) {
	r.tags = t
	r.changed = now.Unix()
}

// compareRes orders resources within a group by lower-case type, then name.
func compareRes(r *resource, typLower, name string) int {
	if c := strings.Compare(r.typ.lower, typLower); c != 0 {
		return c
	}
	return compareFold(r.name, name)
}

// compareFold compares ASCII case-insensitively without allocating.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// findResource finds a resource in the group by type and name.
func (g *resourceGroup) findResource(t *resType, name string) (*resource, int) {
	i := sort.Search(len(g.resources), func(i int) bool { return compareRes(g.resources[i], t.lower, name) >= 0 })
	if i < len(g.resources) && compareRes(g.resources[i], t.lower, name) == 0 {
		return g.resources[i], i
	}
	return nil, i
}

// addResource inserts r in order; the caller made sure it is new.
func (g *resourceGroup) addResource(r *resource) {
	_, i := g.findResource(r.typ, r.name)
	g.resources = append(g.resources, nil)
	copy(g.resources[i+1:], g.resources[i:])
	g.resources[i] = r
	g.sub.nres++
}

func (g *resourceGroup) removeResource(r *resource) {
	if found, i := g.findResource(r.typ, r.name); found == r {
		g.resources = append(g.resources[:i], g.resources[i+1:]...)
		g.sub.nres--
	}
}

// group finds a resource group by name (any casing).
func (s *subscription) group(name string) *resourceGroup {
	return s.groupIdx[strings.ToLower(name)]
}

func (s *subscription) addGroup(g *resourceGroup) {
	g.sub = s
	g.lname = strings.ToLower(g.Name)
	if s.groupIdx == nil {
		s.groupIdx = map[string]*resourceGroup{}
	}
	s.groupIdx[g.lname] = g
	i := sort.Search(len(s.groups), func(i int) bool { return s.groups[i].lname >= g.lname })
	s.groups = append(s.groups, nil)
	copy(s.groups[i+1:], s.groups[i:])
	s.groups[i] = g
}

func (s *subscription) removeGroup(g *resourceGroup) {
	delete(s.groupIdx, g.lname)
	i := sort.Search(len(s.groups), func(i int) bool { return s.groups[i].lname >= g.lname })
	if i < len(s.groups) && s.groups[i] == g {
		s.groups = append(s.groups[:i], s.groups[i+1:]...)
	}
	s.nres -= len(g.resources)
}

// roleAssignment is an Azure RBAC role assignment.
type roleAssignment struct {
	Name             string // GUID
	Scope            string // as created, e.g. /subscriptions/…/resourceGroups/rg
	scopeKey         string // lower-case Scope
	RoleDefinitionID string // role GUID, lower-case
	PrincipalID      string
	PrincipalType    string
	TenantID         string
	Description      string
	Condition        string
	ConditionVersion string
	CreatedOn        time.Time
	UpdatedOn        time.Time
	CreatedBy        string
	UpdatedBy        string
}
