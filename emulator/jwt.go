package emulator

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens are RS256 JWTs with the claims Entra ID puts in v2.0 tokens (tid,
// oid, sub, azp/azpacr, scp or roles, aud, iss, iat/nbf/exp, idtyp, uti,
// ver) plus the v1.0 appid/appidacr pair, since ARM-side code reads either.

// tokenSpec describes a token to issue.
type tokenSpec struct {
	Issuer   string
	TenantID string
	Audience string
	AppID    string
	AppACR   string // "1" secret, "2" certificate, "0" public client
	ObjectID string // service principal or user object ID
	User     *user  // set for delegated tokens
	Scopes   []string
	Roles    []string
	Lifetime time.Duration
}

func (e *Emulator) signClaims(claims jwt.MapClaims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = e.signer.kid
	tok.Header["x5t"] = e.signer.kid
	s, err := tok.SignedString(e.signer.key)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// issueAccessToken signs an access token and returns it with its expiry.
func (e *Emulator) issueAccessToken(ts tokenSpec) (string, time.Time, error) {
	now := e.now().UTC()
	exp := now.Add(ts.Lifetime)
	c := jwt.MapClaims{
		"aud":      ts.Audience,
		"iss":      ts.Issuer,
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      exp.Unix(),
		"appid":    ts.AppID,
		"azp":      ts.AppID,
		"appidacr": ts.AppACR,
		"azpacr":   ts.AppACR,
		"idp":      ts.Issuer,
		"oid":      ts.ObjectID,
		"tid":      ts.TenantID,
		"uti":      randomToken(11),
		"ver":      "2.0",
		"rh":       "0." + randomToken(8) + ".",
	}
	if ts.User != nil {
		c["idtyp"] = "user"
		c["sub"] = pairwiseSub(ts.User.ID, ts.AppID)
		c["name"] = ts.User.DisplayName
		c["upn"] = ts.User.UPN
		c["unique_name"] = ts.User.UPN
		c["preferred_username"] = ts.User.UPN
		if ts.User.GivenName != "" {
			c["given_name"] = ts.User.GivenName
		}
		if ts.User.Surname != "" {
			c["family_name"] = ts.User.Surname
		}
		c["amr"] = []string{"pwd"}
		c["scp"] = strings.Join(ts.Scopes, " ")
		delete(c, "idp")
	} else {
		c["idtyp"] = "app"
		c["sub"] = ts.ObjectID
		if len(ts.Roles) > 0 {
			c["roles"] = ts.Roles
		}
	}
	s, err := e.signClaims(c)
	return s, exp, err
}

// pairwiseSub derives a stable per-app subject for a user, as Entra does.
func pairwiseSub(userID, appID string) string {
	h := splitmix64(hashString(userID)) ^ splitmix64(hashString(appID))
	return fmt.Sprintf("%016x%016x", h, splitmix64(h))
}

func hashString(s string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// caller is who made a request, from a validated token.
type caller struct {
	TenantID string
	ObjectID string
	AppID    string
	AppACR   string
	User     bool
	UPN      string
	Name     string
	Scopes   []string
	Roles    []string
	Audience string
	Issuer   string
	IssuedAt time.Time
	Expires  time.Time
}

// display is how ARM names the caller in AuthorizationFailed messages and
// the activity log: the UPN of a user, the app ID of an application.
func (c *caller) display() string {
	if c.User {
		return c.UPN
	}
	return c.AppID
}

func (c *caller) hasScope(s string) bool { return containsFold(c.Scopes, s) }
func (c *caller) hasRole(s string) bool  { return containsFold(c.Roles, s) }

// Token validation failures, each mapped to the error a service returns.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("bad signature")
	errTokenExpired   = errors.New("expired token")
	errTokenNotYet    = errors.New("token not yet valid")
)

// parseToken validates a bearer token's signature, lifetime and issuer form
// and returns its caller. Audience and tenant checks belong to the service.
func (e *Emulator) parseToken(raw string) (*caller, error) {
	now := e.now()
	if c, ok := e.tokens.get(raw, now); ok {
		return c, nil
	}
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(e.now), jwt.WithIssuedAt())
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != "" && kid != e.signer.kid {
			return nil, errTokenSignature
		}
		return e.signer.public(), nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		exp, _ := claims.GetExpirationTime()
		if exp != nil {
			return &caller{Expires: exp.Time}, errTokenExpired
		}
		return nil, errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, errTokenNotYet
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, errTokenSignature), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, errTokenSignature
	default:
		return nil, fmt.Errorf("%w: %w", errTokenMalformed, err)
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	c := &caller{
		TenantID: lowerGUID(str("tid")),
		ObjectID: lowerGUID(str("oid")),
		AppID:    lowerGUID(str("azp")),
		AppACR:   str("azpacr"),
		User:     str("idtyp") == "user",
		UPN:      str("upn"),
		Name:     str("name"),
		Audience: str("aud"),
		Issuer:   str("iss"),
	}
	if c.AppID == "" {
		c.AppID = lowerGUID(str("appid"))
	}
	if scp := str("scp"); scp != "" {
		c.Scopes = strings.Fields(scp)
	}
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
	}
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		c.Expires = exp.Time
	}
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		c.IssuedAt = iat.Time
	}
	if c.TenantID == "" || c.ObjectID == "" || !strings.HasSuffix(c.Issuer, "/"+c.TenantID+"/v2.0") {
		return nil, fmt.Errorf("%w: missing tid, oid or a matching issuer", errTokenMalformed)
	}
	e.tokens.put(raw, c)
	return c, nil
}

// tokenCache remembers validated tokens, so the hot paths skip the RSA
// verification. Bounded: it empties itself when full.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]*caller
}

const tokenCacheMax = 20_000

func (tc *tokenCache) get(raw string, now time.Time) (*caller, bool) {
	tc.mu.RLock()
	c, ok := tc.m[raw]
	tc.mu.RUnlock()
	if !ok || !now.Before(c.Expires) || now.Before(c.IssuedAt) {
		return nil, false
	}
	return c, true
}

func (tc *tokenCache) put(raw string, c *caller) {
	tc.mu.Lock()
	if tc.m == nil || len(tc.m) >= tokenCacheMax {
		tc.m = map[string]*caller{}
	}
	tc.m[raw] = c
	tc.mu.Unlock()
}
