package secrets_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"text/template"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/secrets"
)

// These tests are about steward.Secret (secret.go at the root); they live
// here, beside the code that opens secrets.

const plainSecret = "Xy8Q~plaintext-client-secret-value"

type credential struct {
	Name   string         `json:"name" xml:"name"`
	Secret steward.Secret `json:"secret" xml:"secret"`
}

func TestSecretFmtRedacts(t *testing.T) {
	t.Parallel()

	s := steward.Secret(plainSecret)
	c := credential{Name: "app", Secret: s}
	outputs := map[string]string{
		"%v %+v %#v":        fmt.Sprintf("%v %+v %#v", s, s, s),
		"pointer":           fmt.Sprintf("%v %+v %#v %s", &s, &s, &s, &s),
		"struct":            fmt.Sprintf("%v %+v %#v", c, c, c),
		"struct pointer":    fmt.Sprintf("%v %+v %#v", &c, &c, &c),
		"slice and map":     fmt.Sprintf("%v %#v %v %#v", []steward.Secret{s}, []steward.Secret{s}, map[string]steward.Secret{"k": s}, map[steward.Secret]int{s: 1}),
		"string verbs":      fmt.Sprintf("%s %q %x %X % x %10s %-40s %.3s", s, s, s, s, s, s, s, s),
		"wrong verbs":       fmt.Sprintf("%d %t %f", s, s, s), // not %p: see the Secret doc
		"Sprint/Sprintln":   fmt.Sprint(s, c) + fmt.Sprintln(s, c),
		"error":             fmt.Errorf("connecting with %v: %w", s, errors.New("boom")).Error(),
		"any":               fmt.Sprintf("%v", any(s)),
		"String/GoString":   s.String() + s.GoString(),
		"template":          execTemplate(t, "{{.}} {{.Secret}} {{printf `%q` .Secret}}", c),
		"secrets.Config":    fmt.Sprintf("%v %+v %#v", secrets.Config{Keys: s}, secrets.Config{Keys: s}, secrets.Config{Keys: s}),
		"type name (%T) ok": fmt.Sprintf("%T", s),
	}
	for name, out := range outputs {
		if strings.Contains(out, plainSecret) || strings.Contains(out, fmt.Sprintf("%x", plainSecret)) ||
			strings.Contains(out, "Xy8Q") || strings.Contains(out, "plaintext-client") {
			t.Errorf("%s: %q leaks the secret", name, out)
		}
		if name != "type name (%T) ok" && !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: %q does not say [redacted]", name, out)
		}
	}
	if got := s.Reveal(); got != plainSecret {
		t.Errorf("Reveal = %q", got)
	}
}

func execTemplate(t *testing.T, text string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := template.Must(template.New("t").Parse(text)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSecretJSONAndXMLRedact(t *testing.T) {
	t.Parallel()

	s := steward.Secret(plainSecret)
	for name, v := range map[string]any{
		"secret":    s,
		"pointer":   &s,
		"struct":    credential{Name: "app", Secret: s},
		"slice":     []steward.Secret{s},
		"map value": map[string]steward.Secret{"k": s},
		"interface": map[string]any{"s": s},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", name, err)
		}
		if strings.Contains(string(b), plainSecret) || !strings.Contains(string(b), `"[redacted]"`) {
			t.Errorf("%s: json = %s", name, b)
		}
	}
	b, err := json.Marshal(credential{Name: "app", Secret: s})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"app","secret":"[redacted]"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	x, err := xml.Marshal(credential{Name: "app", Secret: s})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<credential><name>app</name><secret>[redacted]</secret></credential>`; string(x) != want {
		t.Errorf("xml = %s, want %s", x, want)
	}
}

// TestSecretDecodes checks that a secret can come in through JSON, and that
// the placeholder cannot.
func TestSecretDecodes(t *testing.T) {
	t.Parallel()

	var c credential
	if err := json.Unmarshal([]byte(`{"name":"app","secret":"`+plainSecret+`"}`), &c); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if c.Secret.Reveal() != plainSecret {
		t.Errorf("Secret = %q", c.Secret.Reveal())
	}

	out, _ := json.Marshal(c)
	err := json.Unmarshal(out, &c)
	wantError(t, err, steward.EINVALID, "[redacted]")
	if c.Secret.Reveal() != plainSecret {
		t.Errorf("a refused placeholder changed the secret to %q", c.Secret.Reveal())
	}
}

func TestSecretRefusesSQL(t *testing.T) {
	t.Parallel()

	v, err := driver.DefaultParameterConverter.ConvertValue(steward.Secret(plainSecret))
	if v != nil {
		t.Errorf("ConvertValue = %v", v)
	}
	wantError(t, err, steward.EINTERNAL, "sealed before it is stored")
}

func TestSecretSlogRedacts(t *testing.T) {
	t.Parallel()

	s := steward.Secret(plainSecret)
	var out strings.Builder
	for _, h := range []slog.Handler{
		slog.NewJSONHandler(&out, &slog.HandlerOptions{AddSource: true}),
		slog.NewTextHandler(&out, nil),
	} {
		log := slog.New(h)
		log.Info("connecting", "secret", s, "credential", credential{Name: "app", Secret: s}, "pointer", &s)
		log.Info("connecting", slog.Any("secret", s), slog.Group("app", slog.Any("secret", s)))
		log.With("secret", s).WithGroup("g").Info("with", "s", s)
		log.LogAttrs(context.Background(), slog.LevelWarn, "attrs", slog.Any("secret", s), slog.Any("list", []steward.Secret{s}))
		log.Error(fmt.Sprintf("message %v", s))
	}
	if strings.Contains(out.String(), plainSecret) {
		t.Fatalf("slog output leaks the secret:\n%s", out.String())
	}
	if n := strings.Count(out.String(), "[redacted]"); n < 20 {
		t.Errorf("slog output says [redacted] %d times, want at least 20:\n%s", n, out.String())
	}
}
