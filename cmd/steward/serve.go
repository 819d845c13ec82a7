package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/accounts"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/lighthouse"
	"github.com/stewardhq/steward/notify"
	"github.com/stewardhq/steward/secrets"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/web"
)

// Config is everything `steward serve` can be told.
type Config struct {
	Addr            string
	DataDir         string
	Database        string
	TLSCert, TLSKey string
	InsecureHTTP    bool
	TrustedProxies  string
	SessionLifetime time.Duration
	LogLevel        string
	LogFormat       string
	AdminPassword   string // for the first admin only; env or file, never a flag

	// Azure: which cloud, and Steward's own multi-tenant app for consent.
	Cloud       string
	AppClientID string
	AppSecret   steward.Secret // env or file, never a flag
	PublicURL   string

	Keys secrets.Config // key-encryption keys for stored secrets

	// Alerts: email and a webhook.
	SMTP          notify.SMTPConfig
	SMTPTo        string // comma-separated
	WebhookURL    string
	WebhookSecret steward.Secret
}

// notifyConfig is where alerts go.
func (c Config) notifyConfig() notify.Config {
	n := notify.Config{SMTP: c.SMTP}
	for _, a := range strings.Split(c.SMTPTo, ",") {
		if a = strings.TrimSpace(a); a != "" {
			n.SMTP.To = append(n.SMTP.To, a)
		}
	}
	if c.WebhookURL != "" {
		n.Webhooks = []notify.Webhook{{URL: c.WebhookURL, Secret: c.WebhookSecret}}
	}
	return n
}

// defineServeFlags declares the serve options on s.
func defineServeFlags(s *settings, c *Config) error {
	s.String(&c.Addr, "addr", "STEWARD_ADDR", "127.0.0.1:8443", "listen on HOST:PORT")
	s.String(&c.DataDir, "data", "STEWARD_DATA", "./steward-data", "keep the SQLite database, TLS certificate and keys in `DIR`")
	s.String(&c.Database, "database", "STEWARD_DATABASE", "", "use this PostgreSQL `URL` (postgres://…) instead of SQLite in the data directory")
	s.String(&c.TLSCert, "tls-cert", "STEWARD_TLS_CERT", "", "serve this certificate `FILE` (PEM) instead of a self-signed one")
	s.String(&c.TLSKey, "tls-key", "STEWARD_TLS_KEY", "", "the certificate's private key `FILE` (PEM)")
	if err := s.Bool(&c.InsecureHTTP, "insecure-http", "STEWARD_INSECURE_HTTP", false, "serve plain HTTP, only behind a proxy that terminates TLS"); err != nil {
		return err
	}
	s.String(&c.TrustedProxies, "trusted-proxies", "STEWARD_TRUSTED_PROXIES", "", "comma-separated `CIDRs` of proxies whose X-Forwarded-For is believed")
	if err := s.Duration(&c.SessionLifetime, "session-lifetime", "STEWARD_SESSION_LIFETIME", 12*time.Hour, "how long a sign-in lasts"); err != nil {
		return err
	}
	s.String(&c.LogLevel, "log-level", "STEWARD_LOG_LEVEL", "info", "debug, info, warn or error")
	s.String(&c.LogFormat, "log-format", "STEWARD_LOG_FORMAT", "json", "json or text")
	s.String(&c.Cloud, "cloud", "STEWARD_CLOUD", "public", "Azure cloud: public, usgov, china, or the `PATH` of an emulator connection file")
	s.String(&c.AppClientID, "app-client-id", "STEWARD_APP_CLIENT_ID", "", "client ID of Steward's multi-tenant app, for consent onboarding (its secret: STEWARD_APP_SECRET or STEWARD_APP_SECRET_FILE)")
	s.String(&c.PublicURL, "public-url", "STEWARD_PUBLIC_URL", "", "the `URL` people reach Steward at, for the consent redirect (default: each request's own)")
	s.String(&c.SMTP.Addr, "smtp-addr", "STEWARD_SMTP_ADDR", "", "send alerts by email through this `HOST:PORT` (STARTTLS; password: STEWARD_SMTP_PASSWORD)")
	s.String(&c.SMTP.From, "smtp-from", "STEWARD_SMTP_FROM", "", "sender `ADDRESS` of alert emails")
	s.String(&c.SMTPTo, "smtp-to", "STEWARD_SMTP_TO", "", "comma-separated `ADDRESSES` that receive alert emails")
	s.String(&c.SMTP.Username, "smtp-username", "STEWARD_SMTP_USERNAME", "", "SMTP user `NAME`")
	s.String(&c.WebhookURL, "webhook-url", "STEWARD_WEBHOOK_URL", "", "post alerts as JSON to this `URL`, signed with STEWARD_WEBHOOK_SECRET")
	var err error
	if c.AdminPassword, err = s.secret("STEWARD_ADMIN_PASSWORD"); err != nil {
		return err
	}
	secret := func(env string) (steward.Secret, error) { v, err := s.secret(env); return steward.Secret(v), err }
	if c.AppSecret, err = secret("STEWARD_APP_SECRET"); err != nil {
		return err
	}
	if c.SMTP.Password, err = secret("STEWARD_SMTP_PASSWORD"); err != nil {
		return err
	}
	if c.WebhookSecret, err = secret("STEWARD_WEBHOOK_SECRET"); err != nil {
		return err
	}
	return c.Keys.FromEnv(func(k string) (string, bool) { v := s.lookup(k, ""); return v, v != "" })
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want json or text", format)
	}
	return slog.New(steward.LogHandler(h)), nil
}

// Main is a running Steward portal: its store, job runner and web server,
// built in dependency order and closed in reverse.
type Main struct {
	Config Config
	Stdout io.Writer
	Log    *slog.Logger
	// Hasher defaults to production argon2id parameters; tests lower them.
	Hasher auth.Hasher

	DB       *store.DB
	Accounts *accounts.Service
	Keys     *secrets.Keyring
	Azure    *azure.Connector
	// AzureMetrics counts the connector's requests for /metrics; built
	// before the connector, registered with the server once it exists.
	AzureMetrics *web.AzureMetrics
	Inventory    *inventory.Service
	Access       *access.Service
	Jobs         *jobs.Runner
	Server       *web.Server
}

// Run opens and migrates the database, makes the first admin if there is no
// user yet, and starts the job runner and the web server.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if m.Hasher.Params == (auth.Params{}) {
		m.Hasher = auth.Hasher{Params: auth.DefaultParams}
	}
	proxies, err := parsePrefixes(c.TrustedProxies)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	if m.DB, err = openStore(ctx, c.DataDir, c.Database, m.Log); err != nil {
		return err
	}
	if _, err := m.DB.Migrate(ctx); err != nil {
		return err
	}
	if err := m.services(ctx); err != nil {
		return err
	}
	jc := jobs.Config{DB: m.DB.WriteDB(), Postgres: m.DB.Pool(), Sessions: m.DB, Inventory: m.Inventory, Store: m.DB, Access: m.Access, Logger: m.Log}
	if m.Jobs, err = jobs.New(jc); err != nil {
		return err
	}
	if _, err := m.Jobs.Migrate(ctx); err != nil {
		return err
	}
	m.DB.SetQueue(m.Jobs)
	m.Inventory.SetJobs(m.Jobs)
	if err := m.bootstrapAdmin(ctx); err != nil {
		return err
	}
	if err := m.Jobs.Start(ctx); err != nil {
		return err
	}
	m.Server, err = web.New(web.Config{
		Addr: c.Addr, TLSCertFile: c.TLSCert, TLSKeyFile: c.TLSKey, DataDir: c.DataDir, InsecureHTTP: c.InsecureHTTP,
		TrustedProxies: proxies, PublicURL: c.PublicURL, Logger: m.Log,
	}, web.Deps{Accounts: m.Accounts, Audit: m.DB, Lighthouse: lighthouse.New(),
		InventoryService: m.Inventory, Access: m.Access, Ready: m.ready})
	if err != nil {
		return err
	}
	m.Server.WatchQueues(m.Jobs.QueueStats)
	m.Server.WatchAzure(m.AzureMetrics)
	m.Server.WatchInventory(m.Inventory.Counts)
	return m.Server.Start(ctx)
}

// services builds what the web server and the jobs act through: the
// account service, the keyring for stored secrets, the Azure connector,
// alerts, and the inventory and access services.
func (m *Main) services(ctx context.Context) error {
	c := m.Config
	var err error
	if m.Accounts, err = accounts.New(accounts.Config{Store: m.DB, Passwords: m.Hasher, SessionLifetime: c.SessionLifetime, Logger: m.Log}); err != nil {
		return err
	}
	keys := c.Keys
	keys.DataDir, keys.Logger = c.DataDir, m.Log
	if m.Keys, err = secrets.NewKeyring(keys); err != nil {
		return err
	}
	if err := keysOpenSecrets(ctx, m.DB, m.Keys); err != nil {
		if m.Keys.Created() {
			os.Remove(m.Keys.Path()) // a new key that opens nothing stored would only mislead
		}
		return err
	}
	if m.Keys.Created() {
		fmt.Fprintf(m.Stdout, "Created the key file %s that seals stored secrets. Back it up apart from the database.\n", m.Keys.Path())
	}
	m.AzureMetrics = web.NewAzureMetrics(nil)
	if m.Azure, err = azure.New(azure.Config{Cloud: cmp.Or(c.Cloud, "public"), App: azure.AppConfig{ClientID: c.AppClientID, Secret: c.AppSecret},
		Logger: m.Log, Observer: m.AzureMetrics}); err != nil {
		return err
	}
	alerts, err := notify.New(c.notifyConfig())
	if err != nil {
		return err
	}
	if m.Inventory, err = inventory.New(inventory.Config{Store: m.DB, Azure: m.Azure, Box: m.Keys, Logger: m.Log}); err != nil {
		return err
	}
	m.Access, err = access.New(access.Config{Store: m.DB, Azure: m.Azure, Box: m.Keys, Inventory: m.Inventory, Notifier: alerts, Logger: m.Log})
	return err
}

// ready is /readyz: the database answers and both schemas are current.
func (m *Main) ready(ctx context.Context) error {
	if err := m.DB.Ping(ctx); err != nil {
		return steward.WrapError(steward.EUNAVAILABLE, err, "The database does not answer.")
	}
	if p, err := m.DB.MigrationsPending(ctx); err != nil || p {
		return steward.WrapError(steward.EUNAVAILABLE, err, "Database migrations are pending; run steward migrate.")
	}
	if p, err := m.Jobs.MigrationsPending(ctx); err != nil || p {
		return steward.WrapError(steward.EUNAVAILABLE, err, "Job queue migrations are pending; run steward migrate.")
	}
	return nil
}

// Close stops the web server (letting requests finish), then the jobs, then
// closes the database. Safe to call after a failed Run.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if m.Server != nil {
		errs = append(errs, m.Server.Stop(ctx))
	}
	if m.Jobs != nil {
		errs = append(errs, m.Jobs.Stop(ctx))
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

// bootstrapAdmin makes the first admin when there are no users: with
// STEWARD_ADMIN_PASSWORD, or a generated password printed once.
func (m *Main) bootstrapAdmin(ctx context.Context) error {
	pw, generated := m.Config.AdminPassword, false
	if pw == "" {
		pw, generated = auth.GeneratePassword(), true
	}
	created, err := m.Accounts.BootstrapAdmin(steward.NewSystemContext(ctx), pw)
	if steward.ErrorCode(err) == steward.EINVALID {
		return fmt.Errorf("STEWARD_ADMIN_PASSWORD: %s", steward.ErrorMessage(err))
	}
	if err != nil || !created {
		return err
	}
	if generated {
		// Printed to the terminal, never to the log.
		fmt.Fprintf(m.Stdout, "\nCreated the first admin.\n  user:     admin\n  password: %s\nIt is shown this once; change it under Your account after signing in.\n\n", pw)
	} else {
		fmt.Fprintf(m.Stdout, "Created the first admin, user admin, with the password from STEWARD_ADMIN_PASSWORD.\n")
	}
	return nil
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR", f)
			}
			f = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// openStore opens the configured database: PostgreSQL when a URL is given,
// else SQLite in the data directory.
func openStore(ctx context.Context, dataDir, database string, log *slog.Logger) (*store.DB, error) {
	url := database
	if url != "" && store.EngineOf(url) != store.Postgres {
		return nil, fmt.Errorf("--database must be a postgres:// URL; without it Steward uses SQLite in the data directory")
	}
	if url == "" {
		url = "sqlite:" + filepath.Join(dataDir, "steward.db")
	}
	db, err := store.Open(ctx, store.Config{URL: url, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	return db, nil
}

// runServe is `steward serve`.
func runServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, err := newSettings("steward serve", args, env, stderr)
	if err != nil {
		return err
	}
	var c Config
	if err := defineServeFlags(s, &c); err != nil {
		return err
	}
	s.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: steward serve [flags]\n\nRuns the Steward portal. Each flag can also be set in the environment\nor in a config file of STEWARD_NAME=value lines; flags win over the\nenvironment, which wins over the file.\n\nThe first admin's password comes from STEWARD_ADMIN_PASSWORD (or\nSTEWARD_ADMIN_PASSWORD_FILE), else one is generated and printed once.\n\nFlags:\n")
		s.fs.PrintDefaults()
	}
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	m := &Main{Config: c, Stdout: stdout, Log: log}
	defer m.Close()
	if err := m.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Steward is running at %s\n", m.Server.URL())
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}
