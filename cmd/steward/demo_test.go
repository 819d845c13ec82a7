package main

import (
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemo runs `steward demo` as a new user would and checks what it
// prints: where to sign in, and the emulator with a customer admin to
// consent as; then that the portal answers and stops on Ctrl-C.
func TestDemo(t *testing.T) {
	t.Parallel()
	var (
		addr        string
		out, errOut *lockedBuffer
		cancel      context.CancelFunc
		done        chan int
	)
	// The port is free when picked but may be taken before the demo binds
	// it (other tests and their clients open ports meanwhile): then pick
	// another.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		out, errOut, done = &lockedBuffer{}, &lockedBuffer{}, make(chan int, 1)
		env := map[string]string{"STEWARD_ADMIN_PASSWORD": "demo admin password"}
		go func() {
			done <- run(ctx, []string{"demo", "--addr", addr, "--data", filepath.Join(t.TempDir(), "new")}, func(k string) string { return env[k] }, strings.NewReader(""), out, errOut)
		}()
		if waitForDemo(t, out, errOut, done) || attempt == 3 || !strings.Contains(errOut.String(), "address already in use") {
			break
		}
		cancel()
	}
	if !strings.Contains(out.String(), "Press Ctrl-C") {
		cancel()
		t.Fatalf("demo not ready: %s\n%s", out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Steward demo is ready: https://` + regexp.QuoteMeta(addr)),
		regexp.MustCompile(`Azure emulator \(small estate\): https://127\.0\.0\.1:\d+`),
		regexp.MustCompile(`sign in to Azure as admin@contoso\.onmicrosoft\.com with password \S+`),
	} {
		if !want.MatchString(text) {
			t.Errorf("demo output lacks %s:\n%s", want, text)
		}
	}
	if code, body := httpsGet(t, "https://"+addr+"/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}

// waitForDemo reports whether the demo says it is ready within 30 s; false
// when it exits first or takes longer.
func waitForDemo(t *testing.T, out, errOut *lockedBuffer, done chan int) bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case code := <-done:
			done <- code
			return false
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
