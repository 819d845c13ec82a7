package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

var testHasher = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}

// cli runs a command as the binary would and returns its exit status and
// output.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// startMain runs the portal on :0 against the given database.
func startMain(t *testing.T, dataDir, database string) (*Main, *bytes.Buffer) {
	t.Helper()
	out := &bytes.Buffer{}
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dataDir, Database: database, SessionLifetime: time.Hour, AdminPassword: "first admin password"},
		Stdout: out, Log: slog.New(slog.DiscardHandler), Hasher: testHasher,
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, out
}

func httpsGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeAndCLI runs the portal, makes a token with the CLI as an
// operator would, uses it over HTTPS, and verifies the audit log, on every
// engine.
func TestServeAndCLI(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			database := ""
			if engine == store.Postgres {
				database = storetest.URL(t, engine)
			}
			m, out := startMain(t, dir, database)
			if !strings.Contains(out.String(), "Created the first admin") || strings.Contains(out.String(), "first admin password") {
				t.Fatalf("bootstrap output: %q", out.String())
			}
			if code, body := httpsGet(t, m.Server.URL()+"/readyz", ""); code != 200 {
				t.Fatalf("readyz: %d %s", code, body)
			}

			env := map[string]string{"STEWARD_DATA": dir, "STEWARD_DATABASE": database}
			code, token, stderr := cli(t, env, "", "token", "create", "--user", "admin", "--name", "ci", "--expires", "1h")
			token = strings.TrimSpace(token)
			if code != 0 || !strings.HasPrefix(token, "stw_") || !strings.Contains(stderr, "shown this once") {
				t.Fatalf("token create: %d %q %q", code, token, stderr)
			}
			if code, body := httpsGet(t, m.Server.URL()+"/api/v1/me", token); code != 200 || !strings.Contains(body, `"name":"admin"`) {
				t.Fatalf("me with CLI token: %d %s", code, body)
			}
			// The metrics of Azure's traffic and of the inventory's work are wired in.
			code, metrics := httpsGet(t, m.Server.URL()+"/metrics", token)
			for _, want := range []string{`steward_azure_throttled_total{service="arm"} `, `steward_sync_runs_total{outcome="failed"} `,
				`steward_tag_writes_total{outcome="applied"} `, `steward_queue_jobs{`} {
				if code != 200 || !strings.Contains(metrics, want) {
					t.Errorf("/metrics (%d) lacks %s", code, want)
				}
			}
			if code, body := httpsGet(t, m.Server.URL()+"/api/v1/tenants?q=x&state=stale&limit=5", token); code != 200 || !strings.Contains(body, `"items":[]`) {
				t.Errorf("tenants search: %d %s", code, body)
			}
			code, list, _ := cli(t, env, "", "token", "list")
			if code != 0 || !strings.Contains(list, "ci") || strings.Contains(list, token) {
				t.Fatalf("token list: %d %s", code, list)
			}
			code, _, stderr = cli(t, env, "", "token", "revoke", "1")
			if code != 0 {
				t.Fatalf("token revoke: %d %s", code, stderr)
			}
			if code, _ := httpsGet(t, m.Server.URL()+"/api/v1/me", token); code != 401 {
				t.Fatalf("revoked token answered %d", code)
			}
			code, out2, stderr := cli(t, env, "new user password\n", "user", "create", "--name", "ops", "--role", "operator", "--password-stdin")
			if code != 0 || strings.Contains(out2, "new user password") {
				t.Fatalf("user create: %d %s %s", code, out2, stderr)
			}
			code, users, _ := cli(t, env, "", "user", "list")
			if code != 0 || !strings.Contains(users, "ops") || !strings.Contains(users, "operator") {
				t.Fatalf("user list: %d %s", code, users)
			}
			code, verify, _ := cli(t, env, "", "audit", "verify")
			if code != 0 || !strings.Contains(verify, "chain intact") {
				t.Fatalf("audit verify: %d %s", code, verify)
			}
		})
	}
}

// TestAuditVerifyFindsTampering edits the database directly and expects
// `steward audit verify` to exit 1 naming the event, on every engine.
func TestAuditVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			database := ""
			if engine == store.Postgres {
				database = storetest.URL(t, engine)
			}
			env := map[string]string{"STEWARD_DATA": dir, "STEWARD_DATABASE": database}
			for i := range 4 {
				if code, _, stderr := cli(t, env, "", "user", "create", "--name", fmt.Sprint("u", i)); code != 0 {
					t.Fatalf("user create: %s", stderr)
				}
			}
			if code, _, _ := cli(t, env, "", "audit", "verify"); code != 0 {
				t.Fatalf("intact log: exit %d", code)
			}
			db := storetest.OpenURL(t, urlFor(dir, database))
			if engine == store.Postgres {
				storetest.Exec(t, db, `ALTER TABLE audit_events DISABLE TRIGGER USER`)
			} else {
				storetest.Exec(t, db, `DROP TRIGGER audit_events_no_update`)
			}
			storetest.Exec(t, db, `UPDATE audit_events SET target = 'someone-else' WHERE id = 3`)
			code, out, _ := cli(t, env, "", "audit", "verify")
			if code != 1 || !strings.Contains(out, "BROKEN at event 3") {
				t.Fatalf("tampered log: exit %d, %s", code, out)
			}
		})
	}
}

func urlFor(dir, database string) string {
	if database != "" {
		return database
	}
	return "sqlite:" + filepath.Join(dir, "steward.db")
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	if code, _, stderr := cli(t, nil, ""); code != 2 || !strings.Contains(stderr, "Usage: steward COMMAND") {
		t.Fatalf("no command: %d %s", code, stderr)
	}
	if code, _, _ := cli(t, nil, "", "frobnicate"); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
	code, _, stderr := cli(t, nil, "", "serve", "-h")
	if code != 0 {
		t.Fatalf("serve -h: %d", code)
	}
	for _, want := range []string{"-addr", "STEWARD_ADDR", "-data", "-database", "STEWARD_DATABASE", "-insecure-http", "-tls-cert", "-config", "STEWARD_ADMIN_PASSWORD"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve -h does not mention %s", want)
		}
	}
	if code, _, _ := cli(t, nil, "", "serve", "--no-such-flag"); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
	if code, _, _ := cli(t, nil, "", "audit", "verify", "--data", t.TempDir(), "--database", "mysql://x"); code != 2 {
		t.Fatalf("unreadable database: exit %d, want 2", code)
	}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "steward.env")
	os.WriteFile(file, []byte("# comment\nSTEWARD_ADDR=file:1\nSTEWARD_LOG_LEVEL=debug\nexport STEWARD_DATA=\"/from/file\"\n"), 0o600)
	parse := func(env map[string]string, args ...string) Config {
		t.Helper()
		s, err := newSettings("serve", args, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var c Config
		if err := defineServeFlags(s, &c); err != nil {
			t.Fatal(err)
		}
		if err := s.parse(args); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := parse(map[string]string{"STEWARD_ADDR": "env:2"}, "--config", file, "--data", "/from/flag")
	if c.Addr != "env:2" || c.LogLevel != "debug" || c.DataDir != "/from/flag" {
		t.Fatalf("precedence: %+v", c)
	}
	c = parse(map[string]string{"STEWARD_CONFIG": file})
	if c.Addr != "file:1" || c.DataDir != "/from/file" {
		t.Fatalf("STEWARD_CONFIG: %+v", c)
	}
	secretFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(secretFile, []byte("from a file secret\n"), 0o600)
	c = parse(map[string]string{"STEWARD_ADMIN_PASSWORD_FILE": secretFile})
	if c.AdminPassword != "from a file secret" {
		t.Fatalf("secret file: %q", c.AdminPassword)
	}
}
