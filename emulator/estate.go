package emulator

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// Seeded estates. Everything derives from the seed through PCG streams: the
// directory from one stream, each subscription's resources from a stream of
// its own, so subscriptions are generated in parallel and still come out the
// same every time.

type estateSpec struct {
	contosoSubs, northwindSubs int
	otherTenants, subsPerOther int
	resPerSub, partnerRes      int
}

var estateSpecs = map[string]estateSpec{
	EstateSmall:  {contosoSubs: 3, northwindSubs: 2, resPerSub: 60, partnerRes: 20},
	EstateMedium: {contosoSubs: 3, northwindSubs: 2, otherTenants: 9, subsPerOther: 5, resPerSub: 2000, partnerRes: 100},
	EstateLarge:  {contosoSubs: 3, northwindSubs: 2, otherTenants: 199, subsPerOther: 5, resPerSub: 1000, partnerRes: 100},
	EstateCI:     {contosoSubs: 3, northwindSubs: 2, otherTenants: 19, subsPerOther: 5, resPerSub: 60, partnerRes: 20},
}

// Well-known names in every estate.
const (
	PartnerTenantName   = "Adatum Partners"
	ContosoTenantName   = "Contoso"
	NorthwindTenantName = "Northwind Traders"
	StewardAppName      = "Steward"
	ContosoReaderApp    = "contoso-reader"
	ContosoTaggerApp    = "contoso-tag-contributor"
	// NorthwindStewardApp is the app registration Northwind made for
	// Steward, as a customer does for service-principal onboarding: Tag
	// Contributor and Cost Management Reader, and leave to manage its own
	// secrets (so Steward can rotate them).
	NorthwindStewardApp = "northwind-steward"

	// StewardOperatorsGroup is the partner's security group of operators.
	StewardOperatorsGroup = "Steward Operators"
	// LighthouseOfferName is the registration definition (offer) through
	// which Northwind delegates its subscriptions to the partner.
	LighthouseOfferName = "Steward managed services"
)

func newRNG(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^0x5eed5eed5eed5eed))
}

func rngGUID(r *rand.Rand) string {
	var b [16]byte
	x, y := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	return formatGUID(b)
}

func rngString(r *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexChars   = "0123456789abcdef"
)

func rngSecret(r *rand.Rand) string {
	s := rngString(r, 37, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-")
	return s[:3] + "8Q~" + s[3:]
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// seedRef is when the estate was "created": resources date from the three
// years before it, whatever the clock says today.
var seedRef = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

type dirGen struct {
	w   *world
	r   *rand.Rand
	now time.Time
}

func (d *dirGen) tenant(name, kind string) *tenant {
	dom := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			return c
		}
		return -1
	}, strings.ToLower(name))
	t := &tenant{ID: rngGUID(d.r), DisplayName: name, Domain: dom + ".onmicrosoft.com", Kind: kind, CountryCode: pick(d.r, []string{"US", "GB", "NL", "DE", "FR", "SE"})}
	d.w.addTenant(t)
	return t
}

func (d *dirGen) user(t *tenant, given, sur, alias, title string, admin bool) *user {
	u := &user{
		ID: rngGUID(d.r), TenantID: t.ID, UPN: alias + "@" + t.Domain, DisplayName: strings.TrimSpace(given + " " + sur),
		GivenName: given, Surname: sur, Mail: alias + "@" + t.Domain, JobTitle: title, Admin: admin, Enabled: true,
		Password: "Emu-" + rngString(d.r, 14, "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789") + "!",
		Created:  seedRef.AddDate(-2, 0, 0),
	}
	d.w.addUser(u)
	return u
}

// app registers an application with one secret valid a year from now and
// creates its service principal in the home tenant.
func (d *dirGen) app(t *tenant, name, audience string) (*application, *servicePrincipal) {
	a := &application{
		ObjectID: rngGUID(d.r), AppID: rngGUID(d.r), TenantID: t.ID, DisplayName: name, SignInAudience: audience,
		Created: seedRef.AddDate(-1, 0, 0), RequiredAccess: map[string][]string{},
	}
	secret := rngSecret(d.r)
	a.Passwords = []*passwordCredential{{
		KeyID: rngGUID(d.r), DisplayName: "seeded", Hint: secret[:3], Secret: secret,
		Start: d.now.Add(-24 * time.Hour), End: d.now.AddDate(1, 0, 0),
	}}
	d.w.addApp(a)
	sp := &servicePrincipal{ID: rngGUID(d.r), TenantID: t.ID, AppID: a.AppID, DisplayName: name, AppOwnerTenant: t.ID, Enabled: true, Created: a.Created}
	d.w.addSP(sp)
	return a, sp
}

func (d *dirGen) sub(t *tenant, name, quota string) *subscription {
	s := &subscription{
		ID: rngGUID(d.r), DisplayName: name, TenantID: t.ID, State: "Enabled", QuotaID: quota,
		SpendingLimit: "Off", LocationPlacementID: "Public_2014-09-01",
	}
	if strings.HasPrefix(quota, "MSDN") {
		s.SpendingLimit = "On"
	}
	d.w.addSubscription(s)
	return s
}

// assign adds a seeded role assignment with a deterministic name.
func (d *dirGen) assign(scope, roleID, principalID, ptype string) {
	a := d.w.assign(scope, roleID, principalID, ptype, seedRef)
	a.Name = rngGUID(d.r)
}

// seedEstate builds a world for an estate size and seed, and returns the app
// ID of Steward's multi-tenant app.
func seedEstate(name string, seed int64, now time.Time) (*world, string, error) {
	spec, ok := estateSpecs[name]
	if !ok {
		return nil, "", fmt.Errorf("unknown estate %q", name)
	}
	w := newWorld()
	w.estate, w.seed = name, seed
	d := &dirGen{w: w, r: newRNG(seed, 1), now: now}

	// The partner: Steward's home, with its multi-tenant app.
	partner := d.tenant(PartnerTenantName, "partner")
	padmin := d.user(partner, "Partner", "Admin", "admin", "Global Administrator", true)
	ops := d.user(partner, "Olivia", "Operator", "olivia.operator", "Cloud Operations Engineer", false)
	d.user(partner, "Pete", "Analyst", "pete.analyst", "FinOps Analyst", false)
	operators := &group{ID: rngGUID(d.r), TenantID: partner.ID, DisplayName: StewardOperatorsGroup, MailNickname: "steward-operators",
		SecurityEnabled: true, Members: []string{ops.ID}, Created: seedRef.AddDate(-1, 0, 0)}
	w.addGroup(operators)
	stewardApp, stewardSP := d.app(partner, StewardAppName, "AzureADMultipleOrgs")
	stewardApp.RequiredAccess = map[string][]string{resARM: {"user_impersonation"}, resGraph: {"User.Read"}}
	stewardApp.Owners = []string{stewardSP.ID, padmin.ID}
	for _, host := range []string{"http://localhost", "https://localhost", "http://127.0.0.1", "https://127.0.0.1"} {
		for _, p := range []string{"/auth/callback", "/connect/callback", "/oauth2/callback", "/callback"} {
			stewardApp.RedirectURIs = append(stewardApp.RedirectURIs, host+p)
		}
	}
	stewardSP.GraphRoles = []string{"Application.ReadWrite.OwnedBy"}
	psub := d.sub(partner, "Adatum Partners Operations", "EnterpriseAgreement_2014-09-01")
	d.assign(psub.scope(), steward.BuiltInOwner, padmin.ID, principalUser)

	var subs []*subscription
	customer := func(name string, nsubs int, people int) (*tenant, []*subscription) {
		t := d.tenant(name, "customer")
		admin := d.user(t, "Cloud", "Admin", "admin", "Global Administrator", true)
		for i := 0; i < people; i++ {
			p := peopleNames[(i+d.r.IntN(len(peopleNames)))%len(peopleNames)]
			alias := strings.ToLower(p[0] + "." + p[1])
			if w.userByUPN(alias+"@"+t.Domain) != nil {
				continue
			}
			d.user(t, p[0], p[1], alias, pick(d.r, []string{"Developer", "Engineer", "Product Owner", "Finance Manager", "Architect"}), false)
		}
		var ts []*subscription
		short := strings.Fields(name)[0]
		for i := 0; i < nsubs; i++ {
			suffix := subscriptionSuffixes[i%len(subscriptionSuffixes)]
			if i >= len(subscriptionSuffixes) {
				suffix = fmt.Sprintf("%s %d", suffix, i/len(subscriptionSuffixes)+1)
			}
			quota := "EnterpriseAgreement_2014-09-01"
			if strings.Contains(suffix, "Dev") || strings.Contains(suffix, "Sandbox") {
				quota = "MSDNDevTest_2014-09-01"
			}
			s := d.sub(t, short+" "+suffix, quota)
			d.assign(s.scope(), steward.BuiltInOwner, admin.ID, principalUser)
			ts = append(ts, s)
		}
		subs = append(subs, ts...)
		return t, ts
	}

	contoso, csubs := customer(ContosoTenantName, spec.contosoSubs, 4)
	cops := &group{ID: rngGUID(d.r), TenantID: contoso.ID, DisplayName: "Cloud Operations", Description: "Runs Contoso's Azure estate",
		MailNickname: "cloud-ops", SecurityEnabled: true, Created: seedRef.AddDate(-1, 0, 0)}
	var cusers []*user
	for _, o := range w.objects {
		if u, ok := o.(*user); ok && u.TenantID == contoso.ID && !u.Admin {
			cusers = append(cusers, u)
		}
	}
	sort.Slice(cusers, func(i, j int) bool { return cusers[i].UPN < cusers[j].UPN })
	for _, u := range cusers[:min(2, len(cusers))] {
		cops.Members = append(cops.Members, u.ID)
	}
	w.addGroup(cops)
	d.assign(csubs[0].scope(), steward.BuiltInReader, cops.ID, principalGroup)
	_, readerSP := d.app(contoso, ContosoReaderApp, "AzureADMyOrg")
	_, taggerSP := d.app(contoso, ContosoTaggerApp, "AzureADMyOrg")
	for _, s := range csubs {
		d.assign(s.scope(), steward.BuiltInReader, readerSP.ID, principalServicePrincipal)
		d.assign(s.scope(), steward.BuiltInTagContributor, taggerSP.ID, principalServicePrincipal)
	}
	northwind, nsubs := customer(NorthwindTenantName, spec.northwindSubs, 3)
	// Northwind delegates its subscriptions to the partner through Lighthouse,
	// onboarded by its admin. The registration names come from a stream of
	// their own, so the directory's IDs stay what they were.
	lr := newRNG(seed, 2)
	nadmin := w.userByUPN("admin@" + northwind.Domain)
	for _, s := range nsubs {
		props := map[string]any{
			"registrationDefinitionName": LighthouseOfferName,
			"description":                PartnerTenantName + " manages " + NorthwindTenantName + "'s Azure estate with Steward: inventory, tags and costs.",
			"managedByTenantId":          partner.ID,
			"authorizations": []any{
				map[string]any{"principalId": operators.ID, "principalIdDisplayName": operators.DisplayName, "roleDefinitionId": steward.BuiltInReader},
				map[string]any{"principalId": stewardSP.ID, "principalIdDisplayName": stewardSP.DisplayName, "roleDefinitionId": steward.BuiltInReader},
				map[string]any{"principalId": stewardSP.ID, "principalIdDisplayName": stewardSP.DisplayName, "roleDefinitionId": steward.BuiltInTagContributor},
				map[string]any{"principalId": stewardSP.ID, "principalIdDisplayName": stewardSP.DisplayName, "roleDefinitionId": steward.BuiltInCostManagementReader},
			},
		}
		if err := w.delegateSubscription(s, rngGUID(lr), rngGUID(lr), props, nadmin.UPN, seedRef); err != nil {
			return nil, "", err
		}
	}
	// Northwind's own app for Steward, from a stream of its own too.
	saved := d.r
	d.r = newRNG(seed, 3)
	napp, nsp := d.app(northwind, NorthwindStewardApp, "AzureADMyOrg")
	napp.Owners = []string{nsp.ID}
	nsp.GraphRoles = []string{"Application.ReadWrite.OwnedBy"}
	for _, s := range nsubs {
		d.assign(s.scope(), steward.BuiltInTagContributor, nsp.ID, principalServicePrincipal)
		d.assign(s.scope(), steward.BuiltInCostManagementReader, nsp.ID, principalServicePrincipal)
	}
	d.r = saved
	for i := 0; i < spec.otherTenants; i++ {
		name := companyNames[i%len(companyNames)]
		if i >= len(companyNames) {
			name = fmt.Sprintf("%s %d", name, i/len(companyNames)+1)
		}
		customer(name, spec.subsPerOther, 2)
	}

	// Resources, one PCG stream per subscription, in parallel.
	type job struct {
		s     *subscription
		idx   int
		count int
	}
	jobs := []job{{psub, 0, spec.partnerRes}}
	for i, s := range subs {
		jobs = append(jobs, job{s, i + 1, spec.resPerSub})
	}
	people := map[string][]string{}
	for _, o := range w.objects {
		if u, ok := o.(*user); ok {
			people[u.TenantID] = append(people[u.TenantID], u.Mail)
		}
	}
	for _, v := range people {
		sort.Strings(v)
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), len(jobs)))
	ch := make(chan job)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &tagInterner{m: map[uint64][]*tagSet{}}
			for j := range ch {
				t := w.tenants[j.s.TenantID]
				g := &subGen{r: newRNG(seed, 1000+uint64(j.idx)), s: j.s, t: t, people: people[t.ID], in: in, left: j.count}
				g.generate()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return w, stewardApp.AppID, nil
}

// tagInterner shares equal tag sets between resources.
type tagInterner struct {
	m map[uint64][]*tagSet
}

func (in *tagInterner) get(keys, vals []string) *tagSet {
	if len(keys) == 0 {
		return nil
	}
	h := uint64(14695981039346656037)
	for i := range keys {
		h = (h ^ hashString(keys[i])) * 1099511628211
		h = (h ^ hashString(vals[i])) * 1099511628211
	}
	for _, ts := range in.m[h] {
		if equalStrings(ts.keys, keys) && equalStrings(ts.vals, vals) {
			return ts
		}
	}
	ts := newTagSet(append([]string(nil), keys...), append([]string(nil), vals...))
	in.m[h] = append(in.m[h], ts)
	return ts
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
