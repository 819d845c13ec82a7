package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/secrets"
	"github.com/stewardhq/steward/store"
)

const keysUsage = `Usage:
  steward keys status              which key versions exist and which secrets use each
  steward keys rotate              add a new key version and re-wrap every secret under it
  steward keys retire VERSION      remove an old key version once no secret uses it

Secrets (customers' client secrets and certificates) are sealed with a data
key per secret, wrapped by a key-encryption key kept in DATA/keys.json (mode
0600) or given in STEWARD_KEYS / STEWARD_KEYS_FILE. Back the key file up
apart from the database: one without the other opens nothing. Rotation needs
no downtime: running servers pick the new version up by themselves.
`

// openKeyring opens the keyring the server uses.
func openKeyring(dataDir string, env func(string) string, log *slog.Logger) (*secrets.Keyring, error) {
	cfg := secrets.Config{DataDir: dataDir, Logger: log}
	if err := cfg.FromEnv(func(k string) (string, bool) { v := env(k); return v, v != "" }); err != nil {
		return nil, err
	}
	return secrets.NewKeyring(cfg)
}

// allCredentials lists every stored credential of every tenant: the keys
// command runs on the server's own machine, as Steward itself.
func allCredentials(ctx context.Context, db *store.DB) ([]*steward.Credential, error) {
	everything := steward.SystemActor.Scope(steward.PermInventoryRead)
	tenants, err := db.TenantList(ctx, everything)
	if err != nil {
		return nil, err
	}
	var out []*steward.Credential
	for _, t := range tenants {
		cs, err := db.CredentialList(ctx, everything, t.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// keysOpenSecrets refuses to serve with keys that cannot open the stored
// secrets: a replica started without the key file the others share would
// otherwise write a key of its own and fail whenever it needs a secret.
func keysOpenSecrets(ctx context.Context, db *store.DB, keys *secrets.Keyring) error {
	creds, err := allCredentials(ctx, db)
	if err != nil {
		return err
	}
	failed, version := 0, 0
	for _, c := range creds {
		if len(c.Sealed) == 0 {
			continue
		}
		if _, err := keys.Open(c.Sealed, c.AssociatedData()); err != nil {
			failed, version = failed+1, c.KeyVersion
		}
	}
	if failed > 0 {
		return fmt.Errorf("the keys of %s cannot open %d of the %d stored secrets (sealed under key version %d). "+
			"Every replica needs the same keys: copy keys.json from a running replica into this one's data directory, "+
			"or give all of them the same STEWARD_KEYS or STEWARD_KEYS_FILE", keys, failed, len(creds), version)
	}
	return nil
}

func runKeys(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, keysUsage)
		return usageError{fmt.Errorf("no subcommand")}
	}
	sub, args := args[0], args[1:]
	s, err := newSettings("steward keys "+sub, args, env, stderr)
	if err != nil {
		return err
	}
	var d dbFlags
	d.define(s)
	if err := s.parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := os.MkdirAll(d.data, 0o700); err != nil {
		return err
	}
	keys, err := openKeyring(d.data, env, log)
	if err != nil {
		return err
	}
	db, err := d.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	creds, err := allCredentials(ctx, db)
	if err != nil {
		return err
	}
	uses := func() map[int]int {
		m := map[int]int{}
		for _, c := range creds {
			if v, err := keys.KeyVersion(c.Sealed); err == nil {
				m[v]++
			}
		}
		return m
	}
	switch sub {
	case "status":
		m := uses()
		fmt.Fprintf(stdout, "Key file: %s\nCurrent version: %d\n", keys.Path(), keys.Current())
		for _, v := range keys.Versions() {
			fmt.Fprintf(stdout, "  version %d: %d secrets\n", v, m[v])
		}
	case "rotate":
		v, err := keys.Rotate()
		if err != nil {
			return err
		}
		rewrapped, failed := 0, 0
		for _, c := range creds {
			if kv, _ := keys.KeyVersion(c.Sealed); kv == v {
				continue
			}
			sealed, err := keys.Rewrap(c.Sealed, c.AssociatedData())
			if err != nil {
				failed++
				fmt.Fprintf(stderr, "credential %d (%s, tenant %s): %s\n", c.ID, c.Purpose, c.TenantID, steward.ErrorMessage(err))
				continue
			}
			c.Sealed, c.KeyVersion = sealed, v
			ev := cliEvent("credential.rewrap", c.ClientID).WithTenant(c.TenantID).With("key_version", fmt.Sprint(v))
			if err := db.CredentialUpdate(ctx, c, ev); err != nil {
				return err
			}
			rewrapped++
		}
		fmt.Fprintf(stdout, "New key version %d is current; %d secrets re-wrapped under it.\n", v, rewrapped)
		if failed > 0 {
			return fmt.Errorf("%d secrets could not be re-wrapped (see above); they still open under their old version", failed)
		}
		var old []string
		for _, ov := range keys.Versions() {
			if ov != v {
				old = append(old, fmt.Sprint(ov))
			}
		}
		if len(old) > 0 {
			fmt.Fprintf(stdout, "Retire the old versions with: steward keys retire %s\n", strings.Join(old, " "))
		}
	case "retire":
		if s.fs.NArg() == 0 {
			return usageError{fmt.Errorf("give the version to retire")}
		}
		m := uses()
		for _, a := range s.fs.Args() {
			var v int
			if _, err := fmt.Sscan(a, &v); err != nil {
				return usageError{fmt.Errorf("%q is not a key version", a)}
			}
			if n := m[v]; n > 0 {
				return fmt.Errorf("key version %d still seals %d secrets; run steward keys rotate first", v, n)
			}
			if err := keys.Remove(v); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Key version %d removed.\n", v)
		}
		versions := keys.Versions()
		sort.Ints(versions)
		fmt.Fprintf(stdout, "Versions left: %v\n", versions)
	default:
		fmt.Fprint(stderr, keysUsage)
		return usageError{fmt.Errorf("unknown subcommand %q", sub)}
	}
	return nil
}
