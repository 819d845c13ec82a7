package emulator

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The sign-in and consent pages behind /authorize and /adminconsent. The
// page lists the seeded users; one picks who signs in and types their
// password (the connection file has them), as at Entra. When the app
// lacks consent in the user's tenant, an administrator sees the permissions
// and accepts or declines; accepting creates the app's service principal in
// the tenant and records tenant-wide consent. Anyone else sees "Need admin
// approval".

type flowKind int

const (
	flowAuthorize    flowKind = iota // /oauth2/v2.0/authorize: ends with a code
	flowAdminConsent                 // /v2.0/adminconsent: ends with admin_consent=True
)

// authFlow is a sign-in in progress, between the pages.
type authFlow struct {
	ID           string
	Kind         flowKind
	TenantSeg    string
	ClientID     string
	RedirectURI  string
	Scope        string
	State        string
	Nonce        string
	ResponseMode string
	Challenge    string
	Method       string
	Prompt       string
	LoginHint    string
	UserID       string // set after sign-in
	Expires      time.Time
}

func (e *Emulator) serveAuthorize(w http.ResponseWriter, r *http.Request, tseg string, kind flowKind) {
	if r.Method == http.MethodPost {
		e.authorizePost(w, r, tseg)
		return
	}
	q := r.URL.Query()
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	t, multi, terr := e.resolveTenant(tseg)
	if terr != nil {
		e.errorPage(w, http.StatusBadRequest, terr)
		return
	}
	clientID := q.Get("client_id")
	app := e.w.apps[lowerGUID(clientID)]
	if app == nil {
		dir := tseg
		if t != nil {
			dir = t.DisplayName
		}
		e.errorPage(w, http.StatusBadRequest, errAppNotFound(clientID, dir))
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(app.RedirectURIs) > 0 {
		redirect = app.RedirectURIs[0]
	}
	if !redirectAllowed(app, redirect) {
		e.errorPage(w, http.StatusBadRequest, newEntraErr(http.StatusBadRequest, "invalid_request", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", redirect, app.AppID))
		return
	}
	f := &authFlow{
		ID: randomToken(24), Kind: kind, TenantSeg: tseg, ClientID: app.AppID, RedirectURI: redirect,
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"), ResponseMode: q.Get("response_mode"),
		Challenge: q.Get("code_challenge"), Method: q.Get("code_challenge_method"), Prompt: q.Get("prompt"),
		LoginHint: q.Get("login_hint"), Expires: e.now().Add(30 * time.Minute),
	}
	if kind == flowAdminConsent {
		f.Prompt = "admin_consent"
		if f.Scope == "" {
			f.Scope = ".default"
		}
	}
	if kind == flowAuthorize {
		if rt := q.Get("response_type"); rt != "code" {
			e.redirectError(w, r, f, "unsupported_response_type", newEntraErr(http.StatusBadRequest, "unsupported_response_type", 700054, "response_type '%s' is not enabled for the application.", rt))
			return
		}
		if f.Scope == "" {
			e.redirectError(w, r, f, "invalid_request", newEntraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."))
			return
		}
		if _, serr := e.parseScopes(f.Scope, r); serr != nil {
			e.redirectError(w, r, f, serr.Code, serr)
			return
		}
	}
	if multi && !app.multiTenant() {
		e.redirectError(w, r, f, "invalid_request", newEntraErr(http.StatusBadRequest, "invalid_request", 50194,
			"Application '%s'(%s) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", app.AppID, app.DisplayName))
		return
	}
	if f.Prompt == "none" {
		e.redirectError(w, r, f, "login_required", newEntraErr(http.StatusBadRequest, "login_required", 50058, "A silent sign-in request was sent but no user is signed in."))
		return
	}
	e.w.expireSignIns(e.now())
	e.w.flows[f.ID] = f
	e.signInPage(w, r, f, app, t, "")
}

// redirectAllowed matches a redirect URI against the app's, ignoring the
// port of loopback URIs as Entra does.
func redirectAllowed(app *application, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || uri == "" {
		return false
	}
	for _, reg := range app.RedirectURIs {
		if reg == uri {
			return true
		}
		ru, err := url.Parse(reg)
		if err != nil {
			continue
		}
		loop := func(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "[::1]" || h == "::1" }
		if loop(u.Hostname()) && loop(ru.Hostname()) && u.Scheme == ru.Scheme && u.Hostname() == ru.Hostname() && u.Path == ru.Path {
			return true
		}
	}
	return false
}

func (e *Emulator) authorizePost(w http.ResponseWriter, r *http.Request, tseg string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.errorPage(w, http.StatusBadRequest, newEntraErr(http.StatusBadRequest, "invalid_request", 90014, "The request is malformed."))
		return
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	f := e.w.flows[r.PostForm.Get("flow")]
	if f == nil || e.now().After(f.Expires) {
		e.errorPage(w, http.StatusBadRequest, newEntraErr(http.StatusBadRequest, "invalid_request", 50058, "The sign-in session expired or does not exist. Start again from the application."))
		return
	}
	app := e.w.apps[f.ClientID]
	t, _, _ := e.resolveTenant(f.TenantSeg)
	if app == nil {
		e.errorPage(w, http.StatusBadRequest, errAppNotFound(f.ClientID, f.TenantSeg))
		return
	}
	switch r.PostForm.Get("action") {
	case "signin":
		usr, _ := e.w.objects[lowerGUID(r.PostForm.Get("user"))].(*user)
		if usr == nil || !usr.Enabled {
			e.signInPage(w, r, f, app, t, "Pick an account to sign in with.")
			return
		}
		if pw := r.PostForm.Get("password"); subtle.ConstantTimeCompare([]byte(pw), []byte(usr.Password)) != 1 || usr.Password == "" {
			e.signInPage(w, r, f, app, t, "AADSTS50126: Error validating credentials due to invalid username or password.")
			return
		}
		if t != nil && usr.TenantID != t.ID || !app.multiTenant() && usr.TenantID != app.TenantID {
			ut := e.w.tenants[usr.TenantID]
			name := app.TenantID
			if t != nil {
				name = t.DisplayName
			}
			e.errorPage(w, http.StatusBadRequest, newEntraErr(http.StatusBadRequest, "invalid_request", 50020,
				"User account '%s' from identity provider '%s' does not exist in tenant '%s' and cannot access the application '%s'(%s) in that tenant. The account needs to be added as an external user in the tenant first.", usr.UPN, ut.ID, name, app.AppID, app.DisplayName))
			return
		}
		f.UserID = usr.ID
		ut := e.w.tenants[usr.TenantID]
		if !e.needsConsent(r, f, app, ut) {
			e.finishFlow(w, r, f, app, usr)
			return
		}
		if !usr.Admin {
			e.approvalPage(w, f, app, ut)
			return
		}
		e.consentPage(w, r, f, app, ut, usr)
	case "consent":
		usr, _ := e.w.objects[f.UserID].(*user)
		if usr == nil {
			e.signInPage(w, r, f, app, t, "Pick an account to sign in with.")
			return
		}
		if r.PostForm.Get("accept") != "yes" {
			delete(e.w.flows, f.ID)
			e.redirectErrorSub(w, r, f, "access_denied", "cancel", newEntraErr(http.StatusBadRequest, "access_denied", 65004, "User declined to consent to access the app."))
			return
		}
		if !usr.Admin {
			e.approvalPage(w, f, app, e.w.tenants[usr.TenantID])
			return
		}
		e.grantAdminConsent(r, f, app, e.w.tenants[usr.TenantID])
		e.finishFlow(w, r, f, app, usr)
	case "return":
		delete(e.w.flows, f.ID)
		e.redirectError(w, r, f, "consent_required", consentRequired(app))
	default:
		e.signInPage(w, r, f, app, t, "")
	}
}

// needsConsent reports whether the sign-in must pass the consent page.
func (e *Emulator) needsConsent(r *http.Request, f *authFlow, app *application, t *tenant) bool {
	if f.Prompt == "consent" || f.Prompt == "admin_consent" {
		return true
	}
	if e.w.spByApp(t.ID, app.AppID) == nil {
		return true
	}
	ss, _ := e.parseScopes(f.Scope, r)
	for _, key := range []string{resARM, resGraph} {
		if p := permissionNames(ss, key, app); len(p) > 0 && !t.consented(app.AppID, key, p) {
			return true
		}
	}
	return false
}

// grantAdminConsent creates the app's service principal in the tenant when it
// has none, and records tenant-wide consent for the permissions asked (and,
// for the admin-consent endpoint, those the app declares).
func (e *Emulator) grantAdminConsent(r *http.Request, f *authFlow, app *application, t *tenant) {
	if e.w.spByApp(t.ID, app.AppID) == nil {
		e.w.addSP(&servicePrincipal{
			ID: newGUID(), TenantID: t.ID, AppID: app.AppID, DisplayName: app.DisplayName,
			AppOwnerTenant: app.TenantID, Enabled: true, Created: e.now().UTC(),
		})
	}
	ss, _ := e.parseScopes(f.Scope, r)
	for _, key := range []string{resARM, resGraph} {
		if p := permissionNames(ss, key, app); len(p) > 0 {
			t.grantConsent(app.AppID, key, p)
		}
		if f.Kind == flowAdminConsent {
			if p := app.RequiredAccess[key]; len(p) > 0 {
				t.grantConsent(app.AppID, key, p)
			}
		}
	}
}

// finishFlow ends a sign-in: a code for /authorize, admin_consent=True for
// /adminconsent.
func (e *Emulator) finishFlow(w http.ResponseWriter, r *http.Request, f *authFlow, app *application, usr *user) {
	delete(e.w.flows, f.ID)
	params := url.Values{}
	if f.Kind == flowAdminConsent {
		params.Set("admin_consent", "True")
		params.Set("tenant", usr.TenantID)
		params.Set("scope", f.Scope)
	} else {
		code := randomToken(32)
		e.w.codes[code] = &authCode{
			Code: code, ClientID: app.AppID, RedirectURI: f.RedirectURI, UserID: usr.ID, TenantID: usr.TenantID,
			Scope: f.Scope, Challenge: f.Challenge, Method: f.Method, Nonce: f.Nonce, Expires: e.now().Add(authCodeLifetime),
		}
		params.Set("code", code)
		params.Set("session_state", newGUID())
	}
	if f.State != "" {
		params.Set("state", f.State)
	}
	e.respond(w, r, f, params)
}

func (e *Emulator) redirectError(w http.ResponseWriter, r *http.Request, f *authFlow, code string, ee *entraErr) {
	e.redirectErrorSub(w, r, f, code, "", ee)
}

func (e *Emulator) redirectErrorSub(w http.ResponseWriter, r *http.Request, f *authFlow, code, sub string, ee *entraErr) {
	params := url.Values{}
	params.Set("error", code)
	if sub != "" {
		params.Set("error_subcode", sub)
	}
	params.Set("error_description", ee.description(newGUID(), newGUID(), time.Now().UTC()))
	params.Set("error_uri", "https://login.microsoftonline.com/error?code="+itoa(ee.AADSTS))
	if f.State != "" {
		params.Set("state", f.State)
	}
	e.respond(w, r, f, params)
}

// respond returns to the app by query (default), fragment or form_post.
func (e *Emulator) respond(w http.ResponseWriter, r *http.Request, f *authFlow, params url.Values) {
	switch f.ResponseMode {
	case "form_post":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		type field struct{ Name, Value string }
		var fields []field
		for k, vs := range params {
			for _, v := range vs {
				fields = append(fields, field{k, v})
			}
		}
		sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
		_ = formPostPage.Execute(w, map[string]any{"Action": f.RedirectURI, "Fields": fields})
	case "fragment":
		http.Redirect(w, r, f.RedirectURI+"#"+params.Encode(), http.StatusFound)
	default:
		sep := "?"
		if strings.Contains(f.RedirectURI, "?") {
			sep = "&"
		}
		http.Redirect(w, r, f.RedirectURI+sep+params.Encode(), http.StatusFound)
	}
}

func (e *Emulator) signInPage(w http.ResponseWriter, r *http.Request, f *authFlow, app *application, t *tenant, msg string) {
	type acct struct {
		ID, UPN, Name, Tenant string
		Checked               bool
	}
	var accts []acct
	for _, tn := range e.w.tenantList {
		if t != nil && tn != t || !app.multiTenant() && tn.ID != app.TenantID {
			continue
		}
		var us []*user
		for _, o := range e.w.objects {
			if u, ok := o.(*user); ok && u.TenantID == tn.ID && u.Enabled {
				us = append(us, u)
			}
		}
		sort.Slice(us, func(i, j int) bool { return us[i].UPN < us[j].UPN })
		for _, u := range us {
			accts = append(accts, acct{u.ID, u.UPN, u.DisplayName, tn.DisplayName, strings.EqualFold(u.UPN, f.LoginHint)})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	_ = signInTmpl.Execute(w, map[string]any{"Flow": f.ID, "App": app.DisplayName, "Accounts": accts, "Message": msg})
}

func (e *Emulator) consentPage(w http.ResponseWriter, r *http.Request, f *authFlow, app *application, t *tenant, usr *user) {
	ss, _ := e.parseScopes(f.Scope, r)
	var perms []string
	for _, key := range []string{resARM, resGraph} {
		names := permissionNames(ss, key, app)
		if f.Kind == flowAdminConsent {
			for _, p := range app.RequiredAccess[key] {
				if !containsFold(names, p) {
					names = append(names, p)
				}
			}
		}
		for _, p := range names {
			perms = append(perms, permissionLabel(key, p))
		}
	}
	for _, s := range ss {
		if s.OIDC {
			perms = append(perms, permissionLabel("", s.Name))
		}
	}
	publisher := "unverified"
	if ht := e.w.tenants[app.TenantID]; ht != nil {
		publisher = ht.DisplayName
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	_ = consentTmpl.Execute(w, map[string]any{
		"Flow": f.ID, "App": app.DisplayName, "AppID": app.AppID, "Publisher": publisher,
		"User": usr.UPN, "Tenant": t.DisplayName, "Perms": perms,
	})
}

func (e *Emulator) approvalPage(w http.ResponseWriter, f *authFlow, app *application, t *tenant) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_ = approvalTmpl.Execute(w, map[string]any{"Flow": f.ID, "App": app.DisplayName, "Tenant": t.DisplayName})
}

func (e *Emulator) errorPage(w http.ResponseWriter, status int, ee *entraErr) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorTmpl.Execute(w, map[string]any{"Code": itoa(ee.AADSTS), "Message": ee.description(newGUID(), newGUID(), time.Now().UTC())})
}

// permissionLabel is how the consent page words a permission.
func permissionLabel(key, name string) string {
	switch {
	case key == resARM && strings.EqualFold(name, "user_impersonation"):
		return "Access Azure Service Management as you (Azure Resource Manager: user_impersonation)"
	case key == resGraph:
		return "Microsoft Graph: " + name
	case name == "openid":
		return "Sign you in"
	case name == "profile":
		return "View your basic profile"
	case name == "email":
		return "View your email address"
	case name == "offline_access":
		return "Maintain access to data you have given it access to"
	}
	return name
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

const pageStyle = `<style>body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem 2.5rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:1.5rem;font-weight:600}label{display:block;padding:.4rem 0}.muted{color:#555;font-size:.9rem}
button{background:#0067b8;color:#fff;border:0;padding:.5rem 1.6rem;margin:.8rem .4rem 0 0;font-size:1rem;cursor:pointer}
button.secondary{background:#ccc;color:#000}.err{color:#a80000}ul{padding-left:1.2rem}</style>`

var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>` + pageStyle + `</head><body><main>
<h1>Sign in</h1>
<p class="muted">to continue to {{.App}}</p>
{{if .Message}}<p class="err" role="alert">{{.Message}}</p>{{end}}
<form method="post">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="action" value="signin">
<fieldset><legend>Pick an account</legend>
{{range .Accounts}}<label><input type="radio" name="user" value="{{.ID}}"{{if .Checked}} checked{{end}}> {{.Name}} &lt;{{.UPN}}&gt; <span class="muted">({{.Tenant}})</span></label>
{{else}}<p>No accounts can sign in to this application here.</p>{{end}}
</fieldset>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></main></body></html>`))

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions requested</title>` + pageStyle + `</head><body><main>
<p class="muted">{{.User}}</p>
<h1>Permissions requested</h1>
<p><b>{{.App}}</b> <span class="muted">(app ID {{.AppID}}, published by {{.Publisher}})</span></p>
<p>This app would like to:</p>
<ul>{{range .Perms}}<li>{{.}}</li>{{end}}</ul>
<p>Accepting consents on behalf of your organization, <b>{{.Tenant}}</b>: the app gets these permissions for all users, and its service principal is created in your tenant if it has none.</p>
<form method="post">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="action" value="consent">
<button type="submit" name="accept" value="no" class="secondary">Cancel</button>
<button type="submit" name="accept" value="yes">Accept</button>
</form></main></body></html>`))

var approvalTmpl = template.Must(template.New("approval").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Need admin approval</title>` + pageStyle + `</head><body><main>
<h1>Need admin approval</h1>
<p><b>{{.App}}</b> needs permission to access resources in your organization ({{.Tenant}}) that only an admin can grant. Ask an admin to grant permission to this app before you can use it.</p>
<form method="post"><input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="action" value="return">
<button type="submit" class="secondary">Return to the application without granting consent</button></form>
</main></body></html>`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in error</title>` + pageStyle + `</head><body><main>
<h1>Sorry, but we're having trouble signing you in.</h1>
<p class="err" role="alert">AADSTS{{.Code}}</p><p>{{.Message}}</p>
</main></body></html>`))

var formPostPage = template.Must(template.New("formpost").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><p>Script is disabled. Click Submit to continue.</p><button type="submit">Submit</button></noscript>
</form></body></html>`))
