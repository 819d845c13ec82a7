package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Multi-row statements carry at most this many parameters. SQLite allows
// 32,766 and PostgreSQL 65,535; smaller statements also keep the text
// that is parsed (and cached as a prepared statement) small.
const maxParams = 8000

// values returns the VALUES rows "(…), (…)" for flat, ncols values a row,
// adding them to a. casts gives, per column, a type to cast the parameter
// to ("" for none): PostgreSQL types untyped parameters in a VALUES list
// as text, which a comparison with a BIGINT column refuses.
func (db *DB) values(a *args, flat []any, ncols int, casts []string) string {
	var b strings.Builder
	b.Grow(len(flat) * 6)
	for i, v := range flat {
		switch {
		case i == 0:
			b.WriteString("(")
		case i%ncols == 0:
			b.WriteString("), (")
		default:
			b.WriteString(", ")
		}
		*a = append(*a, v)
		ph := db.placeholder(len(*a))
		if casts != nil && casts[i%ncols] != "" {
			b.WriteString("CAST(" + ph + " AS " + casts[i%ncols] + ")")
		} else {
			b.WriteString(ph)
		}
	}
	b.WriteString(")")
	return b.String()
}

// execValues runs head + VALUES + tail for flat rows of ncols values, as
// many rows a statement as maxParams allows.
func (tx *Tx) execValues(ctx context.Context, head string, flat []any, ncols int, tail string) error {
	return tx.execValuesTyped(ctx, head, flat, ncols, nil, tail)
}

// execValuesTyped is execValues with the columns' PostgreSQL types
// ("text" or "bigint"). Given them, PostgreSQL takes every row in one
// statement of fixed text, head + SELECT * FROM unnest($1::type[], …) +
// tail, with one array parameter a column: one round trip, and a
// statement the driver prepares once, instead of thousands of parameters
// in VALUES texts of varying length.
func (tx *Tx) execValuesTyped(ctx context.Context, head string, flat []any, ncols int, types []string, tail string) error {
	if tx.db.engine == Postgres && types != nil {
		q, a, err := unnestQuery(strings.TrimSuffix(strings.TrimSpace(head), "VALUES"), flat, ncols, types)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, q+tail, a...)
		return err
	}
	per := maxParams / ncols * ncols
	for len(flat) > 0 {
		n := min(per, len(flat))
		var a args
		q := head + tx.db.values(&a, flat[:n], ncols, nil) + tail
		if _, err := tx.ExecContext(ctx, q, a...); err != nil {
			return err
		}
		flat = flat[n:]
	}
	return nil
}

// unnestQuery returns head + "SELECT * FROM unnest(…)" and its arguments,
// one array a column, for flat rows of ncols values (strings, or ints for
// "bigint" columns).
func unnestQuery(head string, flat []any, ncols int, types []string) (string, []any, error) {
	nrows := len(flat) / ncols
	a := make([]any, ncols)
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(" SELECT * FROM unnest(")
	for c, t := range types {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(c+1) + "::" + t + "[]")
		switch t {
		case "bigint":
			col := make([]int64, nrows)
			for i := range col {
				switch v := flat[i*ncols+c].(type) {
				case int64:
					col[i] = v
				case int:
					col[i] = int64(v)
				default:
					return "", nil, fmt.Errorf("store: unnest: %T in a bigint column", v)
				}
			}
			a[c] = col
		default:
			col := make([]string, nrows)
			for i := range col {
				v, ok := flat[i*ncols+c].(string)
				if !ok {
					return "", nil, fmt.Errorf("store: unnest: %T in a text column", flat[i*ncols+c])
				}
				col[i] = v
			}
			a[c] = col
		}
	}
	b.WriteString(")")
	return b.String(), a, nil
}

// pageItem is one resource of a page being upserted.
type pageItem struct {
	rs       []*steward.Resource // the page's resources with this key (normally one)
	key      string
	hash     string
	tags     map[string]string // nil at level no-tags
	pk       int64
	oldHash  string
	oldTags  map[string]string
	existing bool
	history  bool // record tag changes in tag history
}

// tagSource says who changed tags, for tag history.
type tagSource struct {
	source, actor string
	editID        int64
}

// ResourceUpsertMany stores one page of a subscription's resources in one
// transaction. It reads the stored content hashes of the page's resources
// in one query and writes only the new and the changed ones: one
// multi-row upsert for the resources, then the tag rows that differ, the
// tag history of changed tags (source "sync"; none for new resources, nor
// when the tags were not read before) and the tag-name counts. It sets
// each resource's PK and returns the resources written.
//
// With readTags false (level no-tags) tags are neither stored nor
// compared: the hash is taken without them and marked "nt:", the resource
// keeps tags {} and no tag rows.
//
// On SQLite, pages written at the same moment by concurrent syncs share a
// transaction (see groupCommit).
func (db *DB) ResourceUpsertMany(ctx context.Context, subscriptionID string, rs []*steward.Resource, readTags bool) (int, error) {
	p, err := newResourcePage(subscriptionID, rs, readTags)
	if err != nil || p == nil {
		return 0, err
	}
	if db.engine == SQLite {
		if err := db.batches.prepare(ctx, db.w); err != nil {
			return 0, err
		}
		err = db.group.write(ctx, db, p)
	} else {
		err = db.inTx(ctx, func(tx *Tx) error {
			// A page need not wait for the disk: should PostgreSQL stop
			// before the WAL writer flushes it, the database loses the page
			// whole, and the run that wrote it, which is recorded with a
			// flushing commit afterwards, is not marked done.
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return fmt.Errorf("writing resources: %w", err)
			}
			return tx.upsertPage(ctx, p)
		})
	}
	if err != nil {
		return 0, err
	}
	p.setPKs()
	return p.written, nil
}

// resourcePage is one page of a subscription's resources to upsert.
type resourcePage struct {
	subscriptionID string
	readTags       bool
	items          []*pageItem
	byKey          map[string]*pageItem
	written        int
}

// newResourcePage validates a page and hashes its resources; it returns nil
// for an empty page.
func newResourcePage(subscriptionID string, rs []*steward.Resource, readTags bool) (*resourcePage, error) {
	subscriptionID = strings.ToLower(subscriptionID)
	if len(rs) == 0 {
		return nil, nil
	}
	p := &resourcePage{subscriptionID: subscriptionID, readTags: readTags, items: make([]*pageItem, 0, len(rs)), byKey: make(map[string]*pageItem, len(rs))}
	for _, r := range rs {
		if strings.TrimSpace(r.ID) == "" {
			return nil, steward.Errorf(steward.EINVALID, "A resource has no ARM ID.")
		}
		if r.SubscriptionID != "" && strings.ToLower(r.SubscriptionID) != subscriptionID {
			return nil, steward.Errorf(steward.EINVALID, "Resource %s is not in subscription %s.", r.ID, subscriptionID)
		}
		c := *r
		if !readTags {
			c.Tags = nil
		}
		hash := c.ContentHash()
		if !readTags {
			hash = "nt:" + hash
		}
		key := steward.ResourceKey(r.ID)
		if it := p.byKey[key]; it != nil {
			// Listed twice on one page: the last one wins.
			it.rs, it.hash, it.tags = append(it.rs, r), hash, c.Tags
			continue
		}
		it := &pageItem{rs: []*steward.Resource{r}, key: key, hash: hash, tags: c.Tags}
		p.byKey[key] = it
		p.items = append(p.items, it)
	}
	return p, nil
}

// setPKs gives the page's resources the PKs their write found or made.
func (p *resourcePage) setPKs() {
	for _, it := range p.items {
		for _, r := range it.rs {
			r.PK = it.pk
		}
	}
}

// upsertPage writes a page within tx. It starts from what the database
// holds, so a page whose transaction rolled back can be written again.
func (tx *Tx) upsertPage(ctx context.Context, p *resourcePage) error {
	p.written = 0
	for _, it := range p.items {
		it.pk, it.oldHash, it.oldTags, it.existing, it.history = 0, "", nil, false, false
	}
	if err := tx.readStoredHashes(ctx, p.items, p.byKey); err != nil {
		return err
	}
	var changed []*pageItem
	for _, it := range p.items {
		if !it.existing || it.oldHash != it.hash {
			changed = append(changed, it)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := tx.readStoredTags(ctx, changed); err != nil {
		return err
	}
	if err := tx.insertResources(ctx, p.subscriptionID, changed); err != nil {
		return err
	}
	if err := tx.updateResources(ctx, changed); err != nil {
		return err
	}
	p.written = len(changed)
	for _, it := range changed {
		// History only for tags read before and now: a first sighting,
		// or the first sync after a level that did not read tags, is
		// no change.
		it.history = p.readTags && it.existing && it.oldHash != "" && !strings.HasPrefix(it.oldHash, "nt:")
	}
	return tx.writeTagChanges(ctx, p.subscriptionID, changed, tagSource{source: "sync"})
}

// readStoredHashes fills pk, oldHash and existing for the page's resources
// already stored.
func (tx *Tx) readStoredHashes(ctx context.Context, items []*pageItem, byKey map[string]*pageItem) error {
	scan := func(rows *sql.Rows) error {
		var pk int64
		var key, hash string
		if err := rows.Scan(&pk, &key, &hash); err != nil {
			return err
		}
		it := byKey[key]
		it.pk, it.oldHash, it.existing = pk, hash, true
		return nil
	}
	var err error
	if tx.db.engine == Postgres {
		// One array parameter, one statement text.
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.key
		}
		rows, qerr := tx.QueryContext(ctx, storedHashesHead+`= ANY($1::text[])`, keys)
		err = eachRow(rows, qerr, scan)
	} else {
		keys := make([]any, len(items))
		for i, it := range items {
			keys[i] = it.key
		}
		err = tx.db.batches.storedHashes.run(ctx, tx, keys, scan)
	}
	if err != nil {
		return fmt.Errorf("reading stored resources: %w", err)
	}
	return nil
}

// readStoredTags fills oldTags of the changed resources already stored.
func (tx *Tx) readStoredTags(ctx context.Context, changed []*pageItem) error {
	byPK := map[int64]*pageItem{}
	for _, it := range changed {
		if it.existing {
			byPK[it.pk] = it
		}
	}
	pks := slices.Sorted(maps.Keys(byPK))
	for chunk := range slices.Chunk(pks, 1000) {
		var a args
		rows, err := tx.QueryContext(ctx, `SELECT pk, tags FROM resources WHERE pk IN (`+addList(tx.db, &a, chunk)+`) AND tags <> '{}'`, a...)
		if err != nil {
			return fmt.Errorf("reading stored tags: %w", err)
		}
		for rows.Next() {
			var pk int64
			var tags string
			if err := rows.Scan(&pk, &tags); err != nil {
				rows.Close()
				return fmt.Errorf("reading stored tags: %w", err)
			}
			if err := fromJSON(tags, &byPK[pk].oldTags); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading stored tags: %w", err)
		}
	}
	return nil
}

const resourceInsertHead = `
	INSERT INTO resources (arm_key, arm_id, subscription_id, resource_group, resource_group_key, name, type,
		type_key, location, tags, tag_count, content_hash, first_seen_at, synced_at)`

const tagInsertHead = `INSERT INTO resource_tags (key_norm, resource_pk, tag_key, tag_value) VALUES `

const storedHashesHead = `SELECT pk, arm_key, content_hash FROM resources WHERE arm_key `

var resourceInsertTypes = []string{"text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "bigint", "text", "bigint", "bigint"}

// insertResources inserts the page's new resources with multi-row INSERTs,
// reads back their PKs and counts them on the subscription.
func (tx *Tx) insertResources(ctx context.Context, subscriptionID string, changed []*pageItem) error {
	const ncols = 14
	byKey := map[string]*pageItem{}
	now := tx.now.UnixMicro()
	var flat []any
	for _, it := range changed {
		if it.existing {
			continue
		}
		r := it.rs[len(it.rs)-1]
		byKey[it.key] = it
		flat = append(flat, it.key, r.ID, subscriptionID, r.ResourceGroup, strings.ToLower(r.ResourceGroup), r.Name, r.Type,
			strings.ToLower(r.Type), r.Location, jsonText(it.tags), len(it.tags), it.hash, now, now)
	}
	if len(flat) == 0 {
		return nil
	}
	// Counting them first finds an unknown subscription (PostgreSQL has
	// no foreign key here: see migration 00002) and locks its row until
	// commit, so it cannot go while its resources are written.
	res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET resource_count = resource_count + $1 WHERE id = $2`, len(byKey), subscriptionID)
	if err != nil {
		return fmt.Errorf("counting resources: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("counting resources: %w", err)
	} else if n == 0 {
		return steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
	}
	scan := func(rows *sql.Rows) error {
		var pk int64
		var key string
		if err := rows.Scan(&pk, &key); err != nil {
			return err
		}
		byKey[key].pk = pk
		return nil
	}
	if tx.db.engine == Postgres {
		// One statement: see execValuesTyped.
		var q string
		var a args
		if q, a, err = unnestQuery(resourceInsertHead, flat, ncols, resourceInsertTypes); err != nil {
			return err
		}
		rows, qerr := tx.QueryContext(ctx, q+` RETURNING pk, arm_key`, a...)
		err = eachRow(rows, qerr, scan)
	} else {
		err = tx.db.batches.insertResources.run(ctx, tx, flat, scan)
	}
	switch {
	case isUniqueViolation(err):
		return steward.WrapError(steward.ECONFLICT, err, "Another sync stored some of these resources at the same moment; sync again.")
	case err != nil:
		return fmt.Errorf("inserting resources: %w", err)
	}
	return nil
}

// updateResources writes the page's changed resources with multi-row
// UPDATE … FROM (VALUES …).
func (tx *Tx) updateResources(ctx context.Context, changed []*pageItem) error {
	const ncols = 12
	now := tx.now.UnixMicro()
	var flat []any
	for _, it := range changed {
		if !it.existing {
			continue
		}
		r := it.rs[len(it.rs)-1]
		flat = append(flat, it.pk, r.ID, r.ResourceGroup, strings.ToLower(r.ResourceGroup), r.Name, r.Type,
			strings.ToLower(r.Type), r.Location, jsonText(it.tags), len(it.tags), it.hash, now)
	}
	casts := []string{"BIGINT", "", "", "", "", "", "", "", "", "BIGINT", "", "BIGINT"}
	for chunk := range slices.Chunk(flat, maxParams/ncols*ncols) {
		var a args
		_, err := tx.ExecContext(ctx, `
			UPDATE resources SET arm_id = v.column2, resource_group = v.column3, resource_group_key = v.column4, name = v.column5,
				type = v.column6, type_key = v.column7, location = v.column8, tags = v.column9, tag_count = v.column10,
				content_hash = v.column11, synced_at = v.column12
			FROM (VALUES `+tx.db.values(&a, chunk, ncols, casts)+`) AS v
			WHERE resources.pk = v.column1`, a...)
		if err != nil {
			return fmt.Errorf("updating resources: %w", err)
		}
	}
	return nil
}

// tagDeltas counts, per tag name as spelled, how many resources gained (+)
// or lost (-) it: the changes to apply to tag_key_counts.
type tagDeltas map[[2]string]int

func (d tagDeltas) add(rows []tagRow, n int) {
	for _, t := range rows {
		d[[2]string{t.keyNorm, t.key}] += n
	}
}

var tagRowTypes = []string{"text", "bigint", "text", "text"}

// writeTagChanges brings the tag rows, tag history and tag counts of the
// written resources in line with their new tags.
func (tx *Tx) writeTagChanges(ctx context.Context, subscriptionID string, changed []*pageItem, src tagSource) error {
	var del, ins, upd, hist []any
	var editID any
	if src.editID != 0 {
		editID = src.editID
	}
	deltas := tagDeltas{}
	now := tx.now.UnixMicro()
	for _, it := range changed {
		oldRows, newRows := tagRows(it.oldTags), tagRows(it.tags)
		if len(oldRows) == 0 && len(newRows) == 0 {
			continue
		}
		old := make(map[string]tagRow, len(oldRows))
		for _, t := range oldRows {
			old[t.keyNorm] = t
		}
		for _, t := range newRows {
			if o, ok := old[t.keyNorm]; !ok {
				ins = append(ins, t.keyNorm, it.pk, t.key, t.value)
			} else if o != t {
				upd = append(upd, t.keyNorm, it.pk, t.key, t.value)
			}
			delete(old, t.keyNorm)
		}
		for _, t := range oldRows {
			if _, gone := old[t.keyNorm]; gone {
				del = append(del, t.keyNorm, it.pk)
			}
		}
		deltas.add(oldRows, -1)
		deltas.add(newRows, +1)
		if it.history {
			for _, c := range diffTags(it.oldTags, it.tags) {
				hist = append(hist, it.pk, now, c.key, c.old, c.new, src.source, src.actor, editID)
			}
		}
	}
	if err := tx.deleteTagRows(ctx, del); err != nil {
		return err
	}
	if len(ins) > 0 {
		var err error
		if tx.db.engine == SQLite && tx.db.batches.insertTags.ready() {
			err = tx.db.batches.insertTags.run(ctx, tx, ins, nil)
		} else {
			err = tx.execValuesTyped(ctx, tagInsertHead, ins, 4, tagRowTypes, "")
		}
		if err != nil {
			return fmt.Errorf("writing tags: %w", err)
		}
	}
	if len(upd) > 0 {
		err := tx.execValuesTyped(ctx, `INSERT INTO resource_tags (key_norm, resource_pk, tag_key, tag_value) VALUES `, upd, 4, tagRowTypes,
			` ON CONFLICT (key_norm, resource_pk) DO UPDATE SET tag_key = excluded.tag_key, tag_value = excluded.tag_value`)
		if err != nil {
			return fmt.Errorf("writing tags: %w", err)
		}
	}
	if len(hist) > 0 {
		if err := tx.execValues(ctx, `INSERT INTO tag_history (resource_pk, at, tag_key, old_value, new_value, source, actor, edit_id) VALUES `, hist, 8, ""); err != nil {
			return fmt.Errorf("writing tag history: %w", err)
		}
	}
	return tx.applyTagDeltas(ctx, subscriptionID, deltas)
}

// deleteTagRows deletes tag rows given as flat (key_norm, resource_pk)
// pairs.
func (tx *Tx) deleteTagRows(ctx context.Context, flat []any) error {
	for chunk := range slices.Chunk(flat, maxParams/2*2) {
		var a args
		q := `DELETE FROM resource_tags WHERE (key_norm, resource_pk) IN (VALUES ` + tx.db.values(&a, chunk, 2, []string{"", "BIGINT"}) + `)`
		if _, err := tx.ExecContext(ctx, q, a...); err != nil {
			return fmt.Errorf("deleting tags: %w", err)
		}
	}
	return nil
}

// applyTagDeltas adds deltas to the subscription's tag-name counts, in key
// order (so concurrent writers lock rows in one order), and drops names no
// resource carries any more.
func (tx *Tx) applyTagDeltas(ctx context.Context, subscriptionID string, deltas tagDeltas) error {
	keys := make([][2]string, 0, len(deltas))
	shrunk := false
	for k, n := range deltas {
		if n != 0 {
			keys = append(keys, k)
			shrunk = shrunk || n < 0
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	flat := make([]any, 0, len(keys)*4)
	for _, k := range keys {
		flat = append(flat, subscriptionID, k[0], k[1], deltas[k])
	}
	err := tx.execValuesTyped(ctx, `INSERT INTO tag_key_counts (subscription_id, key_norm, tag_key, resources) VALUES `, flat, 4,
		[]string{"text", "text", "text", "bigint"},
		` ON CONFLICT (subscription_id, key_norm, tag_key) DO UPDATE SET resources = tag_key_counts.resources + excluded.resources`)
	if err != nil {
		return fmt.Errorf("counting tag names: %w", err)
	}
	if shrunk {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tag_key_counts WHERE subscription_id = $1 AND resources <= 0`, subscriptionID); err != nil {
			return fmt.Errorf("counting tag names: %w", err)
		}
	}
	return nil
}

// ResourceAnalyze refreshes the query planner's statistics of the
// resource and tag tables. PostgreSQL plans listings from them, and after a
// bulk load autovacuum may take minutes to gather them: meanwhile the
// planner takes a tag held by a third of the resources for a few rows and
// hash-joins them all. On SQLite, whose listings name their indexes, it
// runs PRAGMA optimize, which analyzes only tables whose statistics are
// far out of date. A call while another runs returns at once.
//
// PostgreSQL analyzes only the columns that listings filter and page on:
// the other columns of resources (ARM IDs, names, tags as JSON) made 60%
// of the work, 0.2 s per 100,000 resources, at the end of every first
// sync. Autovacuum, when on, gathers the rest in its own time.
func (db *DB) ResourceAnalyze(ctx context.Context) error {
	if !db.analyzing.CompareAndSwap(false, true) {
		return nil
	}
	defer db.analyzing.Store(false)
	query := `PRAGMA optimize`
	if db.engine == Postgres {
		query = `ANALYZE resources (pk, subscription_id, resource_group_key, type_key),
			resource_tags (key_norm, tag_value, resource_pk), tag_key_counts`
	}
	if _, err := db.w.ExecContext(ctx, query); err != nil {
		return fmt.Errorf("analyzing resources: %w", err)
	}
	return nil
}

// defaultDeleteBatch is how many PKs ResourceDeleteExcept reads, and
// deletes at most, per transaction.
const defaultDeleteBatch = 5000

// ResourceDeleteExcept walks the subscription's PKs in order, a batch at a
// time, beside keep (sorted ascending), and deletes those not kept. Each
// batch is its own transaction, so a large deletion does not hold the
// SQLite writer for long; a deletion cut short is finished by the next
// full sync. Tag rows and history go with the resources; tag counts follow.
func (db *DB) ResourceDeleteExcept(ctx context.Context, subscriptionID string, keep []int64) (int, error) {
	subscriptionID = strings.ToLower(subscriptionID)
	if !slices.IsSorted(keep) {
		keep = slices.Clone(keep)
		slices.Sort(keep)
	}
	deleted := 0
	var after int64
	for {
		var n, read int
		err := db.inTx(ctx, func(tx *Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT pk FROM resources WHERE subscription_id = $1 AND pk > $2 ORDER BY pk LIMIT $3`,
				subscriptionID, after, db.deleteBatch)
			if err != nil {
				return fmt.Errorf("listing resources: %w", err)
			}
			var gone []int64
			for rows.Next() {
				var pk int64
				if err := rows.Scan(&pk); err != nil {
					rows.Close()
					return fmt.Errorf("listing resources: %w", err)
				}
				read++
				after = pk
				for len(keep) > 0 && keep[0] < pk {
					keep = keep[1:]
				}
				if len(keep) == 0 || keep[0] != pk {
					gone = append(gone, pk)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("listing resources: %w", err)
			}
			n = len(gone)
			return tx.deleteResources(ctx, subscriptionID, gone)
		})
		if err != nil {
			return deleted, err
		}
		deleted += n
		if read < db.deleteBatch {
			return deleted, nil
		}
	}
}

// deleteResources deletes resources by PK with their tag rows (found from
// the tags each resource keeps), taking their tags off the tag counts and
// the resources off the subscription's count. Tag history goes with the
// resources (ON DELETE CASCADE).
func (tx *Tx) deleteResources(ctx context.Context, subscriptionID string, pks []int64) error {
	if len(pks) == 0 {
		return nil
	}
	deltas := tagDeltas{}
	for chunk := range slices.Chunk(pks, 1000) {
		var a args
		rows, err := tx.QueryContext(ctx, `SELECT pk, tags FROM resources WHERE pk IN (`+addList(tx.db, &a, chunk)+`) AND tags <> '{}'`, a...)
		if err != nil {
			return fmt.Errorf("reading deleted resources' tags: %w", err)
		}
		var del []any
		for rows.Next() {
			var pk int64
			var text string
			var tags map[string]string
			if err := rows.Scan(&pk, &text); err != nil {
				rows.Close()
				return fmt.Errorf("reading deleted resources' tags: %w", err)
			}
			if err := fromJSON(text, &tags); err != nil {
				rows.Close()
				return err
			}
			tr := tagRows(tags)
			for _, t := range tr {
				del = append(del, t.keyNorm, pk)
			}
			deltas.add(tr, -1)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading deleted resources' tags: %w", err)
		}
		if err := tx.deleteTagRows(ctx, del); err != nil {
			return err
		}
		a = nil
		res, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE pk IN (`+addList(tx.db, &a, chunk)+`)`, a...)
		if err != nil {
			return fmt.Errorf("deleting resources: %w", err)
		}
		n, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET resource_count = resource_count - $1 WHERE id = $2`, n, subscriptionID); err != nil {
			return fmt.Errorf("counting resources: %w", err)
		}
	}
	return tx.applyTagDeltas(ctx, subscriptionID, deltas)
}

// deleteSubscriptionTags deletes every tag row of a subscription's
// resources, walking them in PK order a batch at a time.
func (tx *Tx) deleteSubscriptionTags(ctx context.Context, subscriptionID string) error {
	var after int64
	for {
		rows, err := tx.QueryContext(ctx, `
			SELECT pk, tags FROM resources WHERE subscription_id = $1 AND pk > $2 AND tags <> '{}' ORDER BY pk LIMIT 2000`, subscriptionID, after)
		if err != nil {
			return fmt.Errorf("reading tags: %w", err)
		}
		var del []any
		n := 0
		for rows.Next() {
			var text string
			var tags map[string]string
			if err := rows.Scan(&after, &text); err != nil {
				rows.Close()
				return fmt.Errorf("reading tags: %w", err)
			}
			if err := fromJSON(text, &tags); err != nil {
				rows.Close()
				return err
			}
			for _, t := range tagRows(tags) {
				del = append(del, t.keyNorm, after)
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading tags: %w", err)
		}
		if err := tx.deleteTagRows(ctx, del); err != nil {
			return err
		}
		if n < 2000 {
			return nil
		}
	}
}

const resourceColumns = `r.pk, r.arm_id, r.subscription_id, r.resource_group, r.name, r.type, r.location, r.tags, r.first_seen_at, r.synced_at`

// scanResource reads resourceColumns, and into extra any columns after them.
func scanResource(row interface{ Scan(...any) error }, extra ...any) (*steward.Resource, error) {
	var r steward.Resource
	var tags string
	var first, synced sql.NullInt64
	dest := append([]any{&r.PK, &r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Name, &r.Type, &r.Location, &tags, &first, &synced}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if r.Tags, err = decodeTags(tags); err != nil {
		return nil, err
	}
	r.FirstSeenAt, r.SyncedAt = fromMicros(first), fromMicros(synced)
	return &r, nil
}

// ResourceGet finds a resource within the scope by ARM ID,
// case-insensitively.
func (db *DB) ResourceGet(ctx context.Context, scope steward.Scope, armID string) (*steward.Resource, error) {
	var tenant string
	r, err := scanResource(db.r.QueryRowContext(ctx, `
		SELECT `+resourceColumns+`, s.tenant_id FROM resources r JOIN subscriptions s ON s.id = r.subscription_id
		WHERE r.arm_key = $1`, steward.ResourceKey(armID)), &tenant)
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Resource not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading resource: %w", err)
	}
	if err := notFoundOutside(scope, tenant, "Resource"); err != nil {
		return nil, err
	}
	return r, nil
}

// TagHistory returns the tag changes of a resource within the scope,
// newest first; limit defaults to 100 and is at most 1,000.
func (db *DB) TagHistory(ctx context.Context, scope steward.Scope, resourcePK int64, limit int) ([]*steward.TagHistoryEntry, error) {
	var a args
	cond, none := a.scopeCond(scope, "s.tenant_id")
	if none {
		return nil, nil
	}
	where := `h.resource_pk = ` + a.add(resourcePK)
	if cond != "" {
		where += ` AND h.resource_pk IN (SELECT r.pk FROM resources r JOIN subscriptions s ON s.id = r.subscription_id
			WHERE r.pk = ` + a.add(resourcePK) + ` AND ` + cond + `)`
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT h.at, h.tag_key, h.old_value, h.new_value, h.source, h.actor, h.edit_id FROM tag_history h
		WHERE `+where+` ORDER BY h.id DESC LIMIT `+a.add(listLimit(limit, 100, 1000)), a...)
	if err != nil {
		return nil, fmt.Errorf("reading tag history: %w", err)
	}
	defer rows.Close()
	var out []*steward.TagHistoryEntry
	for rows.Next() {
		var h steward.TagHistoryEntry
		var at sql.NullInt64
		var old, new sql.NullString
		var edit sql.NullInt64
		if err := rows.Scan(&at, &h.Key, &old, &new, &h.Source, &h.Actor, &edit); err != nil {
			return nil, fmt.Errorf("reading tag history: %w", err)
		}
		h.At, h.EditID = fromMicros(at), edit.Int64
		if old.Valid {
			h.Old = &old.String
		}
		if new.Valid {
			h.New = &new.String
		}
		out = append(out, &h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading tag history: %w", err)
	}
	return out, nil
}

// TagKeys lists tag names in use within f's tenant, subscription and scope
// (its other fields are ignored), from the per-subscription counts that
// every write keeps up to date. limit defaults to 100 and is at most 1,000.
func (db *DB) TagKeys(ctx context.Context, scope steward.Scope, f steward.ResourceFilter, limit int) ([]*steward.TagKeyStat, error) {
	var a args
	var where []string
	cond, none := a.scopeCond(scope, "s.tenant_id")
	if none {
		return nil, nil
	}
	if f.SubscriptionID != "" {
		where = append(where, `c.subscription_id = `+a.add(strings.ToLower(f.SubscriptionID)))
	}
	var tenantConds []string
	if f.TenantID != "" {
		tenantConds = append(tenantConds, `s.tenant_id = `+a.add(strings.ToLower(f.TenantID)))
	}
	if cond != "" {
		tenantConds = append(tenantConds, cond)
	}
	if len(tenantConds) > 0 {
		where = append(where, `c.subscription_id IN (SELECT s.id FROM subscriptions s WHERE `+strings.Join(tenantConds, " AND ")+`)`)
	}
	q := `SELECT c.key_norm, c.tag_key, SUM(c.resources) FROM tag_key_counts c`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.r.QueryContext(ctx, q+` GROUP BY c.key_norm, c.tag_key`, a...)
	if err != nil {
		return nil, fmt.Errorf("listing tag names: %w", err)
	}
	defer rows.Close()
	type spelling struct {
		key string
		n   int
	}
	byKey := map[string][]spelling{}
	for rows.Next() {
		var kn, k string
		var n int
		if err := rows.Scan(&kn, &k, &n); err != nil {
			return nil, fmt.Errorf("listing tag names: %w", err)
		}
		byKey[kn] = append(byKey[kn], spelling{k, n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tag names: %w", err)
	}
	out := make([]*steward.TagKeyStat, 0, len(byKey))
	for kn, sp := range byKey {
		slices.SortFunc(sp, func(a, b spelling) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.key, b.key)) })
		st := &steward.TagKeyStat{Key: kn}
		for _, s := range sp {
			st.Spellings = append(st.Spellings, s.key)
			st.Resources += s.n
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *steward.TagKeyStat) int {
		return cmp.Or(cmp.Compare(b.Resources, a.Resources), cmp.Compare(a.Key, b.Key))
	})
	if n := listLimit(limit, 100, 1000); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// formatPK is a listing's cursor.
func formatPK(pk int64) string { return strconv.FormatInt(pk, 10) }

// TagHistoryAttribute names Azure's caller on the tag changes a sync found
// on a subscription's resources since a time (drift made outside Steward),
// for those changes that have no actor yet. callers maps ARM IDs to the
// caller of their latest tag write. It returns how many changes it named.
func (db *DB) TagHistoryAttribute(ctx context.Context, subscriptionID string, since time.Time, callers map[string]string) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		for id, caller := range callers {
			res, err := tx.ExecContext(ctx, `
				UPDATE tag_history SET actor = $1
				WHERE source = 'sync' AND actor = '' AND at >= $2
				  AND resource_pk = (SELECT pk FROM resources WHERE arm_key = $3 AND subscription_id = $4)`,
				caller, since.UnixMicro(), steward.ResourceKey(id), strings.ToLower(subscriptionID))
			if err != nil {
				return fmt.Errorf("naming drift callers: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}
