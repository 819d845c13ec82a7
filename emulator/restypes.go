package emulator

import (
	"strings"
)

// resType is a resource type the emulator knows: its name, the tag limits
// that apply to it, and the kind/sku combinations its resources carry. A
// resource points at its type and picks a variant by index, so a million
// resources share a few dozen of these.
type resType struct {
	Name        string // Microsoft.Compute/virtualMachines
	lower       string
	Namespace   string // Microsoft.Compute
	segments    []string
	TagNameMax  int  // 512, or 128 for storage accounts
	MaxTags     int  // 50, or 15 for the few types Azure limits
	NoTags      bool // the type does not support tags
	APIVersions []string
	Variants    []resVariant
}

// resVariant is one kind/sku combination, with its JSON fragment ready.
type resVariant struct {
	Kind    string
	SkuName string
	SkuTier string
	frag    []byte // `,"sku":{…},"kind":"…"` or empty
}

// Locations the estate uses; a resource stores an index into this table.
var locations = []string{
	"westeurope", "northeurope", "eastus", "eastus2", "westus2", "uksouth",
	"swedencentral", "centralus", "francecentral", "germanywestcentral",
}

var locationIndex = func() map[string]uint8 {
	m := map[string]uint8{}
	for i, l := range locations {
		m[l] = uint8(i)
	}
	return m
}()

func v(kind, sku, tier string) resVariant { return resVariant{Kind: kind, SkuName: sku, SkuTier: tier} }

// Resource types with realistic kinds and SKUs. API versions are a subset of
// the versions each provider really serves; requests with others get
// NoRegisteredProviderFound, as in Azure.
var resTypes = []*resType{
	{Name: "Microsoft.Compute/virtualMachines", APIVersions: []string{"2021-03-01", "2022-08-01", "2023-03-01", "2023-09-01", "2024-03-01", "2024-07-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Compute/disks", APIVersions: []string{"2021-04-01", "2022-07-02", "2023-04-02", "2024-03-02"}, Variants: []resVariant{v("", "Premium_LRS", "Premium"), v("", "StandardSSD_LRS", "Standard"), v("", "Standard_LRS", "Standard")}},
	{Name: "Microsoft.Compute/snapshots", APIVersions: []string{"2021-04-01", "2022-07-02", "2023-04-02", "2024-03-02"}, Variants: []resVariant{v("", "Standard_LRS", "Standard")}},
	{Name: "Microsoft.Compute/availabilitySets", APIVersions: []string{"2022-08-01", "2023-09-01", "2024-07-01"}, Variants: []resVariant{v("", "Aligned", "")}},
	{Name: "Microsoft.Network/networkInterfaces", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/virtualNetworks", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/networkSecurityGroups", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/publicIPAddresses", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "Standard", "Regional"), v("", "Basic", "Regional")}},
	{Name: "Microsoft.Network/loadBalancers", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "Standard", "Regional")}},
	{Name: "Microsoft.Network/privateEndpoints", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/networkWatchers", APIVersions: []string{"2022-07-01", "2023-05-01", "2023-09-01", "2024-01-01", "2024-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/dnsZones", MaxTags: 15, APIVersions: []string{"2018-05-01", "2023-07-01-preview"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Network/privateDnsZones", MaxTags: 15, APIVersions: []string{"2020-06-01", "2024-06-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Storage/storageAccounts", TagNameMax: 128, APIVersions: []string{"2021-09-01", "2022-09-01", "2023-01-01", "2023-05-01", "2024-01-01"}, Variants: []resVariant{v("StorageV2", "Standard_LRS", "Standard"), v("StorageV2", "Standard_GRS", "Standard"), v("StorageV2", "Standard_ZRS", "Standard"), v("BlobStorage", "Standard_RAGRS", "Standard")}},
	{Name: "Microsoft.Web/serverFarms", APIVersions: []string{"2022-03-01", "2022-09-01", "2023-01-01", "2023-12-01"}, Variants: []resVariant{v("app", "P1v3", "PremiumV3"), v("linux", "B1", "Basic"), v("linux", "P2v3", "PremiumV3"), v("functionapp", "Y1", "Dynamic")}},
	{Name: "Microsoft.Web/sites", APIVersions: []string{"2022-03-01", "2022-09-01", "2023-01-01", "2023-12-01"}, Variants: []resVariant{v("app", "", ""), v("app,linux", "", ""), v("functionapp", "", ""), v("functionapp,linux", "", "")}},
	{Name: "Microsoft.Sql/servers", APIVersions: []string{"2021-11-01", "2022-05-01-preview", "2023-05-01-preview", "2023-08-01"}, Variants: []resVariant{v("v12.0", "", "")}},
	{Name: "Microsoft.Sql/servers/databases", APIVersions: []string{"2021-11-01", "2022-05-01-preview", "2023-05-01-preview", "2023-08-01"}, Variants: []resVariant{v("v12.0,user,vcore", "GP_Gen5_2", "GeneralPurpose"), v("v12.0,user", "S1", "Standard"), v("v12.0,user,vcore,serverless", "GP_S_Gen5_1", "GeneralPurpose"), v("v12.0,system", "System", "System")}},
	{Name: "Microsoft.KeyVault/vaults", APIVersions: []string{"2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Insights/components", APIVersions: []string{"2015-05-01", "2020-02-02"}, Variants: []resVariant{v("web", "", ""), v("other", "", "")}},
	{Name: "Microsoft.OperationalInsights/workspaces", APIVersions: []string{"2021-06-01", "2022-10-01", "2023-09-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.ContainerService/managedClusters", APIVersions: []string{"2023-08-01", "2024-02-01", "2024-05-01", "2024-09-01"}, Variants: []resVariant{v("", "Base", "Free"), v("", "Base", "Standard")}},
	{Name: "Microsoft.ContainerRegistry/registries", APIVersions: []string{"2022-12-01", "2023-07-01", "2023-11-01-preview"}, Variants: []resVariant{v("", "Basic", "Basic"), v("", "Standard", "Standard"), v("", "Premium", "Premium")}},
	{Name: "Microsoft.DocumentDB/databaseAccounts", APIVersions: []string{"2023-04-15", "2023-11-15", "2024-05-15", "2024-08-15"}, Variants: []resVariant{v("GlobalDocumentDB", "", ""), v("MongoDB", "", "")}},
	{Name: "Microsoft.Automation/automationAccounts", MaxTags: 15, APIVersions: []string{"2022-08-08", "2023-11-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Cache/Redis", APIVersions: []string{"2023-04-01", "2023-08-01", "2024-03-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.ServiceBus/namespaces", APIVersions: []string{"2021-11-01", "2022-10-01-preview", "2024-01-01"}, Variants: []resVariant{v("", "Standard", "Standard"), v("", "Basic", "Basic")}},
	{Name: "Microsoft.EventHub/namespaces", APIVersions: []string{"2021-11-01", "2022-10-01-preview", "2024-01-01"}, Variants: []resVariant{v("", "Standard", "Standard")}},
	{Name: "Microsoft.RecoveryServices/vaults", APIVersions: []string{"2023-04-01", "2023-06-01", "2024-04-01"}, Variants: []resVariant{v("", "RS0", "Standard")}},
	{Name: "Microsoft.ManagedIdentity/userAssignedIdentities", APIVersions: []string{"2023-01-31", "2023-07-31-preview"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Logic/workflows", APIVersions: []string{"2016-06-01", "2019-05-01"}, Variants: []resVariant{v("", "", "")}},
	{Name: "Microsoft.Cdn/profiles", MaxTags: 15, APIVersions: []string{"2023-05-01", "2024-02-01"}, Variants: []resVariant{v("frontdoor", "Standard_AzureFrontDoor", ""), v("", "Standard_Microsoft", "")}},
}

var (
	resTypeByLower = map[string]*resType{}
	// resNamespaces holds the provider namespaces the emulator serves, lower-cased.
	resNamespaces = map[string]string{}
)

func init() {
	for _, t := range resTypes {
		t.lower = strings.ToLower(t.Name)
		i := strings.IndexByte(t.Name, '/')
		t.Namespace = t.Name[:i]
		t.segments = strings.Split(t.Name[i+1:], "/")
		if t.TagNameMax == 0 {
			t.TagNameMax = 512
		}
		if t.MaxTags == 0 {
			t.MaxTags = 50
		}
		for j := range t.Variants {
			t.Variants[j].frag = variantFragment(t.Variants[j])
		}
		resTypeByLower[t.lower] = t
		resNamespaces[strings.ToLower(t.Namespace)] = t.Namespace
	}
}

func variantFragment(v resVariant) []byte {
	var b []byte
	if v.SkuName != "" {
		b = append(b, `,"sku":{"name":`...)
		b = appendJSONString(b, v.SkuName)
		if v.SkuTier != "" {
			b = append(b, `,"tier":`...)
			b = appendJSONString(b, v.SkuTier)
		}
		b = append(b, '}')
	}
	if v.Kind != "" {
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, v.Kind)
	}
	return b
}

// variantIndex finds the variant with the kind and sku, or 0.
func (t *resType) variantIndex(kind, sku string) uint8 {
	for i, v := range t.Variants {
		if strings.EqualFold(v.Kind, kind) && strings.EqualFold(v.SkuName, sku) {
			return uint8(i)
		}
	}
	for i, v := range t.Variants {
		if strings.EqualFold(v.SkuName, sku) && sku != "" || strings.EqualFold(v.Kind, kind) && kind != "" {
			return uint8(i)
		}
	}
	return 0
}

func (t *resType) supportsAPIVersion(v string) bool {
	for _, x := range t.APIVersions {
		if x == v {
			return true
		}
	}
	return false
}
