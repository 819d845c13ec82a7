package secrets_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/secrets"
)

// discard is the logger of tests that do not look at logs.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// mustKeyring opens a keyring or fails the test.
func mustKeyring(tb testing.TB, cfg secrets.Config) *secrets.Keyring {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	k, err := secrets.NewKeyring(cfg)
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return k
}

// keyList returns a key list with fresh keys for the given versions.
func keyList(tb testing.TB, versions ...int) string {
	tb.Helper()
	var entries []string
	for _, v := range versions {
		e, err := secrets.NewKeyListEntry(v)
		if err != nil {
			tb.Fatalf("NewKeyListEntry(%d): %v", v, err)
		}
		entries = append(entries, e)
	}
	return strings.Join(entries, ",")
}

// envKeyring returns a keyring from a fresh key list, and the list.
func envKeyring(tb testing.TB, versions ...int) (*secrets.Keyring, string) {
	tb.Helper()
	list := keyList(tb, versions...)
	return mustKeyring(tb, secrets.Config{Keys: steward.Secret(list)}), list
}

func mustSeal(tb testing.TB, k *secrets.Keyring, plaintext, ad string) []byte {
	tb.Helper()
	sealed, err := k.Seal([]byte(plaintext), []byte(ad))
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return sealed
}

func mustOpen(tb testing.TB, k *secrets.Keyring, sealed []byte, ad string) string {
	tb.Helper()
	pt, err := k.Open(sealed, []byte(ad))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return string(pt)
}

func mustVersion(tb testing.TB, k *secrets.Keyring, sealed []byte) int {
	tb.Helper()
	v, err := k.KeyVersion(sealed)
	if err != nil {
		tb.Fatalf("KeyVersion: %v", err)
	}
	return v
}

// wantError checks that err is a *steward.Error with the code and, when
// msg is not empty, a safe message containing msg.
func wantError(tb testing.TB, err error, code, msg string) {
	tb.Helper()
	var e *steward.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v (%T), want a *steward.Error with code %s", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("error code = %s (%v), want %s", e.Code, err, code)
	}
	if msg != "" && !strings.Contains(e.Message, msg) {
		tb.Fatalf("error message = %q, want it to contain %q", e.Message, msg)
	}
}

// wantNoLeak fails when s contains any of the forbidden strings.
func wantNoLeak(tb testing.TB, s string, forbidden ...string) {
	tb.Helper()
	for _, f := range forbidden {
		if f != "" && strings.Contains(s, f) {
			tb.Fatalf("%q leaks %q", s, f)
		}
	}
}

// keysOf returns the base64 keys of a key list, to look for in output.
func keysOf(list string) []string {
	var keys []string
	for _, e := range strings.Split(list, ",") {
		_, k, _ := strings.Cut(e, ":")
		keys = append(keys, k)
	}
	return keys
}

// syncBuffer is a bytes.Buffer that several goroutines may log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
