package main

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestCLIAccounts drives `steward user` and `steward token` as an operator
// would, on every engine: tokens expire within two years whatever the
// spelling, and a password set at the command line revokes the user's
// tokens.
func TestCLIAccounts(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"STEWARD_DATA": t.TempDir()}
			if engine == store.Postgres {
				env["STEWARD_DATABASE"] = storetest.URL(t, engine)
			}
			if code, out, stderr := cli(t, env, "a long first password\n", "user", "create", "--name", "ops", "--role", "admin", "--password-stdin"); code != 0 {
				t.Fatalf("user create: %d %s %s", code, out, stderr)
			}
			code, _, stderr := cli(t, env, "", "user", "create", "--name", "bad\x00name", "--role", "viewer")
			if code != 1 || !strings.Contains(stderr, "User name must be") {
				t.Fatalf("user create with NUL: %d %s", code, stderr)
			}
			for _, expires := range []string{"213504d", "731d", "17521h", "0", "never", "-1h"} {
				code, out, stderr := cli(t, env, "", "token", "create", "--user", "ops", "--expires", expires)
				if code != 2 || out != "" || !strings.Contains(stderr, "--expires: ") {
					t.Errorf("--expires %s: exit %d, %q %q; want refused", expires, code, out, stderr)
				}
			}
			code, token, stderr := cli(t, env, "", "token", "create", "--user", "ops")
			if code != 0 || !strings.HasPrefix(token, "stw_") || !strings.Contains(stderr, "expires 20") {
				t.Fatalf("token create: %d %q %q", code, token, stderr)
			}
			if code, _, stderr := cli(t, env, "", "token", "create", "--user", "ops", "--expires", "730d"); code != 0 {
				t.Fatalf("token for two years: %d %s", code, stderr)
			}
			code, out, stderr := cli(t, env, "a new password for ops\n", "user", "set-password", "--name", "OPS", "--password-stdin")
			if code != 0 || !strings.Contains(out, "API tokens revoked") {
				t.Fatalf("set-password: %d %s %s", code, out, stderr)
			}
			code, list, _ := cli(t, env, "", "token", "list", "--user", "ops")
			if code != 0 || strings.Count(list, "revoked") != 2 || strings.Contains(list, "active") {
				t.Fatalf("tokens after the new password:\n%s", list)
			}
			if code, _, stderr := cli(t, env, "", "token", "create", "--user", "nobody\xff"); code != 1 || !strings.Contains(stderr, "User not found.") {
				t.Fatalf("token for an impossible name: %d %s", code, stderr)
			}
			code, _, stderr = cli(t, env, "", "token", "revoke", "1")
			if code != 1 || !strings.Contains(stderr, "already revoked") {
				t.Fatalf("revoking a revoked token: %d %s", code, stderr)
			}
		})
	}
}
