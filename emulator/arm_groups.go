package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

const (
	actGroupRead   = "Microsoft.Resources/subscriptions/resourceGroups/read"
	actGroupWrite  = "Microsoft.Resources/subscriptions/resourceGroups/write"
	actGroupDelete = "Microsoft.Resources/subscriptions/resourceGroups/delete"
	defaultPage    = 1000
)

func appendGroup(b []byte, g *resourceGroup) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, g.id())
	b = append(b, `,"name":`...)
	b = appendJSONString(b, g.Name)
	b = append(b, `,"type":"Microsoft.Resources/resourceGroups","location":`...)
	b = appendJSONString(b, g.Location)
	if g.ManagedBy != "" {
		b = append(b, `,"managedBy":`...)
		b = appendJSONString(b, g.ManagedBy)
	}
	if g.Tags.len() > 0 {
		b = append(b, `,"tags":`...)
		b = g.Tags.appendJSON(b)
	}
	return append(b, `,"properties":{"provisioningState":"Succeeded"}}`...)
}

// pageParams reads $top and $skiptoken.
func (c *armCall) pageParams(max int) (top int, skip string, err *armError) {
	q := c.r.URL.Query()
	top = max
	if s := q.Get("$top"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 {
			return 0, "", newARMError(http.StatusBadRequest, "InvalidTopInQueryString", "Invalid $top '%s' specified in the query string.", s)
		}
		top = min(n, max)
	}
	if s := q.Get("$skiptoken"); s != "" {
		b, e := base64.RawURLEncoding.DecodeString(s)
		if e != nil {
			return 0, "", newARMError(http.StatusBadRequest, "InvalidSkipToken", "The skip token '%s' is invalid.", s)
		}
		skip = string(b)
	}
	return top, skip, nil
}

// nextLink builds the link to the page after lastKey, keeping the query.
func (c *armCall) nextLink(lastKey string) string {
	q := c.r.URL.Query()
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(lastKey)))
	return baseURL(c.r) + c.r.URL.EscapedPath() + "?" + q.Encode()
}

func (c *armCall) listGroups() {
	if !c.requireVersion(resourcesVersions, "InvalidApiVersionParameter") {
		return
	}
	f, ferr := parseResourceFilter(c.r.URL.Query().Get("$filter"), true)
	if ferr != nil {
		c.fail(ferr)
		return
	}
	top, skip, perr := c.pageParams(defaultPage)
	if perr != nil {
		c.fail(perr)
		return
	}
	c.e.w.mu.RLock()
	c.loadGrants()
	subKey := c.sub.scope()
	all := allowed(c.grants, subKey, actGroupRead)
	if !all && !hasGrantBelow(c.grants, subKey) {
		c.e.w.mu.RUnlock()
		c.fail(c.forbidden(actGroupRead, subKey))
		return
	}
	groups := c.sub.groups
	start := sort.Search(len(groups), func(i int) bool { return groups[i].lname > skip })
	if skip == "" {
		start = 0
	}
	b := make([]byte, 0, 64<<10)
	b = append(b, `{"value":[`...)
	n := 0
	last := ""
	more := false
	for _, g := range groups[start:] {
		if !all && !allowed(c.grants, strings.ToLower(g.id()), actGroupRead) {
			continue
		}
		if !f.matchTags(g.Tags) {
			continue
		}
		if n == top {
			more = true
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendGroup(b, g)
		last = g.lname
		n++
	}
	b = append(b, ']')
	if more {
		b = append(b, `,"nextLink":`...)
		b = appendJSONString(b, c.nextLink(last))
	}
	b = append(b, '}')
	c.e.w.mu.RUnlock()
	writeJSONBytes(c.w, http.StatusOK, b)
}

// groupOp serves GET, HEAD, PUT, PATCH and DELETE on a resource group.
func (c *armCall) groupOp(name string) {
	if !c.requireVersion(resourcesVersions, "InvalidApiVersionParameter") {
		return
	}
	display := c.sub.scope() + "/resourceGroups/" + name
	key := strings.ToLower(display)
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		c.e.w.mu.RLock()
		c.loadGrants()
		g := c.sub.group(name)
		var b []byte
		var err *armError
		switch {
		case !allowed(c.grants, key, actGroupRead):
			err = c.forbidden(actGroupRead, display)
		case g == nil:
			err = newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", name)
		default:
			b = appendGroup(nil, g)
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
		c.action, c.resourceID = actGroupWrite, display
		body, rerr := c.readBody()
		if rerr != nil {
			c.fail(rerr)
			return
		}
		var in struct {
			Location  string   `json:"location"`
			ManagedBy *string  `json:"managedBy"`
			Tags      *tagList `json:"tags"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			c.fail(invalidJSON(err))
			return
		}
		c.e.w.mu.Lock()
		status, b, err := c.putGroupLocked(name, display, key, in.Location, in.ManagedBy, in.Tags)
		c.e.w.mu.Unlock()
		c.send(status, b, err)
	case http.MethodDelete:
		c.action, c.resourceID = actGroupDelete, display
		c.e.w.mu.Lock()
		c.loadGrants()
		g := c.sub.group(name)
		var err *armError
		switch {
		case !allowed(c.grants, key, actGroupDelete):
			err = c.forbidden(actGroupDelete, display)
		case g == nil:
			err = newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", name)
		default:
			c.sub.removeGroup(g)
			kept := c.sub.Assignments[:0]
			for _, a := range c.sub.Assignments {
				if !inScope(key, a.scopeKey) {
					kept = append(kept, a)
				}
			}
			c.sub.Assignments = kept
		}
		c.e.w.mu.Unlock()
		if err != nil {
			c.fail(err)
			return
		}
		// The deletion is already done, so no Retry-After: clients poll the
		// Location once and finish (ARM says 15 seconds; waiting buys nothing here).
		c.w.Header().Set("Location", baseURL(c.r)+c.sub.scope()+"/operationresults/"+randomToken(16)+"?api-version="+c.version)
		c.w.WriteHeader(http.StatusAccepted)
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	}
}

func (c *armCall) putGroupLocked(name, display, key, location string, managedBy *string, tags *tagList) (int, []byte, *armError) {
	c.loadGrants()
	if !allowed(c.grants, key, actGroupWrite) {
		return 0, nil, c.forbidden(actGroupWrite, display)
	}
	g := c.sub.group(name)
	if g == nil && c.r.Method == http.MethodPatch {
		return 0, nil, newARMError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", name)
	}
	if g == nil {
		if err := validGroupName(name); err != nil {
			return 0, nil, err
		}
	}
	if c.r.Method == http.MethodPut {
		loc := strings.ToLower(strings.ReplaceAll(location, " ", ""))
		if loc == "" {
			return 0, nil, newARMError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		if _, ok := locationIndex[loc]; !ok {
			return 0, nil, newARMError(http.StatusBadRequest, "LocationNotAvailableForResourceGroup", "The provided location '%s' is not available for resource group. List of available regions is '%s'.", location, strings.Join(locations, ","))
		}
		if g != nil && !strings.EqualFold(g.Location, loc) {
			return 0, nil, newARMError(http.StatusConflict, "InvalidResourceGroupLocation", "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", location, g.Location)
		}
		location = loc
	}
	var ts *tagSet
	if tags != nil {
		if terr := defaultTagLimits.validate(tags.keys, tags.vals); terr != nil {
			return 0, nil, newARMError(http.StatusBadRequest, terr.Code, "%s", terr.Message)
		}
		ts = newTagSet(tags.keys, tags.vals)
	}
	status := http.StatusOK
	if g == nil {
		g = &resourceGroup{Name: name, Location: location, Created: c.now}
		c.sub.addGroup(g)
		status = http.StatusCreated
	}
	if tags != nil || c.r.Method == http.MethodPut {
		g.Tags = ts
	}
	if managedBy != nil {
		g.ManagedBy = *managedBy
	}
	return status, appendGroup(nil, g), nil
}

func validGroupName(name string) *armError {
	if len(name) == 0 || len(name) > 90 {
		return newARMError(http.StatusBadRequest, "InvalidResourceGroup", "The provided resource group name '%s' has an invalid length. It must be between 1 and 90 characters.", name)
	}
	if strings.HasSuffix(name, ".") {
		return newARMError(http.StatusBadRequest, "InvalidResourceGroup", "The provided resource group name '%s' cannot end with a period.", name)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.()", r)) {
			return newARMError(http.StatusBadRequest, "InvalidResourceGroup", "The provided resource group name '%s' has these invalid characters: '%c'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.", name, r)
		}
	}
	return nil
}
