package emulator

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cost Management: POST {scope}/providers/Microsoft.CostManagement/query at
// a subscription or resource group, with a QueryDefinition (type, timeframe
// or timePeriod, dataset with granularity, aggregation, up to two
// groupings and a filter), answered with columns and rows in the shape of
// the REST examples: aggregations, then grouping columns, then UsageDate
// (yyyymmdd, Daily) or BillingMonth (Monthly), then Currency. Costs come from
// the cost model (costs.go); data runs through yesterday.
//
// Access needs Microsoft.CostManagement/query/action or a read of it (Reader,
// Cost Management Reader, Contributor, Owner…); without it Cost Management
// answers 401 RBACAccessDenied, as it does in Azure. Pages hold 1,000 rows;
// nextLink is the same URL with $skiptoken, to be POSTed the same body.
//
// Each query costs one QPU per calendar month it spans, from the caller's
// tenant's windows of 12 QPU per 10 s, 60 per minute and 600 per hour;
// responses carry x-ms-ratelimit-microsoft.costmanagement-qpu-consumed and
// -qpu-remaining, and an exhausted window answers 429 with -qpu-retry-after
// and Retry-After. ARM's throttling does not apply (SkipThrottle).

var costQueryVersions = []string{"2019-11-01", "2021-10-01", "2022-10-01", "2023-03-01", "2023-07-01-preview", "2023-11-01", "2024-08-01", "2025-03-01"}

const (
	actCostQuery     = "Microsoft.CostManagement/query/action"
	actCostQueryRead = "Microsoft.CostManagement/query/read"
	costPageRows     = 1000
	qpuHeader        = "x-ms-ratelimit-microsoft.costmanagement-qpu-"
)

// qpuWindows are Cost Management's per-tenant QPU quotas.
var qpuWindows = []struct {
	name   string
	limit  float64
	period time.Duration
}{
	{"QueriesPerTenSeconds", 12, 10 * time.Second},
	{"QueriesPerMinute", 60, time.Minute},
	{"QueriesPerHour", 600, time.Hour},
}

type costQueryDef struct {
	Type       string `json:"type"`
	Timeframe  string `json:"timeframe"`
	TimePeriod *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"timePeriod"`
	Dataset *struct {
		Granularity string `json:"granularity"`
		Aggregation map[string]struct {
			Name     string `json:"name"`
			Function string `json:"function"`
		} `json:"aggregation"`
		Grouping []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"grouping"`
		Filter *costFilter `json:"filter"`
	} `json:"dataset"`
}

type costFilter struct {
	And        []*costFilter `json:"and"`
	Or         []*costFilter `json:"or"`
	Not        *costFilter   `json:"not"`
	Dimensions *costCompare  `json:"dimensions"`
	Dimension  *costCompare  `json:"dimension"` // api-versions before 2021
	Tags       *costCompare  `json:"tags"`
	Tag        *costCompare  `json:"tag"`
}

type costCompare struct {
	Name     string   `json:"name"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// costDims are the dimensions the emulator groups and filters by, by lower
// name, with their canonical column names.
var costDims = map[string]string{
	"resourceid": "ResourceId", "resourcegroup": "ResourceGroup", "resourcegroupname": "ResourceGroupName",
	"resourcetype": "ResourceType", "servicename": "ServiceName", "resourcelocation": "ResourceLocation",
	"subscriptionid": "SubscriptionId", "subscriptionname": "SubscriptionName", "metercategory": "MeterCategory",
	"chargetype": "ChargeType", "publishertype": "PublisherType",
}

// costAggs are the aggregable columns.
var costAggs = map[string]string{"cost": "Cost", "pretaxcost": "PreTaxCost", "costusd": "CostUSD", "pretaxcostusd": "PreTaxCostUSD"}

// costItem is a resource with what the query needs of it.
type costItem struct {
	r  *resource
	rc resCost
}

func (it *costItem) dim(name string) string {
	r := it.r
	switch name {
	case "ResourceId":
		return it.rc.lid
	case "ResourceGroup", "ResourceGroupName":
		return r.group.lname
	case "ResourceType":
		return r.typ.lower
	case "ServiceName":
		return it.rc.service
	case "MeterCategory":
		return it.rc.meter
	case "ResourceLocation":
		return locations[r.loc]
	case "SubscriptionId":
		return r.group.sub.ID
	case "SubscriptionName":
		return r.group.sub.DisplayName
	case "ChargeType":
		return "Usage"
	case "PublisherType":
		return "Azure"
	}
	return ""
}

func (c *armCall) costError(status int, code, format string, args ...any) {
	err := newARMError(status, code, format, args...)
	err.Message += " (Request ID: " + c.w.Header().Get("x-ms-request-id") + ")"
	c.fail(err)
}

func (c *armCall) serveCostQuery() {
	if len(c.rest) != 0 {
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.CostManagement' for api version '%s'.", c.version))
		return
	}
	if c.r.Method != http.MethodPost {
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
		return
	}
	if c.scope.Kind != scopeSubscription && c.scope.Kind != scopeGroup {
		c.costError(http.StatusBadRequest, "BadRequest", "Invalid scope: the emulator serves cost queries at subscription and resource group scopes.")
		return
	}
	body, aerr := c.readBody()
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var def costQueryDef
	if err := json.Unmarshal(body, &def); err != nil {
		c.costError(http.StatusBadRequest, "BadRequest", "Invalid query definition: the request body could not be read: %s", strings.ReplaceAll(err.Error(), "'", "\""))
		return
	}
	plan, msg := c.planCostQuery(&def)
	if msg != "" {
		c.costError(http.StatusBadRequest, "BadRequest", "Invalid query definition: %s", msg)
		return
	}
	offset := 0
	bodyHash := fnv.New64a()
	bodyHash.Write(body)
	hash := strconv.FormatUint(bodyHash.Sum64(), 16)
	if tok := c.r.URL.Query().Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		parts := strings.SplitN(string(raw), ":", 2)
		n, nerr := 0, error(nil)
		if len(parts) == 2 {
			n, nerr = strconv.Atoi(parts[0])
		}
		if err != nil || len(parts) != 2 || nerr != nil || n < 0 || parts[1] != hash {
			c.costError(http.StatusBadRequest, "BadRequest", "Invalid $skiptoken: it belongs to another query.")
			return
		}
		offset = n
	}

	c.e.w.mu.RLock()
	c.loadGrants()
	rv, rerr := c.resolve(c.scope)
	if rerr == nil && !allowedAny(c.grants, rv.key, actCostQuery, actCostQueryRead) {
		c.e.w.mu.RUnlock()
		c.costError(http.StatusUnauthorized, "RBACAccessDenied", "The client does not have authorization to perform action.")
		return
	}
	if rerr != nil {
		c.e.w.mu.RUnlock()
		c.fail(rerr)
		return
	}
	var items []costItem
	seed := c.e.w.seed
	add := func(g *resourceGroup) {
		for _, r := range g.resources {
			it := costItem{r: r, rc: newResCost(seed, r)}
			if it.rc.chargable && (plan.filter == nil || plan.filter(&it)) {
				items = append(items, it)
			}
		}
	}
	if rv.group != nil {
		add(rv.group)
	} else {
		for _, g := range rv.sub.groups {
			add(g)
		}
	}
	currency := c.e.w.currency(rv.sub)
	c.e.w.mu.RUnlock()

	if !c.takeQPU(plan.months) {
		return
	}
	rows := plan.run(items, currency)
	b := make([]byte, 0, 256+64*min(len(rows), costPageRows))
	b = append(b, `{"id":`...)
	guid := newGUID()
	b = appendJSONString(b, rv.display+"/providers/Microsoft.CostManagement/Query/"+guid)
	b = append(b, `,"name":"`+guid+`","type":"microsoft.costmanagement/Query","location":null,"sku":null,"eTag":null,"properties":{"nextLink":`...)
	end := min(len(rows), offset+costPageRows)
	start := min(offset, end)
	if end < len(rows) {
		q := c.r.URL.Query()
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)+":"+hash)))
		b = appendJSONString(b, baseURL(c.r)+c.r.URL.EscapedPath()+"?"+q.Encode())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"columns":[`...)
	for i, col := range plan.columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, col[0])
		b = append(b, `,"type":`...)
		b = appendJSONString(b, col[1])
		b = append(b, '}')
	}
	b = append(b, `],"rows":[`...)
	for i, row := range rows[start:end] {
		if i > 0 {
			b = append(b, ',')
		}
		b = plan.appendRow(b, row, currency)
	}
	b = append(b, `]}}`...)
	writeJSONBytes(c.w, http.StatusOK, b)
}

// takeQPU charges a query to the caller's tenant's QPU windows.
func (c *armCall) takeQPU(months int) bool {
	h := c.w.Header()
	n := float64(months)
	st := make([]quotaState, len(qpuWindows))
	ok := true
	var retry time.Duration
	if c.e.cfg.Throttling.Disabled {
		for i, w := range qpuWindows {
			st[i] = quotaState{Remaining: w.limit - n}
		}
	} else {
		draws := make([]quotaDraw, len(qpuWindows))
		for i, w := range qpuWindows {
			draws[i] = quotaDraw{Key: "qpu/" + c.c.TenantID + "/" + w.name, Limit: w.limit, Period: w.period, N: n}
		}
		retry, ok = c.e.quotas.take(c.now, draws, st)
	}
	var rem strings.Builder
	for i, w := range qpuWindows {
		if i > 0 {
			rem.WriteByte(';')
		}
		rem.WriteString(w.name + ":" + strconv.Itoa(int(st[i].Remaining)))
	}
	h.Set(qpuHeader+"remaining", rem.String())
	if ok {
		h.Set(qpuHeader+"consumed", strconv.Itoa(months))
		return true
	}
	secs := strconv.Itoa(retryAfterSeconds(retry))
	h.Set(qpuHeader+"consumed", "0")
	h.Set(qpuHeader+"retry-after", secs)
	h.Set("Retry-After", secs)
	c.fail(newARMError(http.StatusTooManyRequests, "429", "Too many requests. Please retry."))
	return false
}

// costPlan is a validated query.
type costPlan struct {
	aggs     []string // canonical aggregation columns
	groups   []string // dimension names, or "" for the tag key grouping
	tagKey   string
	daily    bool
	monthly  bool
	from, to int64 // day numbers, inclusive
	months   int
	filter   func(*costItem) bool
	columns  [][2]string
}

type costRow struct {
	keys []*string
	date int64 // day number (Daily), first day of the month (Monthly), or 0
	sums []float64
}

func parseCostTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (c *armCall) planCostQuery(def *costQueryDef) (*costPlan, string) {
	p := &costPlan{}
	switch strings.ToLower(def.Type) {
	case "actualcost", "usage", "amortizedcost":
	case "":
		return nil, "the query type is required (ActualCost, AmortizedCost or Usage)."
	default:
		return nil, "the query type '" + def.Type + "' is not supported."
	}
	today := c.now.UTC().Truncate(24 * time.Hour)
	var from, to time.Time
	switch strings.ToLower(def.Timeframe) {
	case "custom":
		if def.TimePeriod == nil {
			return nil, "timePeriod is required when the timeframe is Custom."
		}
		var ok1, ok2 bool
		from, ok1 = parseCostTime(def.TimePeriod.From)
		to, ok2 = parseCostTime(def.TimePeriod.To)
		if !ok1 || !ok2 {
			return nil, "timePeriod from and to must be dates (ISO 8601)."
		}
		if to.Before(from) {
			return nil, "timePeriod 'to' must not be before 'from'."
		}
		if to.Sub(from) > 366*24*time.Hour {
			return nil, "the time period for pulling the data cannot exceed 1 year(s)."
		}
	case "monthtodate", "billingmonthtodate":
		from, to = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC), today
	case "thelastmonth", "thelastbillingmonth":
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		from, to = first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)
	case "weektodate":
		off := (int(today.Weekday()) + 6) % 7
		from, to = today.AddDate(0, 0, -off), today
	case "":
		return nil, "the timeframe is required."
	default:
		return nil, "the timeframe '" + def.Timeframe + "' is not supported."
	}
	p.from, p.to = dayNumber(from), dayNumber(to)
	p.months = (to.Year()-from.Year())*12 + int(to.Month()) - int(from.Month()) + 1
	if last := dayNumber(today) - 1; p.to > last {
		p.to = last // data runs through yesterday
	}
	ds := def.Dataset
	if ds == nil {
		return nil, "Dataset is invalid or not supplied."
	}
	switch strings.ToLower(ds.Granularity) {
	case "daily":
		p.daily = true
	case "monthly":
		p.monthly = true
	case "none", "":
	default:
		return nil, "the granularity '" + ds.Granularity + "' is not supported."
	}
	keys := make([]string, 0, len(ds.Aggregation))
	for k := range ds.Aggregation {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 2 {
		return nil, "a query can have at most 2 aggregations."
	}
	for _, k := range keys {
		a := ds.Aggregation[k]
		name, ok := costAggs[strings.ToLower(a.Name)]
		if !ok {
			return nil, "the aggregation column '" + a.Name + "' is not supported (Cost, PreTaxCost, CostUSD, PreTaxCostUSD)."
		}
		if !strings.EqualFold(a.Function, "Sum") {
			return nil, "the aggregation function '" + a.Function + "' is not supported (Sum)."
		}
		p.aggs = append(p.aggs, name)
	}
	if len(p.aggs) == 0 {
		p.aggs = []string{"PreTaxCost"}
		if strings.EqualFold(def.Type, "ActualCost") || strings.EqualFold(def.Type, "AmortizedCost") {
			p.aggs = []string{"Cost"}
		}
	}
	if len(ds.Grouping) > 2 {
		return nil, "a query can have at most 2 groupings."
	}
	for _, a := range p.aggs {
		p.columns = append(p.columns, [2]string{a, "Number"})
	}
	for _, g := range ds.Grouping {
		switch strings.ToLower(g.Type) {
		case "dimension":
			name, ok := costDims[strings.ToLower(g.Name)]
			if !ok {
				return nil, "the dimension '" + g.Name + "' is not valid for grouping."
			}
			p.groups = append(p.groups, name)
			p.columns = append(p.columns, [2]string{name, "String"})
		case "tagkey":
			if p.tagKey != "" || g.Name == "" {
				return nil, "a query can group by one tag key, with a name."
			}
			p.tagKey = g.Name
			p.groups = append(p.groups, "")
			p.columns = append(p.columns, [2]string{"TagKey", "String"}, [2]string{"TagValue", "String"})
		default:
			return nil, "the grouping type '" + g.Type + "' is not supported (Dimension, TagKey)."
		}
	}
	switch {
	case p.daily:
		p.columns = append(p.columns, [2]string{"UsageDate", "Number"})
	case p.monthly:
		p.columns = append(p.columns, [2]string{"BillingMonth", "Datetime"})
	}
	p.columns = append(p.columns, [2]string{"Currency", "String"})
	if ds.Filter != nil {
		f, msg := compileCostFilter(ds.Filter)
		if msg != "" {
			return nil, msg
		}
		p.filter = f
	}
	return p, ""
}

func compileCostFilter(f *costFilter) (func(*costItem) bool, string) {
	var parts []func(*costItem) bool
	n := 0
	if len(f.And) > 0 {
		n++
		for _, x := range f.And {
			g, msg := compileCostFilter(x)
			if msg != "" {
				return nil, msg
			}
			parts = append(parts, g)
		}
		if len(f.And) < 2 {
			return nil, "the 'and' expression must have at least 2 items."
		}
	}
	if len(f.Or) > 0 {
		n++
		var ors []func(*costItem) bool
		for _, x := range f.Or {
			g, msg := compileCostFilter(x)
			if msg != "" {
				return nil, msg
			}
			ors = append(ors, g)
		}
		if len(f.Or) < 2 {
			return nil, "the 'or' expression must have at least 2 items."
		}
		parts = append(parts, func(it *costItem) bool {
			for _, g := range ors {
				if g(it) {
					return true
				}
			}
			return false
		})
	}
	if f.Not != nil {
		n++
		g, msg := compileCostFilter(f.Not)
		if msg != "" {
			return nil, msg
		}
		parts = append(parts, func(it *costItem) bool { return !g(it) })
	}
	for _, cmp := range []struct {
		c   *costCompare
		tag bool
	}{{f.Dimensions, false}, {f.Dimension, false}, {f.Tags, true}, {f.Tag, true}} {
		if cmp.c == nil {
			continue
		}
		n++
		if !strings.EqualFold(cmp.c.Operator, "In") && !strings.EqualFold(cmp.c.Operator, "Equal") {
			return nil, "the filter operator '" + cmp.c.Operator + "' is not supported (In, Equal)."
		}
		vals := cmp.c.Values
		if cmp.tag {
			key := cmp.c.Name
			parts = append(parts, func(it *costItem) bool {
				v, ok := it.r.tags.get(key)
				if !ok {
					return false
				}
				for _, x := range vals {
					if x == v {
						return true
					}
				}
				return false
			})
			continue
		}
		name, ok := costDims[strings.ToLower(cmp.c.Name)]
		if !ok {
			return nil, "the dimension '" + cmp.c.Name + "' is not valid for filtering."
		}
		parts = append(parts, func(it *costItem) bool {
			v := it.dim(name)
			for _, x := range vals {
				if strings.EqualFold(x, v) {
					return true
				}
			}
			return false
		})
	}
	if n != 1 {
		return nil, "each filter expression must have exactly one of and, or, not, dimensions, tags."
	}
	return func(it *costItem) bool {
		for _, g := range parts {
			if !g(it) {
				return false
			}
		}
		return true
	}, ""
}

// run aggregates the items' daily costs into rows, sorted by date then keys.
func (p *costPlan) run(items []costItem, currency string) []*costRow {
	rate := usdRate[currency]
	idx := map[string]*costRow{}
	var rows []*costRow
	var kb []byte
	for i := range items {
		it := &items[i]
		keys := make([]*string, 0, len(p.groups)+1)
		for _, g := range p.groups {
			if g == "" {
				if v, ok := it.r.tags.get(p.tagKey); ok {
					k := p.tagKey
					keys = append(keys, &k, &v)
				} else {
					empty := ""
					keys = append(keys, &empty, nil)
				}
				continue
			}
			v := it.dim(g)
			keys = append(keys, &v)
		}
		for day := max(p.from, it.rc.firstDay); day <= p.to; day++ {
			usd := it.rc.usd(day)
			if usd == 0 {
				continue
			}
			var date int64
			switch {
			case p.daily:
				date = day
			case p.monthly:
				t := time.Unix(day*86400, 0).UTC()
				date = dayNumber(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
			}
			kb = strconv.AppendInt(kb[:0], date, 10)
			for _, k := range keys {
				kb = append(kb, 0)
				if k == nil {
					kb = append(kb, 1)
				} else {
					kb = append(kb, *k...)
				}
			}
			row := idx[string(kb)]
			if row == nil {
				row = &costRow{keys: keys, date: date, sums: make([]float64, len(p.aggs))}
				idx[string(kb)] = row
				rows = append(rows, row)
			}
			for j, a := range p.aggs {
				if strings.HasSuffix(a, "USD") {
					row.sums[j] += usd
				} else {
					row.sums[j] += usd * rate
				}
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.date != b.date {
			return a.date < b.date
		}
		for k := range a.keys {
			x, y := a.keys[k], b.keys[k]
			switch {
			case x == nil && y == nil:
			case x == nil:
				return true
			case y == nil:
				return false
			case *x != *y:
				return *x < *y
			}
		}
		return false
	})
	return rows
}

func (p *costPlan) appendRow(b []byte, row *costRow, currency string) []byte {
	b = append(b, '[')
	for i, s := range row.sums {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, s, 'f', -1, 64)
	}
	for _, k := range row.keys {
		b = append(b, ',')
		if k == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *k)
		}
	}
	t := time.Unix(row.date*86400, 0).UTC()
	switch {
	case p.daily:
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t.Year()*10000+int(t.Month())*100+t.Day()), 10)
	case p.monthly:
		b = append(b, `,"`...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05")
		b = append(b, '"')
	}
	b = append(b, ',')
	b = appendJSONString(b, currency)
	return append(b, ']')
}
