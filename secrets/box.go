package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"

	"github.com/stewardhq/steward"
)

// The sealed format, version 1. All integers are big-endian.
//
//	offset  size  field
//	0       3     magic "stw"
//	3       1     format, 1
//	4       4     key-encryption key version, 1 to 2³¹-1
//	8       60    wrapped data key: nonce (12) | AES-256-GCM(KEK, data key) (32) | tag (16)
//	68      12    data nonce
//	80      n     AES-256-GCM(data key, plaintext)
//	80+n    16    data tag
//
// The wrap authenticates bytes 0-7 (so the version cannot be swapped), a
// 'k' and the associated data; the data encryption authenticates bytes 0-3,
// a 'd' and the associated data. The data part leaves out the key version,
// so Rewrap changes bytes 4-67 only. The labels keep the two apart.
const (
	magic      = "stw"
	formatV1   = 1
	headerLen  = len(magic) + 1 + 4
	nonceLen   = 12
	tagLen     = 16
	wrappedLen = nonceLen + KeySize + tagLen

	// Overhead is how many bytes Seal adds to the plaintext: 96.
	Overhead = headerLen + wrappedLen + nonceLen + tagLen
)

// Safe messages. None holds key material, plaintext or associated data.
// Each call returns a new *steward.Error, so no caller can change another's.
const (
	msgNotSealed = "Value is not a sealed secret."
	msgTruncated = "Sealed secret is truncated."
	msgTooLarge  = "Sealed secret is larger than any Steward seals."
	msgBadKeyVer = "Sealed secret names key version 0 or one out of range."
	msgAuth      = "Sealed secret does not open: the key is wrong, the associated data differs, or the bytes were changed."
)

func invalid(msg string) error { return &steward.Error{Code: steward.EINVALID, Message: msg} }

// newAEAD returns AES-256-GCM with random 96-bit nonces that Seal prepends
// to its output. A key-encryption key may wrap up to 2³² data keys before a
// nonce collision becomes a risk, which no keyring of secrets comes near;
// each data key encrypts once.
func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot set up AES.")
	}
	aead, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot set up AES-GCM.")
	}
	return aead, nil
}

// wrapAAD and dataAAD return the additional data of the two encryptions;
// header is the sealed blob's first headerLen bytes.
func wrapAAD(header, ad []byte) []byte {
	b := make([]byte, 0, headerLen+1+len(ad))
	return append(append(append(b, header[:headerLen]...), 'k'), ad...)
}

func dataAAD(header, ad []byte) []byte {
	b := make([]byte, 0, 4+1+len(ad))
	return append(append(append(b, header[:4]...), 'd'), ad...)
}

// Seal implements steward.SecretBox. ETOOLARGE when plaintext is over
// MaxPlaintext.
func (k *Keyring) Seal(plaintext, associatedData []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, steward.Errorf(steward.ETOOLARGE, "Secret is larger than %d bytes.", MaxPlaintext)
	}
	cur := k.current()
	dek := make([]byte, KeySize)
	_, _ = rand.Read(dek) // never fails; crashes the program instead
	defer clear(dek)
	data, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerLen, Overhead+len(plaintext))
	putHeader(out, cur.version)
	out = cur.aead.Seal(out, nil, dek, wrapAAD(out, associatedData))
	out = data.Seal(out, nil, plaintext, dataAAD(out, associatedData))
	return out, nil
}

// Open implements steward.SecretBox.
func (k *Keyring) Open(sealed, associatedData []byte) ([]byte, error) {
	dek, data, err := k.openDataKey(sealed, associatedData)
	if err != nil {
		return nil, err
	}
	clear(dek) // data holds its own key schedule
	pt, err := data.Open(nil, nil, sealed[headerLen+wrappedLen:], dataAAD(sealed, associatedData))
	if err != nil {
		return nil, invalid(msgAuth)
	}
	return pt, nil
}

// KeyVersion implements steward.SecretBox.
func (k *Keyring) KeyVersion(sealed []byte) (int, error) {
	return parse(sealed)
}

// Rewrap implements steward.SecretBox. When sealed is already under the
// current version it returns sealed itself, so comparing KeyVersion before
// and after tells the caller whether to write the row.
func (k *Keyring) Rewrap(sealed, associatedData []byte) ([]byte, error) {
	dek, data, err := k.openDataKey(sealed, associatedData)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	// Check the data too, so that rotation reports a damaged secret now.
	pt, err := data.Open(nil, nil, sealed[headerLen+wrappedLen:], dataAAD(sealed, associatedData))
	clear(pt)
	if err != nil {
		return nil, invalid(msgAuth)
	}
	cur := k.current()
	if v, _ := parse(sealed); v == cur.version {
		return sealed, nil
	}
	out := make([]byte, headerLen, len(sealed))
	putHeader(out, cur.version)
	out = cur.aead.Seal(out, nil, dek, wrapAAD(out, associatedData))
	return append(out, sealed[headerLen+wrappedLen:]...), nil
}

// IsSealed reports whether b looks like a sealed blob (magic, a known
// format, long enough), without checking that it opens. It serves a
// migration that seals secrets stored in the clear.
func IsSealed(b []byte) bool {
	_, err := parse(b)
	return err == nil
}

func putHeader(b []byte, version int) {
	copy(b, magic)
	b[len(magic)] = formatV1
	binary.BigEndian.PutUint32(b[len(magic)+1:headerLen], uint32(version))
}

// parse checks a sealed blob's framing and returns its key version.
func parse(sealed []byte) (int, error) {
	if len(sealed) < len(magic)+1 || string(sealed[:len(magic)]) != magic {
		return 0, invalid(msgNotSealed)
	}
	if f := sealed[len(magic)]; f != formatV1 {
		return 0, steward.Errorf(steward.EINVALID, "Sealed secret has format %d; this Steward reads format %d.", f, formatV1)
	}
	if len(sealed) < Overhead {
		return 0, invalid(msgTruncated)
	}
	if len(sealed) > Overhead+MaxPlaintext {
		return 0, invalid(msgTooLarge)
	}
	v := binary.BigEndian.Uint32(sealed[len(magic)+1 : headerLen])
	if v < 1 || v > MaxVersion {
		return 0, invalid(msgBadKeyVer)
	}
	return int(v), nil
}

// openDataKey checks the framing of sealed, finds its key-encryption key
// and unwraps the data key. The caller clears dek.
func (k *Keyring) openDataKey(sealed, ad []byte) (dek []byte, data cipher.AEAD, err error) {
	version, err := parse(sealed)
	if err != nil {
		return nil, nil, err
	}
	kk, err := k.lookup(version)
	if err != nil {
		return nil, nil, err
	}
	dek, err = kk.aead.Open(make([]byte, 0, KeySize), nil, sealed[headerLen:headerLen+wrappedLen], wrapAAD(sealed, ad))
	if err != nil {
		return nil, nil, invalid(msgAuth)
	}
	if data, err = newAEAD(dek); err != nil {
		clear(dek)
		return nil, nil, err
	}
	return dek, data, nil
}
