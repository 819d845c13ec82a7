package store_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func TestTenants(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("alice")
		idA, idB := guid('a', 1), guid('b', 2)
		read := &steward.Credential{Purpose: steward.CredentialRead, ClientID: "app-1", Kind: steward.CredentialSecret, Sealed: []byte{1, 2, 3}, KeyVersion: 1,
			ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ExpirySource: "entered", CreatedBy: "alice"}
		a := createTenant(t, db, tenantOpts{id: strings.ToUpper(idA), name: "Zeta", creds: []*steward.Credential{read}})
		if a.ID != idA || a.Status != steward.TenantActive || a.SyncMethod != steward.SyncAuto || a.CreatedAt.IsZero() {
			t.Fatalf("created tenant = %+v; want lower-case ID and defaults", a)
		}
		if read.ID == 0 || read.TenantID != idA || read.Status != steward.CredentialActive {
			t.Fatalf("credential = %+v", read)
		}
		createTenant(t, db, tenantOpts{id: idB, name: "Alpha", connKind: steward.ConnectConsent})

		// Duplicates conflict; bad input is refused before anything is stored.
		wantCode(t, db.TenantCreate(ctx, &steward.Tenant{ID: idA, Name: "again", Connection: steward.ConnectConsent}, nil, nil), steward.ECONFLICT)
		wantCode(t, db.TenantCreate(ctx, &steward.Tenant{ID: "contoso.onmicrosoft.com", Name: "x", Connection: steward.ConnectConsent}, nil, nil), steward.EINVALID)
		wantCode(t, db.TenantCreate(ctx, &steward.Tenant{ID: guid('c', 3), Name: "x", Connection: "magic"}, nil, nil), steward.EINVALID)
		wantCode(t, db.TenantCreate(ctx, &steward.Tenant{ID: guid('c', 3), Name: "x", Connection: steward.ConnectConsent, SyncMethod: "psychic"}, nil, nil), steward.EINVALID)
		bad := &steward.Credential{Purpose: "admin", ClientID: "x", Kind: steward.CredentialSecret, Sealed: []byte{1}}
		wantCode(t, db.TenantCreate(ctx, &steward.Tenant{ID: guid('c', 3), Name: "x", Connection: steward.ConnectConsent}, []*steward.Credential{bad}, nil), steward.EINVALID)
		_, err := db.TenantGet(ctx, everything, guid('c', 3))
		wantCode(t, err, steward.ENOTFOUND)

		got, err := db.TenantGet(ctx, everything, strings.ToUpper(idA))
		if err != nil || got.Name != "Zeta" || !got.WriteEnabled || got.Connection != steward.ConnectServicePrincipal {
			t.Fatalf("TenantGet = %+v, %v", got, err)
		}
		list, err := db.TenantList(ctx, everything)
		if err != nil || len(list) != 2 || list[0].Name != "Alpha" || list[1].Name != "Zeta" {
			t.Fatalf("TenantList(nil) = %v, %v; want by name", list, err)
		}
		if list, _ := db.TenantList(ctx, storetest.Scope(strings.ToUpper(idA))); len(list) != 1 || list[0].ID != idA {
			t.Fatalf("TenantList(scope A) = %v", list)
		}
		if list, _ := db.TenantList(ctx, steward.Scope{}); len(list) != 0 {
			t.Fatalf("TenantList(empty scope) = %v; want none", list)
		}
		_, err = db.TenantGet(ctx, storetest.Scope(guid('c', 3)), idA)
		wantCode(t, err, steward.ENOTFOUND)

		got.Name, got.WriteEnabled, got.Status, got.StatusDetail, got.PALPartnerID = "Zeta Corp", false, steward.TenantRevoked, "removed by admin", "1234567"
		got.RevokedAt = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
		if err := db.TenantUpdate(ctx, got, steward.NewAuditEvent(ctx, "tenant.revoke", got.Name)); err != nil {
			t.Fatal(err)
		}
		again, _ := db.TenantGet(ctx, everything, idA)
		if again.Name != "Zeta Corp" || again.WriteEnabled || again.Status != steward.TenantRevoked || !again.RevokedAt.Equal(got.RevokedAt) || again.PALPartnerID != "1234567" {
			t.Fatalf("after update: %+v", again)
		}
		wantCode(t, db.TenantUpdate(ctx, &steward.Tenant{ID: guid('c', 3), Name: "x", Connection: steward.ConnectConsent}, nil), steward.ENOTFOUND)

		// Credentials: newest first, updated in place, bound to a tenant.
		write := &steward.Credential{TenantID: idA, Purpose: steward.CredentialWrite, ClientID: "app-2", Kind: steward.CredentialCertificate,
			Sealed: []byte("sealed"), KeyVersion: 2, Status: steward.CredentialPending, CreatedBy: "alice"}
		if err := db.CredentialCreate(ctx, write, steward.NewAuditEvent(ctx, "credential.add", "app-2")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CredentialCreate(ctx, &steward.Credential{TenantID: guid('c', 3), Purpose: steward.CredentialRead, ClientID: "x", Kind: steward.CredentialSecret, Sealed: []byte{1}}, nil), steward.ENOTFOUND)
		wantCode(t, db.CredentialCreate(ctx, &steward.Credential{TenantID: idA, Purpose: steward.CredentialRead, ClientID: "x", Kind: steward.CredentialSecret}, nil), steward.EINVALID)
		creds, err := db.CredentialList(ctx, everything, idA)
		if err != nil || len(creds) != 2 || creds[0].ID != write.ID || creds[1].ID != read.ID {
			t.Fatalf("CredentialList = %v, %v; want newest first", creds, err)
		}
		if c := creds[1]; !bytes.Equal(c.Sealed, []byte{1, 2, 3}) || !c.ExpiresAt.Equal(read.ExpiresAt) || c.ExpirySource != "entered" || c.KeyVersion != 1 {
			t.Fatalf("stored read credential = %+v", c)
		}
		write.Status, write.Sealed, write.KeyVersion, write.WarnedDays, write.AzureKeyID = steward.CredentialActive, []byte("rewrapped"), 3, 14, "key-1"
		write.RetiredAt = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		if err := db.CredentialUpdate(ctx, write, steward.NewAuditEvent(ctx, "credential.activate", "app-2")); err != nil {
			t.Fatal(err)
		}
		c, err := db.CredentialGet(ctx, everything, write.ID)
		if err != nil || c.Status != steward.CredentialActive || string(c.Sealed) != "rewrapped" || c.KeyVersion != 3 || c.WarnedDays != 14 || c.AzureKeyID != "key-1" || !c.RetiredAt.Equal(write.RetiredAt) {
			t.Fatalf("after CredentialUpdate: %+v, %v", c, err)
		}
		_, err = db.CredentialGet(ctx, everything, 9999)
		wantCode(t, err, steward.ENOTFOUND)
		write.ID = 9999
		wantCode(t, db.CredentialUpdate(ctx, write, nil), steward.ENOTFOUND)

		// Every change carries its event.
		v, err := db.AuditVerify(ctx)
		if err != nil || !v.OK() || v.Checked != 5 {
			t.Fatalf("audit chain = %+v, %v; want 5 events (2 tenants, their update, a credential and its update)", v, err)
		}
	})
}
