package web

import (
	"context"
	"net/http"
	"strings"
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
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || !strings.HasPrefix(token, steward.TokenPrefix) {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "Send an API token as Authorization: Bearer stw_….")
	}
	a, err := s.deps.Accounts.AuthenticateToken(ctx, token)
	if err != nil {
		return nil, err
	}
	a.SourceIP = ip
	return a, nil
}

func (s *Server) actorFromSession(ctx context.Context, cookie, ip string) (*steward.Actor, error) {
	a, err := s.deps.Accounts.AuthenticateSession(ctx, cookie)
	if err != nil {
		return nil, err
	}
	a.SourceIP = ip
	return a, nil
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

// login signs a person in and sets the session cookie. The account
// service throttles, checks and audits; this counts the outcome.
func (s *Server) login(w http.ResponseWriter, r *http.Request, name, password string) (*steward.User, error) {
	res, err := s.deps.Accounts.Login(r.Context(), steward.LoginInput{Name: name, Password: password, SourceIP: s.clientIP(r), UserAgent: r.UserAgent()})
	switch steward.ErrorCode(err) {
	case "":
		s.metrics.logins.WithLabelValues("success").Inc()
	case steward.ETHROTTLED:
		s.metrics.logins.WithLabelValues("throttled").Inc()
	case steward.EUNAUTHORIZED:
		s.metrics.logins.WithLabelValues("failure").Inc()
	}
	if err != nil {
		return nil, err
	}
	setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	return res.User, nil
}

// logout ends the caller's browser session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	clearSessionCookie(w)
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return s.deps.Accounts.Logout(r.Context(), c.Value)
}
