package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// The Tags API at a scope (subscription, resource group or resource):
// GET, PUT (replace all), PATCH (Merge, Replace or Delete) and DELETE on
// {scope}/providers/Microsoft.Resources/tags/default. Synchronous (200), as
// api-version 2021-04-01 is and as newer versions may answer. Writing needs
// Microsoft.Resources/tags/write, which Tag Contributor grants without any
// access to the resource itself, or write access to the entity.

const (
	actTagsRead   = "Microsoft.Resources/tags/read"
	actTagsWrite  = "Microsoft.Resources/tags/write"
	actTagsDelete = "Microsoft.Resources/tags/delete"
)

func (e *Emulator) registerARMExtensions() {
	e.registerARM(armExtension{Namespace: "Microsoft.Resources", Type: "tags", APIVersions: resourcesVersions, Serve: (*armCall).serveTags})
	e.registerARM(armExtension{Namespace: "Microsoft.Authorization", Type: "roleAssignments", APIVersions: roleAssignmentVersions, Serve: (*armCall).serveRoleAssignments})
	e.registerARM(armExtension{Namespace: "Microsoft.Authorization", Type: "roleDefinitions", APIVersions: roleDefinitionVersions, Serve: (*armCall).serveRoleDefinitions})
	e.registerARM(armExtension{Namespace: "Microsoft.Authorization", Type: "permissions", APIVersions: roleDefinitionVersions, Serve: (*armCall).servePermissions})
	e.registerARM(armExtension{Namespace: "Microsoft.Insights", Type: "eventtypes", APIVersions: insightsEventVersions, Serve: (*armCall).serveActivityLog})
	e.registerPartB()
}

// tagEntity is the taggable thing behind a scope.
type tagEntity struct {
	tags    *tagSet
	limits  tagLimits
	readAct string
	wrAct   string
	set     func(*tagSet)
}

func (c *armCall) tagEntity(rv resolved) tagEntity {
	switch {
	case rv.res != nil:
		r := rv.res
		return tagEntity{tags: r.tags, limits: limitsFor(r.typ), readAct: r.typ.Name + "/read", wrAct: r.typ.Name + "/write",
			set: func(t *tagSet) { r.setTags(t, c.now) }}
	case rv.group != nil:
		g := rv.group
		return tagEntity{tags: g.Tags, limits: defaultTagLimits, readAct: actGroupRead, wrAct: actGroupWrite, set: func(t *tagSet) { g.Tags = t }}
	default:
		s := rv.sub
		return tagEntity{tags: s.Tags, limits: defaultTagLimits, readAct: "Microsoft.Resources/subscriptions/read", wrAct: "Microsoft.Resources/subscriptions/write", set: func(t *tagSet) { s.Tags = t }}
	}
}

func (c *armCall) serveTags() {
	if len(c.rest) != 1 || !strings.EqualFold(c.rest[0], "default") {
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type 'tags/%s' could not be found in the namespace 'Microsoft.Resources'.", strings.Join(c.rest, "/")))
		return
	}
	if c.scope.Kind != scopeSubscription && c.scope.Kind != scopeGroup && c.scope.Kind != scopeResource {
		c.fail(newARMError(http.StatusBadRequest, "InvalidScope", "Tags can be applied to resources, resource groups and subscriptions only."))
		return
	}
	var (
		op     = ""
		in     tagList
		method = c.r.Method
	)
	switch method {
	case http.MethodGet:
	case http.MethodDelete:
		c.action = actTagsDelete
	case http.MethodPut, http.MethodPatch:
		c.action = actTagsWrite
		body, rerr := c.readBody()
		if rerr != nil {
			c.fail(rerr)
			return
		}
		var req struct {
			Operation  *string `json:"operation"`
			Properties *struct {
				Tags *tagList `json:"tags"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			c.fail(invalidJSON(err))
			return
		}
		if req.Properties == nil {
			c.fail(newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'."))
			return
		}
		if req.Properties.Tags != nil {
			in = *req.Properties.Tags
		}
		op = tagOpReplace
		if method == http.MethodPatch {
			if req.Operation == nil {
				c.fail(newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'operation' not found in JSON.'."))
				return
			}
			op = strings.ToLower(*req.Operation)
			if op != tagOpMerge && op != tagOpReplace && op != tagOpDelete {
				c.fail(newARMError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Error converting value \"%s\" to type 'TagsPatchOperation'.'. Supported values are 'Merge', 'Replace' and 'Delete'.", *req.Operation))
				return
			}
		}
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", method))
		return
	}
	if method == http.MethodGet {
		c.e.w.mu.RLock()
		defer c.e.w.mu.RUnlock()
	} else {
		c.e.w.mu.Lock()
		defer c.e.w.mu.Unlock()
	}
	c.loadGrants()
	// Authorize on the path before revealing whether the entity exists.
	pathScope := "/" + strings.Join(c.segs[:len(c.segs)-len(c.rest)-3], "/")
	key := strings.ToLower(pathScope)
	rv, rerr := c.resolve(c.scope)
	var ent tagEntity
	if rerr == nil {
		ent = c.tagEntity(rv)
		c.resourceID = rv.display + "/providers/Microsoft.Resources/tags/default"
		pathScope, key = rv.display, rv.key
	} else {
		c.resourceID = pathScope + "/providers/Microsoft.Resources/tags/default"
	}
	switch method {
	case http.MethodGet:
		if !allowedAny(c.grants, key, actTagsRead, ent.readAct) {
			c.fail(c.forbidden(actTagsRead, pathScope))
			return
		}
	case http.MethodDelete:
		if !allowedAny(c.grants, key, actTagsDelete, actTagsWrite, ent.wrAct) {
			c.fail(c.forbidden(actTagsDelete, pathScope))
			return
		}
	default:
		if !allowedAny(c.grants, key, actTagsWrite, ent.wrAct) {
			c.fail(c.forbidden(actTagsWrite, pathScope))
			return
		}
	}
	if rerr != nil {
		c.fail(rerr)
		return
	}
	switch method {
	case http.MethodDelete:
		ent.set(nil)
		c.w.Header().Set("Content-Length", "0")
		c.w.WriteHeader(http.StatusOK)
		return
	case http.MethodPut, http.MethodPatch:
		keys, vals := applyTagOp(ent.tags, op, in)
		if terr := ent.limits.validate(keys, vals); terr != nil {
			c.fail(newARMError(http.StatusBadRequest, terr.Code, "%s", terr.Message))
			return
		}
		ent.tags = newTagSet(keys, vals)
		ent.set(ent.tags)
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, rv.display+"/providers/Microsoft.Resources/tags/default")
	b = append(b, `,"name":"default","type":"Microsoft.Resources/tags","properties":{"tags":`...)
	b = ent.tags.appendJSON(b)
	b = append(b, `}}`...)
	writeJSONBytes(c.w, http.StatusOK, b)
}

// listTagNames serves Tags_List: every tag name in the subscription (on
// resources, groups and the subscription) with its values and counts.
func (c *armCall) listTagNames() {
	if !c.requireVersion(resourcesVersions, "InvalidApiVersionParameter") {
		return
	}
	const act = "Microsoft.Resources/subscriptions/tagNames/read"
	c.e.w.mu.RLock()
	c.loadGrants()
	if !allowed(c.grants, c.sub.scope(), act) {
		c.e.w.mu.RUnlock()
		c.fail(c.forbidden(act, c.sub.scope()))
		return
	}
	type valCount struct {
		val string
		n   int
	}
	type nameCount struct {
		name string
		n    int
		vals map[string]*valCount
	}
	names := map[string]*nameCount{}
	add := func(ts *tagSet) {
		if ts == nil {
			return
		}
		for i, k := range ts.keys {
			lk := strings.ToLower(k)
			nc := names[lk]
			if nc == nil {
				nc = &nameCount{name: k, vals: map[string]*valCount{}}
				names[lk] = nc
			}
			nc.n++
			vc := nc.vals[ts.vals[i]]
			if vc == nil {
				vc = &valCount{val: ts.vals[i]}
				nc.vals[ts.vals[i]] = vc
			}
			vc.n++
		}
	}
	add(c.sub.Tags)
	for _, g := range c.sub.groups {
		add(g.Tags)
		for _, r := range g.resources {
			add(r.tags)
		}
	}
	c.e.w.mu.RUnlock()
	type countOut struct {
		Type  string `json:"type"`
		Value int    `json:"value"`
	}
	type valOut struct {
		ID       string   `json:"id"`
		TagValue string   `json:"tagValue"`
		Count    countOut `json:"count"`
	}
	type nameOut struct {
		ID      string   `json:"id"`
		TagName string   `json:"tagName"`
		Count   countOut `json:"count"`
		Values  []valOut `json:"values"`
	}
	out := []nameOut{}
	for _, nc := range names {
		no := nameOut{ID: c.sub.scope() + "/tagNames/" + nc.name, TagName: nc.name, Count: countOut{"Total", nc.n}, Values: []valOut{}}
		for _, vc := range nc.vals {
			no.Values = append(no.Values, valOut{ID: no.ID + "/tagValues/" + vc.val, TagValue: vc.val, Count: countOut{"Total", vc.n}})
		}
		sort.Slice(no.Values, func(i, j int) bool { return no.Values[i].TagValue < no.Values[j].TagValue })
		out = append(out, no)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].TagName) < strings.ToLower(out[j].TagName) })
	writeJSON(c.w, http.StatusOK, map[string]any{"value": out})
}
