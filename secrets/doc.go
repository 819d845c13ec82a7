// Package secrets encrypts the secrets Steward keeps for customers' tenants
// (client secrets, certificate keys) before they reach the database, with
// AES-256-GCM envelope encryption. Its Keyring implements
// steward.SecretBox.
//
// # Envelope encryption
//
// Every Seal draws a fresh random 256-bit data key, encrypts the secret
// with it, and wraps (encrypts) the data key under the current
// key-encryption key (KEK). The sealed blob carries the wrapped data key
// and the KEK's version, so a keyring holding several versions opens blobs
// sealed under any of them. Rotation therefore never re-encrypts a secret:
// Rewrap unwraps the small data key with the old KEK and wraps it with the
// new one. The byte layout is documented beside the constants in box.go;
// the first four bytes, "stw" and format 1, let a later format live beside
// this one.
//
// # Threat model
//
//   - The database is stolen (a dump, a backup, a replica, a SQL
//     injection that reads rows) without the key file: every secret stays
//     unreadable. The blobs show only how many secrets there are, roughly
//     how long each is, and which KEK version wraps each.
//   - The key file and the database are both stolen, or an attacker runs
//     code as the Steward user: the secrets are readable. Encryption at
//     rest does not defend a running server; least privilege in Azure and
//     short secret lifetimes limit what a stolen secret is worth.
//   - Someone who can write to the database but not read the keys moves a
//     blob from one row to another, say a write credential into the row of
//     a read credential, to make Steward use it where it should not. The
//     associated data (e.g. "credential:42") that Seal binds into both the
//     wrap and the data encryption stops this: the blob opens only with
//     the associated data it was sealed with, so a moved blob, and any
//     changed byte, fails to open (EINVALID). Associated data is not
//     secret and not stored in the blob; pick a value fixed for the row's
//     life and known before the row is inserted.
//   - Key material and plaintext never appear in an error, a log line or
//     the audit log; steward.Secret keeps a plaintext from being printed by
//     accident once opened.
//
// # Where the keys come from
//
// By default the keys are in keys.json in the data directory, created on
// first use with version 1 and mode 0600. Steward refuses a key file that
// group or others may read or write. Instead, STEWARD_KEYS can hold a key
// list, "1:BASE64,2:BASE64" (make a key with `openssl rand -base64 32`; the
// highest version seals, unless STEWARD_KEYS_CURRENT names another), or
// STEWARD_KEYS_FILE can name a file holding such a list (a Docker or
// Kubernetes secret) or a keys.json kept elsewhere (which must exist;
// CreateKeyFile makes one). See Config. Replicas sharing one database share
// one key file (on a shared volume) or one key list: a replica with its own
// keys.json would seal what the others cannot open.
//
// # Rotation without downtime
//
// `steward keys rotate` runs beside the running server:
//
//  1. NewKeyring loads the key file.
//  2. Rotate adds version N+1, makes it current, and writes the file
//     atomically under a lock, so concurrent rotations cannot lose a key.
//  3. For each stored secret, Rewrap(blob, associatedData) and store the
//     result when KeyVersion changed; each row on its own, so the server
//     keeps working throughout. A Rewrap error means a damaged secret:
//     report it and carry on.
//  4. `steward keys retire N`, a separate step once the re-wrap has
//     finished: check with KeyVersion that no stored blob uses version N,
//     refuse if any does, then Remove(N).
//
// A running server holding the same key file follows by itself: Seal
// checks the file with one stat and reloads it when it changed, so the
// server seals under N+1 from the moment step 2 writes it, and Open
// reloads when it meets a version newer than any it holds. Step 4 is safe
// because of this: once step 2 is done no server seals under N, so the only
// blob under N the scan could miss is one sealed before the rotation by a
// transaction that commits after the scan, which is why step 4 does not
// run in the same breath as step 2. A server calls Reload on SIGHUP or
// every few minutes to drop retired versions and to report a broken key
// file early; when the file cannot be read, it keeps the keys it has.
//
// With STEWARD_KEYS the operator rotates: add version N+1 to the list with
// STEWARD_KEYS_CURRENT=N, roll it out to every replica, drop
// STEWARD_KEYS_CURRENT and roll out again, then re-wrap. Skipping the
// pinned step works for one replica; with several, the replicas still on
// the old list cannot open what the new ones seal until they restart. A
// key list in a file (STEWARD_KEYS_FILE) is re-read like a key file, so a
// changed Kubernetes secret needs no restart.
//
// # Backing up keys.json
//
// Without the key file no secret in the database can be read, and a
// restored database needs a key file holding every version its blobs use.
// So:
//
//   - Back keys.json up apart from the database (a password manager, a
//     secrets vault, offline media), never in the same archive: together
//     they are the secrets.
//   - Back it up again right after every Rotate, before re-wrapping; the
//     file only grows between rotations, so the newest copy opens all older
//     database backups too, unless a version has since been removed.
//   - Keep old copies as long as database backups that need their versions,
//     and remember that a retired key lives on in those copies.
//   - Restore it with mode 0600, owned by the user Steward runs as.
//
// If a server starts with a data directory where keys.json is missing it
// creates a new one (Keyring.Created reports it); a server whose database
// already holds secrets should then refuse to start rather than seal new
// secrets under a key nobody has backed up.
package secrets
