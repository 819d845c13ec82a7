package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func BenchmarkGenerateLarge(b *testing.B) {
	for i := 0; i < b.N; i++ {
		start := time.Now()
		w, _, err := seedEstate(EstateLarge, 1, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		n := 0
		for _, s := range w.subList {
			n += s.nres
		}
		b.ReportMetric(el.Seconds(), "gen-s")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(n), "resources")
		runtime.KeepAlive(w)
	}
}

// discardWriter is a ResponseWriter that counts bytes.
type discardWriter struct {
	h http.Header
	n int
	s int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discardWriter) WriteHeader(s int)           { d.s = s }

// largeEmulator is built once per benchmark run: generating a million
// resources for every b.N round would swamp what is being measured.
var largeEmulator = sync.OnceValues(func() (*Emulator, error) {
	return New(Config{Estate: EstateLarge, Throttling: Throttling{Disabled: true}})
})

func BenchmarkListPageLarge(b *testing.B) {
	e, err := largeEmulator()
	if err != nil {
		b.Fatal(err)
	}
	e.w.mu.RLock()
	var sp *servicePrincipal
	var tid string
	for _, o := range e.w.objects {
		if a, ok := o.(*application); ok && a.DisplayName == ContosoReaderApp {
			sp = e.w.spByApp(a.TenantID, a.AppID)
			tid = a.TenantID
		}
	}
	subs := e.w.subsOf(tid)
	e.w.mu.RUnlock()
	tok, _, err := e.issueAccessToken(tokenSpec{Issuer: issuerFor("https://emulator.test", tid), TenantID: tid, Audience: "https://management.azure.com", AppID: sp.AppID, AppACR: "1", ObjectID: sp.ID, Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	h := e.Handler()
	paths := make([]string, len(subs))
	for i, s := range subs {
		paths[i] = "/subscriptions/" + s.ID + "/resources?api-version=2021-04-01&%24top=1000"
	}
	// Warm the per-resource JSON caches once, as a first sync would.
	for _, p := range paths {
		req := httptest.NewRequest("GET", "https://emulator.test"+p, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.s != 200 {
			b.Fatalf("status %d", w.s)
		}
	}
	var bytes atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest("GET", "https://emulator.test"+paths[i%len(paths)], nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.s != 200 {
				b.Errorf("status %d", w.s)
				return
			}
			bytes.Add(int64(w.n))
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(bytes.Load())/float64(b.N)/1024, "KiB/page")
}

// BenchmarkWarmAllLarge lists every subscription of the large estate once,
// as a first full sync would, and reports the heap with every resource's
// JSON cached.
func BenchmarkWarmAllLarge(b *testing.B) {
	for i := 0; i < b.N; i++ {
		e, err := New(Config{Estate: EstateLarge, Throttling: Throttling{Disabled: true}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		e.w.mu.RLock()
		subs := append([]*subscription(nil), e.w.subList...)
		e.w.mu.RUnlock()
		h := e.Handler()
		for _, s := range subs {
			e.w.mu.RLock()
			var oid string
			for _, a := range s.Assignments {
				if a.RoleDefinitionID == "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" && a.PrincipalType == principalUser {
					oid = a.PrincipalID
				}
			}
			u := e.w.objects[oid].(*user)
			e.w.mu.RUnlock()
			tok, _, _ := e.issueAccessToken(tokenSpec{Issuer: issuerFor("https://emulator.test", s.TenantID), TenantID: s.TenantID, Audience: "https://management.azure.com", AppID: newGUID(), AppACR: "1", ObjectID: u.ID, User: u, Scopes: []string{"user_impersonation"}, Lifetime: time.Hour})
			next := "https://emulator.test/subscriptions/" + s.ID + "/resources?api-version=2021-04-01"
			for next != "" {
				req := httptest.NewRequest("GET", next, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				var page struct {
					NextLink string `json:"nextLink"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &page)
				next = page.NextLink
			}
		}
		el := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(el.Seconds(), "sync-s")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		runtime.KeepAlive(e)
	}
}

// BenchmarkListPageHTTPS serves 1,000-resource pages of the large estate
// over real TLS to a client, in the same process and on the same cores,
// that reads and discards them: HTTP/2, as the SDK uses, or HTTP/1.1 when
// EMULATOR_BENCH_HTTP1 is set (Go's HTTP/2 is much slower for large bodies).
func BenchmarkListPageHTTPS(b *testing.B) {
	e, err := New(Config{Estate: EstateLarge, Throttling: Throttling{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer e.Stop()
	b.ResetTimer()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CACertPEM())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: os.Getenv("EMULATOR_BENCH_HTTP1") == ""}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	cf := e.Connection()
	contoso, _ := cf.Tenant(ContosoTenantName)
	var reader steward.ConnectionPrincipal
	for _, p := range contoso.ServicePrincipals {
		if p.Name == ContosoReaderApp {
			reader = p
		}
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {reader.ClientID}, "client_secret": {reader.ClientSecret}, "scope": {e.URL() + "/.default"}}
	resp, err := client.PostForm(e.URL()+"/"+contoso.ID+"/oauth2/v2.0/token", form)
	if err != nil {
		b.Fatal(err)
	}
	var tr2 struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr2)
	resp.Body.Close()
	get := func(sub string) int64 {
		req, _ := http.NewRequest("GET", e.URL()+"/subscriptions/"+sub+"/resources?api-version=2021-04-01", nil)
		req.Header.Set("Authorization", "Bearer "+tr2.AccessToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return n
	}
	for _, s := range contoso.Subscriptions {
		get(s)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			get(contoso.Subscriptions[i%len(contoso.Subscriptions)])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

func BenchmarkGenerateMedium(b *testing.B) {
	for i := 0; i < b.N; i++ {
		start := time.Now()
		w, _, err := seedEstate(EstateMedium, 1, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "gen-s")
		runtime.KeepAlive(w)
	}
}

// BenchmarkStateLarge saves and restores the large estate's state file.
func BenchmarkStateLarge(b *testing.B) {
	path := filepath.Join(b.TempDir(), "large.state")
	e, err := New(Config{Estate: EstateLarge, StatePath: path})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := e.SaveState(); err != nil {
			b.Fatal(err)
		}
		saved := time.Since(start)
		start = time.Now()
		e2, err := New(Config{StatePath: path})
		if err != nil {
			b.Fatal(err)
		}
		loaded := time.Since(start)
		st, _ := os.Stat(path)
		b.ReportMetric(saved.Seconds(), "save-s")
		b.ReportMetric(loaded.Seconds(), "load-s")
		b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
		runtime.KeepAlive(e2)
	}
}
