// Package access connects tenants to Steward and keeps Steward's access to
// them under control: admin consent (with the consenting user's token held
// in memory only), customer app registrations with sealed secrets, checks of
// effective permissions against what each sync level needs, a write switch
// per tenant, rotation with overlap, three ways to revoke with proof,
// Partner Admin Link, least-privilege role definitions, security reviews,
// expiry warnings and alerts.
//
// Like package inventory it works only through root interfaces.
package access

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// Store is what the service needs of the database.
type Store interface {
	steward.TenantStore
	steward.InvitationStore
	steward.InventoryStore
	steward.AuditLog
}

// Config wires the service.
type Config struct {
	Store     Store
	Azure     steward.Azure
	Box       steward.SecretBox
	Inventory steward.InventoryService
	Notifier  steward.Notifier // optional
	// ConsentRoles are the built-in roles Steward assigns its service
	// principal on each consented subscription. Defaults to Tag Contributor
	// and Cost Management Reader: tags and spend, nothing else.
	ConsentRoles []string
	// ConsentTTL bounds a consent in progress; the delegated token never
	// outlives it (nor its own expiry). Defaults to 30 minutes.
	ConsentTTL time.Duration
	// SecretLifetime is the lifetime of secrets Steward makes when it
	// rotates through Graph. Defaults to 12 months, Microsoft's advice.
	SecretLifetime time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	if len(c.ConsentRoles) == 0 {
		c.ConsentRoles = []string{steward.BuiltInTagContributor, steward.BuiltInCostManagementReader}
	}
	c.ConsentTTL = cmp.Or(c.ConsentTTL, 30*time.Minute)
	c.SecretLifetime = cmp.Or(c.SecretLifetime, steward.RecommendedSecretLifetime)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil || c.Azure == nil || c.Box == nil || c.Inventory == nil {
		return errors.New("access: Store, Azure, Box and Inventory are required")
	}
	if c.SecretLifetime > steward.MaxSecretLifetime {
		return errors.New("access: SecretLifetime is longer than the 24 months Entra allows")
	}
	return nil
}

// Service implements steward.AccessService.
type Service struct {
	cfg   Config
	store Store
	azure steward.Azure
	box   steward.SecretBox
	inv   steward.InventoryService
	log   *slog.Logger

	mu       sync.Mutex
	pending  map[string]*pendingConsent // by state, before the callback
	sessions map[string]*consentSession // by session ID, after it
}

var _ steward.AccessService = (*Service)(nil)

// New builds the service.
func New(cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: cfg.Store, azure: cfg.Azure, box: cfg.Box, inv: cfg.Inventory, log: cfg.Logger,
		pending: map[string]*pendingConsent{}, sessions: map[string]*consentSession{}}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// alert tells people about a critical event; a failure to send is logged,
// never returned, so it cannot undo what happened.
func (s *Service) alert(ctx context.Context, a steward.Alert) {
	if s.cfg.Notifier == nil {
		return
	}
	a.Time = s.now()
	if a.Severity == "" {
		a.Severity = "critical"
	}
	if err := s.cfg.Notifier.Notify(ctx, a); err != nil {
		s.log.WarnContext(ctx, "alert not sent", slog.String("kind", a.Kind), slog.Any("error", err))
	}
}

// actor is who asks, for names in events and alerts. Without one it is a
// nobody that may do nothing: every entry point refuses such a call first
// (requireManage, steward.TenantFor, readScope), and nothing fails open.
func actor(ctx context.Context) *steward.Actor {
	if a := steward.ActorFromContext(ctx); a != nil {
		return a
	}
	return &steward.Actor{Name: "anonymous"}
}

// requireManage checks the caller may manage the tenant. EUNAUTHORIZED
// without an actor, EFORBIDDEN.
func requireManage(ctx context.Context, tenantID string) error {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return err
	}
	if !a.Can(steward.PermTenantsManage, tenantID) {
		return steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow managing this tenant.")
	}
	return nil
}

// readScope is where the caller may read tenants: everywhere for Steward's
// own jobs. EUNAUTHORIZED without an actor.
func readScope(ctx context.Context) (steward.Scope, error) {
	return steward.RequireScope(ctx, steward.PermInventoryRead)
}

// visible is the caller's read scope, for the reads inside work already
// checked (steward.TenantFor let it through, or a job runs it).
func visible(ctx context.Context) steward.Scope {
	return steward.ScopeFor(ctx, steward.PermInventoryRead)
}
