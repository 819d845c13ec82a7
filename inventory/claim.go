package inventory

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// errClaimExpiring ends a batch's work when its claim could not be renewed
// in time: another worker may take the items once the lease passes, so
// this one must send nothing more.
var errClaimExpiring = errors.New("the claim on the tag edit items could not be renewed in time")

// claim is a batch of items this worker holds. While the worker works, it
// renews the claim every third of the lease, so a batch that Azure's
// throttling stretches past the lease stays this worker's; and its context
// ends a quarter lease before the last confirmed renewal runs out, so that
// a worker cut off from the database stops sending writes (retries
// included) before another can claim the items.
type claim struct {
	s      *Service
	ctx    context.Context // for the writes: ends when the claim may pass
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	items map[int64]*steward.TagEditItem // held, not yet finished

	watchdog *time.Timer
	stop     chan struct{}
	done     chan struct{}
}

// hold starts holding claimed items.
func (s *Service) hold(ctx context.Context, items []*steward.TagEditItem) *claim {
	c := &claim{s: s, items: make(map[int64]*steward.TagEditItem, len(items)), stop: make(chan struct{}), done: make(chan struct{})}
	for _, it := range items {
		c.items[it.ID] = it
	}
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	c.watchdog = time.AfterFunc(s.cfg.Lease*3/4, func() { c.cancel(errClaimExpiring) })
	go c.renewLoop()
	return c
}

func (c *claim) renewLoop() {
	defer close(c.done)
	t := time.NewTicker(c.s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.renew()
		}
	}
}

// renew renews the claim on the items not yet finished, and lets go of
// those that passed to another worker (or were canceled meanwhile).
func (c *claim) renew() {
	c.mu.Lock()
	items := make([]*steward.TagEditItem, 0, len(c.items))
	for _, it := range c.items {
		items = append(items, it)
	}
	c.mu.Unlock()
	if len(items) == 0 {
		return
	}
	// The lease is counted from before the statement was sent.
	sent := time.Now()
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.Lease/3)
	held, err := c.s.store.TagEditItemsRenew(ctx, items, c.s.now().Add(c.s.cfg.Lease))
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.s.log.WarnContext(c.ctx, "tag edit claim not renewed", slog.Int("items", len(items)), slog.Any("error", err))
		}
		return
	}
	c.watchdog.Reset(time.Until(sent.Add(c.s.cfg.Lease * 3 / 4)))
	keep := make(map[int64]bool, len(held))
	for _, id := range held {
		keep[id] = true
	}
	c.mu.Lock()
	for id := range c.items {
		if !keep[id] {
			delete(c.items, id)
		}
	}
	c.mu.Unlock()
}

// check renews the claim on one item right before a write is sent, and
// answers steward.ErrClaimPassed when it is no longer this worker's.
func (c *claim) check(item *steward.TagEditItem) error {
	c.mu.Lock()
	_, ok := c.items[item.ID]
	c.mu.Unlock()
	if !ok {
		return steward.ErrClaimPassed
	}
	if err := context.Cause(c.ctx); err != nil {
		return err
	}
	held, err := c.s.store.TagEditItemsRenew(c.ctx, []*steward.TagEditItem{item}, c.s.now().Add(c.s.cfg.Lease))
	if err != nil {
		return err
	}
	if len(held) == 0 {
		c.finished(item)
		return steward.ErrClaimPassed
	}
	return nil
}

// finished stops renewing an item: its outcome is recorded, or it is no
// longer this worker's.
func (c *claim) finished(item *steward.TagEditItem) {
	c.mu.Lock()
	delete(c.items, item.ID)
	c.mu.Unlock()
}

// held reports whether the item is still this worker's, as last renewed.
func (c *claim) held(item *steward.TagEditItem) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[item.ID]
	return ok
}

// end stops renewing and gives the items not finished back to the queue,
// due at once: the worker stops (a stop, a broken credential, an error)
// and another worker may take them now rather than after the lease.
func (c *claim) end(ctx context.Context) {
	close(c.stop)
	<-c.done
	c.watchdog.Stop()
	c.cancel(context.Canceled)
	c.mu.Lock()
	items := make([]*steward.TagEditItem, 0, len(c.items))
	for _, it := range c.items {
		items = append(items, it)
	}
	c.items = nil
	c.mu.Unlock()
	if len(items) == 0 {
		return
	}
	// Given back even when the job's context has ended: that is when it
	// matters most.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, err := c.s.store.TagEditItemsRelease(ctx, items, c.s.now())
	if err != nil {
		c.s.log.WarnContext(ctx, "tag edit claim not released; its lease returns the items", slog.Int("items", len(items)), slog.Any("error", err))
		return
	}
	if n > 0 {
		c.s.log.InfoContext(ctx, "tag edit items handed back", slog.Int("items", n))
	}
}
