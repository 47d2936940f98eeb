package proxy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBounded(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "abc", 10, "abc"},
		{"exact", "abcdefghij", 10, "abcdefghij"},
		{"cut with its length", strings.Repeat("x", 100), 20, strings.Repeat("x", 6) + "…(100 bytes)"},
		{"cut on a character boundary", long, 20, "éé…(1200 bytes)"},
		{"invalid UTF-8 replaced", "a\xffb", 10, "a\uFFFDb"},
		{"suffix longer than max", strings.Repeat("x", 100), 4, "…(100 bytes)"},
	} {
		got := bounded(c.in, c.max)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("%s: bounded = %q, want %q", c.name, got, c.want)
		}
	}
}
