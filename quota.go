package steward

import (
	"context"
	"errors"
	"time"
)

// QuotaMoment is the longest a job that gives its worker back still waits
// on Azure's quota in place: shorter waits cost less than a requeue.
const QuotaMoment = 10 * time.Second

type noQuotaWaitKey struct{}

// NewContextNoQuotaWait marks work that would rather be scheduled again than
// hold its worker while Azure's quota refills (a cost import whose hourly
// quota is spent): the connector answers a *QuotaWaitError instead of
// waiting longer than QuotaMoment.
func NewContextNoQuotaWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noQuotaWaitKey{}, true)
}

// NoQuotaWait reports whether ctx asks not to wait on Azure's quota.
func NoQuotaWait(ctx context.Context) bool {
	v, _ := ctx.Value(noQuotaWaitKey{}).(bool)
	return v
}

// QuotaWaitError says Azure's quota allows the next request only after Wait.
// It is ETHROTTLED.
type QuotaWaitError struct {
	Wait time.Duration
	err  *Error
}

// NewQuotaWaitError says what waits on which quota, for how long.
func NewQuotaWaitError(wait time.Duration, what string) *QuotaWaitError {
	return &QuotaWaitError{Wait: wait, err: Errorf(ETHROTTLED, "Azure's %s quota allows the next request in %s.", what, wait.Round(time.Second))}
}

func (e *QuotaWaitError) Error() string { return e.err.Error() }

// Unwrap lets ErrorCode and ErrorMessage see the ETHROTTLED error.
func (e *QuotaWaitError) Unwrap() error { return e.err }

// NonRetriable tells the Azure SDK's retry policy not to retry it: waiting
// is what the caller chose not to do.
func (e *QuotaWaitError) NonRetriable() {}

// QuotaWait returns how long err says to wait for Azure's quota, or 0.
func QuotaWait(err error) time.Duration {
	var q *QuotaWaitError
	if errors.As(err, &q) {
		return q.Wait
	}
	return 0
}
