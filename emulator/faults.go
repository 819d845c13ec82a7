package emulator

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind is one way a request can go wrong on purpose, so that clients can
// prove their retries and resumption.
type FaultKind int

// Fault kinds.
const (
	FaultNone     FaultKind = iota
	Fault500                // 500 in the service's error shape
	Fault503                // 503 in the service's error shape
	FaultReset              // the connection (HTTP/2: the stream) is reset before any response
	FaultTruncate           // status and headers are sent, then half the body, then a reset
	FaultSlow               // the body is sent in 1 KiB chunks with SlowChunkDelay between them
)

func (k FaultKind) String() string {
	switch k {
	case FaultNone:
		return "none"
	case Fault500:
		return "500"
	case Fault503:
		return "503"
	case FaultReset:
		return "reset"
	case FaultTruncate:
		return "truncate"
	case FaultSlow:
		return "slow"
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Service selects which of the emulator's three faces a fault applies to.
type Service uint8

// Services.
const (
	ServiceARM Service = 1 << iota
	ServiceGraph
	ServiceEntra
)

// Faults configures injected latency and failures. The zero value injects
// nothing. Draws are deterministic: the n-th targeted request since the
// faults were set always gets the same fault for the same Seed.
type Faults struct {
	// Latency is added before every targeted request is handled.
	Latency time.Duration
	// Rate500, Rate503, RateReset, RateTruncate and RateSlow are the
	// fractions (0..1) of targeted requests that get each fault. Their sum
	// must not exceed 1.
	Rate500, Rate503, RateReset, RateTruncate, RateSlow float64
	// Script lists faults for the next targeted requests, one each, in order;
	// the rates apply once it is used up. FaultNone lets a request through.
	Script []FaultKind
	// SlowChunkDelay is the pause between 1 KiB chunks of a slow response.
	// Defaults to 20ms.
	SlowChunkDelay time.Duration
	// Services are the faces faults apply to. Defaults to ARM and Graph, so
	// token requests are not disturbed unless asked.
	Services Service
	// PathContains, when set, limits faults to requests whose path contains
	// it (case-insensitive), e.g. "/resources".
	PathContains string
	// Seed varies the deterministic draws.
	Seed uint64
}

func (f Faults) validate() error {
	rates := []float64{f.Rate500, f.Rate503, f.RateReset, f.RateTruncate, f.RateSlow}
	sum := 0.0
	for _, r := range rates {
		if r < 0 || r > 1 {
			return fmt.Errorf("emulator: fault rate %v is outside 0..1", r)
		}
		sum += r
	}
	if sum > 1.0000001 {
		return fmt.Errorf("emulator: fault rates add up to %v, more than 1", sum)
	}
	if f.Latency < 0 || f.SlowChunkDelay < 0 {
		return fmt.Errorf("emulator: negative latency or slow-chunk delay")
	}
	return nil
}

// faultState is an installed Faults with its counters. It is replaced as a
// whole by SetFaults, so a test switching faults mid-sync sees a clean start.
type faultState struct {
	f      Faults
	lower  string
	n      atomic.Uint64 // targeted requests seen
	mu     sync.Mutex
	script []FaultKind
}

func newFaultState(f Faults) *faultState {
	if f.Services == 0 {
		f.Services = ServiceARM | ServiceGraph
	}
	if f.SlowChunkDelay == 0 {
		f.SlowChunkDelay = 20 * time.Millisecond
	}
	return &faultState{f: f, lower: strings.ToLower(f.PathContains), script: append([]FaultKind(nil), f.Script...)}
}

func (fs *faultState) active() bool {
	f := &fs.f
	return f.Latency > 0 || len(f.Script) > 0 || f.Rate500+f.Rate503+f.RateReset+f.RateTruncate+f.RateSlow > 0
}

// draw picks the fault for one targeted request.
func (fs *faultState) draw() FaultKind {
	fs.mu.Lock()
	if len(fs.script) > 0 {
		k := fs.script[0]
		fs.script = fs.script[1:]
		fs.mu.Unlock()
		return k
	}
	fs.mu.Unlock()
	n := fs.n.Add(1)
	u := float64(splitmix64(fs.f.Seed^(n*0x9e3779b97f4a7c15))>>11) / (1 << 53)
	f := &fs.f
	for _, c := range []struct {
		rate float64
		kind FaultKind
	}{{f.Rate500, Fault500}, {f.Rate503, Fault503}, {f.RateReset, FaultReset}, {f.RateTruncate, FaultTruncate}, {f.RateSlow, FaultSlow}} {
		if u < c.rate {
			return c.kind
		}
		u -= c.rate
	}
	return FaultNone
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SetFaults replaces the injected faults at runtime; Faults{} turns them off.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	e.faults.Store(newFaultState(f))
	return nil
}

// withFaults wraps a service handler with latency and fault injection.
func (e *Emulator) withFaults(svc Service, next func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		fs := e.faults.Load()
		if fs == nil || !fs.active() || fs.f.Services&svc == 0 ||
			(fs.lower != "" && !strings.Contains(strings.ToLower(r.URL.Path), fs.lower)) {
			next(w, r)
			return
		}
		if d := fs.f.Latency; d > 0 {
			if !sleepCtx(r.Context(), d) {
				return
			}
		}
		switch kind := fs.draw(); kind {
		case Fault500, Fault503:
			status := http.StatusInternalServerError
			if kind == Fault503 {
				status = http.StatusServiceUnavailable
			}
			writeServiceFault(w, r, svc, status)
		case FaultReset:
			panic(http.ErrAbortHandler)
		case FaultTruncate, FaultSlow:
			rec := &recordingWriter{header: http.Header{}, status: http.StatusOK}
			next(rec, r)
			rec.replay(w, r.Context(), kind, fs.f.SlowChunkDelay)
		default:
			next(w, r)
		}
	}
}

// writeServiceFault answers with a transient server error in the shape the
// service uses, as Azure's front doors do.
func writeServiceFault(w http.ResponseWriter, r *http.Request, svc Service, status int) {
	switch svc {
	case ServiceEntra:
		code, desc := "server_error", "AADSTS90033: A transient error has occurred. Please try again."
		if status == http.StatusServiceUnavailable {
			code = "temporarily_unavailable"
		}
		writeEntraError(w, r, status, entraErr{Code: code, AADSTS: 0, Desc: desc})
	case ServiceGraph:
		code := "generalException"
		msg := "An internal server error occurred."
		if status == http.StatusServiceUnavailable {
			code, msg = "serviceNotAvailable", "The service is temporarily unavailable. Please retry later."
		}
		writeGraphError(w, r, status, code, msg)
	default:
		if status == http.StatusServiceUnavailable {
			writeARMError(w, r, status, "ServiceUnavailable", "The server is currently unable to handle the request. Please retry your request.")
			return
		}
		writeARMError(w, r, status, "InternalServerError",
			fmt.Sprintf("Encountered internal server error. Diagnostic information: timestamp '%s', tracking id '%s', request correlation id '%s'.",
				time.Now().UTC().Format("20060102T150405Z"), w.Header().Get("x-ms-request-id"), w.Header().Get("x-ms-correlation-request-id")))
	}
}

// recordingWriter captures a response so it can be replayed truncated or slowly.
type recordingWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (rw *recordingWriter) Header() http.Header { return rw.header }
func (rw *recordingWriter) WriteHeader(s int) {
	if !rw.wrote {
		rw.status, rw.wrote = s, true
	}
}
func (rw *recordingWriter) Write(b []byte) (int, error) {
	rw.wrote = true
	return rw.body.Write(b)
}

func (rw *recordingWriter) replay(w http.ResponseWriter, ctx context.Context, kind FaultKind, delay time.Duration) {
	for k, v := range rw.header {
		w.Header()[k] = v
	}
	body := rw.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rw.status)
	flusher, _ := w.(http.Flusher)
	if kind == FaultTruncate {
		_, _ = w.Write(body[:len(body)/2])
		if flusher != nil {
			flusher.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	for len(body) > 0 {
		n := min(1024, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		if flusher != nil {
			flusher.Flush()
		}
		if len(body) > 0 && !sleepCtx(ctx, delay) {
			return
		}
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
