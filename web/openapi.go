package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// apiDoc describes an API route for the OpenAPI document.
type apiDoc struct {
	tag, summary string
	query        []param
	request      string // schema name of the JSON body, or ""
	response     string // schema name, "object", "export", or "" (no body)
	status       int    // success status; defaults to 200
}

type param struct{ name, typ, desc string }

func resourceQuery(paging bool) []param {
	ps := []param{
		{"tenant", "string", "Only this tenant's resources"},
		{"subscription", "string", "Only this subscription's"},
		{"resourceGroup", "string", "Only this resource group's"},
		{"type", "string", "Only this resource type, e.g. Microsoft.Compute/virtualMachines"},
		{"tag", "string", "KEY=VALUE, or KEY for any value; repeat for several. Keys ignore case, values do not"},
		{"untagged", "string", "Only resources without this tag"},
		{"conflict", "boolean", "Only resources with a tag edit in conflict"},
		{"q", "string", "Name contains"},
	}
	if paging {
		ps = append(ps, param{"limit", "integer", "Resources per page, 1 to 1000 (default 100)"}, param{"cursor", "string", "The next value of the previous page"})
	}
	return ps
}

var costParams = []param{
	{"groupBy", "string", "tag:KEY, subscription, resourceGroup, service (default) or day"},
	{"from", "string", "First day (default: 30 days before to)"},
	{"to", "string", "Day after the last (default: tomorrow)"},
	{"subscription", "string", "Only this subscription"},
	{"daily", "boolean", "Split each group by day"},
	{"format", "string", "json (default) or csv"},
}

func auditQuery(paging bool) []param {
	ps := []param{
		{"actor", "string", "Only events by this actor"},
		{"action", "string", "An action such as user.login, or a prefix ending in a dot such as user."},
		{"tenant", "string", "Only events of this tenant ID"},
		{"from", "string", "From this date or RFC 3339 time (inclusive)"},
		{"to", "string", "Until this date or time (exclusive)"},
	}
	if paging {
		ps = append(ps, param{"limit", "integer", "Events per page, 1 to 1000 (default 100)"}, param{"cursor", "string", "The next value of the previous page"})
	}
	return ps
}

// schemas maps the names routes use to the Go types that the API encodes
// and decodes, so the document is generated from the same types and cannot
// drift from them.
var schemas = map[string]any{
	"Error":              apiError{},
	"Me":                 apiMe{},
	"User":               apiUser{},
	"UserList":           listResponse[apiUser]{},
	"UserCreate":         userInput{},
	"UserUpdate":         userUpdateInput{},
	"Grant":              apiGrant{},
	"GrantCreate":        grantInput{},
	"PasswordChange":     passwordChange{},
	"Token":              apiToken{},
	"TokenList":          listResponse[apiToken]{},
	"TokenCreate":        tokenInput{},
	"TokenCreated":       apiTokenCreated{},
	"AuditEvent":         apiAuditEvent{},
	"AuditList":          listResponse[apiAuditEvent]{},
	"AuditVerification":  apiAuditVerification{},
	"Subscription":       apiSubscription{},
	"SubscriptionList":   listResponse[apiSubscription]{},
	"SyncLevel":          syncLevelInput{},
	"SyncRun":            apiSyncRun{},
	"SyncRunList":        listResponse[apiSyncRun]{},
	"ResourceList":       listResponse[apiResource]{},
	"ResourceDetail":     apiResourceDetail{},
	"TagKeyList":         listResponse[apiTagKey]{},
	"TagEditCreate":      tagEditInput{},
	"TagEdit":            apiTagEdit{},
	"TagEditList":        listResponse[apiTagEdit]{},
	"TagEditItem":        apiItem{},
	"TagEditPreview":     apiPreview{},
	"Resolve":            resolveInput{},
	"CostList":           listResponse[apiCostGroup]{},
	"CostImportList":     listResponse[apiCostImport]{},
	"ConsentLink":        apiConsentLink{},
	"ConsentLinkList":    listResponse[apiConsentLink]{},
	"ConsentLinkCreate":  consentLinkInput{},
	"ConsentLinkCreated": apiConsentLinkCreated{},
	"Tenant":             apiTenant{},
	"TenantList":         listResponse[apiTenant]{},
	"TenantCreate":       tenantCreate{},
	"LighthouseConnect":  lighthouseConnect{},
	"ValidationReport":   steward.ValidationReport{},
	"WriteAccess":        writeAccessInput{},
	"Credential":         apiCredential{},
	"CredentialList":     listResponse[apiCredential]{},
	"Rotate":             rotateInput{},
	"Revoke":             revokeInput{},
	"RevocationProof":    steward.RevocationProof{},
	"StringList":         listResponse[string]{},
	"Partner":            partnerInput{},
	"LeastPrivilege":     leastPrivilege{},
	"Review":             apiReview{},
	"LighthouseValidate": lighthouseValidateInput{},
	"LighthouseReport":   lighthouseReport{},
	"LighthouseSpec":     steward.LighthouseSpec{},
	"LighthouseBuilt":    lighthouseBuilt{},
	"LighthouseRoleList": listResponse[steward.LighthouseRole]{},
}

var pathParamRE = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

// openAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		if rt.kind != kindAPI {
			continue
		}
		op := map[string]any{"summary": rt.doc.summary, "tags": []string{rt.doc.tag}, "operationId": operationID(rt)}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.doc.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": q.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.doc.request != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(rt.doc.request)}}}
		}
		status := rt.doc.status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch rt.doc.response {
		case "":
		case "object":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		case "export":
			ok["content"] = map[string]any{
				"text/csv":         map[string]any{"schema": map[string]any{"type": "string"}},
				"application/json": map[string]any{"schema": map[string]any{"type": "array", "items": ref("AuditEvent")}},
			}
		default:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(rt.doc.response)}}
		}
		responses := map[string]any{strconv.Itoa(status): ok}
		for _, e := range errorStatuses(rt) {
			responses[strconv.Itoa(e)] = map[string]any{"description": http.StatusText(e), "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		}
		op["responses"] = responses
		if rt.scope == scopePublic {
			op["security"] = []any{}
		}
		path := rt.path
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = op
	}
	comps := map[string]any{}
	for name, v := range schemas {
		comps[name] = schemaOf(reflect.TypeOf(v))
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Steward API",
			"version":     "1",
			"description": "Steward's JSON API. Authenticate with an API token (Authorization: Bearer stw_…) created with `steward token create` or on the API tokens page. Errors are {\"error\":{\"code\",\"message\"}}.",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": comps, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}, "session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie}}},
	}
}

// errorStatuses lists the error answers a route can give.
func errorStatuses(rt *route) []int {
	var out []int
	if rt.doc.request != "" || len(rt.doc.query) > 0 || strings.Contains(rt.path, "{") {
		out = append(out, http.StatusBadRequest)
	}
	if rt.scope != scopePublic {
		out = append(out, http.StatusUnauthorized, http.StatusForbidden)
	}
	if strings.Contains(rt.path, "{") {
		out = append(out, http.StatusNotFound)
	}
	if rt.doc.request != "" {
		out = append(out, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	return out
}

func operationID(rt *route) string {
	id := strings.ToLower(rt.method)
	for _, part := range strings.Split(strings.TrimPrefix(rt.path, "/api/v1/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.ReplaceAll(part, ".", "")
		if part != "" {
			id += strings.ToUpper(part[:1]) + part[1:]
		}
	}
	return id
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
	secretType  = reflect.TypeOf(steward.Secret(""))
)

// schemaOf describes a Go type as a JSON Schema, following its json tags.
func schemaOf(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		return schemaOf(t.Elem())
	}
	if t == secretType {
		return map[string]any{"type": "string", "writeOnly": true}
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == rawJSONType {
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props)
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			addFields(f.Type, props)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		name = cmp.Or(name, f.Name) // as encoding/json names it
		props[name] = schemaOf(f.Type)
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.openAPI())
	return nil
}

// apiPaths lists "METHOD path" for every API route, sorted; tests compare it
// with the document.
func (s *Server) apiPaths() []string {
	var out []string
	for _, rt := range s.routes {
		if rt.kind == kindAPI {
			out = append(out, rt.pattern())
		}
	}
	sort.Strings(out)
	return out
}
