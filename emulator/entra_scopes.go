package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// Resources the emulator issues tokens for, and the audiences it accepts.
//
// Azure Resource Manager: the emulator's own URL (what azcore asks for when
// cloud.Configuration says Audience: URL), and also the public cloud's
// https://management.azure.com and https://management.core.windows.net, so
// clients written for Azure work unchanged. Tokens carry aud exactly as
// requested, without "/.default".
//
// Microsoft Graph: https://graph.microsoft.com (or its app ID
// 00000003-0000-0000-c000-000000000000), as in Azure. Graph itself is served
// at URL/v1.0.

const (
	resARM   = "arm"
	resGraph = "graph"

	graphResource = "https://graph.microsoft.com"
	graphAppID    = "00000003-0000-0000-c000-000000000000"
)

var armPublicAudiences = []string{
	"https://management.azure.com", "https://management.azure.com/",
	"https://management.core.windows.net", "https://management.core.windows.net/",
}

// armScopes and graphScopes are the delegated permissions each resource
// publishes. Asking for another one fails with AADSTS650053, as in Entra.
var (
	armScopes   = []string{"user_impersonation"}
	graphScopes = []string{
		"User.Read", "User.Read.All", "User.ReadBasic.All", "Directory.Read.All", "Directory.ReadWrite.All",
		"Application.Read.All", "Application.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All",
		"GroupMember.Read.All", "email", "profile", "openid", "offline_access",
	}
	// graphAppRoles are the Graph application permissions the emulator
	// understands in a service principal's GraphRoles.
	graphAppRoles = []string{
		"Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
		"Directory.Read.All", "Directory.ReadWrite.All", "User.Read.All", "Group.Read.All",
		"Group.ReadWrite.All", "GroupMember.Read.All",
	}
)

// oidcScopes need no consent and name no resource.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// resolveResource maps a resource identifier to the emulator resource it
// names; ok is false for resources the emulator does not have.
func (e *Emulator) resolveResource(res string, r *http.Request) (key string, ok bool) {
	for _, a := range armPublicAudiences {
		if strings.EqualFold(res, a) {
			return resARM, true
		}
	}
	if strings.EqualFold(strings.TrimSuffix(res, "/"), graphResource) || strings.EqualFold(res, graphAppID) {
		return resGraph, true
	}
	if u, err := url.Parse(res); err == nil && u.Scheme == "https" && strings.Trim(u.Path, "/") == "" && e.isSelfHost(u.Host, r.Host) {
		return resARM, true
	}
	return "", false
}

// reqScope is one requested scope: a resource and a permission name
// (".default" for all consented ones), or an OpenID scope.
type reqScope struct {
	Raw      string
	Resource string // as requested, e.g. https://127.0.0.1:8444 (empty for OIDC scopes)
	Key      string // resARM or resGraph
	Name     string // user_impersonation, User.Read, .default, or openid/profile/…
	OIDC     bool
}

// parseScopes splits a scope parameter. A bare permission name (User.Read)
// means Microsoft Graph, as in Entra.
func (e *Emulator) parseScopes(scope string, r *http.Request) ([]reqScope, *entraErr) {
	var out []reqScope
	for _, s := range strings.Fields(scope) {
		if oidcScopes[strings.ToLower(s)] {
			out = append(out, reqScope{Raw: s, Name: strings.ToLower(s), OIDC: true})
			continue
		}
		res, name := graphResource, s
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			// "https://management.azure.com//.default" keeps the v1 resource's slash.
			res, name = s[:i], s[i+1:]
		}
		key, ok := e.resolveResource(res, r)
		if !ok {
			return nil, newEntraErr(http.StatusBadRequest, "invalid_resource", 500011,
				"The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", res)
		}
		if name != ".default" {
			known := armScopes
			if key == resGraph {
				known = graphScopes
			}
			if !containsFold(known, name) {
				return nil, newEntraErr(http.StatusBadRequest, "invalid_scope", 650053,
					"The application asked for scope '%s' that doesn't exist on the resource '%s'. Contact the app vendor.", name, res)
			}
		}
		out = append(out, reqScope{Raw: s, Resource: res, Key: key, Name: name})
	}
	return out, nil
}

// resourceScopes returns the non-OIDC scopes.
func resourceScopes(ss []reqScope) []reqScope {
	var out []reqScope
	for _, s := range ss {
		if !s.OIDC {
			out = append(out, s)
		}
	}
	return out
}

func hasOIDC(ss []reqScope, name string) bool {
	for _, s := range ss {
		if s.OIDC && s.Name == name {
			return true
		}
	}
	return false
}

// permissionNames are the permission names asked for a resource key, with
// .default expanded by the app's declared access (or user_impersonation for
// ARM, the only permission it publishes).
func permissionNames(ss []reqScope, key string, app *application) []string {
	var out []string
	for _, s := range ss {
		if s.OIDC || s.Key != key {
			continue
		}
		if s.Name == ".default" {
			decl := app.RequiredAccess[key]
			if len(decl) == 0 && key == resARM {
				decl = armScopes
			}
			for _, d := range decl {
				if !containsFold(out, d) {
					out = append(out, d)
				}
			}
			continue
		}
		if !containsFold(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}
