package store

import (
	"context"

	"github.com/stewardhq/steward"
)

// SetDeleteBatch makes ResourceDeleteExcept work in batches of n, so tests
// cross batch boundaries with few resources.
func (db *DB) SetDeleteBatch(n int) { db.deleteBatch = n }

// WriteGroup writes pages of resources, page i into subs[i], as one group
// of concurrent syncs' pages (see groupCommit), and returns each page's
// count of resources written and outcome.
func (db *DB) WriteGroup(ctx context.Context, subs []string, pages [][]*steward.Resource) ([]int, []error) {
	batch := make([]*groupWrite, len(pages))
	for i, rs := range pages {
		p, err := newResourcePage(subs[i], rs, true)
		if err != nil {
			panic(err)
		}
		batch[i] = &groupWrite{ctx: ctx, page: p}
	}
	if err := db.batches.prepare(ctx, db.w); err != nil {
		panic(err)
	}
	db.writeGroup(batch)
	written, errs := make([]int, len(batch)), make([]error, len(batch))
	for i, w := range batch {
		errs[i] = w.err
		if w.err == nil {
			written[i] = w.page.written
			w.page.setPKs()
		}
	}
	return written, errs
}

// MigrateTo applies the migrations up to version, as an older release did.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
