package steward

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Session is a signed-in browser. The cookie holds a random token; only its
// SHA-256 hash is stored, so a stolen database holds no live session.
type Session struct {
	Hash      string // hex SHA-256 of the cookie token
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	SourceIP  string
	UserAgent string
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	// SessionCreate stores a session for an enabled user. ENOTFOUND (user).
	SessionCreate(ctx context.Context, s *Session, ev *AuditEvent) error
	// SessionGet returns an unexpired session by hash. ENOTFOUND.
	SessionGet(ctx context.Context, hash string) (*Session, error)
	// SessionDelete ends a session. ENOTFOUND.
	SessionDelete(ctx context.Context, hash string, ev *AuditEvent) error
	// SessionDeleteExpired removes sessions that expired before now and
	// returns how many.
	SessionDeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// APIToken is a bearer token for the API, acting as its user. The token is
// shown once at creation; only its SHA-256 hash and a short prefix (to tell
// tokens apart in lists) are stored.
type APIToken struct {
	ID         int64
	UserID     int64
	UserName   string // filled on reads
	Name       string
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // as stored; zero for tokens made by releases that allowed "never" (see Expiry)
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Active reports whether the token may still be used at t.
func (t *APIToken) Active(at time.Time) bool {
	return t.RevokedAt.IsZero() && at.Before(t.Expiry())
}

// Expiry is when the token stops working. Every token expires: one stored
// without an expiry, by a release that offered "never", expires
// MaxTokenLifetime after it was made, as if it had asked for the most.
func (t *APIToken) Expiry() time.Time {
	if t.ExpiresAt.IsZero() {
		return t.CreatedAt.Add(MaxTokenLifetime)
	}
	return t.ExpiresAt
}

// Validate checks the fields a person types in.
func (t *APIToken) Validate() error {
	if err := CheckText("Token name", t.Name); err != nil {
		return err
	}
	if t.Name == "" || len(t.Name) > 100 {
		return Errorf(EINVALID, "Token name must be 1 to 100 characters.")
	}
	if t.Hash == "" || t.Prefix == "" {
		return Errorf(EINVALID, "Token has no hash.")
	}
	if t.ExpiresAt.IsZero() {
		return Errorf(EINVALID, "Token has no expiry; every token expires.")
	}
	return nil
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// TokenCreate stores a token and sets t.ID. EINVALID (also without an
	// expiry), ENOTFOUND (user).
	TokenCreate(ctx context.Context, t *APIToken, ev *AuditEvent) error
	// TokenGetByHash returns a token by hash, active or not. ENOTFOUND.
	TokenGetByHash(ctx context.Context, hash string) (*APIToken, error)
	// TokenGet returns a token by ID. ENOTFOUND.
	TokenGet(ctx context.Context, id int64) (*APIToken, error)
	// TokenList returns the tokens of one user, or of everyone when userID
	// is 0, newest first.
	TokenList(ctx context.Context, userID int64) ([]*APIToken, error)
	// TokenRevoke revokes a token at once. ENOTFOUND, ECONFLICT when it is
	// already revoked.
	TokenRevoke(ctx context.Context, id int64, ev *AuditEvent) error
	// TokenTouch records a use, at most about once a minute per token.
	TokenTouch(ctx context.Context, id int64, at time.Time) error
}

// TokenPrefix starts every API token, so secret scanners can recognise one.
const TokenPrefix = "stw_"

// NewToken returns a random token with the given prefix (256 bits of
// entropy, URL-safe) and the hex SHA-256 hash that is stored instead of it.
// A fast hash suffices: the token is random, not chosen by a person.
func NewToken(prefix string) (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails on supported platforms
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// PasswordHasher hashes and checks portal passwords.
type PasswordHasher interface {
	// Hash returns a self-describing hash of pw.
	Hash(pw string) (string, error)
	// Check reports whether pw matches hash, and whether hash was made with
	// old parameters and should be replaced.
	Check(hash, pw string) (ok, rehash bool, err error)
	// CheckNoUser takes as long as Check and fails, so that a sign-in for
	// an unknown name cannot be told apart by its timing.
	CheckNoUser(pw string)
	// Validate checks a new password's strength. EINVALID.
	Validate(pw string) error
}
