package web

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
)

// azureServices are the values of the service label, each exported from
// the start (at zero) so that rates and alerts need no special case for a
// service not called yet.
var azureServices = []steward.AzureService{steward.AzureARM, steward.AzureResourceGraph, steward.AzureCostManagement,
	steward.AzureGraph, steward.AzureEntra, steward.AzureOther}

// quotaWindow is how far back steward_azure_quota_remaining looks.
const quotaWindow = time.Minute

// AzureMetrics counts Steward's requests to Azure for /metrics: it is the
// connector's steward.AzureObserver (see azure.Config.Observer) and a
// Prometheus collector (see Server.WatchAzure). Built before the server,
// since the connector is.
//
// Labels stay bounded: the service is one of six, the status a class, the
// quota one of the connector's fixed names. Quotas are per subscription or
// tenant in Azure, but subscription IDs never become labels; the gauge is
// the smallest count seen across all of them within the last one to two
// minutes (whole minutes, so it does not depend on how often or by how
// many servers /metrics is scraped), which is what an operator alerts on:
// some bucket is running dry. A quota not reported in that time is left
// out rather than shown stale, since Azure's buckets refill while idle.
type AzureMetrics struct {
	requests  *prometheus.CounterVec
	throttled *prometheus.CounterVec
	now       func() time.Time

	mu     sync.Mutex
	quotas map[quotaKey]*quotaMin
}

type quotaKey struct{ service, quota string }

// quotaMin is the smallest count of a quota in this minute and the last.
type quotaMin struct {
	cur, prev quotaSlot
}

type quotaSlot struct {
	minute int64 // Unix minutes; 0 for none
	min    int
}

var azureQuotaDesc = prometheus.NewDesc("steward_azure_quota_remaining",
	"Smallest remaining-request count Azure reported in its headers within the last 1-2 minutes, across subscriptions and tenants, by service and quota.",
	[]string{"service", "quota"}, nil)

// NewAzureMetrics returns empty Azure metrics; now defaults to time.Now.
func NewAzureMetrics(now func() time.Time) *AzureMetrics {
	if now == nil {
		now = time.Now
	}
	m := &AzureMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_azure_requests_total", Help: "HTTP requests to Azure, each try counted, by service and status class (error: no answer).",
		}, []string{"service", "status"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_azure_throttled_total", Help: "Requests Azure answered 429 Too Many Requests, by service.",
		}, []string{"service"}),
		now:    now,
		quotas: map[quotaKey]*quotaMin{},
	}
	for _, s := range azureServices {
		m.throttled.WithLabelValues(string(s))
	}
	return m
}

// ObserveAzure counts one exchange and remembers the quotas it reported.
func (m *AzureMetrics) ObserveAzure(ex steward.AzureExchange) {
	svc := string(ex.Service)
	class := "error"
	if ex.Status > 0 {
		class = statusClass(ex.Status)
	}
	m.requests.WithLabelValues(svc, class).Inc()
	if ex.Status == 429 {
		m.throttled.WithLabelValues(svc).Inc()
	}
	if len(ex.Quotas) == 0 {
		return
	}
	minute := m.now().Unix() / 60
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range ex.Quotas {
		k := quotaKey{svc, q.Name}
		qm := m.quotas[k]
		if qm == nil {
			qm = &quotaMin{}
			m.quotas[k] = qm
		}
		switch {
		case qm.cur.minute == minute:
			qm.cur.min = min(qm.cur.min, q.Remaining)
		default:
			if qm.cur.minute == minute-1 {
				qm.prev = qm.cur
			} else {
				qm.prev = quotaSlot{}
			}
			qm.cur = quotaSlot{minute: minute, min: q.Remaining}
		}
	}
}

// Describe implements prometheus.Collector.
func (m *AzureMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.throttled.Describe(ch)
	ch <- azureQuotaDesc
}

// Collect implements prometheus.Collector.
func (m *AzureMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.throttled.Collect(ch)
	minute := m.now().Unix() / 60
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, qm := range m.quotas {
		v, ok := 0, false
		for _, s := range []quotaSlot{qm.cur, qm.prev} {
			if s.minute != 0 && minute-s.minute <= 1 && (!ok || s.min < v) {
				v, ok = s.min, true
			}
		}
		if !ok {
			if minute-qm.cur.minute > 10 {
				delete(m.quotas, k) // long unused: forget it
			}
			continue
		}
		ch <- prometheus.MustNewConstMetric(azureQuotaDesc, prometheus.GaugeValue, float64(v), k.service, k.quota)
	}
}

// WatchAzure adds m's Azure metrics to /metrics.
func (s *Server) WatchAzure(m *AzureMetrics) {
	s.metrics.registry.MustRegister(m)
}

// WatchInventory adds the inventory service's totals to /metrics, read at
// each scrape.
func (s *Server) WatchInventory(counts func() steward.InventoryCounts) {
	s.metrics.registry.MustRegister(inventoryCollector{counts: counts})
}

var (
	syncResourcesDesc = prometheus.NewDesc("steward_sync_resources_total",
		"Resources handled by syncs: seen (listed in Azure), written (stored because they changed), deleted (gone from Azure).",
		[]string{"action"}, nil)
	syncRunsDesc  = prometheus.NewDesc("steward_sync_runs_total", "Sync runs finished, by outcome.", []string{"outcome"}, nil)
	tagWritesDesc = prometheus.NewDesc("steward_tag_writes_total",
		"Tag edit items written back to Azure, by outcome: applied, conflict (changed in Azure meanwhile), failed, retried.",
		[]string{"outcome"}, nil)
	costRowsDesc = prometheus.NewDesc("steward_cost_rows_imported_total", "Daily cost rows imported from Cost Management.", nil, nil)
)

type inventoryCollector struct {
	counts func() steward.InventoryCounts
}

func (c inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- syncResourcesDesc
	ch <- syncRunsDesc
	ch <- tagWritesDesc
	ch <- costRowsDesc
}

func (c inventoryCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.counts()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(syncResourcesDesc, n.ResourcesSeen, "seen")
	counter(syncResourcesDesc, n.ResourcesWritten, "written")
	counter(syncResourcesDesc, n.ResourcesDeleted, "deleted")
	for _, st := range []steward.SyncRunStatus{steward.SyncSucceeded, steward.SyncFailed, steward.SyncCanceled} {
		counter(syncRunsDesc, n.SyncRuns[st], string(st))
	}
	for _, o := range []string{steward.TagWriteApplied, steward.TagWriteConflict, steward.TagWriteFailed, steward.TagWriteRetried} {
		counter(tagWritesDesc, n.TagWrites[o], o)
	}
	counter(costRowsDesc, n.CostRows)
}
