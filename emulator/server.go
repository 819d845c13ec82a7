package emulator

import (
	"fmt"
	"html/template"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// serveHTTP is the single entry point. It stamps request IDs, recovers from
// panics (answering 500 in the service's shape; http.ErrAbortHandler, used by
// fault injection, passes through), and routes by the first path segment:
//
//	/v1.0/…, /beta/…                         Microsoft Graph
//	/subscriptions…, /providers…, /tenants   Azure Resource Manager
//	/metadata/endpoints                      ARM cloud metadata
//	/{tenant}/…                              Entra ID (tenant GUID, domain, common, organizations)
func (e *Emulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	start := time.Now()
	h := w.Header()
	reqID := newGUID()
	corr := r.Header.Get("x-ms-correlation-request-id")
	if corr == "" {
		corr = r.Header.Get("x-ms-client-request-id")
	}
	if corr == "" {
		corr = newGUID()
	}
	h.Set("x-ms-request-id", reqID)
	h.Set("x-ms-correlation-request-id", corr)
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	svc := serviceOf(r.URL.Path)
	if svc == ServiceGraph {
		h.Set("request-id", reqID)
		if id := r.Header.Get("client-request-id"); id != "" {
			h.Set("client-request-id", id)
		} else {
			h.Set("client-request-id", reqID)
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			e.log.Error("emulator handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !sw.wrote {
				writeServiceFault(sw, r, svc, http.StatusInternalServerError)
			}
		}
		e.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	}()
	switch svc {
	case ServiceGraph:
		e.withFaults(ServiceGraph, e.serveGraph)(sw, r)
	case ServiceARM:
		e.withFaults(ServiceARM, e.serveARM)(sw, r)
	case ServiceEntra:
		e.withFaults(ServiceEntra, e.serveEntra)(sw, r)
	default:
		e.serveIndex(sw, r)
	}
}

func serviceOf(path string) Service {
	seg := strings.TrimLeft(path, "/")
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	switch strings.ToLower(seg) {
	case "":
		return 0
	case "v1.0", "beta":
		return ServiceGraph
	case "subscriptions", "providers", "tenants", "metadata":
		return ServiceARM
	case "favicon.ico":
		return 0
	}
	return ServiceEntra
}

// statusWriter remembers the status for the request log and whether a
// response has begun.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// baseURL is how the client reached us, for links in responses (nextLink,
// OIDC endpoints): https plus the request's Host.
func baseURL(r *http.Request) string { return "https://" + r.Host }

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Steward Azure emulator</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;line-height:1.5}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>Steward Azure emulator</h1>
<p>Estate <b>{{.Estate}}</b>, seed {{.Seed}}. Entra ID, Microsoft Graph and Azure Resource Manager on one host.</p>
<ul>
<li>Authority host: <code>{{.Base}}/</code> (e.g. <code>{{.Base}}/{tenant}/v2.0/.well-known/openid-configuration</code>)</li>
<li>Resource Manager endpoint and audience: <code>{{.Base}}</code></li>
<li>Microsoft Graph: <code>{{.Base}}/v1.0</code>, audience <code>https://graph.microsoft.com</code></li>
</ul>
<h2>Tenants</h2>
<ul>{{range .Tenants}}<li>{{.Name}} ({{.Kind}}) <code>{{.ID}}</code>, {{.Subs}} subscription(s)</li>{{end}}</ul>
</body></html>`))

func (e *Emulator) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	type row struct {
		Name, Kind, ID string
		Subs           int
	}
	e.w.mu.RLock()
	var rows []row
	for _, t := range e.w.tenantList {
		rows = append(rows, row{t.DisplayName, t.Kind, t.ID, len(e.w.subsOf(t.ID))})
	}
	e.w.mu.RUnlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexPage.Execute(w, map[string]any{"Estate": e.w.estate, "Seed": e.w.seed, "Base": baseURL(r), "Tenants": rows})
}
