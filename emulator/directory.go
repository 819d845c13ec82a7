package emulator

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"strings"
	"time"
)

// The directory model: Entra ID tenants and their objects. Object IDs and
// app IDs are GUIDs, unique across all tenants, so one map finds any object.
// Every field is guarded by world.mu.

// tenant is an Entra ID tenant (a directory).
type tenant struct {
	ID          string
	DisplayName string
	Domain      string // default domain, e.g. contoso.onmicrosoft.com
	Kind        string // "partner" or "customer"
	CountryCode string
	// Consents are tenant-wide (admin) delegated permission grants: client
	// app ID → resource → scopes. Entra's oauth2PermissionGrant with
	// consentType AllPrincipals.
	Consents map[string]map[string][]string
	// RootAssignments are role assignments at "/" (tenant root); rare, but
	// they are inherited by every subscription of the tenant.
	RootAssignments []*roleAssignment
}

// user is a member user who can sign in on the emulator's pages.
type user struct {
	ID          string
	TenantID    string
	UPN         string
	DisplayName string
	GivenName   string
	Surname     string
	Mail        string
	JobTitle    string
	Password    string
	// Admin marks a Global Administrator: the only users who may grant
	// tenant-wide consent.
	Admin   bool
	Enabled bool
	Created time.Time
}

// group is a Microsoft 365 or security group.
type group struct {
	ID              string
	TenantID        string
	DisplayName     string
	Description     string
	MailNickname    string
	SecurityEnabled bool
	MailEnabled     bool
	Members         []string // object IDs (users, groups, service principals)
	Created         time.Time
}

// application is an app registration, living in its home tenant.
type application struct {
	ObjectID       string
	AppID          string
	TenantID       string // home tenant
	DisplayName    string
	SignInAudience string // AzureADMyOrg or AzureADMultipleOrgs
	RedirectURIs   []string
	PublicClient   bool
	Passwords      []*passwordCredential
	Keys           []*keyCredential
	Owners         []string // object IDs of users or service principals
	// RequiredAccess is what the app asks for at consent: resource → scopes.
	RequiredAccess map[string][]string
	Created        time.Time
}

func (a *application) multiTenant() bool {
	return a.SignInAudience != "AzureADMyOrg"
}

// passwordCredential is a client secret. The emulator keeps the secret text
// so the connection file can hand seeded secrets out; real Entra keeps only
// a hash and shows the text once.
type passwordCredential struct {
	KeyID       string
	DisplayName string
	Hint        string
	Secret      string
	Start       time.Time
	End         time.Time
}

// keyCredential is a certificate (public part) used for client assertions.
type keyCredential struct {
	KeyID       string
	DisplayName string
	CertDER     []byte
	Start       time.Time
	End         time.Time
}

func (k *keyCredential) thumbprintSHA1() []byte {
	h := sha1.Sum(k.CertDER) // #nosec G401 -- x5t is defined as SHA-1
	return h[:]
}

func (k *keyCredential) thumbprintSHA256() []byte {
	h := sha256.Sum256(k.CertDER)
	return h[:]
}

func (k *keyCredential) cert() (*x509.Certificate, error) { return x509.ParseCertificate(k.CertDER) }

// servicePrincipal is an app's identity in one tenant: created in the home
// tenant with the app, and in other tenants by admin consent.
type servicePrincipal struct {
	ID             string
	TenantID       string
	AppID          string
	DisplayName    string
	AppOwnerTenant string
	Enabled        bool
	// GraphRoles are Microsoft Graph application permissions granted to this
	// principal (appRoleAssignments), e.g. Application.ReadWrite.OwnedBy.
	GraphRoles []string
	Created    time.Time
}

// Principal types as ARM role assignments name them.
const (
	principalUser             = "User"
	principalGroup            = "Group"
	principalServicePrincipal = "ServicePrincipal"
)

// principalType returns the ARM principal type of a directory object and
// whether it exists.
func (w *world) principalType(objectID string) (string, string, bool) {
	switch o := w.objects[lowerGUID(objectID)].(type) {
	case *user:
		return principalUser, o.TenantID, true
	case *group:
		return principalGroup, o.TenantID, true
	case *servicePrincipal:
		return principalServicePrincipal, o.TenantID, true
	}
	return "", "", false
}

// spByApp finds the service principal of an app in a tenant.
func (w *world) spByApp(tenantID, appID string) *servicePrincipal {
	for _, id := range w.spsByApp[strings.ToLower(appID)] {
		if sp, ok := w.objects[id].(*servicePrincipal); ok && strings.EqualFold(sp.TenantID, tenantID) {
			return sp
		}
	}
	return nil
}

// groupsOf returns the IDs of every group the object belongs to, directly or
// through nested groups.
func (w *world) groupsOf(objectID string) []string {
	var out []string
	seen := map[string]bool{}
	queue := []string{lowerGUID(objectID)}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, g := range w.memberOf[id] {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
				queue = append(queue, g)
			}
		}
	}
	return out
}

// reindexMembers rebuilds memberOf after any group change. Groups are few,
// so rebuilding is simpler than keeping incremental indexes right.
func (w *world) reindexMembers() {
	w.memberOf = map[string][]string{}
	for _, o := range w.objects {
		g, ok := o.(*group)
		if !ok {
			continue
		}
		for _, m := range g.Members {
			m = lowerGUID(m)
			if !slices.Contains(w.memberOf[m], g.ID) {
				w.memberOf[m] = append(w.memberOf[m], g.ID)
			}
		}
	}
}

// consented reports whether the tenant has granted the app every scope.
func (t *tenant) consented(appID, resource string, scopes []string) bool {
	granted := t.Consents[strings.ToLower(appID)][resource]
	for _, s := range scopes {
		if !containsFold(granted, s) {
			return false
		}
	}
	return true
}

func (t *tenant) grantConsent(appID, resource string, scopes []string) {
	if t.Consents == nil {
		t.Consents = map[string]map[string][]string{}
	}
	app := strings.ToLower(appID)
	if t.Consents[app] == nil {
		t.Consents[app] = map[string][]string{}
	}
	for _, s := range scopes {
		if !containsFold(t.Consents[app][resource], s) {
			t.Consents[app][resource] = append(t.Consents[app][resource], s)
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
