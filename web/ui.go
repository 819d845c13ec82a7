package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// Pages post forms and redirect (303) to a page that shows the outcome; a
// refused form is shown again with the reason and the status of the error.

// flashes are the success messages a redirect can ask for with ?done=.
var flashes = map[string]string{
	"password":         "Your password was changed: your sessions ended and your API tokens were revoked. Sign in again with the new one.",
	"user-created":     "User created.",
	"user-saved":       "Changes saved.",
	"user-password":    "Password set. The user's sessions were ended and their API tokens revoked.",
	"user-deleted":     "User deleted.",
	"link-revoked":     "Consent link revoked: it no longer works.",
	"grant-added":      "Role granted.",
	"grant-removed":    "Role removed.",
	"token-revoked":    "Token revoked. It stops working at once.",
	"level":            "Sync level changed. It takes effect at once.",
	"sync":             "Sync queued. Progress shows below.",
	"edit":             "Edit stored. Steward writes it to Azure now; this page follows its progress.",
	"resolved":         "Conflict settled.",
	"connected":        "Tenant connected. Steward is discovering and syncing its subscriptions.",
	"connected-partly": "Tenant connected, but some role assignments failed; see the audit log.",
	"write-on":         "Write access is on: Steward writes tag edits to this tenant.",
	"write-off":        "Write access is off: Steward writes nothing here; pending edits are held.",
	"validated":        "Credentials checked; the report is below.",
	"partner":          "Partner Admin Link saved.",
	"rotated":          "Credential rotated: the new one is active and the old one retired.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

func redirect(w http.ResponseWriter, r *http.Request, to string) error {
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// safeNext keeps the redirect after sign-in on this site: it returns next
// when it is plainly a path here, and "/" when there is any doubt. A real
// next is a request URI that guard escaped, so it is printable ASCII and
// starts with one slash. What is refused is what browsers and proxies turn
// into another origin: browsers drop tabs and line breaks from a URL and
// read a backslash as a slash ("/\t/evil" is "//evil"), and a proxy may
// decode a path once more ("/%2F%2Fevil"). So next, and each decoding of
// it, may hold no backslash, no control character and no "//", its path
// no colon and nothing but ASCII; a next still encoded after three
// decodings is nobody's link.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f {
			return "/"
		}
	}
	v := next
	for decodings := 0; ; decodings++ {
		if !plainPath(v) {
			return "/"
		}
		d, err := url.PathUnescape(v)
		switch {
		case err != nil && decodings == 0:
			return "/" // a malformed escape: no server would take it
		case err != nil || d == v:
			return next // nothing left to decode
		case decodings == 3:
			return "/"
		}
		v = d
	}
}

// plainPath reports whether v, next or a decoding of it, is a path on
// this site: one leading slash, no "//" or backslash anywhere, a path of
// printable ASCII without a colon, and a query and fragment of printable
// text.
func plainPath(v string) bool {
	if !strings.HasPrefix(v, "/") || strings.Contains(v, "//") || strings.Contains(v, "\\") {
		return false
	}
	path, rest := v, ""
	if i := strings.IndexAny(v, "?#"); i >= 0 {
		path, rest = v[:i], v[i:]
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	if !utf8.ValidString(rest) {
		return false
	}
	for _, r := range rest {
		if !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

type loginData struct {
	Name string
	Next string
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) error {
	if steward.ActorFromContext(r.Context()) != nil {
		return redirect(w, r, safeNext(r.URL.Query().Get("next")))
	}
	s.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Flash: flash(r), Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
	return nil
}

func (s *Server) pageLoginSubmit(w http.ResponseWriter, r *http.Request) error {
	name, next := r.PostFormValue("name"), safeNext(r.PostFormValue("next"))
	if _, err := s.login(w, r, name, r.PostFormValue("password")); err != nil {
		s.logError(r, err)
		var te *steward.ThrottledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", strconv.Itoa(te.RetryAfterSeconds()))
		}
		s.render(w, r, errorStatus(err), "login", view{Title: "Sign in", Error: steward.ErrorMessage(err), Data: loginData{Name: name, Next: next}})
		return nil
	}
	return redirect(w, r, next)
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request) error {
	if err := s.logout(w, r); err != nil {
		return err
	}
	return redirect(w, r, "/login")
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dashboardData(r)
	if err != nil {
		return err
	}
	v := view{Title: "Dashboard", Nav: "home", Flash: flash(r), Data: d}
	s.render(w, r, http.StatusOK, "dashboard", v)
	return nil
}

func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request) error {
	u, err := s.deps.Accounts.User(r.Context(), steward.ActorFromContext(r.Context()).UserID)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "account", view{Title: "Your account", Nav: "account", Flash: flash(r), Data: u})
	return nil
}

func (s *Server) pageAccountPassword(w http.ResponseWriter, r *http.Request) error {
	in := passwordChange{CurrentPassword: r.PostFormValue("current"), NewPassword: r.PostFormValue("new")}
	if in.NewPassword != r.PostFormValue("confirm") {
		return s.accountError(w, r, steward.Errorf(steward.EINVALID, "The new password and its confirmation differ."))
	}
	if err := s.deps.Accounts.ChangePassword(r.Context(), in.CurrentPassword, in.NewPassword); err != nil {
		return s.accountError(w, r, err)
	}
	clearSessionCookie(w)
	return redirect(w, r, "/login?done=password")
}

func (s *Server) accountError(w http.ResponseWriter, r *http.Request, cause error) error {
	u, err := s.deps.Accounts.User(r.Context(), steward.ActorFromContext(r.Context()).UserID)
	if err != nil {
		return err
	}
	s.logError(r, cause)
	s.render(w, r, errorStatus(cause), "account", view{Title: "Your account", Nav: "account", Error: steward.ErrorMessage(cause), Data: u})
	return nil
}

type tokensData struct {
	Tokens  []apiToken
	All     bool
	Created *apiTokenCreated
	Name    string
}

func (s *Server) pageTokens(w http.ResponseWriter, r *http.Request) error {
	return s.renderTokens(w, r, http.StatusOK, "", nil)
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, status int, errMsg string, created *apiTokenCreated) error {
	all := r.URL.Query().Get("all") == "1"
	tokens, err := s.listTokens(r, all)
	if err != nil {
		return err
	}
	d := tokensData{All: all, Created: created, Name: r.PostFormValue("name")}
	for _, t := range tokens {
		d.Tokens = append(d.Tokens, toAPIToken(t, s.cfg.Now()))
	}
	s.render(w, r, status, "tokens", view{Title: "API tokens", Nav: "tokens", Flash: flash(r), Error: errMsg, Data: d})
	return nil
}

func (s *Server) pageTokenCreate(w http.ResponseWriter, r *http.Request) error {
	t, token, err := s.createToken(r, tokenInput{Name: r.PostFormValue("name"), ExpiresIn: r.PostFormValue("expires")})
	if err != nil {
		s.logError(r, err)
		return s.renderTokens(w, r, errorStatus(err), steward.ErrorMessage(err), nil)
	}
	// The token is shown on this response only; nothing later can show it.
	created := &apiTokenCreated{apiToken: toAPIToken(t, s.cfg.Now()), Token: token}
	return s.renderTokens(w, r, http.StatusCreated, "", created)
}

func (s *Server) pageTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.deps.Accounts.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	return redirect(w, r, "/tokens?done=token-revoked")
}

func (s *Server) pageUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.deps.Accounts.Users(r.Context())
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "users", view{Title: "Users", Nav: "users", Flash: flash(r), Data: users})
	return nil
}

type userFormData struct {
	In      userInput
	Role    string
	Tenants string
}

func (s *Server) pageUserNew(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "user_new", view{Title: "New user", Nav: "users", Data: userFormData{Role: string(steward.RoleViewer)}})
	return nil
}

// tenantList reads a comma- or space-separated list of tenant IDs.
func tenantList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (s *Server) pageUserCreate(w http.ResponseWriter, r *http.Request) error {
	d := userFormData{Role: r.PostFormValue("role"), Tenants: r.PostFormValue("tenants")}
	d.In = userInput{Name: r.PostFormValue("name"), DisplayName: r.PostFormValue("displayName"), Email: r.PostFormValue("email"), Password: r.PostFormValue("password")}
	if d.Role != "" {
		d.In.Grants = []grantInput{{Role: d.Role, Tenants: tenantList(d.Tenants)}}
	}
	u, err := s.createUser(r, d.In)
	if err != nil {
		s.logError(r, err)
		d.In.Password = ""
		s.render(w, r, errorStatus(err), "user_new", view{Title: "New user", Nav: "users", Error: steward.ErrorMessage(err), Data: d})
		return nil
	}
	return redirect(w, r, "/users/"+strconv.FormatInt(u.ID, 10)+"?done=user-created")
}

type userPageData struct {
	User  *steward.User
	Self  bool
	Roles []steward.Role
}

func (s *Server) pageUser(w http.ResponseWriter, r *http.Request) error {
	return s.renderUser(w, r, http.StatusOK, "")
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.deps.Accounts.User(r.Context(), id)
	if err != nil {
		return err
	}
	d := userPageData{User: u, Self: u.ID == steward.ActorFromContext(r.Context()).UserID, Roles: steward.Roles}
	s.render(w, r, status, "user", view{Title: u.Name, Nav: "users", Flash: flash(r), Error: errMsg, Data: d})
	return nil
}

// userFormFailed re-renders the user page with why the form was refused.
func (s *Server) userFormFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if code := steward.ErrorCode(err); code == steward.EINTERNAL || code == steward.ENOTFOUND {
		return err
	}
	s.logError(r, err)
	return s.renderUser(w, r, errorStatus(err), steward.ErrorMessage(err))
}

func (s *Server) pageUserUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	display, email := r.PostFormValue("displayName"), r.PostFormValue("email")
	in := userUpdateInput{DisplayName: &display, Email: &email}
	if v := r.PostFormValue("disabled"); v != "" {
		b := v == "true"
		in.Disabled = &b
		in.DisplayName, in.Email = nil, nil
	}
	if _, err := s.updateUser(r, id, in); err != nil {
		return s.userFormFailed(w, r, err)
	}
	return redirect(w, r, "/users/"+strconv.FormatInt(id, 10)+"?done=user-saved")
}

func (s *Server) pageUserPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	pw := r.PostFormValue("password")
	if _, err := s.updateUser(r, id, userUpdateInput{Password: &pw}); err != nil {
		return s.userFormFailed(w, r, err)
	}
	return redirect(w, r, "/users/"+strconv.FormatInt(id, 10)+"?done=user-password")
}

func (s *Server) pageGrantCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	in := grantInput{Role: r.PostFormValue("role"), Tenants: tenantList(r.PostFormValue("tenants"))}
	if _, err := s.deps.Accounts.CreateGrant(r.Context(), id, in.grant()); err != nil {
		return s.userFormFailed(w, r, err)
	}
	return redirect(w, r, "/users/"+strconv.FormatInt(id, 10)+"?done=grant-added")
}

func (s *Server) pageGrantDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	g, err := s.deps.Accounts.DeleteGrant(r.Context(), id)
	if err != nil {
		if steward.ErrorCode(err) == steward.ECONFLICT {
			if g, gerr := s.deps.Accounts.Grant(r.Context(), id); gerr == nil {
				r.SetPathValue("id", strconv.FormatInt(g.UserID, 10))
				return s.userFormFailed(w, r, err)
			}
		}
		return err
	}
	return redirect(w, r, "/users/"+strconv.FormatInt(g.UserID, 10)+"?done=grant-removed")
}

func (s *Server) pageUserDeleteConfirm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.deps.Accounts.User(r.Context(), id)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "user_delete", view{Title: "Delete " + u.Name, Nav: "users", Data: u})
	return nil
}

func (s *Server) pageUserDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.deps.Accounts.DeleteUser(r.Context(), id); err != nil {
		return s.userFormFailed(w, r, err)
	}
	return redirect(w, r, "/users?done=user-deleted")
}
