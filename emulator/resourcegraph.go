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

// Azure Resource Graph: POST /providers/Microsoft.ResourceGraph/resources
// runs a KQL query (kql.go) over the resources of the subscriptions the
// caller names, or of every subscription it can see when it names none
// (its own tenant's and those delegated to it through Lighthouse). Rows are
// filtered by RBAC as ARM's resource lists are. Pages hold up to 1,000
// rows; $skipToken continues when the projection keeps id, and otherwise
// the result is marked truncated, as in Azure.
//
// Each query takes one unit of the caller's quota, 15 per 5-second window,
// reported in x-ms-user-quota-remaining and x-ms-user-quota-resets-after;
// an empty quota answers 429 RateLimiting with Retry-After. ARM's own
// throttling does not apply (SkipThrottle).

var resourceGraphVersions = []string{"2018-09-01-preview", "2019-04-01", "2020-04-01-preview", "2021-03-01", "2021-06-01-preview", "2022-10-01", "2024-04-01"}

const (
	argQuotaLimit  = 15
	argQuotaPeriod = 5 * time.Second
	argMaxPage     = 1000
)

type argRequest struct {
	Subscriptions    []string `json:"subscriptions"`
	ManagementGroups []string `json:"managementGroups"`
	Query            *string  `json:"query"`
	Options          *struct {
		Top          *int   `json:"$top"`
		Skip         *int   `json:"$skip"`
		SkipToken    string `json:"$skipToken"`
		ResultFormat string `json:"resultFormat"`
	} `json:"options"`
}

// argDetail is one entry of Resource Graph's error details.
type argDetail struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Line     *int   `json:"line,omitempty"`
	Position *int   `json:"characterPositionInLine,omitempty"`
	Token    string `json:"token,omitempty"`
}

// writeARGError answers in Resource Graph's shape: a generic message with
// the correlation ID and the specifics in details.
func (c *armCall) writeARGError(status int, code string, details ...argDetail) {
	msg := "Please provide below info when asking for support: timestamp = " + c.now.UTC().Format("2006-01-02T15:04:05.0000000Z") +
		", correlationId = " + c.w.Header().Get("x-ms-correlation-request-id") + "."
	c.w.Header().Set("x-ms-failure-cause", failureCause(status))
	writeJSON(c.w, status, struct {
		Error struct {
			Code    string      `json:"code"`
			Message string      `json:"message"`
			Details []argDetail `json:"details"`
		} `json:"error"`
	}{Error: struct {
		Code    string      `json:"code"`
		Message string      `json:"message"`
		Details []argDetail `json:"details"`
	}{code, msg, details}})
}

func (c *armCall) invalidQuery(d argDetail) {
	c.writeARGError(http.StatusBadRequest, "BadRequest",
		argDetail{Code: "InvalidQuery", Message: "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."}, d)
}

// argQuota takes one query from the caller's window and sets the headers.
func (c *armCall) argQuota() bool {
	var st [1]quotaState
	ok := true
	var retry time.Duration
	if c.e.cfg.Throttling.Disabled {
		st[0] = quotaState{Remaining: argQuotaLimit, ResetsIn: argQuotaPeriod}
	} else {
		retry, ok = c.e.quotas.take(c.now, []quotaDraw{{Key: "arg/" + c.c.TenantID + "/" + c.c.ObjectID, Limit: argQuotaLimit, Period: argQuotaPeriod, N: 1}}, st[:])
	}
	h := c.w.Header()
	h.Set("x-ms-user-quota-remaining", strconv.Itoa(int(st[0].Remaining)))
	h.Set("x-ms-user-quota-resets-after", hhmmss(st[0].ResetsIn))
	if ok {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(retry)))
	c.writeARGError(http.StatusTooManyRequests, "RateLimiting", argDetail{Code: "RateLimiting",
		Message: "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help."})
	return false
}

func (c *armCall) serveResourceGraph() {
	if len(c.rest) != 0 || c.scope.Kind != scopeTenant {
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.ResourceGraph' for api version '%s'.", c.version))
		return
	}
	if c.r.Method != http.MethodPost {
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
		return
	}
	if !c.argQuota() {
		return
	}
	body, aerr := c.readBody()
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var req argRequest
	if err := json.Unmarshal(body, &req); err != nil {
		c.fail(invalidJSON(err))
		return
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		c.writeARGError(http.StatusBadRequest, "BadRequest", argDetail{Code: "InvalidQuery", Message: "The query is required."})
		return
	}
	q, kerr := parseKQL(*req.Query)
	if kerr != nil {
		line, col := kqlLineCol(*req.Query, kerr.pos)
		c.invalidQuery(argDetail{Code: "ParserFailure", Message: kerr.msg, Line: &line, Position: &col, Token: kerr.token})
		return
	}
	top, skip, table := argMaxPage, 0, false
	var token string
	if o := req.Options; o != nil {
		if o.Top != nil {
			if *o.Top < 1 || *o.Top > argMaxPage {
				c.writeARGError(http.StatusBadRequest, "BadRequest", argDetail{Code: "InvalidPagingParameters", Message: "$top must be between 1 and 1000."})
				return
			}
			top = *o.Top
		}
		if o.Skip != nil {
			if *o.Skip < 0 {
				c.writeARGError(http.StatusBadRequest, "BadRequest", argDetail{Code: "InvalidPagingParameters", Message: "$skip must not be negative."})
				return
			}
			skip = *o.Skip
		}
		token = o.SkipToken
		switch strings.ToLower(o.ResultFormat) {
		case "", "objectarray":
		case "table":
			table = true
		default:
			c.fail(newARMError(http.StatusBadRequest, "InvalidRequestContent", "The result format '%s' is invalid; use 'objectArray' or 'table'.", o.ResultFormat))
			return
		}
	}
	if len(req.ManagementGroups) > 0 && len(req.Subscriptions) == 0 {
		c.writeARGError(http.StatusBadRequest, "BadRequest", argDetail{Code: "InvalidScope", Message: "The emulator has no management groups; name subscriptions or no scope at all."})
		return
	}
	qhash := argQueryHash(*req.Query, req.Subscriptions)
	if token != "" {
		off, ok := decodeARGToken(token, qhash)
		if !ok {
			c.writeARGError(http.StatusBadRequest, "BadRequest", argDetail{Code: "InvalidSkipToken", Message: "The $skipToken is invalid, or belongs to another query or scope."})
			return
		}
		skip = off
	}

	c.e.w.mu.RLock()
	rows := c.argRows(q, req.Subscriptions)
	b := make([]byte, 0, 4096)
	b = c.argResponse(b, q, rows, skip, top, qhash, table)
	c.e.w.mu.RUnlock()
	writeJSONBytes(c.w, http.StatusOK, b)
}

// argRows returns the resources the query selects, in the query's order
// (the world's stable order unless it sorts), within its limit.
func (c *armCall) argRows(q *kqlQuery, named []string) []*resource {
	w := c.e.w
	var subs []*subscription
	if len(named) > 0 {
		seen := map[string]bool{}
		for _, id := range named {
			s := w.subscription(id)
			if s == nil || seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			subs = append(subs, s)
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID })
	} else {
		subs = w.subList
	}
	var rows []*resource
	for _, s := range subs {
		if !s.acceptsTenant(c.c.TenantID) {
			continue
		}
		grants := w.grantsIn(c.c, s)
		if len(grants) == 0 {
			continue
		}
		eachReadable(grants, s, func(r *resource) {
			for _, f := range q.where {
				if !f(r) {
					return
				}
			}
			rows = append(rows, r)
		})
	}
	if len(q.order) > 0 {
		keys := make([][]kqlVal, len(rows))
		for i, r := range rows {
			keys[i] = make([]kqlVal, len(q.order))
			for j, o := range q.order {
				keys[i][j] = o.get(r)
			}
		}
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ka, kb := keys[idx[a]], keys[idx[b]]
			for j, o := range q.order {
				x, y := ka[j], kb[j]
				if x.null != y.null {
					// Nulls sort first ascending and last descending.
					return x.null != o.desc
				}
				if c := strings.Compare(x.s, y.s); c != 0 {
					return (c < 0) != o.desc
				}
			}
			return false
		})
		sorted := make([]*resource, len(rows))
		for i, k := range idx {
			sorted[i] = rows[k]
		}
		rows = sorted
	}
	if q.limit >= 0 && len(rows) > q.limit && !q.count && q.summary == nil {
		rows = rows[:q.limit]
	}
	return rows
}

// eachReadable calls fn for every resource of the subscription the grants
// let the caller read, in the world's order.
func eachReadable(grants []grant, s *subscription, fn func(r *resource)) {
	subKey := s.scope()
	all := allowed(grants, subKey, actSubResourcesRead)
	if !all && !hasGrantBelow(grants, subKey) {
		return
	}
	for _, g := range s.groups {
		gAll := all
		if !gAll {
			gKey := strings.ToLower(g.id())
			gAll = allowedAny(grants, gKey, actGroupResourcesRead, actSubResourcesRead)
			if !gAll && !hasGrantBelow(grants, gKey) {
				continue
			}
		}
		for _, r := range g.resources {
			if gAll || allowedAny(grants, strings.ToLower(r.id()), actGroupResourcesRead, r.typ.Name+"/read") {
				fn(r)
			}
		}
	}
}

func (c *armCall) argResponse(b []byte, q *kqlQuery, rows []*resource, skip, top int, qhash uint64, table bool) []byte {
	type aggRow struct {
		keys []kqlVal
		n    int
	}
	var agg []aggRow
	switch {
	case q.count:
		agg = []aggRow{{n: len(rows)}}
	case q.summary != nil:
		idx := map[string]int{}
		for _, r := range rows {
			keys := make([]kqlVal, len(q.summary.by))
			var kb strings.Builder
			for i, col := range q.summary.by {
				keys[i] = col.get(r)
				if keys[i].null {
					kb.WriteString("\x01")
				}
				kb.WriteString(keys[i].s)
				kb.WriteByte(0)
			}
			k := kb.String()
			if i, ok := idx[k]; ok {
				agg[i].n++
				continue
			}
			idx[k] = len(agg)
			agg = append(agg, aggRow{keys: keys, n: 1})
		}
		sort.SliceStable(agg, func(i, j int) bool {
			for k := range agg[i].keys {
				if c := strings.Compare(agg[i].keys[k].s, agg[j].keys[k].s); c != 0 {
					return c < 0
				}
			}
			return false
		})
		if q.limit >= 0 && len(agg) > q.limit {
			agg = agg[:q.limit]
		}
	}
	total := len(rows)
	if agg != nil {
		total = len(agg)
	}
	start := min(skip, total)
	end := min(start+top, total)
	more := end < total
	hasID := false
	for _, col := range q.cols {
		if col.name == "id" && agg == nil {
			hasID = true
		}
	}
	appendVal := func(b []byte, v kqlVal) []byte {
		switch {
		case v.null:
			return append(b, "null"...)
		case v.obj:
			return append(b, v.raw...)
		}
		return appendJSONString(b, v.s)
	}
	appendRow := func(b []byte, i int) []byte {
		if table {
			b = append(b, '[')
		} else {
			b = append(b, '{')
		}
		for j, col := range q.cols {
			if j > 0 {
				b = append(b, ',')
			}
			if !table {
				b = appendJSONString(b, col.name)
				b = append(b, ':')
			}
			switch {
			case agg != nil && j < len(agg[i].keys):
				b = appendVal(b, agg[i].keys[j])
			case agg != nil:
				b = strconv.AppendInt(b, int64(agg[i].n), 10)
			default:
				b = appendVal(b, col.get(rows[i]))
			}
		}
		if table {
			return append(b, ']')
		}
		return append(b, '}')
	}
	b = append(b, `{"totalRecords":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(end-start), 10)
	b = append(b, `,"data":`...)
	if table {
		b = append(b, `{"columns":[`...)
		for j, col := range q.cols {
			if j > 0 {
				b = append(b, ',')
			}
			typ := "string"
			switch {
			case col.obj:
				typ = "object"
			case agg != nil && j == len(q.cols)-1:
				typ = "integer"
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, col.name)
			b = append(b, `,"type":"`+typ+`"}`...)
		}
		b = append(b, `],"rows":[`...)
	} else {
		b = append(b, '[')
	}
	for i := start; i < end; i++ {
		if i > start {
			b = append(b, ',')
		}
		b = appendRow(b, i)
	}
	b = append(b, ']')
	if table {
		b = append(b, '}')
	}
	b = append(b, `,"facets":[],"resultTruncated":"`...)
	if more && !hasID {
		b = append(b, `true"`...)
	} else {
		b = append(b, `false"`...)
	}
	if more && hasID {
		b = append(b, `,"$skipToken":`...)
		b = appendJSONString(b, encodeARGToken(end, qhash))
	}
	return append(b, '}')
}

func argQueryHash(query string, subs []string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strings.TrimSpace(query)))
	for _, s := range subs {
		h.Write([]byte{0})
		h.Write([]byte(strings.ToLower(s)))
	}
	return h.Sum64()
}

func encodeARGToken(offset int, qhash uint64) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"$skip":` + strconv.Itoa(offset) + `,"query":"` + strconv.FormatUint(qhash, 16) + `"}`))
}

func decodeARGToken(tok string, qhash uint64) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	var t struct {
		Skip  int    `json:"$skip"`
		Query string `json:"query"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Skip < 0 || t.Query != strconv.FormatUint(qhash, 16) {
		return 0, false
	}
	return t.Skip, true
}
