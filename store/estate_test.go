package store_test

import (
	"fmt"
	"hash/fnv"
	"iter"

	"github.com/stewardhq/steward"
)

// benchEstate describes a deterministic inventory for benchmarks: tenants,
// their subscriptions of uneven sizes, and resources with a realistic mix
// of tags (common and rare names and values, names spelled several ways).
type benchEstate struct {
	tenants       int
	subsPerTenant int
	resources     int
}

// estate1M is the estate the listing benchmarks run on.
var estate1M = benchEstate{tenants: 10, subsPerTenant: 20, resources: 1_000_000}

func (e benchEstate) tenantID(t int) string { return guid('e', t) }

func (e benchEstate) subID(t, s int) string { return guid('5', t*1000+s) }

// subSizes splits the resources over the subscriptions unevenly (from a
// few hundred to about ten thousand), in tenant order.
func (e benchEstate) subSizes() []int {
	n := e.tenants * e.subsPerTenant
	sizes := make([]int, n)
	total := 0
	for k := range sizes {
		sizes[k] = 1 + int(uint32(k+1)*2654435761%9000)
		total += sizes[k]
	}
	left := e.resources
	for k := range sizes {
		sizes[k] = sizes[k] * e.resources / total
		left -= sizes[k]
	}
	sizes[n-1] += left
	return sizes
}

var benchTypes = []string{
	"Microsoft.Compute/virtualMachines", "Microsoft.Compute/disks", "Microsoft.Network/networkInterfaces",
	"Microsoft.Network/publicIPAddresses", "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups",
	"Microsoft.Storage/storageAccounts", "Microsoft.Web/sites", "Microsoft.Web/serverFarms", "Microsoft.Sql/servers",
	"Microsoft.Sql/servers/databases", "Microsoft.KeyVault/vaults", "Microsoft.Insights/components",
	"Microsoft.OperationalInsights/workspaces", "Microsoft.ContainerService/managedClusters", "Microsoft.DocumentDB/databaseAccounts",
}

// h is a deterministic pseudo-random number for (i, salt).
func h(i int, salt string) uint32 {
	f := fnv.New32a()
	fmt.Fprintf(f, "%d/%s", i, salt)
	return f.Sum32()
}

// estateTags returns the tags of resource number i:
// env on 90% (prod 40%, dev 30%, test 20%, staging 10%; spelled env, Env
// or ENV), owner on 70% (200 values), costcenter on 50% (50 values), app
// on 60% (2,000 values), compliance=pci on 0.5%.
func estateTags(i int) map[string]string {
	tags := map[string]string{}
	if r := h(i, "env") % 100; r < 90 {
		key := "env"
		if s := h(i, "spell") % 100; s >= 95 {
			key = "ENV"
		} else if s >= 80 {
			key = "Env"
		}
		switch v := h(i, "envv") % 10; {
		case v < 4:
			tags[key] = "prod"
		case v < 7:
			tags[key] = "dev"
		case v < 9:
			tags[key] = "test"
		default:
			tags[key] = "staging"
		}
	}
	if h(i, "owner")%100 < 70 {
		tags["owner"] = fmt.Sprintf("owner-%03d", h(i, "ownerv")%200)
	}
	if h(i, "cc")%100 < 50 {
		tags["costcenter"] = fmt.Sprintf("cc-%02d", h(i, "ccv")%50)
	}
	if h(i, "app")%100 < 60 {
		tags["app"] = fmt.Sprintf("app-%04d", h(i, "appv")%2000)
	}
	if h(i, "compliance")%1000 < 5 {
		tags["compliance"] = "pci"
	}
	return tags
}

// estateResource returns resource number n (counted across the estate)
// of subscription sub.
func estateResource(sub string, n int) *steward.Resource {
	rg := fmt.Sprintf("rg-%02d", h(n, "rg")%12)
	typ := benchTypes[h(n, "type")%uint32(len(benchTypes))]
	name := fmt.Sprintf("res-%07d", n)
	return &steward.Resource{
		ID:             "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + typ + "/" + name,
		SubscriptionID: sub, ResourceGroup: rg, Name: name, Type: typ,
		Location: []string{"westeurope", "northeurope", "eastus", "westus2"}[h(n, "loc")%4],
		Tags:     estateTags(n),
	}
}

// estatePage is one page of a subscription's resources.
type estatePage struct {
	tenant, sub int
	subID       string
	resources   []*steward.Resource
}

// pages yields the estate a page of pageSize at a time, subscription by
// subscription, as a sync would see it.
func (e benchEstate) pages(pageSize int) iter.Seq[estatePage] {
	return func(yield func(estatePage) bool) {
		sizes := e.subSizes()
		n := 0
		for t := range e.tenants {
			for s := range e.subsPerTenant {
				sub := e.subID(t, s)
				size := sizes[t*e.subsPerTenant+s]
				for start := 0; start < size; start += pageSize {
					p := estatePage{tenant: t, sub: s, subID: sub}
					for range min(pageSize, size-start) {
						p.resources = append(p.resources, estateResource(sub, n))
						n++
					}
					if !yield(p) {
						return
					}
				}
			}
		}
	}
}
