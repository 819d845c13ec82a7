package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/lighthouse"
	"github.com/stewardhq/steward/store/storetest"
)

// BenchmarkLogin measures a whole sign-in request through the handler with
// production argon2id parameters: throttle check, password check, session
// and audit event written.
func BenchmarkLogin(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(string(engine), func(b *testing.B) {
			db := storetest.Open(b, engine)
			hasher := auth.Hasher{Params: auth.DefaultParams}
			srv, err := New(Config{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)},
				Deps{Users: db, Sessions: db, Tokens: db, Audit: db, Passwords: hasher, Lighthouse: lighthouse.New()})
			if err != nil {
				b.Fatal(err)
			}
			// Each sign-in is a success, so the throttle never engages.
			srv.throttle = newLoginThrottle(func() time.Time { return time.Now().Add(time.Hour) })
			hash, _ := hasher.Hash("benchmark password")
			u := &steward.User{Name: "bench", PasswordHash: hash, Grants: []steward.Grant{{Role: steward.RoleViewer}}}
			if err := db.UserCreate(context.Background(), u, nil); err != nil {
				b.Fatal(err)
			}
			form := url.Values{"name": {"bench"}, "password": {"benchmark password"}}.Encode()
			h := srv.Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "https://steward.test/login", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusSeeOther {
					b.Fatalf("sign-in answered %d: %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/login")
		})
	}
}
