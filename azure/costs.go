package azure

import (
	"context"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"

	"github.com/stewardhq/steward"
)

// costClientType names Steward to Cost Management, which keeps a quota per
// client type; without it every caller of the tenant shares "Default".
const costClientType = "Steward"

// costColumns are the names Cost Management gives the summed cost column,
// by account type.
var costColumns = []string{"Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD", "totalCost"}

// Costs streams daily actual costs per resource and service of a
// subscription over [from, to), grouped by ResourceId and ServiceName (a
// query takes at most two groupings; the resource group is read from the
// resource ID). Columns are found by name, not position, and
// nextLink pages are POSTed with the same query, as Cost Management wants.
// EFORBIDDEN, EINVALID, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Costs(ctx context.Context, id steward.AzureIdentity, subscriptionID string, from, to time.Time) iter.Seq2[*steward.CostRow, error] {
	doing := "querying the costs of subscription " + subscriptionID
	return func(yield func(*steward.CostRow, error) bool) {
		from, to := from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
		if !to.After(from) {
			return
		}
		ent, err := c.identity(id)
		if err != nil {
			yield(nil, err)
			return
		}
		client, err := armcostmanagement.NewQueryClient(ent.cred, ent.opts)
		if err != nil {
			yield(nil, azError(err, doing))
			return
		}
		ctx := policy.WithHTTPHeader(ctx, http.Header{"ClientType": []string{costClientType}})
		def := costQuery(from, to)
		resp, err := client.Usage(ctx, "subscriptions/"+subscriptionID, def, nil)
		if err != nil {
			yield(nil, azError(err, doing))
			return
		}
		res := resp.QueryResult
		for {
			if res.Properties == nil {
				return
			}
			cols := columnIndex(res.Properties.Columns)
			for _, row := range res.Properties.Rows {
				r, ok := cols.row(row)
				if !ok || r.Day.Before(from) || !r.Day.Before(to) {
					continue
				}
				r.SubscriptionID = subscriptionID
				if !yield(r, nil) {
					return
				}
			}
			next := deref(res.Properties.NextLink)
			if next == "" {
				return
			}
			res = armcostmanagement.QueryResult{}
			if _, err := c.armCall(ctx, ent.arm, http.MethodPost, next, def, &res); err != nil {
				yield(nil, azError(err, doing))
				return
			}
		}
	}
}

func costQuery(from, to time.Time) armcostmanagement.QueryDefinition {
	dim := func(name string) *armcostmanagement.QueryGrouping {
		return &armcostmanagement.QueryGrouping{Type: ptr(armcostmanagement.QueryColumnTypeDimension), Name: ptr(name)}
	}
	return armcostmanagement.QueryDefinition{
		Type:       ptr(armcostmanagement.ExportTypeActualCost),
		Timeframe:  ptr(armcostmanagement.TimeframeTypeCustom),
		TimePeriod: &armcostmanagement.QueryTimePeriod{From: ptr(from), To: ptr(to.Add(-time.Second))}, // Cost Management's "to" is inclusive
		Dataset: &armcostmanagement.QueryDataset{
			Granularity: ptr(armcostmanagement.GranularityTypeDaily),
			Aggregation: map[string]*armcostmanagement.QueryAggregation{
				"totalCost": {Name: ptr("PreTaxCost"), Function: ptr(armcostmanagement.FunctionTypeSum)},
			},
			// At most two groupings; the resource group comes from the ID.
			Grouping: []*armcostmanagement.QueryGrouping{dim("ResourceId"), dim("ServiceName")},
		},
	}
}

func ptr[T any](v T) *T { return to.Ptr(v) }

// costCols are the positions of the columns Steward reads (-1: absent).
type costCols struct{ cost, day, resource, service, group, currency int }

func columnIndex(cols []*armcostmanagement.QueryColumn) costCols {
	ix := costCols{-1, -1, -1, -1, -1, -1}
	for i, col := range cols {
		if col == nil || col.Name == nil {
			continue
		}
		n := *col.Name
		switch {
		case ix.cost < 0 && containsFold(costColumns, n):
			ix.cost = i
		case (strings.EqualFold(n, "UsageDate") || strings.EqualFold(n, "BillingMonth")) && ix.day < 0:
			ix.day = i
		case strings.EqualFold(n, "ResourceId"):
			ix.resource = i
		case strings.EqualFold(n, "ServiceName"):
			ix.service = i
		case strings.EqualFold(n, "ResourceGroupName") || strings.EqualFold(n, "ResourceGroup"):
			ix.group = i
		case strings.EqualFold(n, "Currency"):
			ix.currency = i
		}
	}
	return ix
}

// row reads one result row; ok is false when it lacks a day or a cost.
func (ix costCols) row(row []any) (*steward.CostRow, bool) {
	get := func(i int) any {
		if i < 0 || i >= len(row) {
			return nil
		}
		return row[i]
	}
	str := func(i int) string { s, _ := get(i).(string); return s }
	day, ok := costDay(get(ix.day))
	if !ok {
		return nil, false
	}
	cost, ok := number(get(ix.cost))
	if !ok {
		return nil, false
	}
	r := &steward.CostRow{Day: day, ResourceID: str(ix.resource), Service: str(ix.service), ResourceGroup: str(ix.group), Cost: cost, Currency: str(ix.currency)}
	if r.ResourceGroup == "" {
		r.ResourceGroup = groupOf(r.ResourceID)
	}
	return r, true
}

// costDay reads UsageDate: a number yyyymmdd, or a date(-time) string.
func costDay(v any) (time.Time, bool) {
	switch x := v.(type) {
	case float64:
		return costDay(strconv.FormatInt(int64(x), 10))
	case string:
		for _, layout := range []string{"20060102", time.DateOnly, "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC().Truncate(24 * time.Hour), true
			}
		}
	}
	return time.Time{}, false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
