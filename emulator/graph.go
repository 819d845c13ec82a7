package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Microsoft Graph, the part Steward needs, at /v1.0 (and /beta, same
// shapes). Tokens must have aud https://graph.microsoft.com; the directory
// is the token's tenant.
//
// Authorization: application tokens need the Graph application permission
// (the service principal's GraphRoles, in the token's roles claim):
// Application.Read.All / Application.ReadWrite.All, or
// Application.ReadWrite.OwnedBy for apps the caller owns; Directory.Read.All,
// User.Read.All, Group.Read.All and so on for reads. Delegated tokens may
// read the directory; writes need a Global Administrator, or an owner for an
// application.

// graphCall is one Graph request being served.
type graphCall struct {
	e    *Emulator
	w    http.ResponseWriter
	r    *http.Request
	c    *caller
	t    *tenant
	base string // https://host/v1.0
	segs []string
}

func (e *Emulator) serveGraph(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.Path)
	g := &graphCall{e: e, w: w, r: r, base: baseURL(r) + "/" + segs[0], segs: segs[1:]}
	if !g.authenticate() {
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodDelete || r.Method == http.MethodPut {
		e.w.mu.Lock()
		defer e.w.mu.Unlock()
	} else {
		e.w.mu.RLock()
		defer e.w.mu.RUnlock()
	}
	g.t = e.w.tenants[g.c.TenantID]
	if g.t == nil {
		g.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. The tenant does not exist.")
		return
	}
	g.route()
}

func (g *graphCall) authenticate() bool {
	raw, ok := bearer(g.r)
	if !ok {
		g.w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+baseURL(g.r)+`/common/oauth2/authorize", client_id="`+graphAppID+`"`)
		g.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return false
	}
	c, err := g.e.parseToken(raw)
	switch {
	case errors.Is(err, errTokenExpired):
		g.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return false
	case err != nil:
		g.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
		return false
	}
	if !strings.EqualFold(strings.TrimSuffix(c.Audience, "/"), graphResource) && !strings.EqualFold(c.Audience, graphAppID) {
		g.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return false
	}
	g.c = c
	return true
}

// bearer extracts a bearer token from the Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

func (g *graphCall) fail(status int, code, msg string) { writeGraphError(g.w, g.r, status, code, msg) }

func (g *graphCall) notFound(id string) {
	g.fail(http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

func (g *graphCall) denied() {
	g.fail(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

func (g *graphCall) badMethod() {
	g.fail(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

// decode reads a JSON request body into v.
func (g *graphCall) decode(v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(g.w, g.r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err != nil || json.Unmarshal(body, v) != nil {
		g.fail(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return false
	}
	return true
}

// canRead reports whether the caller may read a kind of object.
func (g *graphCall) canRead(roles ...string) bool {
	if g.c.User {
		return true
	}
	for _, r := range append(roles, "Directory.Read.All", "Directory.ReadWrite.All") {
		if g.c.hasRole(r) {
			return true
		}
	}
	return false
}

// callerUser is the signed-in user of a delegated token.
func (g *graphCall) callerUser() *user {
	u, _ := g.e.w.objects[g.c.ObjectID].(*user)
	return u
}

func (g *graphCall) isAdmin() bool {
	u := g.callerUser()
	return u != nil && u.Admin
}

func (g *graphCall) route() {
	if len(g.segs) == 0 {
		g.fail(http.StatusBadRequest, "BadRequest", "Invalid request.")
		return
	}
	head, key := parseGraphSegment(g.segs[0])
	switch strings.ToLower(head) {
	case "me":
		g.me()
	case "organization":
		g.organization()
	case "users":
		g.users(key)
	case "groups":
		g.groups(key)
	case "applications":
		g.applications(key)
	case "serviceprincipals":
		g.servicePrincipals(key)
	default:
		g.fail(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+g.segs[0]+"'.")
	}
}

// parseGraphSegment splits "applications(appId='…')" into the entity set and
// the alternate key's value.
func parseGraphSegment(s string) (head, altKey string) {
	i := strings.IndexByte(s, '(')
	if i < 0 || !strings.HasSuffix(s, ")") {
		return s, ""
	}
	inner := s[i+1 : len(s)-1]
	if j := strings.IndexByte(inner, '='); j >= 0 {
		inner = inner[j+1:]
	}
	return s[:i], strings.Trim(inner, "'")
}

// odata wraps an entity or a collection with its @odata.context.
func (g *graphCall) entity(status int, set string, obj map[string]any) {
	obj["@odata.context"] = g.base + "/$metadata#" + set + "/$entity"
	writeJSON(g.w, status, g.selectFields(obj))
}

// collection writes a page of a collection, honouring $top and $skiptoken.
func (g *graphCall) collection(set string, items []map[string]any) {
	q := g.r.URL.Query()
	top := 100
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 999 {
			g.fail(http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+s+"'. Must be between 1 and 999 inclusive.")
			return
		}
		top = n
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	if skip < 0 || skip > len(items) {
		skip = len(items)
	}
	page := items[skip:]
	out := map[string]any{"@odata.context": g.base + "/$metadata#" + set}
	if len(page) > top {
		page = page[:top]
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", strconv.Itoa(skip+top))
		out["@odata.nextLink"] = g.base + "/" + strings.Join(g.segs, "/") + "?" + nq.Encode()
	}
	vals := make([]map[string]any, len(page))
	for i, it := range page {
		vals[i] = g.selectFields(it)
	}
	out["value"] = vals
	writeJSON(g.w, http.StatusOK, out)
}

func (g *graphCall) selectFields(obj map[string]any) map[string]any {
	sel := g.r.URL.Query().Get("$select")
	if sel == "" {
		return obj
	}
	out := map[string]any{}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		for k, v := range obj {
			if strings.EqualFold(k, f) || strings.HasPrefix(k, "@odata") {
				out[k] = v
			}
		}
	}
	if id, ok := obj["id"]; ok {
		out["id"] = id
	}
	return out
}

// graphFilter is a parsed $filter: clauses joined by "and", each
// "prop eq 'v'", "prop eq true" or "startswith(prop,'v')".
type graphFilter []struct {
	prop, op, val string
}

func parseGraphFilter(s string) (graphFilter, bool) {
	var f graphFilter
	if strings.TrimSpace(s) == "" {
		return f, true
	}
	for _, part := range splitAnd(s) {
		part = strings.TrimSpace(part)
		low := strings.ToLower(part)
		if strings.HasPrefix(low, "startswith(") && strings.HasSuffix(part, ")") {
			args := strings.SplitN(part[len("startswith("):len(part)-1], ",", 2)
			if len(args) != 2 {
				return nil, false
			}
			f = append(f, struct{ prop, op, val string }{strings.TrimSpace(args[0]), "startswith", unquote(strings.TrimSpace(args[1]))})
			continue
		}
		fs := strings.Fields(part)
		if len(fs) < 3 || !strings.EqualFold(fs[1], "eq") {
			return nil, false
		}
		f = append(f, struct{ prop, op, val string }{fs[0], "eq", unquote(strings.Join(fs[2:], " "))})
	}
	return f, true
}

func splitAnd(s string) []string {
	var out []string
	low := strings.ToLower(s)
	for {
		i := strings.Index(low, " and ")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s, low = s[i+5:], low[i+5:]
	}
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// match reports whether an object (as its Graph JSON map) passes the filter.
func (f graphFilter) match(obj map[string]any) bool {
	for _, c := range f {
		var v any
		for k, x := range obj {
			if strings.EqualFold(k, c.prop) {
				v = x
			}
		}
		s := ""
		switch x := v.(type) {
		case string:
			s = x
		case bool:
			s = strconv.FormatBool(x)
		case nil:
			s = "null"
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		switch c.op {
		case "eq":
			if !strings.EqualFold(s, c.val) {
				return false
			}
		case "startswith":
			if !strings.HasPrefix(strings.ToLower(s), strings.ToLower(c.val)) {
				return false
			}
		}
	}
	return true
}

// list filters and sorts objects for a collection response.
func (g *graphCall) list(set string, objs []map[string]any) {
	f, ok := parseGraphFilter(g.r.URL.Query().Get("$filter"))
	if !ok {
		g.fail(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource.")
		return
	}
	var out []map[string]any
	for _, o := range objs {
		if f.match(o) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := out[i]["displayName"].(string)
		b, _ := out[j]["displayName"].(string)
		if a != b {
			return a < b
		}
		return out[i]["id"].(string) < out[j]["id"].(string)
	})
	g.collection(set, out)
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (g *graphCall) me() {
	if !g.c.User {
		g.fail(http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
		return
	}
	u := g.callerUser()
	if u == nil {
		g.notFound(g.c.ObjectID)
		return
	}
	g.entity(http.StatusOK, "users", userJSON(u))
}

func (g *graphCall) organization() {
	t := g.t
	g.collection("organization", []map[string]any{{
		"id": t.ID, "deletedDateTime": nil, "displayName": t.DisplayName, "tenantType": "AAD",
		"countryLetterCode": t.CountryCode, "createdDateTime": "2019-04-01T10:00:00Z",
		"verifiedDomains": []map[string]any{{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": t.Domain, "type": "Managed"}},
	}})
}

func userJSON(u *user) map[string]any {
	return map[string]any{
		"id": u.ID, "businessPhones": []string{}, "displayName": u.DisplayName, "givenName": nilIfEmpty(u.GivenName),
		"jobTitle": nilIfEmpty(u.JobTitle), "mail": nilIfEmpty(u.Mail), "mobilePhone": nil, "officeLocation": nil,
		"preferredLanguage": nil, "surname": nilIfEmpty(u.Surname), "userPrincipalName": u.UPN,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (g *graphCall) users(key string) {
	if !g.canRead("User.Read.All", "User.ReadBasic.All") {
		g.denied()
		return
	}
	if key == "" && len(g.segs) > 1 {
		key = g.segs[1]
	}
	if key == "" {
		if g.r.Method != http.MethodGet {
			g.badMethod()
			return
		}
		var objs []map[string]any
		for _, o := range g.e.w.objects {
			if u, ok := o.(*user); ok && u.TenantID == g.t.ID {
				objs = append(objs, userJSON(u))
			}
		}
		g.list("users", objs)
		return
	}
	u, _ := g.e.w.objects[lowerGUID(key)].(*user)
	if u == nil {
		if byUPN := g.e.w.userByUPN(key); byUPN != nil {
			u = byUPN
		}
	}
	if u == nil || u.TenantID != g.t.ID {
		g.notFound(key)
		return
	}
	if g.r.Method != http.MethodGet {
		g.badMethod()
		return
	}
	g.entity(http.StatusOK, "users", userJSON(u))
}
