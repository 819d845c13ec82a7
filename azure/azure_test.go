package azure_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
)

func TestNewClouds(t *testing.T) {
	t.Parallel()
	for _, cloud := range []string{"", "public", "usgov", "china"} {
		az, err := azure.New(azure.Config{Cloud: cloud, App: azure.AppConfig{ClientID: "00000000-0000-0000-0000-000000000001"}})
		if err != nil {
			t.Fatalf("cloud %q: %v", cloud, err)
		}
		u, err := az.ConsentURL(steward.ConsentRequest{RedirectURI: "https://steward.example/connect/callback", State: "s"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"": "https://login.microsoftonline.com/organizations/", "public": "https://login.microsoftonline.com/organizations/",
			"usgov": "https://login.microsoftonline.us/organizations/", "china": "https://login.chinacloudapi.cn/organizations/",
		}[cloud]
		if !strings.HasPrefix(u, want) {
			t.Errorf("cloud %q: consent URL %s, want prefix %s", cloud, u, want)
		}
		az.Close()
	}
	_, err := azure.New(azure.Config{Cloud: "/nonexistent/connection.json"})
	requireCode(t, err, steward.EINVALID)
}

func TestCheckIdentity(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)

	t.Run("Ok", func(t *testing.T) {
		if err := tb.az.CheckIdentity(ctx, tb.reader); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		const wrong = "not-the-secret-8Q~xyz"
		bad := tb.reader
		bad.Secret = wrong
		err := tb.az.CheckIdentity(ctx, bad)
		requireCode(t, err, steward.EUNAUTHORIZED)
		msg := steward.ErrorMessage(err)
		if !strings.Contains(msg, "AADSTS7000215") || !strings.Contains(msg, "secret is wrong or expired") {
			t.Errorf("message %q should name AADSTS7000215 and the wrong secret", msg)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), tb.reader.Secret.Reveal()) {
			t.Errorf("error leaks a secret: %v", err)
		}
	})
	t.Run("UnknownApp", func(t *testing.T) {
		bad := tb.reader
		bad.ClientID = "11111111-2222-3333-4444-555555555555"
		requireCode(t, tb.az.CheckIdentity(ctx, bad), steward.EUNAUTHORIZED)
	})
	t.Run("NoSecret", func(t *testing.T) {
		bad := tb.reader
		bad.Secret = ""
		requireCode(t, tb.az.CheckIdentity(ctx, bad), steward.EINVALID)
	})
	t.Run("Certificate", func(t *testing.T) {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "steward test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.e.AddAppCertificate(tb.reader.ClientID, der); err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		pemData := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
		id := steward.AzureIdentity{TenantID: tb.reader.TenantID, ClientID: tb.reader.ClientID, Certificate: steward.Secret(pemData)}
		if err := tb.az.CheckIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		id.Certificate = "not a certificate"
		requireCode(t, tb.az.CheckIdentity(ctx, id), steward.EINVALID)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		eb, _ := x509.MarshalPKCS8PrivateKey(ec)
		id.Certificate = steward.Secret(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: eb})))
		err = tb.az.CheckIdentity(ctx, id)
		requireCode(t, err, steward.EINVALID)
		if !strings.Contains(steward.ErrorMessage(err), "RSA") {
			t.Errorf("message %q", steward.ErrorMessage(err))
		}
	})
	t.Run("ConnectionFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "emulator.json")
		if err := tb.e.WriteConnectionFile(path); err != nil {
			t.Fatal(err)
		}
		az, err := azure.New(azure.Config{Cloud: path})
		if err != nil {
			t.Fatal(err)
		}
		defer az.Close()
		if err := az.CheckIdentity(ctx, tb.reader); err != nil {
			t.Fatal(err)
		}
		// Steward's app comes from the file.
		if got := az.AppIdentity("t").ClientID; got != tb.cf.App.ClientID {
			t.Errorf("app %s, want %s", got, tb.cf.App.ClientID)
		}
	})
	t.Run("PrincipalID", func(t *testing.T) {
		oid, err := tb.az.PrincipalID(ctx, tb.reader)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		for _, sp := range tb.contoso.ServicePrincipals {
			if sp.ClientID == tb.reader.ClientID {
				want = sp.ObjectID
			}
		}
		if oid != want {
			t.Errorf("PrincipalID = %s, want %s", oid, want)
		}
	})
	t.Run("PrincipalIDNotConsented", func(t *testing.T) {
		// Steward's app has no service principal in Contoso before consent.
		_, err := tb.az.PrincipalID(ctx, tb.az.AppIdentity(tb.contoso.ID))
		requireCode(t, err, steward.ENOTFOUND)
	})
}

func TestSubscriptionsAndGroups(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)

	subs, err := tb.az.Subscriptions(ctx, tb.reader)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range subs {
		got = append(got, s.ID)
		if s.HomeTenantID != tb.contoso.ID || s.DisplayName == "" || s.State != "Enabled" {
			t.Errorf("subscription %+v", s)
		}
	}
	want := slices.Clone(tb.contoso.Subscriptions)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("subscriptions = %v, want %v", got, want)
	}

	groups, err := tb.az.ResourceGroups(ctx, tb.reader, tb.sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatal("no resource groups")
	}
	for _, g := range groups {
		if g.SubscriptionID != tb.sub || g.Name == "" || g.Location == "" {
			t.Errorf("group %+v", g)
		}
	}

	// A subscription of another tenant: the reader's token is refused.
	north, _ := tb.cf.Tenant(emulator.NorthwindTenantName)
	_, err = tb.az.ResourceGroups(ctx, tb.reader, north.Subscriptions[0])
	requireCode(t, err, steward.EUNAUTHORIZED)
}

func TestResourcesPaging(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)

	all := map[string]*steward.Resource{}
	for page, err := range tb.az.Resources(ctx, tb.reader, tb.sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Resources {
			all[strings.ToLower(r.ID)] = r
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d resources", len(all))
	}
	for _, r := range all {
		if r.SubscriptionID != tb.sub || r.ResourceGroup == "" || r.Name == "" || r.Type == "" || !strings.Contains(strings.ToLower(r.ID), strings.ToLower("/resourceGroups/"+r.ResourceGroup+"/")) {
			t.Fatalf("resource %+v", r)
		}
	}

	// Page by page with a small page size, stopping after the first page and
	// resuming from its nextLink, as an interrupted sync does.
	small, err := azure.NewFromConnection(tb.cf, azure.Config{PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	var first *steward.ResourcePage
	for page, err := range small.Resources(ctx, tb.reader, tb.sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		first = page
		break
	}
	if len(first.Resources) != 7 || first.Next == "" {
		t.Fatalf("first page: %d resources, next %q", len(first.Resources), first.Next)
	}
	seen := map[string]bool{}
	for _, r := range first.Resources {
		seen[strings.ToLower(r.ID)] = true
	}
	pages := 1
	for page, err := range small.Resources(ctx, tb.reader, tb.sub, first.Next) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Resources) > 7 {
			t.Fatalf("page of %d", len(page.Resources))
		}
		for _, r := range page.Resources {
			k := strings.ToLower(r.ID)
			if seen[k] {
				t.Fatalf("resource %s seen twice", r.ID)
			}
			seen[k] = true
			if !maps.Equal(r.Tags, all[k].Tags) {
				t.Fatalf("tags of %s differ between listings", r.ID)
			}
		}
	}
	if len(seen) != len(all) || pages != (len(all)+6)/7 {
		t.Errorf("resumed listing saw %d resources in %d pages, want %d in %d", len(seen), pages, len(all), (len(all)+6)/7)
	}

	// A resume link elsewhere is refused before any token is sent.
	for _, bad := range []string{"https://evil.example/subscriptions/" + tb.sub + "/resources", tb.cf.URL + "/subscriptions/" + tb.contoso.Subscriptions[1] + "/resources?$skiptoken=x"} {
		for _, err := range tb.az.Resources(ctx, tb.reader, tb.sub, bad) {
			requireCode(t, err, steward.EINVALID)
		}
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	var res *steward.Resource
	for page, err := range tb.az.Resources(ctx, tb.reader, tb.sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		res = page.Resources[0]
		break
	}
	scopes := []string{res.ID, "/subscriptions/" + tb.sub + "/resourceGroups/" + res.ResourceGroup, "/subscriptions/" + tb.sub}
	for _, scope := range scopes {
		before, err := tb.az.TagsGet(ctx, tb.tagger, scope)
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		after, err := tb.az.TagsMerge(ctx, tb.tagger, scope, map[string]string{"steward-test": "one", "steward-test-b": "42"})
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		want := maps.Clone(before)
		if want == nil {
			want = map[string]string{}
		}
		want["steward-test"], want["steward-test-b"] = "one", "42"
		if !maps.Equal(after, want) {
			t.Fatalf("%s: after merge %v, want %v", scope, after, want)
		}
		got, err := tb.az.TagsGet(ctx, tb.reader, scope)
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("%s: get after merge %v (%v), want %v", scope, got, err, want)
		}
		// A value other than Azure's deletes nothing.
		after, err = tb.az.TagsDelete(ctx, tb.tagger, scope, map[string]string{"STEWARD-TEST": "two", "steward-test-b": ""})
		if err != nil || !maps.Equal(after, want) {
			t.Fatalf("%s: after a delete of other values %v (%v), want %v", scope, after, err, want)
		}
		after, err = tb.az.TagsDelete(ctx, tb.tagger, scope, map[string]string{"STEWARD-TEST": "one", "steward-test-b": "42"})
		if err != nil {
			t.Fatal(err)
		}
		if len(before) == 0 && len(after) == 0 {
			continue
		}
		if !maps.Equal(after, before) {
			t.Fatalf("%s: after delete %v, want %v", scope, after, before)
		}
	}

	t.Run("ReaderForbidden", func(t *testing.T) {
		_, err := tb.az.TagsMerge(ctx, tb.reader, res.ID, map[string]string{"x": "y"})
		requireCode(t, err, steward.EFORBIDDEN)
		if msg := steward.ErrorMessage(err); !strings.Contains(msg, "Microsoft.Resources/tags/write") {
			t.Errorf("message %q should name the action", msg)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := tb.az.TagsGet(ctx, tb.tagger, "/subscriptions/"+tb.sub+"/resourceGroups/no-such-group")
		requireCode(t, err, steward.ENOTFOUND)
	})
	t.Run("Invalid", func(t *testing.T) {
		_, err := tb.az.TagsMerge(ctx, tb.tagger, res.ID, map[string]string{"bad<name": "v"})
		requireCode(t, err, steward.EINVALID)
		_, err = tb.az.TagsGet(ctx, tb.tagger, "/providers/Microsoft.Foo")
		requireCode(t, err, steward.EINVALID)
	})
	t.Run("Activity", func(t *testing.T) {
		since := time.Now().Add(-time.Hour)
		acts, err := tb.az.Activity(ctx, tb.reader, tb.sub, since)
		if err != nil {
			t.Fatal(err)
		}
		var writes, refused int
		for _, a := range acts {
			if a.Time.Before(since) || a.Caller == "" || a.Status == "" {
				t.Errorf("activity %+v", a)
			}
			switch {
			// The Tags API's writes are on the scope's tags extension resource.
			case strings.EqualFold(a.Operation, "Microsoft.Resources/tags/write") && strings.EqualFold(a.ResourceID, res.ID+"/providers/Microsoft.Resources/tags/default"):
				if a.Status == "Succeeded" {
					writes++
				} else {
					refused++ // the reader's and the invalid write of the subtests
				}
			}
		}
		if writes < 2 || refused < 1 {
			for _, a := range acts {
				t.Logf("%+v", *a)
			}
			t.Errorf("want the tag writes on %s in the activity log, got %d succeeded and %d refused of %d events", res.ID, writes, refused, len(acts))
		}
		if !slices.IsSortedFunc(acts, func(a, b *steward.AzureActivity) int { return a.Time.Compare(b.Time) }) {
			t.Error("activity not oldest first")
		}
	})
}

func TestPermissionsAndAssignments(t *testing.T) {
	t.Parallel()
	tb := setup(t, emulator.Config{})
	ctx := testContext(t)
	var res *steward.Resource
	for page, err := range tb.az.Resources(ctx, tb.reader, tb.sub, "") {
		if err != nil {
			t.Fatal(err)
		}
		res = page.Resources[len(page.Resources)-1]
		break
	}
	scopes := []string{"/subscriptions/" + tb.sub, "/subscriptions/" + tb.sub + "/resourceGroups/" + res.ResourceGroup, res.ID}
	for _, scope := range scopes {
		perms, err := tb.az.Permissions(ctx, tb.tagger, scope)
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		if !perms.Allows("Microsoft.Resources/tags/write") || perms.Allows("Microsoft.Authorization/roleAssignments/write") {
			t.Errorf("%s: tag contributor permissions %+v", scope, perms)
		}
		perms, err = tb.az.Permissions(ctx, tb.reader, scope)
		if err != nil {
			t.Fatal(err)
		}
		if !perms.Allows("Microsoft.Compute/virtualMachines/read") || perms.Allows("Microsoft.Resources/tags/write") {
			t.Errorf("%s: reader permissions %+v", scope, perms)
		}
	}

	readerOID, err := tb.az.PrincipalID(ctx, tb.reader)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := tb.az.RoleAssignments(ctx, tb.reader, res.ID, readerOID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].RoleDefinitionID != steward.BuiltInReader || !strings.EqualFold(mine[0].Scope, "/subscriptions/"+tb.sub) ||
		mine[0].PrincipalID != readerOID || mine[0].PrincipalType != "ServicePrincipal" || !strings.Contains(mine[0].ID, "/roleAssignments/") {
		t.Errorf("reader's assignments: %+v", mine)
	}
	all, err := tb.az.RoleAssignments(ctx, tb.reader, "/subscriptions/"+tb.sub, "")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]bool{}
	for _, a := range all {
		roles[a.RoleDefinitionID] = true
	}
	if !roles[steward.BuiltInOwner] || !roles[steward.BuiltInReader] || !roles[steward.BuiltInTagContributor] {
		t.Errorf("assignments on the subscription: %+v", all)
	}
}
