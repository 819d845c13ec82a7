// Package web serves Steward's JSON API under /api/v1 and its HTML pages.
//
// Every route is declared once, in routes.go, with the permission it needs.
// That one table registers the handlers, performs every access check, writes
// the OpenAPI document and drives the role-matrix test, so no route can
// exist without a declared and tested access rule.
package web

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
)

// Config is the web server's configuration.
type Config struct {
	// Addr is the listen address. Defaults to 127.0.0.1:8443.
	Addr string
	// TLSCertFile and TLSKeyFile name a certificate to serve. When both are
	// empty a self-signed certificate is generated once in DataDir/tls.
	TLSCertFile, TLSKeyFile string
	// DataDir keeps the generated certificate. Defaults to ".".
	DataDir string
	// InsecureHTTP serves plain HTTP, for running behind a TLS-terminating
	// proxy only. Cookies stay Secure: the browser must still see HTTPS.
	InsecureHTTP bool
	// TrustedProxies are the proxy addresses whose X-Forwarded-For header is
	// believed when finding a client's address. Defaults to none.
	TrustedProxies []netip.Prefix
	// PublicURL is where people reach Steward (used for the consent
	// redirect). Defaults to the scheme and host of each request.
	PublicURL string
	// MaxBodyBytes caps request bodies. Defaults to 1 MiB.
	MaxBodyBytes int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.Addr = cmp.Or(c.Addr, "127.0.0.1:8443")
	c.DataDir = cmp.Or(c.DataDir, ".")
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 1<<20)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return steward.Errorf(steward.EINVALID, "Give both a TLS certificate and its key, or neither.")
	}
	if c.InsecureHTTP && c.TLSCertFile != "" {
		return steward.Errorf(steward.EINVALID, "Plain HTTP and a TLS certificate were both asked for; choose one.")
	}
	return nil
}

// Deps are the services the server calls.
type Deps struct {
	// Accounts signs people in and out, finds the actor behind a token or
	// a session cookie, and manages users, grants, passwords and tokens.
	Accounts steward.AccountService
	// Audit records what the server itself decides: refusals. Reading the
	// log goes through Access, which scopes it.
	Audit AuditAppender
	// Lighthouse checks and builds delegation templates.
	Lighthouse steward.Lighthouse
	// InventoryService reads subscriptions, resources, edits and spend,
	// and acts on them (syncs, levels, edits), each within the caller's
	// scope: the server never reads tenant data from a store itself.
	InventoryService steward.InventoryService
	// Access connects tenants, controls Steward's access to them, and
	// reads tenants, credentials and the audit log within the caller's
	// scope.
	Access steward.AccessService
	// Ready reports whether the server can take traffic: database reachable,
	// migrations applied. Nil means always ready.
	Ready func(ctx context.Context) error
}

func (d Deps) validate() error {
	if d.Accounts == nil || d.Audit == nil || d.Lighthouse == nil || d.InventoryService == nil || d.Access == nil {
		return errors.New("web: Accounts, Audit, Lighthouse, InventoryService and Access are required")
	}
	return nil
}

// AuditAppender appends events to the audit log.
type AuditAppender interface {
	AuditAppend(ctx context.Context, ev *steward.AuditEvent) error
}

// Server is the HTTP(S) server.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	handler http.Handler
	routes  []*route
	metrics *metrics
	pages   *pages

	mu       sync.Mutex
	srv      *http.Server
	listener net.Listener
	done     chan struct{}
}

// New builds a server; it does not listen until Start.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		log:     cfg.Logger,
		metrics: newMetrics(),
		pages:   pg,
	}
	s.routes = s.routeTable()
	s.handler = s.buildHandler()
	return s, nil
}

// Handler returns the server's handler, for tests and benchmarks that do
// not need a listener.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the Prometheus registry that /metrics serves, so other
// components can add their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

// Start listens on the configured address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	var tlsConfig *tls.Config
	if !s.cfg.InsecureHTTP {
		cert, err := loadOrCreateCertificate(s.cfg, s.log)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	s.listener = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      5 * time.Minute, // exports stream for a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", slog.Any("error", err))
		}
	}(s.srv, s.done)
	s.log.Info("listening", slog.String("url", s.urlLocked()))
	return nil
}

// URL returns the base URL the server listens on, e.g. https://127.0.0.1:8443.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Server) urlLocked() string {
	if s.listener == nil {
		return ""
	}
	scheme := "https"
	if s.cfg.InsecureHTTP {
		scheme = "http"
	}
	return scheme + "://" + s.listener.Addr().String()
}

// Stop finishes in-flight requests (for at most the context's time) and
// stops listening. Safe to call twice.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	<-done
	if err != nil {
		return fmt.Errorf("shutting down the web server: %w", err)
	}
	return nil
}
