package emulator

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Applications and service principals, with passwordCredentials that expire
// for real: an expired secret stops working at the token endpoint.

// Well-known permission IDs for requiredResourceAccess (public values).
const (
	armAppID                 = "797f4846-ba00-4fd7-ba43-dac1f8f63013" // Windows Azure Service Management API
	armUserImpersonationID   = "41094075-9dad-400e-a0bd-54e686782033"
	graphUserReadID          = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
	secretMaxDefaultLifetime = 2 * 365 * 24 * time.Hour // Graph's default endDateTime
)

func passwordJSON(p *passwordCredential, withSecret bool) map[string]any {
	m := map[string]any{
		"customKeyIdentifier": nil, "displayName": nilIfEmpty(p.DisplayName), "endDateTime": graphTime(p.End),
		"hint": p.Hint, "keyId": p.KeyID, "secretText": nil, "startDateTime": graphTime(p.Start),
	}
	if withSecret {
		m["secretText"] = p.Secret
	}
	return m
}

func keyJSON(k *keyCredential) map[string]any {
	return map[string]any{
		"customKeyIdentifier": base64.StdEncoding.EncodeToString(k.thumbprintSHA1()), "displayName": nilIfEmpty(k.DisplayName),
		"endDateTime": graphTime(k.End), "key": nil, "keyId": k.KeyID, "startDateTime": graphTime(k.Start),
		"type": "AsymmetricX509Cert", "usage": "Verify",
	}
}

func (g *graphCall) appJSON(a *application) map[string]any {
	pw := make([]map[string]any, 0, len(a.Passwords))
	for _, p := range a.Passwords {
		pw = append(pw, passwordJSON(p, false))
	}
	keys := make([]map[string]any, 0, len(a.Keys))
	for _, k := range a.Keys {
		keys = append(keys, keyJSON(k))
	}
	var rra []map[string]any
	if len(a.RequiredAccess[resARM]) > 0 {
		rra = append(rra, map[string]any{"resourceAppId": armAppID, "resourceAccess": []map[string]any{{"id": armUserImpersonationID, "type": "Scope"}}})
	}
	if containsFold(a.RequiredAccess[resGraph], "User.Read") {
		rra = append(rra, map[string]any{"resourceAppId": graphAppID, "resourceAccess": []map[string]any{{"id": graphUserReadID, "type": "Scope"}}})
	}
	if rra == nil {
		rra = []map[string]any{}
	}
	publisher := ""
	if t := g.e.w.tenants[a.TenantID]; t != nil {
		publisher = t.Domain
	}
	web := []string{}
	var public []string
	for _, u := range a.RedirectURIs {
		if a.PublicClient && !strings.HasPrefix(u, "https://") {
			public = append(public, u)
		} else {
			web = append(web, u)
		}
	}
	if public == nil {
		public = []string{}
	}
	return map[string]any{
		"id": a.ObjectID, "deletedDateTime": nil, "appId": a.AppID, "applicationTemplateId": nil,
		"createdDateTime": graphTime(a.Created), "description": nil, "displayName": a.DisplayName,
		"identifierUris": []string{}, "isFallbackPublicClient": a.PublicClient, "publisherDomain": publisher,
		"signInAudience": a.SignInAudience, "tags": []string{}, "keyCredentials": keys, "passwordCredentials": pw,
		"requiredResourceAccess": rra,
		"web":                    map[string]any{"homePageUrl": nil, "logoutUrl": nil, "redirectUris": web, "implicitGrantSettings": map[string]any{"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
		"publicClient":           map[string]any{"redirectUris": public},
		"spa":                    map[string]any{"redirectUris": []string{}},
	}
}

func (g *graphCall) spJSON(sp *servicePrincipal) map[string]any {
	aud := "AzureADMultipleOrgs"
	appName := sp.DisplayName
	if a := g.e.w.apps[sp.AppID]; a != nil {
		aud, appName = a.SignInAudience, a.DisplayName
	}
	return map[string]any{
		"id": sp.ID, "deletedDateTime": nil, "accountEnabled": sp.Enabled, "appId": sp.AppID, "appDisplayName": appName,
		"appOwnerOrganizationId": sp.AppOwnerTenant, "displayName": sp.DisplayName, "servicePrincipalType": "Application",
		"servicePrincipalNames": []string{sp.AppID}, "signInAudience": aud, "tags": []string{}, "appRoles": []any{},
		"oauth2PermissionScopes": []any{}, "keyCredentials": []any{}, "passwordCredentials": []any{},
		"appRoleAssignmentRequired": false, "alternativeNames": []string{},
	}
}

// owns reports whether the caller is an owner of the app.
func (g *graphCall) owns(a *application) bool { return containsFold(a.Owners, g.c.ObjectID) }

func (g *graphCall) canReadApp(a *application) bool {
	if g.canRead("Application.Read.All", "Application.ReadWrite.All") {
		return true
	}
	return g.c.hasRole("Application.ReadWrite.OwnedBy") && g.owns(a)
}

func (g *graphCall) canWriteApp(a *application) bool {
	switch {
	case g.c.hasRole("Application.ReadWrite.All"), g.c.hasRole("Directory.ReadWrite.All"):
		return true
	case g.c.hasRole("Application.ReadWrite.OwnedBy"):
		return a == nil || g.owns(a)
	case g.c.User:
		return g.isAdmin() || a != nil && g.owns(a) || a == nil
	}
	return false
}

// findApp resolves an object ID or appId alternate key in the caller's tenant.
func (g *graphCall) findApp(key string, byAppID bool) *application {
	if byAppID {
		if a := g.e.w.apps[lowerGUID(key)]; a != nil && a.TenantID == g.t.ID {
			return a
		}
		return nil
	}
	if a, ok := g.e.w.objects[lowerGUID(key)].(*application); ok && a.TenantID == g.t.ID {
		return a
	}
	return nil
}

func (g *graphCall) applications(altKey string) {
	rest := g.segs[1:]
	key, byAppID := altKey, altKey != ""
	if key == "" && len(rest) > 0 {
		key, rest = rest[0], rest[1:]
	}
	if key == "" {
		switch g.r.Method {
		case http.MethodGet:
			var objs []map[string]any
			for _, o := range g.e.w.objects {
				if a, ok := o.(*application); ok && a.TenantID == g.t.ID && g.canReadApp(a) {
					objs = append(objs, g.appJSON(a))
				}
			}
			if objs == nil && !g.c.User && !g.c.hasRole("Application.ReadWrite.OwnedBy") && !g.canRead("Application.Read.All", "Application.ReadWrite.All") {
				g.denied()
				return
			}
			g.list("applications", objs)
		case http.MethodPost:
			g.createApp()
		default:
			g.badMethod()
		}
		return
	}
	a := g.findApp(key, byAppID)
	if a == nil || !g.canReadApp(a) {
		if a == nil {
			g.notFound(key)
		} else {
			g.denied()
		}
		return
	}
	op := ""
	if len(rest) > 0 {
		op = strings.ToLower(rest[0])
	}
	switch {
	case op == "" && g.r.Method == http.MethodGet:
		g.entity(http.StatusOK, "applications", g.appJSON(a))
	case op == "" && g.r.Method == http.MethodPatch:
		g.patchApp(a)
	case op == "" && g.r.Method == http.MethodDelete:
		if !g.canWriteApp(a) {
			g.denied()
			return
		}
		g.deleteApp(a)
		g.w.WriteHeader(http.StatusNoContent)
	case op == "addpassword" && g.r.Method == http.MethodPost:
		g.addPassword(a)
	case op == "removepassword" && g.r.Method == http.MethodPost:
		g.removePassword(a)
	case op == "owners" && g.r.Method == http.MethodGet:
		var objs []map[string]any
		for _, id := range a.Owners {
			switch o := g.e.w.objects[id].(type) {
			case *user:
				j := userJSON(o)
				j["@odata.type"] = "#microsoft.graph.user"
				objs = append(objs, j)
			case *servicePrincipal:
				j := g.spJSON(o)
				j["@odata.type"] = "#microsoft.graph.servicePrincipal"
				objs = append(objs, j)
			}
		}
		g.list("directoryObjects", objs)
	default:
		g.badMethod()
	}
}

func (g *graphCall) createApp() {
	if !g.canWriteApp(nil) {
		g.denied()
		return
	}
	var in struct {
		DisplayName    string `json:"displayName"`
		SignInAudience string `json:"signInAudience"`
		Web            struct {
			RedirectURIs []string `json:"redirectUris"`
		} `json:"web"`
		PublicClient struct {
			RedirectURIs []string `json:"redirectUris"`
		} `json:"publicClient"`
		IsFallbackPublicClient bool `json:"isFallbackPublicClient"`
	}
	if !g.decode(&in) {
		return
	}
	if in.DisplayName == "" {
		g.fail(http.StatusBadRequest, "Request_BadRequest", "A value is required for property 'displayName' of resource 'Application'.")
		return
	}
	switch in.SignInAudience {
	case "":
		in.SignInAudience = "AzureADMyOrg"
	case "AzureADMyOrg", "AzureADMultipleOrgs":
	default:
		g.fail(http.StatusBadRequest, "Request_BadRequest", "Property signInAudience has an invalid value.")
		return
	}
	a := &application{
		ObjectID: newGUID(), AppID: newGUID(), TenantID: g.t.ID, DisplayName: in.DisplayName, SignInAudience: in.SignInAudience,
		RedirectURIs: append(in.Web.RedirectURIs, in.PublicClient.RedirectURIs...), PublicClient: in.IsFallbackPublicClient || len(in.PublicClient.RedirectURIs) > 0,
		Owners: []string{g.c.ObjectID}, Created: g.e.now(),
	}
	g.e.w.addApp(a)
	g.entity(http.StatusCreated, "applications", g.appJSON(a))
}

func (g *graphCall) patchApp(a *application) {
	if !g.canWriteApp(a) {
		g.denied()
		return
	}
	var in struct {
		DisplayName    *string `json:"displayName"`
		SignInAudience *string `json:"signInAudience"`
		Web            *struct {
			RedirectURIs []string `json:"redirectUris"`
		} `json:"web"`
		KeyCredentials *[]struct {
			KeyID         string     `json:"keyId"`
			DisplayName   string     `json:"displayName"`
			Type          string     `json:"type"`
			Usage         string     `json:"usage"`
			Key           string     `json:"key"`
			StartDateTime *time.Time `json:"startDateTime"`
			EndDateTime   *time.Time `json:"endDateTime"`
		} `json:"keyCredentials"`
	}
	if !g.decode(&in) {
		return
	}
	if in.KeyCredentials != nil {
		var keys []*keyCredential
		for _, k := range *in.KeyCredentials {
			var existing *keyCredential
			for _, old := range a.Keys {
				if strings.EqualFold(old.KeyID, k.KeyID) {
					existing = old
				}
			}
			if k.Key == "" && existing != nil {
				keys = append(keys, existing)
				continue
			}
			der, err := base64.StdEncoding.DecodeString(k.Key)
			cert, cerr := x509.ParseCertificate(der)
			if err != nil || cerr != nil {
				g.fail(http.StatusBadRequest, "Request_BadRequest", "Invalid certificate: the key value is not a base64-encoded X.509 certificate.")
				return
			}
			kc := &keyCredential{KeyID: k.KeyID, DisplayName: k.DisplayName, CertDER: der, Start: cert.NotBefore, End: cert.NotAfter}
			if kc.KeyID == "" {
				kc.KeyID = newGUID()
			}
			if k.StartDateTime != nil {
				kc.Start = *k.StartDateTime
			}
			if k.EndDateTime != nil {
				kc.End = *k.EndDateTime
			}
			keys = append(keys, kc)
		}
		a.Keys = keys
	}
	if in.DisplayName != nil {
		a.DisplayName = *in.DisplayName
	}
	if in.SignInAudience != nil {
		if *in.SignInAudience != "AzureADMyOrg" && *in.SignInAudience != "AzureADMultipleOrgs" {
			g.fail(http.StatusBadRequest, "Request_BadRequest", "Property signInAudience has an invalid value.")
			return
		}
		a.SignInAudience = *in.SignInAudience
	}
	if in.Web != nil {
		a.RedirectURIs = in.Web.RedirectURIs
	}
	g.w.WriteHeader(http.StatusNoContent)
}

// deleteApp removes the registration and its service principal in the home
// tenant. Service principals in other tenants stay, but without an app they
// can no longer get tokens (AADSTS700016), as in Entra.
func (g *graphCall) deleteApp(a *application) {
	delete(g.e.w.objects, a.ObjectID)
	delete(g.e.w.apps, a.AppID)
	if sp := g.e.w.spByApp(a.TenantID, a.AppID); sp != nil {
		g.e.w.removeSP(sp)
	}
}

func (g *graphCall) addPassword(a *application) {
	if !g.canWriteApp(a) {
		g.denied()
		return
	}
	var in struct {
		PasswordCredential struct {
			DisplayName   string     `json:"displayName"`
			StartDateTime *time.Time `json:"startDateTime"`
			EndDateTime   *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if !g.decode(&in) {
		return
	}
	now := g.e.now().UTC()
	p := &passwordCredential{KeyID: newGUID(), DisplayName: in.PasswordCredential.DisplayName, Start: now, Secret: newClientSecret()}
	if in.PasswordCredential.StartDateTime != nil {
		p.Start = in.PasswordCredential.StartDateTime.UTC()
	}
	p.End = p.Start.Add(secretMaxDefaultLifetime)
	if in.PasswordCredential.EndDateTime != nil {
		p.End = in.PasswordCredential.EndDateTime.UTC()
	}
	if !p.End.After(p.Start) {
		g.fail(http.StatusBadRequest, "Request_BadRequest", "Key credential end date is invalid.")
		return
	}
	p.Hint = p.Secret[:3]
	a.Passwords = append(a.Passwords, p)
	obj := passwordJSON(p, true)
	obj["@odata.context"] = g.base + "/$metadata#microsoft.graph.passwordCredential"
	writeJSON(g.w, http.StatusOK, obj)
}

func (g *graphCall) removePassword(a *application) {
	if !g.canWriteApp(a) {
		g.denied()
		return
	}
	var in struct {
		KeyID string `json:"keyId"`
	}
	if !g.decode(&in) {
		return
	}
	for i, p := range a.Passwords {
		if strings.EqualFold(p.KeyID, in.KeyID) {
			a.Passwords = append(a.Passwords[:i:i], a.Passwords[i+1:]...)
			g.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	g.fail(http.StatusBadRequest, "Request_BadRequest", "No password credential found with keyId '"+in.KeyID+"'.")
}

// newClientSecret makes a secret shaped like Entra's: 40 characters with
// "8Q~" after the first three.
func newClientSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
	b := make([]byte, 37)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 40)
	for i, c := range b {
		if i == 3 {
			out = append(out, '8', 'Q', '~')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

func (g *graphCall) canReadSP(sp *servicePrincipal) bool {
	if g.canRead("Application.Read.All", "Application.ReadWrite.All") {
		return true
	}
	if a := g.e.w.apps[sp.AppID]; a != nil && g.c.hasRole("Application.ReadWrite.OwnedBy") && g.owns(a) {
		return true
	}
	return g.c.hasRole("Application.ReadWrite.OwnedBy") && sp.ID == g.c.ObjectID
}

func (g *graphCall) canWriteSP(sp *servicePrincipal) bool {
	switch {
	case g.c.hasRole("Application.ReadWrite.All"), g.c.hasRole("Directory.ReadWrite.All"):
		return true
	case g.c.User:
		return g.isAdmin()
	case g.c.hasRole("Application.ReadWrite.OwnedBy"):
		a := g.e.w.apps[sp.AppID]
		return a != nil && g.owns(a)
	}
	return false
}

func (g *graphCall) servicePrincipals(altKey string) {
	rest := g.segs[1:]
	key, byAppID := altKey, altKey != ""
	if key == "" && len(rest) > 0 {
		key, rest = rest[0], rest[1:]
	}
	if key == "" {
		switch g.r.Method {
		case http.MethodGet:
			var objs []map[string]any
			for _, o := range g.e.w.objects {
				if sp, ok := o.(*servicePrincipal); ok && sp.TenantID == g.t.ID && g.canReadSP(sp) {
					objs = append(objs, g.spJSON(sp))
				}
			}
			if objs == nil && !g.c.User && !g.c.hasRole("Application.ReadWrite.OwnedBy") && !g.canRead("Application.Read.All", "Application.ReadWrite.All") {
				g.denied()
				return
			}
			g.list("servicePrincipals", objs)
		case http.MethodPost:
			g.createSP()
		default:
			g.badMethod()
		}
		return
	}
	var sp *servicePrincipal
	if byAppID {
		sp = g.e.w.spByApp(g.t.ID, key)
	} else if o, ok := g.e.w.objects[lowerGUID(key)].(*servicePrincipal); ok && o.TenantID == g.t.ID {
		sp = o
	}
	if sp == nil {
		g.notFound(key)
		return
	}
	if !g.canReadSP(sp) {
		g.denied()
		return
	}
	if len(rest) > 0 {
		g.badMethod()
		return
	}
	switch g.r.Method {
	case http.MethodGet:
		g.entity(http.StatusOK, "servicePrincipals", g.spJSON(sp))
	case http.MethodDelete:
		if !g.canWriteSP(sp) {
			g.denied()
			return
		}
		g.e.w.removeSP(sp)
		g.w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if !g.canWriteSP(sp) {
			g.denied()
			return
		}
		var in struct {
			AccountEnabled *bool `json:"accountEnabled"`
		}
		if !g.decode(&in) {
			return
		}
		if in.AccountEnabled != nil {
			sp.Enabled = *in.AccountEnabled
		}
		g.w.WriteHeader(http.StatusNoContent)
	default:
		g.badMethod()
	}
}

func (g *graphCall) createSP() {
	var in struct {
		AppID string `json:"appId"`
	}
	if !g.decode(&in) {
		return
	}
	a := g.e.w.apps[lowerGUID(in.AppID)]
	if a == nil || a.TenantID != g.t.ID && !a.multiTenant() {
		g.fail(http.StatusBadRequest, "Request_BadRequest", "The appId '"+in.AppID+"' of the service principal does not reference a valid application object.")
		return
	}
	if !(g.c.hasRole("Application.ReadWrite.All") || g.c.hasRole("Directory.ReadWrite.All") || g.c.User && g.isAdmin() ||
		g.c.hasRole("Application.ReadWrite.OwnedBy") && g.owns(a)) {
		g.denied()
		return
	}
	if g.e.w.spByApp(g.t.ID, a.AppID) != nil {
		g.fail(http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "The service principal cannot be created, updated, or restored because the service principal name "+a.AppID+" is already in use.")
		return
	}
	sp := &servicePrincipal{ID: newGUID(), TenantID: g.t.ID, AppID: a.AppID, DisplayName: a.DisplayName, AppOwnerTenant: a.TenantID, Enabled: true, Created: g.e.now()}
	g.e.w.addSP(sp)
	g.entity(http.StatusCreated, "servicePrincipals", g.spJSON(sp))
}
