package emulator

import (
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"strings"
)

// Entra ID: /{tenant}/… where tenant is a tenant GUID, a verified domain,
// "common" or "organizations".
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	POST /{tenant}/oauth2/v2.0/token
//	GET  /{tenant}/oauth2/v2.0/authorize   (sign-in and consent pages; POST for the forms)
//	GET  /{tenant}/v2.0/adminconsent       (admin consent without a code)
//	GET  /{tenant}/oauth2/v2.0/logout
//	GET  /common/discovery/instance        (instance discovery, for clients that don't disable it)

// Tenant path segments that are not a tenant.
const (
	tenantCommon        = "common"
	tenantOrganizations = "organizations"
	tenantConsumers     = "consumers"
)

func (e *Emulator) serveEntra(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.Path)
	if len(segs) < 2 {
		http.NotFound(w, r)
		return
	}
	tseg, rest := strings.ToLower(segs[0]), strings.ToLower(strings.Join(segs[1:], "/"))
	switch rest {
	case "v2.0/.well-known/openid-configuration", ".well-known/openid-configuration":
		e.serveDiscovery(w, r, tseg)
	case "discovery/v2.0/keys", "discovery/keys":
		e.serveJWKS(w, r)
	case "discovery/instance":
		e.serveInstanceDiscovery(w, r)
	case "oauth2/v2.0/token":
		e.serveToken(w, r, tseg)
	case "oauth2/v2.0/authorize":
		e.serveAuthorize(w, r, tseg, flowAuthorize)
	case "v2.0/adminconsent", "adminconsent":
		e.serveAuthorize(w, r, tseg, flowAdminConsent)
	case "oauth2/v2.0/logout":
		e.serveLogout(w, r)
	default:
		writeEntraError(w, r, http.StatusNotFound, entraErr{Code: "invalid_request", AADSTS: 900561, Desc: "The endpoint does not exist."})
	}
}

// splitPath splits a URL path into its non-empty segments, so doubled
// slashes (…//subscriptions/… from SDK scope joins) don't matter.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// resolveTenant maps a tenant path segment to a tenant; nil with ok for
// common and organizations.
func (e *Emulator) resolveTenant(seg string) (t *tenant, multi bool, err *entraErr) {
	switch seg {
	case tenantCommon, tenantOrganizations:
		return nil, true, nil
	case tenantConsumers:
		return nil, false, newEntraErr(http.StatusBadRequest, "invalid_request", 9002331,
			"Application is configured for use by Microsoft Account users only. Please use the /consumers endpoint to serve this request.")
	}
	if t := e.w.tenant(seg); t != nil {
		return t, false, nil
	}
	return nil, false, newEntraErr(http.StatusBadRequest, "invalid_tenant", 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}

func issuerFor(base, tenantID string) string { return base + "/" + tenantID + "/v2.0" }

func (e *Emulator) serveDiscovery(w http.ResponseWriter, r *http.Request, tseg string) {
	e.w.mu.RLock()
	t, _, terr := e.resolveTenant(tseg)
	e.w.mu.RUnlock()
	if terr != nil {
		writeEntraError(w, r, terr.Status, *terr)
		return
	}
	base := baseURL(r)
	tid := "{tenantid}"
	pathTenant := tseg
	if t != nil {
		tid, pathTenant = t.ID, t.ID
	}
	prefix := base + "/" + pathTenant
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        prefix + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              prefix + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuerFor(base, tid),
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                prefix + "/oauth2/v2.0/authorize",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  prefix + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   strings.TrimPrefix(base, "https://"),
		"cloud_graph_host_name":                 strings.TrimPrefix(base, "https://"),
		"msgraph_host":                          strings.TrimPrefix(base, "https://"),
		"rbac_url":                              base,
	})
}

func (e *Emulator) serveJWKS(w http.ResponseWriter, r *http.Request) {
	pub := &e.signer.key.PublicKey
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"kid": e.signer.kid,
		"x5t": e.signer.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(e.signer.certDER)},
	}}})
}

// serveInstanceDiscovery answers MSAL's instance discovery for clients that
// don't set DisableInstanceDiscovery: this host is its own and only alias.
func (e *Emulator) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	tenantDisc := r.URL.Query().Get("authorization_endpoint")
	tseg := tenantCommon
	if u, err := url.Parse(tenantDisc); err == nil {
		if segs := splitPath(u.Path); len(segs) > 0 {
			tseg = segs[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": baseURL(r) + "/" + tseg + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (e *Emulator) serveLogout(w http.ResponseWriter, r *http.Request) {
	if u := r.URL.Query().Get("post_logout_redirect_uri"); u != "" {
		if pu, err := url.Parse(u); err == nil && (pu.Scheme == "http" || pu.Scheme == "https") {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><p>You signed out of your account.</p></body></html>`))
}
