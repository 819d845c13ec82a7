package steward_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestMatchAction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.Compute/virtualMachines/write", true},
		{"*/read", "Microsoft.Compute/virtualMachines/read", true},
		{"*/read", "Microsoft.Compute/virtualMachines/write", false},
		{"Microsoft.Authorization/*", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write", false},
		{"microsoft.resources/TAGS/*", "Microsoft.Resources/tags/write", true}, // case-insensitive
		{"Microsoft.Resources/tags/*", "Microsoft.Resources/tagsX/write", false},
		{"Microsoft.Storage/storageAccounts/listKeys/action", "Microsoft.Storage/storageAccounts/listkeys/action", true},
		{"Microsoft.Storage/*/action", "Microsoft.Storage/storageAccounts/listKeys/action", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"", "", true},
		{"", "x", false},
		{"**", "anything/at/all", true},
	}
	for _, tc := range tests {
		if got := steward.MatchAction(tc.pattern, tc.action); got != tc.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

func TestRolePermissionNotActions(t *testing.T) {
	t.Parallel()
	contributor := steward.RoleDefinition{Permissions: []steward.RolePermission{{
		Actions:    []string{"*"},
		NotActions: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"},
	}}}
	if !contributor.Allows("Microsoft.Compute/virtualMachines/write") {
		t.Error("Contributor cannot write a VM")
	}
	if contributor.Allows("Microsoft.Authorization/roleAssignments/write") {
		t.Error("Contributor can assign roles")
	}
	if contributor.HasDataActions() {
		t.Error("Contributor has data actions")
	}
}

func TestActorAccess(t *testing.T) {
	t.Parallel()
	a := &steward.Actor{Grants: []steward.Grant{
		{Role: steward.RoleViewer},
		{Role: steward.RoleTagEditor, Tenants: []string{"t2", "t1"}},
		{Role: steward.RoleAuditor, Tenants: []string{"t1"}},
	}}
	tests := []struct {
		perm   steward.Permission
		tenant string
		want   bool
	}{
		{steward.PermInventoryRead, "", true},
		{steward.PermInventoryRead, "any", true},
		{steward.PermTagsWrite, "t1", true},
		{steward.PermTagsWrite, "t3", false},
		{steward.PermTagsWrite, "", false}, // everywhere needs an unscoped grant
		{steward.PermAuditRead, "t1", true},
		{steward.PermAuditRead, "t2", false},
		{steward.PermUsersManage, "", false},
		{steward.PermTenantsManage, "t1", false},
	}
	for _, tc := range tests {
		if got := a.Can(tc.perm, tc.tenant); got != tc.want {
			t.Errorf("Can(%s, %q) = %v, want %v", tc.perm, tc.tenant, got, tc.want)
		}
	}
	if sc := a.Scope(steward.PermTagsWrite); sc.All() || fmt.Sprint(sc.Tenants()) != "[t1 t2]" || !sc.Allows("T1") || sc.Allows("t3") || sc.Allows("") {
		t.Errorf("Scope(tags.write) = %v %v", sc.All(), sc.Tenants())
	}
	if sc := a.Scope(steward.PermInventoryRead); !sc.All() || !sc.Allows("") {
		t.Error("Scope(inventory.read) is not all tenants")
	}
	if !a.CanSome(steward.PermAuditRead) || a.CanSome(steward.PermUsersManage) {
		t.Error("CanSome is wrong")
	}
	var nobody *steward.Actor
	if nobody.Can(steward.PermInventoryRead, "") || nobody.CanSome(steward.PermInventoryRead) || !nobody.Scope(steward.PermInventoryRead).Empty() {
		t.Error("a nil actor may do something")
	}
	var zero steward.Scope
	if zero.All() || !zero.Empty() || zero.Allows("t1") || zero.Allows("") || zero.AllowsAny([]string{"t1"}) {
		t.Error("the zero scope reaches something")
	}
	if (&steward.Actor{Name: "system"}).Can(steward.PermUsersManage, "") {
		t.Error("an actor named system is the system")
	}
	sys := steward.ActorFromContext(steward.NewSystemContext(t.Context()))
	if !sys.IsSystem() || !sys.Can(steward.PermTagsWrite, "t9") || !sys.Scope(steward.PermAuditRead).All() {
		t.Error("the system actor may not do everything")
	}
}

func TestGrantValidate(t *testing.T) {
	t.Parallel()
	g := steward.Grant{Role: steward.RoleViewer, Tenants: []string{"BBBBBBBB-0000-0000-0000-000000000000", "aaaaaaaa-0000-0000-0000-000000000000", "bbbbbbbb-0000-0000-0000-000000000000"}}
	if err := g.Validate(); err != nil || strings.Join(g.Tenants, ",") != "aaaaaaaa-0000-0000-0000-000000000000,bbbbbbbb-0000-0000-0000-000000000000" {
		t.Fatalf("Validate = %v, tenants %v", err, g.Tenants)
	}
	for _, bad := range []steward.Grant{
		{Role: "root"},
		{Role: steward.RoleAdmin, Tenants: []string{"aaaaaaaa-0000-0000-0000-000000000000"}},
		{Role: steward.RoleViewer, Tenants: []string{"contoso.onmicrosoft.com"}},
	} {
		if steward.ErrorCode(bad.Validate()) != steward.EINVALID {
			t.Errorf("Validate(%+v) accepted", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cause := errors.New("pq: password authentication failed for user steward")
	err := fmt.Errorf("opening: %w", steward.WrapError(steward.EUNAVAILABLE, cause, "The database does not answer."))
	if steward.ErrorCode(err) != steward.EUNAVAILABLE || steward.ErrorMessage(err) != "The database does not answer." {
		t.Fatalf("code %q message %q", steward.ErrorCode(err), steward.ErrorMessage(err))
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause is not reachable with errors.Is")
	}
	plain := errors.New("disk on fire")
	if steward.ErrorCode(plain) != steward.EINTERNAL || steward.ErrorMessage(plain) != "Internal error." {
		t.Fatal("an uncoded error is not internal")
	}
	if steward.ErrorCode(nil) != "" || steward.ErrorMessage(nil) != "" {
		t.Fatal("nil error has a code")
	}
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	var events []*steward.AuditEvent
	prev := ""
	for i := range 3 {
		e := &steward.AuditEvent{ID: int64(i + 1), Time: time.Unix(int64(i), 0), Actor: "a", Action: "x", Outcome: steward.OutcomeSuccess, PrevHash: prev}
		e.With("k", fmt.Sprint(i))
		e.Hash = e.ComputeHash()
		prev = e.Hash
		events = append(events, e)
	}
	var c steward.AuditChain
	for _, e := range events {
		if p := c.Next(e); p != "" {
			t.Fatalf("intact chain: %s", p)
		}
	}
	if n, id, h := c.Checked(); n != 3 || id != 3 || h != events[2].Hash {
		t.Fatalf("Checked = %d %d %s", n, id, h)
	}
	// Field boundaries are unambiguous: moving text between fields changes the hash.
	a := &steward.AuditEvent{Actor: "ab", Action: "c"}
	b := &steward.AuditEvent{Actor: "a", Action: "bc"}
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatal("two different events hash alike")
	}
	events[1].Details["k"] = "changed"
	c = steward.AuditChain{}
	c.Next(events[0])
	if p := c.Next(events[1]); !strings.Contains(p, "changed after it was written") {
		t.Fatalf("edited event: %q", p)
	}
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	a, ha := steward.NewToken(steward.TokenPrefix)
	b, hb := steward.NewToken(steward.TokenPrefix)
	if a == b || ha == hb || !strings.HasPrefix(a, "stw_") || len(a) != 47 || steward.HashToken(a) != ha || len(ha) != 64 {
		t.Fatalf("tokens %q %q, hashes %q %q", a, b, ha, hb)
	}
}

// TestContentHash pins the hash's bytes: the store keeps these hashes, and
// a new formula would make the next sync of every subscription rewrite
// every resource. The values were computed by the first formula.
func TestContentHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    steward.Resource
		want string
	}{
		{steward.Resource{ID: "/subscriptions/x/resourceGroups/RG/providers/Microsoft.Web/sites/app", ResourceGroup: "RG", Name: "app",
			Type: "Microsoft.Web/sites", Location: "westeurope", Tags: map[string]string{"Env": "prod", "owner": "ålice;=:", "": ""}},
			"c3cd6fac1a2ca0499835392dbcb65fc6"},
		{steward.Resource{}, "7c0bee64c61d7bb5f861b9c80fb79c19"},
		{steward.Resource{ID: "é", Tags: map[string]string{}}, "df004cbcbcff43edf452fbdf125869dc"},
	}
	for _, tt := range tests {
		if got := tt.r.ContentHash(); got != tt.want {
			t.Errorf("ContentHash(%+v) = %s, want %s", tt.r, got, tt.want)
		}
	}
	a := steward.Resource{ID: "x", Tags: map[string]string{"env": "prod"}}
	b := steward.Resource{ID: "x", Tags: map[string]string{"Env": "prod"}}
	if a.ContentHash() == b.ContentHash() {
		t.Error("a tag name's new casing left the hash unchanged")
	}
}
