package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
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
			log := slog.New(slog.DiscardHandler)
			acc, err := accounts.New(accounts.Config{Store: db, Passwords: hasher, Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			svc := services(b, db, log)
			// Each sign-in is a success, which gives its place in the
			// throttle back, so the throttle never engages.
			srv, err := New(Config{DataDir: b.TempDir(), Logger: log},
				Deps{Accounts: acc, Audit: db, Lighthouse: lighthouse.New(), InventoryService: svc.Inventory, Access: svc.Access})
			if err != nil {
				b.Fatal(err)
			}
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
