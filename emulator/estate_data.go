package emulator

// Name pools for seeded estates. Company and people names are Microsoft's
// fictitious demo names; everything else is invented.

var companyNames = []string{
	"Fabrikam", "Tailspin Toys", "Wide World Importers", "Woodgrove Bank", "Adventure Works", "Litware",
	"Proseware", "Fourth Coffee", "Alpine Ski House", "Blue Yonder Airlines", "Coho Winery", "Humongous Insurance",
	"Lamna Healthcare", "Margie's Travel", "Relecloud", "Trey Research", "VanArsdel", "Wingtip Toys",
	"Lucerne Publishing", "Consolidated Messenger", "Southridge Video", "Best For You Organics", "Bellows College",
	"Graphic Design Institute", "City Power & Light", "Munson's Pickles", "Nod Publishers", "Contoso Pharmaceuticals",
	"Tasmanian Traders", "Boulder Innovations",
}

var peopleNames = [][2]string{
	{"Megan", "Bowen"}, {"Alex", "Wilber"}, {"Lidia", "Holloway"}, {"Adele", "Vance"}, {"Diego", "Siciliani"},
	{"Grady", "Archie"}, {"Isaiah", "Langer"}, {"Johanna", "Lorenz"}, {"Lee", "Gu"}, {"Lynne", "Robbins"},
	{"Miriam", "Graham"}, {"Nestor", "Wilke"}, {"Patti", "Fernandez"}, {"Pradeep", "Gupta"}, {"Henrietta", "Mueller"},
	{"Joni", "Sherman"}, {"Irvin", "Sayers"}, {"Debra", "Berger"},
}

var appNames = []string{
	"payments", "billing", "crm", "erp", "webshop", "catalog", "inventory", "orders", "shipping", "identity",
	"portal", "intranet", "hr", "payroll", "analytics", "reporting", "datalake", "etl", "search", "recommender",
	"mobile-api", "gateway", "notifications", "chat", "docs", "wiki", "ci", "monitoring", "logging", "backup",
	"iot", "telemetry", "pricing", "loyalty", "checkout", "fraud", "ledger", "claims", "policy", "booking",
	"scheduler", "maps", "media", "cdn-origin", "auth", "sso", "vault", "secrets", "ml", "forecast",
	"warehouse", "supplier", "quality", "support", "ticketing", "kiosk", "pos", "ecommerce", "marketing", "survey",
}

var departments = []string{"Finance", "IT", "Sales", "Marketing", "Operations", "HR", "R&D", "Logistics", "Customer Service", "Legal"}

// Environments with the messy spellings people use for each.
var envSpellings = map[string][]string{
	"prod":  {"Production", "Production", "Production", "production", "prod", "Prod", "PROD", "prd"},
	"dev":   {"Development", "Development", "dev", "Dev", "development", "DEV"},
	"test":  {"Test", "Test", "test", "QA", "qa", "Testing"},
	"stage": {"Staging", "Staging", "stage", "stg", "Pre-Production"},
}

var envOrder = []string{"prod", "dev", "test", "stage"}

// Tag-name spellings, weighted by repetition: most resources use the
// canonical name, some drift in casing, a few have typos.
var envKeys = []string{
	"Environment", "Environment", "Environment", "Environment", "Environment", "Environment", "Environment",
	"Environment", "Environment", "Environment", "Environment", "Environment", "environment", "environment",
	"Env", "Env", "env", "env", "ENV", "enviroment", "Enviroment",
}

var ownerKeys = []string{"Owner", "Owner", "Owner", "Owner", "Owner", "owner", "owner", "OWNER", "Owner ", "BusinessOwner"}

var costCenterKeys = []string{"CostCenter", "CostCenter", "CostCenter", "CostCenter", "costcenter", "cost-center", "Cost Center", "CostCentre"}

var appKeys = []string{"Application", "Application", "Application", "application", "app", "App", "ApplicationName"}

var createdByKeys = []string{"created-by", "CreatedBy", "createdBy"}

var createdByValues = []string{"terraform", "Terraform", "bicep", "portal", "azure-cli", "pulumi", "arm-template"}

var locationShort = map[string]string{
	"westeurope": "weu", "northeurope": "neu", "eastus": "eus", "eastus2": "eus2", "westus2": "wus2",
	"uksouth": "uks", "swedencentral": "sdc", "centralus": "cus", "francecentral": "frc", "germanywestcentral": "gwc",
}

var subscriptionSuffixes = []string{"Production", "Dev/Test", "Shared Services", "Data Platform", "Sandbox", "Analytics", "Connectivity", "Identity", "Management", "Legacy"}
