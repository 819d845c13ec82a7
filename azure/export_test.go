package azure

import (
	"time"

	"github.com/stewardhq/steward"
)

// BudgetStats reports what the throttling budget of an identity did: the
// requests it delayed, for how long in all, and the 429 answers it saw.
func (c *Connector) BudgetStats(id steward.AzureIdentity) (paced int64, pacedFor time.Duration, throttled int64) {
	ent, err := c.identity(id)
	if err != nil {
		return 0, 0, 0
	}
	s := &ent.budget.stats
	return s.Paced.Load(), time.Duration(s.PacedFor.Load()), s.Throttled.Load()
}
