// Package notify sends Steward's alerts by email (SMTP) and by webhook
// (an HTTPS POST of the alert as JSON, signed with HMAC-SHA256 so the
// receiver can tell it came from Steward).
package notify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Config says where alerts go. Both parts are optional.
type Config struct {
	SMTP     SMTPConfig
	Webhooks []Webhook
	// Timeout bounds each delivery. Defaults to 10 seconds.
	Timeout time.Duration
	// HTTPClient sends webhooks. Defaults to a client with Timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// SMTPConfig is an SMTP relay.
type SMTPConfig struct {
	Addr     string // host:port; empty disables email
	From     string
	To       []string
	Username string
	Password steward.Secret
	// InsecureSkipVerify accepts any certificate from the relay, for test
	// relays only.
	InsecureSkipVerify bool
}

// Webhook is an endpoint that receives alerts.
type Webhook struct {
	URL    string
	Secret steward.Secret // signs the body; the receiver checks X-Steward-Signature
}

// Notifier implements steward.Notifier.
type Notifier struct {
	cfg Config
	log *slog.Logger
}

var _ steward.Notifier = (*Notifier)(nil)

// New checks the configuration and returns a notifier.
func New(cfg Config) (*Notifier, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SMTP.Addr != "" {
		if _, _, err := net.SplitHostPort(cfg.SMTP.Addr); err != nil {
			return nil, fmt.Errorf("notify: SMTP address %q is not host:port", cfg.SMTP.Addr)
		}
		if cfg.SMTP.From == "" || len(cfg.SMTP.To) == 0 {
			return nil, errors.New("notify: email needs a From address and at least one To address")
		}
	}
	for _, w := range cfg.Webhooks {
		if !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			return nil, fmt.Errorf("notify: webhook %q is not an http(s) URL", w.URL)
		}
	}
	return &Notifier{cfg: cfg, log: cfg.Logger}, nil
}

// Enabled reports whether any channel is configured.
func (n *Notifier) Enabled() bool { return n.cfg.SMTP.Addr != "" || len(n.cfg.Webhooks) > 0 }

// Notify sends the alert on every channel and returns the failures joined.
func (n *Notifier) Notify(ctx context.Context, a steward.Alert) error {
	var errs []error
	if n.cfg.SMTP.Addr != "" {
		if err := n.email(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("email: %w", err))
		}
	}
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	for _, w := range n.cfg.Webhooks {
		if err := n.post(ctx, w, body); err != nil {
			errs = append(errs, fmt.Errorf("webhook %s: %w", hostOf(w.URL), err))
		}
	}
	if len(errs) == 0 {
		n.log.InfoContext(ctx, "alert sent", slog.String("kind", a.Kind), slog.String("tenant_id", a.TenantID))
	}
	return errors.Join(errs...)
}

func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	host, _, _ := strings.Cut(u, "/")
	return host
}

// Sign returns the signature header value of a body: "sha256=" and the hex
// HMAC-SHA256 of the body with the webhook's secret.
func Sign(secret steward.Secret, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (n *Notifier) post(ctx context.Context, w Webhook, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Steward")
	if w.Secret != "" {
		req.Header.Set("X-Steward-Signature", Sign(w.Secret, body))
	}
	resp, err := n.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// email sends the alert as a plain-text message, with STARTTLS when the
// relay offers it (and always when credentials are sent).
func (n *Notifier) email(ctx context.Context, a steward.Alert) error {
	c := n.cfg.SMTP
	host, _, _ := net.SplitHostPort(c.Addr)
	d := net.Dialer{Timeout: n.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(n.cfg.Timeout))
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: host, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	} else if c.Username != "" {
		return errors.New("the relay does not offer STARTTLS; refusing to send the password in the clear")
	}
	if c.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password.Reveal(), host)); err != nil {
			return err
		}
	}
	if err := cl.Mail(c.From); err != nil {
		return err
	}
	for _, to := range c.To {
		if err := cl.Rcpt(to); err != nil {
			return err
		}
	}
	wc, err := cl.Data()
	if err != nil {
		return err
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n",
		c.From, strings.Join(c.To, ", "), mime.QEncoding.Encode("utf-8", "[Steward] "+a.Subject), a.Time.Format(time.RFC1123Z))
	msg.WriteString(strings.ReplaceAll(a.Text, "\n", "\r\n"))
	fmt.Fprintf(&msg, "\r\n\r\nKind: %s\r\nSeverity: %s\r\n", a.Kind, a.Severity)
	if a.TenantID != "" {
		fmt.Fprintf(&msg, "Tenant: %s\r\n", a.TenantID)
	}
	for k, v := range a.Details {
		fmt.Fprintf(&msg, "%s: %s\r\n", k, v)
	}
	if _, err := io.WriteString(wc, msg.String()); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return cl.Quit()
}
