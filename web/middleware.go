package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stewardhq/steward"
)

// withRequestID gives every request an ID, returned in X-Request-Id and
// quoted by its log lines and audit events.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(steward.NewContextWithRequestID(r.Context(), id)))
	})
}

// recoverPanics turns a panic into a logged internal error; the client sees
// "Internal error." and never a stack trace.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				writeJSON(w, http.StatusInternalServerError, apiError{Error: apiErrorBody{Code: steward.EINTERNAL, Message: "Internal error."}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries. The pages load
// only their own stylesheet and scripts, and may not be framed.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !s.cfg.InsecureHTTP {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request and counts it in the metrics, labelled by its
// route pattern rather than its path, so IDs don't explode the label set.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		pattern := "unmatched" // guard names the route it serves
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &pattern)))
		took := time.Since(start)
		status := max(sw.status, http.StatusOK)
		s.metrics.requests.WithLabelValues(r.Method, pattern, statusClass(status)).Inc()
		s.metrics.duration.WithLabelValues(pattern).Observe(took.Seconds())
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return // too frequent to be worth a line each
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.Duration("took", took), slog.Int64("bytes", sw.bytes), slog.String("client_ip", s.clientIP(r)))
	})
}

// routeKey holds where guard writes the pattern of the route it serves: the
// mux sets Request.Pattern only on its own copy of the request.
type routeKey struct{}

// nameRoute tells observe which route served the request.
func nameRoute(r *http.Request, pattern string) {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok {
		*p = pattern
	}
}

func statusClass(status int) string {
	return string(rune('0'+status/100)) + "xx"
}

// clientIP is the address of the client: the connection's peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return host
}

// viaTrustedProxy reports whether the request came from a trusted proxy.
func (s *Server) viaTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.trusted(a)
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	logins   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_http_requests_total", Help: "HTTP requests by method, route and status class.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steward_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_logins_total", Help: "Sign-in attempts by outcome.",
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
	return nil
}

// handleReadyz answers 200 when the database answers and its schema is
// current, else 503 with the reason (never a connection string).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.deps.Ready != nil {
		if err := s.deps.Ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + steward.ErrorMessage(err) + "\n"))
			return nil
		}
	}
	w.Write([]byte("ready\n"))
	return nil
}

// WatchQueues adds the job queues to /metrics, read from stats at each
// scrape: jobs waiting for a worker and the oldest wait, running, and set
// for later (snoozed for Azure's quota, or retrying).
func (s *Server) WatchQueues(stats func(context.Context) ([]steward.QueueStat, error)) {
	s.metrics.registry.MustRegister(&queueCollector{stats: stats, log: s.log})
}

var (
	queueJobs = prometheus.NewDesc("steward_queue_jobs", "Unfinished jobs by queue and state (waiting for a worker, running, later).",
		[]string{"queue", "state"}, nil)
	queueOldest = prometheus.NewDesc("steward_queue_oldest_waiting_seconds", "How long the oldest job waiting for a worker has waited.",
		[]string{"queue"}, nil)
)

type queueCollector struct {
	stats func(context.Context) ([]steward.QueueStat, error)
	log   *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueJobs; ch <- queueOldest }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qs, err := c.stats(ctx)
	if err != nil {
		c.log.Warn("metrics: cannot count queued jobs", slog.Any("error", err))
		return
	}
	for _, q := range qs {
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(q.Waiting), q.Queue, "waiting")
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(q.Running), q.Queue, "running")
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(q.Later), q.Queue, "later")
		ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, q.OldestWaiting.Seconds(), q.Queue)
	}
}
