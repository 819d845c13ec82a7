package emulator

import (
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Estate sizes. Each one is deterministic for a given seed: the same seed
// always yields the same tenants, subscription IDs, resources and tags.
const (
	EstateSmall  = "small"  // partner + Contoso (3 subscriptions) + Northwind (2), a few hundred resources
	EstateMedium = "medium" // ≈100,000 resources over 50 subscriptions
	EstateLarge  = "large"  // 1,000 subscriptions, 1,000,000 resources
	// EstateCI is an MSP's estate in miniature for CI: 21 customer tenants,
	// 100 subscriptions, 60 resources each, so many tenants' background
	// work runs at once in seconds rather than the large estate's hour.
	EstateCI = "ci"
)

// Config configures an Emulator. The zero value is usable: every field has a
// default, filled by WithDefaults.
type Config struct {
	// Addr is the TCP address to listen on. Defaults to "127.0.0.1:0" (a free
	// port; tests use it).
	Addr string

	// Estate is the seeded estate: EstateSmall, EstateMedium, EstateLarge
	// or EstateCI.
	// Defaults to EstateSmall.
	Estate string

	// Seed makes the estate deterministic. Defaults to 1.
	Seed int64

	// StatePath, when set, is a file the emulator loads its state from at New
	// (when it exists) and saves it to at Stop, so tenants, secrets, tags,
	// role assignments, the CA and the token signing key survive restarts.
	// Defaults to "" (state lives in memory only).
	StatePath string

	// Throttling configures Azure Resource Manager's token buckets. On by
	// default with Azure's published sizes; set Disabled to turn it off.
	Throttling Throttling

	// Faults injects latency and failures. Defaults to none. Can be changed
	// at runtime with Emulator.SetFaults.
	Faults Faults

	// RedirectURIs are extra redirect URIs registered on Steward's
	// multi-tenant app in the partner tenant, for the authorization-code flow.
	// Loopback URIs (http://localhost, http://127.0.0.1) match on any port, as
	// in Entra ID. Defaults to none besides the seeded ones.
	RedirectURIs []string

	// Logger receives one debug line per request and warnings. Defaults to a
	// logger that discards everything.
	Logger *slog.Logger

	// Now is the clock for token lifetimes, secret expiry, throttling refill
	// and the activity log. Defaults to time.Now.
	Now func() time.Time
}

// Throttling configures ARM request throttling. The zero value is Azure's
// current token-bucket model (per principal, per subscription or tenant,
// per operation kind): reads 250 (+25/s), writes 200 (+10/s), deletes 200
// (+10/s), and a global per-subscription bucket 15 times as large across
// all principals.
type Throttling struct {
	// Disabled turns ARM throttling off. Defaults to false (on).
	Disabled bool
	// Reads, Writes and Deletes are the per-principal buckets. A zero Size
	// takes Azure's default for that kind.
	Reads, Writes, Deletes BucketSpec
	// GlobalFactor multiplies the per-principal sizes and refill rates for
	// the subscription-wide bucket shared by all principals. Defaults to 15.
	GlobalFactor float64
}

// BucketSpec is a token bucket: Size tokens at most, refilled at
// RefillPerSecond.
type BucketSpec struct {
	Size            float64
	RefillPerSecond float64
}

// Azure's published ARM bucket sizes (FACTS.md §2).
var (
	defaultReads   = BucketSpec{Size: 250, RefillPerSecond: 25}
	defaultWrites  = BucketSpec{Size: 200, RefillPerSecond: 10}
	defaultDeletes = BucketSpec{Size: 200, RefillPerSecond: 10}
)

// WithDefaults returns a copy of c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Estate == "" {
		c.Estate = EstateSmall
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Throttling = c.Throttling.withDefaults()
	return c
}

func (t Throttling) withDefaults() Throttling {
	fill := func(b, d BucketSpec) BucketSpec {
		if b.Size == 0 {
			b.Size = d.Size
		}
		if b.RefillPerSecond == 0 {
			b.RefillPerSecond = d.RefillPerSecond
		}
		return b
	}
	t.Reads = fill(t.Reads, defaultReads)
	t.Writes = fill(t.Writes, defaultWrites)
	t.Deletes = fill(t.Deletes, defaultDeletes)
	if t.GlobalFactor == 0 {
		t.GlobalFactor = 15
	}
	return t
}

// validate reports the first invalid field of a defaulted Config.
func (c Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("emulator: addr %q: %w", c.Addr, err)
	}
	if _, ok := estateSpecs[c.Estate]; !ok {
		return fmt.Errorf("emulator: unknown estate %q (want small, medium, large or ci)", c.Estate)
	}
	for _, b := range []BucketSpec{c.Throttling.Reads, c.Throttling.Writes, c.Throttling.Deletes} {
		if b.Size < 1 || b.RefillPerSecond <= 0 {
			return fmt.Errorf("emulator: throttling bucket %+v: size must be ≥ 1 and refill > 0", b)
		}
	}
	if c.Throttling.GlobalFactor < 1 {
		return fmt.Errorf("emulator: throttling global factor %v must be ≥ 1", c.Throttling.GlobalFactor)
	}
	if err := c.Faults.validate(); err != nil {
		return err
	}
	return nil
}
