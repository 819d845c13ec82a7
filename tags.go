package steward

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Azure's tag limits (FACTS.md §1, from Microsoft's "Use tags" page).
const (
	MaxTagsPerResource      = 50
	MaxTagNameLength        = 512
	MaxStorageTagNameLength = 128 // storage accounts
	MaxTagValueLength       = 256
)

// forbiddenTagNameChars may not appear in a tag name.
const forbiddenTagNameChars = `<>%&\?/`

// ValidateTags checks a resource's whole tag set against Azure's limits,
// naming the resource and the rule broken. EUNPROCESSABLE.
func ValidateTags(resourceID, resourceType string, tags map[string]string) error {
	if len(tags) > MaxTagsPerResource {
		return Errorf(EUNPROCESSABLE, "%s would have %d tags; Azure allows at most %d per resource.", resourceID, len(tags), MaxTagsPerResource)
	}
	maxName := MaxTagNameLength
	if strings.EqualFold(resourceType, "Microsoft.Storage/storageAccounts") {
		maxName = MaxStorageTagNameLength
	}
	seen := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		switch {
		case strings.TrimSpace(k) == "":
			return Errorf(EUNPROCESSABLE, "%s: a tag name is empty.", resourceID)
		case utf8.RuneCountInString(k) > maxName:
			return Errorf(EUNPROCESSABLE, "%s: tag name %q is %d characters; Azure allows at most %d here.", resourceID, short(k), utf8.RuneCountInString(k), maxName)
		case strings.ContainsAny(k, forbiddenTagNameChars):
			return Errorf(EUNPROCESSABLE, "%s: tag name %q contains one of < > %% & \\ ? /, which Azure does not allow in tag names.", resourceID, short(k))
		case strings.ContainsFunc(k, unicode.IsControl):
			// Azure's Tags API refuses them; catch them here, not at write-back.
			return Errorf(EUNPROCESSABLE, "%s: tag name %q contains a control character (such as a tab or line break).", resourceID, short(k))
		case utf8.RuneCountInString(v) > MaxTagValueLength:
			return Errorf(EUNPROCESSABLE, "%s: the value of tag %q is %d characters; Azure allows at most %d.", resourceID, short(k), utf8.RuneCountInString(v), MaxTagValueLength)
		}
		if other, dup := seen[TagKey(k)]; dup {
			return Errorf(EUNPROCESSABLE, "%s: tags %q and %q are one name to Azure, which ignores case in tag names.", resourceID, other, k)
		}
		seen[TagKey(k)] = k
	}
	return nil
}

func short(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:37]) + "…"
}

// lookupTag finds a tag by name the way Azure does, ignoring case, and
// returns the name as the resource spells it.
func lookupTag(tags map[string]string, name string) (key, value string, ok bool) {
	if v, ok := tags[name]; ok {
		return name, v, true
	}
	for k, v := range tags {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", "", false
}

// TagEditRequest is a tag edit as a person asks for it: which resources
// (listed, or every resource a filter matches), and what to set, delete or
// rename. Renaming Env to env is how tag names are normalised.
type TagEditRequest struct {
	Resources []string          `json:"resources,omitempty"`
	Filter    *ResourceFilter   `json:"-"`
	Merge     map[string]string `json:"merge,omitempty"`
	Delete    []string          `json:"delete,omitempty"`
	Rename    map[string]string `json:"rename,omitempty"` // old name -> new name
	// SkipRefused applies the edit to the resources it may change and
	// leaves out those it may not, instead of refusing the whole edit.
	SkipRefused bool `json:"skipRefused,omitempty"`
}

// Validate checks the request's own shape before any resource is looked at.
// EINVALID.
func (r *TagEditRequest) Validate() error {
	if len(r.Merge) == 0 && len(r.Delete) == 0 && len(r.Rename) == 0 {
		return Errorf(EINVALID, "The edit changes nothing: give merge, delete or rename.")
	}
	if len(r.Resources) == 0 && r.Filter == nil {
		return Errorf(EINVALID, "Say which resources to edit: a list of resource IDs or a filter.")
	}
	touched := map[string]string{}
	claim := func(name, what string) error {
		if strings.TrimSpace(name) == "" {
			return Errorf(EINVALID, "A tag name in %s is empty.", what)
		}
		if prev, ok := touched[TagKey(name)]; ok {
			return Errorf(EINVALID, "Tag %q is both in %s and in %s; Azure ignores case in tag names, so say it once.", name, prev, what)
		}
		touched[TagKey(name)] = what
		return nil
	}
	for k := range r.Merge {
		if err := claim(k, "merge"); err != nil {
			return err
		}
	}
	for _, k := range r.Delete {
		if err := claim(k, "delete"); err != nil {
			return err
		}
	}
	for from, to := range r.Rename {
		if err := claim(from, "rename"); err != nil {
			return err
		}
		if strings.TrimSpace(to) == "" {
			return Errorf(EINVALID, "Rename of %q has no new name.", from)
		}
		if !strings.EqualFold(from, to) {
			if err := claim(to, "rename (as a new name)"); err != nil {
				return err
			}
		}
	}
	return nil
}

// TagChange is one tag of one resource that an edit changes. Old or New is
// nil when the tag is absent before or after.
type TagChange struct {
	Key string  `json:"key"`
	Old *string `json:"old"`
	New *string `json:"new"`
}

// TagPlan is what an edit does to one resource: the tags it sends to Azure
// and the values Steward expects to find there first. Expected holds, for
// every name the plan touches, the value Steward last saw (nil: absent);
// write-back refuses to overwrite a name Azure changed meanwhile.
type TagPlan struct {
	Resource *Resource
	Merge    map[string]string  // names to set, as they will be spelled
	Delete   []string           // names to remove (Azure ignores their case)
	Expected map[string]*string // name (lower case) -> value last seen
	Changes  []TagChange
	After    map[string]string // the resource's tags once applied
}

// PlanTagEdit works out what the request does to one resource. It returns
// nil when the request changes nothing there, and an EUNPROCESSABLE error
// when the result would break Azure's limits.
func PlanTagEdit(r *Resource, req *TagEditRequest) (*TagPlan, error) {
	after := maps.Clone(r.Tags)
	if after == nil {
		after = map[string]string{}
	}
	p := &TagPlan{Resource: r, Merge: map[string]string{}, Expected: map[string]*string{}}
	expect := func(name string) {
		if _, v, ok := lookupTag(r.Tags, name); ok {
			p.Expected[TagKey(name)] = &v
		} else {
			p.Expected[TagKey(name)] = nil
		}
	}
	for _, name := range slices.Sorted(maps.Keys(req.Merge)) {
		value := req.Merge[name]
		key, old, ok := lookupTag(after, name)
		if ok && old == value {
			continue
		}
		if !ok {
			key = name
		}
		// Azure keeps an existing name's spelling on merge; so do we.
		after[key] = value
		p.Merge[key] = value
		expect(name)
	}
	for _, name := range req.Delete {
		key, _, ok := lookupTag(after, name)
		if !ok {
			continue
		}
		delete(after, key)
		p.Delete = append(p.Delete, key)
		expect(name)
	}
	for _, from := range slices.Sorted(maps.Keys(req.Rename)) {
		to := req.Rename[from]
		key, value, ok := lookupTag(after, from)
		if !ok || key == to {
			continue
		}
		// Remove the old name, then set the new one: for a change of case
		// only, the delete must come first or it would take the new name too.
		delete(after, key)
		after[to] = value
		p.Delete = append(p.Delete, key)
		p.Merge[to] = value
		expect(from)
		if !strings.EqualFold(from, to) {
			expect(to)
		}
	}
	if len(p.Merge) == 0 && len(p.Delete) == 0 {
		return nil, nil
	}
	if err := ValidateTags(r.ID, r.Type, after); err != nil {
		return nil, err
	}
	p.After = after
	p.Changes = diffTags(r.Tags, after)
	return p, nil
}

// diffTags lists the changes from before to after, by name as spelled.
func diffTags(before, after map[string]string) []TagChange {
	var out []TagChange
	for _, k := range slices.Sorted(maps.Keys(before)) {
		v := before[k]
		if nv, ok := after[k]; !ok {
			out = append(out, TagChange{Key: k, Old: &v})
		} else if nv != v {
			out = append(out, TagChange{Key: k, Old: &v, New: &nv})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[k]; !ok {
			v := after[k]
			out = append(out, TagChange{Key: k, New: &v})
		}
	}
	return out
}

// TagConflict is one name Azure changed after Steward last saw it.
type TagConflict struct {
	Key    string  `json:"key"`
	Seen   *string `json:"seen"`   // what Steward last saw
	Azure  *string `json:"azure"`  // what Azure has now
	Wanted *string `json:"wanted"` // what the edit would set (nil: delete)
}

// CheckTagPlan compares Azure's current tags with what a plan expects. It
// reports done when Azure already holds the plan's result — every merged name
// spelled and valued as planned, every deleted name gone — which is what a
// retry finds after a write that landed before Steward could record it. It
// reports a conflict for each touched name whose value Azure changed to
// something other than both what Steward last saw and what the plan sets.
func CheckTagPlan(current, merge map[string]string, del []string, expected map[string]*string) (done bool, conflicts []TagConflict) {
	wanted := map[string]*string{}
	for _, d := range del {
		wanted[TagKey(d)] = nil
	}
	done = true
	for k, v := range merge {
		v := v
		wanted[TagKey(k)] = &v
		if cv, ok := current[k]; !ok || cv != v {
			done = false
		}
	}
	for _, d := range del {
		if wanted[TagKey(d)] != nil {
			continue // renamed to another spelling of itself: checked as a merge
		}
		if _, _, ok := lookupTag(current, d); ok {
			done = false
		}
	}
	for _, lk := range slices.Sorted(maps.Keys(expected)) {
		seen := expected[lk]
		var az *string
		if _, v, ok := lookupTag(current, lk); ok {
			az = &v
		}
		w := wanted[lk]
		if !sameValue(az, seen) && !sameValue(az, w) {
			conflicts = append(conflicts, TagConflict{Key: lk, Seen: seen, Azure: az, Wanted: w})
		}
	}
	return done, conflicts
}

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// TagEditStatus is where a tag edit, or one of its items, is.
type TagEditStatus string

// Statuses of tag edits and their items.
const (
	EditPending  TagEditStatus = "pending"  // waiting to be written
	EditHeld     TagEditStatus = "held"     // write access is off or the level forbids writing
	EditApplied  TagEditStatus = "applied"  // written to Azure
	EditFailed   TagEditStatus = "failed"   // Azure refused; the reason is kept
	EditConflict TagEditStatus = "conflict" // Azure changed a touched tag meanwhile; a person decides
	EditCanceled TagEditStatus = "canceled" // a person dropped it
	EditDone     TagEditStatus = "done"     // (edits) every item is applied, failed or canceled
)

// TagEdit is a stored edit: its request and how its items fared.
type TagEdit struct {
	ID        int64
	CreatedAt time.Time
	CreatedBy string
	Status    TagEditStatus
	Request   string   // the request as JSON, for people; "" when Partial
	Tenants   []string // the tenants its items are in, sorted
	// Partial is set on a read by someone who may see only some of
	// Tenants: the request (which names resources and tags of the others)
	// is withheld and the counts are of the items they may see.
	Partial       bool
	ItemCount     int
	AppliedCount  int
	FailedCount   int
	ConflictCount int
	FinishedAt    time.Time
	// Pending is, per subscription, what of the edit is still to be
	// written and why it waits; filled in when one edit is read.
	Pending []*PendingWrites
}

// PendingWrites is how many of an edit's items wait to be written in one
// subscription, and why.
type PendingWrites struct {
	SubscriptionID string
	Items          int
	// NextAttemptAt is the soonest any may be tried: later than now when
	// Azure throttled or failed the last try.
	NextAttemptAt time.Time
	Wait          *Wait
}

// TagEditItem is one resource's part of an edit: the outbox row the
// write-back job works from.
type TagEditItem struct {
	ID             int64
	EditID         int64
	ResourcePK     int64
	ResourceID     string
	SubscriptionID string
	TenantID       string
	Merge          map[string]string
	Delete         []string
	Expected       map[string]*string
	Status         TagEditStatus
	Attempts       int
	NextAttemptAt  time.Time
	LastError      string
	Conflicts      []TagConflict
	AppliedAt      time.Time
	// Claim is the fencing token of the item's latest claim by a
	// write-back worker (each claim takes the next number): the worker
	// renews and finishes the item under it, and is refused once another
	// claim has taken the item. 0 until first claimed.
	Claim int64
}

// ErrClaimPassed is the answer to a write-back worker that renews or
// finishes an item under a claim that has passed to another worker (its
// lease ran out and the item was claimed again): the other worker writes
// it, so this one must neither write nor record anything.
var ErrClaimPassed = Errorf(ECONFLICT, "Another write-back worker has claimed this tag edit item.")

// ErrTagEditConflict reports conflicts found while writing.
func ErrTagEditConflict(resourceID string, c []TagConflict) error {
	keys := make([]string, len(c))
	for i, x := range c {
		keys[i] = x.Key
	}
	return Errorf(ECONFLICT, "%s: Azure changed %s since Steward last saw it; a person must decide.", resourceID, strings.Join(keys, ", "))
}

// TagWriter writes tags to Azure through the Tags API only.
type TagWriter interface {
	// TagsGet returns the tags at a scope (resource, group or
	// subscription). ENOTFOUND.
	TagsGet(ctx context.Context, tenantID, scope string) (map[string]string, error)
	// TagsMerge adds or updates tags at a scope (PATCH, operation Merge).
	TagsMerge(ctx context.Context, tenantID, scope string, tags map[string]string) (map[string]string, error)
	// TagsDelete removes tags at a scope while they hold the values given
	// (PATCH, operation Delete).
	TagsDelete(ctx context.Context, tenantID, scope string, tags map[string]string) (map[string]string, error)
}
