package steward

import "context"

type stoppingKey struct{}

// NewContextStopping gives work a signal that its process is stopping:
// stopping is closed when the process stops taking work. Work that can be
// handed over part by part (tag write-back) stops at the next part and
// gives back what it holds, so another replica takes it at once; the rest
// runs on until it ends or the process's grace period does.
func NewContextStopping(ctx context.Context, stopping <-chan struct{}) context.Context {
	return context.WithValue(ctx, stoppingKey{}, stopping)
}

// Stopping is the channel closed when the process of ctx stops taking work;
// nil (never ready) when nothing said.
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(<-chan struct{})
	return ch
}

// ErrStopping is the answer of work that stopped because its process is
// stopping, having handed back what it held: run it again elsewhere, now.
var ErrStopping = Errorf(EUNAVAILABLE, "Steward is stopping; the work is left for another replica.")
