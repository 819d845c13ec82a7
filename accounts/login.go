package accounts

import (
	"context"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// Login checks a name and password and starts a session.
//
// Its order matters. The throttle takes the attempt's place first, for the
// account and the address at once, so that however many attempts arrive
// together, no more are checked than the limits allow; an attempt that
// then fails keeps its place, one that succeeds gives it back, and one cut
// short (the client left, the database failed) gives it back too. A name
// that cannot be a user's fails like an unknown one, without a lookup, in
// the same time.
func (s *Service) Login(ctx context.Context, in steward.LoginInput) (*steward.LoginResult, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || in.Password == "" {
		return nil, steward.Errorf(steward.EINVALID, "Enter your user name and password.")
	}
	// What the audit log and the throttle call a name nobody has: at most
	// 128 bytes, so a megabyte of name costs no more than a short one.
	label := name
	if !steward.ValidUserName(name) && len(label) > 128 {
		cut := 128
		for cut > 0 && !utf8.RuneStart(label[cut]) {
			cut-- // between characters, so the record reads as what was typed
		}
		label = label[:cut] + "…"
	}
	event := func(action, outcome string) *steward.AuditEvent {
		ev := steward.NewAuditEvent(ctx, action, label).WithActor(label).WithOutcome(outcome)
		ev.SourceIP = in.SourceIP
		return ev
	}
	account, address := "user:"+strings.ToLower(label), "ip:"+in.SourceIP
	res, wait := s.throttle.reserve(account, address)
	if wait > 0 {
		s.audit(ctx, event("user.login_throttled", steward.OutcomeDenied))
		return nil, steward.NewThrottledError(wait)
	}
	defer res.cancel() // unless the attempt failed or succeeded below
	fail := func(reason string) error {
		res.fail()
		s.audit(ctx, event("user.login_failed", steward.OutcomeFailure).With("reason", reason))
		return steward.Errorf(steward.EUNAUTHORIZED, "The user name or password is wrong.")
	}

	done, err := s.hashSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if !steward.ValidUserName(name) {
		s.pw.CheckNoUser(in.Password)
		return nil, fail("unknown user")
	}
	u, err := s.store.UserGetByName(ctx, name)
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		s.pw.CheckNoUser(in.Password)
		return nil, fail("unknown user")
	} else if err != nil {
		return nil, err
	}
	ok, rehash, err := s.pw.Check(u.PasswordHash, in.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail("wrong password")
	}
	if u.Disabled {
		return nil, fail("account disabled")
	}
	res.succeed()
	if rehash {
		if h, err := s.pw.Hash(in.Password); err != nil {
			s.log.WarnContext(ctx, "password not rehashed", slog.Any("error", err))
		} else if err := s.store.UserRehashPassword(ctx, u.ID, u.PasswordHash, h); err != nil {
			s.log.WarnContext(ctx, "password not rehashed", slog.Any("error", err))
		}
	}
	token, hash := steward.NewToken("")
	sess := &steward.Session{Hash: hash, UserID: u.ID, ExpiresAt: s.now().Add(s.cfg.SessionLifetime), SourceIP: in.SourceIP, UserAgent: cleanUserAgent(in.UserAgent)}
	if err := s.store.UserRecordLogin(ctx, u.ID, nil); err != nil {
		return nil, err
	}
	ev := event("user.login", steward.OutcomeSuccess).WithActor(u.Name)
	ev.Target = u.Name
	if err := s.store.SessionCreate(ctx, sess, ev); err != nil {
		return nil, err
	}
	return &steward.LoginResult{User: u, Session: sess, Token: token}, nil
}

// cleanUserAgent keeps the User-Agent header as text either engine stores:
// valid UTF-8 without control characters, at most 500 bytes, cut between
// characters.
func cleanUserAgent(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(ua, "\uFFFD"))
	if len(ua) <= 500 {
		return ua
	}
	cut := 500
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, token string) error {
	a, err := steward.RequireActor(ctx)
	if err != nil {
		return err
	}
	err = s.store.SessionDelete(ctx, steward.HashToken(token), steward.NewAuditEvent(ctx, "user.logout", a.Name))
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return nil
	}
	return err
}

var badToken = steward.Errorf(steward.EUNAUTHORIZED, "The API token is not valid, has expired or was revoked.")

// AuthenticateToken returns the actor behind an API token.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (*steward.Actor, error) {
	t, err := s.store.TokenGetByHash(ctx, steward.HashToken(token))
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return nil, badToken
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !t.Active(now) {
		return nil, badToken
	}
	u, err := s.store.UserGet(ctx, t.UserID)
	if err != nil || u.Disabled {
		return nil, badToken
	}
	if err := s.store.TokenTouch(ctx, t.ID, now); err != nil {
		s.log.WarnContext(ctx, "token use not recorded", slog.Any("error", err))
	}
	return &steward.Actor{UserID: u.ID, Name: u.Name, Grants: u.Grants, Auth: steward.AuthToken, TokenID: t.ID}, nil
}

// AuthenticateSession returns the actor behind a session cookie.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*steward.Actor, error) {
	sess, err := s.store.SessionGet(ctx, steward.HashToken(token))
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "The session has ended; sign in again.")
	} else if err != nil {
		return nil, err
	}
	u, err := s.store.UserGet(ctx, sess.UserID)
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "The session has ended; sign in again.")
	} else if err != nil {
		return nil, err
	}
	return &steward.Actor{UserID: u.ID, Name: u.Name, Grants: u.Grants, Auth: steward.AuthPassword}, nil
}
