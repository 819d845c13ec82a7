package steward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestParseTokenLifetime(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration // 0: refused
		msg  string
	}{
		{"", steward.DefaultTokenLifetime, ""},
		{"30d", 30 * day, ""},
		{" 7d ", 7 * day, ""},
		{"730d", 730 * day, ""},
		{"17520h", 730 * day, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"731d", 0, "within 730 days"},
		{"17521h", 0, "within 730 days"},
		{"213504d", 0, "within 730 days"},               // overflowed to 1.5 s once
		{"99999999999999999999d", 0, "within 730 days"}, // beyond uint32
		{"2562047h", 0, "within 730 days"},              // the largest Duration in hours
		{"9223372036854775807ns", 0, "within 730 days"},
		{"99999999999999999999h", 0, "not a lifetime"}, // ParseDuration overflows: refused
		{"0d", 0, "must be positive"},
		{"0", 0, "must be positive"},
		{"-1d", 0, "not a lifetime"},
		{"-5m", 0, "must be positive"},
		{"+5d", 0, "not a lifetime"},
		{"d", 0, "not a lifetime"},
		{"1.5d", 0, "not a lifetime"},
		{"never", 0, "not a lifetime"},
		{"30D", 0, "not a lifetime"},
	}
	for _, tc := range tests {
		got, err := steward.ParseTokenLifetime(tc.in)
		if tc.want != 0 {
			if err != nil || got != tc.want {
				t.Errorf("ParseTokenLifetime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.msg) {
			t.Errorf("ParseTokenLifetime(%q) = %v, %v; want EINVALID saying %q", tc.in, got, err, tc.msg)
		}
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "Zoë Wu", "日本語", "a-b_c.d@e"} {
		if err := steward.CheckText("Name", ok); err != nil {
			t.Errorf("CheckText(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a\x00b", "\xff\xfe", "tab\there", "cr\r", "del\x7f", "c1\u0085"} {
		if err := steward.CheckText("Name", bad); steward.ErrorCode(err) != steward.EINVALID || !strings.HasPrefix(steward.ErrorMessage(err), "Name ") {
			t.Errorf("CheckText(%q) = %v; want EINVALID naming the field", bad, err)
		}
	}
}

func TestInteractive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    *steward.Actor
		want bool
	}{
		{nil, false},
		{&steward.Actor{Name: "made without a method"}, false},
		{&steward.Actor{Name: "t", Auth: steward.AuthToken, TokenID: 1}, false},
		{&steward.Actor{Name: "s", Auth: steward.AuthPassword}, true},
		{steward.CommandActor("cli:root"), true},
		{steward.SystemActor, true},
	} {
		if got := tc.a.Interactive(); got != tc.want {
			t.Errorf("%+v.Interactive() = %v, want %v", tc.a, got, tc.want)
		}
	}
}

func TestThrottledError(t *testing.T) {
	t.Parallel()
	e := steward.NewThrottledError(2*time.Minute + 100*time.Millisecond)
	if steward.ErrorCode(e) != steward.ETHROTTLED || e.RetryAfterSeconds() != 121 || steward.ErrorMessage(e) != "Too many failed sign-ins. Try again in 3 minutes." {
		t.Fatalf("%v: code %s, retry %d", e, steward.ErrorCode(e), e.RetryAfterSeconds())
	}
	if e := steward.NewThrottledError(time.Millisecond); e.RetryAfterSeconds() != 1 || steward.ErrorMessage(e) != "Too many failed sign-ins. Try again in 1 second." {
		t.Fatalf("%v: retry %d", e, e.RetryAfterSeconds())
	}
}

// TestTokenExpiry: a token stored without an expiry, as releases that
// offered "never" did, expires two years after it was made.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	made := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	old := &steward.APIToken{CreatedAt: made}
	if !old.Expiry().Equal(made.Add(730*24*time.Hour)) || !old.Active(made.Add(729*24*time.Hour)) || old.Active(made.Add(730*24*time.Hour)) {
		t.Fatalf("a token without an expiry expires at %v", old.Expiry())
	}
	tok := &steward.APIToken{CreatedAt: made, ExpiresAt: made.Add(time.Hour)}
	if !tok.Active(made) || tok.Active(made.Add(time.Hour)) {
		t.Fatal("a token is active outside its lifetime")
	}
	tok.RevokedAt = made
	if tok.Active(made) {
		t.Fatal("a revoked token is active")
	}
}
