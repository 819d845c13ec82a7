package secrets

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
)

// Sizes and limits.
const (
	// KeySize is the size of every key-encryption and data key: AES-256.
	KeySize = 32
	// MaxPlaintext is the largest secret Seal takes. A client secret is
	// tens of bytes and a PFX certificate a few KiB.
	MaxPlaintext = 1 << 20
	// MaxVersion is the highest key version; versions start at 1.
	MaxVersion = 1<<31 - 1
	// DefaultFileName is the key file's name in the data directory.
	DefaultFileName = "keys.json"
)

// Environment variables that configure the keyring; see Config.FromEnv.
const (
	EnvKeys        = "STEWARD_KEYS"
	EnvKeysFile    = "STEWARD_KEYS_FILE"
	EnvKeysCurrent = "STEWARD_KEYS_CURRENT"
)

// Config says where the key-encryption keys come from. Set at most one of
// Keys and KeysFile; with neither, the keys are in DataDir/keys.json.
type Config struct {
	// Keys is a key list "1:BASE64,2:BASE64": versions with 32-byte keys in
	// base64, from env STEWARD_KEYS. Such a keyring cannot Rotate; a new
	// version is added to the list and the process restarted. Defaults to
	// empty.
	Keys steward.Secret
	// KeysFile is a key file that must already exist, from env
	// STEWARD_KEYS_FILE: either a JSON key file as Steward writes it (which
	// can Rotate), or a file holding a key list like Keys, such as a mounted
	// Docker or Kubernetes secret (which Reload re-reads). Defaults to
	// empty.
	KeysFile string
	// DataDir holds keys.json when neither Keys nor KeysFile is set; the
	// file is created, with key version 1 and mode 0600, on first use.
	// Defaults to ".".
	DataDir string
	// Current is the key version Seal uses, for a key list only, from env
	// STEWARD_KEYS_CURRENT. Defaults to the highest version. Pin it to roll
	// a new version out to every replica before any of them seals with it.
	Current int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now stamps new keys in a key file. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.DataDir = cmp.Or(c.DataDir, ".")
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.Keys != "" && c.KeysFile != "" {
		return steward.Errorf(steward.EINVALID, "Set %s or %s, not both.", EnvKeys, EnvKeysFile)
	}
	if c.Current < 0 || c.Current > MaxVersion {
		return steward.Errorf(steward.EINVALID, "%s must be a key version from 1 to %d.", EnvKeysCurrent, MaxVersion)
	}
	if c.Current != 0 && c.Keys == "" && c.KeysFile == "" {
		return errCurrentWithFile(filepath.Join(c.DataDir, DefaultFileName))
	}
	return nil
}

func errCurrentWithFile(path string) error {
	return steward.Errorf(steward.EINVALID, "%s applies only to a key list; the key file %s always seals with its newest key.", EnvKeysCurrent, path)
}

// FromEnv fills Keys, KeysFile and Current from STEWARD_KEYS,
// STEWARD_KEYS_FILE and STEWARD_KEYS_CURRENT, where set; lookup is
// os.LookupEnv outside tests. EINVALID when STEWARD_KEYS_CURRENT is not a
// number.
func (c *Config) FromEnv(lookup func(string) (string, bool)) error {
	if v, ok := lookup(EnvKeys); ok {
		c.Keys = steward.Secret(v)
	}
	if v, ok := lookup(EnvKeysFile); ok {
		c.KeysFile = v
	}
	if v, ok := lookup(EnvKeysCurrent); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return steward.Errorf(steward.EINVALID, "%s must be a key version number.", EnvKeysCurrent)
		}
		c.Current = n
	}
	return nil
}

// sourceKind says where a keyring's keys live, which decides whether it can
// Rotate and Reload.
type sourceKind int

const (
	sourceEnv  sourceKind = iota // STEWARD_KEYS: fixed for the process's life
	sourceList                   // a key-list file: Reload re-reads it
	sourceFile                   // a JSON key file: Rotate, Remove and Reload
)

// Keyring holds versioned key-encryption keys and implements
// steward.SecretBox with them. It is safe for concurrent use: Seal, Open,
// KeyVersion and Rewrap read an immutable snapshot of the keys without
// locking, and Rotate, Reload and Remove, or a Seal or Open that finds the
// key file changed, swap in a new one.
type Keyring struct {
	kind   sourceKind
	path   string // the key file; empty for sourceEnv
	pinned int    // Config.Current; 0 means the highest version
	log    *slog.Logger
	now    func() time.Time

	created bool

	// mu serialises Rotate, Reload and Remove within the process; the key
	// file's lock (lockFile) serialises writers across processes.
	mu  sync.Mutex
	set atomic.Pointer[keySet]
}

var _ steward.SecretBox = (*Keyring)(nil)

// NewKeyring loads the keys cfg names, creating DataDir/keys.json when it
// is the source and does not exist yet. EINVALID for a bad config, a
// malformed key list or key file, or a key file that group or others can
// access; ENOTFOUND when KeysFile does not exist; EINTERNAL when the file
// cannot be read or written.
func NewKeyring(cfg Config) (*Keyring, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := &Keyring{pinned: cfg.Current, log: cfg.Logger, now: cfg.Now}
	var (
		l   *loaded
		err error
	)
	switch {
	case cfg.Keys != "":
		k.kind = sourceEnv
		l = &loaded{kind: sourceEnv}
		l.keys, err = parseKeyList(cfg.Keys.Reveal(), EnvKeys)
	case cfg.KeysFile != "":
		k.path = cfg.KeysFile
		l, err = readKeys(k.path)
		if err == nil {
			k.kind = l.kind
		}
	default:
		k.path = filepath.Join(cfg.DataDir, DefaultFileName)
		k.kind = sourceFile
		l, k.created, err = k.openOrCreate()
	}
	if err != nil {
		return nil, err
	}
	if k.kind == sourceFile && k.pinned != 0 {
		return nil, errCurrentWithFile(k.path)
	}
	set, err := newKeySet(l, k.pinned, k.label())
	if err != nil {
		return nil, err
	}
	k.set.Store(set)
	if k.created {
		k.log.Warn("secrets: created a new key file; back it up apart from the database, since without it no stored secret can be read",
			slog.String("path", k.path))
	}
	return k, nil
}

// CreateKeyFile writes a new JSON key file at path holding key version 1,
// mode 0600, for use as Config.KeysFile. ECONFLICT when path exists;
// EINTERNAL when it cannot be written.
func CreateKeyFile(path string) error {
	unlock, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(path); err == nil {
		return steward.Errorf(steward.ECONFLICT, "Key file %s already exists.", path)
	}
	_, err = writeKeyFile(path, []*kek{newKEK(1, time.Now())})
	return err
}

// openOrCreate reads the default key file, creating it under the file lock
// when it does not exist, so that two processes starting at once agree on
// one key.
func (k *Keyring) openOrCreate() (l *loaded, created bool, err error) {
	readJSON := func() (*loaded, error) {
		l, err := readKeys(k.path)
		if err == nil && l.kind != sourceFile {
			return nil, steward.Errorf(steward.EINVALID, "%s holds a key list; Steward keeps its own keys there as JSON. Point %s at a key list instead.", k.path, EnvKeysFile)
		}
		return l, err
	}
	if l, err = readJSON(); !errors.Is(err, fs.ErrNotExist) {
		return l, false, err
	}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return nil, false, steward.WrapError(steward.EINTERNAL, err, "Cannot create the data directory for the key file.")
	}
	unlock, err := lockFile(k.path)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if l, err = readJSON(); !errors.Is(err, fs.ErrNotExist) {
		return l, false, err // another process created it meanwhile
	}
	l = &loaded{kind: sourceFile, keys: []*kek{newKEK(1, k.now())}}
	if l.stamp, err = writeKeyFile(k.path, l.keys); err != nil {
		return nil, false, err
	}
	return l, true, nil
}

// Created reports whether NewKeyring created the key file. A server whose
// database already holds sealed secrets should refuse to start when it is
// true: the key file it expected was lost or is elsewhere, and secrets
// sealed under the new key would depend on a file nobody has backed up.
func (k *Keyring) Created() bool { return k.created }

// Path returns the key file, or "" for a keyring from STEWARD_KEYS.
func (k *Keyring) Path() string { return k.path }

// Current returns the key version Seal uses.
func (k *Keyring) Current() int { return k.set.Load().current.version }

// Versions returns the key versions the keyring holds, in ascending order.
func (k *Keyring) Versions() []int { return slices.Clone(k.set.Load().versions) }

// String describes the keyring for logs and the CLI, without key material.
func (k *Keyring) String() string {
	s := k.set.Load()
	return fmt.Sprintf("%s (versions %v, current %d)", k.label(), s.versions, s.current.version)
}

// GoString keeps %#v to the description String gives.
func (k *Keyring) GoString() string { return k.String() }

// LogValue keeps slog to the description String gives.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// label names the source in messages.
func (k *Keyring) label() string {
	switch k.kind {
	case sourceEnv:
		return EnvKeys
	case sourceList:
		return "key list " + k.path
	default:
		return "key file " + k.path
	}
}

// Rotate adds a new key version to the key file and makes it current, so
// that later Seals and Rewraps use it; older versions stay, so existing
// secrets keep opening. The file is rewritten whole (temporary file, fsync,
// rename, fsync of the directory) under a lock that serialises rotations
// across processes, and the new key is on disk before Rotate returns. It
// returns the new version. ECONFLICT for a key list (the operator adds a
// version there) or when the key file no longer matches the keys in use;
// EINVALID when the file has become malformed; EINTERNAL when it cannot be
// read or written.
func (k *Keyring) Rotate() (int, error) {
	if k.kind != sourceFile {
		vs := k.set.Load().versions
		return 0, steward.Errorf(steward.ECONFLICT,
			"Keys from %s cannot be rotated by Steward: generate a key, add it to the list as version %d, restart Steward, then re-wrap the stored secrets.",
			k.label(), vs[len(vs)-1]+1)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	unlock, err := lockFile(k.path)
	if err != nil {
		return 0, err
	}
	defer unlock()
	l, err := k.readAndCheckLocked()
	if err != nil {
		return 0, err
	}
	next := l.keys[len(l.keys)-1].version + 1
	if next > MaxVersion {
		return 0, steward.Errorf(steward.ECONFLICT, "Key version %d is the last there can be.", MaxVersion)
	}
	l.keys = append(l.keys, newKEK(next, k.now()))
	if err := k.writeLocked(l); err != nil {
		return 0, err
	}
	k.log.Info("secrets: rotated key-encryption key", slog.String("path", k.path), slog.Int("key_version", next))
	return next, nil
}

// Remove deletes a key version from the key file. Secrets still sealed
// under it will no longer open, so the caller must first check, with
// KeyVersion on every stored blob, that none uses it (Rewrap moves them to
// the current version); see the package documentation for when that check
// is safe. Other processes drop the version when they next reload.
// ENOTFOUND when the keyring does not hold the version; ECONFLICT when it
// is the current version, for a key list (edit the list instead), or when
// the key file no longer matches the keys in use; EINTERNAL when the file
// cannot be read or written.
func (k *Keyring) Remove(version int) error {
	if k.kind != sourceFile {
		return steward.Errorf(steward.ECONFLICT, "Keys from %s are not Steward's to remove: delete version %d from the list and restart Steward.", k.label(), version)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	unlock, err := lockFile(k.path)
	if err != nil {
		return err
	}
	defer unlock()
	l, err := k.readAndCheckLocked()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(l.keys, func(kk *kek) bool { return kk.version == version })
	switch {
	case i < 0:
		return steward.Errorf(steward.ENOTFOUND, "The keyring has no key version %d.", version)
	case i == len(l.keys)-1:
		return steward.Errorf(steward.ECONFLICT, "Key version %d is current; rotate to a new version first.", version)
	}
	l.keys = slices.Delete(l.keys, i, i+1)
	if err := k.writeLocked(l); err != nil {
		return err
	}
	k.log.Info("secrets: removed key-encryption key", slog.String("path", k.path), slog.Int("key_version", version))
	return nil
}

// Reload re-reads the key file, so a running server picks up a version
// that `steward keys rotate` added and drops one that `steward keys retire`
// removed. Seal and Open reload by themselves when they see the file has
// changed or meet a newer version, so a server needs Reload only to drop
// retired versions at once or to report a broken file early (on SIGHUP, or
// every few minutes). A keyring from STEWARD_KEYS has nothing to re-read
// and returns nil. On any error the keys in use stay as they were.
// ECONFLICT when the file gives a known version a different key or has
// gone back to older versions (it was replaced, perhaps by an old backup);
// EINVALID when it is malformed or group or others can access it;
// ENOTFOUND when it is gone; EINTERNAL when it cannot be read.
func (k *Keyring) Reload() error {
	if k.kind == sourceEnv {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked("")
}

// reloadLocked re-reads the key file and makes it the keys in use, logging
// a change with why. k.mu is held.
func (k *Keyring) reloadLocked(why string) error {
	l, err := k.readAndCheckLocked()
	if err != nil {
		return err
	}
	old := k.set.Load()
	set, err := newKeySet(l, k.pinned, k.label())
	if err != nil {
		return err
	}
	k.set.Store(set)
	if !slices.Equal(old.versions, set.versions) || old.current.version != set.current.version {
		k.log.Info("secrets: reloaded keys"+why, slog.String("source", k.label()),
			slog.Any("key_versions", set.versions), slog.Int("key_version", set.current.version))
	}
	return nil
}

// readAndCheckLocked reads the key file and checks that it can replace the
// keys in use: same kind, no known version with a different key, and not
// gone back to older versions. k.mu is held.
func (k *Keyring) readAndCheckLocked() (*loaded, error) {
	l, err := readKeys(k.path)
	if err != nil {
		return nil, err
	}
	if l.kind != k.kind {
		return nil, steward.Errorf(steward.ECONFLICT, "%s changed from a key file to a key list or back; restart Steward to use it.", k.path)
	}
	old := k.set.Load()
	for _, kk := range l.keys {
		if o := old.byVersion[kk.version]; o != nil && subtle.ConstantTimeCompare(o.key, kk.key) != 1 {
			return nil, steward.Errorf(steward.ECONFLICT,
				"%s gives key version %d a different key from the one in use; it was replaced (by an old backup, or another keyring?). Restore the file that was in use.",
				k.label(), kk.version)
		}
	}
	// Losing the current version is fine when a newer one replaced it (a
	// rotation and a retirement happened meanwhile), and a sign of an old
	// backup otherwise.
	cur := old.current.version
	if !slices.ContainsFunc(l.keys, func(kk *kek) bool { return kk.version >= cur }) {
		return nil, steward.Errorf(steward.ECONFLICT,
			"%s no longer holds key version %d, the current one, nor any newer; it was replaced (by an old backup?). Restore the file that was in use.",
			k.label(), cur)
	}
	return l, nil
}

// writeLocked writes l to the key file and makes it the keys in use. k.mu
// and the file lock are held.
func (k *Keyring) writeLocked(l *loaded) error {
	set, err := newKeySet(l, k.pinned, k.label())
	if err != nil {
		return err
	}
	if set.stamp, err = writeKeyFile(k.path, l.keys); err != nil {
		return err
	}
	k.set.Store(set)
	return nil
}

// current returns the key Seal and Rewrap use. For a key file it first
// checks, with one stat, whether the file changed since it was read, and
// reloads it if so: then a server seals under a new version as soon as
// `steward keys rotate` writes it, and a retirement that follows cannot
// miss a secret sealed under the old version later. Seals are rare, so
// the stat costs nothing that matters. When the file cannot be read the
// keys in use stay, and the failure is logged.
func (k *Keyring) current() *kek {
	s := k.set.Load()
	if k.kind == sourceEnv || k.unchanged(s) {
		return s.current
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s = k.set.Load(); !k.unchanged(s) {
		if err := k.reloadLocked(" after the key file changed"); err != nil {
			k.log.Warn("secrets: cannot reload keys; sealing with the keys in use", slog.String("source", k.label()), slog.String("error", err.Error()))
		}
	}
	return k.set.Load().current
}

// unchanged reports whether the key file is still the one s was read from.
// A file that cannot be stat'ed counts as unchanged: nothing better to use.
func (k *Keyring) unchanged(s *keySet) bool {
	fi, err := os.Stat(k.path)
	return err != nil || (s.stamp != nil && os.SameFile(fi, s.stamp) && fi.ModTime().Equal(s.stamp.ModTime()) && fi.Size() == s.stamp.Size())
}

// lookup returns the key of a version. When the version is newer than any
// the keyring holds and the keys come from a file, another process has
// probably rotated: it reloads once and looks again.
func (k *Keyring) lookup(version int) (*kek, error) {
	s := k.set.Load()
	if kk := s.byVersion[version]; kk != nil {
		return kk, nil
	}
	if k.kind != sourceEnv && version > s.versions[len(s.versions)-1] {
		k.mu.Lock()
		if k.set.Load().byVersion[version] == nil { // or another goroutine already reloaded
			if err := k.reloadLocked(" for a newer key version"); err != nil {
				k.log.Warn("secrets: cannot reload keys", slog.String("source", k.label()), slog.String("error", err.Error()))
			}
		}
		k.mu.Unlock()
		s = k.set.Load()
		if kk := s.byVersion[version]; kk != nil {
			return kk, nil
		}
	}
	return nil, &steward.Error{
		Code:    steward.EINVALID,
		Message: fmt.Sprintf("Sealed secret uses key version %d, which the keyring does not hold.", version),
		Err:     fmt.Errorf("%s holds versions %v", k.label(), s.versions),
	}
}
