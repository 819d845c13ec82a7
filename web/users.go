package web

import (
	"net/http"
	"strings"

	"github.com/stewardhq/steward"
)

// The account operations behind both the API and the pages. The rules
// (who may, what a token may not, what a new password ends) are the
// account service's; these only turn requests into its inputs.

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

func (g grantInput) grant() steward.Grant {
	return steward.Grant{Role: steward.Role(g.Role), Tenants: g.Tenants}
}

func (s *Server) createUser(r *http.Request, in userInput) (*steward.User, error) {
	u := steward.UserInput{Name: in.Name, DisplayName: in.DisplayName, Email: in.Email, Password: in.Password}
	for _, g := range in.Grants {
		u.Grants = append(u.Grants, g.grant())
	}
	return s.deps.Accounts.CreateUser(r.Context(), u)
}

type userUpdateInput struct {
	DisplayName *string `json:"displayName"`
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	Disabled    *bool   `json:"disabled"`
}

func (s *Server) updateUser(r *http.Request, id int64, in userUpdateInput) (*steward.User, error) {
	return s.deps.Accounts.UpdateUser(r.Context(), id, steward.UserChange{DisplayName: in.DisplayName, Email: in.Email, Password: in.Password, Disabled: in.Disabled})
}

// grantLabel describes a grant for people: "operator on all tenants".
func grantLabel(g steward.Grant) string { return g.Label() }

type passwordChange struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

type tokenInput struct {
	Name      string `json:"name"`
	ExpiresIn string `json:"expiresIn"` // days ("30d") or a Go duration ("720h"); empty: 30 days; at most 730 days
}

func (s *Server) createToken(r *http.Request, in tokenInput) (*steward.APIToken, string, error) {
	d, err := steward.ParseTokenLifetime(in.ExpiresIn)
	if err != nil {
		return nil, "", err
	}
	return s.deps.Accounts.CreateToken(r.Context(), steward.TokenInput{Name: strings.TrimSpace(in.Name), Lifetime: d})
}

// listTokens lists the caller's tokens, or (admins, all=true) everyone's.
func (s *Server) listTokens(r *http.Request, all bool) ([]*steward.APIToken, error) {
	return s.deps.Accounts.Tokens(r.Context(), steward.TokenFilter{All: all})
}
