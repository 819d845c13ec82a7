package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// sessionCookie is the session cookie's name. The __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain.
const sessionCookie = "__Host-steward_session"

// authenticate identifies the caller from an API token or a session cookie
// and puts the actor in the context. A request without credentials goes on
// anonymously (the route decides); one with bad credentials is refused.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := s.clientIP(r)
		// Anonymous requests' audit events still say where they came from.
		ctx := contextWithClientIP(r.Context(), ip)
		r = r.WithContext(ctx)
		if authz := r.Header.Get("Authorization"); authz != "" {
			actor, err := s.actorFromToken(ctx, authz, ip)
			if err != nil {
				s.audit(r, newEvent(r, "auth.token_rejected", "").WithActor("anonymous").WithOutcome(steward.OutcomeDenied))
				w.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
				s.writeAPIError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(steward.NewContextWithActor(ctx, actor)))
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil {
			if actor, err := s.actorFromSession(ctx, c.Value, ip); err == nil {
				ctx = steward.NewContextWithActor(ctx, actor)
			} else {
				clearSessionCookie(w) // expired or ended elsewhere
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) actorFromToken(ctx context.Context, authz, ip string) (*steward.Actor, error) {
	bad := steward.Errorf(steward.EUNAUTHORIZED, "The API token is not valid, has expired or was revoked.")
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || !strings.HasPrefix(token, steward.TokenPrefix) {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "Send an API token as Authorization: Bearer stw_….")
	}
	t, err := s.deps.Tokens.TokenGetByHash(ctx, steward.HashToken(token))
	if err != nil {
		if steward.ErrorCode(err) == steward.ENOTFOUND {
			return nil, bad
		}
		return nil, err
	}
	now := s.cfg.Now()
	if !t.Active(now) {
		return nil, bad
	}
	u, err := s.deps.Users.UserGet(ctx, t.UserID)
	if err != nil || u.Disabled {
		return nil, bad
	}
	if err := s.deps.Tokens.TokenTouch(ctx, t.ID, now); err != nil {
		s.log.WarnContext(ctx, "token use not recorded", "error", err)
	}
	return &steward.Actor{UserID: u.ID, Name: u.Name, Grants: u.Grants, TokenID: t.ID, SourceIP: ip}, nil
}

func (s *Server) actorFromSession(ctx context.Context, cookie, ip string) (*steward.Actor, error) {
	sess, err := s.deps.Sessions.SessionGet(ctx, steward.HashToken(cookie))
	if err != nil {
		return nil, err
	}
	u, err := s.deps.Users.UserGet(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	return &steward.Actor{UserID: u.ID, Name: u.Name, Grants: u.Grants, SourceIP: ip}, nil
}

type clientIPKey struct{}

func contextWithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// newEvent starts an audit event with the request's actor, or for an
// anonymous request its client address.
func newEvent(r *http.Request, action, target string) *steward.AuditEvent {
	ev := steward.NewAuditEvent(r.Context(), action, target)
	if ev.SourceIP == "" {
		ev.SourceIP, _ = r.Context().Value(clientIPKey{}).(string)
	}
	return ev
}

func setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// login checks a name and password and, when they match, starts a session.
// Attempts are throttled per account and per client address before the
// password is even checked; every outcome is audited.
func (s *Server) login(w http.ResponseWriter, r *http.Request, name, password string) (*steward.User, error) {
	ctx := r.Context()
	ip := s.clientIP(r)
	name = strings.TrimSpace(name)
	fail := func(reason string) error {
		s.metrics.logins.WithLabelValues("failure").Inc()
		s.throttle.fail("user:"+strings.ToLower(name), "ip:"+ip)
		s.audit(r, newEvent(r, "user.login_failed", name).WithActor(orAnonymous(name)).WithOutcome(steward.OutcomeFailure).With("reason", reason))
		return steward.Errorf(steward.EUNAUTHORIZED, "The user name or password is wrong.")
	}
	if name == "" || password == "" {
		return nil, steward.Errorf(steward.EINVALID, "Enter your user name and password.")
	}
	if wait := s.throttle.wait("user:"+strings.ToLower(name), "ip:"+ip); wait > 0 {
		s.metrics.logins.WithLabelValues("throttled").Inc()
		s.audit(r, newEvent(r, "user.login_throttled", name).WithActor(orAnonymous(name)).WithOutcome(steward.OutcomeDenied))
		return nil, newThrottledError(wait.Seconds())
	}
	// Password checks take 64 MiB each: a handful at a time at most.
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	u, err := s.deps.Users.UserGetByName(ctx, name)
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		s.deps.Passwords.CheckNoUser(password)
		return nil, fail("unknown user")
	} else if err != nil {
		return nil, err
	}
	ok, rehash, err := s.deps.Passwords.Check(u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail("wrong password")
	}
	if u.Disabled {
		return nil, fail("account disabled")
	}
	if rehash {
		if h, err := s.deps.Passwords.Hash(password); err == nil {
			s.deps.Users.UserUpdate(ctx, u.ID, steward.UserUpdate{PasswordHash: &h}, nil)
		}
	}
	s.throttle.succeed("user:" + strings.ToLower(name))
	token, hash := steward.NewToken("")
	expires := s.cfg.Now().Add(s.cfg.SessionLifetime)
	sess := &steward.Session{Hash: hash, UserID: u.ID, ExpiresAt: expires, SourceIP: ip, UserAgent: r.UserAgent()}
	ev := newEvent(r, "user.login", u.Name).WithActor(u.Name)
	if err := s.deps.Users.UserRecordLogin(ctx, u.ID, nil); err != nil {
		return nil, err
	}
	if err := s.deps.Sessions.SessionCreate(ctx, sess, ev); err != nil {
		return nil, err
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	setSessionCookie(w, token, expires)
	return u, nil
}

func orAnonymous(name string) string {
	if name == "" {
		return "anonymous"
	}
	return name
}

// logout ends the caller's browser session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	clearSessionCookie(w)
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	err = s.deps.Sessions.SessionDelete(r.Context(), steward.HashToken(c.Value), newEvent(r, "user.logout", steward.ActorFromContext(r.Context()).Name))
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return nil
	}
	return err
}

// loginThrottle limits failed sign-ins with token buckets: per account (5,
// then one more every 3 minutes) and per client address (20, then one every
// 30 seconds). Buckets live in memory: each replica throttles on its own.
type loginThrottle struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

type bucketRule struct {
	size  float64
	every time.Duration // one token back per this much time
}

func ruleFor(key string) bucketRule {
	if strings.HasPrefix(key, "ip:") {
		return bucketRule{size: 20, every: 30 * time.Second}
	}
	return bucketRule{size: 5, every: 3 * time.Minute}
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, buckets: map[string]*bucket{}}
}

// level refills a bucket to now and returns its tokens.
func (t *loginThrottle) level(key string, now time.Time) *bucket {
	rule := ruleFor(key)
	b, ok := t.buckets[key]
	if !ok {
		b = &bucket{tokens: rule.size, at: now}
		t.buckets[key] = b
	}
	b.tokens = min(rule.size, b.tokens+float64(now.Sub(b.at))/float64(rule.every))
	b.at = now
	return b
}

// wait returns how long until every key has a token again; 0 means go on.
func (t *loginThrottle) wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for _, k := range keys {
		b := t.level(k, now)
		if b.tokens < 1 {
			longest = max(longest, time.Duration((1-b.tokens)*float64(ruleFor(k).every)))
		}
	}
	return longest
}

// fail takes a token from each key's bucket.
func (t *loginThrottle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		b := t.level(k, now)
		b.tokens = max(0, b.tokens-1)
	}
	t.sweep(now)
}

// succeed forgets an account's failures.
func (t *loginThrottle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.buckets, key)
}

// sweep drops full buckets now and then, so memory stays bounded by the
// number of recent failures.
func (t *loginThrottle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Minute {
		return
	}
	t.swept = now
	for k := range t.buckets {
		if t.level(k, now).tokens >= ruleFor(k).size {
			delete(t.buckets, k)
		}
	}
}
