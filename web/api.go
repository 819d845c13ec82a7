package web

import (
	"net/http"
	"strconv"

	"github.com/stewardhq/steward"
)

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	actor := steward.ActorFromContext(r.Context())
	u, err := s.deps.Accounts.User(r.Context(), actor.UserID)
	if err != nil {
		return err
	}
	me := apiMe{apiUser: toAPIUser(u), Permissions: map[string]apiPermScope{}, ViaToken: actor.TokenID != 0}
	for _, p := range []steward.Permission{steward.PermInventoryRead, steward.PermTagsWrite, steward.PermTenantsManage, steward.PermAuditRead, steward.PermUsersManage} {
		if sc := actor.Scope(p); !sc.Empty() {
			me.Permissions[string(p)] = apiPermScope{AllTenants: sc.All(), Tenants: sc.Tenants()}
		}
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) error {
	var in passwordChange
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.deps.Accounts.ChangePassword(r.Context(), in.CurrentPassword, in.NewPassword); err != nil {
		return err
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.deps.Accounts.Users(r.Context())
	if err != nil {
		return err
	}
	out := listResponse[apiUser]{Items: []apiUser{}}
	for _, u := range users {
		out.Items = append(out.Items, toAPIUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.createUser(r, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+strconv.FormatInt(u.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIUser(u))
	return nil
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.deps.Accounts.User(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(u))
	return nil
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in userUpdateInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.updateUser(r, id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(u))
	return nil
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.deps.Accounts.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiCreateGrant(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in grantInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	g, err := s.deps.Accounts.CreateGrant(r.Context(), id, in.grant())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toAPIGrant(*g))
	return nil
}

func (s *Server) apiDeleteGrant(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.deps.Accounts.DeleteGrant(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiListTokens(w http.ResponseWriter, r *http.Request) error {
	all, err := boolQuery(r, "all")
	if err != nil {
		return err
	}
	tokens, err := s.listTokens(r, all)
	if err != nil {
		return err
	}
	out := listResponse[apiToken]{Items: []apiToken{}}
	for _, t := range tokens {
		out.Items = append(out.Items, toAPIToken(t, s.cfg.Now()))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var in tokenInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	t, token, err := s.createToken(r, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, apiTokenCreated{apiToken: toAPIToken(t, s.cfg.Now()), Token: token})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.deps.Accounts.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, steward.Errorf(steward.EINVALID, "%s must be true or false.", name)
	}
	return b, nil
}
