package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// The operations behind both the API and the pages: each validates, acts and
// audits once, whichever door it was called through.

type userInput struct {
	Name        string       `json:"name"`
	DisplayName string       `json:"displayName"`
	Email       string       `json:"email"`
	Password    string       `json:"password"`
	Grants      []grantInput `json:"grants"`
}

type grantInput struct {
	Role    string   `json:"role"`
	Tenants []string `json:"tenants"`
}

func (g grantInput) grant(by string) steward.Grant {
	return steward.Grant{Role: steward.Role(g.Role), Tenants: g.Tenants, CreatedBy: by}
}

func (s *Server) createUser(r *http.Request, in userInput) (*steward.User, error) {
	actor := steward.ActorFromContext(r.Context())
	if err := s.deps.Passwords.Validate(in.Password); err != nil {
		return nil, err
	}
	hash, err := s.deps.Passwords.Hash(in.Password)
	if err != nil {
		return nil, err
	}
	u := &steward.User{Name: strings.TrimSpace(in.Name), DisplayName: strings.TrimSpace(in.DisplayName), Email: strings.TrimSpace(in.Email), PasswordHash: hash}
	roles := make([]string, 0, len(in.Grants))
	for _, g := range in.Grants {
		u.Grants = append(u.Grants, g.grant(actor.Name))
		roles = append(roles, grantLabel(g.grant("")))
	}
	ev := newEvent(r, "user.create", u.Name).With("grants", strings.Join(roles, "; "))
	if err := s.deps.Users.UserCreate(r.Context(), u, ev); err != nil {
		return nil, err
	}
	return u, nil
}

type userUpdateInput struct {
	DisplayName *string `json:"displayName"`
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	Disabled    *bool   `json:"disabled"`
}

func (s *Server) updateUser(r *http.Request, id int64, in userUpdateInput) (*steward.User, error) {
	upd := steward.UserUpdate{DisplayName: in.DisplayName, Email: in.Email, Disabled: in.Disabled}
	var changed []string
	if in.DisplayName != nil {
		changed = append(changed, "displayName")
	}
	if in.Email != nil {
		changed = append(changed, "email")
	}
	if in.Password != nil {
		if err := s.deps.Passwords.Validate(*in.Password); err != nil {
			return nil, err
		}
		hash, err := s.deps.Passwords.Hash(*in.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
		changed = append(changed, "password")
	}
	if in.Disabled != nil {
		if *in.Disabled && id == steward.ActorFromContext(r.Context()).UserID {
			return nil, steward.Errorf(steward.ECONFLICT, "You cannot disable your own account.")
		}
		changed = append(changed, "disabled="+strconv.FormatBool(*in.Disabled))
	}
	if len(changed) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "Nothing to change: give displayName, email, password or disabled.")
	}
	target, err := s.deps.Users.UserGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	ev := newEvent(r, "user.update", target.Name).With("changed", strings.Join(changed, ","))
	return s.deps.Users.UserUpdate(r.Context(), id, upd, ev)
}

func (s *Server) deleteUser(r *http.Request, id int64) error {
	if id == steward.ActorFromContext(r.Context()).UserID {
		return steward.Errorf(steward.ECONFLICT, "You cannot delete your own account.")
	}
	target, err := s.deps.Users.UserGet(r.Context(), id)
	if err != nil {
		return err
	}
	return s.deps.Users.UserDelete(r.Context(), id, newEvent(r, "user.delete", target.Name))
}

func (s *Server) createGrant(r *http.Request, userID int64, in grantInput) (*steward.Grant, error) {
	target, err := s.deps.Users.UserGet(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	g := in.grant(steward.ActorFromContext(r.Context()).Name)
	g.UserID = userID
	if err := g.Validate(); err != nil {
		return nil, err
	}
	ev := newEvent(r, "grant.create", target.Name).With("grant", grantLabel(g))
	if err := s.deps.Users.GrantCreate(r.Context(), &g, ev); err != nil {
		return nil, err
	}
	return &g, nil
}

func (s *Server) deleteGrant(r *http.Request, id int64) (*steward.Grant, error) {
	g, err := s.deps.Users.GrantGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	owner, err := s.deps.Users.UserGet(r.Context(), g.UserID)
	if err != nil {
		return nil, err
	}
	return s.deps.Users.GrantDelete(r.Context(), id, newEvent(r, "grant.delete", owner.Name).With("grant", grantLabel(*g)))
}

// grantLabel describes a grant for people: "operator on all tenants".
func grantLabel(g steward.Grant) string {
	if g.AllTenants() {
		return string(g.Role) + " on all tenants"
	}
	return string(g.Role) + " on " + strings.Join(g.Tenants, ", ")
}

type passwordChange struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changeOwnPassword needs the current password, so a stolen session cookie
// alone cannot take over the account.
func (s *Server) changeOwnPassword(r *http.Request, in passwordChange) error {
	actor := steward.ActorFromContext(r.Context())
	if actor.TokenID != 0 {
		return steward.Errorf(steward.EFORBIDDEN, "Passwords cannot be changed with an API token; sign in to the portal.")
	}
	u, err := s.deps.Users.UserGet(r.Context(), actor.UserID)
	if err != nil {
		return err
	}
	ok, _, err := s.deps.Passwords.Check(u.PasswordHash, in.CurrentPassword)
	if err != nil {
		return err
	}
	if !ok {
		s.audit(r, newEvent(r, "user.password_change", u.Name).WithOutcome(steward.OutcomeFailure).With("reason", "wrong current password"))
		return steward.Errorf(steward.EUNPROCESSABLE, "The current password is wrong.")
	}
	if err := s.deps.Passwords.Validate(in.NewPassword); err != nil {
		return err
	}
	hash, err := s.deps.Passwords.Hash(in.NewPassword)
	if err != nil {
		return err
	}
	// The store ends every session of the user, this one included.
	_, err = s.deps.Users.UserUpdate(r.Context(), u.ID, steward.UserUpdate{PasswordHash: &hash}, newEvent(r, "user.password_change", u.Name))
	return err
}

type tokenInput struct {
	Name      string `json:"name"`
	ExpiresIn string `json:"expiresIn"` // a Go duration such as "720h"; empty: never
}

// maxTokenLifetime bounds API tokens, like Entra bounds client secrets.
const maxTokenLifetime = 2 * 365 * 24 * time.Hour

func (s *Server) createToken(r *http.Request, in tokenInput) (*steward.APIToken, string, error) {
	actor := steward.ActorFromContext(r.Context())
	if actor.TokenID != 0 {
		return nil, "", steward.Errorf(steward.EFORBIDDEN, "API tokens cannot create tokens; use the portal or `steward token create`.")
	}
	t := &steward.APIToken{UserID: actor.UserID, UserName: actor.Name, Name: strings.TrimSpace(in.Name)}
	if in.ExpiresIn != "" {
		d, err := parseLifetime(in.ExpiresIn)
		if err != nil {
			return nil, "", err
		}
		t.ExpiresAt = s.cfg.Now().Add(d)
	}
	token, hash := steward.NewToken(steward.TokenPrefix)
	t.Hash, t.Prefix = hash, token[:len(steward.TokenPrefix)+6]
	ev := newEvent(r, "token.create", t.Name).With("prefix", t.Prefix).With("expires", formatOptTime(t.ExpiresAt))
	if err := s.deps.Tokens.TokenCreate(r.Context(), t, ev); err != nil {
		return nil, "", err
	}
	return t, token, nil
}

// parseLifetime reads a token lifetime: a Go duration ("720h") or days ("30d").
func parseLifetime(v string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "Expiry %q is not a duration such as 720h or 30d.", v)
	}
	if d > maxTokenLifetime {
		return 0, steward.Errorf(steward.EINVALID, "Tokens may live at most two years (17520h).")
	}
	return d, nil
}

func formatOptTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// revokeToken revokes the caller's own token, or anyone's for an admin.
func (s *Server) revokeToken(r *http.Request, id int64) error {
	actor := steward.ActorFromContext(r.Context())
	t, err := s.deps.Tokens.TokenGet(r.Context(), id)
	if err != nil {
		return err
	}
	if t.UserID != actor.UserID && !actor.Can(steward.PermUsersManage, "") {
		// Not yours: answer as if it did not exist.
		return steward.Errorf(steward.ENOTFOUND, "Token not found.")
	}
	return s.deps.Tokens.TokenRevoke(r.Context(), id, newEvent(r, "token.revoke", t.Name).With("prefix", t.Prefix).With("owner", t.UserName))
}

// listTokens lists the caller's tokens, or (admins, all=true) everyone's.
func (s *Server) listTokens(r *http.Request, all bool) ([]*steward.APIToken, error) {
	actor := steward.ActorFromContext(r.Context())
	if all {
		if !actor.Can(steward.PermUsersManage, "") {
			return nil, steward.Errorf(steward.EFORBIDDEN, "Only admins can list everyone's tokens.")
		}
		return s.deps.Tokens.TokenList(r.Context(), 0)
	}
	return s.deps.Tokens.TokenList(r.Context(), actor.UserID)
}
