package azure_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
)

// exchanges records what the connector reports to its observer.
type exchanges struct {
	mu  sync.Mutex
	all []steward.AzureExchange
}

func (e *exchanges) ObserveAzure(ex steward.AzureExchange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ex)
}

// count returns how many exchanges with svc answered status (any status
// when 0), and the smallest remaining count of quota among them (-1 when
// none carried it).
func (e *exchanges) count(svc steward.AzureService, status int, quota string) (n, least int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	least = -1
	for _, ex := range e.all {
		if ex.Service != svc || status != 0 && ex.Status != status {
			continue
		}
		n++
		for _, q := range ex.Quotas {
			if q.Name == quota && (least < 0 || q.Remaining < least) {
				least = q.Remaining
			}
		}
	}
	return n, least
}

// TestObserverSeesEveryTry throttles the emulator's reads to 3 (+2/s) and
// reads resource groups eight times, four at once, then runs a Resource
// Graph query and a cost query: the observer hears of the token request,
// of each 429 the budget saw (every try, not every call), of the quota
// each answer reported, and names each service.
func TestObserverSeesEveryTry(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{Throttling: emulator.Throttling{Reads: emulator.BucketSpec{Size: 3, RefillPerSecond: 2}}})
	rec := &exchanges{}
	az, err := azure.NewFromConnection(tb.cf, azure.Config{Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Close)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2 {
				if _, err := az.ResourceGroups(ctx, tb.reader, tb.sub); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	_, _, throttled := az.BudgetStats(tb.reader)
	if n, _ := rec.count(steward.AzureARM, 429, ""); int64(n) != throttled || n == 0 {
		t.Errorf("observer saw %d Resource Manager 429s; the budget saw %d (want the same, and some)", n, throttled)
	}
	if n, least := rec.count(steward.AzureARM, 200, "subscription-reads"); n < 8 || least < 0 || least > 3 {
		t.Errorf("observer saw %d successful reads, least subscription-reads remaining %d; want ≥ 8 and 0..3", n, least)
	}
	if n, _ := rec.count(steward.AzureEntra, 200, ""); n == 0 {
		t.Error("the token request was not observed as entra")
	}

	for _, err := range az.ResourcesGraph(ctx, tb.reader, []string{tb.sub}, "") {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, least := rec.count(steward.AzureResourceGraph, 200, "user-quota"); n == 0 || least < 0 {
		t.Errorf("Resource Graph: %d answers, least user quota %d; want answers with x-ms-user-quota-remaining", n, least)
	}
	to := time.Now().UTC().Truncate(24 * time.Hour)
	for _, err := range az.Costs(ctx, tb.reader, tb.sub, to.AddDate(0, 0, -2), to) {
		skipIfMissing(t, err)
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, least := rec.count(steward.AzureCostManagement, 200, "costmanagement-qpu"); n == 0 || least < 0 {
		t.Errorf("Cost Management: %d answers, least QPU remaining %d; want answers with the QPU header", n, least)
	}
	if n, _ := rec.count(steward.AzureOther, 0, ""); n != 0 {
		t.Errorf("%d exchanges not named after a service", n)
	}
}
