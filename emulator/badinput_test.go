package emulator

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := b.tenant(t, ContosoTenantName)
	sub := contoso.Subscriptions[0]
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoTaggerApp), b.e.URL()+"/.default")
	admin := string(b.userToken(t, b.admin(t, ContosoTenantName)))
	graphTok := b.graphToken(t, b.cf.App.TenantID, b.cf.App.ClientID, b.cf.App.ClientSecret)
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	tags := "/subscriptions/" + sub + "/providers/Microsoft.Resources/tags/default"
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "GET", "/subscriptions?api-version=2022-12-01", "", nil, 401, "AuthenticationFailed"},
		{"garbage token", "GET", "/subscriptions?api-version=2022-12-01", "not.a.jwt", nil, 401, "InvalidAuthenticationToken"},
		{"tampered signature", "GET", "/subscriptions?api-version=2022-12-01", tampered, nil, 401, "InvalidAuthenticationTokenSignature"},
		{"graph token on ARM", "GET", "/subscriptions?api-version=2022-12-01", graphTok, nil, 401, "InvalidAuthenticationTokenAudience"},
		{"missing api-version", "GET", "/subscriptions/" + sub + "/resourcegroups", tok, nil, 400, "MissingApiVersionParameter"},
		{"unknown api-version", "GET", "/subscriptions/" + sub + "/resourcegroups?api-version=2099-01-01", tok, nil, 400, "InvalidApiVersionParameter"},
		{"unknown api-version for an extension", "GET", "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments?api-version=2099-01-01", tok, nil, 400, "NoRegisteredProviderFound"},
		{"malformed subscription ID", "GET", "/subscriptions/not-a-guid/resources?api-version=2021-04-01", tok, nil, 400, "InvalidSubscriptionId"},
		{"unknown subscription", "GET", "/subscriptions/00000000-1111-2222-3333-444444444444/resources?api-version=2021-04-01", tok, nil, 404, "SubscriptionNotFound"},
		{"unknown resource group", "GET", "/subscriptions/" + sub + "/resourceGroups/nope/resources?api-version=2021-04-01", tok, nil, 404, "ResourceGroupNotFound"},
		{"unknown namespace", "GET", "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Nope/things/x?api-version=2021-04-01", tok, nil, 400, "InvalidResourceNamespace"},
		{"unknown type", "GET", "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Compute/spaceships/x?api-version=2021-04-01", tok, nil, 400, "InvalidResourceType"},
		{"unknown resource", "GET", "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Compute/virtualMachines/none?api-version=2023-03-01", admin, nil, 404, "ResourceNotFound"},
		{"tags on a missing resource", "GET", "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Compute/virtualMachines/none/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", tok, nil, 404, "ResourceNotFound"},
		{"malformed JSON", "PUT", tags + "?api-version=2021-04-01", tok, `{"properties":{"tags":`, 400, "InvalidRequestContent"},
		{"tags not an object", "PUT", tags + "?api-version=2021-04-01", tok, `{"properties":{"tags":[1,2]}}`, 400, "InvalidRequestContent"},
		{"patch without operation", "PATCH", tags + "?api-version=2021-04-01", tok, `{"properties":{"tags":{}}}`, 400, "InvalidRequestContent"},
		{"patch with a bad operation", "PATCH", tags + "?api-version=2021-04-01", tok, `{"operation":"Frobnicate","properties":{"tags":{}}}`, 400, "InvalidRequestContent"},
		{"invalid tag name", "PUT", tags + "?api-version=2021-04-01", tok, `{"properties":{"tags":{"a<b":"c"}}}`, 400, "InvalidTagNameCharacters"},
		{"group with malformed JSON", "PUT", "/subscriptions/" + sub + "/resourcegroups/rg-x?api-version=2021-04-01", admin, `{"location":`, 400, "InvalidRequestContent"},
		{"group without location", "PUT", "/subscriptions/" + sub + "/resourcegroups/rg-x?api-version=2021-04-01", admin, `{}`, 400, "LocationRequired"},
		{"group with a bad name", "PUT", "/subscriptions/" + sub + "/resourcegroups/rg%2Ax?api-version=2021-04-01", admin, `{"location":"westeurope"}`, 400, "InvalidResourceGroup"},
		{"unknown ARM path", "GET", "/subscriptions/" + sub + "/frobs?api-version=2021-04-01", tok, nil, 404, "InvalidResourceType"},
		{"activity log without filter", "GET", "/subscriptions/" + sub + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01", admin, nil, 400, "BadRequest"},
		{"bad $top", "GET", "/subscriptions/" + sub + "/resources?api-version=2021-04-01&$top=zero", tok, nil, 400, "InvalidTopInQueryString"},
		{"bad $skiptoken", "GET", "/subscriptions/" + sub + "/resources?api-version=2021-04-01&$skiptoken=!!!", tok, nil, 400, "InvalidSkipToken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.expectARMError(t, c.method, c.path, c.token, c.body, c.status, c.code)
		})
	}

	t.Run("expired token", func(t *testing.T) {
		b.clock.Advance(2 * time.Hour)
		defer b.clock.Advance(-2 * time.Hour)
		e := b.expectARMError(t, "GET", "/subscriptions?api-version=2022-12-01", tok, nil, 401, "ExpiredAuthenticationToken")
		if !strings.Contains(e.Error.Message, "is earlier than current UTC time") {
			t.Fatal(e.Error.Message)
		}
	})
	t.Run("graph malformed JSON", func(t *testing.T) {
		var ge struct{ Error struct{ Code string } }
		app := b.cf.App
		var apps struct{ Value []map[string]any }
		b.do(t, "GET", "/v1.0/applications?$filter="+q("appId eq '"+app.ClientID+"'"), graphTok, nil, &apps)
		r := b.do(t, "POST", "/v1.0/applications/"+apps.Value[0]["id"].(string)+"/addPassword", graphTok, `{"passwordCredential":`, &ge)
		if r.StatusCode != 400 || ge.Error.Code != "BadRequest" {
			t.Fatalf("%d %+v", r.StatusCode, ge)
		}
	})
}

// TestNoPanicNoHang throws odd requests at every face and checks that each
// gets an answer in the service's shape, never a 500.
func TestNoPanicNoHang(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	tok := string(b.userToken(t, b.admin(t, ContosoTenantName)))
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"subscriptions", sub, "resourceGroups", "NetworkWatcherRG", "providers", "Microsoft.Resources", "tags", "default",
		"Microsoft.Authorization", "roleAssignments", "roleDefinitions", "permissions", "Microsoft.Compute", "virtualMachines",
		"resources", "tagNames", "locations", "x", "", "..", "%2F", "Microsoft.Insights", "eventtypes", "management", "values",
		"tenants", "v1.0", "applications", "servicePrincipals", "users", "groups", "me", "oauth2", "v2.0", "token", "common", "authorize"}
	bodies := []any{nil, "", "{", "null", `{"properties":null}`, `{"properties":{"tags":null}}`, `[]`, `{"location":5}`, strings.Repeat("x", 3000)}
	methods := []string{"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD"}
	for i := 0; i < 400; i++ {
		n := 1 + rng.IntN(9)
		var p []string
		for j := 0; j < n; j++ {
			p = append(p, segs[rng.IntN(len(segs))])
		}
		path := "/" + strings.Join(p, "/")
		if rng.IntN(3) > 0 {
			path += "?api-version=" + []string{"2021-04-01", "2022-04-01", "2022-12-01", "bogus"}[rng.IntN(4)]
		}
		method := methods[rng.IntN(len(methods))]
		r := b.do(t, method, path, tok, bodies[rng.IntN(len(bodies))], nil)
		if r.StatusCode >= 500 {
			t.Fatalf("%s %s: %d", method, path, r.StatusCode)
		}
		if method != "HEAD" && r.StatusCode >= 400 && strings.Contains(r.Header.Get("Content-Type"), "json") {
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["error"] == nil {
				t.Fatalf("%s %s: %d without an error body", method, path, r.StatusCode)
			}
		}
	}
	// A panic in a handler is answered, not fatal.
	if r := b.do(t, "GET", "/", "", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("index: %d", r.StatusCode)
	}
}

// TestOddResourceNamesListAsJSON: a resource whose name holds a quote is
// listed as valid JSON, with its ID and name as created.
func TestOddResourceNamesListAsJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	admin := string(b.userToken(t, b.admin(t, ContosoTenantName)))
	group := "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG"
	name := `odd"name`
	path := group + "/providers/Microsoft.Network/networkWatchers/" + strings.NewReplacer(`"`, "%22", `\`, "%5C").Replace(name) + "?api-version=2023-09-01"
	resp := b.do(t, "PUT", path, admin, `{"location":"westeurope"}`, nil)
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Value []struct{ ID, Name string } `json:"value"`
	}
	b.do(t, "GET", group+"/resources?api-version=2021-04-01", admin, nil, &list)
	for _, r := range list.Value {
		if r.Name == name {
			if r.ID != group+"/providers/Microsoft.Network/networkWatchers/"+name {
				t.Fatalf("listed ID %q", r.ID)
			}
			return
		}
	}
	t.Fatalf("%q not listed: %+v", name, list.Value)
}
