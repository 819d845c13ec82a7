package store

import (
	"context"
	"database/sql"
	"sync"
)

// walBackstop is the WAL size, in pages, at which SQLite's writer
// checkpoints by itself, should the checkpointer fall behind (80 MB).
const walBackstop = 20_000

// checkpointer copies SQLite's WAL back into the database file on a
// connection of its own, after each commit. By default the writer does it
// within the commit that crosses 1,000 pages, and the one writer is what a
// sync waits for: a first sync spent a twentieth of the writer's time
// checkpointing. A PASSIVE checkpoint neither waits for nor blocks the
// writer or the readers, so here it runs on the other core.
type checkpointer struct {
	db   *sql.DB
	poke chan struct{} // never closed: a commit may race Close
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, poke: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Go(func() {
		for {
			select {
			case <-c.stop:
				return
			case <-c.poke:
				// An error (the file busy, say) only leaves more for the
				// next checkpoint, or for the writer's backstop.
				c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	})
	return c
}

// committed asks for a checkpoint; asks while one runs fold into the next.
func (c *checkpointer) committed() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// close stops the checkpointer; closing again does nothing.
func (c *checkpointer) close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.done.Wait()
		err = c.db.Close()
	})
	return err
}
