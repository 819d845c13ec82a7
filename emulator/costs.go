package emulator

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"strings"
	"time"
)

// The cost model: every resource costs a deterministic amount each day it
// exists, derived from the estate seed, its ID, its type and SKU, and the
// date, so the same query always gives the same numbers and any day since
// a resource's creation (three years back for seeded ones) has data.
// Network plumbing (VNets, NICs, NSGs…) costs nothing and so has no rows,
// as in Azure. Amounts are in the billing currency of the subscription's
// tenant (USD, EUR or GBP by country); CostUSD and PreTaxCostUSD convert.
// Deleted resources leave no history: the model reads the live estate.

// costProfile is what a type costs a day, in USD, before the resource's own
// size factor, and the service it is billed under.
type costProfile struct {
	base    float64
	service string
	meter   string
}

var costProfiles = map[string]costProfile{
	"microsoft.compute/virtualmachines":                {4.8, "Virtual Machines", "Virtual Machines"},
	"microsoft.compute/disks":                          {0.45, "Storage", "Storage"},
	"microsoft.compute/snapshots":                      {0.08, "Storage", "Storage"},
	"microsoft.network/publicipaddresses":              {0.12, "Virtual Network", "Virtual Network"},
	"microsoft.network/loadbalancers":                  {0.6, "Load Balancer", "Load Balancer"},
	"microsoft.network/privateendpoints":               {0.24, "Virtual Network", "Virtual Network"},
	"microsoft.network/dnszones":                       {0.017, "Azure DNS", "Azure DNS"},
	"microsoft.network/privatednszones":                {0.017, "Azure DNS", "Azure DNS"},
	"microsoft.storage/storageaccounts":                {0.8, "Storage", "Storage"},
	"microsoft.web/serverfarms":                        {3.2, "Azure App Service", "Azure App Service"},
	"microsoft.sql/servers/databases":                  {5.0, "SQL Database", "SQL Database"},
	"microsoft.keyvault/vaults":                        {0.05, "Key Vault", "Key Vault"},
	"microsoft.insights/components":                    {0.6, "Azure Monitor", "Log Analytics"},
	"microsoft.operationalinsights/workspaces":         {2.5, "Log Analytics", "Log Analytics"},
	"microsoft.containerservice/managedclusters":       {2.4, "Azure Kubernetes Service", "Azure Kubernetes Service"},
	"microsoft.containerregistry/registries":           {0.55, "Container Registry", "Container Registry"},
	"microsoft.documentdb/databaseaccounts":            {7.5, "Azure Cosmos DB", "Azure Cosmos DB"},
	"microsoft.automation/automationaccounts":          {0.03, "Automation", "Automation"},
	"microsoft.cache/redis":                            {1.9, "Redis Cache", "Redis Cache"},
	"microsoft.servicebus/namespaces":                  {0.33, "Service Bus", "Service Bus"},
	"microsoft.eventhub/namespaces":                    {0.73, "Event Hubs", "Event Hubs"},
	"microsoft.recoveryservices/vaults":                {1.1, "Backup", "Backup"},
	"microsoft.logic/workflows":                        {0.2, "Logic Apps", "Logic Apps"},
	"microsoft.cdn/profiles":                           {0.4, "Content Delivery Network", "Content Delivery Network"},
	"microsoft.managedidentity/userassignedidentities": {0, "", ""},
}

// skuFactor scales a type's base by its SKU tier.
func skuFactor(v resVariant) float64 {
	switch strings.ToLower(v.SkuName) {
	case "premium_lrs", "premium", "p1v3", "p2v3", "businesscritical":
		return 2.2
	case "standard_lrs", "basic", "free", "b1":
		return 0.4
	}
	return 1
}

// currencies by tenant country, with the USD rate.
var currencyOf = map[string]string{"US": "USD", "GB": "GBP", "NL": "EUR", "DE": "EUR", "FR": "EUR", "SE": "EUR"}
var usdRate = map[string]float64{"USD": 1, "EUR": 0.92, "GBP": 0.79}

func (w *world) currency(s *subscription) string {
	if t := w.tenants[s.TenantID]; t != nil {
		if c, ok := currencyOf[t.CountryCode]; ok {
			return c
		}
	}
	return "USD"
}

// costHash mixes the seed, a lower-case resource ID and a day into 64
// bits.
func costHash(seed int64, lid string, day int64) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], uint64(day))
	h.Write(b[:])
	h.Write([]byte(lid))
	x := h.Sum64()
	// splitmix64 finaliser: FNV's low bits are weak.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// dayNumber is days since the Unix epoch of a UTC date.
func dayNumber(t time.Time) int64 { return t.Unix() / 86400 }

// resCost is one resource's cost parameters, computed once per query.
type resCost struct {
	lid       string // lower-case ID
	perDay    float64
	weekends  bool // shut down at weekends
	firstDay  int64
	seed      int64
	service   string
	meter     string
	chargable bool
}

func newResCost(seed int64, r *resource) resCost {
	rc := resCost{lid: strings.ToLower(r.id()), seed: seed, firstDay: r.created / 86400}
	p, ok := costProfiles[r.typ.lower]
	if !ok || p.base == 0 {
		return rc
	}
	size := 0.3 + 3*unit(costHash(seed, rc.lid, -1)) // the resource's own scale
	rc.perDay = p.base * skuFactor(r.typ.Variants[r.variant]) * size
	rc.weekends = (r.typ.lower == "microsoft.compute/virtualmachines" || r.typ.lower == "microsoft.containerservice/managedclusters") &&
		unit(costHash(seed, rc.lid, -2)) < 0.4
	rc.service, rc.meter, rc.chargable = p.service, p.meter, true
	return rc
}

// usd is what the resource costs in USD on the day (days since the epoch):
// 0 before it existed.
func (rc *resCost) usd(day int64) float64 {
	if !rc.chargable || day < rc.firstDay {
		return 0
	}
	f := 0.9 + 0.2*unit(costHash(rc.seed, rc.lid, day))
	if rc.weekends {
		// 1970-01-01 was a Thursday: day%7 is 2 on Saturdays, 3 on Sundays.
		if wd := ((day % 7) + 7) % 7; wd == 2 || wd == 3 {
			f *= 0.35
		}
	}
	return math.Round(rc.perDay*f*1e8) / 1e8
}
