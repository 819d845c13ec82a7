package access

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"für", 2, "f…"},         // inside the ü
		{"für", 3, "fü…"},        // after it
		{"日本語", 4, "日…"},         // inside the second character
		{"👩‍💻", 2, "…"},          // inside the first
		{"\xff\xfe", 1, "\xff…"}, // bytes that were never text stay as they were
	}
	for _, tc := range tests {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
	// A consent error cut at every length is still text.
	desc := "AADSTS65004: L'utilisateur a refusé de donner son consentement à l'application « Steward » — 用户拒绝同意"
	for n := range len(desc) {
		if got := truncate(desc, n); !utf8.ValidString(got) || !strings.HasPrefix(desc, strings.TrimSuffix(got, "…")) {
			t.Fatalf("truncate at %d = %q", n, got)
		}
	}
}
