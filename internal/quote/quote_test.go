package quote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"evil\r\nX: 1", `"evil\r\nX: 1"`},
		{strings.Repeat("a", MaxBytes), `"` + strings.Repeat("a", MaxBytes) + `"`},
		{strings.Repeat("a", 900000), `"` + strings.Repeat("a", MaxBytes) + `"…(900000 bytes)`},
		{long, `"` + strings.Repeat("é", MaxBytes/2) + `"…(200 bytes)`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%.20q) = %.100q, want %.100q", tt.in, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	if got := Cut("short", 10); got != "short" {
		t.Errorf("Cut(short) = %q", got)
	}
	s := "ab" + strings.Repeat("€", 10) // 32 bytes
	got := Cut(s, 5)                    // "ab" + one 3-byte rune
	if got != "ab€…(32 bytes)" {
		t.Errorf("Cut = %q", got)
	}
	for n := 0; n < len(s); n++ {
		if c := Cut(s, n); !utf8.ValidString(c) || len(c) > n+len("…(32 bytes)") {
			t.Errorf("Cut(s, %d) = %q: not valid UTF-8 or too long", n, c)
		}
	}
}
