package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Azure Resource Manager. A request goes through, in order:
//
//  1. authentication (bearer token, ARM audience) → 401 in ARM's shape;
//  2. path parsing: a scope (tenant, subscription, resource group, resource)
//     optionally followed by an extension provider
//     ("…/providers/Microsoft.Authorization/roleAssignments/…");
//  3. the subscription: it must exist (404) and accept the token's tenant
//     (its home tenant, or a managing tenant through Lighthouse) (401);
//  4. throttling (429 with Retry-After), with x-ms-ratelimit-remaining-*;
//  5. the handler, which checks the api-version and asks rbac.go.
//
// Writes are recorded in the subscription's activity log, success or not.

// opKind is what a request costs in throttling terms.
type opKind int

const (
	opRead opKind = iota
	opWrite
	opDelete
)

func (k opKind) String() string {
	switch k {
	case opWrite:
		return "write"
	case opDelete:
		return "delete"
	}
	return "read"
}

func methodKind(m string) opKind {
	switch m {
	case http.MethodGet, http.MethodHead:
		return opRead
	case http.MethodDelete:
		return opDelete
	}
	return opWrite
}

// armExtension serves an extension resource type at any scope:
// {scope}/providers/{Namespace}/{Type}/…. Part B registers
// Microsoft.ManagedServices, Microsoft.ResourceGraph,
// Microsoft.CostManagement and Microsoft.ManagementPartner the same way.
type armExtension struct {
	Namespace string
	Type      string
	// APIVersions the type accepts; others get NoRegisteredProviderFound.
	APIVersions []string
	// Kind overrides the throttling class of a request (e.g. a POST query
	// that is a read); nil uses the method.
	Kind func(r *http.Request) opKind
	// SkipThrottle leaves throttling to the handler (Resource Graph and
	// Cost Management have quotas of their own).
	SkipThrottle bool
	Serve        func(c *armCall)
}

func (e *Emulator) registerARM(x armExtension) {
	e.armExt[strings.ToLower(x.Namespace+"/"+x.Type)] = x
}

// armCall is one ARM request being served.
type armCall struct {
	e       *Emulator
	w       *armWriter
	r       *http.Request
	c       *caller
	segs    []string // the whole path
	scope   scopeRef
	ext     *armExtension
	rest    []string // segments after {Namespace}/{Type}
	version string
	kind    opKind
	sub     *subscription // nil for tenant scope
	grants  []grant
	now     time.Time

	// Set by write handlers for the activity log.
	action     string // e.g. Microsoft.Resources/tags/write
	resourceID string
}

// armWriter captures the status for the activity log.
type armWriter struct {
	http.ResponseWriter
	status int
}

func (w *armWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *armWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *armWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (e *Emulator) serveARM(rw http.ResponseWriter, r *http.Request) {
	w := &armWriter{ResponseWriter: rw}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "-1")
	w.Header().Set("x-ms-routing-request-id", "LOCAL:"+time.Now().UTC().Format("20060102T150405Z")+":"+w.Header().Get("x-ms-request-id"))
	segs := splitPath(r.URL.Path)
	if strings.EqualFold(segs[0], "metadata") {
		e.serveMetadata(w, r)
		return
	}
	c := &armCall{e: e, w: w, r: r, segs: segs, kind: methodKind(r.Method), now: e.now()}
	if !c.authenticate() {
		return
	}
	c.version = r.URL.Query().Get("api-version")
	if c.version == "" {
		c.fail(newARMError(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	}
	if err := c.parse(); err != nil {
		c.fail(err)
		return
	}
	if c.ext != nil && c.ext.Kind != nil {
		c.kind = c.ext.Kind(r)
	}
	if c.scope.SubID != "" {
		e.w.mu.RLock()
		s := e.w.subscription(c.scope.SubID)
		var tenantOK bool
		var home string
		if s != nil {
			tenantOK, home = s.acceptsTenant(c.c.TenantID), s.TenantID
		}
		e.w.mu.RUnlock()
		if s == nil {
			c.fail(newARMError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", c.scope.SubID))
			return
		}
		if !tenantOK {
			c.fail(c.wrongTenant(home))
			return
		}
		c.sub = s
	}
	if !(c.ext != nil && c.ext.SkipThrottle) && !c.throttle() {
		return
	}
	defer c.recordActivity()
	if c.ext != nil {
		if !c.requireVersion(c.ext.APIVersions, "NoRegisteredProviderFound") {
			return
		}
		c.ext.Serve(c)
		return
	}
	c.serveCore()
}

func (c *armCall) authenticate() bool {
	raw, ok := bearer(c.r)
	base := baseURL(c.r)
	challenge := `Bearer authorization_uri="` + base + `/", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`
	if !ok {
		c.w.Header().Set("WWW-Authenticate", challenge)
		c.fail(newARMError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
		return false
	}
	cl, err := c.e.parseToken(raw)
	if err != nil {
		c.w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+base+`/", error="invalid_token", error_description="The access token is invalid."`)
		switch {
		case errors.Is(err, errTokenExpired):
			exp := "an unknown time"
			if cl != nil {
				exp = armTimeText(cl.Expires)
			}
			c.fail(newARMError(http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is earlier than current UTC time '%s'.", exp, armTimeText(c.e.now())))
		case errors.Is(err, errTokenSignature):
			c.fail(newARMError(http.StatusUnauthorized, "InvalidAuthenticationTokenSignature", "The access token has an invalid signature."))
		case errors.Is(err, errTokenNotYet):
			c.fail(newARMError(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is not yet valid."))
		default:
			c.fail(newARMError(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid."))
		}
		return false
	}
	if !c.e.armAudience(cl.Audience, c.r) {
		c.w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+base+`/", error="invalid_token", error_description="The access token has been obtained for wrong audience or resource."`)
		c.fail(newARMError(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s','%s/','https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.", cl.Audience, base, base))
		return false
	}
	c.c = cl
	return true
}

// armAudience reports whether a token audience is Resource Manager's.
func (e *Emulator) armAudience(aud string, r *http.Request) bool {
	key, ok := e.resolveResource(aud, r)
	return ok && key == resARM
}

// armTimeText formats a time the way ARM's token messages do.
func armTimeText(t time.Time) string { return t.UTC().Format("1/2/2006 3:04:05 PM") }

func (c *armCall) wrongTenant(home string) *armError {
	base := baseURL(c.r)
	return newARMError(http.StatusUnauthorized, "InvalidAuthenticationTokenTenant",
		"The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this subscription. Please use the authority (URL) '%s' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
		c.c.Issuer, issuerFor(base, home), base+"/"+home)
}

func (c *armCall) fail(err *armError) { err.write(c.w, c.r) }

// requireVersion checks the api-version against a list; code names the
// error (InvalidApiVersionParameter for Microsoft.Resources,
// NoRegisteredProviderFound for providers).
func (c *armCall) requireVersion(versions []string, code string) bool {
	for _, v := range versions {
		if strings.EqualFold(v, c.version) {
			return true
		}
	}
	list := strings.Join(reversed(versions), ", ")
	if code == "NoRegisteredProviderFound" {
		typ := "unknown"
		if c.ext != nil {
			typ = c.ext.Namespace + "/" + c.ext.Type
		} else if c.scope.Type != nil {
			typ = c.scope.Type.Name
		}
		c.fail(newARMError(http.StatusBadRequest, code, "No registered resource provider found for location 'global' and API version '%s' for type '%s'. The supported api-versions are '%s'. The supported locations are ', %s'.", c.version, typ, list, strings.Join(locations, ", ")))
		return false
	}
	c.fail(newARMError(http.StatusBadRequest, code, "The api-version '%s' is invalid. The supported versions are '%s'.", c.version, list))
	return false
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// Api-version families.
var (
	resourcesVersions = []string{
		"2014-04-01", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01", "2016-09-01",
		"2017-05-10", "2018-02-01", "2018-05-01", "2019-03-01", "2019-05-01", "2019-05-10", "2019-07-01",
		"2019-08-01", "2019-09-01", "2019-10-01", "2020-06-01", "2020-08-01", "2020-10-01", "2021-01-01",
		"2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-03-01", "2025-04-01",
	}
	subscriptionsVersions  = append([]string{"2014-04-01-preview", "2016-06-01", "2018-06-01", "2019-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-01-01", "2022-12-01"}, resourcesVersions...)
	roleAssignmentVersions = []string{"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview", "2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2022-01-01-preview", "2022-04-01"}
	roleDefinitionVersions = []string{"2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview"}
	insightsEventVersions  = []string{"2015-04-01", "2017-03-01-preview"}
)

// throttle takes a token for the request from the principal's bucket and the
// subscription-wide one (or the tenant bucket for tenant-level requests),
// sets the remaining-requests headers, and answers 429 when empty.
func (c *armCall) throttle() bool {
	cfg := &c.e.cfg.Throttling
	if cfg.Disabled {
		return true
	}
	spec := cfg.Reads
	switch c.kind {
	case opWrite:
		spec = cfg.Writes
	case opDelete:
		spec = cfg.Deletes
	}
	kind := c.kind.String()
	actor := c.c.ObjectID
	var rem [2]int
	var retry time.Duration
	var ok bool
	h := c.w.Header()
	if c.sub != nil {
		global := BucketSpec{Size: spec.Size * cfg.GlobalFactor, RefillPerSecond: spec.RefillPerSecond * cfg.GlobalFactor}
		retry, ok = c.e.limiter.take([]draw{
			{Key: "s/" + c.sub.ID + "/" + kind + "/" + actor, Spec: spec, N: 1},
			{Key: "s/" + c.sub.ID + "/" + kind, Spec: global, N: 1},
		}, rem[:])
		h.Set("x-ms-ratelimit-remaining-subscription-"+kind+"s", strconv.Itoa(rem[0]))
		h.Set("x-ms-ratelimit-remaining-subscription-global-"+kind+"s", strconv.Itoa(rem[1]))
	} else {
		retry, ok = c.e.limiter.take([]draw{{Key: "t/" + c.c.TenantID + "/" + kind + "/" + actor, Spec: spec, N: 1}}, rem[:1])
		h.Set("x-ms-ratelimit-remaining-tenant-"+kind+"s", strconv.Itoa(rem[0]))
	}
	if ok {
		return true
	}
	secs := retryAfterSeconds(retry)
	h.Set("Retry-After", strconv.Itoa(secs))
	if c.sub != nil {
		c.fail(newARMError(http.StatusTooManyRequests, "SubscriptionRequestsThrottled",
			"Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please try again after '%d' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.", kind, c.sub.ID, actor, secs))
	} else {
		c.fail(newARMError(http.StatusTooManyRequests, "TenantRequestsThrottled",
			"Number of '%s' requests for tenant '%s' actor '%s' exceeded. Please try again after '%d' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.", kind, c.c.TenantID, actor, secs))
	}
	return false
}

// loadGrants fills c.grants for the subscription under the read lock.
func (c *armCall) loadGrants() {
	if c.sub != nil {
		c.grants = c.e.w.grantsIn(c.c, c.sub)
	}
}

// authorize checks an action at a scope, answering 403 AuthorizationFailed.
func (c *armCall) authorize(scopeKey, scopeDisplay string, actions ...string) bool {
	if allowedAny(c.grants, scopeKey, actions...) {
		return true
	}
	c.fail(c.forbidden(actions[0], scopeDisplay))
	return false
}

func (c *armCall) forbidden(action, scope string) *armError {
	return newARMError(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.c.display(), c.c.ObjectID, action, scope)
}

// readBody reads a JSON request body (at most 4 MiB).
func (c *armCall) readBody() ([]byte, *armError) {
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, 4<<20))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newARMError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request content size exceeds the maximum size of 4 MB.")
		}
		return nil, newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read.")
	}
	return b, nil
}

func invalidJSON(err error) *armError {
	return newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '%s'.", strings.ReplaceAll(fmt.Sprint(err), "'", "\""))
}
