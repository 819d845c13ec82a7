package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestSameShapeCatchesDifferences(t *testing.T) {
	t.Parallel()
	var want, got any
	_ = json.Unmarshal([]byte(`{"id":"x","properties":{"n":1,"list":[{"a":true}]}}`), &want)
	for _, tc := range []struct {
		got   string
		diffs int
	}{
		{`{"id":"y","extra":1,"properties":{"n":2,"list":[{"a":false}]}}`, 0},
		{`{"properties":{"n":1,"list":[]}}`, 1},
		{`{"id":1,"properties":{"n":"1","list":[{"a":"true"}]}}`, 3},
		{`{"id":"x","properties":[]}`, 1},
	} {
		_ = json.Unmarshal([]byte(tc.got), &got)
		if d := sameShape("$", want, got); len(d) != tc.diffs {
			t.Errorf("%s: %v", tc.got, d)
		}
	}
}

func TestStartStopTwice(t *testing.T) {
	t.Parallel()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	url := e.URL()
	cancel() // ends the emulator
	e.Stop() // waits for that, and is a no-op after it
	e.Stop()
	if err := e.Start(context.Background()); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	if _, err := client.Get(url); err == nil {
		t.Fatal("still serving after Stop")
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Estate: "huge"},
		{Addr: "nonsense"},
		{Throttling: Throttling{Reads: BucketSpec{Size: -1}}},
		{Faults: Faults{Rate500: 2}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	d := Config{}.WithDefaults()
	if d.Addr != "127.0.0.1:0" || d.Estate != EstateSmall || d.Seed != 1 || d.Throttling.Reads.Size != 250 || d.Throttling.Writes.RefillPerSecond != 10 || d.Throttling.GlobalFactor != 15 {
		t.Fatalf("defaults: %+v", d)
	}
}

// estateDigest hashes every resource list page of every subscription.
func estateDigest(t *testing.T, e *Emulator) [32]byte {
	t.Helper()
	h := sha256.New()
	e.w.mu.RLock()
	defer e.w.mu.RUnlock()
	for _, s := range e.w.subList {
		h.Write([]byte(s.ID + s.DisplayName + s.TenantID))
		for _, g := range s.groups {
			h.Write([]byte(g.Name))
			h.Write(g.Tags.appendJSON(nil))
			for _, r := range g.resources {
				h.Write(r.appendOpen(nil, true))
			}
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func TestEstatesAreDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := New(Config{Seed: 42})
	b, _ := New(Config{Seed: 42})
	c, _ := New(Config{Seed: 43})
	if estateDigest(t, a) != estateDigest(t, b) {
		t.Fatal("same seed, different estates")
	}
	if estateDigest(t, a) == estateDigest(t, c) {
		t.Fatal("different seeds, same estate")
	}
	ca, cb := a.Connection(), b.Connection()
	ca.CACertPEM, cb.CACertPEM = "", ""
	ja, _ := json.Marshal(ca)
	jb, _ := json.Marshal(cb)
	if !bytes.Equal(ja, jb) {
		t.Fatal("same seed, different connection files")
	}
	// The small estate is what the issue asks for.
	total := 0
	a.w.mu.RLock()
	for _, s := range a.w.subList {
		total += s.nres
	}
	a.w.mu.RUnlock()
	if total < 200 || total > 600 {
		t.Fatalf("small estate has %d resources", total)
	}
	contoso, _ := ca.Tenant(ContosoTenantName)
	northwind, _ := ca.Tenant(NorthwindTenantName)
	if len(contoso.Subscriptions) != 3 || len(northwind.Subscriptions) != 2 || len(contoso.ServicePrincipals) != 2 || ca.App.ClientSecret == "" {
		t.Fatalf("small estate: %+v", ca)
	}
}

// TestCIEstate: the ci estate is the many-tenant shape CI's estate test
// needs: 21 customer tenants, 100 subscriptions, 60 resources each.
func TestCIEstate(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Estate: EstateCI})
	if err != nil {
		t.Fatal(err)
	}
	customers, subs := 0, 0
	for _, ct := range e.Connection().Tenants {
		if ct.Kind == "customer" {
			customers++
			subs += len(ct.Subscriptions)
		}
	}
	total := 0
	e.w.mu.RLock()
	for _, s := range e.w.subList {
		total += s.nres
	}
	e.w.mu.RUnlock()
	if customers != 21 || subs != 100 || total < 100*60 || total > 100*60+20 {
		t.Fatalf("ci estate: %d customer tenants, %d subscriptions, %d resources", customers, subs, total)
	}
}

func TestStatePersists(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "emulator.state")
	e1, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cf := e1.Connection()
	contoso, _ := cf.Tenant(ContosoTenantName)
	sub := contoso.Subscriptions[0]
	// A tag write, and a token issued before the restart.
	h := e1.Handler()
	tok := mintAppToken(t, e1, contoso.ID, ContosoTaggerApp)
	req := httptest.NewRequest("PATCH", "https://emulator.test/subscriptions/"+sub+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01",
		bytes.NewReader([]byte(`{"operation":"Merge","properties":{"tags":{"persisted":"yes"}}}`)))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("tag write: %d %s", rec.Code, rec.Body)
	}
	e1.Stop()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no state file: %v", err)
	}

	e2, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Stop()
	if !bytes.Equal(e1.CACertPEM(), e2.CACertPEM()) {
		t.Fatal("CA changed across restarts")
	}
	cf2 := e2.Connection()
	cf.URL, cf2.URL = "", ""
	cf.AuthorityHost, cf.ResourceManagerEndpoint, cf.ResourceManagerAudience, cf.GraphEndpoint = "", "", "", ""
	cf2.AuthorityHost, cf2.ResourceManagerEndpoint, cf2.ResourceManagerAudience, cf2.GraphEndpoint = "", "", "", ""
	j1, _ := json.Marshal(cf)
	j2, _ := json.Marshal(cf2)
	if !bytes.Equal(j1, j2) {
		t.Fatal("connection file changed across restarts")
	}
	if estateDigest(t, e2) != estateDigest(t, e1) {
		t.Fatal("estate changed across restarts")
	}
	// The old token still verifies (same signing key) and sees the tag.
	req = httptest.NewRequest("GET", "https://emulator.test/subscriptions/"+sub+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec = httptest.NewRecorder()
	e2.Handler().ServeHTTP(rec, req)
	var got struct {
		Properties struct{ Tags map[string]string } `json:"properties"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != 200 || got.Properties.Tags["persisted"] != "yes" {
		t.Fatalf("after restart: %d %s", rec.Code, rec.Body)
	}
}

// mintAppToken issues an ARM token for a seeded app's service principal.
func mintAppToken(t *testing.T, e *Emulator, tenantID, appName string) string {
	t.Helper()
	e.w.mu.RLock()
	var sp *servicePrincipal
	for _, o := range e.w.objects {
		if a, ok := o.(*application); ok && a.DisplayName == appName {
			sp = e.w.spByApp(tenantID, a.AppID)
		}
	}
	e.w.mu.RUnlock()
	if sp == nil {
		t.Fatalf("no service principal for %s", appName)
	}
	tok, _, err := e.issueAccessToken(tokenSpec{Issuer: issuerFor("https://emulator.test", tenantID), TenantID: tenantID, Audience: "https://management.azure.com",
		AppID: sp.AppID, AppACR: "1", ObjectID: sp.ID, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestConnectionFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := filepath.Join(t.TempDir(), "conn.json")
	if err := b.e.WriteConnectionFile(path); err != nil {
		t.Fatal(err)
	}
	cf, err := steward.ReadConnectionFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cf.URL != b.e.URL() || cf.AuthorityHost != b.e.URL()+"/" || cf.GraphAudience != "https://graph.microsoft.com" || len(cf.Tenants) != 3 {
		t.Fatalf("connection file: %+v", cf)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("connection file mode %v", st.Mode())
	}
}
