package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Emulator is Azure in a box: Entra ID, Microsoft Graph and Azure Resource
// Manager on one HTTPS host. Create it with New, serve with Start, and stop
// with Stop. Its methods are safe for concurrent use.
type Emulator struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	w       *world
	ca      *certAuthority
	signer  *signingKey
	limiter *limiter
	quotas  *quotaWindows // Resource Graph and Cost Management quotas
	faults  atomic.Pointer[faultState]
	tokens  tokenCache
	armExt  map[string]armExtension
	handler http.Handler

	// stateHooks persist later parts' state in the state file.
	stateHooks []stateHook

	// stewardApp is the app ID of Steward's multi-tenant app registration.
	stewardApp string

	life     sync.Mutex
	started  bool
	stopped  bool
	srv      *http.Server
	url      string
	hosts    atomic.Pointer[[]string]
	serveEnd chan struct{}
	stopCh   chan struct{}
	inflight atomic.Int64 // requests being served
}

// New builds an emulator: it loads cfg.StatePath when that file exists and
// seeds the configured estate otherwise. It does not listen yet; Handler
// already serves in-process.
func New(cfg Config) (*Emulator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Emulator{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		armExt: map[string]armExtension{},
		stopCh: make(chan struct{}),
	}
	e.limiter = newLimiter(cfg.Now)
	e.quotas = newQuotaWindows()
	e.faults.Store(newFaultState(cfg.Faults))
	e.registerARMExtensions()

	loaded := false
	if cfg.StatePath != "" {
		st, err := readState(cfg.StatePath)
		switch {
		case err == nil:
			if err := e.restore(st); err != nil {
				return nil, fmt.Errorf("emulator: restoring %s: %w", cfg.StatePath, err)
			}
			loaded = true
			if st.Estate != cfg.Estate || st.Seed != cfg.Seed {
				e.log.Warn("state file wins over the configured estate", "state_estate", st.Estate, "state_seed", st.Seed)
			}
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("emulator: reading state %s: %w", cfg.StatePath, err)
		}
	}
	if !loaded {
		var err error
		if e.ca, err = newCA(e.now()); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		if cfg.StatePath != "" {
			e.signer, err = newSigningKey(e.now())
		} else {
			e.signer, err = ephemeralSigningKey()
		}
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		w, app, err := seedEstate(cfg.Estate, cfg.Seed, e.now())
		if err != nil {
			return nil, fmt.Errorf("emulator: seeding %s estate: %w", cfg.Estate, err)
		}
		e.w, e.stewardApp = w, app
	}
	if a := e.w.apps[e.stewardApp]; a != nil {
		for _, u := range cfg.RedirectURIs {
			if !containsFold(a.RedirectURIs, u) {
				a.RedirectURIs = append(a.RedirectURIs, u)
			}
		}
	}
	e.handler = http.HandlerFunc(e.serveHTTP)
	return e, nil
}

// Start listens on cfg.Addr and serves HTTPS until Stop or until ctx ends.
// It returns once the listener is up. Calling it again is a no-op.
func (e *Emulator) Start(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.stopped {
		return errors.New("emulator: Start after Stop")
	}
	if e.started {
		return nil
	}
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("emulator: listening on %s: %w", e.cfg.Addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	cfgHost, _, _ := net.SplitHostPort(e.cfg.Addr)
	leaf, err := e.ca.leaf(e.now(), host, cfgHost)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("emulator: %w", err)
	}
	urlHost := cfgHost
	if ip := net.ParseIP(cfgHost); cfgHost == "" || ip != nil && ip.IsUnspecified() {
		urlHost = "127.0.0.1"
	}
	e.url = "https://" + net.JoinHostPort(urlHost, port)
	hosts := []string{net.JoinHostPort(urlHost, port), "127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}
	e.hosts.Store(&hosts)

	e.srv = &http.Server{
		Handler:           e.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{leaf},
			MinVersion:   tls.VersionTLS12,
			// HTTP/2 first, as ARM: the SDK sends some $filter values
			// unescaped (armauthorization), which HTTP/1.1 request lines
			// cannot carry but HTTP/2's :path can.
			NextProtos: []string{"h2", "http/1.1"},
		},
	}
	tln := tls.NewListener(ln, e.srv.TLSConfig)
	e.serveEnd = make(chan struct{})
	go func() {
		defer close(e.serveEnd)
		if err := e.srv.Serve(tln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator stopped serving", "error", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			e.Stop()
		case <-e.stopCh:
		}
	}()
	e.started = true
	e.log.Info("emulator listening", "url", e.url, "estate", e.w.estate)
	return nil
}

// Stop shuts the server down, waits for in-flight requests (up to five
// seconds, then cuts them off), and saves the state when a state file is configured. Calling it
// again is a no-op.
func (e *Emulator) Stop() {
	e.life.Lock()
	defer e.life.Unlock()
	if e.stopped {
		return
	}
	e.stopped = true
	close(e.stopCh)
	if e.srv != nil {
		// Shutdown closes the listener and lets in-flight requests finish;
		// once none are left, Close drops the idle connections at once
		// instead of waiting out HTTP/2's one-second GOAWAY grace.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for e.inflight.Load() > 0 {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
			cancel()
		}()
		_ = e.srv.Shutdown(ctx)
		cancel()
		<-drained
		_ = e.srv.Close()
		<-e.serveEnd
	}
	if e.cfg.StatePath != "" {
		if err := e.SaveState(); err != nil {
			e.log.Error("saving emulator state", "path", e.cfg.StatePath, "error", err)
		}
	}
}

// URL is the base URL, e.g. https://127.0.0.1:8444, once started.
func (e *Emulator) URL() string {
	e.life.Lock()
	defer e.life.Unlock()
	return e.url
}

// CACertPEM is the PEM certificate of the CA that signed the emulator's
// serving certificate; clients trust it to talk HTTPS.
func (e *Emulator) CACertPEM() []byte { return append([]byte(nil), e.ca.certPEM...) }

// Handler serves the emulator in-process (benchmarks, httptest). URLs in
// responses use the request's Host.
func (e *Emulator) Handler() http.Handler { return e.handler }

// isSelfHost reports whether host:port names this emulator.
func (e *Emulator) isSelfHost(hostport, reqHost string) bool {
	if strings.EqualFold(hostport, reqHost) {
		return true
	}
	if hs := e.hosts.Load(); hs != nil {
		for _, h := range *hs {
			if strings.EqualFold(h, hostport) {
				return true
			}
		}
	}
	return false
}

// TransferSubscription moves a subscription into another tenant (its ID or
// domain), as an Azure account owner's "change directory" does: its role
// assignments are deleted, Lighthouse delegations stay unless they were to
// that tenant. It fails when either is unknown.
func (e *Emulator) TransferSubscription(subscriptionID, toTenant string) error {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if !e.w.transferSubscription(subscriptionID, toTenant) {
		return fmt.Errorf("emulator: no subscription %s or no tenant %s", subscriptionID, toTenant)
	}
	return nil
}
