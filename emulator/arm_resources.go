package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

const (
	actSubResourcesRead   = "Microsoft.Resources/subscriptions/resources/read"
	actGroupResourcesRead = "Microsoft.Resources/subscriptions/resourceGroups/resources/read"
)

// listResources serves Resources_List (group == "") and
// Resources_ListByResourceGroup: pages of up to 1,000 resources in a stable
// order (group, type, name), resumed with a $skiptoken that names the last
// resource returned, so a page costs O(log n + page) however deep it is.
func (c *armCall) listResources(group string) {
	if !c.requireVersion(resourcesVersions, "InvalidApiVersionParameter") {
		return
	}
	q := c.r.URL.Query()
	f, ferr := parseResourceFilter(q.Get("$filter"), false)
	if ferr != nil {
		c.fail(ferr)
		return
	}
	var expCreated, expChanged, expState bool
	for _, x := range strings.Split(q.Get("$expand"), ",") {
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "createdtime":
			expCreated = true
		case "changedtime":
			expChanged = true
		case "provisioningstate":
			expState = true
		}
	}
	expand := expCreated || expChanged || expState
	top, skip, perr := c.pageParams(defaultPage)
	if perr != nil {
		c.fail(perr)
		return
	}
	skipRG, skipType, skipName := splitSkip(skip)

	bufp := getBuf()
	defer putBuf(bufp)
	b := *bufp

	c.e.w.mu.RLock()
	c.loadGrants()
	subKey := c.sub.scope()
	var groups []*resourceGroup
	all := false
	if group == "" {
		all = allowed(c.grants, subKey, actSubResourcesRead)
		if !all && !hasGrantBelow(c.grants, subKey) {
			c.e.w.mu.RUnlock()
			c.fail(c.forbidden(actSubResourcesRead, subKey))
			return
		}
		groups = c.sub.groups
	} else {
		g := c.sub.group(group)
		gKey := strings.ToLower(subKey + "/resourceGroups/" + group)
		all = allowed(c.grants, gKey, actGroupResourcesRead)
		if !all && !hasGrantBelow(c.grants, gKey) {
			c.e.w.mu.RUnlock()
			c.fail(c.forbidden(actGroupResourcesRead, subKey+"/resourceGroups/"+group))
			return
		}
		if g == nil {
			c.e.w.mu.RUnlock()
			c.fail(newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", group))
			return
		}
		groups = []*resourceGroup{g}
	}
	gi := 0
	if skip != "" {
		gi = sort.Search(len(groups), func(i int) bool { return groups[i].lname >= skipRG })
	}
	b = append(b, `{"value":[`...)
	n := 0
	var last *resource
	more := false
scan:
	for ; gi < len(groups); gi++ {
		g := groups[gi]
		gAll := all
		var gKey string
		if !gAll {
			gKey = strings.ToLower(g.id())
			gAll = allowedAny(c.grants, gKey, actGroupResourcesRead, actSubResourcesRead)
			if !gAll && !hasGrantBelow(c.grants, gKey) {
				continue
			}
		}
		rs := g.resources
		ri := 0
		if skip != "" && g.lname == skipRG {
			ri = sort.Search(len(rs), func(i int) bool { return compareRes(rs[i], skipType, skipName) > 0 })
		}
		for _, r := range rs[ri:] {
			if !gAll && !allowedAny(c.grants, strings.ToLower(r.id()), actGroupResourcesRead, r.typ.Name+"/read") {
				continue
			}
			if !f.match(r) {
				continue
			}
			if n == top {
				more = true
				break scan
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = r.appendOpen(b, !f.byTags)
			if expand {
				if expCreated {
					b = append(b, `,"createdTime":`...)
					b = appendTime(b, time.Unix(r.created, 0))
				}
				if expChanged {
					b = append(b, `,"changedTime":`...)
					b = appendTime(b, time.Unix(r.changed, 0))
				}
				if expState {
					b = append(b, `,"provisioningState":"Succeeded"`...)
				}
			}
			b = append(b, '}')
			last = r
			n++
		}
	}
	b = append(b, ']')
	if more && last != nil {
		b = append(b, `,"nextLink":`...)
		b = appendJSONString(b, c.nextLink(last.group.lname+"\x00"+last.typ.lower+"\x00"+strings.ToLower(last.name)))
	}
	b = append(b, '}')
	c.e.w.mu.RUnlock()
	*bufp = b
	writeJSONBytes(c.w, http.StatusOK, b)
}

func splitSkip(s string) (rg, typ, name string) {
	parts := strings.SplitN(s, "\x00", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// appendResourceFull appends the GET shape: the list shape plus properties.
func appendResourceFull(b []byte, r *resource) []byte {
	b = r.appendOpen(b, true)
	return append(b, `,"properties":{"provisioningState":"Succeeded"}}`...)
}

// resourceOp serves GET, HEAD, PUT, PATCH and DELETE on one resource.
func (c *armCall) resourceOp() {
	sc, perr := parseScope(c.segs)
	if perr != nil {
		c.fail(perr)
		return
	}
	c.scope = sc
	if !c.requireVersion(sc.Type.APIVersions, "NoRegisteredProviderFound") {
		return
	}
	display := c.sub.scope() + "/resourceGroups/" + sc.Group + "/providers/" + strings.Join(c.segs[5:], "/")
	key := strings.ToLower(display)
	act := sc.Type.Name + "/" + map[opKind]string{opRead: "read", opWrite: "write", opDelete: "delete"}[c.kind]
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		c.e.w.mu.RLock()
		c.loadGrants()
		var b []byte
		var err *armError
		rv, rerr := c.resolve(sc)
		switch {
		case !allowed(c.grants, key, act):
			err = c.forbidden(act, display)
		case rerr != nil:
			err = rerr
		default:
			b = appendResourceFull(nil, rv.res)
		}
		c.e.w.mu.RUnlock()
		if c.r.Method == http.MethodHead {
			switch {
			case err != nil && err.Status == http.StatusNotFound:
				c.w.WriteHeader(http.StatusNotFound)
			case err != nil:
				c.fail(err)
			default:
				c.w.WriteHeader(http.StatusNoContent)
			}
			return
		}
		c.send(http.StatusOK, b, err)
	case http.MethodPut, http.MethodPatch:
		c.action, c.resourceID = act, display
		body, rerr := c.readBody()
		if rerr != nil {
			c.fail(rerr)
			return
		}
		var in struct {
			Location  string   `json:"location"`
			Kind      string   `json:"kind"`
			ManagedBy string   `json:"managedBy"`
			Tags      *tagList `json:"tags"`
			Sku       *struct {
				Name string `json:"name"`
			} `json:"sku"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			c.fail(invalidJSON(err))
			return
		}
		c.e.w.mu.Lock()
		status, b, err := c.putResourceLocked(sc, display, key, act, in.Location, in.Kind, in.Sku, in.Tags)
		c.e.w.mu.Unlock()
		c.send(status, b, err)
	case http.MethodDelete:
		c.action, c.resourceID = act, display
		c.e.w.mu.Lock()
		c.loadGrants()
		var err *armError
		status := http.StatusOK
		g := c.sub.group(sc.Group)
		switch {
		case !allowed(c.grants, key, act):
			err = c.forbidden(act, display)
		case g == nil:
			err = newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", sc.Group)
		default:
			r, _ := g.findResource(sc.Type, sc.Name)
			if r == nil {
				status = http.StatusNoContent
				break
			}
			g.removeResource(r)
			for _, o := range g.resources {
				if o.managedBy == r {
					o.managedBy = nil
				}
			}
			kept := c.sub.Assignments[:0]
			for _, a := range c.sub.Assignments {
				if !inScope(key, a.scopeKey) {
					kept = append(kept, a)
				}
			}
			c.sub.Assignments = kept
		}
		c.e.w.mu.Unlock()
		c.send(status, nil, err)
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	}
}

func (c *armCall) putResourceLocked(sc scopeRef, display, key, act, location, kind string, sku *struct {
	Name string `json:"name"`
}, tags *tagList) (int, []byte, *armError) {
	c.loadGrants()
	if !allowed(c.grants, key, act) {
		return 0, nil, c.forbidden(act, display)
	}
	g := c.sub.group(sc.Group)
	if g == nil {
		return 0, nil, newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", sc.Group)
	}
	r, _ := g.findResource(sc.Type, sc.Name)
	if r == nil && c.r.Method == http.MethodPatch {
		return 0, nil, notFoundResource(sc)
	}
	if r == nil {
		if strings.ContainsAny(sc.Name, `<>%&\?`) {
			return 0, nil, newARMError(http.StatusBadRequest, "InvalidResourceName", "The resource name '%s' is invalid.", sc.Name)
		}
		if i := strings.LastIndexByte(sc.Name, '/'); i >= 0 {
			parentType := resTypeByLower[strings.ToLower(sc.TypeName[:strings.LastIndexByte(sc.TypeName, '/')])]
			if parentType == nil {
				return 0, nil, notFoundResource(sc)
			}
			if p, _ := g.findResource(parentType, sc.Name[:i]); p == nil {
				return 0, nil, newARMError(http.StatusNotFound, "ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", sc.Name[:i])
			}
		}
	}
	loc := uint8(0)
	if c.r.Method == http.MethodPut {
		l := strings.ToLower(strings.ReplaceAll(location, " ", ""))
		if l == "" {
			return 0, nil, newARMError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		i, ok := locationIndex[l]
		if !ok {
			return 0, nil, newARMError(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.", location, sc.Type.Name, strings.Join(locations, ","))
		}
		if r != nil && r.loc != i {
			return 0, nil, newARMError(http.StatusBadRequest, "InvalidResourceLocation", "The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.", sc.Name, r.location(), g.Name, l)
		}
		loc = i
	}
	var ts *tagSet
	if tags != nil {
		if terr := limitsFor(sc.Type).validate(tags.keys, tags.vals); terr != nil {
			return 0, nil, newARMError(http.StatusBadRequest, terr.Code, "%s", terr.Message)
		}
		ts = newTagSet(tags.keys, tags.vals)
	}
	skuName := ""
	if sku != nil {
		skuName = sku.Name
	}
	status := http.StatusOK
	if r == nil {
		r = &resource{typ: sc.Type, name: sc.Name, loc: loc, created: c.now.Unix(), changed: c.now.Unix()}
		r.group = g
		g.addResource(r)
		status = http.StatusCreated
	}
	if kind != "" || skuName != "" {
		r.variant = sc.Type.variantIndex(kind, skuName)
	}
	if tags != nil || c.r.Method == http.MethodPut {
		r.setTags(ts, c.now)
	} else {
		r.changed = c.now.Unix()
	}
	return status, appendResourceFull(nil, r), nil
}
