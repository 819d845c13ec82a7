package steward_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

func ptr(s string) *string { return &s }

func TestValidateTags(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range 51 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name, typ string
		tags      map[string]string
		want      string // part of the message; "" when valid
	}{
		{"ok", "Microsoft.Compute/virtualMachines", map[string]string{"env": "prod", "Owner": "alice"}, ""},
		{"51 tags", "Microsoft.Compute/virtualMachines", many, "51 tags; Azure allows at most 50"},
		{"long name", "Microsoft.Compute/virtualMachines", map[string]string{strings.Repeat("n", 513): "v"}, "513 characters; Azure allows at most 512"},
		{"storage name", "Microsoft.Storage/storageAccounts", map[string]string{strings.Repeat("n", 129): "v"}, "at most 128"},
		{"storage name ok", "Microsoft.Storage/storageAccounts", map[string]string{strings.Repeat("n", 128): "v"}, ""},
		{"long value", "Microsoft.Web/sites", map[string]string{"k": strings.Repeat("v", 257)}, "at most 256"},
		{"slash", "Microsoft.Web/sites", map[string]string{"cost/center": "1"}, "does not allow"},
		{"percent", "Microsoft.Web/sites", map[string]string{"100%": "1"}, "does not allow"},
		{"empty name", "Microsoft.Web/sites", map[string]string{" ": "1"}, "empty"},
		{"case duplicates", "Microsoft.Web/sites", map[string]string{"Env": "a", "env": "b"}, "one name to Azure"},
		{"value chars ok", "Microsoft.Web/sites", map[string]string{"k": "<>%&\\?/"}, ""},
	}
	for _, tc := range tests {
		err := steward.ValidateTags("/subscriptions/s/resourceGroups/g/providers/x/y/z", tc.typ, tc.tags)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (steward.ErrorCode(err) != steward.EUNPROCESSABLE || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/subscriptions/s/")):
			t.Errorf("%s: error %v; want %q naming the resource", tc.name, err, tc.want)
		}
	}
}

func TestPlanTagEdit(t *testing.T) {
	t.Parallel()
	res := func(tags map[string]string) *steward.Resource {
		return &steward.Resource{ID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a", Type: "Microsoft.Web/sites", Tags: tags}
	}
	t.Run("merge keeps the existing spelling", func(t *testing.T) {
		p, err := steward.PlanTagEdit(res(map[string]string{"Owner": "bob", "env": "dev"}), &steward.TagEditRequest{Merge: map[string]string{"owner": "alice", "cost": "42"}})
		if err != nil || p == nil {
			t.Fatal(p, err)
		}
		if p.Merge["Owner"] != "alice" || p.Merge["cost"] != "42" || len(p.Merge) != 2 || p.After["Owner"] != "alice" || p.After["env"] != "dev" {
			t.Fatalf("plan %+v", p)
		}
		if *p.Expected["owner"] != "bob" || p.Expected["cost"] != nil {
			t.Fatalf("expected %+v", p.Expected)
		}
		if len(p.Changes) != 2 {
			t.Fatalf("changes %+v", p.Changes)
		}
	})
	t.Run("no change is no plan", func(t *testing.T) {
		p, err := steward.PlanTagEdit(res(map[string]string{"env": "dev"}), &steward.TagEditRequest{Merge: map[string]string{"ENV": "dev"}, Delete: []string{"missing"}})
		if err != nil || p != nil {
			t.Fatal(p, err)
		}
	})
	t.Run("delete ignores case", func(t *testing.T) {
		p, _ := steward.PlanTagEdit(res(map[string]string{"Env": "dev", "x": "1"}), &steward.TagEditRequest{Delete: []string{"env"}})
		if p == nil || len(p.Delete) != 1 || p.Delete[0] != "Env" || len(p.After) != 1 || *p.Expected["env"] != "dev" {
			t.Fatalf("plan %+v", p)
		}
	})
	t.Run("rename case only deletes then merges", func(t *testing.T) {
		p, _ := steward.PlanTagEdit(res(map[string]string{"ENV": "prod"}), &steward.TagEditRequest{Rename: map[string]string{"env": "env"}})
		if p == nil || p.Delete[0] != "ENV" || p.Merge["env"] != "prod" || p.After["env"] != "prod" || len(p.After) != 1 {
			t.Fatalf("plan %+v", p)
		}
		// Already spelled so: nothing to do.
		if p, _ := steward.PlanTagEdit(res(map[string]string{"env": "prod"}), &steward.TagEditRequest{Rename: map[string]string{"ENV": "env"}}); p != nil {
			t.Fatalf("no-op rename planned %+v", p)
		}
	})
	t.Run("rename to another name", func(t *testing.T) {
		p, _ := steward.PlanTagEdit(res(map[string]string{"enviroment": "prod"}), &steward.TagEditRequest{Rename: map[string]string{"enviroment": "environment"}})
		if p == nil || p.Delete[0] != "enviroment" || p.Merge["environment"] != "prod" || p.Expected["environment"] != nil {
			t.Fatalf("plan %+v", p)
		}
	})
	t.Run("result over the limit is refused", func(t *testing.T) {
		tags := map[string]string{}
		for i := range 50 {
			tags[strings.Repeat("t", i+1)] = "v"
		}
		_, err := steward.PlanTagEdit(res(tags), &steward.TagEditRequest{Merge: map[string]string{"one-more": "v"}})
		if steward.ErrorCode(err) != steward.EUNPROCESSABLE || !strings.Contains(err.Error(), "sites/a") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestTagEditRequestValidate(t *testing.T) {
	t.Parallel()
	ids := []string{"/subscriptions/s/resourceGroups/g/providers/a/b/c"}
	for _, tc := range []struct {
		req  steward.TagEditRequest
		want string
	}{
		{steward.TagEditRequest{Resources: ids}, "changes nothing"},
		{steward.TagEditRequest{Merge: map[string]string{"a": "b"}}, "which resources"},
		{steward.TagEditRequest{Resources: ids, Merge: map[string]string{"Env": "x"}, Delete: []string{"env"}}, "both in merge and in delete"},
		{steward.TagEditRequest{Resources: ids, Rename: map[string]string{"a": ""}}, "no new name"},
		{steward.TagEditRequest{Resources: ids, Merge: map[string]string{"": "x"}}, "empty"},
	} {
		if err := tc.req.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
	ok := steward.TagEditRequest{Resources: ids, Rename: map[string]string{"Env": "env"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("case rename refused: %v", err)
	}
}

func TestCheckTagPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		current   map[string]string
		merge     map[string]string
		del       []string
		expected  map[string]*string
		done      bool
		conflicts int
	}{
		{"untouched: go ahead", map[string]string{"owner": "bob"}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": ptr("bob")}, false, 0},
		{"already applied", map[string]string{"owner": "alice"}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": ptr("bob")}, true, 0},
		{"changed meanwhile", map[string]string{"owner": "carol"}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": ptr("bob")}, false, 1},
		{"added meanwhile", map[string]string{"owner": "carol"}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": nil}, false, 1},
		{"deleted meanwhile", map[string]string{}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": ptr("bob")}, false, 1},
		{"delete done", map[string]string{"x": "1"}, nil, []string{"Env"}, map[string]*string{"env": ptr("dev")}, true, 0},
		{"delete pending", map[string]string{"ENV": "dev"}, nil, []string{"Env"}, map[string]*string{"env": ptr("dev")}, false, 0},
		{"case rename pending", map[string]string{"ENV": "prod"}, map[string]string{"env": "prod"}, []string{"ENV"}, map[string]*string{"env": ptr("prod")}, false, 0},
		{"case rename done", map[string]string{"env": "prod"}, map[string]string{"env": "prod"}, []string{"ENV"}, map[string]*string{"env": ptr("prod")}, true, 0},
		{"other keys don't matter", map[string]string{"owner": "alice", "new": "x"}, map[string]string{"owner": "alice"}, nil, map[string]*string{"owner": ptr("bob")}, true, 0},
	}
	for _, tc := range tests {
		done, conflicts := steward.CheckTagPlan(tc.current, tc.merge, tc.del, tc.expected)
		if done != tc.done || len(conflicts) != tc.conflicts {
			t.Errorf("%s: done %v conflicts %+v; want %v, %d", tc.name, done, conflicts, tc.done, tc.conflicts)
		}
	}
}

// FuzzTagValidation: whatever the names and values, validation answers nil
// or steward.EUNPROCESSABLE, and what it lets through is what Azure accepts; a plan
// it lets through keeps the resource within the limits.
func FuzzTagValidation(f *testing.F) {
	for _, seed := range [][2]string{{"environment", "prod"}, {"a/b", "x"}, {"tab\there", "x"}, {"nul\x00", "x"}, {"\xff\xfe", "\xff"}, {" ", ""}, {"Owner", "owner"}, {strings.Repeat("k", 513), "v"}} {
		f.Add(seed[0], seed[1], 3)
	}
	f.Fuzz(func(t *testing.T, name, value string, others int) {
		tags := map[string]string{name: value}
		for i := range others % 60 {
			tags[fmt.Sprintf("k%d", i)] = "v"
		}
		err := steward.ValidateTags("r", "", tags)
		if err != nil {
			if steward.ErrorCode(err) != steward.EUNPROCESSABLE {
				t.Fatalf("%q=%q: %v (code %s)", name, value, err, steward.ErrorCode(err))
			}
			return
		}
		if len(tags) > steward.MaxTagsPerResource || strings.TrimSpace(name) == "" || strings.ContainsAny(name, `<>%&\?/`) ||
			strings.ContainsFunc(name, unicode.IsControl) || utf8.RuneCountInString(name) > steward.MaxTagNameLength || utf8.RuneCountInString(value) > steward.MaxTagValueLength {
			t.Fatalf("%q=%q with %d tags passed validation", name, value, len(tags))
		}
		req := &steward.TagEditRequest{Resources: []string{"r"}, Merge: map[string]string{name: value}}
		if req.Validate() != nil {
			return
		}
		plan, err := steward.PlanTagEdit(&steward.Resource{ID: "r", Tags: map[string]string{"existing": "1"}}, req)
		if err == nil && plan != nil && len(plan.After) > steward.MaxTagsPerResource {
			t.Fatalf("a plan with %d tags", len(plan.After))
		}
	})
}
