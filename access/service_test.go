package access_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/notify"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

const callback = "https://127.0.0.1:8443/tenants/connect/callback"

// fixture is an emulator of the test's own and Steward's services over db,
// acting as a portal admin.
func fixture(t *testing.T, db *store.DB) (*emulator.Emulator, *store.DB, *stewardtest.Services, context.Context) {
	t.Helper()
	e, path := stewardtest.Emulator(t, emulator.Config{})
	return e, db, stewardtest.NewServices(t, db, path, nil), stewardtest.Admin(t.Context())
}

func TestConnectServicePrincipalValidatesLeastPrivilege(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, svc, ctx := fixture(t, db)

		// The Tag Contributor app has exactly what read-write-tags needs.
		contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
		tenant, rep, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Subscriptions) != len(contoso.Subscriptions) {
			t.Fatalf("report covers %d of %d subscriptions", len(rep.Subscriptions), len(contoso.Subscriptions))
		}
		// Tag Contributor alone covers the tags, not the spend: the report
		// says so and names the least-privileged role for it.
		for _, s := range rep.Subscriptions {
			if s.Verdict != steward.VerdictMissing || len(s.Missing) != 1 || s.Missing[0].Role != "Cost Management Reader" {
				t.Fatalf("Tag Contributor on %s: %+v", s.DisplayName, s)
			}
		}

		// A Reader app as a separate write credential misses the tag
		// write, and the report names the role that grants it.
		_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
		_, _, err = svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso again",
			Read: stewardtest.Credential(writer), Write: ptr(stewardtest.Credential(reader))})
		if steward.ErrorCode(err) != steward.ECONFLICT {
			t.Fatalf("connecting a tenant twice: %v", err)
		}
		rep, err = svc.Access.Validate(ctx, tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Identities) == 0 || !rep.Identities[0].OK {
			t.Fatalf("identities: %+v", rep.Identities)
		}

		// A wrong secret is refused with Entra's reason and stores nothing.
		bad := stewardtest.Credential(reader)
		bad.Secret = "not-the-secret"
		_, _, err = svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Wrong", Read: bad})
		if err == nil || strings.Contains(steward.ErrorMessage(err), "not-the-secret") {
			t.Fatalf("wrong secret: %v", err)
		}
		if ts, _ := db.TenantList(ctx, everything); len(ts) != 1 {
			t.Fatalf("%d tenants after a refused connection", len(ts))
		}
	})
}

func TestReaderIsMissingTagWrite(t *testing.T) {
	e, _, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	_, rep, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(reader)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Subscriptions {
		if s.Verdict != steward.VerdictMissing || len(s.Missing) == 0 {
			t.Fatalf("Reader at read-write-tags: %+v", s)
		}
		m := s.Missing[0]
		if len(s.Missing) != 1 || m.Action != "Microsoft.Resources/tags/write" || m.Role != "Tag Contributor" {
			t.Fatalf("missing: %+v", s.Missing)
		}
	}
}

func TestConsentAssignsLeastPrivilegeAndDropsTheToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, svc, ctx := fixture(t, db)
		contoso, _ := e.Connection().Tenant(emulator.ContosoTenantName)
		admin := contoso.Users[0] // Owner of every Contoso subscription

		u, err := svc.Access.ConsentStart(ctx, "", "connect", callback)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(u, "offline_access") {
			t.Fatalf("consent asks for a refresh token: %s", u)
		}
		answer := stewardtest.Consent(t, e, u, admin.UserPrincipalName, true)
		sess, err := svc.Access.ConsentCallback(ctx, answer.Get("state"), answer.Get("code"), answer.Get("error"), answer.Get("error_description"))
		if err != nil {
			t.Fatal(err)
		}
		if sess.TenantID != contoso.ID || len(sess.Subscriptions) != len(contoso.Subscriptions) {
			t.Fatalf("consent session %+v", sess)
		}
		var pick []string
		for _, s := range sess.Subscriptions {
			if !s.Owner {
				t.Fatalf("admin not Owner of %s: %s", s.DisplayName, s.Reason)
			}
			pick = append(pick, s.ID)
		}
		tenant, results, err := svc.Access.ConsentComplete(ctx, sess.ID, "Contoso", pick[:2])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Error != "" || len(r.Roles) == 0 {
				t.Fatalf("result %+v", r)
			}
		}
		// Steward's service principal now holds exactly Tag Contributor and
		// Cost Management Reader on the two chosen subscriptions.
		app := svc.Azure.AppIdentity(contoso.ID)
		sp, err := svc.Azure.PrincipalID(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
		for i, sub := range pick {
			as, err := svc.Azure.RoleAssignments(ctx, stewardtest.Identity(contoso.ID, reader), "/subscriptions/"+sub, sp)
			if err != nil {
				t.Fatal(err)
			}
			var roles []string
			for _, a := range as {
				roles = append(roles, strings.ToLower(a.RoleDefinitionID))
			}
			slices.Sort(roles)
			want := []string{}
			if i < 2 {
				want = []string{steward.BuiltInTagContributor, steward.BuiltInCostManagementReader}
				slices.Sort(want)
			}
			if !slices.Equal(roles, want) {
				t.Fatalf("roles on %s: %v, want %v", sub, roles, want)
			}
		}
		// Those two roles are exactly what the default level needs.
		rep, err := svc.Access.Validate(ctx, tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Subscriptions {
			if s.Verdict != steward.VerdictFine {
				t.Fatalf("after consent, %s: %+v", s.DisplayName, s)
			}
		}
		// The session and its token are gone once used.
		if _, err := svc.Access.ConsentSession(ctx, sess.ID); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Fatalf("consent session after completion: %v", err)
		}
		// Each assignment is audited with the consenting user as actor.
		evs, _, err := db.AuditList(ctx, everything, steward.AuditFilter{TenantID: tenant.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		assigned := 0
		for _, ev := range evs {
			if strings.Contains(ev.Action, "role") && ev.Actor == "azure:"+admin.UserPrincipalName {
				assigned++
			}
		}
		if assigned < 4 {
			t.Fatalf("%d role assignment events by the consenting user", assigned)
		}
	})
}

func TestDeclinedConsentLeavesNothing(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, _ := e.Connection().Tenant(emulator.ContosoTenantName)
	u, err := svc.Access.ConsentStart(ctx, contoso.ID, "connect", callback)
	if err != nil {
		t.Fatal(err)
	}
	answer := stewardtest.Consent(t, e, u, contoso.Users[0].UserPrincipalName, false)
	if answer.Get("error") == "" {
		t.Fatalf("declining answered %v", answer)
	}
	_, err = svc.Access.ConsentCallback(ctx, answer.Get("state"), answer.Get("code"), answer.Get("error"), answer.Get("error_description"))
	if steward.ErrorCode(err) != steward.EFORBIDDEN {
		t.Fatalf("declined consent: %v", err)
	}
	if ts, _ := db.TenantList(ctx, everything); len(ts) != 0 {
		t.Fatalf("declined consent stored %d tenants", len(ts))
	}
	// The answer cannot be replayed.
	if _, err := svc.Access.ConsentCallback(ctx, answer.Get("state"), "code", "", ""); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("replayed state: %v", err)
	}
}

// TestSecretNeverLeaks connects a tenant with a known secret, works with it,
// then searches the database file, the logs and the audit log for it.
func TestSecretNeverLeaks(t *testing.T) {
	e, path := stewardtest.Emulator(t, emulator.Config{})
	dir := t.TempDir()
	db := storetest.OpenURL(t, "sqlite:"+filepath.Join(dir, "steward.db"))
	var logs bytes.Buffer
	log := slog.New(steward.LogHandler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc := stewardtest.NewServices(t, db, path, log)
	ctx := stewardtest.Admin(t.Context())
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Access.Validate(ctx, tenant.ID); err != nil {
		t.Fatal(err)
	}
	runs, err := svc.Inventory.SyncTenant(ctx, tenant.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Inventory.RunSync(steward.NewSystemContext(ctx), runs[0].ID); err != nil {
		t.Fatal(err)
	}
	// A wrong secret's error names no secret either.
	bad := stewardtest.Credential(writer)
	bad.Secret = steward.Secret(writer.ClientSecret + "x")
	_, _, err = svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Wrong", Read: bad})
	if err == nil || strings.Contains(err.Error(), writer.ClientSecret) {
		t.Fatalf("error with a wrong secret: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "steward.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(writer.ClientSecret)) {
			t.Fatalf("the secret is in %s", f)
		}
	}
	if strings.Contains(logs.String(), writer.ClientSecret) {
		t.Fatal("the secret is in the logs")
	}
}

func TestRevokeWriteOffAndRotate(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := db.CredentialList(ctx, everything, tenant.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("credentials: %v, %v", creds, err)
	}

	// Rotation with overlap to a certificate the customer added to the app.
	certPEM := newCertificate(t, e, writer.ClientID)
	fresh, err := svc.Access.RotateCredential(ctx, creds[0].ID, &steward.CredentialInput{ClientID: writer.ClientID, Certificate: steward.Secret(certPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Status != steward.CredentialActive || fresh.Kind != steward.CredentialCertificate {
		t.Fatalf("after rotation: %+v", fresh)
	}
	old, err := db.CredentialGet(ctx, everything, creds[0].ID)
	if err != nil || old.Status == steward.CredentialActive {
		t.Fatalf("old credential after rotation: %+v, %v", old, err)
	}
	if rep, err := svc.Access.Validate(ctx, tenant.ID); err != nil || !rep.Identities[0].OK || rep.Identities[0].ClientID != writer.ClientID {
		t.Fatalf("validation with the new credential: %+v, %v", rep, err)
	}

	// Revocation (a): write access off, proved by Steward's own state.
	proof, err := svc.Access.Revoke(ctx, tenant.ID, steward.RevokeWriteOff)
	if err != nil || !proof.Verified {
		t.Fatalf("write-off proof: %+v, %v", proof, err)
	}
	got, err := db.TenantGet(ctx, everything, tenant.ID)
	if err != nil || got.WriteEnabled {
		t.Fatalf("tenant after write-off: %+v, %v", got, err)
	}
	// (b) as commands for the customer, naming the exact assignments.
	cmds, err := svc.Access.RevocationCommands(ctx, tenant.ID, steward.RevokeRoles)
	if err != nil || len(cmds) == 0 || !strings.Contains(strings.Join(cmds, "\n"), "az role assignment delete") {
		t.Fatalf("revocation commands: %v, %v", cmds, err)
	}
}

// newCertificate makes a self-signed certificate, registers it on the app
// in the emulator (as the customer would in Entra) and returns certificate
// and key as PEM.
func newCertificate(t *testing.T, e *emulator.Emulator, appID string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048) // Entra takes RSA certificates
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "steward-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddAppCertificate(appID, der); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
}

func ptr[T any](v T) *T { return &v }

// TestExpiryWarningsAndReminders moves a clock through a credential's life
// and checks which alerts reach a real webhook, and that each goes once.
func TestExpiryWarningsAndReminders(t *testing.T) {
	e, path := stewardtest.Emulator(t, emulator.Config{})
	db := storetest.Open(t, store.SQLite)
	svc := stewardtest.NewServices(t, db, path, nil)
	var (
		mu    sync.Mutex
		kinds []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a steward.Alert
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		kinds = append(kinds, a.Kind)
		mu.Unlock()
	}))
	defer hook.Close()
	alerts, err := notify.New(notify.Config{Webhooks: []notify.Webhook{{URL: hook.URL, Secret: "hook-secret"}}, HTTPClient: hook.Client()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	acc, err := access.New(access.Config{Store: db, Azure: svc.Azure, Box: svc.Keys, Inventory: svc.Inventory, Notifier: alerts, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := stewardtest.Admin(t.Context())
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	cred := stewardtest.Credential(writer)
	cred.ExpiresAt = now.AddDate(0, 0, 40)
	if _, _, err := acc.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: cred}); err != nil {
		t.Fatal(err)
	}
	got := func() []string { mu.Lock(); defer mu.Unlock(); k := slices.Clone(kinds); kinds = nil; return k }
	got() // the connection's own alerts
	step := func(days int, want ...string) {
		t.Helper()
		mu.Lock()
		now = now.AddDate(0, 0, days)
		mu.Unlock()
		if _, err := acc.CheckExpiry(steward.NewSystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		if _, err := acc.Remind(steward.NewSystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		k := got()
		slices.Sort(k)
		slices.Sort(want)
		if !slices.Equal(k, want) {
			t.Fatalf("after %d more days: alerts %v, want %v", days, k, want)
		}
	}
	step(1)                                           // 39 days left
	step(10, "credential_expiring")                   // 29 left: the 30-day warning
	step(1)                                           // sent once
	step(16, "credential_expiring")                   // 13 left
	step(7, "credential_expiring", "review_activity") // 6 left; a month since connecting
	step(6, "credential_expired")                     // 0 left: expired
	step(2)                                           // said once
	step(60, "review_activity", "review_permissions") // quarterly
}

// TestBadConnectionsAreAuditedAndLeaveNothing tries the mistakes people
// make: each gets a clear message, nothing is stored, and each attempt is
// in the audit log.
func TestBadConnectionsAreAuditedAndLeaveNothing(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	wrong := stewardtest.Credential(writer)
	wrong.Secret = "wrong"
	cases := []struct {
		name string
		in   steward.ServicePrincipalInput
		code string
		says string
	}{
		{"not a tenant id", steward.ServicePrincipalInput{TenantID: "contoso.com", Name: "C", Read: stewardtest.Credential(writer)}, steward.EINVALID, "GUID"},
		{"no name", steward.ServicePrincipalInput{TenantID: contoso.ID, Read: stewardtest.Credential(writer)}, steward.EINVALID, "name"},
		{"wrong secret", steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "C", Read: wrong}, steward.EUNAUTHORIZED, "secret"},
		{"unknown tenant", steward.ServicePrincipalInput{TenantID: "00000000-0000-0000-0000-00000000abcd", Name: "C", Read: stewardtest.Credential(writer)}, "", ""},
	}
	for _, c := range cases {
		_, _, err := svc.Access.ConnectServicePrincipal(ctx, c.in)
		if err == nil || (c.code != "" && steward.ErrorCode(err) != c.code) || !strings.Contains(strings.ToLower(steward.ErrorMessage(err)), strings.ToLower(c.says)) {
			t.Errorf("%s: %v (code %s)", c.name, err, steward.ErrorCode(err))
		}
	}
	if ts, _ := db.TenantList(ctx, everything); len(ts) != 0 {
		t.Fatalf("%d tenants stored", len(ts))
	}
	evs, _, err := db.AuditList(ctx, everything, steward.AuditFilter{Action: "tenant.connect", Limit: 10})
	if err != nil || len(evs) != len(cases) {
		t.Fatalf("%d audited attempts for %d, %v", len(evs), len(cases), err)
	}
	for _, ev := range evs {
		if ev.Outcome != steward.OutcomeFailure {
			t.Fatalf("attempt audited as %s", ev.Outcome)
		}
	}
}

// TestRevokeRolesWithProof removes Steward's roles through a fresh consent
// and checks, with Steward's own tokens, that the access is gone.
func TestRevokeRolesWithProof(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, _ := e.Connection().Tenant(emulator.ContosoTenantName)
	admin := contoso.Users[0].UserPrincipalName
	consent := func(purpose string) *steward.ConsentSession {
		t.Helper()
		u, err := svc.Access.ConsentStart(ctx, contoso.ID, purpose, callback)
		if err != nil {
			t.Fatal(err)
		}
		a := stewardtest.Consent(t, e, u, admin, true)
		sess, err := svc.Access.ConsentCallback(ctx, a.Get("state"), a.Get("code"), a.Get("error"), a.Get("error_description"))
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := consent("connect")
	tenant, _, err := svc.Access.ConsentComplete(ctx, sess.ID, "Contoso", contoso.Subscriptions)
	if err != nil {
		t.Fatal(err)
	}
	// Before the roles are removed, nothing is proven.
	proof, err := svc.Access.Revoke(ctx, tenant.ID, steward.RevokeRoles)
	if err != nil || proof.Verified {
		t.Fatalf("proof with roles still assigned: %+v, %v", proof, err)
	}
	sess = consent("revoke")
	for _, s := range sess.Subscriptions {
		if !s.Connected {
			t.Fatalf("revocation consent: %s not shown as connected", s.DisplayName)
		}
	}
	if _, results, err := svc.Access.ConsentComplete(ctx, sess.ID, "", contoso.Subscriptions); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range results {
			if r.Error != "" {
				t.Fatalf("removing roles: %+v", r)
			}
		}
	}
	proof, err = svc.Access.Revoke(ctx, tenant.ID, steward.RevokeRoles)
	if err != nil || !proof.Verified {
		t.Fatalf("proof after removing roles: %+v, %v", proof, err)
	}
	got, err := db.TenantGet(ctx, everything, tenant.ID)
	if err != nil || got.Status != steward.TenantRevokedVerified || got.WriteEnabled {
		t.Fatalf("tenant after revocation: %+v, %v", got, err)
	}
	if _, err := svc.Inventory.SyncNow(ctx, contoso.Subscriptions[0]); steward.ErrorCode(err) != steward.ECONFLICT {
		t.Fatalf("sync after revocation: %v", err)
	}
}

func TestPartnerAdminLink(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Access.SetPartnerID(ctx, tenant.ID, "12ab"); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("bad MPN ID: %v", err)
	}
	for _, id := range []string{"1234567", "7654321"} {
		got, err := svc.Access.SetPartnerID(ctx, tenant.ID, id)
		if err != nil || got.PALPartnerID != id {
			t.Fatalf("partner %s: %+v, %v", id, got, err)
		}
		link, err := svc.Azure.PartnerGet(ctx, stewardtest.Identity(contoso.ID, writer))
		if err != nil || link.PartnerID != id {
			t.Fatalf("Azure's link: %+v, %v", link, err)
		}
	}
	evs, _, _ := db.AuditList(ctx, everything, steward.AuditFilter{Action: "tenant.partner_link", Limit: 10})
	if len(evs) < 2 {
		t.Fatalf("%d partner link events", len(evs))
	}
}

// TestLeastPrivilegeRole derives the custom role a tenant needs from what
// its subscriptions' levels use.
func TestLeastPrivilegeRole(t *testing.T) {
	e, _, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)})
	if err != nil {
		t.Fatal(err)
	}
	role := func() (actions []string, scopes []string) {
		t.Helper()
		b, _, err := svc.Access.LeastPrivilegeRole(ctx, tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Actions, AssignableScopes []string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r.Actions, r.AssignableScopes
	}
	actions, scopes := role()
	if !slices.Contains(actions, "Microsoft.Resources/tags/write") || !slices.Contains(actions, "Microsoft.CostManagement/query/read") || len(scopes) != len(contoso.Subscriptions) {
		t.Fatalf("read-write-tags everywhere: %v on %v", actions, scopes)
	}
	for _, a := range actions {
		if strings.Contains(a, "*") {
			t.Fatalf("wildcard in a least-privilege role: %s", a)
		}
	}
	for _, s := range contoso.Subscriptions {
		if _, err := svc.Inventory.SetSyncLevel(ctx, s, steward.SyncReadTags); err != nil {
			t.Fatal(err)
		}
	}
	if actions, _ = role(); slices.Contains(actions, "Microsoft.Resources/tags/write") {
		t.Fatalf("read-tags everywhere still asks to write: %v", actions)
	}
}

// TestRotateThroughGraph rotates a secret Steward may manage itself: add a
// new one through Graph, prove it works, switch, remove the old one — after
// which the old secret no longer signs in.
func TestRotateThroughGraph(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	northwind, app := stewardtest.Principal(t, e, emulator.NorthwindTenantName, emulator.NorthwindStewardApp)
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: northwind.ID, Name: "Northwind", Read: stewardtest.Credential(app)})
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := db.CredentialList(ctx, everything, tenant.ID)
	fresh, err := svc.Access.RotateCredential(ctx, creds[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Status != steward.CredentialActive || fresh.ExpiresAt.Before(time.Now().AddDate(0, 11, 0)) || fresh.ExpiresAt.After(time.Now().AddDate(2, 0, 1)) {
		t.Fatalf("new credential %+v", fresh)
	}
	if err := svc.Azure.CheckIdentity(ctx, stewardtest.Identity(northwind.ID, app)); steward.ErrorCode(err) != steward.EUNAUTHORIZED {
		t.Fatalf("the retired secret still signs in: %v", err)
	}
	rep, err := svc.Access.Validate(ctx, tenant.ID)
	if err != nil || !rep.Identities[0].OK {
		t.Fatalf("after rotation: %+v, %v", rep, err)
	}
}

// TestRevokeByDeletingTheApp is revocation (c): the customer deletes the
// app registration Steward signs in with; Steward proves with a fresh sign-in
// that the identity is gone.
func TestRevokeByDeletingTheApp(t *testing.T) {
	e, db, svc, ctx := fixture(t, storetest.Open(t, store.SQLite))
	northwind, app := stewardtest.Principal(t, e, emulator.NorthwindTenantName, emulator.NorthwindStewardApp)
	tenant, _, err := svc.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: northwind.ID, Name: "Northwind", Read: stewardtest.Credential(app)})
	if err != nil {
		t.Fatal(err)
	}
	if proof, err := svc.Access.Revoke(ctx, tenant.ID, steward.RevokeIdentity); err != nil || proof.Verified {
		t.Fatalf("proof while the app exists: %+v, %v", proof, err)
	}
	cmds, err := svc.Access.RevocationCommands(ctx, tenant.ID, steward.RevokeIdentity)
	if err != nil || len(cmds) != 1 || !strings.Contains(cmds[0], "az ad app delete --id "+app.ClientID) {
		t.Fatalf("commands: %v, %v", cmds, err)
	}
	// The customer deletes the app (here with the app's own right to manage
	// itself, through Graph as the SDK would).
	stewardtest.GraphDelete(t, e, northwind.ID, app, "/v1.0/applications(appId='"+app.ClientID+"')")
	proof, err := svc.Access.Revoke(ctx, tenant.ID, steward.RevokeIdentity)
	if err != nil || !proof.Verified {
		t.Fatalf("proof after deleting the app: %+v, %v", proof, err)
	}
	if got, _ := db.TenantGet(ctx, everything, tenant.ID); got.Status != steward.TenantRevokedVerified {
		t.Fatalf("tenant %+v", got)
	}
}

// everything is the scope of Steward's own jobs, for tests that read the
// store directly to check what a service did.
var everything = steward.SystemActor.Scope(steward.PermInventoryRead)

// TestConsentInAnotherTenantIsRefused: an operator who may manage only
// Northwind starts "Connect a tenant" with the tenant left empty and
// Contoso's admin consents. Nothing is assigned in Contoso,
// no tenant is recorded, and the refusal is audited on Contoso.
func TestConsentInAnotherTenantIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, svc, _ := fixture(t, db)
		contoso, _ := e.Connection().Tenant(emulator.ContosoTenantName)
		northwind, _ := e.Connection().Tenant(emulator.NorthwindTenantName)
		ctx := steward.NewContextWithActor(t.Context(), &steward.Actor{UserID: 7, Name: "nora",
			Grants: []steward.Grant{{Role: steward.RoleOperator, Tenants: []string{northwind.ID}}}})
		u, err := svc.Access.ConsentStart(ctx, "", "connect", callback)
		if err != nil {
			t.Fatal(err)
		}
		answer := stewardtest.Consent(t, e, u, contoso.Users[0].UserPrincipalName, true)
		_, err = svc.Access.ConsentCallback(ctx, answer.Get("state"), answer.Get("code"), answer.Get("error"), answer.Get("error_description"))
		if steward.ErrorCode(err) != steward.EFORBIDDEN {
			t.Fatalf("consent in Contoso by a Northwind operator: %v", err)
		}
		if _, err := db.TenantGet(t.Context(), everything, contoso.ID); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Fatalf("Contoso recorded: %v", err)
		}
		sp, err := svc.Azure.PrincipalID(t.Context(), svc.Azure.AppIdentity(contoso.ID))
		if err != nil {
			t.Fatal(err)
		}
		_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
		for _, sub := range contoso.Subscriptions {
			as, err := svc.Azure.RoleAssignments(t.Context(), stewardtest.Identity(contoso.ID, reader), "/subscriptions/"+sub, sp)
			if err != nil || len(as) != 0 {
				t.Fatalf("assignments on %s: %v, %v", sub, as, err)
			}
		}
		evs, _, err := db.AuditList(t.Context(), everything, steward.AuditFilter{Action: "tenant.consent_refused", TenantID: contoso.ID, Limit: 10})
		if err != nil || len(evs) != 1 || evs[0].Outcome != steward.OutcomeDenied || evs[0].Actor != "nora" {
			t.Fatalf("refusals audited: %+v, %v", evs, err)
		}
	})
}
