package emulator

import (
	"net/http"
	"strings"
)

// serveCore routes the Microsoft.Resources paths that are not extensions.
func (c *armCall) serveCore() {
	segs := c.segs
	low := make([]string, len(segs))
	for i, s := range segs {
		low[i] = strings.ToLower(s)
	}
	n := len(low)
	get := c.r.Method == http.MethodGet
	switch {
	case n == 1 && low[0] == "tenants" && get:
		c.listTenants()
	case n == 1 && low[0] == "subscriptions" && get:
		c.listSubscriptions()
	case n == 2 && low[0] == "subscriptions" && get:
		c.getSubscription()
	case n == 3 && low[0] == "subscriptions" && low[2] == "locations" && get:
		c.listLocations()
	case n == 3 && low[0] == "subscriptions" && low[2] == "resourcegroups" && get:
		c.listGroups()
	case n == 3 && low[0] == "subscriptions" && low[2] == "resources" && get:
		c.listResources("")
	case n == 3 && low[0] == "subscriptions" && low[2] == "tagnames" && get:
		c.listTagNames()
	case n == 4 && low[0] == "subscriptions" && low[2] == "operationresults":
		c.operationResult()
	case n == 4 && low[0] == "subscriptions" && low[2] == "resourcegroups":
		c.groupOp(segs[3])
	case n == 5 && low[0] == "subscriptions" && low[2] == "resourcegroups" && low[4] == "resources" && get:
		c.listResources(segs[3])
	case n >= 8 && low[0] == "subscriptions" && low[2] == "resourcegroups" && low[4] == "providers":
		c.resourceOp()
	case n >= 3 && low[0] == "subscriptions" && low[2] == "providers" || n >= 2 && low[0] == "providers":
		i := 2
		if low[0] == "providers" {
			i = 1
		}
		ns := segs[i]
		if _, ok := resNamespaces[strings.ToLower(ns)]; !ok && !c.e.knownExtNamespace(ns) {
			c.fail(newARMError(http.StatusBadRequest, "InvalidResourceNamespace", "The resource namespace '%s' is invalid.", ns))
			return
		}
		typ := strings.Join(segs[min(i+1, n):], "/")
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' for api version '%s'.", typ, ns, c.version))
	default:
		if methodKind(c.r.Method) != opRead && n <= 4 && low[0] == "subscriptions" {
			c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
			return
		}
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type '%s' could not be found in the namespace 'Microsoft.Resources' for api version '%s'.", strings.Join(segs[min(2, n-1):], "/"), c.version))
	}
}

func (e *Emulator) knownExtNamespace(ns string) bool {
	ns = strings.ToLower(ns) + "/"
	for k := range e.armExt {
		if strings.HasPrefix(k, ns) {
			return true
		}
	}
	return false
}

// appendSubscription appends a subscription in the 2022-12-01 shape.
func appendSubscription(b []byte, s *subscription) []byte {
	b = append(b, `{"id":"/subscriptions/`...)
	b = append(b, s.ID...)
	b = append(b, `","authorizationSource":"RoleBased","managedByTenants":[`...)
	for i, t := range s.ManagedByTenants {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"tenantId":`...)
		b = appendJSONString(b, t)
		b = append(b, '}')
	}
	b = append(b, `],"subscriptionId":"`...)
	b = append(b, s.ID...)
	b = append(b, `","tenantId":`...)
	b = appendJSONString(b, s.TenantID)
	b = append(b, `,"displayName":`...)
	b = appendJSONString(b, s.DisplayName)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, s.State)
	b = append(b, `,"subscriptionPolicies":{"locationPlacementId":`...)
	b = appendJSONString(b, s.LocationPlacementID)
	b = append(b, `,"quotaId":`...)
	b = appendJSONString(b, s.QuotaID)
	b = append(b, `,"spendingLimit":`...)
	b = appendJSONString(b, s.SpendingLimit)
	b = append(b, '}')
	if s.Tags.len() > 0 {
		b = append(b, `,"tags":`...)
		b = s.Tags.appendJSON(b)
	}
	return append(b, '}')
}

// visibleSubscriptions are the subscriptions the caller's token tenant may
// address and where the caller holds any role: what GET /subscriptions
// returns, as in Azure.
func (c *armCall) visibleSubscriptions() []*subscription {
	var out []*subscription
	for _, s := range c.e.w.subList {
		if s.acceptsTenant(c.c.TenantID) && len(c.e.w.grantsIn(c.c, s)) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func (c *armCall) listSubscriptions() {
	if !c.requireVersion(subscriptionsVersions, "InvalidApiVersionParameter") {
		return
	}
	c.e.w.mu.RLock()
	subs := c.visibleSubscriptions()
	b := make([]byte, 0, 512*len(subs)+64)
	b = append(b, `{"value":[`...)
	for i, s := range subs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSubscription(b, s)
	}
	b = append(b, `],"count":{"type":"Total","value":`...)
	b = append(b, itoa(len(subs))...)
	b = append(b, `}}`...)
	c.e.w.mu.RUnlock()
	writeJSONBytes(c.w, http.StatusOK, b)
}

func (c *armCall) getSubscription() {
	if !c.requireVersion(subscriptionsVersions, "InvalidApiVersionParameter") {
		return
	}
	c.e.w.mu.RLock()
	grants := c.e.w.grantsIn(c.c, c.sub)
	var b []byte
	if len(grants) > 0 {
		b = appendSubscription(nil, c.sub)
	}
	c.e.w.mu.RUnlock()
	if b == nil {
		c.fail(newARMError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", c.sub.ID))
		return
	}
	writeJSONBytes(c.w, http.StatusOK, b)
}

// listTenants returns the caller's home tenant and, through Lighthouse,
// the tenants of subscriptions its tenant manages (tenantCategory
// ProjectedBy).
func (c *armCall) listTenants() {
	if !c.requireVersion(subscriptionsVersions, "InvalidApiVersionParameter") {
		return
	}
	c.e.w.mu.RLock()
	type tenantOut struct {
		ID             string   `json:"id"`
		TenantID       string   `json:"tenantId"`
		TenantCategory string   `json:"tenantCategory"`
		Country        string   `json:"country,omitempty"`
		CountryCode    string   `json:"countryCode"`
		DisplayName    string   `json:"displayName"`
		Domains        []string `json:"domains"`
		DefaultDomain  string   `json:"defaultDomain"`
		TenantType     string   `json:"tenantType"`
	}
	out := []tenantOut{}
	add := func(t *tenant, cat string) {
		for _, o := range out {
			if o.TenantID == t.ID {
				return
			}
		}
		out = append(out, tenantOut{ID: "/tenants/" + t.ID, TenantID: t.ID, TenantCategory: cat, CountryCode: t.CountryCode,
			DisplayName: t.DisplayName, Domains: []string{t.Domain}, DefaultDomain: t.Domain, TenantType: "AAD"})
	}
	if t := c.e.w.tenants[c.c.TenantID]; t != nil {
		add(t, "Home")
	}
	for _, s := range c.e.w.subList {
		if s.TenantID != c.c.TenantID && s.acceptsTenant(c.c.TenantID) && len(c.e.w.grantsIn(c.c, s)) > 0 {
			if t := c.e.w.tenants[s.TenantID]; t != nil {
				add(t, "ProjectedBy")
			}
		}
	}
	c.e.w.mu.RUnlock()
	writeJSON(c.w, http.StatusOK, map[string]any{"value": out})
}

func (c *armCall) listLocations() {
	if !c.requireVersion(subscriptionsVersions, "InvalidApiVersionParameter") {
		return
	}
	c.e.w.mu.RLock()
	visible := len(c.e.w.grantsIn(c.c, c.sub)) > 0
	c.e.w.mu.RUnlock()
	if !visible {
		c.fail(c.forbidden("Microsoft.Resources/subscriptions/locations/read", c.sub.scope()))
		return
	}
	var vals []map[string]any
	for _, l := range locations {
		vals = append(vals, map[string]any{
			"id": c.sub.scope() + "/locations/" + l, "name": l, "type": "Region",
			"displayName": locationDisplay[l], "regionalDisplayName": "(" + locationGeo[l] + ") " + locationDisplay[l],
			"metadata": map[string]any{"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": locationGeo[l]},
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"value": vals})
}

var locationDisplay = map[string]string{
	"westeurope": "West Europe", "northeurope": "North Europe", "eastus": "East US", "eastus2": "East US 2",
	"westus2": "West US 2", "uksouth": "UK South", "swedencentral": "Sweden Central", "centralus": "Central US",
	"francecentral": "France Central", "germanywestcentral": "Germany West Central",
}

var locationGeo = map[string]string{
	"westeurope": "Europe", "northeurope": "Europe", "eastus": "US", "eastus2": "US", "westus2": "US",
	"uksouth": "UK", "swedencentral": "Europe", "centralus": "US", "francecentral": "Europe", "germanywestcentral": "Europe",
}

// operationResult answers the Location of a finished asynchronous operation
// (resource group deletion): the emulator finishes them at once.
func (c *armCall) operationResult() {
	c.w.WriteHeader(http.StatusOK)
}

// serveMetadata answers GET /metadata/endpoints, which az cloud register
// and some SDKs read to configure a custom cloud.
func (e *Emulator) serveMetadata(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	if !strings.EqualFold(strings.Trim(r.URL.Path, "/"), "metadata/endpoints") {
		writeARMError(w, r, http.StatusNotFound, "NotFound", "The requested metadata does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"galleryEndpoint": "", "graphEndpoint": base + "/", "microsoftGraphResourceId": graphResource + "/",
		"portalEndpoint": base + "/", "resourceManager": base + "/",
		"authentication": map[string]any{"loginEndpoint": base + "/", "audiences": []string{base, "https://management.azure.com/"}, "tenant": "common", "identityProvider": "AAD"},
		"name":           "StewardEmulator",
		"suffixes":       map[string]any{"storage": "core.windows.net", "keyVaultDns": "vault.azure.net"},
	})
}
