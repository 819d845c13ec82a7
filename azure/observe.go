package azure

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// observed is the round tripper under every client of the connector (the
// SDK's pipelines, azidentity and the consent exchange alike): it tells
// Config.Observer of each request that went to Azure, so retries and 429s
// are counted as Azure counts them.
type observed struct {
	next     http.RoundTripper
	obs      steward.AzureObserver
	classify func(*url.URL) steward.AzureService
}

func (o *observed) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	ex := steward.AzureExchange{Service: o.classify(req.URL)}
	if err == nil && resp != nil {
		ex.Status = resp.StatusCode
		ex.Quotas = quotasOf(resp.Header)
	}
	o.obs.ObserveAzure(ex)
	return resp, err
}

// observeHTTP returns a client that sends through base and tells obs of
// every exchange.
func (c *Connector) observeHTTP(base *http.Client, obs steward.AzureObserver) *http.Client {
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cl := *base
	cl.Transport = &observed{next: next, obs: obs, classify: c.serviceOf}
	return &cl
}

// serviceOf names the Azure service a URL belongs to. Resource Graph and
// Cost Management are providers under Resource Manager's endpoint; on the
// emulator every service shares one host, so paths decide.
func (c *Connector) serviceOf(u *url.URL) steward.AzureService {
	p := strings.ToLower(u.Path)
	host := strings.ToLower(u.Host)
	switch {
	case strings.Contains(p, "/providers/microsoft.resourcegraph/"):
		return steward.AzureResourceGraph
	case strings.Contains(p, "/providers/microsoft.costmanagement/"):
		return steward.AzureCostManagement
	case host == hostOf(c.graphURL) && strings.HasPrefix(p, pathOf(c.graphURL)+"/"):
		return steward.AzureGraph
	case strings.Contains(p, "/oauth2/") || strings.Contains(p, "/.well-known/") || strings.Contains(p, "/discovery/"):
		return steward.AzureEntra
	case host == hostOf(c.armURL):
		return steward.AzureARM
	case host == hostOf(c.authority):
		return steward.AzureEntra
	}
	return steward.AzureOther
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Path), "/")
}

// armQuotaPrefix begins Resource Manager's remaining-request headers.
const armQuotaPrefix = "x-ms-ratelimit-remaining-"

// armQuotas are the Resource Manager counts reported, by the header's name
// after armQuotaPrefix: a fixed set, so that a service answering with
// headers of its own (Compute's x-ms-ratelimit-remaining-resource, say)
// cannot grow a metric's labels.
var armQuotas = map[string]bool{
	"subscription-reads": true, "subscription-writes": true, "subscription-deletes": true,
	"subscription-global-reads": true, "subscription-global-writes": true, "subscription-global-deletes": true,
	"tenant-reads": true, "tenant-writes": true,
	"microsoft.costmanagement-entity-requests": true, "microsoft.costmanagement-tenant-requests": true,
}

// quotasOf reads the remaining-request counts of an answer (FACTS.md §2–4,
// recordings/README.md): Resource Manager's per-subscription and tenant
// counters, Resource Graph's user quota and the smallest of Cost
// Management's QPU windows.
func quotasOf(h http.Header) []steward.AzureQuota {
	var out []steward.AzureQuota
	for name, vs := range h {
		ln := strings.ToLower(name)
		if len(vs) == 0 || !strings.HasPrefix(ln, armQuotaPrefix) || !armQuotas[ln[len(armQuotaPrefix):]] {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(vs[0])); err == nil {
			out = append(out, steward.AzureQuota{Name: ln[len(armQuotaPrefix):], Remaining: n})
		}
	}
	if v := h.Get("x-ms-user-quota-remaining"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			out = append(out, steward.AzureQuota{Name: "user-quota", Remaining: n})
		}
	}
	if v := h.Get("x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"); v != "" {
		if n, ok := smallestCount(v); ok {
			out = append(out, steward.AzureQuota{Name: "costmanagement-qpu", Remaining: n})
		}
	}
	return out
}
