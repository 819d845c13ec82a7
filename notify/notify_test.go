package notify

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

var alert = steward.Alert{Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Kind: "write_access_enabled", Severity: "critical",
	TenantID: "aaaaaaaa-0000-0000-0000-000000000001", Subject: "Write access on", Text: "Steward may now write tags.", Details: map[string]string{"by": "alice"}}

func TestWebhookIsSigned(t *testing.T) {
	t.Parallel()
	var got struct {
		body, sig string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.body, got.sig = string(b), r.Header.Get("X-Steward-Signature")
	}))
	defer srv.Close()
	n, err := New(Config{Webhooks: []Webhook{{URL: srv.URL, Secret: "hook secret"}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.body, `"kind":"write_access_enabled"`) || got.sig != Sign("hook secret", []byte(got.body)) {
		t.Fatalf("body %s, signature %s", got.body, got.sig)
	}
	if strings.Contains(got.body, "hook secret") {
		t.Fatal("the webhook secret is in the body")
	}
}

func TestWebhookFailureIsReported(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	n, _ := New(Config{Webhooks: []Webhook{{URL: srv.URL}}, Logger: slog.New(slog.DiscardHandler)})
	if err := n.Notify(context.Background(), alert); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("err = %v", err)
	}
}

// smtpRelay is a minimal SMTP server for the test: it accepts one message
// and hands back what it received.
func smtpRelay(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		say := func(s string) { io.WriteString(c, s+"\r\n") }
		say("220 relay.test ESMTP")
		var data strings.Builder
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if inData {
				if line == ".\r\n" {
					inData = false
					say("250 queued")
					continue
				}
				data.WriteString(line)
				continue
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 relay.test")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
				say("250 ok")
			case cmd == "DATA":
				inData = true
				say("354 go ahead")
			case cmd == "QUIT":
				say("221 bye")
				out <- data.String()
				return
			default:
				say("502 not implemented")
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), out
}

func TestEmail(t *testing.T) {
	t.Parallel()
	addr, got := smtpRelay(t)
	n, err := New(Config{SMTP: SMTPConfig{Addr: addr, From: "steward@example.com", To: []string{"security@example.com"}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	msg := <-got
	for _, want := range []string{"Subject: [Steward] Write access on", "To: security@example.com", "Steward may now write tags.", "Tenant: aaaaaaaa-0000-0000-0000-000000000001", "by: alice"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestEmailRefusesPasswordInClear(t *testing.T) {
	t.Parallel()
	addr, _ := smtpRelay(t)
	n, _ := New(Config{SMTP: SMTPConfig{Addr: addr, From: "a@x", To: []string{"b@x"}, Username: "u", Password: "smtp password"}, Logger: slog.New(slog.DiscardHandler)})
	err := n.Notify(context.Background(), alert)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || strings.Contains(err.Error(), "smtp password") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{SMTP: SMTPConfig{Addr: "no-port", From: "a@x", To: []string{"b@x"}}},
		{SMTP: SMTPConfig{Addr: "h:25"}},
		{Webhooks: []Webhook{{URL: "ftp://x"}}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
