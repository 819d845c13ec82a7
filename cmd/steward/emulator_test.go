package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
)

// TestEmulatorRegistersRedirectURIs runs `steward emulator` with
// --redirect-uri and asks it, through Steward's connector, to begin a
// consent that returns there: its sign-in page answers, and it refuses a
// consent returning to a URI nobody registered.
func TestEmulatorRegistersRedirectURIs(t *testing.T) {
	t.Parallel()
	conn := filepath.Join(t.TempDir(), "emulator.json")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runEmulator(ctx, []string{"--addr", "127.0.0.1:0", "--connection-out", conn, "--no-throttling",
			"--redirect-uri", "https://steward.example.net/tenants/connect/callback"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	lines := bufio.NewScanner(pr)
	var said string
	for lines.Scan() {
		said += lines.Text() + "\n"
		if strings.HasPrefix(lines.Text(), "Consent returns to:") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	for _, want := range []string{"https://127.0.0.1/tenants/connect/callback", "https://steward.example.net/tenants/connect/callback"} {
		if !strings.Contains(said, want) {
			t.Fatalf("the emulator does not say it registered %s: %s", want, said)
		}
	}
	raw, err := os.ReadFile(conn)
	if err != nil {
		t.Fatal(err)
	}
	var cf steward.ConnectionFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	az, err := azure.New(azure.Config{Cloud: conn})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(cf.CACertPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	for uri, ok := range map[string]bool{
		"https://steward.example.net/tenants/connect/callback":   true,
		"https://127.0.0.1:9443/tenants/connect/callback":        true,
		"https://elsewhere.example.net/tenants/connect/callback": false,
	} {
		u, err := az.ConsentURL(steward.ConsentRequest{RedirectURI: uri, State: "s"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if signIn := resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="flow"`); signIn != ok {
			t.Errorf("consent returning to %s: status %d, sign-in page %v, want %v: %.300s", uri, resp.StatusCode, signIn, ok, body)
		}
	}
}
