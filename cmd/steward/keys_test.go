package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
)

// TestKeysRotateWithoutDowntime rotates the key-encryption key under a
// running portal: every stored secret is re-wrapped, the running server
// keeps opening them, and the old key can then be retired.
func TestKeysRotateWithoutDowntime(t *testing.T) {
	t.Parallel()
	e, cloud := stewardtest.Emulator(t, emulator.Config{})
	dir := t.TempDir()
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir, Cloud: cloud, SessionLifetime: time.Hour, AdminPassword: "first admin password"},
		Stdout: &strings.Builder{}, Log: slog.New(slog.DiscardHandler), Hasher: testHasher,
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := stewardtest.Admin(context.Background())
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	tenant, _, err := m.Access.ConnectServicePrincipal(ctx, steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso",
		Read: stewardtest.Credential(reader), Write: ptr(stewardtest.Credential(writer))})
	if err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"STEWARD_DATA": dir}
	code, out, errOut := cli(t, env, "", "keys", "status")
	if code != 0 || !strings.Contains(out, "version 1: 2 secrets") {
		t.Fatalf("keys status: %d %s %s", code, out, errOut)
	}
	code, out, errOut = cli(t, env, "", "keys", "rotate")
	if code != 0 || !strings.Contains(out, "New key version 2") || !strings.Contains(out, "2 secrets re-wrapped") {
		t.Fatalf("keys rotate: %d %s %s", code, out, errOut)
	}
	code, out, errOut = cli(t, env, "", "keys", "retire", "1")
	if code != 0 || !strings.Contains(out, "Key version 1 removed") {
		t.Fatalf("keys retire: %d %s %s", code, out, errOut)
	}
	// The running server opens the re-wrapped secrets with the new key.
	rep, err := m.Access.Validate(ctx, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range rep.Identities {
		if !id.OK {
			t.Fatalf("after rotation: %+v", id)
		}
	}
	if code, out, _ := cli(t, env, "", "keys", "status"); code != 0 || !strings.Contains(out, "version 2: 2 secrets") || strings.Contains(out, "version 1") {
		t.Fatalf("keys status after: %s", out)
	}
	// Each re-wrap is audited, and the chain holds.
	if code, out, _ := cli(t, env, "", "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %s", out)
	}
}

func ptr[T any](v T) *T { return &v }

// TestReplicaWithoutTheKeysRefusesToStart: a server whose keys cannot open
// the stored secrets (a replica started without the shared key file) says
// how to share them and does not start, nor leave a key of its own behind.
func TestReplicaWithoutTheKeysRefusesToStart(t *testing.T) {
	t.Parallel()
	e, cloud := stewardtest.Emulator(t, emulator.Config{})
	dir := t.TempDir()
	start := func() (*Main, error) {
		m := &Main{
			Config: Config{Addr: "127.0.0.1:0", DataDir: dir, Cloud: cloud, SessionLifetime: time.Hour, AdminPassword: "first admin password"},
			Stdout: &strings.Builder{}, Log: slog.New(slog.DiscardHandler), Hasher: testHasher,
		}
		err := m.Run(context.Background())
		return m, err
	}
	m, err := start()
	if err != nil {
		t.Fatal(err)
	}
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	if _, _, err := m.Access.ConnectServicePrincipal(stewardtest.Admin(context.Background()), steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(writer)}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	keyFile := filepath.Join(dir, "keys.json")
	shared, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(keyFile)

	m, err = start()
	if err == nil {
		m.Close()
		t.Fatal("a server without the keys started")
	}
	if !strings.Contains(err.Error(), "cannot open 1 of the 1 stored secrets") || !strings.Contains(err.Error(), "copy keys.json") {
		t.Fatalf("refusal: %v", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("the refused server left a key file: %v", err)
	}
	m.Close()
	if err := os.WriteFile(keyFile, shared, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = start()
	if err != nil {
		t.Fatalf("with the shared keys: %v", err)
	}
	m.Close()
}
