package emulator

import (
	"bufio"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The state file: everything that can change, in gob (a million resources
// save and load in seconds; JSON would take much longer). Records here are
// separate from the in-memory types, which keep unexported indexes and
// shared tag sets: tag sets are written once into a table and referenced by
// index, resource types by name through a table too.

const stateVersion = 1

type stateFile struct {
	Version     int
	Estate      string
	Seed        int64
	StewardApp  string
	CACertDER   []byte
	CAKeyDER    []byte
	SignKeyDER  []byte
	SignCertDER []byte
	Tenants     []*tenant
	Users       []*user
	Groups      []*group
	Apps        []*application
	SPs         []*servicePrincipal
	Refresh     []*refreshGrant
	TypeNames   []string
	TagTable    []tagsRec
	Subs        []subRec
	// Ext holds state of later parts (Lighthouse, costs, PAL…), by name.
	Ext map[string][]byte
}

type tagsRec struct{ K, V []string }

type subRec struct {
	ID, DisplayName, TenantID, State, QuotaID, SpendingLimit, LocationPlacementID string
	Tags                                                                          int32
	ManagedByTenants                                                              []string
	Groups                                                                        []groupRec
	Assignments                                                                   []*roleAssignment
	Activity                                                                      []*activityEvent
}

type groupRec struct {
	Name, Location, ManagedBy string
	Tags                      int32
	Created                   time.Time
	Resources                 []resRec
}

type resRec struct {
	Type      uint16
	Name      string
	Loc       uint8
	Variant   uint8
	Tags      int32
	ManagedBy int32 // index in the group, -1 for none
	Created   int64
	Changed   int64
}

// stateHook lets a later part persist its own state under a name.
type stateHook struct {
	name string
	save func() ([]byte, error)
	load func([]byte) error
}

// SaveState writes the state file now (Stop does it too).
func (e *Emulator) SaveState() error {
	if e.cfg.StatePath == "" {
		return errors.New("emulator: no state path configured")
	}
	caKey, err := encodeECKey(e.ca.key)
	if err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	st := &stateFile{
		Version: stateVersion, StewardApp: e.stewardApp, CACertDER: e.ca.cert.Raw, CAKeyDER: caKey,
		SignKeyDER: x509.MarshalPKCS1PrivateKey(e.signer.key), SignCertDER: e.signer.certDER, Ext: map[string][]byte{},
	}
	e.w.mu.RLock()
	st.Estate, st.Seed = e.w.estate, e.w.seed
	st.Tenants = e.w.tenantList
	for _, o := range e.w.objects {
		switch x := o.(type) {
		case *user:
			st.Users = append(st.Users, x)
		case *group:
			st.Groups = append(st.Groups, x)
		case *application:
			st.Apps = append(st.Apps, x)
		case *servicePrincipal:
			st.SPs = append(st.SPs, x)
		}
	}
	for _, r := range e.w.refresh {
		st.Refresh = append(st.Refresh, r)
	}
	typeIdx := map[*resType]uint16{}
	for i, t := range resTypes {
		typeIdx[t] = uint16(i)
		st.TypeNames = append(st.TypeNames, t.Name)
	}
	tagIdx := map[*tagSet]int32{}
	tagRef := func(ts *tagSet) int32 {
		if ts == nil {
			return -1
		}
		if i, ok := tagIdx[ts]; ok {
			return i
		}
		i := int32(len(st.TagTable))
		st.TagTable = append(st.TagTable, tagsRec{K: ts.keys, V: ts.vals})
		tagIdx[ts] = i
		return i
	}
	for _, s := range e.w.subList {
		sr := subRec{ID: s.ID, DisplayName: s.DisplayName, TenantID: s.TenantID, State: s.State, QuotaID: s.QuotaID,
			SpendingLimit: s.SpendingLimit, LocationPlacementID: s.LocationPlacementID, Tags: tagRef(s.Tags),
			ManagedByTenants: s.ManagedByTenants, Assignments: s.Assignments, Activity: s.activity}
		for _, g := range s.groups {
			gr := groupRec{Name: g.Name, Location: g.Location, ManagedBy: g.ManagedBy, Tags: tagRef(g.Tags), Created: g.Created}
			pos := make(map[*resource]int32, len(g.resources))
			for i, r := range g.resources {
				pos[r] = int32(i)
			}
			gr.Resources = make([]resRec, len(g.resources))
			for i, r := range g.resources {
				mb := int32(-1)
				if r.managedBy != nil {
					if p, ok := pos[r.managedBy]; ok {
						mb = p
					}
				}
				gr.Resources[i] = resRec{Type: typeIdx[r.typ], Name: r.name, Loc: r.loc, Variant: r.variant, Tags: tagRef(r.tags), ManagedBy: mb, Created: r.created, Changed: r.changed}
			}
			sr.Groups = append(sr.Groups, gr)
		}
		st.Subs = append(st.Subs, sr)
	}
	for _, h := range e.stateHooks {
		b, err := h.save()
		if err != nil {
			e.w.mu.RUnlock()
			return fmt.Errorf("emulator: saving %s state: %w", h.name, err)
		}
		st.Ext[h.name] = b
	}
	err = writeState(e.cfg.StatePath, st)
	e.w.mu.RUnlock()
	return err
}

func writeState(path string, st *stateFile) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := gob.NewEncoder(bw).Encode(st); err != nil {
		f.Close()
		return fmt.Errorf("emulator: encoding state: %w", err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	return nil
}

func readState(path string) (*stateFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st stateFile
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding state: %w", err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state file version %d, want %d", st.Version, stateVersion)
	}
	return &st, nil
}

// restore rebuilds the world from a state file.
func (e *Emulator) restore(st *stateFile) error {
	key, err := decodeECKey(st.CAKeyDER)
	if err != nil {
		return err
	}
	if e.ca, err = caFromDER(st.CACertDER, key); err != nil {
		return err
	}
	sk, err := x509.ParsePKCS1PrivateKey(st.SignKeyDER)
	if err != nil {
		return fmt.Errorf("decoding signing key: %w", err)
	}
	th := sha1.Sum(st.SignCertDER) // #nosec G401 -- kid is a SHA-1 thumbprint
	e.signer = &signingKey{key: sk, certDER: st.SignCertDER, kid: base64.RawURLEncoding.EncodeToString(th[:])}
	w := newWorld()
	w.estate, w.seed = st.Estate, st.Seed
	e.stewardApp = st.StewardApp
	for _, t := range st.Tenants {
		for _, a := range t.RootAssignments {
			a.scopeKey = strings.ToLower(a.Scope)
		}
		w.addTenant(t)
	}
	for _, u := range st.Users {
		w.addUser(u)
	}
	for _, a := range st.Apps {
		w.addApp(a)
	}
	sort.Slice(st.SPs, func(i, j int) bool { return st.SPs[i].ID < st.SPs[j].ID })
	for _, sp := range st.SPs {
		w.addSP(sp)
	}
	for _, g := range st.Groups {
		g.ID = lowerGUID(g.ID)
		w.objects[g.ID] = g
	}
	w.reindexMembers()
	for _, r := range st.Refresh {
		w.refresh[r.Token] = r
	}
	types := make([]*resType, len(st.TypeNames))
	for i, n := range st.TypeNames {
		if types[i] = resTypeByLower[strings.ToLower(n)]; types[i] == nil {
			return fmt.Errorf("state names unknown resource type %s", n)
		}
	}
	tags := make([]*tagSet, len(st.TagTable))
	for i, t := range st.TagTable {
		tags[i] = newTagSet(t.K, t.V)
	}
	tagAt := func(i int32) *tagSet {
		if i < 0 || int(i) >= len(tags) {
			return nil
		}
		return tags[i]
	}
	for _, sr := range st.Subs {
		s := &subscription{ID: sr.ID, DisplayName: sr.DisplayName, TenantID: sr.TenantID, State: sr.State, QuotaID: sr.QuotaID,
			SpendingLimit: sr.SpendingLimit, LocationPlacementID: sr.LocationPlacementID, Tags: tagAt(sr.Tags),
			ManagedByTenants: sr.ManagedByTenants, Assignments: sr.Assignments, activity: sr.Activity}
		for _, a := range s.Assignments {
			a.scopeKey = strings.ToLower(a.Scope)
		}
		w.addSubscription(s)
		for _, gr := range sr.Groups {
			g := &resourceGroup{Name: gr.Name, Location: gr.Location, ManagedBy: gr.ManagedBy, Tags: tagAt(gr.Tags), Created: gr.Created}
			s.addGroup(g)
			g.resources = make([]*resource, len(gr.Resources))
			for i, rr := range gr.Resources {
				if int(rr.Type) >= len(types) || int(rr.Loc) >= len(locations) {
					return fmt.Errorf("state has a resource with an unknown type or location: %s", rr.Name)
				}
				t := types[rr.Type]
				v := rr.Variant
				if int(v) >= len(t.Variants) {
					v = 0
				}
				g.resources[i] = &resource{group: g, typ: t, name: rr.Name, loc: rr.Loc, variant: v, tags: tagAt(rr.Tags), created: rr.Created, changed: rr.Changed}
			}
			for i, rr := range gr.Resources {
				if rr.ManagedBy >= 0 && int(rr.ManagedBy) < len(g.resources) {
					g.resources[i].managedBy = g.resources[rr.ManagedBy]
				}
			}
			s.nres += len(g.resources)
		}
	}
	e.w = w
	for _, h := range e.stateHooks {
		if b, ok := st.Ext[h.name]; ok {
			if err := h.load(b); err != nil {
				return fmt.Errorf("restoring %s state: %w", h.name, err)
			}
		}
	}
	return nil
}
