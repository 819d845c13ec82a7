package web

import (
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/store"
)

// The package's tests share one emulator, started on first use: most only
// need the services to exist, and those that act on Azure make their own.
var (
	sharedOnce sync.Once
	sharedPath string
	sharedStop func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedStop != nil {
		sharedStop()
	}
	os.Exit(code)
}

// sharedEmulator returns the connection file of the shared emulator.
func sharedEmulator(t testing.TB) string {
	sharedOnce.Do(func() {
		lt := &lifetime{TB: t}
		_, sharedPath = stewardtest.Emulator(lt, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
		sharedStop = lt.cleanup
	})
	if sharedPath == "" {
		t.Fatal("the shared emulator did not start")
	}
	return sharedPath
}

// lifetime outlives the test that starts the shared emulator: its cleanups
// run at the end of the package, and its temporary directory with them.
type lifetime struct {
	testing.TB
	dirs  []string
	funcs []func()
}

func (l *lifetime) Cleanup(f func()) { l.funcs = append(l.funcs, f) }
func (l *lifetime) TempDir() string {
	d, err := os.MkdirTemp("", "steward-web-test-")
	if err != nil {
		l.Fatal(err)
	}
	l.dirs = append(l.dirs, d)
	return d
}
func (l *lifetime) cleanup() {
	for i := len(l.funcs) - 1; i >= 0; i-- {
		l.funcs[i]()
	}
	for _, d := range l.dirs {
		os.RemoveAll(d)
	}
}

func services(t testing.TB, db *store.DB, log *slog.Logger) *stewardtest.Services {
	return stewardtest.NewServices(t, db, sharedEmulator(t), log)
}
