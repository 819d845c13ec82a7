// Package inventory is Steward's main job: it keeps an exact, fresh copy of
// each connected subscription's resources, tags and spend, and writes tag
// edits back to Azure through the Tags API and nothing else.
//
// It works only through root interfaces: the stores (subscriptions,
// resources, the tag-edit outbox), Azure (the connector), the secret box
// (to open credentials) and the job queue. Jobs call RunSync, ApplyTagEdits
// and IngestCosts; the web layer calls the rest.
//
// Sync streams a subscription page by page and writes only resources whose
// content hash changed. Write-back claims due outbox items with a lease,
// reads the tags Azure has now, refuses to overwrite a name Azure changed
// since Steward last saw it (a conflict for a person), and skips steps that
// already landed, so an edit interrupted by a crash is applied exactly once.
package inventory

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/stewardhq/steward"
)

// Store is what the service needs of the database.
type Store interface {
	steward.InventoryStore
	steward.TenantStore
	steward.AuditLog
}

// Config wires the service.
type Config struct {
	Store Store
	Azure steward.Azure
	Box   steward.SecretBox
	Jobs  steward.JobQueue
	// GraphThreshold is how many subscriptions a tenant needs before
	// SyncAuto lists them through Resource Graph. Defaults to 10.
	GraphThreshold int
	// GraphSmall is the most resources a subscription may have (as of its
	// last sync) to count as small for Resource Graph. Defaults to 2,000.
	GraphSmall int
	// Lease is how long a write-back worker holds the items it claimed,
	// and how long a sync run stays its subscription's without a
	// heartbeat (renewed every quarter lease while it runs); after a crash
	// they are taken over once it passes. Defaults to 2 minutes.
	Lease time.Duration
	// MaxAttempts is how often an item is tried before it fails for good.
	// Defaults to 8.
	MaxAttempts int
	// CostDays is how many days of costs are imported. Defaults to 90.
	CostDays int
	// CostSumDays is how long the daily sums by subscription, service,
	// resource group and tag (what Spend reports) are kept, at least
	// CostDays. Defaults to CostDays.
	CostSumDays int
	// CostRowDays is how long each resource's daily cost rows are kept, at
	// most CostDays: they take most of the room costs take, and the sums
	// stay. Defaults to 31.
	CostRowDays int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.GraphThreshold = cmp.Or(c.GraphThreshold, 10)
	c.GraphSmall = cmp.Or(c.GraphSmall, 2000)
	c.Lease = cmp.Or(c.Lease, 2*time.Minute)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 8)
	c.CostDays = cmp.Or(c.CostDays, 90)
	c.CostSumDays = max(c.CostSumDays, c.CostDays)
	c.CostRowDays = min(cmp.Or(c.CostRowDays, 31), c.CostDays)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil || c.Azure == nil || c.Box == nil {
		return errors.New("inventory: Store, Azure and Box are required")
	}
	return nil
}

// Service implements steward.InventoryService.
type Service struct {
	cfg    Config
	store  Store
	azure  steward.Azure
	box    steward.SecretBox
	jobs   steward.JobQueue
	log    *slog.Logger
	stats  statsGate
	counts counts
}

var _ steward.InventoryService = (*Service)(nil)

// New builds the service. Jobs may be set later with SetJobs, since the job
// runner itself calls the service.
func New(cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: cfg.Store, azure: cfg.Azure, box: cfg.Box, jobs: cfg.Jobs, log: cfg.Logger}, nil
}

// SetJobs sets the queue the service enqueues work on.
func (s *Service) SetJobs(q steward.JobQueue) { s.jobs = q }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// readScope is where the caller may read inventory: everywhere for Steward's
// own jobs. EUNAUTHORIZED without an actor.
func readScope(ctx context.Context) (steward.Scope, error) {
	return steward.RequireScope(ctx, steward.PermInventoryRead)
}

// subscriptionFor returns a subscription in whose tenant the caller holds
// p, like steward.TenantFor.
func (s *Service) subscriptionFor(ctx context.Context, id string, p steward.Permission, what string) (*steward.Subscription, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.store.SubscriptionGet(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if !steward.ActorFromContext(ctx).Can(p, sub.TenantID) {
		return nil, steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow %s in this subscription's tenant.", what)
	}
	return sub, nil
}

// visible is the caller's read scope (everything, for Steward's own jobs),
// for the reads inside work already checked: a job, or a request for one
// tenant's work that steward.TenantFor or subscriptionFor let through.
func visible(ctx context.Context) steward.Scope {
	return steward.ScopeFor(ctx, steward.PermInventoryRead)
}
