package secrets_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/secrets"
)

// fileBundle is a keyring on a key file in a fresh data directory.
type fileBundle struct {
	dir  string
	path string
	k    *secrets.Keyring
}

func setupFile(t *testing.T) *fileBundle {
	t.Helper()
	dir := t.TempDir()
	return &fileBundle{dir: dir, path: filepath.Join(dir, secrets.DefaultFileName), k: mustKeyring(t, secrets.Config{DataDir: dir})}
}

func skipOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix file modes")
	}
}

func TestKeyFileCreatedOnFirstUse(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)

	dir := filepath.Join(t.TempDir(), "data", "nested")
	var logs syncBuffer
	k := mustKeyring(t, secrets.Config{DataDir: dir, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if !k.Created() {
		t.Error("Created() = false for a new key file")
	}
	if k.Current() != 1 || !slices.Equal(k.Versions(), []int{1}) {
		t.Errorf("versions %v current %d, want [1] 1", k.Versions(), k.Current())
	}
	path := filepath.Join(dir, "keys.json")
	if k.Path() != path {
		t.Errorf("Path = %s, want %s", k.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode = %04o, want 0700", di.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "back it up") {
		t.Errorf("no warning to back the new file up in logs: %s", logs.String())
	}

	// The file holds version 1 with a 32-byte key, and a second keyring on
	// the same directory reads it rather than creating another.
	var kf struct {
		Format int
		Keys   []struct {
			Version int
			Key     []byte
		}
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	if kf.Format != 1 || len(kf.Keys) != 1 || kf.Keys[0].Version != 1 || len(kf.Keys[0].Key) != secrets.KeySize {
		t.Errorf("key file = %+v", kf)
	}
	if strings.Contains(logs.String(), string(b)) || strings.Contains(logs.String(), strings.Split(string(b), `"key": "`)[1][:20]) {
		t.Error("logs hold key material")
	}
	k2 := mustKeyring(t, secrets.Config{DataDir: dir})
	if k2.Created() {
		t.Error("second keyring created the file again")
	}
	sealed := mustSeal(t, k, "s", "a")
	if got := mustOpen(t, k2, sealed, "a"); got != "s" {
		t.Errorf("Open = %q", got)
	}
}

// TestKeyFileCreatedOnceUnderRace starts several keyrings at once on an
// empty data directory: they must all end up with the same key.
func TestKeyFileCreatedOnceUnderRace(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	const n = 8
	rings := make([]*secrets.Keyring, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := secrets.NewKeyring(secrets.Config{DataDir: dir, Logger: discard()})
			if err != nil {
				t.Errorf("NewKeyring: %v", err)
			}
			rings[i] = k
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	created := 0
	sealed := mustSeal(t, rings[0], "s", "a")
	for _, k := range rings {
		if k.Created() {
			created++
		}
		mustOpen(t, k, sealed, "a")
	}
	if created != 1 {
		t.Errorf("%d keyrings created the file, want 1", created)
	}
}

func TestKeyFilePermissions(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)

	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o640, false},
		{0o604, false},
		{0o644, false},
		{0o660, false},
		{0o602, false},
		{0o620, false},
		{0o666, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			t.Parallel()
			b := setupFile(t)
			if err := os.Chmod(b.path, tt.mode); err != nil {
				t.Fatal(err)
			}
			// At start-up, and when a running keyring reloads.
			_, errNew := secrets.NewKeyring(secrets.Config{DataDir: b.dir, Logger: discard()})
			errReload := b.k.Reload()
			_, errRotate := b.k.Rotate()
			for name, err := range map[string]error{"NewKeyring": errNew, "Reload": errReload, "Rotate": errRotate} {
				if tt.ok {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				wantError(t, err, steward.EINVALID, fmt.Sprintf("has mode %04o", tt.mode))
				wantError(t, err, steward.EINVALID, "chmod 600 "+b.path)
			}
		})
	}

	t.Run("key list file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte(keyList(t, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := secrets.NewKeyring(secrets.Config{KeysFile: path})
		wantError(t, err, steward.EINVALID, "has mode 0644")
	})
}

func TestKeyFileNotRegular(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "keys.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := secrets.NewKeyring(secrets.Config{DataDir: dir})
	wantError(t, err, steward.EINVALID, "not a regular file")
}

func TestKeyFileMalformed(t *testing.T) {
	t.Parallel()

	key := strings.Repeat("A", 43) + "=" // 32 zero bytes in base64
	tests := []struct {
		name    string
		content string
		msg     string
	}{
		{"not JSON", "{nope", "not valid JSON"},
		{"newer format", `{"format":2,"keys":[{"version":1,"key":"` + key + `"}]}`, "format 2"},
		{"no keys", `{"format":1,"keys":[]}`, "holds no keys"},
		{"version 0", `{"format":1,"keys":[{"version":0,"key":"` + key + `"}]}`, "has version 0"},
		{"short key", `{"format":1,"keys":[{"version":1,"key":"AAAA"}]}`, "not 32 bytes"},
		{"not base64", `{"format":1,"keys":[{"version":1,"key":"!!!"}]}`, "not 32 bytes"},
		{"version twice", `{"format":1,"keys":[{"version":1,"key":"` + key + `"},{"version":1,"key":"` + key + `"}]}`, "version 1 twice"},
		{"key list in keys.json", "1:" + key, "holds a key list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keys.json"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := secrets.NewKeyring(secrets.Config{DataDir: dir})
			wantError(t, err, steward.EINVALID, tt.msg)
			wantNoLeak(t, err.Error(), key)
		})
	}
}

func TestKeyList(t *testing.T) {
	t.Parallel()

	k1, k2 := strings.Repeat("A", 43)+"=", strings.Repeat("B", 43)+"="
	urlKey := strings.Repeat("_", 43) // raw URL-safe base64, 32 bytes
	tests := []struct {
		name     string
		list     string
		current  int
		versions []int
		want     int
		msg      string
	}{
		{name: "one", list: "1:" + k1, versions: []int{1}, want: 1},
		{name: "highest is current", list: "2:" + k2 + ",1:" + k1, versions: []int{1, 2}, want: 2},
		{name: "spaces and newlines", list: " 1:" + k1 + " ,\n 7:" + k2 + "\n", versions: []int{1, 7}, want: 7},
		{name: "URL-safe base64", list: "1:" + urlKey, versions: []int{1}, want: 1},
		{name: "pinned current", list: "1:" + k1 + ",2:" + k2, current: 1, versions: []int{1, 2}, want: 1},
		{name: "pinned current missing", list: "1:" + k1, current: 2, msg: "no such key version"},
		{name: "empty", list: " , ", msg: "holds no keys"},
		{name: "no version", list: k1, msg: "Entry 1 of STEWARD_KEYS"},
		{name: "version 0", list: "0:" + k1, msg: "Entry 1 of STEWARD_KEYS"},
		{name: "negative version", list: "1:" + k1 + ",-2:" + k2, msg: "Entry 2 of STEWARD_KEYS"},
		{name: "short key", list: "1:" + k1[:20], msg: "Key version 1 in STEWARD_KEYS is not 32 bytes"},
		{name: "long key", list: "1:" + k1 + k2, msg: "not 32 bytes"},
		{name: "not base64", list: "1:" + strings.Repeat("*", 44), msg: "not 32 bytes"},
		{name: "version twice", list: "1:" + k1 + ",1:" + k2, msg: "version 1 twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := secrets.NewKeyring(secrets.Config{Keys: steward.Secret(tt.list), Current: tt.current})
			if tt.msg != "" {
				wantError(t, err, steward.EINVALID, tt.msg)
				wantNoLeak(t, err.Error(), k1, k2, k1[:20], urlKey)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.Versions(), tt.versions) || k.Current() != tt.want {
				t.Errorf("versions %v current %d, want %v %d", k.Versions(), k.Current(), tt.versions, tt.want)
			}
			if v := mustVersion(t, k, mustSeal(t, k, "s", "a")); v != tt.want {
				t.Errorf("sealed under %d, want %d", v, tt.want)
			}
			if k.Path() != "" || k.Created() {
				t.Errorf("Path %q Created %v for a key list", k.Path(), k.Created())
			}
		})
	}
}

func TestEnvKeyringIsReadOnly(t *testing.T) {
	t.Parallel()

	k, list := envKeyring(t, 1, 2)
	_, err := k.Rotate()
	wantError(t, err, steward.ECONFLICT, "add it to the list as version 3")
	wantError(t, err, steward.ECONFLICT, "STEWARD_KEYS")
	wantError(t, k.Remove(1), steward.ECONFLICT, "delete version 1 from the list")
	if err := k.Reload(); err != nil {
		t.Errorf("Reload of an env keyring: %v", err)
	}
	out := fmt.Sprintf("%v %+v %#v %s", k, k, k, k)
	wantNoLeak(t, out, keysOf(list)...)
	if !strings.Contains(out, "STEWARD_KEYS (versions [1 2], current 2)") {
		t.Errorf("keyring prints as %q", out)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()

	t.Run("keys and keys file", func(t *testing.T) {
		t.Parallel()
		_, err := secrets.NewKeyring(secrets.Config{Keys: "1:x", KeysFile: "/k"})
		wantError(t, err, steward.EINVALID, "not both")
	})
	t.Run("keys file missing", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing.json")
		_, err := secrets.NewKeyring(secrets.Config{KeysFile: path})
		wantError(t, err, steward.ENOTFOUND, "does not exist")
		if _, err := os.Stat(path); err == nil {
			t.Error("NewKeyring created an explicit KeysFile")
		}
	})
	t.Run("current with key file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := secrets.NewKeyring(secrets.Config{DataDir: dir, Current: 1})
		wantError(t, err, steward.EINVALID, "applies only to a key list")
		if _, err := os.Stat(filepath.Join(dir, "keys.json")); err == nil {
			t.Error("NewKeyring created a key file for a config it refused")
		}
	})
	t.Run("FromEnv", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"STEWARD_KEYS": "1:abc", "STEWARD_KEYS_FILE": "/run/secrets/keys", "STEWARD_KEYS_CURRENT": "3"}
		var c secrets.Config
		if err := c.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatal(err)
		}
		if c.Keys.Reveal() != "1:abc" || c.KeysFile != "/run/secrets/keys" || c.Current != 3 {
			t.Errorf("config = %+v", c)
		}
		env["STEWARD_KEYS_CURRENT"] = "three"
		wantError(t, c.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }), steward.EINVALID, "STEWARD_KEYS_CURRENT")
	})
	t.Run("CreateKeyFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "elsewhere.json")
		if err := secrets.CreateKeyFile(path); err != nil {
			t.Fatal(err)
		}
		wantError(t, secrets.CreateKeyFile(path), steward.ECONFLICT, "already exists")
		k := mustKeyring(t, secrets.Config{KeysFile: path})
		if k.Created() {
			t.Error("Created() for an existing KeysFile")
		}
		if _, err := k.Rotate(); err != nil {
			t.Errorf("Rotate of a JSON KeysFile: %v", err)
		}
	})
	t.Run("NewKeyListEntry", func(t *testing.T) {
		t.Parallel()
		_, err := secrets.NewKeyListEntry(0)
		wantError(t, err, steward.EINVALID, "")
		e, err := secrets.NewKeyListEntry(4)
		if err != nil || !strings.HasPrefix(e, "4:") {
			t.Fatalf("NewKeyListEntry(4) = %q, %v", e, err)
		}
	})
}

func TestRotate(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)

	b := setupFile(t)
	before := mustSeal(t, b.k, "before", "credential:1")
	for want := 2; want <= 4; want++ {
		v, err := b.k.Rotate()
		if err != nil || v != want {
			t.Fatalf("Rotate = %d, %v; want %d", v, err, want)
		}
	}
	if b.k.Current() != 4 || !slices.Equal(b.k.Versions(), []int{1, 2, 3, 4}) {
		t.Errorf("versions %v current %d", b.k.Versions(), b.k.Current())
	}
	after := mustSeal(t, b.k, "after", "credential:2")
	if v := mustVersion(t, b.k, after); v != 4 {
		t.Errorf("sealed under %d after Rotate, want 4", v)
	}
	if got := mustOpen(t, b.k, before, "credential:1"); got != "before" {
		t.Errorf("old secret opens as %q", got)
	}

	// The file is still private, holds every version, and no temporary
	// file is left behind.
	fi, err := os.Stat(b.path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file after Rotate: %v, %v", fi, err)
	}
	entries, _ := os.ReadDir(b.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"keys.json", "keys.json.lock"}) {
		t.Errorf("data directory holds %v", names)
	}
	fresh := mustKeyring(t, secrets.Config{DataDir: b.dir})
	if fresh.Current() != 4 || mustOpen(t, fresh, before, "credential:1") != "before" {
		t.Errorf("a keyring read from the file after Rotate: %v", fresh)
	}
}

// TestReloadPicksUpRotation is the server's side of `steward keys rotate`:
// another keyring (another process) rotates the shared file.
func TestReloadPicksUpRotation(t *testing.T) {
	t.Parallel()

	b := setupFile(t)
	server := b.k
	cli := mustKeyring(t, secrets.Config{DataDir: b.dir})
	if _, err := cli.Rotate(); err != nil {
		t.Fatal(err)
	}
	fromCLI := mustSeal(t, cli, "new", "a")

	// The server opens a secret under the new version without being told.
	if got := mustOpen(t, server, fromCLI, "a"); got != "new" {
		t.Errorf("Open = %q", got)
	}
	if server.Current() != 2 {
		t.Errorf("server current %d after it met version 2, want 2", server.Current())
	}

	// After another rotation it seals with the new version at once: Seal
	// sees that the file changed.
	if _, err := cli.Rotate(); err != nil {
		t.Fatal(err)
	}
	if v := mustVersion(t, server, mustSeal(t, server, "x", "a")); v != 3 {
		t.Errorf("sealed under %d after another process rotated, want 3", v)
	}

	// Removal reaches the server at its next Reload.
	if err := cli.Remove(1); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(server.Versions(), []int{2, 3}) {
		t.Errorf("server versions %v after Remove(1), want [2 3]", server.Versions())
	}
}

// TestReloadAfterRotateAndRetire is a server that slept through a rotation
// and the retirement of its current version: it moves on to the new one.
func TestReloadAfterRotateAndRetire(t *testing.T) {
	t.Parallel()

	b := setupFile(t)
	cli := mustKeyring(t, secrets.Config{DataDir: b.dir})
	if _, err := cli.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := cli.Remove(1); err != nil {
		t.Fatal(err)
	}
	if err := b.k.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if b.k.Current() != 2 || !slices.Equal(b.k.Versions(), []int{2}) {
		t.Errorf("server %v, want versions [2] current 2", b.k)
	}
}

// TestSealKeepsKeysWhenFileBreaks checks that a key file gone bad under a
// running server does not stop it sealing with the keys it has.
func TestSealKeepsKeysWhenFileBreaks(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)

	dir := t.TempDir()
	var logs syncBuffer
	k := mustKeyring(t, secrets.Config{DataDir: dir, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	path := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	sealed := mustSeal(t, k, "s", "a")
	if v := mustVersion(t, k, sealed); v != 1 {
		t.Errorf("sealed under %d, want 1", v)
	}
	if got := mustOpen(t, k, sealed, "a"); got != "s" {
		t.Errorf("Open = %q", got)
	}
	if !strings.Contains(logs.String(), "cannot reload keys") {
		t.Errorf("no warning logged: %s", logs.String())
	}
	wantError(t, k.Reload(), steward.EINVALID, "not valid JSON")
}

func TestReloadRefusesReplacedFile(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		replace func(t *testing.T, b *fileBundle)
		code    string
		msg     string
	}{
		{"another keyring's file", func(t *testing.T, b *fileBundle) {
			other := setupFile(t)
			copyFile(t, other.path, b.path)
		}, steward.ECONFLICT, "different key"},
		{"backup from before the rotation", func(t *testing.T, b *fileBundle) {
			backup := filepath.Join(t.TempDir(), "keys.json")
			copyFile(t, b.path, backup)
			if _, err := b.k.Rotate(); err != nil {
				t.Fatal(err)
			}
			copyFile(t, backup, b.path)
		}, steward.ECONFLICT, "no longer holds key version 2"},
		{"deleted", func(t *testing.T, b *fileBundle) {
			if err := os.Remove(b.path); err != nil {
				t.Fatal(err)
			}
		}, steward.ENOTFOUND, "does not exist"},
		{"emptied", func(t *testing.T, b *fileBundle) {
			if err := os.WriteFile(b.path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, steward.EINVALID, "holds no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupFile(t)
			sealed := mustSeal(t, b.k, "s", "a")
			tt.replace(t, b)
			versions := b.k.Versions()
			wantError(t, b.k.Reload(), tt.code, tt.msg)
			_, err := b.k.Rotate()
			wantError(t, err, tt.code, tt.msg)
			// The keys in use are untouched.
			if !slices.Equal(b.k.Versions(), versions) || mustOpen(t, b.k, sealed, "a") != "s" {
				t.Errorf("keys changed after a refused reload: %v", b.k)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()

	b := setupFile(t)
	wantError(t, b.k.Remove(1), steward.ECONFLICT, "current")
	wantError(t, b.k.Remove(9), steward.ENOTFOUND, "no key version 9")
	if _, err := b.k.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := b.k.Remove(1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.k.Versions(), []int{2}) {
		t.Errorf("versions %v", b.k.Versions())
	}
	if v := mustKeyring(t, secrets.Config{DataDir: b.dir}).Versions(); !slices.Equal(v, []int{2}) {
		t.Errorf("file holds versions %v, want [2]", v)
	}
}

// TestKeyListFile covers STEWARD_KEYS_FILE holding a key list, as a mounted
// Docker or Kubernetes secret does: read-only, but re-read by Reload.
func TestKeyListFile(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "steward-keys")
	e1, _ := secrets.NewKeyListEntry(1)
	e2, _ := secrets.NewKeyListEntry(2)
	if err := os.WriteFile(path, []byte(e1+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	k := mustKeyring(t, secrets.Config{KeysFile: path})
	if _, err := k.Rotate(); steward.ErrorCode(err) != steward.ECONFLICT {
		t.Errorf("Rotate of a key list file: %v, want conflict", err)
	}

	// A replica that already has version 2 seals with it; this one opens
	// the blob once the mounted file has it.
	other := mustKeyring(t, secrets.Config{Keys: steward.Secret(e1 + "," + e2)})
	sealed := mustSeal(t, other, "s", "a")
	_, err := k.Open(sealed, []byte("a"))
	wantError(t, err, steward.EINVALID, "key version 2")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(e1+"\n"+e2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustOpen(t, k, sealed, "a"); got != "s" {
		t.Errorf("Open = %q", got)
	}
	if k.Current() != 2 {
		t.Errorf("current %d, want 2", k.Current())
	}
}

// TestConcurrentSealOpenRotate runs Seal, Open and Rewrap in many
// goroutines while the key file is rotated under them, from this keyring
// and from another one on the same file. Run it with -race.
func TestConcurrentSealOpenRotate(t *testing.T) {
	t.Parallel()

	b := setupFile(t)
	server := b.k
	cli := mustKeyring(t, secrets.Config{DataDir: b.dir})
	old := mustSeal(t, server, "old", "credential:0")

	const (
		workers   = 8
		perWorker = 50
		rotations = 5
	)
	fromCLI := make(chan []byte, rotations)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ad := fmt.Sprintf("credential:%d", w+1)
			for i := range perWorker {
				want := fmt.Sprintf("secret %d/%d", w, i)
				if err := roundTrip(server, want, ad); err != nil {
					t.Error(err)
				}
				if got, err := server.Open(old, []byte("credential:0")); err != nil || string(got) != "old" {
					t.Errorf("Open(old) = %q, %v", got, err)
				}
				re, err := server.Rewrap(old, []byte("credential:0"))
				if err != nil {
					t.Errorf("Rewrap: %v", err)
				} else if got, err := server.Open(re, []byte("credential:0")); err != nil || string(got) != "old" {
					t.Errorf("Open(rewrapped) = %q, %v", got, err)
				}
				if i%10 == 0 {
					if err := server.Reload(); err != nil {
						t.Errorf("Reload: %v", err)
					}
				}
			}
		})
	}
	// Blobs sealed by the other keyring right after it rotated must open
	// on the server at once.
	wg.Go(func() {
		defer close(done)
		for sealed := range fromCLI {
			if got, err := server.Open(sealed, []byte("cli")); err != nil || string(got) != "from cli" {
				t.Errorf("Open(from cli) = %q, %v", got, err)
			}
		}
	})
	for range rotations {
		if _, err := server.Rotate(); err != nil {
			t.Errorf("server Rotate: %v", err)
		}
		if _, err := cli.Rotate(); err != nil {
			t.Errorf("cli Rotate: %v", err)
		}
		fromCLI <- mustSeal(t, cli, "from cli", "cli")
	}
	close(fromCLI)
	<-done
	wg.Wait()

	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*rotations; server.Current() != want || len(server.Versions()) != want {
		t.Errorf("versions %v current %d, want 1..%d", server.Versions(), server.Current(), want)
	}
}

// TestConcurrentRotateLosesNoKey rotates the same file from several
// keyrings at once, as two `steward keys rotate` runs would: each new
// version must survive, or a secret sealed under a lost one could never
// be opened again.
func TestConcurrentRotateLosesNoKey(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no file lock on Windows")
	}

	dir := t.TempDir()
	const rings, each = 4, 5
	ks := make([]*secrets.Keyring, rings)
	for i := range ks {
		ks[i] = mustKeyring(t, secrets.Config{DataDir: dir})
	}
	type sealedBy struct {
		version int
		blob    []byte
	}
	results := make(chan sealedBy, rings*each)
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Go(func() {
			for range each {
				v, err := k.Rotate()
				if err != nil {
					t.Errorf("Rotate: %v", err)
					return
				}
				blob, err := k.Seal([]byte("s"), []byte("a"))
				if err != nil {
					t.Errorf("Seal: %v", err)
					return
				}
				results <- sealedBy{v, blob}
			}
		})
	}
	wg.Wait()
	close(results)

	final := mustKeyring(t, secrets.Config{DataDir: dir})
	if want := 1 + rings*each; len(final.Versions()) != want || final.Current() != want {
		t.Fatalf("file holds versions %v, want 1..%d", final.Versions(), want)
	}
	seen := map[int]bool{}
	for r := range results {
		if seen[r.version] {
			t.Errorf("version %d handed out twice", r.version)
		}
		seen[r.version] = true
		if got := mustOpen(t, final, r.blob, "a"); got != "s" {
			t.Errorf("Open = %q", got)
		}
	}
}

// TestLogsHoldNoKeys runs a rotation cycle with logging on and looks for
// key material in what was logged.
func TestLogsHoldNoKeys(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	k := mustKeyring(t, secrets.Config{DataDir: dir, Logger: log})
	cli := mustKeyring(t, secrets.Config{DataDir: dir, Logger: log})
	if _, err := cli.Rotate(); err != nil {
		t.Fatal(err)
	}
	var kf struct{ Keys []struct{ Key string } }
	raw, _ := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err := json.Unmarshal(raw, &kf); err != nil || len(kf.Keys) != 2 {
		t.Fatalf("key file: %v, %d keys", err, len(kf.Keys))
	}
	mustOpen(t, k, mustSeal(t, cli, plainSecret, "a"), "a")
	if err := cli.Remove(1); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	log.Info("keyring", "keyring", k)
	_, err := k.Open([]byte("stw\x01\x00\x00\x00\x01"+strings.Repeat("x", 100)), []byte("a"))
	log.Error("open failed", "error", err)

	forbidden := []string{plainSecret}
	for _, key := range kf.Keys {
		forbidden = append(forbidden, key.Key, key.Key[:16])
	}
	wantNoLeak(t, logs.String(), forbidden...)
	for _, want := range []string{"rotated", "removed", "reloaded", `"key_version":2`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// roundTrip seals and opens plaintext; safe to call from any goroutine.
func roundTrip(k *secrets.Keyring, plaintext, ad string) error {
	sealed, err := k.Seal([]byte(plaintext), []byte(ad))
	if err != nil {
		return fmt.Errorf("Seal: %w", err)
	}
	got, err := k.Open(sealed, []byte(ad))
	if err != nil {
		return fmt.Errorf("Open: %w", err)
	}
	if string(got) != plaintext {
		return fmt.Errorf("Open = %q, want %q", got, plaintext)
	}
	return nil
}
