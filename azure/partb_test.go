package azure_test

// Tests of the services another change is adding to the emulator (Resource
// Graph, Cost Management, Partner Admin Link, Lighthouse). Each skips while
// the emulator does not route its endpoint yet, and runs once it does.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
)

func TestResourcesGraph(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)

	// What ARM lists, for comparison.
	want := map[string]*steward.Resource{}
	for _, sub := range tb.contoso.Subscriptions {
		for page, err := range tb.az.Resources(ctx, tb.reader, sub, "") {
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Resources {
				want[strings.ToLower(r.ID)] = r
			}
		}
	}

	small, err := azure.NewFromConnection(tb.cf, azure.Config{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	got := map[string]*steward.Resource{}
	var resume string
	pages := 0
	for page, err := range small.ResourcesGraph(ctx, tb.reader, tb.contoso.Subscriptions, "") {
		skipIfMissing(t, err)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Resources) > 50 {
			t.Fatalf("page of %d", len(page.Resources))
		}
		for _, r := range page.Resources {
			got[strings.ToLower(r.ID)] = r
		}
		if pages == 2 {
			resume = page.Next
			break // interrupted; resume below from the $skipToken
		}
	}
	if resume == "" {
		t.Fatalf("no $skipToken after page %d of %d resources", pages, len(want))
	}
	for page, err := range small.ResourcesGraph(ctx, tb.reader, tb.contoso.Subscriptions, resume) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Resources {
			k := strings.ToLower(r.ID)
			if got[k] != nil {
				t.Fatalf("%s listed twice", r.ID)
			}
			got[k] = r
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Resource Graph listed %d resources in %d pages, ARM %d", len(got), pages, len(want))
	}
	for k, w := range want {
		g := got[k]
		if g == nil {
			t.Fatalf("Resource Graph misses %s", w.ID)
		}
		if !strings.EqualFold(g.SubscriptionID, w.SubscriptionID) || !strings.EqualFold(g.ResourceGroup, w.ResourceGroup) ||
			g.Name != w.Name || !strings.EqualFold(g.Type, w.Type) || g.Location != w.Location || !maps.Equal(g.Tags, w.Tags) {
			t.Fatalf("Resource Graph %+v, ARM %+v", g, w)
		}
	}
}

func TestCosts(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	to := time.Now().UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -40) // over 1,000 rows: two pages, the second by nextLink
	rows, days := 0, map[time.Time]bool{}
	type key struct {
		day       time.Time
		res, serv string
	}
	seen := map[key]bool{}
	for row, err := range tb.az.Costs(ctx, tb.reader, tb.sub, from, to) {
		skipIfMissing(t, err)
		if err != nil {
			t.Fatal(err)
		}
		rows++
		days[row.Day] = true
		if row.Day.Before(from) || !row.Day.Before(to) || row.SubscriptionID != tb.sub || row.Currency == "" || row.Service == "" {
			t.Fatalf("cost row %+v", row)
		}
		if row.ResourceID != "" && (!strings.Contains(strings.ToLower(row.ResourceID), strings.ToLower(tb.sub)) || row.ResourceGroup == "") {
			t.Fatalf("cost row %+v", row)
		}
		k := key{row.Day, strings.ToLower(row.ResourceID), row.Service}
		if seen[k] {
			t.Fatalf("cost row twice: %+v", row)
		}
		seen[k] = true
	}
	t.Logf("%d cost rows over %d days", rows, len(days))
	if rows <= 1000 {
		t.Errorf("%d cost rows: want more than one page", rows)
	}
}

func TestPartnerAdminLink(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	id := tb.tagger
	_, err := tb.az.PartnerGet(ctx, id)
	skipIfMissing(t, err)
	requireCode(t, err, steward.ENOTFOUND)

	mpn := tb.e.PartnerMPNID()
	p, err := tb.az.PartnerSet(ctx, id, mpn)
	if err != nil {
		t.Fatal(err)
	}
	if p.PartnerID != mpn || p.TenantID != tb.contoso.ID || p.ObjectID == "" {
		t.Fatalf("partner link %+v", p)
	}
	got, err := tb.az.PartnerGet(ctx, id)
	if err != nil || got.PartnerID != mpn {
		t.Fatalf("partner link read back %+v (%v)", got, err)
	}
	// Setting it again (a 409 on PUT) keeps it.
	if p, err = tb.az.PartnerSet(ctx, id, mpn); err != nil || p.PartnerID != mpn {
		t.Fatalf("setting the link again: %+v (%v)", p, err)
	}
	if err := tb.az.PartnerDelete(ctx, id, mpn); err != nil {
		t.Fatal(err)
	}
	_, err = tb.az.PartnerGet(ctx, id)
	requireCode(t, err, steward.ENOTFOUND)
}

// TestRegistrations onboards a Contoso subscription to the partner with a
// Lighthouse delegation (as Contoso's admin, with the delegated token of a
// consent), then lists it: from the customer's side with Registrations, and
// from the partner's side, where Steward's app now sees the subscription.
func TestRegistrations(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	regs, err := tb.az.Registrations(ctx, tb.reader, tb.sub)
	skipIfMissing(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 0 {
		t.Fatalf("registrations before onboarding: %+v", regs)
	}

	// Contoso's admin onboards the subscription.
	const redirect = "http://localhost/connect/callback"
	u, _ := tb.az.ConsentURL(steward.ConsentRequest{TenantID: tb.contoso.ID, RedirectURI: redirect, State: "lh"})
	code, _ := tb.consent(t, ctx, u, adminOf(t, tb.contoso))
	tok, err := tb.az.ConsentExchange(ctx, tb.contoso.ID, code, redirect)
	if err != nil {
		t.Fatal(err)
	}
	partner := tb.az.AppIdentity(tb.cf.App.TenantID)
	stewardSP, err := tb.az.PrincipalID(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	defName, asgName := uuid.NewString(), uuid.NewString()
	defID := "/subscriptions/" + tb.sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + defName
	tb.armPut(t, ctx, tok, defID, map[string]any{"properties": map[string]any{
		"registrationDefinitionName": "Steward", "description": "Managed by Steward", "managedByTenantId": tb.cf.App.TenantID,
		"authorizations": []map[string]any{{"principalId": stewardSP, "principalIdDisplayName": "Steward", "roleDefinitionId": steward.BuiltInReader}},
	}})
	tb.armPut(t, ctx, tok, "/subscriptions/"+tb.sub+"/providers/Microsoft.ManagedServices/registrationAssignments/"+asgName,
		map[string]any{"properties": map[string]any{"registrationDefinitionId": defID}})

	regs, err = tb.az.Registrations(ctx, tb.reader, tb.sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 {
		t.Fatalf("registrations %+v", regs)
	}
	r := regs[0]
	if !strings.HasSuffix(strings.ToLower(r.ID), strings.ToLower(asgName)) || !strings.EqualFold(r.DefinitionID, defID) ||
		!strings.EqualFold(r.Scope, "/subscriptions/"+tb.sub) || r.ManagedByTenantID != tb.cf.App.TenantID || r.OfferName != "Steward" ||
		len(r.Authorizations) != 1 || r.Authorizations[0].PrincipalID != stewardSP || r.Authorizations[0].RoleDefinitionID != steward.BuiltInReader {
		t.Fatalf("registration %+v", r)
	}

	// The partner's side: Steward's app sees the delegated subscription.
	subs, err := tb.az.Subscriptions(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	var found *steward.AzureSubscription
	for _, s := range subs {
		if strings.EqualFold(s.ID, tb.sub) {
			found = s
		}
	}
	if found == nil || found.HomeTenantID != tb.contoso.ID || !slices.Contains(found.ManagedByTenants, tb.cf.App.TenantID) {
		t.Fatalf("partner sees %+v", subs)
	}
	groups, err := tb.az.ResourceGroups(ctx, partner, tb.sub)
	if err != nil || len(groups) == 0 {
		t.Fatalf("partner reads the delegated subscription's groups: %d (%v)", len(groups), err)
	}
}

// armPut PUTs a JSON body to Resource Manager with a delegated token: the
// connector has no call that writes Lighthouse objects, by design.
func (tb *testBundle) armPut(t *testing.T, ctx context.Context, tok *steward.DelegatedToken, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, tb.cf.URL+path+"?api-version=2022-10-01", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := tb.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s\n%s", path, resp.Status, out)
	}
}
