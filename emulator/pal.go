package emulator

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Partner Admin Link: /providers/Microsoft.ManagementPartner/partners
// links the calling identity (its tenant and object ID, from the token) to
// a Microsoft Partner Network ID. PUT creates the link (409 Conflict when the
// identity has one), PATCH moves it to another ID, GET reads it (with or
// without the ID in the path), DELETE removes it; 404 NotFound when there
// is none. Only the identity itself can see or change its link, as in Azure.
// Partner IDs are 6 or 7 digits; the estate's partner tenant, Adatum
// Partners, has the ID PartnerMPNID returns.

var palVersions = []string{"2018-02-01"}

// partnerLink is one identity's link.
type partnerLink struct {
	TenantID  string
	ObjectID  string
	PartnerID string
	Version   int
	Created   time.Time
	Updated   time.Time
}

// PartnerMPNID is the MPN ID of the estate's partner (Adatum Partners),
// derived from the seed.
func (e *Emulator) PartnerMPNID() string { return mpnIDFor(e.w.seed) }

func mpnIDFor(seed int64) string {
	return strconv.FormatUint(1_000_000+uint64(costHash(seed, "mpn", 0)%9_000_000), 10)
}

func validMPNID(id string) bool {
	if len(id) < 6 || len(id) > 7 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// partnerName is the name the partner network knows an ID by.
func (w *world) partnerName(id string) string {
	if id == mpnIDFor(w.seed) {
		return PartnerTenantName
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return companyNames[int(h.Sum32())%len(companyNames)] + " Solutions"
}

func appendPartnerLink(b []byte, w *world, l *partnerLink, withID bool) []byte {
	b = append(b, `{"id":"/providers/microsoft.managementpartner/partners`...)
	if withID {
		b = append(b, '/')
		b = append(b, l.PartnerID...)
	}
	b = append(b, `","type":"Microsoft.ManagementPartner/partner","name":`...)
	b = appendJSONString(b, l.PartnerID)
	b = append(b, `,"etag":`...)
	b = strconv.AppendInt(b, int64(l.Version), 10)
	b = append(b, `,"properties":{"partnerId":`...)
	b = appendJSONString(b, l.PartnerID)
	b = append(b, `,"partnerName":`...)
	b = appendJSONString(b, w.partnerName(l.PartnerID))
	b = append(b, `,"tenantId":`...)
	b = appendJSONString(b, l.TenantID)
	b = append(b, `,"objectId":`...)
	b = appendJSONString(b, l.ObjectID)
	b = append(b, `,"version":"`...)
	b = strconv.AppendInt(b, int64(l.Version), 10)
	b = append(b, `","updatedTime":`...)
	b = appendTime(b, l.Updated)
	b = append(b, `,"createdTime":`...)
	b = appendTime(b, l.Created)
	return append(b, `,"state":"Active"}}`...)
}

func (c *armCall) servePartners() {
	if c.scope.Kind != scopeTenant || len(c.rest) > 1 {
		c.fail(newARMError(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.ManagementPartner' for api version '%s'.", c.version))
		return
	}
	key := strings.ToLower(c.c.TenantID + "/" + c.c.ObjectID)
	id := ""
	if len(c.rest) == 1 {
		id = c.rest[0]
	}
	notFound := func() {
		c.fail(newARMError(http.StatusNotFound, "NotFound", "No partner is linked to the identity with object ID '%s' in tenant '%s'.", c.c.ObjectID, c.c.TenantID))
	}
	if id != "" && c.r.Method != http.MethodGet && !validMPNID(id) {
		c.fail(newARMError(http.StatusBadRequest, "BadRequest", "The partner ID '%s' is invalid: a Microsoft Partner Network ID (Partner Location Account ID) has 6 or 7 digits.", id))
		return
	}
	w := c.e.w
	switch c.r.Method {
	case http.MethodGet:
		w.mu.RLock()
		l := w.partners[key]
		var b []byte
		if l != nil && (id == "" || l.PartnerID == id) {
			b = appendPartnerLink(nil, w, l, id != "")
		}
		w.mu.RUnlock()
		if b == nil {
			notFound()
			return
		}
		writeJSONBytes(c.w, http.StatusOK, b)
	case http.MethodPut, http.MethodPatch:
		if id == "" {
			c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
			return
		}
		w.mu.Lock()
		l := w.partners[key]
		var err *armError
		switch {
		case c.r.Method == http.MethodPut && l != nil:
			err = newARMError(http.StatusConflict, "Conflict", "The identity is already linked to partner '%s'; update the link with PATCH or delete it first.", l.PartnerID)
		case c.r.Method == http.MethodPatch && l == nil:
			err = newARMError(http.StatusNotFound, "NotFound", "No partner is linked to the identity with object ID '%s' in tenant '%s'.", c.c.ObjectID, c.c.TenantID)
		case l == nil:
			l = &partnerLink{TenantID: c.c.TenantID, ObjectID: c.c.ObjectID, PartnerID: id, Version: 1, Created: c.now, Updated: c.now}
			w.partners[key] = l
		default:
			l.PartnerID, l.Version, l.Updated = id, l.Version+1, c.now
		}
		var b []byte
		if err == nil {
			b = appendPartnerLink(nil, w, l, true)
		}
		w.mu.Unlock()
		c.send(http.StatusOK, b, err)
	case http.MethodDelete:
		if id == "" {
			c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
			return
		}
		w.mu.Lock()
		l := w.partners[key]
		found := l != nil && l.PartnerID == id
		if found {
			delete(w.partners, key)
		}
		w.mu.Unlock()
		if !found {
			notFound()
			return
		}
		c.send(http.StatusOK, nil, nil)
	default:
		c.fail(newARMError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
	}
}
