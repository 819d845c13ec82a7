package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Connection describes the running emulator for Steward and for people's
// own tools: its URL and CA, every tenant with its subscriptions, the users
// who can sign in (with their passwords) and the app registrations with a
// usable client secret, each with the roles it holds.
func (e *Emulator) Connection() *steward.ConnectionFile {
	u := e.URL()
	cf := &steward.ConnectionFile{
		URL: u, CACertPEM: string(e.ca.certPEM),
		AuthorityHost: u + "/", ResourceManagerEndpoint: u, ResourceManagerAudience: u,
		GraphEndpoint: u + "/v1.0", GraphAudience: graphResource,
	}
	e.w.mu.RLock()
	defer e.w.mu.RUnlock()
	cf.Estate, cf.Seed = e.w.estate, e.w.seed
	roles := e.w.rolesByPrincipal()
	now := e.now()
	for _, t := range e.w.tenantList {
		ct := steward.ConnectionTenant{ID: t.ID, Name: t.DisplayName, Kind: t.Kind, Subscriptions: []string{}, Users: []steward.ConnectionUser{}, ServicePrincipals: []steward.ConnectionPrincipal{}}
		for _, s := range e.w.subsOf(t.ID) {
			ct.Subscriptions = append(ct.Subscriptions, s.ID)
		}
		var users []*user
		var apps []*application
		for _, o := range e.w.objects {
			switch x := o.(type) {
			case *user:
				if x.TenantID == t.ID {
					users = append(users, x)
				}
			case *application:
				if x.TenantID == t.ID {
					apps = append(apps, x)
				}
			}
		}
		sort.Slice(users, func(i, j int) bool { return users[i].UPN < users[j].UPN })
		sort.Slice(apps, func(i, j int) bool { return apps[i].DisplayName < apps[j].DisplayName })
		for _, u := range users {
			r := roles[u.ID]
			if r == nil {
				r = []string{}
			}
			ct.Users = append(ct.Users, steward.ConnectionUser{UserPrincipalName: u.UPN, Password: u.Password, ObjectID: u.ID, Roles: r})
		}
		for _, a := range apps {
			secret := latestSecret(a, now)
			sp := e.w.spByApp(t.ID, a.AppID)
			if a.AppID == e.stewardApp {
				cf.App = steward.ConnectionApp{TenantID: t.ID, ClientID: a.AppID, ClientSecret: secret}
				continue
			}
			if sp == nil || secret == "" {
				continue
			}
			r := roles[sp.ID]
			if r == nil {
				r = []string{}
			}
			ct.ServicePrincipals = append(ct.ServicePrincipals, steward.ConnectionPrincipal{Name: a.DisplayName, ClientID: a.AppID, ClientSecret: secret, ObjectID: sp.ID, Roles: r})
		}
		cf.Tenants = append(cf.Tenants, ct)
	}
	return cf
}

// latestSecret is the app's unexpired secret that expires last.
func latestSecret(a *application, now time.Time) string {
	var best *passwordCredential
	for _, p := range a.Passwords {
		if now.Before(p.End) && (best == nil || p.End.After(best.End)) {
			best = p
		}
	}
	if best == nil {
		return ""
	}
	return best.Secret
}

// rolesByPrincipal lists "Role Name@scope" per principal object ID, for
// direct and group assignments.
func (w *world) rolesByPrincipal() map[string][]string {
	out := map[string][]string{}
	add := func(a *roleAssignment) {
		name := a.RoleDefinitionID
		if r := roleByID(a.RoleDefinitionID); r != nil {
			name = r.RoleName
		}
		ids := []string{a.PrincipalID}
		if g, ok := w.objects[a.PrincipalID].(*group); ok {
			ids = append(ids, g.Members...)
		}
		for _, id := range ids {
			out[id] = append(out[id], name+"@"+a.Scope)
		}
	}
	for _, s := range w.subList {
		for _, a := range s.Assignments {
			add(a)
		}
	}
	for _, t := range w.tenantList {
		for _, a := range t.RootAssignments {
			add(a)
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// WriteConnectionFile writes Connection as indented JSON, readable only by
// the owner (it holds the emulator's test secrets), atomically.
func (e *Emulator) WriteConnectionFile(path string) error {
	b, err := json.MarshalIndent(e.Connection(), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding connection file: %w", err)
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// AddAppCertificate registers a certificate (DER) on an app registration,
// for client-assertion tests; Graph's PATCH keyCredentials does the same.
func (e *Emulator) AddAppCertificate(appID string, certDER []byte) error {
	kc := &keyCredential{KeyID: newGUID(), DisplayName: "test certificate", CertDER: certDER}
	c, err := kc.cert()
	if err != nil {
		return fmt.Errorf("emulator: parsing certificate: %w", err)
	}
	kc.Start, kc.End = c.NotBefore, c.NotAfter
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	a := e.w.apps[strings.ToLower(appID)]
	if a == nil {
		return fmt.Errorf("emulator: no app %s", appID)
	}
	a.Keys = append(a.Keys, kc)
	return nil
}
