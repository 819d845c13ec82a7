package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Costs are stored twice: cost_rows, one per subscription, day, resource
// and service (what CostUpsertMany replaces), and cost_daily, their sums
// per subscription, day and currency by dimension, kept in step by every
// write (see the schema). Reports read only cost_daily.

// rollupKey is one row of cost_daily.
type rollupKey struct {
	sub, dim   string
	day        int64
	value, cur string
}

// rollupDelta is what a write adds to one cost_daily row.
type rollupDelta struct {
	cost float64
	n    int
}

// costRowKey identifies a cost row.
type costRowKey struct {
	resource int64
	day      int64
	service  string
}

type storedCost struct {
	cost     float64
	currency string
	tagSet   int64
}

// pendingCost is one input row, resolved.
type pendingCost struct {
	row      *steward.CostRow
	sub      string
	key      costRowKey
	rgKey    string
	tagHash  string
	tagSet   int64
	tagRows  []tagRow
	resource [3]string // subscription, resource key, resource group key
}

// tagSetHash identifies a tag set by its rows (one per lower-cased name).
func tagSetHash(rows []tagRow) string {
	h := sha256.New()
	for _, t := range rows {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(t.key), t.key, len(t.value), t.value)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// CostUpsertMany stores daily cost rows in one transaction, replacing rows
// of the same subscription, day, resource and service; rows equal to the
// stored ones are not written. Each row keeps its tags (as an interned tag
// set), and the rollup moves by the difference between the old and new
// rows. EINVALID (a row without subscription, day or currency),
// ENOTFOUND (subscription).
func (db *DB) CostUpsertMany(ctx context.Context, rows []*steward.CostRow) error {
	if len(rows) == 0 {
		return nil
	}
	pend := make([]*pendingCost, 0, len(rows))
	for _, r := range rows {
		p := &pendingCost{row: r, sub: strings.ToLower(r.SubscriptionID)}
		switch {
		case p.sub == "":
			return steward.Errorf(steward.EINVALID, "A cost row has no subscription.")
		case r.Day.IsZero():
			return steward.Errorf(steward.EINVALID, "A cost row has no day.")
		case r.Currency == "":
			return steward.Errorf(steward.EINVALID, "A cost row has no currency.")
		case math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0):
			return steward.Errorf(steward.EINVALID, "A cost row's cost is not a number.")
		}
		p.rgKey = strings.ToLower(r.ResourceGroup)
		p.resource = [3]string{p.sub, steward.ResourceKey(r.ResourceID), p.rgKey}
		p.key.day, p.key.service = dayNumber(r.Day), r.Service
		if p.tagRows = tagRows(r.Tags); len(p.tagRows) > 0 {
			p.tagHash = tagSetHash(p.tagRows)
		}
		pend = append(pend, p)
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.internCostResources(ctx, pend); err != nil {
			return err
		}
		if err := tx.internTagSets(ctx, pend); err != nil {
			return err
		}
		// The last row for a key wins.
		last := map[costRowKey]*pendingCost{}
		var keys []costRowKey
		for _, p := range pend {
			if last[p.key] == nil {
				keys = append(keys, p.key)
			}
			last[p.key] = p
		}
		stored, err := tx.readCostRows(ctx, keys)
		if err != nil {
			return err
		}
		oldSets := map[int64][]tagRow{}
		for _, s := range stored {
			if s.tagSet != 0 {
				oldSets[s.tagSet] = nil
			}
		}
		if err := tx.readTagSets(ctx, oldSets); err != nil {
			return err
		}
		deltas := map[rollupKey]rollupDelta{}
		contribute := func(sub, rg, service string, day int64, cur string, tags []tagRow, cost float64, n int) {
			add := func(dim, value string) {
				k := rollupKey{sub, dim, day, value, cur}
				d := deltas[k]
				d.cost += cost
				d.n += n
				deltas[k] = d
			}
			add("total", "")
			add("service", service)
			add("group", rg)
			for _, t := range tags {
				add("tag:"+t.keyNorm, t.value)
			}
		}
		var upsert []any
		for _, k := range keys {
			p := last[k]
			old, ok := stored[k]
			if ok && old.cost == p.row.Cost && old.currency == p.row.Currency && old.tagSet == p.tagSet {
				continue
			}
			if ok {
				contribute(p.sub, p.rgKey, k.service, k.day, old.currency, oldSets[old.tagSet], -old.cost, -1)
			}
			contribute(p.sub, p.rgKey, k.service, k.day, p.row.Currency, p.tagRows, p.row.Cost, 1)
			upsert = append(upsert, k.resource, k.day, k.service, p.row.Cost, p.row.Currency, p.tagSet)
		}
		if len(upsert) == 0 {
			return nil
		}
		err = tx.execValues(ctx, `INSERT INTO cost_rows (cost_resource_id, day, service, cost, currency, tag_set_id) VALUES `, upsert, 6,
			` ON CONFLICT (cost_resource_id, day, service) DO UPDATE SET cost = excluded.cost, currency = excluded.currency, tag_set_id = excluded.tag_set_id`)
		if err != nil {
			return fmt.Errorf("writing cost rows: %w", err)
		}
		return tx.applyRollup(ctx, deltas)
	})
}

// internCostResources sets each row's cost resource ID, adding the
// resources not yet known.
func (tx *Tx) internCostResources(ctx context.Context, pend []*pendingCost) error {
	ids := map[[3]string]int64{}
	for _, p := range pend {
		ids[p.resource] = 0
	}
	all := slices.SortedFunc(maps.Keys(ids), func(a, b [3]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	read := func(keys [][3]string) error {
		for chunk := range slices.Chunk(keys, maxParams/3) {
			flat := make([]any, 0, len(chunk)*3)
			for _, k := range chunk {
				flat = append(flat, k[0], k[1], k[2])
			}
			var a args
			rows, err := tx.QueryContext(ctx, `
				SELECT id, subscription_id, resource_key, resource_group_key FROM cost_resources
				WHERE (subscription_id, resource_key, resource_group_key) IN (VALUES `+tx.db.values(&a, flat, 3, nil)+`)`, a...)
			if err != nil {
				return fmt.Errorf("reading cost resources: %w", err)
			}
			for rows.Next() {
				var id int64
				var k [3]string
				if err := rows.Scan(&id, &k[0], &k[1], &k[2]); err != nil {
					rows.Close()
					return fmt.Errorf("reading cost resources: %w", err)
				}
				ids[k] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading cost resources: %w", err)
			}
		}
		return nil
	}
	if err := read(all); err != nil {
		return err
	}
	var missing [][3]string
	for _, k := range all {
		if ids[k] == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		flat := make([]any, 0, len(missing)*3)
		for _, k := range missing {
			flat = append(flat, k[0], k[1], k[2])
		}
		err := tx.execValues(ctx, `INSERT INTO cost_resources (subscription_id, resource_key, resource_group_key) VALUES `, flat, 3,
			` ON CONFLICT (subscription_id, resource_key, resource_group_key) DO NOTHING`)
		if isForeignKeyViolation(err) {
			return steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
		} else if err != nil {
			return fmt.Errorf("adding cost resources: %w", err)
		}
		if err := read(missing); err != nil {
			return err
		}
	}
	for _, p := range pend {
		p.key.resource = ids[p.resource]
	}
	return nil
}

// internTagSets sets each row's tag set ID (0 for no tags), adding the sets
// not yet known with their rows.
func (tx *Tx) internTagSets(ctx context.Context, pend []*pendingCost) error {
	type setKey struct{ sub, hash string }
	ids := map[setKey]int64{}
	rowsOf := map[setKey]*pendingCost{}
	for _, p := range pend {
		if p.tagHash != "" {
			k := setKey{p.sub, p.tagHash}
			ids[k] = 0
			rowsOf[k] = p
		}
	}
	if len(ids) == 0 {
		return nil
	}
	all := slices.SortedFunc(maps.Keys(ids), func(a, b setKey) int { return cmp.Or(cmp.Compare(a.sub, b.sub), cmp.Compare(a.hash, b.hash)) })
	read := func(keys []setKey) error {
		for chunk := range slices.Chunk(keys, maxParams/2) {
			flat := make([]any, 0, len(chunk)*2)
			for _, k := range chunk {
				flat = append(flat, k.sub, k.hash)
			}
			var a args
			rows, err := tx.QueryContext(ctx, `SELECT id, subscription_id, hash FROM tag_sets WHERE (subscription_id, hash) IN (VALUES `+tx.db.values(&a, flat, 2, nil)+`)`, a...)
			if err != nil {
				return fmt.Errorf("reading tag sets: %w", err)
			}
			for rows.Next() {
				var id int64
				var k setKey
				if err := rows.Scan(&id, &k.sub, &k.hash); err != nil {
					rows.Close()
					return fmt.Errorf("reading tag sets: %w", err)
				}
				ids[k] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading tag sets: %w", err)
			}
		}
		return nil
	}
	if err := read(all); err != nil {
		return err
	}
	for _, k := range all {
		if ids[k] != 0 {
			continue
		}
		p := rowsOf[k]
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO tag_sets (subscription_id, hash, tags) VALUES ($1, $2, $3)
			ON CONFLICT (subscription_id, hash) DO UPDATE SET tags = excluded.tags RETURNING id`,
			k.sub, k.hash, jsonText(p.row.Tags)).Scan(&id)
		if isForeignKeyViolation(err) {
			return steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
		} else if err != nil {
			return fmt.Errorf("adding tag set: %w", err)
		}
		flat := make([]any, 0, len(p.tagRows)*3)
		for _, t := range p.tagRows {
			flat = append(flat, id, t.keyNorm, t.value)
		}
		if err := tx.execValues(ctx, `INSERT INTO tag_set_tags (tag_set_id, key_norm, tag_value) VALUES `, flat, 3,
			` ON CONFLICT (tag_set_id, key_norm) DO NOTHING`); err != nil {
			return fmt.Errorf("adding tag set: %w", err)
		}
		ids[k] = id
	}
	for _, p := range pend {
		if p.tagHash != "" {
			p.tagSet = ids[setKey{p.sub, p.tagHash}]
		}
	}
	return nil
}

// readCostRows returns the stored rows among keys.
func (tx *Tx) readCostRows(ctx context.Context, keys []costRowKey) (map[costRowKey]storedCost, error) {
	out := map[costRowKey]storedCost{}
	for chunk := range slices.Chunk(keys, maxParams/3) {
		flat := make([]any, 0, len(chunk)*3)
		for _, k := range chunk {
			flat = append(flat, k.resource, k.day, k.service)
		}
		var a args
		rows, err := tx.QueryContext(ctx, `
			SELECT cost_resource_id, day, service, cost, currency, tag_set_id FROM cost_rows
			WHERE (cost_resource_id, day, service) IN (VALUES `+tx.db.values(&a, flat, 3, []string{"BIGINT", "BIGINT", ""})+`)`, a...)
		if err != nil {
			return nil, fmt.Errorf("reading cost rows: %w", err)
		}
		for rows.Next() {
			var k costRowKey
			var s storedCost
			if err := rows.Scan(&k.resource, &k.day, &k.service, &s.cost, &s.currency, &s.tagSet); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading cost rows: %w", err)
			}
			out[k] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading cost rows: %w", err)
		}
	}
	return out, nil
}

// readTagSets fills sets (keyed by ID) with their rows.
func (tx *Tx) readTagSets(ctx context.Context, sets map[int64][]tagRow) error {
	ids := slices.Sorted(maps.Keys(sets))
	for chunk := range slices.Chunk(ids, 1000) {
		var a args
		rows, err := tx.QueryContext(ctx, `SELECT tag_set_id, key_norm, tag_value FROM tag_set_tags WHERE tag_set_id IN (`+addList(tx.db, &a, chunk)+`)`, a...)
		if err != nil {
			return fmt.Errorf("reading tag sets: %w", err)
		}
		for rows.Next() {
			var id int64
			var t tagRow
			if err := rows.Scan(&id, &t.keyNorm, &t.value); err != nil {
				rows.Close()
				return fmt.Errorf("reading tag sets: %w", err)
			}
			sets[id] = append(sets[id], t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading tag sets: %w", err)
		}
	}
	return nil
}

// applyRollup adds deltas to cost_daily in key order (so concurrent writers
// lock rows in one order) and drops rows that no longer sum any cost row.
func (tx *Tx) applyRollup(ctx context.Context, deltas map[rollupKey]rollupDelta) error {
	keys := slices.SortedFunc(maps.Keys(deltas), func(a, b rollupKey) int {
		return cmp.Or(cmp.Compare(a.sub, b.sub), cmp.Compare(a.dim, b.dim), cmp.Compare(a.day, b.day), cmp.Compare(a.value, b.value), cmp.Compare(a.cur, b.cur))
	})
	var flat, shrunk []any
	for _, k := range keys {
		d := deltas[k]
		if d.n == 0 && d.cost == 0 {
			continue
		}
		flat = append(flat, k.sub, k.dim, k.day, k.value, k.cur, d.cost, d.n)
		if d.n < 0 {
			shrunk = append(shrunk, k.sub, k.dim, k.day, k.value, k.cur)
		}
	}
	if len(flat) > 0 {
		err := tx.execValues(ctx, `INSERT INTO cost_daily (subscription_id, dim, day, value, currency, cost, n) VALUES `, flat, 7,
			` ON CONFLICT (subscription_id, dim, day, value, currency) DO UPDATE SET cost = cost_daily.cost + excluded.cost, n = cost_daily.n + excluded.n`)
		if err != nil {
			return fmt.Errorf("updating cost sums: %w", err)
		}
	}
	for chunk := range slices.Chunk(shrunk, maxParams/5*5) {
		var a args
		q := `DELETE FROM cost_daily WHERE n <= 0 AND (subscription_id, dim, day, value, currency) IN (VALUES ` +
			tx.db.values(&a, chunk, 5, []string{"", "", "BIGINT", "", ""}) + `)`
		if _, err := tx.ExecContext(ctx, q, a...); err != nil {
			return fmt.Errorf("updating cost sums: %w", err)
		}
	}
	return nil
}

// purgeCosts deletes a subscription's costs.
func (tx *Tx) purgeCosts(ctx context.Context, subscriptionID string) error {
	for _, q := range []string{
		`UPDATE subscriptions SET costs_from = NULL, costs_to = NULL WHERE id = $1`,
		`DELETE FROM cost_daily WHERE subscription_id = $1`,
		`DELETE FROM cost_resources WHERE subscription_id = $1`,
		`DELETE FROM tag_sets WHERE subscription_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, subscriptionID); err != nil {
			return fmt.Errorf("purging costs: %w", err)
		}
	}
	return nil
}

// purgeCostTags deletes the tags kept with a subscription's costs: its cost
// rows become untagged and its sums by tag go.
func (tx *Tx) purgeCostTags(ctx context.Context, subscriptionID string) error {
	for _, q := range []string{
		`UPDATE cost_rows SET tag_set_id = 0 WHERE tag_set_id <> 0 AND cost_resource_id IN (SELECT id FROM cost_resources WHERE subscription_id = $1)`,
		`DELETE FROM cost_daily WHERE subscription_id = $1 AND dim LIKE 'tag:%'`,
		`DELETE FROM tag_sets WHERE subscription_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, subscriptionID); err != nil {
			return fmt.Errorf("purging cost tags: %w", err)
		}
	}
	return nil
}

// CostCover widens the days whose costs are stored: see
// steward.InventoryStore. Every expression reads the row as it was, so the
// new range is decided from the old one.
func (db *DB) CostCover(ctx context.Context, subscriptionID string, from, to time.Time) error {
	if to.Before(from) {
		return steward.Errorf(steward.EINVALID, "The days covered end before they begin.")
	}
	// before and after are the days next to the new ones: a range that
	// reaches neither is apart from them, and the new days replace it.
	lo, hi := dayNumber(from), dayNumber(to)
	before, after := dayNumber(from.AddDate(0, 0, -1)), dayNumber(to.AddDate(0, 0, 1))
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE subscriptions SET
				costs_from = CASE WHEN costs_to IS NULL OR costs_to < $4 OR costs_from > $5 OR costs_from > $2 THEN $2 ELSE costs_from END,
				costs_to = CASE WHEN costs_to IS NULL OR costs_to < $4 OR costs_from > $5 OR costs_to < $3 THEN $3 ELSE costs_to END
			WHERE id = $1`, strings.ToLower(subscriptionID), lo, hi, before, after)
		if err != nil {
			return fmt.Errorf("recording the days with costs: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
		}
		return nil
	})
}

// CostPrune deletes cost rows and sums past their retention: see
// steward.InventoryStore.
func (db *DB) CostPrune(ctx context.Context, subscriptionID string, rowsBefore, sumsBefore time.Time) error {
	sub, rows, sums := strings.ToLower(subscriptionID), dayNumber(rowsBefore), dayNumber(sumsBefore)
	return db.inTx(ctx, func(tx *Tx) error {
		for _, q := range []struct {
			sql string
			day int64
		}{
			{`DELETE FROM cost_rows WHERE cost_resource_id IN (SELECT id FROM cost_resources WHERE subscription_id = $1) AND day < $2`, rows},
			{`DELETE FROM cost_daily WHERE subscription_id = $1 AND day < $2`, sums},
			{`UPDATE subscriptions SET costs_from = $2 WHERE id = $1 AND costs_from < $2 AND costs_to >= $2`, sums},
			{`UPDATE subscriptions SET costs_from = NULL, costs_to = NULL WHERE id = $1 AND costs_to < $2`, sums},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, sub, q.day); err != nil {
				return fmt.Errorf("pruning old costs: %w", err)
			}
		}
		return nil
	})
}

// CostDays returns the first and last day with costs of a subscription, or
// zero times when there are none.
func (db *DB) CostDays(ctx context.Context, subscriptionID string) (first, last time.Time, err error) {
	var lo, hi sql.NullInt64
	err = db.r.QueryRowContext(ctx, `SELECT MIN(day), MAX(day) FROM cost_daily WHERE subscription_id = $1 AND dim = 'total'`,
		strings.ToLower(subscriptionID)).Scan(&lo, &hi)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("reading the days with costs: %w", err)
	}
	if !lo.Valid || !hi.Valid {
		return time.Time{}, time.Time{}, nil
	}
	return fromDayNumber(lo.Int64), fromDayNumber(hi.Int64), nil
}

// CostReport sums cost by q.GroupBy (and by day when q.Daily) per currency
// from the rollup, largest first (by day, then largest, when daily). By
// "tag:KEY" the key is the tag's value, and cost untagged under KEY is
// reported under "": the total less the cost of rows tagged KEY.
func (db *DB) CostReport(ctx context.Context, scope steward.Scope, q steward.CostQuery) ([]*steward.CostGroup, error) {
	var dim, keyCol string
	tagKey, byTag := strings.CutPrefix(q.GroupBy, "tag:")
	switch {
	case byTag:
		if tagKey = steward.TagKey(strings.TrimSpace(tagKey)); tagKey == "" {
			return nil, steward.Errorf(steward.EINVALID, "groupBy tag: needs a tag name, as in tag:owner.")
		}
		dim, keyCol = "tag:"+tagKey, "value"
	case q.GroupBy == "subscription":
		dim, keyCol = "total", "subscription_id"
	case q.GroupBy == "day":
		dim, keyCol = "total", "''"
	case q.GroupBy == "service":
		dim, keyCol = "service", "value"
	case q.GroupBy == "resourceGroup":
		dim, keyCol = "group", "value"
	default:
		return nil, steward.Errorf(steward.EINVALID, "groupBy must be tag:KEY, subscription, resourceGroup, service or day.")
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, steward.Errorf(steward.EINVALID, "from must be before to.")
	}
	daily := q.Daily || q.GroupBy == "day"
	var a args
	var conds []string
	if !q.From.IsZero() {
		conds = append(conds, "day >= "+a.add(dayNumber(q.From)))
	}
	if !q.To.IsZero() {
		// To is exclusive: a To within a day still excludes that day.
		conds = append(conds, "day < "+a.add(dayNumber(q.To.Add(24*time.Hour-time.Nanosecond))))
	}
	if q.SubscriptionID != "" {
		conds = append(conds, "subscription_id = "+a.add(strings.ToLower(q.SubscriptionID)))
	}
	if cond, none := a.scopeCond(scope, "tenant_id"); none {
		return nil, nil
	} else if cond != "" {
		conds = append(conds, "subscription_id IN (SELECT id FROM subscriptions WHERE "+cond+")")
	}
	where := ""
	if len(conds) > 0 {
		where = " AND " + strings.Join(conds, " AND ")
	}
	dayCol := "0"
	if daily {
		dayCol = "day"
	}
	dimPH := a.add(dim)
	var query string
	if byTag {
		query = `
			SELECT k, d, currency, SUM(cost), SUM(n) FROM (
				SELECT value AS k, ` + dayCol + ` AS d, currency, cost, n FROM cost_daily WHERE dim = ` + dimPH + where + `
				UNION ALL
				SELECT '' AS k, ` + dayCol + ` AS d, currency, cost, n FROM cost_daily WHERE dim = 'total'` + where + `
				UNION ALL
				SELECT '' AS k, ` + dayCol + ` AS d, currency, -cost, -n FROM cost_daily WHERE dim = ` + dimPH + where + `
			) AS u GROUP BY k, d, currency HAVING SUM(n) <> 0`
	} else {
		query = `
			SELECT ` + keyCol + ` AS k, ` + dayCol + ` AS d, currency, SUM(cost), SUM(n) FROM cost_daily
			WHERE dim = ` + dimPH + where + ` GROUP BY k, d, currency`
	}
	rows, err := db.r.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, fmt.Errorf("reporting costs: %w", err)
	}
	defer rows.Close()
	var out []*steward.CostGroup
	for rows.Next() {
		var g steward.CostGroup
		var day, n int64
		if err := rows.Scan(&g.Key, &day, &g.Currency, &g.Cost, &n); err != nil {
			return nil, fmt.Errorf("reporting costs: %w", err)
		}
		if daily {
			g.Day = fromDayNumber(day)
		}
		if q.GroupBy == "day" {
			g.Key = g.Day.Format(time.DateOnly)
		}
		out = append(out, &g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reporting costs: %w", err)
	}
	slices.SortFunc(out, func(x, y *steward.CostGroup) int {
		if q.Daily {
			if c := x.Day.Compare(y.Day); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(y.Cost, x.Cost), cmp.Compare(x.Key, y.Key), cmp.Compare(x.Currency, y.Currency))
	})
	return out, nil
}
