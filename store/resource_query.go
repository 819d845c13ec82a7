package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// How resource listings are planned.
//
// A listing pages by PK (keyset), so each query reads one ordered stream of
// PKs — a "driver" — from an index that yields the filter's matches in PK
// order, checks the remaining conditions row by row (tag conditions are
// probes of resource_tags' primary key), and stops after a page.
//
// Without tenant or subscription filters the driver is, by preference:
// the edit items in conflict (few) when InConflict is set; the first
// KEY=VALUE match (resource_tags_kv); the first KEY match (resource_tags'
// primary key); the type (resources_type); the resources in PK order.
//
// Tenant, scope and subscription filters become a set of subscriptions,
// and the plan is one of two:
//
//   - per subscription: one query "arm" per subscription, each reading at
//     most a page in PK order from resources_subscription (or
//     resources_group), merged by PK; a tenant's listing never walks other
//     tenants' rows. Used for up to maxArms subscriptions.
//   - global: the unscoped driver with the subscriptions as an IN filter.
//     Used for more subscriptions, and for a tag filter whose tag is rarer
//     in the whole inventory than resources are in the scope: the store
//     counts the tag's index entries, up to the scope's size (kept in
//     subscriptions.resource_count), and reads the tag index when that is
//     the smaller read.
//
// A global plan over a tag index also reads only the index entries within
// the scope's PK span: the lowest and highest PK of its subscriptions, two
// seeks of resources_subscription each. A subscription's resources are
// mostly written together by its first sync, so a tenant's rows sit in a
// narrow band of PKs and its tag matches are not reached through every
// other tenant's; when they are spread out, the span only costs the seeks.
const maxArms = 32

// rareCap bounds the count that compares a tag's frequency with a scope's
// size (see maxArms).
const rareCap = 20000

// resourceQuery is a validated, normalised filter.
type resourceQuery struct {
	db       *DB
	conn     queryer // every query of one listing runs on one connection
	f        steward.ResourceFilter
	access   steward.Scope // the tenants the caller may read
	exact    [][2]string   // key_norm, value
	anyKeys  []string      // key_norm
	untagged string        // key_norm
	rgKey    string
	typeKey  string
	name     string // LIKE pattern
	limit    int
	// span bounds the PKs a global plan's tag driver reads (see maxArms).
	span    [2]int64
	spanned bool
}

func (db *DB) newResourceQuery(access steward.Scope, f steward.ResourceFilter) (*resourceQuery, error) {
	q := &resourceQuery{db: db, f: f, access: access}
	switch {
	case f.Limit < 0 || f.Limit > 1000:
		return nil, steward.Errorf(steward.EINVALID, "limit must be from 1 to 1000.")
	case f.Limit == 0:
		q.limit = 100
	default:
		q.limit = f.Limit
	}
	if f.After < 0 {
		return nil, steward.Errorf(steward.EINVALID, "The cursor is not one this API returned.")
	}
	for _, m := range f.Tags {
		key := steward.TagKey(strings.TrimSpace(m.Key))
		if key == "" {
			return nil, steward.Errorf(steward.EINVALID, "A tag filter needs a tag name.")
		}
		if m.AnyValue {
			q.anyKeys = append(q.anyKeys, key)
		} else {
			q.exact = append(q.exact, [2]string{key, m.Value})
		}
	}
	q.untagged = steward.TagKey(strings.TrimSpace(f.Untagged))
	q.rgKey = strings.ToLower(f.ResourceGroup)
	q.typeKey = strings.ToLower(f.Type)
	if f.NameContains != "" {
		q.name = containsPattern(f.NameContains)
	}
	return q, nil
}

// scope is the set of subscriptions a listing may read.
type scope struct {
	all       bool     // nothing limits the listing
	subs      []string // otherwise these (possibly none)
	resources int      // how many resources they hold
	// lo and hi bound the PKs of the subscriptions' resources when spanned
	// (read for listings with tag filters; see maxArms).
	lo, hi  int64
	spanned bool
}

// scope resolves the caller's scope and the tenant and subscription
// filters into subscriptions.
func (q *resourceQuery) scope(ctx context.Context) (scope, error) {
	f := q.f
	var a args
	var conds []string
	cond, none := a.scopeCond(q.access, "tenant_id")
	if none {
		return scope{}, nil
	}
	if cond != "" {
		conds = append(conds, cond)
	}
	if f.TenantID != "" {
		conds = append(conds, `tenant_id = `+a.add(strings.ToLower(f.TenantID)))
	}
	if f.SubscriptionID != "" {
		conds = append(conds, `id = `+a.add(strings.ToLower(f.SubscriptionID)))
	}
	if len(conds) == 0 {
		return scope{all: true}, nil
	}
	sel := `SELECT s.id, s.resource_count, NULL, NULL`
	if q.hasTags() {
		edge := func(dir string) string {
			return `(SELECT r.pk FROM resources r` + q.db.indexedBy("resources_subscription") +
				` WHERE r.subscription_id = s.id ORDER BY r.pk` + dir + ` LIMIT 1)`
		}
		sel = `SELECT s.id, s.resource_count, ` + edge("") + `, ` + edge(" DESC")
	}
	rows, err := q.conn.QueryContext(ctx, sel+` FROM subscriptions s WHERE `+strings.Join(conds, " AND ")+` ORDER BY s.id`, a...)
	if err != nil {
		return scope{}, fmt.Errorf("listing subscriptions: %w", err)
	}
	defer rows.Close()
	var sc scope
	for rows.Next() {
		var id string
		var n int
		var lo, hi sql.NullInt64
		if err := rows.Scan(&id, &n, &lo, &hi); err != nil {
			return scope{}, fmt.Errorf("listing subscriptions: %w", err)
		}
		sc.subs = append(sc.subs, id)
		sc.resources += n
		if lo.Valid && hi.Valid {
			if !sc.spanned || lo.Int64 < sc.lo {
				sc.lo = lo.Int64
			}
			if !sc.spanned || hi.Int64 > sc.hi {
				sc.hi = hi.Int64
			}
			sc.spanned = true
		}
	}
	if err := rows.Err(); err != nil {
		return scope{}, fmt.Errorf("listing subscriptions: %w", err)
	}
	return sc, nil
}

// tagIndexCheaper reports whether, for a scoped listing, the first tag
// filter's index holds fewer entries within the scope's PK span than the
// scope holds resources, so that reading the index (and dropping other
// subscriptions' rows) reads less than scanning the scope.
func (q *resourceQuery) tagIndexCheaper(ctx context.Context, sc scope) (bool, error) {
	limit := min(sc.resources, rareCap)
	if limit == 0 {
		return false, nil
	}
	key := fmt.Sprintf("cheaper\x00%d\x00%d\x00%d\x00%q\x00%q\x00%q", limit, sc.lo, sc.hi, sc.subs, q.exact[:min(1, len(q.exact))], q.anyKeys[:min(1, len(q.anyKeys))])
	if v, ok := q.db.plans.get(key, time.Now()); ok {
		return v.(bool), nil
	}
	var a args
	query := `SELECT count(*) FROM (SELECT 1 FROM resource_tags WHERE key_norm = `
	if len(q.exact) > 0 {
		query += a.add(q.exact[0][0]) + ` AND tag_value = ` + a.add(q.exact[0][1])
	} else {
		query += a.add(q.anyKeys[0])
	}
	if sc.spanned {
		query += ` AND resource_pk >= ` + a.add(sc.lo) + ` AND resource_pk <= ` + a.add(sc.hi)
	}
	query += ` LIMIT ` + a.add(limit) + `) AS c`
	var n int
	if err := q.conn.QueryRowContext(ctx, query, a...).Scan(&n); err != nil {
		return false, fmt.Errorf("counting tagged resources: %w", err)
	}
	q.db.plans.put(key, n < limit, time.Now())
	return n < limit, nil
}

// rarestFirst puts the sparsest KEY=VALUE filter first, since the first
// one drives a listing (or is the one tagIndexCheaper weighs) and the
// others are probed per row: two tags driven by the common one probe every
// row of it to find the few that carry both. It estimates each tag's
// density by the PK of its sampleTag-th index entry past the cursor, which
// costs a short read of resource_tags_kv per tag and, unlike a count, does
// not grow with the tag. The order of the filters does not change the
// result.
func (q *resourceQuery) rarestFirst(ctx context.Context) error {
	if len(q.exact) < 2 {
		return nil
	}
	key := fmt.Sprintf("rarest\x00%q", q.exact)
	if v, ok := q.db.plans.get(key, time.Now()); ok {
		q.exact = slices.Clone(v.([][2]string))
		return nil
	}
	const sampleTag = 100
	var a args
	sel := make([]string, len(q.exact))
	for i, m := range q.exact {
		sel[i] = "(SELECT resource_pk FROM resource_tags" + q.db.indexedBy("resource_tags_kv") +
			" WHERE key_norm = " + a.add(m[0]) + " AND tag_value = " + a.add(m[1]) + " AND resource_pk > " + a.add(q.f.After) +
			" ORDER BY resource_pk LIMIT 1 OFFSET " + strconv.Itoa(sampleTag-1) + ")"
	}
	reach := make([]sql.NullInt64, len(q.exact))
	dest := make([]any, len(reach))
	for i := range reach {
		dest[i] = &reach[i]
	}
	if err := q.conn.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", "), a...).Scan(dest...); err != nil {
		return fmt.Errorf("sampling tag filters: %w", err)
	}
	// A tag whose sample reaches further is sparser; one with fewer entries
	// than the sample left is the sparsest.
	far := func(i int) int64 {
		if !reach[i].Valid {
			return math.MaxInt64
		}
		return reach[i].Int64
	}
	idx := make([]int, len(q.exact))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(far(y), far(x)) })
	exact := make([][2]string, len(q.exact))
	for i, j := range idx {
		exact[i] = q.exact[j]
	}
	q.db.plans.put(key, exact, time.Now())
	q.exact = exact
	return nil
}

func (q *resourceQuery) hasTags() bool { return len(q.exact) > 0 || len(q.anyKeys) > 0 }

// arm returns one query: SELECT sel over the resources (alias r) that match
// the filter. With sub it reads that subscription through a
// subscription-leading index; otherwise it reads a global driver, tag
// indexes included when tagIndex, limited to subIn when that is set.
// ordered adds the keyset condition, PK order and the page limit.
func (q *resourceQuery) arm(a *args, sel, sub string, subIn []string, tagIndex, ordered bool) string {
	db := q.db
	var from, pkCol string
	// Conditions, in the order their parameters are added (SQLite's
	// anonymous placeholders need text order to be argument order).
	var where []string
	needR := strings.Contains(sel, "r.")
	onR := func(cond string) { where, needR = append(where, cond), true }
	usedExact, usedAny := -1, -1
	var subDone, rgDone, typeDone, conflictDone bool
	switch {
	case sub != "" || (!ordered && subIn != nil && !tagIndex && !q.f.InConflict):
		index := "resources_subscription"
		if q.rgKey != "" {
			index, rgDone = "resources_group", true
		}
		from, pkCol, subDone = "resources r"+db.indexedBy(index), "r.pk", true
		if sub != "" {
			onR("r.subscription_id = " + a.add(sub))
		} else {
			onR("r.subscription_id IN (" + addList(db, a, subIn) + ")")
		}
		if rgDone {
			onR("r.resource_group_key = " + a.add(q.rgKey))
		}
	case q.f.InConflict:
		from, pkCol, conflictDone = "resources r", "r.pk", true
		onR(`r.pk IN (SELECT c.resource_pk FROM tag_edit_items c WHERE c.status = 'conflict')`)
	case tagIndex && len(q.exact) > 0:
		usedExact, pkCol = 0, "t0.resource_pk"
		from = "resource_tags t0" + db.indexedBy("resource_tags_kv")
		where = append(where, "t0.key_norm = "+a.add(q.exact[0][0]), "t0.tag_value = "+a.add(q.exact[0][1]))
	case tagIndex && len(q.anyKeys) > 0:
		// The primary key (key_norm, resource_pk) yields PK order.
		usedAny, pkCol = 0, "t0.resource_pk"
		from = "resource_tags t0"
		where = append(where, "t0.key_norm = "+a.add(q.anyKeys[0]))
	case q.typeKey != "":
		from, pkCol, typeDone = "resources r"+db.indexedBy("resources_type"), "r.pk", true
		onR("r.type_key = " + a.add(q.typeKey))
	default:
		from, pkCol = "resources r"+db.notIndexed(), "r.pk"
	}
	if subIn != nil && !subDone {
		onR("r.subscription_id IN (" + addList(db, a, subIn) + ")")
	}
	if q.rgKey != "" && !rgDone {
		onR("r.resource_group_key = " + a.add(q.rgKey))
	}
	if q.typeKey != "" && !typeDone {
		onR("r.type_key = " + a.add(q.typeKey))
	}
	// A page reads its driver in PK order and stops early, so each tag
	// condition should be a probe of resource_tags' primary key per row.
	// PostgreSQL would rather turn EXISTS into a semi-join and merge it
	// with the whole tag index (seconds for a common tag); OFFSET 0 keeps
	// the subquery a per-row probe. A count reads every row, so there the
	// planner may choose.
	probe := ""
	if ordered && db.engine == Postgres {
		probe = " OFFSET 0"
	}
	// Under a tag driver the probes name the driver's PK, so both engines
	// probe before they fetch the resource: two tags read only the
	// resources that carry both (in a test, 51 fetches instead of 133).
	onPK, pk := onR, "r.pk"
	if usedExact == 0 || usedAny == 0 {
		onPK, pk = func(cond string) { where = append(where, cond) }, "t0.resource_pk"
	}
	for i, m := range q.exact {
		if i != usedExact {
			onPK("EXISTS (SELECT 1 FROM resource_tags x WHERE x.key_norm = " + a.add(m[0]) + " AND x.resource_pk = " + pk + " AND x.tag_value = " + a.add(m[1]) + probe + ")")
		}
	}
	for i, k := range q.anyKeys {
		if i != usedAny {
			onPK("EXISTS (SELECT 1 FROM resource_tags x WHERE x.key_norm = " + a.add(k) + " AND x.resource_pk = " + pk + probe + ")")
		}
	}
	if q.untagged != "" {
		onPK("NOT EXISTS (SELECT 1 FROM resource_tags x WHERE x.key_norm = " + a.add(q.untagged) + " AND x.resource_pk = " + pk + probe + ")")
	}
	if q.f.InConflict && !conflictDone {
		onR(`EXISTS (SELECT 1 FROM tag_edit_items c WHERE c.status = 'conflict' AND c.resource_pk = r.pk)`)
	}
	if q.name != "" {
		onR(`LOWER(r.name) LIKE ` + a.add(q.name) + ` ESCAPE '\'`)
	}
	if ordered && q.f.After > 0 {
		where = append(where, pkCol+" > "+a.add(q.f.After))
	}
	spanned := q.spanned && subIn != nil && (usedExact == 0 || usedAny == 0)
	if spanned {
		where = append(where, pkCol+" >= "+a.add(q.span[0]), pkCol+" <= "+a.add(q.span[1]))
	}
	// A tag driver joins the resources only when it needs them. The
	// keyset bound is repeated on r.pk: the planner does not carry it
	// across the join, and without it PostgreSQL reads the resources from
	// the start on every later page.
	if strings.HasPrefix(from, "resource_tags t0") && needR {
		from += " CROSS JOIN resources r"
		where = append(where, "r.pk = t0.resource_pk")
		if ordered && q.f.After > 0 {
			where = append(where, "r.pk > "+a.add(q.f.After))
		}
		if spanned {
			where = append(where, "r.pk >= "+a.add(q.span[0]), "r.pk <= "+a.add(q.span[1]))
		}
	}
	s := "SELECT " + sel + " FROM " + from
	if len(where) > 0 {
		s += " WHERE " + strings.Join(where, " AND ")
	}
	if ordered {
		s += " ORDER BY " + pkCol + " LIMIT " + a.add(q.limit+1)
	}
	return s
}

// listSQL returns the query for one page of the listing.
func (q *resourceQuery) listSQL(ctx context.Context, a *args, sc scope) (string, error) {
	switch {
	case sc.all:
		return q.arm(a, resourceColumns, "", nil, true, true), nil
	case q.f.InConflict:
		return q.arm(a, resourceColumns, "", sc.subs, false, true), nil
	}
	q.span, q.spanned = [2]int64{sc.lo, sc.hi}, sc.spanned
	global := len(sc.subs) > maxArms
	if q.hasTags() && !global {
		var err error
		if global, err = q.tagIndexCheaper(ctx, sc); err != nil {
			return "", err
		}
	}
	switch {
	case global:
		return q.arm(a, resourceColumns, "", sc.subs, true, true), nil
	case len(sc.subs) == 1:
		return q.arm(a, resourceColumns, sc.subs[0], nil, false, true), nil
	}
	arms := make([]string, len(sc.subs))
	for i, sub := range sc.subs {
		arms[i] = "SELECT pk FROM (" + q.arm(a, "r.pk AS pk", sub, nil, false, true) + ") AS a" + strconv.Itoa(i)
	}
	return "SELECT " + resourceColumns + " FROM (" + strings.Join(arms, " UNION ALL ") + " ORDER BY pk LIMIT " + a.add(q.limit+1) +
		") AS p CROSS JOIN resources r WHERE r.pk = p.pk ORDER BY r.pk", nil
}

// ResourceList returns a page of resources matching f in PK order and the
// cursor of the next page ("" at the end). See maxArms for how it is
// planned.
func (db *DB) ResourceList(ctx context.Context, access steward.Scope, f steward.ResourceFilter) ([]*steward.Resource, string, error) {
	q, err := db.newResourceQuery(access, f)
	if err != nil {
		return nil, "", err
	}
	conn, release, err := db.reader(ctx)
	if err != nil {
		return nil, "", err
	}
	defer release()
	q.conn = conn
	sc, err := q.scope(ctx)
	if err != nil || (!sc.all && len(sc.subs) == 0) {
		return nil, "", err
	}
	if err := q.rarestFirst(ctx); err != nil {
		return nil, "", err
	}
	var a args
	query, err := q.listSQL(ctx, &a, sc)
	if err != nil {
		return nil, "", err
	}
	rows, err := conn.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, "", fmt.Errorf("listing resources: %w", err)
	}
	defer rows.Close()
	out := make([]*steward.Resource, 0, q.limit+1)
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, "", fmt.Errorf("reading resource: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing resources: %w", err)
	}
	next := ""
	if len(out) > q.limit {
		out = out[:q.limit]
		next = formatPK(out[q.limit-1].PK)
	}
	return out, next, nil
}

// ResourceCount counts the resources matching f (Limit and After ignored),
// planned like a listing but without order: a scope is an IN list.
func (db *DB) ResourceCount(ctx context.Context, access steward.Scope, f steward.ResourceFilter) (int, error) {
	f.Limit, f.After = 0, 0
	q, err := db.newResourceQuery(access, f)
	if err != nil {
		return 0, err
	}
	conn, release, err := db.reader(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	q.conn = conn
	sc, err := q.scope(ctx)
	if err != nil || (!sc.all && len(sc.subs) == 0) {
		return 0, err
	}
	if err := q.rarestFirst(ctx); err != nil {
		return 0, err
	}
	q.span, q.spanned = [2]int64{sc.lo, sc.hi}, sc.spanned
	tagIndex := sc.all
	if !sc.all && q.hasTags() {
		if tagIndex, err = q.tagIndexCheaper(ctx, sc); err != nil {
			return 0, err
		}
	}
	var a args
	query := q.arm(&a, "COUNT(*)", "", sc.subs, tagIndex, false)
	var n int
	if err := conn.QueryRowContext(ctx, query, a...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting resources: %w", err)
	}
	return n, nil
}

// containsPattern is a LIKE pattern (with ESCAPE '\') matching text that
// contains s, in lower case: LOWER on both engines folds ASCII only.
func containsPattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}
