package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchPost serves one POST in-process and fails unless it answers 200.
func benchPost(b *testing.B, h http.Handler, tok, path, body string) int {
	req := httptest.NewRequest("POST", "https://emulator.test"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.s != 200 {
		b.Fatalf("status %d", w.s)
	}
	return w.n
}

// contosoReaderToken is an ARM token of Contoso's reader app in the large
// estate, and Contoso's subscriptions.
func contosoReaderToken(b *testing.B, e *Emulator) (string, []*subscription) {
	e.w.mu.RLock()
	var sp *servicePrincipal
	var tid string
	for _, o := range e.w.objects {
		if a, ok := o.(*application); ok && a.DisplayName == ContosoReaderApp {
			sp, tid = e.w.spByApp(a.TenantID, a.AppID), a.TenantID
		}
	}
	subs := e.w.subsOf(tid)
	e.w.mu.RUnlock()
	tok, _, err := e.issueAccessToken(tokenSpec{Issuer: issuerFor("https://emulator.test", tid), TenantID: tid, Audience: "https://management.azure.com", AppID: sp.AppID, AppACR: "1", ObjectID: sp.ID, Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return tok, subs
}

// BenchmarkResourceGraphLarge runs an inventory query (first page of 1,000,
// sorted by id) over Contoso's three subscriptions of the large estate.
func BenchmarkResourceGraphLarge(b *testing.B) {
	e, err := largeEmulator()
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := contosoReaderToken(b, e)
	body := `{"query":"Resources | where isnotempty(tags['Environment']) | project id, name, type, location, resourceGroup, subscriptionId, tags | order by id asc"}`
	h := e.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, h, tok, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkCostQueryLarge asks for 90 days of daily cost by resource of one
// subscription of the large estate (1,000 resources), all pages.
func BenchmarkCostQueryLarge(b *testing.B) {
	e, err := largeEmulator()
	if err != nil {
		b.Fatal(err)
	}
	tok, subs := contosoReaderToken(b, e)
	to := time.Now().UTC().Truncate(24 * time.Hour)
	body := `{"type":"ActualCost","timeframe":"Custom","timePeriod":{"from":"` + to.AddDate(0, 0, -90).Format(time.RFC3339) + `","to":"` + to.Format(time.RFC3339) +
		`"},"dataset":{"granularity":"Daily","aggregation":{"totalCost":{"name":"Cost","function":"Sum"}},"grouping":[{"type":"Dimension","name":"ResourceId"}]}}`
	h := e.Handler()
	path := "/subscriptions/" + subs[0].ID + "/providers/Microsoft.CostManagement/query?api-version=2023-03-01"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, h, tok, path, body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
