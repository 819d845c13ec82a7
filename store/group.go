package store

import (
	"context"
	"sync"
)

// groupMax is the most resources one group transaction writes.
const groupMax = 10_000

// groupCommit makes the sync pages that concurrent syncs write on SQLite
// at the same moment share one transaction. SQLite has one writer, so the
// pages queue for it anyway; each commit writes every page of the B-trees
// it touched to the WAL, and a page of 1,000 resources touches about as
// many index pages as a group of several, so committing them together
// writes far less (in the store benchmark, pages of 5,000 wrote 39%
// faster than pages of 1,000).
//
// The first writer to find no group under way leads: it takes the queue
// (itself first), writes it in one transaction and wakes each writer with
// its outcome, then hands the lead to the first writer that queued
// meanwhile. If the group's transaction fails, each page is written again
// in its own, so every writer gets its own outcome and one bad page holds
// none of the others back.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*groupWrite
	leading bool
}

type groupWrite struct {
	ctx  context.Context
	page *resourcePage
	err  error
	// lead wakes a queued writer: true to lead the next group, false
	// when its page was written (err says how).
	lead chan bool
}

// write writes p in a group transaction and returns its outcome.
func (g *groupCommit) write(ctx context.Context, db *DB, p *resourcePage) error {
	w := &groupWrite{ctx: ctx, page: p, lead: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if g.leading {
		g.mu.Unlock()
		if !<-w.lead {
			return w.err
		}
		g.mu.Lock()
	}
	g.leading = true
	// w is first in the queue: a writer leads only when the queue was
	// empty or when it was woken as its head.
	n, size := 0, 0
	for n < len(g.queue) && (n == 0 || size+len(g.queue[n].page.items) <= groupMax) {
		size += len(g.queue[n].page.items)
		n++
	}
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	db.writeGroup(batch)
	for _, o := range batch[1:] {
		o.lead <- false
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- true
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return w.err
}

// writeGroup writes the pages in one transaction, or each in its own if
// that fails. Each page's statements run under its writer's context.
func (db *DB) writeGroup(batch []*groupWrite) {
	if len(batch) > 1 {
		err := db.inTx(context.WithoutCancel(batch[0].ctx), func(tx *Tx) error {
			for _, w := range batch {
				if err := tx.upsertPage(w.ctx, w.page); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return
		}
	}
	for _, w := range batch {
		w.err = db.inTx(w.ctx, func(tx *Tx) error { return tx.upsertPage(w.ctx, w.page) })
	}
}
