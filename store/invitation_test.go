package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestInvitations checks consent links on both engines: scoped reads (a
// link of no tenant yet only for an unlimited scope), and moves that
// happen once, to one tenant, however many race.
func TestInvitations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("alice")
		idA, idB := guid('a', 1), guid('b', 2)
		expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		named := &steward.Invitation{CustomerName: "Alpha", ExpectedTenant: idA, TenantID: idA, CreatedBy: "alice", Hash: "h1", ExpiresAt: expires}
		anyone := &steward.Invitation{CustomerName: "Whoever", CreatedBy: "alice", Hash: "h2", ExpiresAt: expires}
		for _, inv := range []*steward.Invitation{named, anyone} {
			if err := db.InvitationCreate(ctx, inv, steward.NewAuditEvent(ctx, "invitation.create", inv.CustomerName)); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, db.InvitationCreate(ctx, &steward.Invitation{CreatedBy: "alice", Hash: "h1", ExpiresAt: expires}, nil), steward.ECONFLICT)
		wantCode(t, db.InvitationCreate(ctx, &steward.Invitation{CreatedBy: "alice", ExpiresAt: expires}, nil), steward.EINVALID)

		got, err := db.InvitationGetByHash(ctx, "h2")
		if err != nil || got.ID != anyone.ID || got.State != steward.InvitationPending || !got.ExpiresAt.Equal(expires) || got.CreatedAt.IsZero() {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if list, _ := db.InvitationList(ctx, everything); len(list) != 2 || list[0].ID != anyone.ID {
			t.Fatalf("all: %v", list)
		}
		if list, _ := db.InvitationList(ctx, storetest.Scope(idA)); len(list) != 1 || list[0].ID != named.ID {
			t.Fatalf("scope A: %v", list)
		}
		if list, _ := db.InvitationList(ctx, steward.Scope{}); len(list) != 0 {
			t.Fatalf("empty scope: %v", list)
		}
		_, err = db.InvitationGet(ctx, storetest.Scope(idB), named.ID)
		wantCode(t, err, steward.ENOTFOUND)
		_, err = db.InvitationGet(ctx, storetest.Scope(idA), anyone.ID)
		wantCode(t, err, steward.ENOTFOUND)

		// A link named for A cannot be bound to B.
		named.State, named.TenantID = steward.InvitationConsented, idB
		wantCode(t, db.InvitationUpdate(ctx, named, []steward.InvitationState{steward.InvitationPending}, nil), steward.ECONFLICT)

		// Ten answers race through the open link: one binds it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inv := *anyone
				inv.State, inv.TenantID, inv.ConsentedBy, inv.ConsentedAt = steward.InvitationConsented, guid('c', i+3), "admin", time.Now()
				if err := db.InvitationUpdate(ctx, &inv, []steward.InvitationState{steward.InvitationPending}, nil); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if steward.ErrorCode(err) != steward.ECONFLICT {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, _ = db.InvitationGet(ctx, everything, anyone.ID)
		if won != 1 || got.State != steward.InvitationConsented || got.TenantID == "" || got.ConsentedBy != "admin" || got.ConsentedAt.IsZero() {
			t.Fatalf("%d won; stored %+v", won, got)
		}
		if list, _ := db.InvitationList(ctx, storetest.Scope(got.TenantID)); len(list) != 1 {
			t.Fatalf("bound link not in its tenant's scope: %v", list)
		}
		got.State, got.ConnectedAt = steward.InvitationConnected, time.Now()
		if err := db.InvitationUpdate(ctx, got, []steward.InvitationState{steward.InvitationConsented}, steward.NewAuditEvent(ctx, "invitation.use", "x")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.InvitationUpdate(ctx, got, []steward.InvitationState{steward.InvitationConsented}, nil), steward.ECONFLICT)
		missing := &steward.Invitation{ID: 999999, State: steward.InvitationRevoked}
		wantCode(t, db.InvitationUpdate(ctx, missing, []steward.InvitationState{steward.InvitationPending}, nil), steward.ENOTFOUND)
	})
}
