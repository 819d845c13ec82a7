package emulator

import (
	"net/http"
	"strings"
)

func groupJSON(gr *group) map[string]any {
	return map[string]any{
		"id": gr.ID, "deletedDateTime": nil, "classification": nil, "createdDateTime": graphTime(gr.Created),
		"description": nilIfEmpty(gr.Description), "displayName": gr.DisplayName, "groupTypes": []string{},
		"mail": nil, "mailEnabled": gr.MailEnabled, "mailNickname": gr.MailNickname, "securityEnabled": gr.SecurityEnabled,
		"securityIdentifier": nil, "visibility": nil, "isAssignableToRole": nil,
	}
}

// groups serves /groups, /groups/{id}, /groups/{id}/members and
// /groups/{id}/members/$ref.
func (g *graphCall) groups(key string) {
	if !g.canRead("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All") {
		g.denied()
		return
	}
	rest := g.segs[1:]
	if key == "" && len(rest) > 0 {
		key, rest = rest[0], rest[1:]
	}
	canWrite := g.isAdmin() || g.c.hasRole("Group.ReadWrite.All") || g.c.hasRole("Directory.ReadWrite.All")
	if key == "" {
		switch g.r.Method {
		case http.MethodGet:
			var objs []map[string]any
			for _, o := range g.e.w.objects {
				if gr, ok := o.(*group); ok && gr.TenantID == g.t.ID {
					objs = append(objs, groupJSON(gr))
				}
			}
			g.list("groups", objs)
		case http.MethodPost:
			if !canWrite {
				g.denied()
				return
			}
			var in struct {
				DisplayName     string `json:"displayName"`
				Description     string `json:"description"`
				MailNickname    string `json:"mailNickname"`
				MailEnabled     bool   `json:"mailEnabled"`
				SecurityEnabled bool   `json:"securityEnabled"`
			}
			if !g.decode(&in) {
				return
			}
			if in.DisplayName == "" || in.MailNickname == "" {
				g.fail(http.StatusBadRequest, "Request_BadRequest", "A value is required for property 'displayName' and 'mailNickname' of resource 'Group'.")
				return
			}
			gr := &group{ID: newGUID(), TenantID: g.t.ID, DisplayName: in.DisplayName, Description: in.Description,
				MailNickname: in.MailNickname, MailEnabled: in.MailEnabled, SecurityEnabled: in.SecurityEnabled, Created: g.e.now()}
			g.e.w.addGroup(gr)
			g.entity(http.StatusCreated, "groups", groupJSON(gr))
		default:
			g.badMethod()
		}
		return
	}
	gr, _ := g.e.w.objects[lowerGUID(key)].(*group)
	if gr == nil || gr.TenantID != g.t.ID {
		g.notFound(key)
		return
	}
	switch {
	case len(rest) == 0 && g.r.Method == http.MethodGet:
		g.entity(http.StatusOK, "groups", groupJSON(gr))
	case len(rest) == 0 && g.r.Method == http.MethodDelete:
		if !canWrite {
			g.denied()
			return
		}
		delete(g.e.w.objects, gr.ID)
		g.e.w.dropMember(gr.ID)
		g.w.WriteHeader(http.StatusNoContent)
	case len(rest) == 1 && strings.EqualFold(rest[0], "members") && g.r.Method == http.MethodGet:
		var objs []map[string]any
		for _, m := range gr.Members {
			switch o := g.e.w.objects[m].(type) {
			case *user:
				j := userJSON(o)
				j["@odata.type"] = "#microsoft.graph.user"
				objs = append(objs, j)
			case *group:
				j := groupJSON(o)
				j["@odata.type"] = "#microsoft.graph.group"
				objs = append(objs, j)
			case *servicePrincipal:
				j := g.spJSON(o)
				j["@odata.type"] = "#microsoft.graph.servicePrincipal"
				objs = append(objs, j)
			}
		}
		g.list("directoryObjects", objs)
	case len(rest) == 2 && strings.EqualFold(rest[0], "members") && rest[1] == "$ref" && g.r.Method == http.MethodPost:
		if !canWrite {
			g.denied()
			return
		}
		var in struct {
			ID string `json:"@odata.id"`
		}
		if !g.decode(&in) {
			return
		}
		id := in.ID[strings.LastIndexByte(in.ID, '/')+1:]
		if _, _, ok := g.e.w.principalType(id); !ok {
			g.notFound(id)
			return
		}
		if containsFold(gr.Members, id) {
			g.fail(http.StatusBadRequest, "Request_BadRequest", "One or more added object references already exist for the following modified properties: 'members'.")
			return
		}
		gr.Members = append(gr.Members, lowerGUID(id))
		g.e.w.reindexMembers()
		g.w.WriteHeader(http.StatusNoContent)
	case len(rest) == 3 && strings.EqualFold(rest[0], "members") && rest[2] == "$ref" && g.r.Method == http.MethodDelete:
		if !canWrite {
			g.denied()
			return
		}
		if !containsFold(gr.Members, rest[1]) {
			g.notFound(rest[1])
			return
		}
		for i, m := range gr.Members {
			if strings.EqualFold(m, rest[1]) {
				gr.Members = append(gr.Members[:i:i], gr.Members[i+1:]...)
				break
			}
		}
		g.e.w.reindexMembers()
		g.w.WriteHeader(http.StatusNoContent)
	default:
		g.badMethod()
	}
}
