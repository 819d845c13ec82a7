package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func ctxFor(name string) context.Context {
	return steward.NewContextWithActor(context.Background(), &steward.Actor{Name: name, SourceIP: "192.0.2.1"})
}

type userOpts struct {
	name   string
	grants []steward.Grant
}

func createUser(t *testing.T, db *store.DB, o userOpts) *steward.User {
	t.Helper()
	u := &steward.User{Name: o.name, PasswordHash: "$argon2id$test", Grants: o.grants}
	if err := db.UserCreate(ctxFor("test"), u, steward.NewAuditEvent(ctxFor("test"), "user.create", o.name)); err != nil {
		t.Fatalf("creating user %s: %v", o.name, err)
	}
	return u
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := steward.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		pending, err := db.MigrationsPending(ctx)
		if err != nil || pending {
			t.Fatalf("MigrationsPending = %v, %v", pending, err)
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("alice")
		admin := createUser(t, db, userOpts{name: "Alice", grants: []steward.Grant{{Role: steward.RoleAdmin}}})
		bob := createUser(t, db, userOpts{name: "bob", grants: []steward.Grant{{Role: steward.RoleViewer, Tenants: []string{"AAAAAAAA-0000-0000-0000-000000000001"}}}})

		got, err := db.UserGetByName(ctx, "ALICE")
		if err != nil || got.ID != admin.ID || len(got.Grants) != 1 || got.Grants[0].Role != steward.RoleAdmin {
			t.Fatalf("UserGetByName = %+v, %v", got, err)
		}
		got, err = db.UserGet(ctx, bob.ID)
		if err != nil || got.Grants[0].Tenants[0] != "aaaaaaaa-0000-0000-0000-000000000001" {
			t.Fatalf("UserGet bob = %+v, %v; want tenant ID lower-cased", got, err)
		}

		// Names are unique case-insensitively.
		err = db.UserCreate(ctx, &steward.User{Name: "ALICE", PasswordHash: "x"}, steward.NewAuditEvent(ctx, "user.create", "ALICE"))
		wantCode(t, err, steward.ECONFLICT)
		err = db.UserCreate(ctx, &steward.User{Name: "bad name!", PasswordHash: "x"}, nil)
		wantCode(t, err, steward.EINVALID)
		_, err = db.UserGet(ctx, 9999)
		wantCode(t, err, steward.ENOTFOUND)

		users, err := db.UserList(ctx)
		if err != nil || len(users) != 2 || users[0].Name != "Alice" || users[1].Name != "bob" {
			t.Fatalf("UserList = %v, %v", users, err)
		}

		// The last enabled admin can be neither disabled, deleted nor demoted.
		yes := true
		_, err = db.UserUpdate(ctx, admin.ID, steward.UserUpdate{Disabled: &yes}, steward.NewAuditEvent(ctx, "user.update", "Alice"))
		wantCode(t, err, steward.ECONFLICT)
		wantCode(t, db.UserDelete(ctx, admin.ID, steward.NewAuditEvent(ctx, "user.delete", "Alice")), steward.ECONFLICT)
		_, err = db.GrantDelete(ctx, admin.Grants[0].ID, steward.NewAuditEvent(ctx, "grant.delete", "Alice"))
		wantCode(t, err, steward.ECONFLICT)
		if got, _ := db.UserGet(ctx, admin.ID); got.Disabled || len(got.Grants) != 1 {
			t.Fatalf("refused changes were written: %+v", got)
		}

		// With a second admin, the first can go.
		g := &steward.Grant{UserID: bob.ID, Role: steward.RoleAdmin}
		if err := db.GrantCreate(ctx, g, steward.NewAuditEvent(ctx, "grant.create", "bob")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.GrantCreate(ctx, &steward.Grant{UserID: bob.ID, Role: steward.RoleAdmin}, nil), steward.ECONFLICT)
		wantCode(t, db.GrantCreate(ctx, &steward.Grant{UserID: 9999, Role: steward.RoleViewer}, nil), steward.ENOTFOUND)
		if _, err := db.UserUpdate(ctx, admin.ID, steward.UserUpdate{Disabled: &yes}, steward.NewAuditEvent(ctx, "user.update", "Alice")); err != nil {
			t.Fatal(err)
		}
		if err := db.UserDelete(ctx, admin.ID, steward.NewAuditEvent(ctx, "user.delete", "Alice")); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.UserCount(ctx); n != 1 {
			t.Fatalf("UserCount = %d, want 1", n)
		}
	})
}

func TestSessionsAndTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("carol")
		u := createUser(t, db, userOpts{name: "carol", grants: []steward.Grant{{Role: steward.RoleAdmin}}})
		other := createUser(t, db, userOpts{name: "dave", grants: []steward.Grant{{Role: steward.RoleAdmin}}})

		s := &steward.Session{Hash: "h1", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour), SourceIP: "192.0.2.1"}
		if err := db.SessionCreate(ctx, s, steward.NewAuditEvent(ctx, "user.login", "carol")); err != nil {
			t.Fatal(err)
		}
		expired := &steward.Session{Hash: "h2", UserID: u.ID, ExpiresAt: time.Now().Add(-time.Minute)}
		if err := db.SessionCreate(ctx, expired, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := db.SessionGet(ctx, "h1"); err != nil || got.UserID != u.ID {
			t.Fatalf("SessionGet = %+v, %v", got, err)
		}
		_, err := db.SessionGet(ctx, "h2")
		wantCode(t, err, steward.ENOTFOUND)
		if n, err := db.SessionDeleteExpired(ctx, time.Now()); err != nil || n != 1 {
			t.Fatalf("SessionDeleteExpired = %d, %v; want 1", n, err)
		}

		// A password change ends the user's sessions.
		hash := "$argon2id$new"
		if _, err := db.UserUpdate(ctx, u.ID, steward.UserUpdate{PasswordHash: &hash}, steward.NewAuditEvent(ctx, "user.update", "carol")); err != nil {
			t.Fatal(err)
		}
		_, err = db.SessionGet(ctx, "h1")
		wantCode(t, err, steward.ENOTFOUND)
		wantCode(t, db.SessionCreate(ctx, &steward.Session{Hash: "h3", UserID: 9999, ExpiresAt: time.Now().Add(time.Hour)}, nil), steward.ENOTFOUND)

		tok := &steward.APIToken{UserID: u.ID, Name: "ci", Prefix: "stw_abcd", Hash: "th1", ExpiresAt: time.Now().Add(time.Hour)}
		if err := db.TokenCreate(ctx, tok, steward.NewAuditEvent(ctx, "token.create", "ci")); err != nil {
			t.Fatal(err)
		}
		if err := db.TokenCreate(ctx, &steward.APIToken{UserID: other.ID, Name: "other", Prefix: "stw_x", Hash: "th2", ExpiresAt: time.Now().Add(time.Hour)}, nil); err != nil {
			t.Fatal(err)
		}
		// Every token expires.
		wantCode(t, db.TokenCreate(ctx, &steward.APIToken{UserID: u.ID, Name: "forever", Prefix: "stw_y", Hash: "th3"}, nil), steward.EINVALID)
		got, err := db.TokenGetByHash(ctx, "th1")
		if err != nil || got.ID != tok.ID || got.UserName != "carol" || !got.Active(time.Now()) {
			t.Fatalf("TokenGetByHash = %+v, %v", got, err)
		}
		if list, _ := db.TokenList(ctx, u.ID); len(list) != 1 {
			t.Fatalf("TokenList(user) = %d tokens, want 1", len(list))
		}
		if list, _ := db.TokenList(ctx, 0); len(list) != 2 {
			t.Fatalf("TokenList(all) = %d tokens, want 2", len(list))
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		if err := db.TokenTouch(ctx, tok.ID, at); err != nil {
			t.Fatal(err)
		}
		if err := db.TokenTouch(ctx, tok.ID, at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.TokenGet(ctx, tok.ID); !got.LastUsedAt.Equal(at) {
			t.Fatalf("LastUsedAt = %v, want %v (second touch within a minute is skipped)", got.LastUsedAt, at)
		}
		if err := db.TokenRevoke(ctx, tok.ID, steward.NewAuditEvent(ctx, "token.revoke", "ci")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.TokenRevoke(ctx, tok.ID, nil), steward.ECONFLICT)
		if got, _ := db.TokenGet(ctx, tok.ID); got.Active(time.Now()) {
			t.Fatal("revoked token is still active")
		}
		// Deleting a user deletes its tokens.
		if err := db.UserDelete(ctx, other.ID, steward.NewAuditEvent(ctx, "user.delete", "dave")); err != nil {
			t.Fatal(err)
		}
		_, err = db.TokenGetByHash(ctx, "th2")
		wantCode(t, err, steward.ENOTFOUND)
	})
}

// TestPasswordChangeRevokesTokens: a new password ends the user's sessions
// and revokes their tokens in the transaction that stores it, and says so
// in its event; another user's are untouched, and a rehash of the same
// password touches nothing.
func TestPasswordChangeRevokesTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("erin")
		u := createUser(t, db, userOpts{name: "erin", grants: []steward.Grant{{Role: steward.RoleAdmin}}})
		other := createUser(t, db, userOpts{name: "frank"})
		later := time.Now().Add(time.Hour)
		for i, owner := range []int64{u.ID, u.ID, other.ID} {
			tok := &steward.APIToken{UserID: owner, Name: "t", Prefix: "stw_p", Hash: fmt.Sprint("tok", i), ExpiresAt: later}
			if err := db.TokenCreate(ctx, tok, nil); err != nil {
				t.Fatal(err)
			}
			if err := db.SessionCreate(ctx, &steward.Session{Hash: fmt.Sprint("sess", i), UserID: owner, ExpiresAt: later}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.TokenRevoke(ctx, 2, nil); err != nil { // revoked already: not counted again
			t.Fatal(err)
		}

		if err := db.UserRehashPassword(ctx, u.ID, "$argon2id$test", "$argon2id$rehashed"); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.UserGet(ctx, u.ID); got.PasswordHash != "$argon2id$rehashed" {
			t.Fatalf("rehash not stored: %q", got.PasswordHash)
		}
		if err := db.UserRehashPassword(ctx, u.ID, "$argon2id$test", "$argon2id$stale"); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.UserGet(ctx, u.ID); got.PasswordHash != "$argon2id$rehashed" {
			t.Fatalf("a rehash from a stale hash overwrote the password: %q", got.PasswordHash)
		}
		if tok, _ := db.TokenGetByHash(ctx, "tok0"); !tok.Active(time.Now()) {
			t.Fatal("a rehash revoked a token")
		}
		if _, err := db.SessionGet(ctx, "sess0"); err != nil {
			t.Fatalf("a rehash ended a session: %v", err)
		}

		hash := "$argon2id$new"
		ev := steward.NewAuditEvent(ctx, "user.update", "erin").With("changed", "password")
		if _, err := db.UserUpdate(ctx, u.ID, steward.UserUpdate{PasswordHash: &hash}, ev); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"tok0", "tok1"} {
			if tok, _ := db.TokenGetByHash(ctx, h); tok.Active(time.Now()) {
				t.Fatalf("token %s survived its owner's new password", h)
			}
		}
		_, err := db.SessionGet(ctx, "sess0")
		wantCode(t, err, steward.ENOTFOUND)
		if tok, _ := db.TokenGetByHash(ctx, "tok2"); !tok.Active(time.Now()) {
			t.Fatal("another user's token was revoked")
		}
		if _, err := db.SessionGet(ctx, "sess2"); err != nil {
			t.Fatalf("another user's session ended: %v", err)
		}
		evs, _, err := db.AuditList(ctx, storetest.All(), steward.AuditFilter{Action: "user.update"})
		if err != nil || len(evs) != 1 || evs[0].Details["tokens_revoked"] != "1" {
			t.Fatalf("event = %+v, %v; want tokens_revoked=1", evs, err)
		}
	})
}

// TestNamesRefusedOnEveryEngine: text PostgreSQL cannot store is refused
// as invalid input on both engines, never reaching the database.
func TestNamesRefusedOnEveryEngine(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("gina")
		u := createUser(t, db, userOpts{name: "gina"})
		for _, bad := range []string{"a\x00b", "\xff\xfe", "line\nbreak"} {
			err := db.UserCreate(ctx, &steward.User{Name: "hal", DisplayName: bad, PasswordHash: "x"}, nil)
			wantCode(t, err, steward.EINVALID)
			_, err = db.UserUpdate(ctx, u.ID, steward.UserUpdate{Email: &bad}, nil)
			wantCode(t, err, steward.EINVALID)
			err = db.TokenCreate(ctx, &steward.APIToken{UserID: u.ID, Name: bad, Prefix: "stw_n", Hash: "n" + bad, ExpiresAt: time.Now().Add(time.Hour)}, nil)
			wantCode(t, err, steward.EINVALID)
		}
	})
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tenant := "11111111-1111-1111-1111-111111111111"
		for i := range 25 {
			ev := &steward.AuditEvent{Time: base.Add(time.Duration(i) * time.Minute), Actor: []string{"ann", "ben"}[i%2],
				Action: []string{"user.login", "user.logout", "token.create"}[i%3], Outcome: steward.OutcomeSuccess}
			if i%5 == 0 {
				ev.TenantID = tenant
			}
			if err := db.AuditAppend(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		list := func(f steward.AuditFilter) ([]*steward.AuditEvent, string) {
			t.Helper()
			evs, next, err := db.AuditList(ctx, everything, f)
			if err != nil {
				t.Fatal(err)
			}
			return evs, next
		}
		// Paging: newest first, cursor continues without overlap.
		var ids []int64
		f := steward.AuditFilter{Limit: 10}
		for {
			evs, next := list(f)
			for _, ev := range evs {
				ids = append(ids, ev.ID)
			}
			if next == "" {
				break
			}
			fmt.Sscan(next, &f.Before)
		}
		if len(ids) != 25 || ids[0] != 25 || ids[24] != 1 {
			t.Fatalf("paged IDs = %v", ids)
		}
		if evs, _ := list(steward.AuditFilter{Actor: "ann"}); len(evs) != 13 {
			t.Fatalf("actor filter: %d events, want 13", len(evs))
		}
		if evs, _ := list(steward.AuditFilter{Action: "user."}); len(evs) != 17 {
			t.Fatalf("action prefix filter: %d events, want 17", len(evs))
		}
		if evs, _ := list(steward.AuditFilter{Action: "token.create"}); len(evs) != 8 {
			t.Fatalf("action filter: %d events, want 8", len(evs))
		}
		if evs, _ := list(steward.AuditFilter{TenantID: strings.ToUpper(tenant)}); len(evs) != 5 {
			t.Fatalf("tenant filter: %d events, want 5", len(evs))
		}
		if evs, _, _ := db.AuditList(ctx, storetest.Scope(strings.ToUpper(tenant)), steward.AuditFilter{}); len(evs) != 5 {
			t.Fatalf("scoped: %d events, want 5 (those of no tenant are out of scope)", len(evs))
		}
		if evs, _, _ := db.AuditList(ctx, steward.Scope{}, steward.AuditFilter{}); len(evs) != 0 {
			t.Fatalf("scoped to no tenants: %d events, want 0", len(evs))
		}
		evs, _ := list(steward.AuditFilter{From: base.Add(10 * time.Minute), To: base.Add(15 * time.Minute)})
		if len(evs) != 5 || evs[0].ID != 15 || evs[4].ID != 11 {
			t.Fatalf("time filter: %d events", len(evs))
		}
		_, _, err := db.AuditList(ctx, everything, steward.AuditFilter{Limit: 5000})
		wantCode(t, err, steward.EINVALID)
		wantCode(t, db.AuditAppend(ctx, &steward.AuditEvent{Actor: "x", Action: "y", Outcome: "maybe"}), steward.EINVALID)
	})
}

// TestAuditTamper edits, deletes and reorders rows behind the store's back,
// as someone with database access would, and expects verification to name
// the first bad event each time.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		cases := []struct {
			name    string
			tamper  string
			wantBad int64
			want    string
		}{
			{"edit actor", `UPDATE audit_events SET actor = 'mallory' WHERE id = 4`, 4, "changed"},
			{"edit details", `UPDATE audit_events SET details = '{"n":"x"}' WHERE id = 6`, 6, "changed"},
			{"edit time", `UPDATE audit_events SET time_us = time_us + 1 WHERE id = 2`, 2, "changed"},
			{"delete middle", `DELETE FROM audit_events WHERE id = 5`, 6, "deleted"},
			{"delete first", `DELETE FROM audit_events WHERE id = 1`, 2, "deleted"},
			{"delete last", `DELETE FROM audit_events WHERE id = 8`, 8, "end"},
			{"reorder", `UPDATE audit_events SET id = 103 WHERE id = 3; UPDATE audit_events SET id = 3 WHERE id = 7; UPDATE audit_events SET id = 7 WHERE id = 103`, 3, ""},
			{"rehash one", `UPDATE audit_events SET actor = 'mallory', hash = 'f00' WHERE id = 3`, 3, "changed"},
		}
		for _, tc := range cases {
			t.Run(string(engine)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				db := storetest.Open(t, engine)
				ctx := ctxFor("erin")
				for i := range 8 {
					ev := steward.NewAuditEvent(ctx, "user.login", "erin").With("n", fmt.Sprint(i))
					if err := db.AuditAppend(ctx, ev); err != nil {
						t.Fatal(err)
					}
				}
				v, err := db.AuditVerify(ctx)
				if err != nil || !v.OK() || v.Checked != 8 || v.HeadID != 8 {
					t.Fatalf("before tampering: %+v, %v", v, err)
				}
				// Updates and deletes are refused by triggers until they are dropped.
				if _, err := db.WriteDB().Exec(`DELETE FROM audit_events WHERE id = 1`); err == nil {
					t.Fatal("deleting an audit event succeeded with the append-only triggers in place")
				}
				if engine == store.Postgres {
					storetest.Exec(t, db, `ALTER TABLE audit_events DISABLE TRIGGER USER`)
				} else {
					storetest.Exec(t, db, `DROP TRIGGER audit_events_no_update`)
					storetest.Exec(t, db, `DROP TRIGGER audit_events_no_delete`)
				}
				for _, stmt := range strings.Split(tc.tamper, "; ") {
					storetest.Exec(t, db, stmt)
				}
				v, err = db.AuditVerify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v.OK() || v.BadID != tc.wantBad || !strings.Contains(v.Problem, tc.want) {
					t.Fatalf("after %s: verification = %+v; want bad event %d mentioning %q", tc.name, v, tc.wantBad, tc.want)
				}
			})
		}
	}
}

// TestAuditConcurrentAppends checks that appends racing from many
// goroutines still form one unbroken chain.
func TestAuditConcurrentAppends(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("frank")
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 10 {
					if err := db.AuditAppend(ctx, steward.NewAuditEvent(ctx, "test.append", fmt.Sprint(g, i))); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		v, err := db.AuditVerify(ctx)
		if err != nil || !v.OK() || v.Checked != 80 {
			t.Fatalf("verification = %+v, %v", v, err)
		}
	})
}

// TestAtomicity checks that a change refused after its first write leaves
// neither the change nor its audit event behind.
func TestAtomicity(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("gina")
		u := &steward.User{Name: "gina", PasswordHash: "x", Grants: []steward.Grant{{Role: steward.RoleViewer}, {Role: "superuser"}}}
		wantCode(t, db.UserCreate(ctx, u, steward.NewAuditEvent(ctx, "user.create", "gina")), steward.EINVALID)
		bad := &steward.User{Name: "hank", PasswordHash: "x"}
		wantCode(t, db.UserCreate(ctx, bad, &steward.AuditEvent{Actor: "gina", Action: "user.create", Outcome: "??"}), steward.EINVALID)
		if n, _ := db.UserCount(ctx); n != 0 {
			t.Fatalf("%d users stored by failed creates", n)
		}
		if evs, _, _ := db.AuditList(ctx, everything, steward.AuditFilter{}); len(evs) != 0 {
			t.Fatalf("%d audit events stored by failed creates", len(evs))
		}
	})
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db.Close() // a second time here, a third at cleanup: neither may panic
	})
}

// TestMigratePostgresKeys upgrades a PostgreSQL database holding resources
// from the first schema: migration 00002 changes the key columns'
// collation and drops a foreign key, and the resources must come through
// whole, listable by tag, with an unknown subscription still refused.
func TestMigratePostgresKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	old, err := store.Open(ctx, store.Config{URL: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	tenant, sub := guid('a', 1), guid('1', 1)
	createTenant(t, old, tenantOpts{id: tenant})
	// Written as the first release did: today's code reads later columns.
	storetest.Exec(t, old, `INSERT INTO subscriptions (id, tenant_id, display_name, state, discovered_at, updated_at) VALUES ($1, $2, 'Sub', 'Enabled', 1, 1)`, sub, tenant)
	rs := makeResources(sub, 50, func(i int) map[string]string { return map[string]string{"Env": []string{"prod", "dev"}[i%2]} })
	upsert(t, old, sub, rs, true)
	old.Close()

	// The new release starts.
	db, err := store.Open(ctx, store.Config{URL: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.Migrate(ctx); err != nil || n == 0 {
		t.Fatalf("Migrate = %d, %v; want the later migrations applied", n, err)
	}
	var collation string
	if err := db.WriteDB().QueryRow(`SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'resources' AND column_name = 'arm_key'`).Scan(&collation); err != nil || collation != "C" {
		t.Fatalf("resources.arm_key collation = %q, %v; want C", collation, err)
	}
	if n, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "env", Value: "dev"}}}); n != 25 {
		t.Fatalf("%d resources tagged env=dev after the upgrade, want 25", n)
	}
	got, err := db.ResourceGet(ctx, everything, strings.ToUpper(rs[7].ID))
	if err != nil || got.PK != rs[7].PK || got.Tags["Env"] != "dev" {
		t.Fatalf("ResourceGet after the upgrade = %+v, %v", got, err)
	}
	if n := upsert(t, db, sub, makeResources(sub, 60, nil)[50:], true); n != 10 {
		t.Fatalf("wrote %d new resources after the upgrade, want 10", n)
	}
	_, err = db.ResourceUpsertMany(ctx, guid('9', 9), makeResources(guid('9', 9), 1, nil), true)
	wantCode(t, err, steward.ENOTFOUND)
	if n, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{}); n != 60 {
		t.Fatalf("%d resources stored, want 60 (none for the unknown subscription)", n)
	}
}
