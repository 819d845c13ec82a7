package emulator

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token endpoint: client_credentials (secret or certificate assertion),
// authorization_code and refresh_token, with Entra's AADSTS errors for the
// cases Steward meets.

const (
	appTokenLifetime       = time.Hour
	delegatedTokenLifetime = time.Hour // delegated tokens live one hour
	authCodeLifetime       = 10 * time.Minute
	refreshTokenLifetime   = 90 * 24 * time.Hour
	assertionType          = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request, tseg string) {
	if r.Method != http.MethodPost {
		writeEntraError(w, r, http.StatusBadRequest, *newEntraErr(http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeEntraError(w, r, http.StatusBadRequest, *newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."))
		return
	}
	f := r.PostForm
	// client_secret_basic: the client ID and secret in an Authorization header.
	if id, secret, ok := r.BasicAuth(); ok && f.Get("client_id") == "" {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
	}
	var (
		resp *tokenResponse
		eerr *entraErr
	)
	switch g := f.Get("grant_type"); g {
	case "client_credentials":
		resp, eerr = e.grantClientCredentials(r, tseg, f)
	case "authorization_code":
		resp, eerr = e.grantAuthCode(r, tseg, f)
	case "refresh_token":
		resp, eerr = e.grantRefresh(r, tseg, f)
	case "":
		eerr = newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		eerr = newEntraErr(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", g)
	}
	if eerr != nil {
		writeEntraError(w, r, eerr.Status, *eerr)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient checks the client's credential against the app. It
// returns the app and the appidacr value ("1" secret, "2" certificate, "0"
// public client with PKCE).
func (e *Emulator) authenticateClient(r *http.Request, f url.Values, dirName string, allowPublic bool) (*application, string, *entraErr) {
	clientID := f.Get("client_id")
	if clientID == "" {
		return nil, "", newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	}
	app := e.w.apps[lowerGUID(clientID)]
	if app == nil {
		return nil, "", errAppNotFound(clientID, dirName)
	}
	now := e.now()
	switch {
	case f.Get("client_secret") != "":
		secret := f.Get("client_secret")
		for _, p := range app.Passwords {
			if subtle.ConstantTimeCompare([]byte(p.Secret), []byte(secret)) == 1 {
				if now.After(p.End) {
					return nil, "", newEntraErr(http.StatusUnauthorized, "invalid_client", 7000222,
						"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", app.AppID)
				}
				return app, "1", nil
			}
		}
		return nil, "", newEntraErr(http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.AppID)
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != assertionType {
			return nil, "", newEntraErr(http.StatusBadRequest, "invalid_request", 50027, "Invalid client_assertion_type; expected '%s'.", assertionType)
		}
		if eerr := e.verifyAssertion(r, app, f.Get("client_assertion")); eerr != nil {
			return nil, "", eerr
		}
		return app, "2", nil
	case allowPublic && app.PublicClient:
		return app, "0", nil
	}
	return nil, "", newEntraErr(http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
}

func errAppNotFound(appID, dirName string) *entraErr {
	return newEntraErr(http.StatusBadRequest, "unauthorized_client", 700016,
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", appID, dirName)
}

// verifyAssertion checks a certificate client assertion (RFC 7523) the way
// Entra does: signed (PS256 or RS256) by a certificate registered on the
// app, found by x5t#S256 or x5t, with iss = sub = client ID and aud = the
// token endpoint.
func (e *Emulator) verifyAssertion(r *http.Request, app *application, raw string) *entraErr {
	var key *keyCredential
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithTimeFunc(e.now), jwt.WithLeeway(5*time.Minute))
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		var want []byte
		var sha1 bool
		if s, _ := t.Header["x5t#S256"].(string); s != "" {
			want, _ = decodeB64Any(s)
		} else if s, _ := t.Header["x5t"].(string); s != "" {
			want, _ = decodeB64Any(s)
			sha1 = true
		}
		for _, k := range app.Keys {
			th := k.thumbprintSHA256()
			if sha1 {
				th = k.thumbprintSHA1()
			}
			if want != nil && bytes.Equal(th, want) {
				key = k
				break
			}
		}
		if key == nil {
			return nil, errors.New("no matching key")
		}
		c, err := key.cert()
		if err != nil {
			return nil, err
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("not an RSA certificate")
		}
		return pub, nil
	})
	switch {
	case key == nil:
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700027,
			"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]")
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range.")
	case err != nil:
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
	}
	if now := e.now(); now.After(key.End) {
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700027,
			"The certificate with identifier used to sign the client assertion is expired on application.")
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if !strings.EqualFold(iss, app.AppID) || !strings.EqualFold(sub, app.AppID) {
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://aka.ms/certCreds .")
	}
	aud, _ := claims.GetAudience()
	okAud := false
	for _, a := range aud {
		if u, err := url.Parse(a); err == nil && e.isSelfHost(u.Host, r.Host) && strings.HasSuffix(strings.ToLower(u.Path), "/oauth2/v2.0/token") {
			okAud = true
		}
	}
	if !okAud {
		return newEntraErr(http.StatusUnauthorized, "invalid_client", 700212,
			"No matching federated identity record found for presented assertion audience '%s'.", strings.Join(aud, ","))
	}
	return nil
}

func decodeB64Any(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func (e *Emulator) grantClientCredentials(r *http.Request, tseg string, f url.Values) (*tokenResponse, *entraErr) {
	e.w.mu.RLock()
	defer e.w.mu.RUnlock()
	t, multi, terr := e.resolveTenant(tseg)
	if terr != nil {
		return nil, terr
	}
	if multi {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_request", 50059,
			"No tenant-identifying information found in either the request or implied by any provided credentials.")
	}
	app, acr, eerr := e.authenticateClient(r, f, t.DisplayName, false)
	if eerr != nil {
		return nil, eerr
	}
	sp := e.w.spByApp(t.ID, app.AppID)
	if sp == nil {
		return nil, errAppNotFound(app.AppID, t.DisplayName)
	}
	if !sp.Enabled {
		return nil, newEntraErr(http.StatusBadRequest, "unauthorized_client", 7000112, "Application '%s'(%s) is disabled.", app.AppID, app.DisplayName)
	}
	scope := f.Get("scope")
	if scope == "" {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	}
	ss, serr := e.parseScopes(scope, r)
	if serr != nil {
		return nil, serr
	}
	rs := resourceScopes(ss)
	if len(rs) != 1 || rs[0].Name != ".default" {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
	}
	var roles []string
	if rs[0].Key == resGraph {
		roles = sp.GraphRoles
	}
	at, _, err := e.issueAccessToken(tokenSpec{
		Issuer: issuerFor(baseURL(r), t.ID), TenantID: t.ID, Audience: rs[0].Resource,
		AppID: app.AppID, AppACR: acr, ObjectID: sp.ID, Roles: roles, Lifetime: appTokenLifetime,
	})
	if err != nil {
		return nil, newEntraErr(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
	}
	secs := int(appTokenLifetime.Seconds()) - 1
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: at}, nil
}

// authCode is an issued authorization code, redeemable once within ten
// minutes by the client it was issued to.
type authCode struct {
	Code        string
	ClientID    string
	RedirectURI string
	UserID      string
	TenantID    string
	Scope       string
	Challenge   string
	Method      string
	Nonce       string
	Expires     time.Time
	Redeemed    bool
}

// refreshGrant is an issued refresh token.
type refreshGrant struct {
	Token    string
	ClientID string
	UserID   string
	TenantID string
	Scope    string
	Expires  time.Time
}

func (e *Emulator) grantAuthCode(r *http.Request, tseg string, f url.Values) (*tokenResponse, *entraErr) {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if _, _, terr := e.resolveTenant(tseg); terr != nil {
		return nil, terr
	}
	code := f.Get("code")
	if code == "" {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
	}
	c := e.w.codes[code]
	if c == nil {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	}
	usr, _ := e.w.objects[c.UserID].(*user)
	t := e.w.tenants[c.TenantID]
	if usr == nil || t == nil {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the directory.")
	}
	app, acr, eerr := e.authenticateClient(r, f, t.DisplayName, true)
	if eerr != nil {
		return nil, eerr
	}
	switch {
	case !strings.EqualFold(app.AppID, c.ClientID):
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid. The code was issued to a different client.")
	case c.Redeemed:
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case e.now().After(c.Expires):
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case f.Get("redirect_uri") != c.RedirectURI:
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 500112, "The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", f.Get("redirect_uri"), c.RedirectURI)
	}
	if c.Challenge != "" {
		v := f.Get("code_verifier")
		if v == "" {
			return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 501491, "Invalid size of Code_Verifier parameter.")
		}
		got := v
		if !strings.EqualFold(c.Method, "plain") {
			h := sha256.Sum256([]byte(v))
			got = base64.RawURLEncoding.EncodeToString(h[:])
		}
		if got != c.Challenge {
			return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	c.Redeemed = true
	// The token request's resource scopes pick the token's resource (the
	// code may carry consent for several); OpenID scopes (openid, profile,
	// offline_access) count whether asked at /authorize or here, as MSAL
	// adds them here.
	var res, oidc []string
	for _, s := range append(strings.Fields(f.Get("scope")), strings.Fields(c.Scope)...) {
		if oidcScopes[strings.ToLower(s)] {
			if !containsFold(oidc, s) {
				oidc = append(oidc, s)
			}
		}
	}
	for _, s := range strings.Fields(f.Get("scope")) {
		if !oidcScopes[strings.ToLower(s)] {
			res = append(res, s)
		}
	}
	if len(res) == 0 {
		for _, s := range strings.Fields(c.Scope) {
			if !oidcScopes[strings.ToLower(s)] {
				res = append(res, s)
			}
		}
	}
	scope := strings.Join(append(res, oidc...), " ")
	return e.delegatedTokens(r, app, acr, usr, t, scope, c.Nonce, f.Get("client_info") == "1")
}

func (e *Emulator) grantRefresh(r *http.Request, tseg string, f url.Values) (*tokenResponse, *entraErr) {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if _, _, terr := e.resolveTenant(tseg); terr != nil {
		return nil, terr
	}
	g := e.w.refresh[f.Get("refresh_token")]
	if g == nil {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	}
	if e.now().After(g.Expires) {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 700082, "The refresh token has expired due to inactivity.")
	}
	usr, _ := e.w.objects[g.UserID].(*user)
	t := e.w.tenants[g.TenantID]
	if usr == nil || t == nil {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the directory.")
	}
	app, acr, eerr := e.authenticateClient(r, f, t.DisplayName, true)
	if eerr != nil {
		return nil, eerr
	}
	if !strings.EqualFold(app.AppID, g.ClientID) {
		return nil, newEntraErr(http.StatusBadRequest, "invalid_grant", 70000, "The refresh token was issued to a different client.")
	}
	scope := f.Get("scope")
	if scope == "" {
		scope = g.Scope
	}
	return e.delegatedTokens(r, app, acr, usr, t, scope, "", f.Get("client_info") == "1")
}

// delegatedTokens issues the tokens of a user sign-in: an access token for
// the first resource asked for (Entra issues one resource per token), an ID
// token when openid was asked, and a refresh token only when offline_access
// was. The caller holds the world's write lock.
func (e *Emulator) delegatedTokens(r *http.Request, app *application, acr string, usr *user, t *tenant, scope, nonce string, clientInfo bool) (*tokenResponse, *entraErr) {
	ss, serr := e.parseScopes(scope, r)
	if serr != nil {
		return nil, serr
	}
	if e.w.spByApp(t.ID, app.AppID) == nil {
		return nil, consentRequired(app)
	}
	rs := resourceScopes(ss)
	for _, x := range rs[min(1, len(rs)):] {
		if x.Key != rs[0].Key {
			return nil, newEntraErr(http.StatusBadRequest, "invalid_scope", 28000,
				"Provided value for the input parameter scope '%s' is not valid because it contains more than one resource. Scope %s is not valid.", scope, scope)
		}
	}
	resource, key := "", resGraph
	if len(rs) > 0 {
		resource, key = rs[0].Resource, rs[0].Key
	} else {
		resource = graphResource
	}
	perms := permissionNames(ss, key, app)
	if len(rs) == 0 {
		perms = []string{"User.Read"}
	} else if !t.consented(app.AppID, key, perms) {
		return nil, consentRequired(app)
	}
	base := baseURL(r)
	iss := issuerFor(base, t.ID)
	at, _, err := e.issueAccessToken(tokenSpec{
		Issuer: iss, TenantID: t.ID, Audience: resource, AppID: app.AppID, AppACR: acr,
		ObjectID: usr.ID, User: usr, Scopes: perms, Lifetime: delegatedTokenLifetime,
	})
	if err != nil {
		return nil, newEntraErr(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
	}
	secs := int(delegatedTokenLifetime.Seconds()) - 1
	resp := &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: at}
	var granted []string
	for _, p := range perms {
		if key == resGraph {
			granted = append(granted, graphResource+"/"+p)
		} else {
			granted = append(granted, strings.TrimSuffix(resource, "/")+"/"+p)
		}
	}
	if hasOIDC(ss, "openid") {
		granted = append(granted, "openid")
		now := e.now().UTC()
		idc := jwt.MapClaims{
			"aud": app.AppID, "iss": iss, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(delegatedTokenLifetime).Unix(),
			"name": usr.DisplayName, "oid": usr.ID, "preferred_username": usr.UPN, "sub": pairwiseSub(usr.ID, app.AppID),
			"tid": t.ID, "uti": randomToken(11), "ver": "2.0", "rh": "0." + randomToken(8) + ".",
		}
		if usr.Mail != "" && hasOIDC(ss, "email") {
			idc["email"] = usr.Mail
		}
		if nonce != "" {
			idc["nonce"] = nonce
		}
		if resp.IDToken, err = e.signClaims(idc); err != nil {
			return nil, newEntraErr(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		}
	}
	if hasOIDC(ss, "profile") {
		granted = append(granted, "profile")
	}
	if hasOIDC(ss, "email") {
		granted = append(granted, "email")
	}
	if hasOIDC(ss, "offline_access") {
		granted = append(granted, "offline_access")
		rt := randomToken(48)
		e.w.refresh[rt] = &refreshGrant{Token: rt, ClientID: app.AppID, UserID: usr.ID, TenantID: t.ID, Scope: scope, Expires: e.now().Add(refreshTokenLifetime)}
		resp.RefreshToken = rt
	}
	resp.Scope = strings.Join(granted, " ")
	if clientInfo {
		ci, _ := json.Marshal(map[string]string{"uid": usr.ID, "utid": t.ID})
		resp.ClientInfo = base64.RawURLEncoding.EncodeToString(ci)
	}
	e.w.expireSignIns(e.now())
	return resp, nil
}

func consentRequired(app *application) *entraErr {
	return newEntraErr(http.StatusBadRequest, "invalid_grant", 65001,
		"The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", app.AppID, app.DisplayName)
}
