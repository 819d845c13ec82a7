package emulator

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// subGen fills one subscription with resource groups and resources in
// workload bundles (VMs with their disks and NICs, web apps with plans and
// insights, SQL servers with databases, AKS, integration, caches…), tagged
// the way real estates are: mostly consistent, with drifting key casing,
// typos, missing owners and a few untagged resources.
type subGen struct {
	r      *rand.Rand
	s      *subscription
	t      *tenant
	people []string
	in     *tagInterner
	left   int
	env    string
	loc    string
	ct     canon
	keys   []string
	vals   []string
}

// canon is a workload's intended tags, before people get creative.
type canon struct {
	app, env, owner, cost, dept string
}

var typeByName = func() map[string]*resType {
	m := map[string]*resType{}
	for _, t := range resTypes {
		m[t.Name] = t
	}
	return m
}()

func rt(name string) *resType { return typeByName[name] }

func (g *subGen) generate() {
	n := strings.ToLower(g.s.DisplayName)
	switch {
	case strings.Contains(n, "dev") || strings.Contains(n, "sandbox"):
		g.env = pick(g.r, []string{"dev", "dev", "test"})
	case strings.Contains(n, "production") || strings.Contains(n, "operations"):
		g.env = "prod"
	default:
		g.env = pick(g.r, []string{"prod", "prod", "stage", "test"})
	}
	g.loc = pick(g.r, []string{"westeurope", "westeurope", "westeurope", "northeurope", "eastus", "eastus2", "uksouth", "swedencentral", "westus2", "francecentral"})
	if g.r.IntN(4) == 0 {
		g.s.Tags = g.in.get([]string{"Environment", "CostCenter"}, []string{envSpellings[g.env][0], "CC-" + strconv.Itoa(1000+g.r.IntN(9000))})
	}
	g.ct = canon{app: "platform", env: g.env, owner: g.owner(), cost: g.costCenter(), dept: "IT"}
	g.networkWatcher()
	g.network()
	g.sharedServices()
	g.defaultWorkspace()
	for g.left > 0 {
		g.workload()
	}
	for _, rg := range g.s.groups {
		sort.Slice(rg.resources, func(i, j int) bool {
			a, b := rg.resources[i], rg.resources[j]
			if a.typ.lower != b.typ.lower {
				return a.typ.lower < b.typ.lower
			}
			return compareFold(a.name, b.name) < 0
		})
		out := rg.resources[:0]
		for i, r := range rg.resources {
			if i > 0 && compareRes(out[len(out)-1], r.typ.lower, r.name) == 0 {
				continue
			}
			out = append(out, r)
		}
		rg.resources = out
		g.s.nres += len(out)
	}
}

func (g *subGen) owner() string {
	if len(g.people) == 0 {
		return "cloud.admin@" + g.t.Domain
	}
	return pick(g.r, g.people)
}

func (g *subGen) costCenter() string { return strconv.Itoa(1000 + g.r.IntN(90)*7) }

// group adds a resource group with tidy-ish tags.
func (g *subGen) group(name, loc string) *resourceGroup {
	base := name
	for i := 2; g.s.group(name) != nil; i++ {
		name = base + "-" + twoDigits(i)
	}
	rg := &resourceGroup{Name: name, Location: loc, Created: seedRef.Add(-time.Duration(g.r.IntN(900*24)) * time.Hour)}
	if g.r.IntN(100) < 80 {
		keys := []string{"Environment", "Owner", "CostCenter", "Application"}
		vals := []string{envSpellings[g.ct.env][0], g.ct.owner, "CC-" + g.ct.cost, g.ct.app}
		if g.r.IntN(100) < 25 {
			keys, vals = keys[:2], vals[:2]
		}
		rg.Tags = g.in.get(keys, vals)
	}
	g.s.addGroup(rg)
	return rg
}

func twoDigits(i int) string {
	if i < 10 {
		return "0" + strconv.Itoa(i)
	}
	return strconv.Itoa(i)
}

// add creates a resource unless the subscription's quota is used up.
func (g *subGen) add(rg *resourceGroup, t *resType, name string, managedBy *resource) *resource {
	if g.left <= 0 {
		return nil
	}
	g.left--
	created := seedRef.Add(-time.Duration(g.r.IntN(1000*24*3600)) * time.Second)
	changed := created.Add(time.Duration(g.r.IntN(200*24*3600)) * time.Second)
	if changed.After(seedRef) {
		changed = seedRef
	}
	r := &resource{
		group: rg, typ: t, name: name, loc: locationIndex[rg.Location], managedBy: managedBy,
		variant: uint8(g.r.IntN(len(t.Variants))), tags: g.messyTags(t), created: created.Unix(), changed: changed.Unix(),
	}
	rg.resources = append(rg.resources, r)
	return r
}

// messyTags derives a resource's tags from the workload's canonical ones.
func (g *subGen) messyTags(t *resType) *tagSet {
	r := g.r
	if r.IntN(100) < 9 {
		return nil
	}
	g.keys, g.vals = g.keys[:0], g.vals[:0]
	put := func(k, v string) {
		for _, x := range g.keys {
			if strings.EqualFold(x, k) {
				return
			}
		}
		g.keys = append(g.keys, k)
		g.vals = append(g.vals, v)
	}
	if r.IntN(100) < 93 {
		put(pick(r, envKeys), pick(r, envSpellings[g.ct.env]))
	}
	if r.IntN(100) < 68 {
		owner := g.ct.owner
		switch r.IntN(6) {
		case 0:
			owner = strings.SplitN(owner, "@", 2)[0]
		case 1:
			owner = strings.ToUpper(owner[:1]) + owner[1:]
		}
		put(pick(r, ownerKeys), owner)
	}
	if r.IntN(100) < 62 {
		v := "CC-" + g.ct.cost
		switch r.IntN(5) {
		case 0:
			v = g.ct.cost
		case 1:
			v = "cc" + g.ct.cost
		}
		put(pick(r, costCenterKeys), v)
	}
	if r.IntN(100) < 74 {
		put(pick(r, appKeys), g.ct.app)
	}
	if r.IntN(100) < 30 {
		put("Department", g.ct.dept)
	}
	if r.IntN(100) < 22 {
		put(pick(r, createdByKeys), pick(r, createdByValues))
	}
	if r.IntN(100) < 6 {
		put("Backup", pick(r, []string{"Daily", "daily", "Weekly", "None"}))
	}
	if r.IntN(100) < 3 {
		put("DoNotDelete", "true")
	}
	if t.Name == "Microsoft.Web/sites" && r.IntN(2) == 0 {
		put("hidden-related:/subscriptions/"+g.s.ID+"/resourceGroups/placeholder", "empty")
	}
	if len(g.keys) > t.MaxTags {
		g.keys, g.vals = g.keys[:t.MaxTags], g.vals[:t.MaxTags]
	}
	return g.in.get(g.keys, g.vals)
}

func (g *subGen) networkWatcher() {
	rg := g.group("NetworkWatcherRG", g.loc)
	g.add(rg, rt("Microsoft.Network/networkWatchers"), "NetworkWatcher_"+g.loc, nil)
}

func (g *subGen) network() {
	ls := locationShort[g.loc]
	rg := g.group("rg-network-"+g.env+"-"+ls, g.loc)
	g.add(rg, rt("Microsoft.Network/virtualNetworks"), "vnet-"+g.env+"-"+ls+"-001", nil)
	g.add(rg, rt("Microsoft.Network/networkSecurityGroups"), "nsg-"+g.env+"-"+ls+"-default", nil)
	if g.r.IntN(2) == 0 {
		g.add(rg, rt("Microsoft.Network/publicIPAddresses"), "pip-"+g.env+"-"+ls+"-gw", nil)
		g.add(rg, rt("Microsoft.Network/loadBalancers"), "lbe-"+g.env+"-"+ls, nil)
	}
	for _, z := range []string{"privatelink.database.windows.net", "privatelink.blob.core.windows.net", "privatelink.vaultcore.azure.net"} {
		if g.r.IntN(3) > 0 {
			g.add(rg, rt("Microsoft.Network/privateDnsZones"), z, nil)
		}
	}
}

func (g *subGen) sharedServices() {
	ls := locationShort[g.loc]
	rg := g.group("rg-shared-"+g.env+"-"+ls, g.loc)
	g.add(rg, rt("Microsoft.KeyVault/vaults"), "kv-shared-"+g.env+"-"+rngString(g.r, 4, lowerAlnum), nil)
	g.add(rg, rt("Microsoft.RecoveryServices/vaults"), "rsv-"+g.env+"-"+ls, nil)
	if g.r.IntN(2) == 0 {
		g.add(rg, rt("Microsoft.Automation/automationAccounts"), "aa-"+g.env+"-"+ls, nil)
	}
	if g.r.IntN(3) == 0 {
		g.add(rg, rt("Microsoft.Network/dnsZones"), strings.ToLower(strings.Fields(g.t.DisplayName)[0])+"-"+g.env+".example.com", nil)
	}
	for i := 0; i < 1+g.r.IntN(3); i++ {
		g.add(rg, rt("Microsoft.ManagedIdentity/userAssignedIdentities"), "id-"+pick(g.r, appNames)+"-"+g.env, nil)
	}
}

func (g *subGen) defaultWorkspace() {
	ls := strings.ToUpper(locationShort[g.loc])
	rg := g.group("DefaultResourceGroup-"+ls, g.loc)
	g.add(rg, rt("Microsoft.OperationalInsights/workspaces"), "DefaultWorkspace-"+g.s.ID+"-"+ls, nil)
}

// workload adds one application's resource group and resources.
func (g *subGen) workload() {
	env := g.env
	if g.r.IntN(5) == 0 {
		env = pick(g.r, envOrder)
	}
	app := pick(g.r, appNames)
	loc := g.loc
	if g.r.IntN(6) == 0 {
		loc = pick(g.r, locations)
	}
	g.ct = canon{app: app, env: env, owner: g.owner(), cost: g.costCenter(), dept: pick(g.r, departments)}
	ls := locationShort[loc]
	rg := g.group("rg-"+app+"-"+env+"-"+ls, loc)
	short := strings.ReplaceAll(app, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	suffix := func() string { return rngString(g.r, 4, lowerAlnum) }
	storage := func() {
		g.add(rg, rt("Microsoft.Storage/storageAccounts"), "st"+short+env+rngString(g.r, 5, lowerAlnum), nil)
	}
	switch k := g.r.IntN(100); {
	case k < 30: // virtual machines
		n := 1 + g.r.IntN(4)
		g.add(rg, rt("Microsoft.Network/networkSecurityGroups"), "nsg-"+app+"-"+env, nil)
		if n > 1 {
			g.add(rg, rt("Microsoft.Compute/availabilitySets"), "avail-"+app+"-"+env, nil)
		}
		for i := 1; i <= n; i++ {
			vmName := "vm-" + app + "-" + env + "-" + twoDigits(i)
			vm := g.add(rg, rt("Microsoft.Compute/virtualMachines"), vmName, nil)
			if vm == nil {
				return
			}
			g.add(rg, rt("Microsoft.Network/networkInterfaces"), vmName+"-nic", nil)
			g.add(rg, rt("Microsoft.Compute/disks"), vmName+"_OsDisk_1_"+rngString(g.r, 32, hexChars), vm)
			for d := 0; d < g.r.IntN(3); d++ {
				g.add(rg, rt("Microsoft.Compute/disks"), vmName+"_DataDisk_"+strconv.Itoa(d), vm)
			}
			if g.r.IntN(10) < 3 {
				g.add(rg, rt("Microsoft.Network/publicIPAddresses"), vmName+"-ip", nil)
			}
		}
		if g.r.IntN(5) == 0 {
			g.add(rg, rt("Microsoft.Compute/snapshots"), "snap-"+app+"-"+env+"-"+suffix(), nil)
		}
	case k < 55: // web
		g.add(rg, rt("Microsoft.Web/serverFarms"), "asp-"+app+"-"+env, nil)
		for _, role := range []string{"web", "api", "admin"}[:1+g.r.IntN(3)] {
			g.add(rg, rt("Microsoft.Web/sites"), "app-"+app+"-"+role+"-"+env+"-"+suffix(), nil)
		}
		g.add(rg, rt("Microsoft.Insights/components"), "appi-"+app+"-"+env, nil)
		storage()
		g.add(rg, rt("Microsoft.KeyVault/vaults"), "kv-"+short+"-"+env+"-"+suffix(), nil)
		if g.r.IntN(4) == 0 {
			g.add(rg, rt("Microsoft.Cdn/profiles"), "afd-"+app+"-"+env, nil)
		}
	case k < 70: // data
		srv := "sql-" + app + "-" + env + "-" + suffix()
		if g.add(rg, rt("Microsoft.Sql/servers"), srv, nil) == nil {
			return
		}
		g.add(rg, rt("Microsoft.Sql/servers/databases"), srv+"/master", nil)
		for i := 1; i <= 1+g.r.IntN(3); i++ {
			g.add(rg, rt("Microsoft.Sql/servers/databases"), srv+"/sqldb-"+app+"-"+strconv.Itoa(i), nil)
		}
		storage()
		g.add(rg, rt("Microsoft.Network/privateEndpoints"), "pe-"+srv, nil)
		g.add(rg, rt("Microsoft.KeyVault/vaults"), "kv-"+short+"-"+env+"-"+suffix(), nil)
	case k < 78: // kubernetes
		g.add(rg, rt("Microsoft.ContainerService/managedClusters"), "aks-"+app+"-"+env, nil)
		g.add(rg, rt("Microsoft.ContainerRegistry/registries"), "cr"+short+env+suffix(), nil)
		g.add(rg, rt("Microsoft.OperationalInsights/workspaces"), "log-"+app+"-"+env, nil)
		g.add(rg, rt("Microsoft.Network/virtualNetworks"), "vnet-"+app+"-"+env, nil)
		g.add(rg, rt("Microsoft.ManagedIdentity/userAssignedIdentities"), "id-aks-"+app+"-"+env, nil)
	case k < 90: // integration
		g.add(rg, rt("Microsoft.ServiceBus/namespaces"), "sb-"+app+"-"+env+"-"+suffix(), nil)
		if g.r.IntN(2) == 0 {
			g.add(rg, rt("Microsoft.EventHub/namespaces"), "evhns-"+app+"-"+env+"-"+suffix(), nil)
		}
		for i := 1; i <= 1+g.r.IntN(3); i++ {
			g.add(rg, rt("Microsoft.Logic/workflows"), "logic-"+app+"-"+env+"-"+strconv.Itoa(i), nil)
		}
		g.add(rg, rt("Microsoft.Web/serverFarms"), "asp-func-"+app+"-"+env, nil)
		g.add(rg, rt("Microsoft.Web/sites"), "func-"+app+"-"+env+"-"+suffix(), nil)
		storage()
	case k < 95:
		g.add(rg, rt("Microsoft.DocumentDB/databaseAccounts"), "cosmos-"+app+"-"+env+"-"+suffix(), nil)
		g.add(rg, rt("Microsoft.KeyVault/vaults"), "kv-"+short+"-"+env+"-"+suffix(), nil)
	default:
		g.add(rg, rt("Microsoft.Cache/Redis"), "redis-"+app+"-"+env+"-"+suffix(), nil)
		storage()
	}
}
