package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// world is the emulator's whole state: directories, subscriptions and their
// contents, role assignments, the activity log and pending sign-ins. One
// RWMutex guards it; readers build their response bodies under the read
// lock and write them to the network after releasing it.
type world struct {
	mu sync.RWMutex

	tenants    map[string]*tenant // lower-case ID → tenant
	tenantList []*tenant          // creation order
	domains    map[string]*tenant // lower-case domain → tenant

	objects  map[string]any          // lower-case object ID → *user | *group | *servicePrincipal | *application
	apps     map[string]*application // lower-case app ID → app
	spsByApp map[string][]string     // lower-case app ID → service principal object IDs
	memberOf map[string][]string     // object ID → group IDs it is a direct member of

	subs    map[string]*subscription
	subList []*subscription // sorted by ID

	// Entra sign-in state.
	flows   map[string]*authFlow     // pending /authorize sessions
	codes   map[string]*authCode     // issued authorization codes
	refresh map[string]*refreshGrant // issued refresh tokens

	// grantHooks add role grants that do not come from a subscription's own
	// assignments (Lighthouse delegations, part B). See rbac.go.
	grantHooks []grantHook

	// Part B: Partner Admin Link by caller (lower tenant/object ID), and
	// Lighthouse registrations by subscription ID (lighthouse.go).
	partners   map[string]*partnerLink
	lighthouse map[string]*lhSub

	estate string
	seed   int64
}

func newWorld() *world {
	return &world{
		tenants:  map[string]*tenant{},
		domains:  map[string]*tenant{},
		objects:  map[string]any{},
		apps:     map[string]*application{},
		spsByApp: map[string][]string{},
		memberOf: map[string][]string{},
		subs:     map[string]*subscription{},
		flows:    map[string]*authFlow{},
		codes:    map[string]*authCode{},
		refresh:  map[string]*refreshGrant{},

		partners:   map[string]*partnerLink{},
		lighthouse: map[string]*lhSub{},
		grantHooks: []grantHook{lighthouseGrants},
	}
}

// tenant finds a tenant by ID or domain name.
func (w *world) tenant(idOrDomain string) *tenant {
	k := strings.ToLower(idOrDomain)
	if t := w.tenants[k]; t != nil {
		return t
	}
	return w.domains[k]
}

func (w *world) addTenant(t *tenant) {
	t.ID = lowerGUID(t.ID)
	w.tenants[t.ID] = t
	w.domains[strings.ToLower(t.Domain)] = t
	w.tenantList = append(w.tenantList, t)
}

func (w *world) addUser(u *user) {
	u.ID = lowerGUID(u.ID)
	w.objects[u.ID] = u
}

// userByUPN finds a user by user principal name in any tenant.
func (w *world) userByUPN(upn string) *user {
	for _, o := range w.objects {
		if u, ok := o.(*user); ok && strings.EqualFold(u.UPN, upn) {
			return u
		}
	}
	return nil
}

func (w *world) addGroup(g *group) {
	g.ID = lowerGUID(g.ID)
	w.objects[g.ID] = g
	w.reindexMembers()
}

func (w *world) addApp(a *application) {
	a.ObjectID = lowerGUID(a.ObjectID)
	a.AppID = lowerGUID(a.AppID)
	w.objects[a.ObjectID] = a
	w.apps[a.AppID] = a
}

func (w *world) addSP(sp *servicePrincipal) {
	sp.ID = lowerGUID(sp.ID)
	sp.AppID = lowerGUID(sp.AppID)
	w.objects[sp.ID] = sp
	w.spsByApp[sp.AppID] = append(w.spsByApp[sp.AppID], sp.ID)
}

func (w *world) removeSP(sp *servicePrincipal) {
	delete(w.objects, sp.ID)
	ids := w.spsByApp[sp.AppID]
	for i, id := range ids {
		if id == sp.ID {
			w.spsByApp[sp.AppID] = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	w.dropMember(sp.ID)
}

// dropMember removes a deleted object from every group.
func (w *world) dropMember(id string) {
	for _, o := range w.objects {
		if g, ok := o.(*group); ok {
			for i, m := range g.Members {
				if strings.EqualFold(m, id) {
					g.Members = append(g.Members[:i:i], g.Members[i+1:]...)
					break
				}
			}
		}
	}
	w.reindexMembers()
}

func (w *world) addSubscription(s *subscription) {
	s.ID = lowerGUID(s.ID)
	w.subs[s.ID] = s
	i := sort.Search(len(w.subList), func(i int) bool { return w.subList[i].ID >= s.ID })
	w.subList = append(w.subList, nil)
	copy(w.subList[i+1:], w.subList[i:])
	w.subList[i] = s
}

func (w *world) subscription(id string) *subscription { return w.subs[strings.ToLower(id)] }

// transferSubscription moves a subscription to another directory. As in
// Azure, every role assignment in it is deleted (they name principals of the
// old directory) and resources stay. Lighthouse delegations are kept — the
// managing tenant keeps its access — except a delegation to the tenant the
// subscription moves into, which ends: a tenant cannot delegate to itself.
func (w *world) transferSubscription(subID, toTenant string) bool {
	s := w.subscription(subID)
	t := w.tenant(toTenant)
	if s == nil || t == nil {
		return false
	}
	s.TenantID = t.ID
	s.Assignments = nil
	if ls := w.lighthouse[s.ID]; ls != nil {
		keepDef := func(d *regDefinition) bool { return !strings.EqualFold(d.ManagedByTenantID, t.ID) }
		ls.Assignments = slices.DeleteFunc(ls.Assignments, func(a *regAssignment) bool {
			d := ls.definition(a.DefName)
			return d == nil || !keepDef(d)
		})
		ls.Definitions = slices.DeleteFunc(ls.Definitions, func(d *regDefinition) bool { return !keepDef(d) })
		if len(ls.Definitions) == 0 && len(ls.Assignments) == 0 {
			delete(w.lighthouse, s.ID)
		}
	}
	w.refreshManagedBy(s)
	return true
}

// subsOf returns the subscriptions homed in a tenant, in ID order.
func (w *world) subsOf(tenantID string) []*subscription {
	var out []*subscription
	for _, s := range w.subList {
		if strings.EqualFold(s.TenantID, tenantID) {
			out = append(out, s)
		}
	}
	return out
}

// expireSignIns forgets sign-in state that can no longer be used.
func (w *world) expireSignIns(now time.Time) {
	for k, f := range w.flows {
		if now.After(f.Expires) {
			delete(w.flows, k)
		}
	}
	for k, c := range w.codes {
		if now.After(c.Expires.Add(time.Hour)) {
			delete(w.codes, k)
		}
	}
	for k, r := range w.refresh {
		if now.After(r.Expires) {
			delete(w.refresh, k)
		}
	}
}

// lowerGUID normalises an ID for map keys.
func lowerGUID(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// isGUID reports whether s is a GUID in 8-4-4-4-12 form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// newGUID returns a random version-4 GUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// randomToken returns n random bytes, URL-safe base64-ish hex encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
