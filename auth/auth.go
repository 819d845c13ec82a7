// Package auth hashes passwords with argon2id. Passwords are stored as PHC
// strings, so the cost parameters can be raised later and old hashes still
// verify (and are reported as needing a rehash).
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/stewardhq/steward"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow RFC 9106's second recommendation scaled to a small
// server: 64 MiB, two passes, two lanes.
var DefaultParams = Params{Memory: 64 * 1024, Time: 2, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLength follows NIST SP 800-63B for passwords chosen by
	// people who may not have a second factor.
	MinPasswordLength = 12
	maxPasswordLength = 1024
)

// ValidatePassword checks a new password's length. It says what is wrong
// and never echoes the password.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return steward.Errorf(steward.EINVALID, "Password must be at least %d characters.", MinPasswordLength)
	}
	if len(pw) > maxPasswordLength {
		return steward.Errorf(steward.EINVALID, "Password must be at most %d bytes.", maxPasswordLength)
	}
	return nil
}

// HashPassword returns the PHC string of an argon2id hash with a random salt.
func HashPassword(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the hash, and whether the hash
// was made with other parameters than p and should be replaced.
func CheckPassword(hash, pw string, p Params) (ok, rehash bool, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, false, fmt.Errorf("not an argon2id hash")
	}
	var version int
	var hp Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &hp.Memory, &hp.Time, &hp.Threads); err != nil {
		return false, false, fmt.Errorf("reading argon2 parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, false, fmt.Errorf("reading salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, false, fmt.Errorf("reading key: %v", err)
	}
	got := argon2.IDKey([]byte(pw), salt, hp.Time, hp.Memory, hp.Threads, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && hp != p, nil
}

// dummyHash is checked against when a user does not exist, so that a
// sign-in for an unknown name takes as long as one for a known name.
var dummyHash, _ = HashPassword("steward-dummy-password", DefaultParams)

// CheckNoUser spends the time of one password check and always fails.
func CheckNoUser(pw string, p Params) {
	CheckPassword(dummyHash, pw, p)
}

// GeneratePassword returns a random password for a bootstrapped admin:
// 26 base32 characters, 130 bits.
func GeneratePassword() string { return rand.Text() }

// Hasher implements steward.PasswordHasher with fixed parameters.
type Hasher struct{ Params Params }

var _ steward.PasswordHasher = Hasher{}

// Hash returns the PHC string of a new hash of pw.
func (h Hasher) Hash(pw string) (string, error) { return HashPassword(pw, h.Params) }

// Check reports whether pw matches hash and whether hash should be renewed.
func (h Hasher) Check(hash, pw string) (ok, rehash bool, err error) {
	return CheckPassword(hash, pw, h.Params)
}

// CheckNoUser spends the time of one check and fails.
func (h Hasher) CheckNoUser(pw string) { CheckNoUser(pw, h.Params) }

// Validate checks a new password.
func (h Hasher) Validate(pw string) error { return ValidatePassword(pw) }
