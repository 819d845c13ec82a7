package secrets_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/secrets"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 1)
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", nil, []byte("credential:1")},
		{"one byte", []byte{0}, []byte("credential:1")},
		{"client secret", []byte("Xy8Q~abcdefghijklmnopqrstuvwxyz0123456"), []byte("credential:42")},
		{"binary 4 KiB", bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 4096/3), []byte("certificate:7")},
		{"largest", bytes.Repeat([]byte{'a'}, secrets.MaxPlaintext), []byte("certificate:8")},
		{"no associated data", []byte("s3cret"), nil},
		{"binary associated data", []byte("s3cret"), []byte{0, 1, 2, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), len(tt.plaintext)+secrets.Overhead; got != want {
				t.Errorf("len(sealed) = %d, want %d", got, want)
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed, tt.plaintext[:8]) {
				t.Errorf("sealed blob holds the plaintext")
			}
			got, err := k.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %.40q, want %.40q", got, tt.plaintext)
			}
		})
	}
}

func TestSealFreshKeyEachTime(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 1)
	a := mustSeal(t, k, "same", "credential:1")
	b := mustSeal(t, k, "same", "credential:1")
	if bytes.Equal(a, b) {
		t.Fatal("two Seals of the same secret are equal")
	}
	// Wrapped data keys differ, and so do data nonces and ciphertexts.
	if bytes.Equal(a[8:68], b[8:68]) || bytes.Equal(a[68:], b[68:]) {
		t.Error("two Seals share a wrapped data key or ciphertext")
	}
}

func TestSealTooLarge(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 1)
	_, err := k.Seal(make([]byte, secrets.MaxPlaintext+1), nil)
	wantError(t, err, steward.ETOOLARGE, "larger than")
}

func TestSealedFormat(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 3, 258)
	sealed := mustSeal(t, k, "abc", "credential:1")
	if got := string(sealed[:3]); got != "stw" {
		t.Errorf("magic = %q, want stw", got)
	}
	if sealed[3] != 1 {
		t.Errorf("format = %d, want 1", sealed[3])
	}
	if got := binary.BigEndian.Uint32(sealed[4:8]); got != 258 {
		t.Errorf("key version = %d, want 258", got)
	}
	if got := len(sealed); got != 8+60+12+3+16 {
		t.Errorf("len = %d, want header 8 + wrapped key 60 + nonce 12 + 3 + tag 16", got)
	}
	if !secrets.IsSealed(sealed) {
		t.Error("IsSealed(sealed) = false")
	}
	if v := mustVersion(t, k, sealed); v != 258 {
		t.Errorf("KeyVersion = %d, want 258", v)
	}
}

// TestOpenFails checks that what must not open does not, with EINVALID and a
// message that holds neither key, plaintext nor associated data.
func TestOpenFails(t *testing.T) {
	t.Parallel()

	const (
		plaintext = "the-plaintext-secret"
		ad        = "credential:42"
	)
	k, list := envKeyring(t, 1, 2)
	sealed := mustSeal(t, k, plaintext, ad)
	other := mustSeal(t, k, "another-secret-value", ad)
	// A keyring with the same versions and other keys.
	stranger, strangerList := envKeyring(t, 1, 2)
	// A keyring with version 1 only, current: to seal a v1 blob.
	k1 := mustKeyring(t, secrets.Config{Keys: steward.Secret(list), Current: 1})
	sealedV1 := mustSeal(t, k1, plaintext, ad)

	withVersion := func(b []byte, v uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[4:8], v)
		return b
	}
	tests := []struct {
		name   string
		k      *secrets.Keyring
		sealed []byte
		ad     string
		msg    string
	}{
		{"nil", k, nil, ad, "not a sealed secret"},
		{"empty", k, []byte{}, ad, "not a sealed secret"},
		{"plaintext", k, []byte(plaintext), ad, "not a sealed secret"},
		{"magic only", k, []byte("stw"), ad, "not a sealed secret"},
		{"bad magic", k, append([]byte("STW"), sealed[3:]...), ad, "not a sealed secret"},
		{"unknown format", k, append([]byte("stw\x02"), sealed[4:]...), ad, "format 2"},
		{"header only", k, sealed[:8], ad, "truncated"},
		{"one byte short of minimum", k, sealed[:secrets.Overhead-1], ad, "truncated"},
		{"tag cut", k, sealed[:len(sealed)-1], ad, "does not open"},
		{"too large", k, append(bytes.Clone(sealed), make([]byte, secrets.MaxPlaintext)...), ad, "larger than"},
		{"key version 0", k, withVersion(sealed, 0), ad, "version 0"},
		{"key version over 2^31-1", k, withVersion(sealed, 1<<31), ad, "out of range"},
		{"unknown key version", k, withVersion(sealed, 7), ad, "key version 7"},
		{"key version swapped to another held one", k, withVersion(sealed, 1), ad, "does not open"},
		{"version 1 blob relabelled current", k, withVersion(sealedV1, 2), ad, "does not open"},
		{"other associated data", k, sealed, "credential:43", "does not open"},
		{"no associated data", k, sealed, "", "does not open"},
		{"associated data with suffix", k, sealed, ad + "0", "does not open"},
		{"other keyring, same versions", stranger, sealed, ad, "does not open"},
		{"wrapped key of another blob", k, append(bytes.Clone(sealed[:68]), other[68:]...), ad, "does not open"},
		{"data of another blob", k, append(bytes.Clone(other[:68]), sealed[68:]...), ad, "does not open"},
		{"appended byte", k, append(bytes.Clone(sealed), 0), ad, "does not open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for op, fn := range map[string]func([]byte, []byte) ([]byte, error){"Open": tt.k.Open, "Rewrap": tt.k.Rewrap} {
				got, err := fn(tt.sealed, []byte(tt.ad))
				if got != nil {
					t.Errorf("%s returned %d bytes with the error", op, len(got))
				}
				wantError(t, err, steward.EINVALID, tt.msg)
				wantNoLeak(t, fmt.Sprintf("%v %+v %#v", err, err, err),
					append(append(keysOf(list), keysOf(strangerList)...), plaintext, ad)...)
			}
		})
	}
}

// TestOpenEveryByteFlipped checks that changing any single bit anywhere
// makes Open fail.
func TestOpenEveryByteFlipped(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 1)
	sealed := mustSeal(t, k, "a secret of some length", "credential:1")
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(sealed)
			b[i] ^= bit
			if pt, err := k.Open(b, []byte("credential:1")); err == nil {
				t.Fatalf("byte %d ^ %#x: Open succeeded with %q", i, bit, pt)
			} else if c := steward.ErrorCode(err); c != steward.EINVALID {
				t.Fatalf("byte %d ^ %#x: code %s, want invalid", i, bit, c)
			}
		}
	}
}

func TestKeyVersion(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 5)
	sealed := mustSeal(t, k, "x", "a")
	bad := bytes.Clone(sealed)
	binary.BigEndian.PutUint32(bad[4:8], 99)
	tests := []struct {
		name   string
		sealed []byte
		want   int
		code   string
	}{
		{"sealed", sealed, 5, ""},
		{"version the keyring lacks", bad, 99, ""}, // so a retire check sees it
		{"truncated", sealed[:20], 0, steward.EINVALID},
		{"garbage", []byte("hello, world, this is not sealed at all, really not, no way, not at all, nope"), 0, steward.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := k.KeyVersion(tt.sealed)
			if tt.code != "" {
				wantError(t, err, tt.code, "")
				return
			}
			if err != nil || v != tt.want {
				t.Fatalf("KeyVersion = %d, %v; want %d", v, err, tt.want)
			}
		})
	}
}

func TestIsSealed(t *testing.T) {
	t.Parallel()

	k, _ := envKeyring(t, 1)
	sealed := mustSeal(t, k, "x", "a")
	for _, tt := range []struct {
		in   []byte
		want bool
	}{
		{sealed, true},
		{nil, false},
		{[]byte("Xy8Q~abcdefghijklmnopqrstuvwxyz0123456"), false},
		{sealed[:secrets.Overhead-1], false},
	} {
		if got := secrets.IsSealed(tt.in); got != tt.want {
			t.Errorf("IsSealed(%.20q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRewrap(t *testing.T) {
	t.Parallel()

	k := mustKeyring(t, secrets.Config{DataDir: t.TempDir()})
	const ad = "credential:42"
	old := mustSeal(t, k, "rotate-me", ad)

	same, err := k.Rewrap(old, []byte(ad))
	if err != nil {
		t.Fatalf("Rewrap under the current key: %v", err)
	}
	if &same[0] != &old[0] {
		t.Error("Rewrap under the current key did not return its input")
	}

	if _, err := k.Rotate(); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	re, err := k.Rewrap(old, []byte(ad))
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if v := mustVersion(t, k, re); v != 2 {
		t.Errorf("KeyVersion after Rewrap = %d, want 2", v)
	}
	if !bytes.Equal(re[68:], old[68:]) {
		t.Error("Rewrap changed the encrypted data")
	}
	if bytes.Equal(re[8:68], old[8:68]) {
		t.Error("Rewrap kept the wrapped data key")
	}
	if _, err := k.Rewrap(re, []byte("credential:43")); steward.ErrorCode(err) != steward.EINVALID {
		t.Errorf("Rewrap with other associated data: %v, want invalid", err)
	}

	// With version 1 gone, only the re-wrapped blob opens.
	if err := k.Remove(1); err != nil {
		t.Fatalf("Remove(1): %v", err)
	}
	if got := mustOpen(t, k, re, ad); got != "rotate-me" {
		t.Errorf("Open = %q", got)
	}
	_, err = k.Open(old, []byte(ad))
	wantError(t, err, steward.EINVALID, "key version 1")
}

// TestRewrapReportsDamagedData checks that Rewrap opens the data as well as
// the data key, so rotation finds a damaged secret.
func TestRewrapReportsDamagedData(t *testing.T) {
	t.Parallel()

	k := mustKeyring(t, secrets.Config{DataDir: t.TempDir()})
	sealed := mustSeal(t, k, "secret", "a")
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	_, err := k.Rewrap(sealed, []byte("a"))
	wantError(t, err, steward.EINVALID, "does not open")
}

// FuzzOpen feeds Open arbitrary bytes. Whatever it gets, it must not panic,
// must fail with EINVALID and a message free of the plaintext, and may
// succeed only on a blob Seal made, byte for byte. `go test` runs the seed
// corpus; `go test -fuzz FuzzOpen ./secrets` explores.
func FuzzOpen(f *testing.F) {
	const plaintext = "fuzz-plaintext-secret"
	list := keyList(f, 1, 2)
	k := mustKeyring(f, secrets.Config{Keys: steward.Secret(list)})
	valid := map[string]bool{}
	for _, ad := range []string{"", "credential:1"} {
		sealed := mustSeal(f, k, plaintext, ad)
		valid[string(sealed)+"\x00"+ad] = true
		f.Add(sealed, ad)
		f.Add(sealed[:len(sealed)-1], ad)
		f.Add(sealed[:secrets.Overhead], ad)
		f.Add(append(bytes.Clone(sealed), 'x'), ad)
		f.Add(sealed, ad+"x")
	}
	f.Add([]byte{}, "")
	f.Add([]byte("stw"), "")
	f.Add([]byte("stw\x01\x00\x00\x00\x01"), "")
	f.Add(bytes.Repeat([]byte{0}, secrets.Overhead), "")
	f.Add(append([]byte("stw\x01\x00\x00\x00\x09"), make([]byte, 100)...), "a")
	f.Add(append([]byte("stw\x01\xff\xff\xff\xff"), make([]byte, 100)...), "a")

	f.Fuzz(func(t *testing.T, sealed []byte, ad string) {
		pt, err := k.Open(sealed, []byte(ad))
		if err == nil {
			if !valid[string(sealed)+"\x00"+ad] || string(pt) != plaintext {
				t.Fatalf("Open accepted a blob Seal did not make: %q", sealed)
			}
			return
		}
		if pt != nil {
			t.Fatalf("Open returned %d bytes with an error", len(pt))
		}
		if c := steward.ErrorCode(err); c != steward.EINVALID {
			t.Fatalf("code = %s (%v), want invalid", c, err)
		}
		if s := err.Error(); strings.Contains(s, plaintext) || strings.Contains(s, keysOf(list)[0]) || strings.Contains(s, keysOf(list)[1]) {
			t.Fatalf("error leaks: %s", s)
		}
		if _, err := k.KeyVersion(sealed); err == nil != secrets.IsSealed(sealed) {
			t.Fatalf("KeyVersion and IsSealed disagree")
		}
	})
}

// FuzzSealOpen checks the round trip for arbitrary plaintext and associated
// data.
func FuzzSealOpen(f *testing.F) {
	k, _ := envKeyring(f, 1)
	f.Add([]byte("s3cret"), []byte("credential:1"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0xff}, []byte{0})
	f.Fuzz(func(t *testing.T, plaintext, ad []byte) {
		sealed, err := k.Seal(plaintext, ad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Open(sealed, ad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("Open = %q, %v; want %q", got, err, plaintext)
		}
		if _, err := k.Open(sealed, append(bytes.Clone(ad), 0)); err == nil {
			t.Fatal("Open with longer associated data succeeded")
		}
	})
}

var benchSizes = []int{32, 4 << 10, 64 << 10}

func BenchmarkSeal(b *testing.B) {
	k, _ := envKeyring(b, 1)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			pt, ad := make([]byte, n), []byte("credential:42")
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Seal(pt, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealKeyFile includes the stat by which Seal notices a rotated
// key file.
func BenchmarkSealKeyFile(b *testing.B) {
	k := mustKeyring(b, secrets.Config{DataDir: b.TempDir()})
	pt, ad := make([]byte, 32), []byte("credential:42")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(pt, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := envKeyring(b, 1)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			ad := []byte("credential:42")
			sealed, err := k.Seal(make([]byte, n), ad)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Open(sealed, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRewrap(b *testing.B) {
	k := mustKeyring(b, secrets.Config{DataDir: b.TempDir()})
	ad := []byte("credential:42")
	sealed, err := k.Seal(make([]byte, 64), ad)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := k.Rotate(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Rewrap(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
