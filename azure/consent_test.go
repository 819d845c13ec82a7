package azure_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
)

func TestConsentURL(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	u, err := tb.az.ConsentURL(steward.ConsentRequest{TenantID: tb.contoso.ID, RedirectURI: "http://localhost:8080/connect/callback", State: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pu.Scheme+"://"+pu.Host+pu.Path, tb.cf.URL+"/"+tb.contoso.ID+"/oauth2/v2.0/authorize"; got != want {
		t.Errorf("authorize endpoint %s, want %s", got, want)
	}
	want := url.Values{
		"client_id": {tb.cf.App.ClientID}, "response_type": {"code"}, "redirect_uri": {"http://localhost:8080/connect/callback"},
		"response_mode": {"query"}, "scope": {tb.cf.URL + "/user_impersonation"}, "state": {"st-1"}, "prompt": {"consent"},
	}
	if got := pu.Query(); got.Encode() != want.Encode() {
		t.Errorf("query %v, want %v", got, want)
	}
	if strings.Contains(u, "offline_access") {
		t.Error("consent must not ask for offline_access")
	}
	u, err = tb.az.ConsentURL(steward.ConsentRequest{RedirectURI: "http://localhost/callback", State: "s"})
	if err != nil || !strings.HasPrefix(u, tb.cf.URL+"/organizations/oauth2/v2.0/authorize?") {
		t.Errorf("consent URL without a tenant: %s (%v)", u, err)
	}
	_, err = tb.az.ConsentURL(steward.ConsentRequest{TenantID: tb.contoso.ID})
	requireCode(t, err, steward.EINVALID)
}

// TestConsentFlow drives the emulator's sign-in and consent pages as
// Contoso's admin, then uses the delegated token as Steward does when a
// tenant is connected: list subscriptions with ownership, assign Reader to
// Steward's new service principal (twice: the second is a 409 that counts as
// success), read it back as the app, and remove it.
func TestConsentFlow(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	const redirect = "http://localhost:8123/connect/callback"
	u, err := tb.az.ConsentURL(steward.ConsentRequest{TenantID: "organizations", RedirectURI: redirect, State: "state-42"})
	if err != nil {
		t.Fatal(err)
	}
	admin := adminOf(t, tb.contoso)
	code, state := tb.consent(t, ctx, u, admin)
	if code == "" || state != "state-42" {
		t.Fatalf("code %q, state %q", code, state)
	}

	tok, err := tb.az.ConsentExchange(ctx, "organizations", code, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TenantID != tb.contoso.ID || tok.UserID != admin.ObjectID || !strings.EqualFold(tok.UserName, admin.UserPrincipalName) ||
		tok.Token == "" || time.Until(tok.ExpiresAt) < 50*time.Minute || time.Until(tok.ExpiresAt) > 61*time.Minute {
		t.Fatalf("delegated token %+v", tok)
	}
	// The code is single-use.
	_, err = tb.az.ConsentExchange(ctx, "organizations", code, redirect)
	requireCode(t, err, steward.EUNAUTHORIZED)

	subs, owned, err := tb.az.DelegatedSubscriptions(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != len(tb.contoso.Subscriptions) {
		t.Fatalf("admin sees %d subscriptions, want %d", len(subs), len(tb.contoso.Subscriptions))
	}
	for _, s := range subs {
		if !owned[s.ID] {
			t.Errorf("admin should be Owner of %s", s.ID)
		}
	}

	app := tb.az.AppIdentity(tb.contoso.ID)
	sp, err := tb.az.PrincipalID(ctx, app)
	if err != nil {
		t.Fatalf("Steward's service principal after consent: %v", err)
	}
	scope := "/subscriptions/" + tb.sub
	ra, err := tb.az.DelegatedAssignRole(ctx, tok, scope, steward.BuiltInReader, sp)
	if err != nil {
		t.Fatal(err)
	}
	if ra.PrincipalID != sp || ra.RoleDefinitionID != steward.BuiltInReader || !strings.EqualFold(ra.Scope, scope) {
		t.Fatalf("assignment %+v", ra)
	}
	again, err := tb.az.DelegatedAssignRole(ctx, tok, scope, "/providers/Microsoft.Authorization/roleDefinitions/"+steward.BuiltInReader, sp)
	if err != nil {
		t.Fatalf("assigning again: %v", err)
	}
	if !strings.EqualFold(again.ID, ra.ID) {
		t.Errorf("assigning again returned %s, want the existing %s", again.ID, ra.ID)
	}
	seen, err := tb.az.RoleAssignments(ctx, app, scope, sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !strings.EqualFold(seen[0].ID, ra.ID) {
		t.Fatalf("app sees its assignments %+v, want %s", seen, ra.ID)
	}
	groups, err := tb.az.ResourceGroups(ctx, app, tb.sub)
	if err != nil || len(groups) == 0 {
		t.Fatalf("Steward's app reads groups: %d (%v)", len(groups), err)
	}

	if err := tb.az.DelegatedRemoveRole(ctx, tok, ra.ID); err != nil {
		t.Fatal(err)
	}
	seen, err = tb.az.RoleAssignments(ctx, tb.reader, scope, sp)
	if err != nil || len(seen) != 0 {
		t.Fatalf("after removal: %+v (%v)", seen, err)
	}

	expired := *tok
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	_, _, err = tb.az.DelegatedSubscriptions(ctx, &expired)
	requireCode(t, err, steward.EUNAUTHORIZED)
}

func TestAppSecrets(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	// Steward's app in its home tenant holds Application.ReadWrite.OwnedBy
	// and owns itself, so it may manage its own secrets.
	app := tb.az.AppIdentity(tb.cf.App.TenantID)

	before, err := tb.az.AppSecrets(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || before[0].KeyID == "" || before[0].ExpiresAt.IsZero() {
		t.Fatalf("secrets %+v", before)
	}
	expires := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	sec, value, err := tb.az.AppSecretAdd(ctx, app, "steward test", expires)
	if err != nil {
		t.Fatal(err)
	}
	if sec.KeyID == "" || sec.DisplayName != "steward test" || !sec.ExpiresAt.Equal(expires) || value == "" || !strings.HasPrefix(value.Reveal(), sec.Hint) {
		t.Fatalf("new secret %+v", sec)
	}
	// The new secret works.
	fresh := steward.AzureIdentity{TenantID: tb.cf.App.TenantID, ClientID: tb.cf.App.ClientID, Secret: value}
	if err := tb.az.CheckIdentity(ctx, fresh); err != nil {
		t.Fatalf("the new secret does not sign in: %v", err)
	}
	after, err := tb.az.AppSecrets(ctx, app)
	if err != nil || len(after) != len(before)+1 {
		t.Fatalf("after add: %d secrets (%v), want %d", len(after), err, len(before)+1)
	}
	if err := tb.az.AppSecretRemove(ctx, app, sec.KeyID); err != nil {
		t.Fatal(err)
	}
	after, err = tb.az.AppSecrets(ctx, app)
	if err != nil || len(after) != len(before) {
		t.Fatalf("after remove: %d secrets (%v), want %d", len(after), err, len(before))
	}
	requireCode(t, tb.az.AppSecretRemove(ctx, app, sec.KeyID), steward.EINVALID)

	// Contoso's reader has no Graph permission on its app.
	_, err = tb.az.AppSecrets(ctx, tb.reader)
	requireCode(t, err, steward.EFORBIDDEN)
}
