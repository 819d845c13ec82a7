package auth

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

var fast = Params{Memory: 1024, Time: 1, Threads: 1}

func TestPasswordHashing(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash = %q", h)
	}
	h2, _ := HashPassword("correct horse battery", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name       string
		hash, pw   string
		params     Params
		ok, rehash bool
		err        bool
	}{
		{"right", h, "correct horse battery", fast, true, false, false},
		{"wrong", h, "correct horse batterY", fast, false, false, false},
		{"empty", h, "", fast, false, false, false},
		{"stronger params wanted", h, "correct horse battery", DefaultParams, true, true, false},
		{"not argon2id", "$2a$10$abc", "x", fast, false, false, true},
		{"bad params", "$argon2id$v=19$m=x$YWJj$YWJj", "x", fast, false, false, true},
		{"bad salt", "$argon2id$v=19$m=1024,t=1,p=1$!!$YWJj", "x", fast, false, false, true},
		{"wrong version", "$argon2id$v=16$m=1024,t=1,p=1$YWJj$YWJj", "x", fast, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := CheckPassword(tc.hash, tc.pw, tc.params)
			if ok != tc.ok || rehash != tc.rehash || (err != nil) != tc.err {
				t.Fatalf("CheckPassword = %v, %v, %v; want %v, %v, err %v", ok, rehash, err, tc.ok, tc.rehash, tc.err)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pw   string
		code string
	}{
		{"short", steward.EINVALID},
		{"elevenchars", steward.EINVALID},
		{"twelve chars", ""},
		{"ünïcödé-ok!!", ""},
		{strings.Repeat("x", 1025), steward.EINVALID},
	} {
		err := ValidatePassword(tc.pw)
		if got := steward.ErrorCode(err); got != tc.code {
			t.Errorf("ValidatePassword(%d chars) = %q, want %q", len(tc.pw), got, tc.code)
		}
		if err != nil && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("error echoes the password: %v", err)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	if p := GeneratePassword(); len(p) != 26 || ValidatePassword(p) != nil || p == GeneratePassword() {
		t.Fatalf("generated password %q", p)
	}
}

// BenchmarkCheckPassword measures one sign-in's password check with the
// production parameters (the dominant cost of a login).
func BenchmarkCheckPassword(b *testing.B) {
	h, _ := HashPassword("correct horse battery", DefaultParams)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _ := CheckPassword(h, "correct horse battery", DefaultParams); !ok {
			b.Fatal("no match")
		}
	}
}
