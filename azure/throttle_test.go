package azure_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward/emulator"
)

// TestThrottling shrinks the emulator's read bucket to 3 requests (+2/s)
// and reads the resource groups of one subscription eight times, four at
// once: the budget slows the reads as the remaining count falls, 429s wait
// for Retry-After, and every call succeeds.
func TestThrottling(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{Throttling: emulator.Throttling{Reads: emulator.BucketSpec{Size: 3, RefillPerSecond: 2}}})
	ctx := testContext(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				_, err := tb.az.ResourceGroups(ctx, tb.reader, tb.sub)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a throttled read failed: %v", err)
		}
	}
	paced, pacedFor, throttled := tb.az.BudgetStats(tb.reader)
	t.Logf("8 reads in %v: %d paced for %v in all, %d answered 429", time.Since(start).Round(time.Millisecond), paced, pacedFor.Round(time.Millisecond), throttled)
	if paced == 0 {
		t.Error("the budget never slowed down")
	}
	// 3 tokens and 2 more a second: 8 reads need at least 2.5 s.
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("8 reads took %v: faster than the bucket allows", el)
	}
}
