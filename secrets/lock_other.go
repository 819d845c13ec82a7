//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package secrets

// lockFile does nothing where flock(2) is missing (Windows, Solaris, AIX,
// wasm): there, run one `steward keys rotate` at a time. Readers never need
// the lock, since the key file is replaced by rename.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
