package web

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/store/storetest"
)

// The HTTP fuzz sends every route mutated input as an admin, against a
// store holding two synced tenants, on every engine at once: no answer may
// be a 5xx, none may take longer than slowAnswer, and both engines must
// answer each request with the same status.

// slowAnswer is far above any answer measured here (tens of milliseconds);
// a request that takes longer is doing unbounded work.
const slowAnswer = 5 * time.Second

// hostile are values that have broken parsers elsewhere.
var hostile = []string{
	"", " ", "\x00", "%00", "a\x00b", "\xff\xfe", "%ff%fe", "\xed\xa0\x80", "\u202e\u2066", "\t\r\n",
	"0", "-1", "1e999", "99999999999999999999999", "NaN", "true", "null", "[]", "{}",
	"../../etc/passwd", "%2e%2e%2f", "//evil.example", "/\\evil.example", "javascript:alert(1)",
	"' OR 1=1 --", "\"", "\\", "<script>x</script>", "${jndi:x}", "%s%n", "[concat('a','b')]",
	"00000000-0000-0000-0000-000000000000", "aaaaaaaa-1111-2222-3333-444444444444",
	"tag:environment", "2026-13-45", "P1D", "9999d", "213504d",
	strings.Repeat("a", 600), strings.Repeat("é", 300), strings.Repeat("[", 5000), strings.Repeat("%", 3000),
}

// fuzzParams are the query and form names the handlers read.
var fuzzParams = []string{
	"tenant", "subscription", "resourceGroup", "type", "tag", "untagged", "conflict", "q", "cursor", "limit",
	"id", "from", "to", "groupBy", "format", "method", "next", "all", "actor", "action", "target", "outcome",
	"level", "keep", "enabled", "confirm", "partnerId", "name", "password", "tenantId", "readClient", "readSecret",
	"mk0", "mv0", "dk0", "rf0", "rt0", "f.tenant", "f.subscription", "f.tag", "skip", "back", "session", "state",
	"code", "error", "error_description", "purpose", "template", "parameters", "expiresIn", "displayName",
	"token", "customerName", "expectedTenant",
}

// fuzzFields are JSON body fields the API reads.
var fuzzFields = []string{
	"resources", "filter", "merge", "delete", "rename", "dryRun", "skipRefused", "level", "keep", "enabled",
	"method", "partnerId", "replacement", "tenantId", "name", "read", "write", "clientId", "clientSecret",
	"expiresAt", "files", "data", "template", "parameters", "password", "currentPassword", "newPassword",
	"displayName", "email", "grants", "role", "tenants", "expiresIn", "disabled", "customerName", "expectedTenant",
}

// fuzzCase is one mutated request for a route, from a seeded generator.
func fuzzCase(rng *rand.Rand, rt *route, a alpha) req {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	// value is for a query or form: escaped, or sent as it is where a URL
	// can carry it (so that %zz and %ff reach the parser undecoded).
	value := func() string {
		v := pick(hostile)
		switch rng.IntN(4) {
		case 0:
			return url.QueryEscape(pick([]string{a.tenant, a.sub, a.resource, a.edit, a.item, a.run, a.credential}))
		case 1:
			if !strings.ContainsFunc(v, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '#' }) {
				return v
			}
		}
		return url.QueryEscape(v)
	}
	path := rt.path
	for _, name := range []string{"{id}", "{tenantId}", "{subscriptionId}"} {
		v := pick([]string{a.tenant, a.sub, a.edit, a.item, a.run, a.credential, "1", "999999"})
		if rng.IntN(3) == 0 {
			v = url.PathEscape(pick(hostile))
		}
		path = strings.ReplaceAll(path, name, v)
	}
	path = strings.NewReplacer("{$}", "", "/static/", "/static/"+url.PathEscape(pick(hostile))).Replace(path)
	var query []string
	for range rng.IntN(4) {
		query = append(query, url.QueryEscape(pick(fuzzParams))+"="+value())
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	r := req{method: rt.method, path: path}
	if rt.method == "GET" {
		return r
	}
	if rt.kind == kindPage {
		var form []string
		for range rng.IntN(6) {
			form = append(form, url.QueryEscape(pick(fuzzParams))+"="+value())
		}
		r.body, r.contentType = strings.Join(form, "&"), "application/x-www-form-urlencoded"
		if r.body == "" {
			r.body = "x=1"
		}
		return r
	}
	switch rng.IntN(5) {
	case 0:
		r.body = pick(hostile) // not JSON at all
		if r.body == "" {
			r.body = "{"
		}
	default:
		var fields []string
		for range 1 + rng.IntN(4) {
			var v string
			switch rng.IntN(5) {
			case 0:
				v = fmt.Sprintf("[%q]", pick(hostile))
			case 1:
				v = fmt.Sprintf("{%q:%q}", pick(hostile), pick(hostile))
			case 2:
				v = pick([]string{"true", "0", "-1", "1e400", "null", "[]", "{}", `{"tenant":"` + a.tenant + `"}`})
			default:
				v = fmt.Sprintf("%q", value())
			}
			fields = append(fields, fmt.Sprintf("%q:%s", pick(fuzzFields), v))
		}
		r.body = "{" + strings.Join(fields, ",") + "}"
	}
	return r
}

// fuzzServers are one server per engine over the same estate.
type fuzzServers struct {
	engines []string
	bundles []*testBundle
	admins  []*steward.User
	alpha   alpha
}

func newFuzzServers(t testing.TB) *fuzzServers {
	f := &fuzzServers{}
	for _, engine := range storetest.Engines() {
		b := setupEngine(t, engine)
		e, _ := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
		b.useEmulator(t, e)
		a, _ := isolationEstate(t, b, e)
		admin, _ := b.user(t, "fuzz-admin", steward.Grant{Role: steward.RoleAdmin})
		f.engines, f.bundles, f.admins, f.alpha = append(f.engines, string(engine)), append(f.bundles, b), append(f.admins, admin), a
	}
	return f
}

// send sends r to every engine as the admin, in a fresh session, and
// returns the statuses; it fails t on a 5xx, a slow answer or engines that
// disagree.
func (f *fuzzServers) send(t *testing.T, r req) []int {
	t.Helper()
	var statuses []int
	for i, b := range f.bundles {
		r.cookie = b.session(t, f.admins[i].ID)
		start := time.Now()
		resp, body := b.do(t, r)
		took := time.Since(start)
		statuses = append(statuses, resp.StatusCode)
		if resp.StatusCode >= 500 {
			t.Errorf("%s: %s %q %q answered %d: %.300s", f.engines[i], r.method, r.path, r.body, resp.StatusCode, body)
		}
		if took > slowAnswer {
			t.Errorf("%s: %s %q took %s", f.engines[i], r.method, r.path, took)
		}
	}
	if slices.ContainsFunc(statuses[1:], func(s int) bool { return s != statuses[0] }) {
		t.Errorf("%s %q %q: engines %v answered %v", r.method, r.path, r.body, f.engines, statuses)
	}
	return statuses
}

// TestHTTPFuzz sends fuzzPerRoute seeded mutations to every route.
func TestHTTPFuzz(t *testing.T) {
	t.Parallel()
	const fuzzPerRoute = 12
	f := newFuzzServers(t)
	rng := rand.New(rand.NewPCG(14, 2026))
	histogram, sent := map[int]int{}, 0
	for _, rt := range f.bundles[0].srv.routes {
		for range fuzzPerRoute {
			histogram[f.send(t, fuzzCase(rng, rt, f.alpha))[0]]++ // the engines agree, or send failed t
			sent++
		}
	}
	statuses := slices.Sorted(func(yield func(int) bool) {
		for s := range histogram {
			if !yield(s) {
				return
			}
		}
	})
	var parts []string
	for _, s := range statuses {
		parts = append(parts, fmt.Sprintf("%d×%d", s, histogram[s]))
	}
	t.Logf("%d routes, %d requests on each of %v; statuses on each %s", len(f.bundles[0].srv.routes), sent, f.engines, strings.Join(parts, " "))
}

// FuzzHTTP lets Go's fuzzer drive the same servers: a route, the value of
// its path parameters, a query and a body.
func FuzzHTTP(f *testing.F) {
	servers := newFuzzServers(f)
	routes := servers.bundles[0].srv.routes
	for i, rt := range routes {
		c := fuzzCase(rand.New(rand.NewPCG(uint64(i), 1)), rt, servers.alpha)
		_, query, _ := strings.Cut(c.path, "?")
		f.Add(uint16(i), servers.alpha.tenant, query, c.body)
	}
	f.Fuzz(func(t *testing.T, route uint16, param, query, body string) {
		rt := routes[int(route)%len(routes)]
		path := rt.path
		for _, name := range []string{"{id}", "{tenantId}", "{subscriptionId}"} {
			path = strings.ReplaceAll(path, name, url.PathEscape(param))
		}
		r := req{method: rt.method, path: strings.ReplaceAll(path, "{$}", "")}
		if query != "" {
			r.path += "?" + url.PathEscape(query) // keeps & and =, escapes what would break the URL
		}
		if rt.method != "GET" {
			r.body = cmp.Or(body, "x")
			if rt.kind == kindPage {
				r.contentType = "application/x-www-form-urlencoded"
			}
		}
		servers.send(t, r)
	})
}
