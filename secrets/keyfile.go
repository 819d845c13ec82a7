package secrets

import (
	"bytes"
	"cmp"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/stewardhq/steward"
)

// kek is one version of the key-encryption key.
type kek struct {
	version int
	key     []byte // kept to rewrite the key file and to compare on reload
	created time.Time
	aead    cipher.AEAD
}

// newKEK returns a fresh random key.
func newKEK(version int, now time.Time) *kek {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // never fails; crashes the program instead
	return &kek{version: version, key: key, created: now.UTC().Truncate(time.Second)}
}

// loaded is what was read from a key source.
type loaded struct {
	kind  sourceKind
	keys  []*kek
	stamp fs.FileInfo // of the key file as read; nil for STEWARD_KEYS
}

// keySet is an immutable snapshot of a keyring's keys.
type keySet struct {
	byVersion map[int]*kek
	versions  []int // ascending
	current   *kek
	stamp     fs.FileInfo
}

// newKeySet builds a snapshot. The current version is pinned, or the
// highest. EINVALID when a version repeats or the pinned one is missing.
func newKeySet(l *loaded, pinned int, label string) (*keySet, error) {
	if len(l.keys) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "%s holds no keys.", label)
	}
	s := &keySet{byVersion: make(map[int]*kek, len(l.keys)), stamp: l.stamp}
	for _, kk := range l.keys {
		if s.byVersion[kk.version] != nil {
			return nil, steward.Errorf(steward.EINVALID, "%s has key version %d twice.", label, kk.version)
		}
		if kk.aead == nil {
			aead, err := newAEAD(kk.key)
			if err != nil {
				return nil, err
			}
			kk.aead = aead
		}
		s.byVersion[kk.version] = kk
		s.versions = append(s.versions, kk.version)
	}
	slices.Sort(s.versions)
	cur := cmp.Or(pinned, s.versions[len(s.versions)-1])
	if s.current = s.byVersion[cur]; s.current == nil {
		return nil, steward.Errorf(steward.EINVALID, "%s is %d, but %s has no such key version.", EnvKeysCurrent, pinned, label)
	}
	return s, nil
}

// NewKeyListEntry returns "VERSION:BASE64" with a fresh random key, to add
// to STEWARD_KEYS or a key-list file. EINVALID when version is out of range.
func NewKeyListEntry(version int) (string, error) {
	if version < 1 || version > MaxVersion {
		return "", steward.Errorf(steward.EINVALID, "Key version must be from 1 to %d.", MaxVersion)
	}
	return strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(newKEK(version, time.Time{}).key), nil
}

// parseKeyList parses "1:BASE64,2:BASE64". Entries are separated by commas
// or white space; keys may be in standard or URL-safe base64, padded or
// not. Messages name entries by position, never by content, since the
// content is key material.
func parseKeyList(s, label string) ([]*kek, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "%s holds no keys.", label)
	}
	keys := make([]*kek, 0, len(fields))
	for i, f := range fields {
		vs, ks, ok := strings.Cut(f, ":")
		v, err := strconv.Atoi(vs)
		if !ok || err != nil || v < 1 || v > MaxVersion {
			return nil, steward.Errorf(steward.EINVALID, "Entry %d of %s is not VERSION:BASE64KEY with a version from 1 to %d.", i+1, label, MaxVersion)
		}
		key, ok := decodeKey(ks)
		if !ok {
			return nil, steward.Errorf(steward.EINVALID, "Key version %d in %s is not %d bytes in base64; make one with `openssl rand -base64 32`.", v, label, KeySize)
		}
		keys = append(keys, &kek{version: v, key: key})
	}
	return keys, nil
}

// decodeKey decodes a 32-byte key from any common base64 alphabet.
func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, len(b) == KeySize
		}
	}
	return nil, false
}

// keyFile is the JSON key file. Keys are listed oldest first; the highest
// version is current.
type keyFile struct {
	Format  int          `json:"format"`
	Comment string       `json:"comment,omitempty"`
	Keys    []keyFileKey `json:"keys"`
}

type keyFileKey struct {
	Version   int       `json:"version"`
	Key       string    `json:"key"` // standard base64
	CreatedAt time.Time `json:"createdAt"`
}

const (
	keyFileFormat  = 1
	keyFileComment = "Steward key-encryption keys. Without this file no secret in the database can be read: back it up apart from the database, again after every rotation."
	maxKeyFileSize = 1 << 20
)

// readKeys reads a key file, in either form: JSON as Steward writes it, or
// a key list. ENOTFOUND (matching fs.ErrNotExist) when it does not exist;
// EINVALID when it is not a regular file, group or others can access it,
// or it is malformed; EINTERNAL when it cannot be read.
func readKeys(path string) (*loaded, error) {
	b, fi, err := readPrivateFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	l := &loaded{kind: sourceList, stamp: fi}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		l.kind = sourceFile
		l.keys, err = parseKeyFile(t, path)
	} else {
		l.keys, err = parseKeyList(string(b), "key list "+path)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// readPrivateFile reads a file that only its owner may access, and returns
// its FileInfo as read.
func readPrivateFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, steward.WrapError(steward.ENOTFOUND, err, "Key file %s does not exist.", path)
	} else if err != nil {
		return nil, nil, steward.WrapError(steward.EINTERNAL, err, "Cannot open key file %s.", path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, steward.WrapError(steward.EINTERNAL, err, "Cannot stat key file %s.", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, steward.Errorf(steward.EINVALID, "Key file %s is not a regular file.", path)
	}
	// Windows has no such mode bits; there the file's ACL is the operator's.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, nil, steward.Errorf(steward.EINVALID,
			"Key file %s has mode %04o, so users other than its owner can read or change the keys; refusing to use it. Run `chmod 600 %s` (for a Kubernetes secret, set defaultMode: 0400).",
			path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, nil, steward.WrapError(steward.EINTERNAL, err, "Cannot read key file %s.", path)
	}
	if len(b) > maxKeyFileSize {
		clear(b)
		return nil, nil, steward.Errorf(steward.EINVALID, "Key file %s is larger than %d bytes; it is not a key file.", path, maxKeyFileSize)
	}
	return b, fi, nil
}

// parseKeyFile parses a JSON key file.
func parseKeyFile(b []byte, path string) ([]*kek, error) {
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		// encoding/json's messages give offsets and types, not content.
		return nil, steward.WrapError(steward.EINVALID, err, "Key file %s is not valid JSON.", path)
	}
	if kf.Format != keyFileFormat {
		return nil, steward.Errorf(steward.EINVALID, "Key file %s has format %d; this Steward reads format %d (was it written by a newer one?).", path, kf.Format, keyFileFormat)
	}
	keys := make([]*kek, 0, len(kf.Keys))
	for i, fk := range kf.Keys {
		if fk.Version < 1 || fk.Version > MaxVersion {
			return nil, steward.Errorf(steward.EINVALID, "Key %d in %s has version %d; versions run from 1 to %d.", i+1, path, fk.Version, MaxVersion)
		}
		key, err := base64.StdEncoding.DecodeString(fk.Key)
		if err != nil || len(key) != KeySize {
			return nil, steward.Errorf(steward.EINVALID, "Key version %d in %s is not %d bytes in base64.", fk.Version, path, KeySize)
		}
		keys = append(keys, &kek{version: fk.Version, key: key, created: fk.CreatedAt})
	}
	if len(keys) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "Key file %s holds no keys.", path)
	}
	slices.SortFunc(keys, func(a, b *kek) int { return a.version - b.version })
	return keys, nil
}

// writeKeyFile replaces the key file atomically and durably: a temporary
// file (created 0600) in the same directory, fsync, rename over the old
// file, fsync of the directory. A reader sees the old file or the new one,
// never a mix, and after a crash the new key is either wholly on disk or
// was never used (Rotate returns only after the fsyncs). It returns the
// new file's FileInfo. The caller holds the file lock.
func writeKeyFile(path string, keys []*kek) (_ fs.FileInfo, err error) {
	kf := keyFile{Format: keyFileFormat, Comment: keyFileComment}
	for _, kk := range keys {
		kf.Keys = append(kf.Keys, keyFileKey{Version: kk.version, Key: base64.StdEncoding.EncodeToString(kk.key), CreatedAt: kk.created})
	}
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot encode the key file.")
	}
	defer clear(b)
	b = append(b, '\n')

	// Write through a symlink to its target, so the link stays in place.
	if t, err := filepath.EvalSymlinks(path); err == nil {
		path = t
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot write the key file in %s.", dir)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot set the mode of the key file.")
	}
	if _, err := tmp.Write(b); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot write the key file %s.", path)
	}
	if err := tmp.Sync(); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot flush the key file %s.", path)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot stat the key file %s.", path)
	}
	if err := tmp.Close(); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot write the key file %s.", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot replace the key file %s.", path)
	}
	if err := syncDir(dir); err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot flush the directory of the key file %s.", path)
	}
	return fi, nil
}

// syncDir makes a rename in dir durable. Windows cannot fsync a directory.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
