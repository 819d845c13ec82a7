package stewardtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/access"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/secrets"
	"github.com/stewardhq/steward/store"
)

// Helpers for benchmarks that run the emulator as a process of its own, so
// that what they measure of Steward (CPU, memory) is Steward's alone.

// ConsentRedirect is one of the redirect URIs the emulator seeds on
// Steward's app, usable without configuring the emulator.
const ConsentRedirect = "https://127.0.0.1/callback"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// StewardBinary builds cmd/steward once per test binary into a temporary
// directory and returns its path. The directory outlives the first caller,
// so later benchmarks reuse the binary; it is left in os.TempDir.
func StewardBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "steward-bench-")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "steward")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/stewardhq/steward/cmd/steward")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/steward: %w\n%s", err, out.String())
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildBin
}

// EmulatorProcess is `steward emulator` running as a child process.
type EmulatorProcess struct {
	Cmd  *exec.Cmd
	Path string // the connection file
	Conn *steward.ConnectionFile
}

// PeakRSS is the emulator process's peak resident set, in bytes.
func (p *EmulatorProcess) PeakRSS() int64 {
	return procStatusBytes(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid), "VmHWM:")
}

// CPU is the CPU time (user and system) the emulator process has used.
func (p *EmulatorProcess) CPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which ends with ")": state is field 3,
	// utime and stime are fields 14 and 15, in clock ticks (100 a second).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// SelfCPU is the CPU time (user and system) this process has used.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// StartEmulatorProcess runs `bin emulator --addr 127.0.0.1:0 --connection-out
// FILE args...`, waits until the connection file exists and is readable, and
// stops the process (SIGINT, then SIGKILL) at cleanup.
func StartEmulatorProcess(tb testing.TB, bin string, args ...string) *EmulatorProcess {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "emulator.json")
	cmd := exec.Command(bin, append([]string{"emulator", "--addr", "127.0.0.1:0", "--connection-out", path}, args...)...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the emulator: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err
			tb.Fatalf("the emulator exited before it was ready: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the emulator wrote no connection file in 2 minutes:\n%s", logs.String())
		}
	}
	cf, err := steward.ReadConnectionFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return &EmulatorProcess{Cmd: cmd, Path: path, Conn: cf}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep the start, where failures show
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NewServicesWith is NewServices with the connector's config given (its
// Cloud is set to the connection file at path).
func NewServicesWith(tb testing.TB, db *store.DB, path string, az azure.Config, log *slog.Logger) *Services {
	tb.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Services{}
	var err error
	if s.Keys, err = secrets.NewKeyring(secrets.Config{DataDir: tb.TempDir(), Logger: log}); err != nil {
		tb.Fatal(err)
	}
	az.Cloud = path
	if az.Logger == nil {
		az.Logger = log
	}
	if s.Azure, err = azure.New(az); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Azure.Close)
	if s.Inventory, err = inventory.New(inventory.Config{Store: db, Azure: s.Azure, Box: s.Keys, Logger: log}); err != nil {
		tb.Fatal(err)
	}
	if s.Access, err = access.New(access.Config{Store: db, Azure: s.Azure, Box: s.Keys, Inventory: s.Inventory, Logger: log}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Counter is an http.RoundTripper that counts Resource Manager answers by
// kind (reads: GET and HEAD; writes: everything else) and status.
type Counter struct {
	Next http.RoundTripper

	Reads, Writes, Reads429, Writes429, Other atomic.Int64
}

// RoundTrip sends the request and counts the answer.
func (c *Counter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.Next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	p := strings.ToLower(req.URL.Path)
	switch {
	case !strings.HasPrefix(p, "/subscriptions/") && !strings.HasPrefix(p, "/providers/"):
		c.Other.Add(1) // Entra ID, Graph
	case req.Method == http.MethodGet || req.Method == http.MethodHead:
		c.Reads.Add(1)
		if resp.StatusCode == http.StatusTooManyRequests {
			c.Reads429.Add(1)
		}
	default:
		c.Writes.Add(1)
		if resp.StatusCode == http.StatusTooManyRequests {
			c.Writes429.Add(1)
		}
	}
	return resp, nil
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	for _, n := range []*atomic.Int64{&c.Reads, &c.Writes, &c.Reads429, &c.Writes429, &c.Other} {
		n.Store(0)
	}
}

// CountingClient returns an HTTP client like the connector's own (HTTP/2,
// trusting the emulator's CA) whose answers are counted.
func CountingClient(cf *steward.ConnectionFile) (*http.Client, *Counter) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(cf.CACertPEM))
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := &Counter{Next: t}
	return &http.Client{Transport: c}, c
}

// ConnectByConsent connects a tenant of the emulator the way a partner
// does: its admin (the user named admin@…) consents to Steward's app, and
// Steward assigns its roles on every subscription the admin owns.
func ConnectByConsent(tb testing.TB, ctx context.Context, acc *access.Service, cf *steward.ConnectionFile, tenantName string) *steward.Tenant {
	tb.Helper()
	ct, ok := cf.Tenant(tenantName)
	if !ok {
		tb.Fatalf("no tenant %s in the emulator", tenantName)
	}
	var admin string
	for _, u := range ct.Users {
		if strings.HasPrefix(strings.ToLower(u.UserPrincipalName), "admin@") {
			admin = u.UserPrincipalName
		}
	}
	if admin == "" {
		tb.Fatalf("tenant %s has no admin user", tenantName)
	}
	u, err := acc.ConsentStart(ctx, ct.ID, "connect", ConsentRedirect)
	if err != nil {
		tb.Fatal(err)
	}
	answer := ConsentWith(tb, cf, u, admin, true)
	sess, err := acc.ConsentCallback(ctx, answer.Get("state"), answer.Get("code"), answer.Get("error"), answer.Get("error_description"))
	if err != nil {
		tb.Fatalf("consent of %s: %v", tenantName, err)
	}
	var ids []string
	for _, s := range sess.Subscriptions {
		if s.Owner {
			ids = append(ids, s.ID)
		}
	}
	t, results, err := acc.ConsentComplete(ctx, sess.ID, tenantName, ids)
	if err != nil {
		tb.Fatalf("completing the consent of %s: %v", tenantName, err)
	}
	for _, r := range results {
		if r.Error != "" {
			tb.Fatalf("consent of %s, subscription %s: %s", tenantName, r.SubscriptionID, r.Error)
		}
	}
	return t
}

// ResetPeakRSS makes the process's peak resident set (VmHWM) start again
// from its current resident set, so a later PeakRSS covers only what ran
// in between. It reports whether the kernel allowed it.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS is this process's peak resident set (VmHWM), in bytes, or 0 where
// /proc is missing.
func PeakRSS() int64 { return procStatusBytes("/proc/self/status", "VmHWM:") }

// RSS is this process's resident set now (VmRSS), in bytes.
func RSS() int64 { return procStatusBytes("/proc/self/status", "VmRSS:") }

func procStatusBytes(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
