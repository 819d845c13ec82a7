package steward

import (
	"database/sql/driver"
	"fmt"
	"log/slog"
)

// SecretBox encrypts secrets at rest: client secrets and certificate keys of
// customers' app registrations. A sealed blob is self-describing (it names
// its format and the version of the key-encryption key that wraps its data
// key), so blobs sealed under older keys keep opening after a rotation.
//
// associatedData binds a blob to where it is stored, e.g. "credential:42"
// or "credential:<tenant-id>/<name>": it is not encrypted and not stored in
// the blob, but Open and Rewrap need the same value Seal was given, so a
// blob copied to another row does not open there. Use a value that is fixed
// for the row's life and known before the row is inserted.
//
// Errors never hold key material or plaintext. Package secrets implements it.
type SecretBox interface {
	// Seal encrypts plaintext under a fresh random data key and wraps that
	// key under the current key-encryption key. ETOOLARGE when plaintext is
	// over the box's limit (1 MiB for package secrets).
	Seal(plaintext, associatedData []byte) ([]byte, error)

	// Open returns the plaintext of a sealed blob. EINVALID when sealed is
	// not a sealed blob (truncated, unknown format), names a key version
	// the box does not hold, or fails authentication: the wrong key, other
	// associated data, or a changed byte.
	Open(sealed, associatedData []byte) ([]byte, error)

	// KeyVersion returns the version of the key-encryption key that wraps
	// sealed, without decrypting and whether or not the box holds that
	// version, so a caller can tell whether an old version is still in use
	// before retiring it. EINVALID when sealed is not a sealed blob.
	KeyVersion(sealed []byte) (int, error)

	// Rewrap re-wraps the data key of sealed under the current
	// key-encryption key, leaving the encrypted data as it is. It opens the
	// whole blob first, so a damaged secret shows up during rotation rather
	// than at its next use; a blob already under the current key comes back
	// unchanged. Error codes as for Open.
	Rewrap(sealed, associatedData []byte) ([]byte, error)
}

// redacted is what a Secret prints in every format.
const redacted = "[redacted]"

// Secret is a string that never shows itself by accident: fmt (every verb),
// encoding/json, encoding/xml, text encoders and log/slog all print
// "[redacted]". Call Reveal where the value is really needed, which keeps
// every use greppable. Decoding (JSON, text) works, so API requests and
// config files can carry a Secret in; decoding the literal "[redacted]" is
// refused, so a value that went out and came back in fails loudly rather
// than being stored as the placeholder. It refuses to be a database/sql
// argument, so it cannot be stored unsealed by mistake.
//
// Two holes stay open because Secret is a string type, and no method can
// close them: %p prints the value (fmt's error path skips methods), and
// encoding/json writes a map key of string type as it is. Don't use a
// Secret as a map key, and don't print one with %p.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb and flag, so neither %x nor %q
// nor a width shows anything of the value.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON returns "[redacted]" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]"; encoding/xml and JSON map keys use it.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText sets the secret from text. EINVALID when the text is the
// "[redacted]" placeholder, which is never a real secret.
func (s *Secret) UnmarshalText(b []byte) error {
	if string(b) == redacted {
		return Errorf(EINVALID, "A secret cannot be %q; send the secret itself.", redacted)
	}
	*s = Secret(b)
	return nil
}

// LogValue makes log/slog print "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Value implements driver.Valuer to refuse: a secret goes to the database
// only sealed, as the []byte a SecretBox returns. EINTERNAL, since it is a
// programming error.
func (Secret) Value() (driver.Value, error) {
	return nil, Errorf(EINTERNAL, "A secret must be sealed before it is stored.")
}
