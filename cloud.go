package steward

import (
	"encoding/json"
	"os"
)

// ConnectionFile describes an Azure emulator for Steward and for people's own
// tools: where it listens, the CA that signed its certificate, and the seeded
// tenants with their users and service principals. `steward emulator` writes
// it; `--cloud PATH` reads it. It holds test passwords and secrets of the
// emulator only, never of a real tenant.
type ConnectionFile struct {
	URL       string             `json:"url"` // e.g. https://127.0.0.1:8444
	CACertPEM string             `json:"caCertPEM"`
	Tenants   []ConnectionTenant `json:"tenants"`
	App       ConnectionApp      `json:"app"` // Steward's multi-tenant app, registered in the partner tenant

	// Endpoints, for tools that configure a cloud by hand. All derive from
	// URL; they are spelled out so nobody has to guess.
	AuthorityHost           string `json:"authorityHost,omitempty"`           // URL + "/": azcore cloud.Configuration.ActiveDirectoryAuthorityHost
	ResourceManagerEndpoint string `json:"resourceManagerEndpoint,omitempty"` // URL
	ResourceManagerAudience string `json:"resourceManagerAudience,omitempty"` // URL (scope URL + "/.default")
	GraphEndpoint           string `json:"graphEndpoint,omitempty"`           // URL + "/v1.0"
	GraphAudience           string `json:"graphAudience,omitempty"`           // https://graph.microsoft.com
	Estate                  string `json:"estate,omitempty"`                  // small, medium, large or ci
	Seed                    int64  `json:"seed,omitempty"`
}

// ConnectionTenant is one seeded Entra tenant.
type ConnectionTenant struct {
	ID                string                `json:"id"`
	Name              string                `json:"name"`
	Kind              string                `json:"kind"` // "partner" or "customer"
	Subscriptions     []string              `json:"subscriptions"`
	Users             []ConnectionUser      `json:"users"`
	ServicePrincipals []ConnectionPrincipal `json:"servicePrincipals"`
}

// ConnectionUser is a seeded user who can sign in on the emulator's pages.
type ConnectionUser struct {
	UserPrincipalName string   `json:"userPrincipalName"`
	Password          string   `json:"password"`
	ObjectID          string   `json:"objectId"`
	Roles             []string `json:"roles"` // "Role Name@scope"
}

// ConnectionPrincipal is a seeded app registration with a client secret.
type ConnectionPrincipal struct {
	Name         string   `json:"name"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	ObjectID     string   `json:"objectId"` // the service principal's object ID
	Roles        []string `json:"roles"`
}

// ConnectionApp is Steward's own multi-tenant app registration.
type ConnectionApp struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// ReadConnectionFile loads a connection file. EINVALID when it is not one.
func ReadConnectionFile(path string) (*ConnectionFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, WrapError(EINVALID, err, "Cannot read the emulator connection file %s.", path)
	}
	var cf ConnectionFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, WrapError(EINVALID, err, "%s is not an emulator connection file (JSON).", path)
	}
	if cf.URL == "" || cf.CACertPEM == "" {
		return nil, Errorf(EINVALID, "%s has no url or caCertPEM.", path)
	}
	return &cf, nil
}

// Tenant returns the seeded tenant with the given name or ID.
func (cf *ConnectionFile) Tenant(nameOrID string) (*ConnectionTenant, bool) {
	for i := range cf.Tenants {
		if cf.Tenants[i].Name == nameOrID || cf.Tenants[i].ID == nameOrID {
			return &cf.Tenants[i], true
		}
	}
	return nil, false
}
