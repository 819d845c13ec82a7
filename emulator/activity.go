package emulator

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The activity log: every ARM write (PUT, PATCH, DELETE, POST) on a
// subscription, successful or not, with its caller, queryable with
// GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values
// ?api-version=2015-04-01&$filter=eventTimestamp ge '…' [and eventTimestamp le '…']
// [and resourceGroupName eq '…' | resourceUri eq '…' | correlationId eq '…'
// | resourceProvider eq '…' | caller eq '…'], newest first.

const (
	actActivityRead    = "Microsoft.Insights/eventtypes/values/read"
	activityPageSize   = 200
	activityRetention  = 90 * 24 * time.Hour
	activityMaxPerSubs = 50_000
)

// activityEvent is one recorded write.
type activityEvent struct {
	ID            string
	CorrelationID string
	OperationID   string
	Timestamp     time.Time
	Caller        string
	CallerOID     string
	TenantID      string
	AppID         string
	AppACR        string
	UPN           string
	Name          string
	Scopes        string
	Audience      string
	Issuer        string
	Action        string
	ResourceID    string
	ResourceGroup string
	Status        int
	Method        string
	ClientReqID   string
	ClientIP      string
	RequestID     string
}

// recordActivity appends the write that just happened to its subscription's
// activity log.
func (c *armCall) recordActivity() {
	if c.kind == opRead && c.r.Method != http.MethodPost || c.sub == nil || c.action == "" {
		return
	}
	status := c.w.status
	if status == 0 {
		status = http.StatusOK
	}
	ev := &activityEvent{
		ID: newGUID(), CorrelationID: c.w.Header().Get("x-ms-correlation-request-id"), OperationID: newGUID(),
		Timestamp: c.e.now().UTC(), CallerOID: c.c.ObjectID, TenantID: c.c.TenantID, AppID: c.c.AppID, AppACR: c.c.AppACR,
		UPN: c.c.UPN, Name: c.c.Name, Scopes: strings.Join(c.c.Scopes, " "), Audience: c.c.Audience, Issuer: c.c.Issuer,
		Action: c.action, ResourceID: c.resourceID, Status: status, Method: c.r.Method,
		ClientReqID: c.r.Header.Get("x-ms-client-request-id"), ClientIP: clientIP(c.r), RequestID: c.w.Header().Get("x-ms-request-id"),
	}
	ev.Caller = c.c.ObjectID
	if c.c.User {
		ev.Caller = c.c.UPN
	}
	segs := splitPath(c.resourceID)
	if len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups") {
		ev.ResourceGroup = segs[3]
	}
	c.e.w.mu.Lock()
	s := c.sub
	s.activity = append(s.activity, ev)
	if len(s.activity) > activityMaxPerSubs {
		s.activity = append(s.activity[:0:0], s.activity[len(s.activity)-activityMaxPerSubs:]...)
	}
	c.e.w.mu.Unlock()
}

func clientIP(r *http.Request) string {
	h := r.RemoteAddr
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.Trim(h, "[]")
}

func statusText(s int) string {
	switch s {
	case http.StatusOK:
		return "OK"
	case http.StatusCreated:
		return "Created"
	case http.StatusAccepted:
		return "Accepted"
	case http.StatusNoContent:
		return "NoContent"
	}
	return strings.ReplaceAll(http.StatusText(s), " ", "")
}

func localized(v string) map[string]string { return map[string]string{"value": v, "localizedValue": v} }

func (ev *activityEvent) json(subID string) map[string]any {
	status, level := "Succeeded", "Informational"
	if ev.Status >= 400 {
		status, level = "Failed", "Error"
	}
	provider := ""
	rtype := ""
	if i := strings.LastIndex(strings.ToLower(ev.Action), "/"); i >= 0 {
		rtype = ev.Action[:i]
		provider = rtype
		if j := strings.IndexByte(rtype, '/'); j >= 0 {
			provider = rtype[:j]
		}
	}
	claims := map[string]string{
		"aud": ev.Audience, "iss": ev.Issuer, "ver": "2.0",
		"http://schemas.microsoft.com/identity/claims/tenantid":         ev.TenantID,
		"http://schemas.microsoft.com/identity/claims/objectidentifier": ev.CallerOID,
		"appid":    ev.AppID,
		"appidacr": ev.AppACR,
	}
	if ev.UPN != "" {
		claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = ev.UPN
		claims["name"] = ev.Name
		claims["http://schemas.microsoft.com/identity/claims/scope"] = ev.Scopes
	}
	ticks := ev.Timestamp.UnixNano()/100 + 621355968000000000
	return map[string]any{
		"authorization":        map[string]string{"action": ev.Action, "scope": ev.ResourceID},
		"caller":               ev.Caller,
		"channels":             "Operation",
		"claims":               claims,
		"correlationId":        ev.CorrelationID,
		"description":          "",
		"eventDataId":          ev.ID,
		"eventName":            map[string]string{"value": "EndRequest", "localizedValue": "End request"},
		"category":             localized("Administrative"),
		"httpRequest":          map[string]string{"clientRequestId": ev.ClientReqID, "clientIpAddress": ev.ClientIP, "method": ev.Method},
		"id":                   ev.ResourceID + "/events/" + ev.ID + "/ticks/" + strconv.FormatInt(ticks, 10),
		"level":                level,
		"resourceGroupName":    ev.ResourceGroup,
		"resourceProviderName": localized(provider),
		"resourceId":           ev.ResourceID,
		"resourceType":         localized(rtype),
		"operationId":          ev.OperationID,
		"operationName":        localized(ev.Action),
		"properties": map[string]string{
			"statusCode": statusText(ev.Status), "serviceRequestId": ev.RequestID, "eventCategory": "Administrative",
			"entity": ev.ResourceID, "message": ev.Action, "hierarchy": ev.TenantID + "/" + subID,
		},
		"status":              localized(status),
		"subStatus":           map[string]string{"value": statusText(ev.Status), "localizedValue": statusText(ev.Status) + " (HTTP Status Code: " + strconv.Itoa(ev.Status) + ")"},
		"eventTimestamp":      ev.Timestamp.Format("2006-01-02T15:04:05.0000000Z"),
		"submissionTimestamp": ev.Timestamp.Add(12 * time.Second).Format("2006-01-02T15:04:05.0000000Z"),
		"subscriptionId":      subID,
		"tenantId":            ev.TenantID,
	}
}

// activityFilter is a parsed activity-log $filter.
type activityFilter struct {
	from, to                                          time.Time
	group, resourceURI, correlation, provider, caller string
}

// parseEventTime reads a $filter timestamp. Azure also takes one without a
// zone, as UTC: az monitor activity-log list sends
// 2026-12-06T19:59:37.035314.
func parseEventTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, lerr := time.ParseInLocation(layout, s, time.UTC); lerr == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func parseActivityFilter(raw string) (activityFilter, *armError) {
	var f activityFilter
	bad := newARMError(http.StatusBadRequest, "BadRequest", "The $filter '%s' is not valid. It must contain an 'eventTimestamp ge' clause and may add 'eventTimestamp le', 'resourceGroupName eq', 'resourceUri eq', 'correlationId eq', 'resourceProvider eq' or 'caller eq' clauses joined with 'and'.", raw)
	if strings.TrimSpace(raw) == "" {
		return f, newARMError(http.StatusBadRequest, "BadRequest", "The $filter query parameter is required and must contain an 'eventTimestamp ge' clause.")
	}
	for _, part := range splitAnd(raw) {
		fs := strings.Fields(strings.TrimSpace(part))
		if len(fs) < 3 {
			return f, bad
		}
		prop, op, val := strings.ToLower(fs[0]), strings.ToLower(fs[1]), unquote(strings.Join(fs[2:], " "))
		switch {
		case prop == "eventtimestamp" && (op == "ge" || op == "le"):
			t, err := parseEventTime(val)
			if err != nil {
				return f, newARMError(http.StatusBadRequest, "BadRequest", "The value '%s' of eventTimestamp is not a valid date-time.", val)
			}
			if op == "ge" {
				f.from = t
			} else {
				f.to = t
			}
		case op != "eq":
			return f, bad
		case prop == "resourcegroupname":
			f.group = val
		case prop == "resourceuri" || prop == "resourceid":
			f.resourceURI = val
		case prop == "correlationid":
			f.correlation = val
		case prop == "resourceprovider":
			f.provider = val
		case prop == "caller":
			f.caller = val
		default:
			return f, bad
		}
	}
	if f.from.IsZero() {
		return f, newARMError(http.StatusBadRequest, "BadRequest", "The $filter must contain an 'eventTimestamp ge' clause.")
	}
	return f, nil
}

func (f *activityFilter) match(ev *activityEvent) bool {
	return !ev.Timestamp.Before(f.from) && (f.to.IsZero() || !ev.Timestamp.After(f.to)) &&
		(f.group == "" || strings.EqualFold(f.group, ev.ResourceGroup)) &&
		(f.resourceURI == "" || strings.EqualFold(f.resourceURI, ev.ResourceID)) &&
		(f.correlation == "" || strings.EqualFold(f.correlation, ev.CorrelationID)) &&
		(f.provider == "" || strings.HasPrefix(strings.ToLower(ev.Action), strings.ToLower(f.provider)+"/")) &&
		(f.caller == "" || strings.EqualFold(f.caller, ev.Caller))
}

func (c *armCall) serveActivityLog() {
	if c.scope.Kind != scopeSubscription || len(c.rest) != 2 || !strings.EqualFold(c.rest[0], "management") || !strings.EqualFold(c.rest[1], "values") || c.r.Method != http.MethodGet {
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.Insights'."))
		return
	}
	q := c.r.URL.Query()
	f, ferr := parseActivityFilter(q.Get("$filter"))
	if ferr != nil {
		c.fail(ferr)
		return
	}
	if oldest := c.now.Add(-activityRetention); f.from.Before(oldest) {
		f.from = oldest
	}
	skip := 0
	if s := q.Get("$skiptoken"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			c.fail(newARMError(http.StatusBadRequest, "BadRequest", "The skip token '%s' is invalid.", s))
			return
		}
		skip = n
	}
	var sel []string
	if s := q.Get("$select"); s != "" {
		for _, x := range strings.Split(s, ",") {
			sel = append(sel, strings.TrimSpace(x))
		}
	}
	c.e.w.mu.RLock()
	c.loadGrants()
	if !allowed(c.grants, c.sub.scope(), actActivityRead) {
		c.e.w.mu.RUnlock()
		c.fail(c.forbidden(actActivityRead, c.sub.scope()))
		return
	}
	var hits []*activityEvent
	for i := len(c.sub.activity) - 1; i >= 0; i-- {
		if ev := c.sub.activity[i]; f.match(ev) {
			hits = append(hits, ev)
		}
	}
	c.e.w.mu.RUnlock()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Timestamp.After(hits[j].Timestamp) })
	if skip > len(hits) {
		skip = len(hits)
	}
	page := hits[skip:]
	out := map[string]any{}
	if len(page) > activityPageSize {
		page = page[:activityPageSize]
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(skip+activityPageSize))))
		out["nextLink"] = baseURL(c.r) + c.r.URL.EscapedPath() + "?" + nq.Encode()
	}
	vals := make([]map[string]any, 0, len(page))
	for _, ev := range page {
		j := ev.json(c.sub.ID)
		if sel != nil {
			picked := map[string]any{}
			for _, k := range sel {
				for jk, v := range j {
					if strings.EqualFold(jk, k) {
						picked[jk] = v
					}
				}
			}
			j = picked
		}
		vals = append(vals, j)
	}
	out["value"] = vals
	writeJSON(c.w, http.StatusOK, out)
}
