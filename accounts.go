package steward

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AccountService is everything about local users: sign-in and sign-out,
// the actors behind API tokens and session cookies, users and their
// grants, passwords and API tokens. The web server and the command line
// both call it, so each rule is written once:
//
//   - users.manage is needed for other people's accounts and tokens;
//   - only an interactive actor (Actor.Interactive: a browser session, the
//     server's command line) may change a password or create a token or a
//     user, so a leaked token cannot take over its owner;
//   - a new password, set by its owner or by an admin, ends every session
//     of the user and revokes their tokens, in one transaction;
//   - names and labels are valid UTF-8 without control characters, checked
//     before the store sees them.
//
// Every method but Login and the Authenticate pair refuses a call without
// an actor (EUNAUTHORIZED). Each change is audited with the actor.
type AccountService interface {
	// Login checks a name and password and starts a browser session.
	// Attempts are throttled per account and per client address, and the
	// attempt's place is taken before the password is checked, so
	// parallel guesses get no more checks than serial ones. Every outcome
	// is audited. EINVALID (name or password empty), EUNAUTHORIZED (no
	// such user, wrong password, disabled: one answer for all three),
	// ETHROTTLED (a *ThrottledError saying when to try again).
	Login(ctx context.Context, in LoginInput) (*LoginResult, error)
	// Logout ends the session whose cookie holds token. Ending a session
	// that is already gone is not an error.
	Logout(ctx context.Context, token string) error
	// AuthenticateToken returns the actor behind an API token (Auth is
	// AuthToken), and notes its use. EUNAUTHORIZED when the token is
	// unknown, expired, revoked or its user disabled.
	AuthenticateToken(ctx context.Context, token string) (*Actor, error)
	// AuthenticateSession returns the actor behind a session cookie (Auth
	// is AuthPassword). EUNAUTHORIZED when the session is unknown, expired
	// or its user disabled.
	AuthenticateSession(ctx context.Context, token string) (*Actor, error)

	// Users lists every user with their grants, by name. EFORBIDDEN.
	Users(ctx context.Context) ([]*User, error)
	// User returns a user with their grants: the caller themself, or
	// anyone for users.manage. EFORBIDDEN, ENOTFOUND.
	User(ctx context.Context, id int64) (*User, error)
	// UserByName is User by login name, case-insensitively. EFORBIDDEN,
	// ENOTFOUND.
	UserByName(ctx context.Context, name string) (*User, error)
	// CreateUser adds a user with a password and grants. EFORBIDDEN (not
	// users.manage, or not interactive), EINVALID, ECONFLICT (name taken).
	CreateUser(ctx context.Context, in UserInput) (*User, error)
	// UpdateUser changes the given fields of a user. A new password needs
	// an interactive actor, and ends the user's sessions and revokes their
	// tokens. EFORBIDDEN, ENOTFOUND, EINVALID, ECONFLICT (disabling
	// yourself, or the last enabled admin).
	UpdateUser(ctx context.Context, id int64, in UserChange) (*User, error)
	// DeleteUser removes a user with their grants, sessions and tokens.
	// EFORBIDDEN, ENOTFOUND, ECONFLICT (yourself, the last enabled admin).
	DeleteUser(ctx context.Context, id int64) error
	// Grant returns one grant. EFORBIDDEN, ENOTFOUND.
	Grant(ctx context.Context, id int64) (*Grant, error)
	// CreateGrant gives a user a role. EFORBIDDEN, EINVALID, ENOTFOUND,
	// ECONFLICT (the same grant exists).
	CreateGrant(ctx context.Context, userID int64, g Grant) (*Grant, error)
	// DeleteGrant removes a grant and returns it. EFORBIDDEN, ENOTFOUND,
	// ECONFLICT (the last admin grant of an enabled user).
	DeleteGrant(ctx context.Context, id int64) (*Grant, error)
	// ChangePassword changes the caller's own password, which needs the
	// current one: a stolen session alone cannot take the account. It ends
	// every session of the caller, this one included, and revokes their
	// tokens. EFORBIDDEN (not interactive), EUNPROCESSABLE (wrong current
	// password), EINVALID (weak new password).
	ChangePassword(ctx context.Context, current, next string) error

	// Tokens lists the caller's tokens, or everyone's (all, users.manage
	// only), newest first. With userID set it lists that user's (the
	// caller's own, or anyone's for users.manage). EFORBIDDEN.
	Tokens(ctx context.Context, f TokenFilter) ([]*APIToken, error)
	// CreateToken makes an API token and returns it with the secret, which
	// is never shown again. EFORBIDDEN (not interactive; another user's
	// without users.manage), EINVALID (name, lifetime), ENOTFOUND (user).
	CreateToken(ctx context.Context, in TokenInput) (*APIToken, string, error)
	// RevokeToken revokes the caller's own token, or anyone's for
	// users.manage, at once, and returns it. ENOTFOUND (also for someone
	// else's), ECONFLICT (already revoked).
	RevokeToken(ctx context.Context, id int64) (*APIToken, error)

	// BootstrapAdmin creates the user admin with the password when there
	// are no users yet, and reports whether it did. It is for Steward
	// itself at start (the system actor). EFORBIDDEN, EINVALID.
	BootstrapAdmin(ctx context.Context, password string) (bool, error)
}

// LoginInput is a sign-in attempt.
type LoginInput struct {
	Name, Password string
	SourceIP       string // the client address: attempts are throttled by it
	UserAgent      string // kept with the session, for people to recognise it
}

// LoginResult is a successful sign-in: the session and the token that the
// cookie carries (its hash is what is stored).
type LoginResult struct {
	User    *User
	Session *Session
	Token   string
}

// UserInput is a new user as a person enters it; the password is in clear
// and only its hash is kept.
type UserInput struct {
	Name, DisplayName, Email string
	Password                 string
	Grants                   []Grant
}

// UserChange holds the fields UpdateUser may change; nil leaves a field
// alone. Password is the new password in clear.
type UserChange struct {
	DisplayName *string
	Email       *string
	Password    *string
	Disabled    *bool
}

// TokenFilter says whose tokens Tokens lists.
type TokenFilter struct {
	All    bool  // everyone's
	UserID int64 // this user's; 0: the caller's
}

// TokenInput is a token to create.
type TokenInput struct {
	UserID   int64 // whose token; 0: the caller's
	Name     string
	Lifetime time.Duration // 0: DefaultTokenLifetime; at most MaxTokenLifetime
}

// Token lifetimes. Every token expires: a token that leaked works for a
// bounded time even if nobody notices, as Entra bounds client secrets.
const (
	DefaultTokenLifetime = 30 * 24 * time.Hour
	MaxTokenLifetime     = 730 * 24 * time.Hour // two years
)

// ParseTokenLifetime reads a token lifetime as people write it: days
// ("30d") or a Go duration ("720h"); empty means DefaultTokenLifetime. It
// refuses zero, negative and over-long lifetimes, and counts days without
// overflowing (213504 days is not a second and a half). EINVALID.
func ParseTokenLifetime(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultTokenLifetime, nil
	}
	bad := Errorf(EINVALID, "Expiry %q is not a lifetime such as 30d or 720h.", v)
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32) // digits only: no sign, no spaces
		if err != nil {
			if strings.Trim(days, "0123456789") == "" && days != "" {
				return 0, tooLong(v) // digits, just too many of them
			}
			return 0, bad
		}
		if n > uint64(MaxTokenLifetime/(24*time.Hour)) {
			return 0, tooLong(v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d > MaxTokenLifetime {
		return 0, tooLong(v)
	}
	return d, CheckTokenLifetime(d)
}

// CheckTokenLifetime refuses a lifetime that is not positive or is longer
// than MaxTokenLifetime. EINVALID.
func CheckTokenLifetime(d time.Duration) error {
	if d <= 0 {
		return Errorf(EINVALID, "A token's lifetime must be positive; every token expires, at most %s after it is made.", maxLifetimeText)
	}
	if d > MaxTokenLifetime {
		return tooLong(d.String())
	}
	return nil
}

const maxLifetimeText = "730 days (two years)"

func tooLong(v string) error {
	return Errorf(EINVALID, "Tokens expire within %s; %s is longer.", maxLifetimeText, v)
}

// ThrottledError is ETHROTTLED with how long to wait, for Retry-After.
type ThrottledError struct {
	Wait time.Duration
	err  *Error
}

// NewThrottledError says that sign-ins are refused for the wait.
func NewThrottledError(wait time.Duration) *ThrottledError {
	return &ThrottledError{Wait: wait, err: Errorf(ETHROTTLED, "Too many failed sign-ins. Try again in %s.", waitText(wait))}
}

func (e *ThrottledError) Error() string { return e.err.Error() }

// Unwrap lets ErrorCode and ErrorMessage see the ETHROTTLED error.
func (e *ThrottledError) Unwrap() error { return e.err }

// RetryAfterSeconds is the wait in whole seconds, rounded up, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	return max(int((e.Wait+time.Second-1)/time.Second), 1)
}

func waitText(d time.Duration) string {
	n := max(int((d+time.Second-1)/time.Second), 1)
	switch {
	case n == 1:
		return "1 second"
	case n < 60:
		return fmt.Sprintf("%d seconds", n)
	}
	return fmt.Sprintf("%d minutes", (n+59)/60)
}

// CommandActor is the operator at the server's command line (`steward
// user`, `steward token`). Whoever can run it there can open the database
// anyway, so it acts as an admin; name (such as "cli:alice") is what audit
// events call it.
func CommandActor(name string) *Actor {
	return &Actor{Name: name, Auth: AuthCommand, Grants: []Grant{{Role: RoleAdmin}}}
}
