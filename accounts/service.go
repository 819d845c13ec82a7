// Package accounts implements steward.AccountService: local users and
// their grants, passwords, browser sessions and API tokens, with the rules
// the web server and the command line share. It works only through root
// interfaces: the store keeps the rows, a PasswordHasher the hashes.
package accounts

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Store is what the service needs of the database.
type Store interface {
	steward.UserStore
	steward.SessionStore
	steward.TokenStore
	AuditAppend(ctx context.Context, ev *steward.AuditEvent) error
}

// Config wires the service.
type Config struct {
	Store     Store
	Passwords steward.PasswordHasher
	// SessionLifetime is how long a sign-in lasts. Defaults to 12 hours.
	SessionLifetime time.Duration
	// ConcurrentHashes bounds the password hashes and checks running at
	// once, each of which takes the hasher's memory (64 MiB in
	// production). Defaults to 4.
	ConcurrentHashes int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.SessionLifetime = cmp.Or(c.SessionLifetime, 12*time.Hour)
	c.ConcurrentHashes = cmp.Or(c.ConcurrentHashes, 4)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil || c.Passwords == nil {
		return errors.New("accounts: Store and Passwords are required")
	}
	if c.SessionLifetime < 0 || c.ConcurrentHashes < 0 {
		return errors.New("accounts: SessionLifetime and ConcurrentHashes cannot be negative")
	}
	return nil
}

// Service implements steward.AccountService.
type Service struct {
	cfg      Config
	store    Store
	pw       steward.PasswordHasher
	log      *slog.Logger
	throttle *throttle
	hashing  chan struct{} // a slot per hash or check running
}

var _ steward.AccountService = (*Service)(nil)

// New builds the service.
func New(cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: cfg.Store, pw: cfg.Passwords, log: cfg.Logger,
		throttle: newThrottle(cfg.Now), hashing: make(chan struct{}, cfg.ConcurrentHashes)}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// hashSlot waits for a free hashing slot; the caller runs the returned
// function when done.
func (s *Service) hashSlot(ctx context.Context) (func(), error) {
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashPassword checks a new password's strength and hashes it.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.pw.Validate(pw); err != nil {
		return "", err
	}
	done, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	return s.pw.Hash(pw)
}

// manager returns the actor when it may manage users. EUNAUTHORIZED,
// EFORBIDDEN.
func manager(ctx context.Context) (*steward.Actor, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Can(steward.PermUsersManage, "") {
		return nil, steward.Errorf(steward.EFORBIDDEN, "Only admins manage users.")
	}
	return a, nil
}

// interactive refuses an actor with no person behind it: a token, or an
// actor that does not say how it signed in. what completes "API tokens
// cannot …".
func interactive(a *steward.Actor, what string) error {
	if !a.Interactive() {
		return steward.Errorf(steward.EFORBIDDEN, "API tokens cannot %s; sign in to the portal, or use the steward command on the server.", what)
	}
	return nil
}

// Users lists every user.
func (s *Service) Users(ctx context.Context) ([]*steward.User, error) {
	if _, err := manager(ctx); err != nil {
		return nil, err
	}
	return s.store.UserList(ctx)
}

// User returns the caller themself, or anyone for an admin.
func (s *Service) User(ctx context.Context, id int64) (*steward.User, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if id != a.UserID || id == 0 {
		if _, err := manager(ctx); err != nil {
			return nil, err
		}
	}
	return s.store.UserGet(ctx, id)
}

// UserByName finds a user by login name.
func (s *Service) UserByName(ctx context.Context, name string) (*steward.User, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(name, a.Name) || a.UserID == 0 {
		if _, err := manager(ctx); err != nil {
			return nil, err
		}
	}
	if !steward.ValidUserName(name) {
		return nil, steward.Errorf(steward.ENOTFOUND, "User not found.")
	}
	return s.store.UserGetByName(ctx, name)
}

// CreateUser adds a user.
func (s *Service) CreateUser(ctx context.Context, in steward.UserInput) (*steward.User, error) {
	a, err := manager(ctx)
	if err != nil {
		return nil, err
	}
	if err := interactive(a, "create users"); err != nil {
		return nil, err
	}
	u := &steward.User{Name: strings.TrimSpace(in.Name), DisplayName: strings.TrimSpace(in.DisplayName), Email: strings.TrimSpace(in.Email),
		PasswordHash: "pending"} // so that Validate checks the rest before the costly hash
	labels := make([]string, 0, len(in.Grants))
	for _, g := range in.Grants {
		g.CreatedBy = a.Name
		u.Grants = append(u.Grants, g)
	}
	if err := u.Validate(); err != nil { // also normalises the grants' tenants
		return nil, err
	}
	for _, g := range u.Grants {
		labels = append(labels, g.Label())
	}
	if u.PasswordHash, err = s.hashPassword(ctx, in.Password); err != nil {
		return nil, err
	}
	ev := steward.NewAuditEvent(ctx, "user.create", u.Name).With("grants", strings.Join(labels, "; "))
	if err := s.store.UserCreate(ctx, u, ev); err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateUser changes a user.
func (s *Service) UpdateUser(ctx context.Context, id int64, in steward.UserChange) (*steward.User, error) {
	a, err := manager(ctx)
	if err != nil {
		return nil, err
	}
	upd := steward.UserUpdate{DisplayName: trimmed(in.DisplayName), Email: trimmed(in.Email), Disabled: in.Disabled}
	var changed []string
	if in.DisplayName != nil {
		changed = append(changed, "displayName")
	}
	if in.Email != nil {
		changed = append(changed, "email")
	}
	if in.Password != nil {
		if err := interactive(a, "set passwords"); err != nil {
			return nil, err
		}
		changed = append(changed, "password")
	}
	if in.Disabled != nil {
		if *in.Disabled && id == a.UserID {
			return nil, steward.Errorf(steward.ECONFLICT, "You cannot disable your own account.")
		}
		changed = append(changed, "disabled="+strconv.FormatBool(*in.Disabled))
	}
	if len(changed) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "Nothing to change: give displayName, email, password or disabled.")
	}
	target, err := s.store.UserGet(ctx, id)
	if err != nil {
		return nil, err
	}
	// Check the typed fields before hashing, and before the store.
	check := *target
	check.DisplayName = deref(upd.DisplayName, check.DisplayName)
	check.Email = deref(upd.Email, check.Email)
	if err := check.Validate(); err != nil {
		return nil, err
	}
	if in.Password != nil {
		hash, err := s.hashPassword(ctx, *in.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
	}
	ev := steward.NewAuditEvent(ctx, "user.update", target.Name).With("changed", strings.Join(changed, ","))
	return s.store.UserUpdate(ctx, id, upd, ev)
}

func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	v := strings.TrimSpace(*p)
	return &v
}

func deref(p *string, or string) string {
	if p == nil {
		return or
	}
	return *p
}

// DeleteUser removes a user.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	a, err := manager(ctx)
	if err != nil {
		return err
	}
	if id == a.UserID {
		return steward.Errorf(steward.ECONFLICT, "You cannot delete your own account.")
	}
	target, err := s.store.UserGet(ctx, id)
	if err != nil {
		return err
	}
	return s.store.UserDelete(ctx, id, steward.NewAuditEvent(ctx, "user.delete", target.Name))
}

// Grant returns one grant.
func (s *Service) Grant(ctx context.Context, id int64) (*steward.Grant, error) {
	if _, err := manager(ctx); err != nil {
		return nil, err
	}
	return s.store.GrantGet(ctx, id)
}

// CreateGrant gives a user a role.
func (s *Service) CreateGrant(ctx context.Context, userID int64, g steward.Grant) (*steward.Grant, error) {
	a, err := manager(ctx)
	if err != nil {
		return nil, err
	}
	target, err := s.store.UserGet(ctx, userID)
	if err != nil {
		return nil, err
	}
	g.ID, g.UserID, g.CreatedBy = 0, userID, a.Name
	if err := g.Validate(); err != nil {
		return nil, err
	}
	ev := steward.NewAuditEvent(ctx, "grant.create", target.Name).With("grant", g.Label())
	if err := s.store.GrantCreate(ctx, &g, ev); err != nil {
		return nil, err
	}
	return &g, nil
}

// DeleteGrant removes a grant.
func (s *Service) DeleteGrant(ctx context.Context, id int64) (*steward.Grant, error) {
	if _, err := manager(ctx); err != nil {
		return nil, err
	}
	g, err := s.store.GrantGet(ctx, id)
	if err != nil {
		return nil, err
	}
	owner, err := s.store.UserGet(ctx, g.UserID)
	if err != nil {
		return nil, err
	}
	return s.store.GrantDelete(ctx, id, steward.NewAuditEvent(ctx, "grant.delete", owner.Name).With("grant", g.Label()))
}

// ChangePassword changes the caller's own password.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := interactive(a, "change passwords"); err != nil {
		return err
	}
	if a.UserID == 0 {
		return steward.Errorf(steward.EFORBIDDEN, "Only a signed-in user has a password to change.")
	}
	u, err := s.store.UserGet(ctx, a.UserID)
	if err != nil {
		return err
	}
	done, err := s.hashSlot(ctx)
	if err != nil {
		return err
	}
	ok, _, err := s.pw.Check(u.PasswordHash, current)
	done()
	if err != nil {
		return err
	}
	if !ok {
		s.audit(ctx, steward.NewAuditEvent(ctx, "user.password_change", u.Name).WithOutcome(steward.OutcomeFailure).With("reason", "wrong current password"))
		return steward.Errorf(steward.EUNPROCESSABLE, "The current password is wrong.")
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	// The store ends every session of the user, this one included, and
	// revokes their tokens.
	_, err = s.store.UserUpdate(ctx, u.ID, steward.UserUpdate{PasswordHash: &hash}, steward.NewAuditEvent(ctx, "user.password_change", u.Name))
	return err
}

// Tokens lists tokens.
func (s *Service) Tokens(ctx context.Context, f steward.TokenFilter) ([]*steward.APIToken, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case f.All:
		if !a.Can(steward.PermUsersManage, "") {
			return nil, steward.Errorf(steward.EFORBIDDEN, "Only admins can list everyone's tokens.")
		}
		return s.store.TokenList(ctx, 0)
	case f.UserID != 0 && f.UserID != a.UserID:
		if !a.Can(steward.PermUsersManage, "") {
			return nil, steward.Errorf(steward.EFORBIDDEN, "Only admins can list other people's tokens.")
		}
		return s.store.TokenList(ctx, f.UserID)
	case a.UserID == 0:
		return nil, nil // Steward itself and the command line own no tokens
	}
	return s.store.TokenList(ctx, a.UserID)
}

// CreateToken makes an API token.
func (s *Service) CreateToken(ctx context.Context, in steward.TokenInput) (*steward.APIToken, string, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := interactive(a, "create tokens"); err != nil {
		return nil, "", err
	}
	owner := &steward.User{ID: a.UserID, Name: a.Name}
	if in.UserID != 0 && in.UserID != a.UserID {
		if _, err := manager(ctx); err != nil {
			return nil, "", err
		}
		if owner, err = s.store.UserGet(ctx, in.UserID); err != nil {
			return nil, "", err
		}
	} else if a.UserID == 0 {
		return nil, "", steward.Errorf(steward.EINVALID, "Say which user the token is for.")
	}
	lifetime := cmp.Or(in.Lifetime, steward.DefaultTokenLifetime)
	if err := steward.CheckTokenLifetime(lifetime); err != nil {
		return nil, "", err
	}
	token, hash := steward.NewToken(steward.TokenPrefix)
	t := &steward.APIToken{UserID: owner.ID, UserName: owner.Name, Name: strings.TrimSpace(in.Name),
		Hash: hash, Prefix: token[:len(steward.TokenPrefix)+6], ExpiresAt: s.now().Add(lifetime)}
	if err := t.Validate(); err != nil {
		return nil, "", err
	}
	ev := steward.NewAuditEvent(ctx, "token.create", t.Name).With("prefix", t.Prefix).With("expires", t.ExpiresAt.Format(time.RFC3339))
	if owner.ID != a.UserID {
		ev.With("user", owner.Name)
	}
	if err := s.store.TokenCreate(ctx, t, ev); err != nil {
		return nil, "", err
	}
	return t, token, nil
}

// RevokeToken revokes a token.
func (s *Service) RevokeToken(ctx context.Context, id int64) (*steward.APIToken, error) {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.store.TokenGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if (t.UserID != a.UserID || a.UserID == 0) && !a.Can(steward.PermUsersManage, "") {
		// Not yours: answer as if it did not exist.
		return nil, steward.Errorf(steward.ENOTFOUND, "Token not found.")
	}
	ev := steward.NewAuditEvent(ctx, "token.revoke", t.Name).With("prefix", t.Prefix).With("owner", t.UserName)
	if err := s.store.TokenRevoke(ctx, id, ev); err != nil {
		return nil, err
	}
	t.RevokedAt = s.now()
	return t, nil
}

// BootstrapAdmin makes the first admin.
func (s *Service) BootstrapAdmin(ctx context.Context, password string) (bool, error) {
	if !steward.ActorFromContext(ctx).IsSystem() {
		return false, steward.Errorf(steward.EFORBIDDEN, "Only Steward itself makes the first admin.")
	}
	n, err := s.store.UserCount(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return false, err
	}
	u := &steward.User{Name: "admin", DisplayName: "Administrator", PasswordHash: hash, Grants: []steward.Grant{{Role: steward.RoleAdmin, CreatedBy: "system"}}}
	if err := s.store.UserCreate(ctx, u, steward.NewAuditEvent(ctx, "user.bootstrap", "admin")); err != nil {
		return false, err
	}
	return true, nil
}

// audit appends an event that no change carries (refusals, failures),
// logging rather than failing when the log cannot take it: the request
// has been decided already.
func (s *Service) audit(ctx context.Context, ev *steward.AuditEvent) {
	if err := s.store.AuditAppend(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not written", slog.String("action", ev.Action), slog.Any("error", err))
	}
}
