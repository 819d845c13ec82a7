//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package secrets

import (
	"errors"
	"os"
	"syscall"

	"github.com/stewardhq/steward"
)

// lockFile takes an exclusive advisory lock on path+".lock", waiting for
// it, and returns the unlock function. It keeps two processes (two
// `steward keys rotate` runs, or two servers starting on a fresh data
// directory) from each writing a key the other then overwrites: a secret
// sealed under the lost key could never be opened again. The lock file
// stays in place; it holds nothing.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot open the lock file of key file %s.", path)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot lock key file %s.", path)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
