package rules

import (
	"strconv"
	"unicode/utf8"
)

// maxQuote bounds a value quoted in a message or an error, in bytes of the
// value before quoting.
const maxQuote = 64

// DefaultMaxMessageBytes is the default of [Options.MaxMessageBytes].
const DefaultMaxMessageBytes = 256

// quote returns s as a Go-quoted string, cut to at most max bytes of s (on
// a rune boundary) with "…" after the closing quote when cut.
func quote(s string, max int) string {
	cut := false
	if len(s) > max {
		s = truncate(s, max)
		cut = true
	}
	q := strconv.Quote(s)
	if cut {
		q += "…"
	}
	return q
}

// truncate cuts s to at most max bytes without splitting a UTF-8 sequence.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// bound cuts a message to max bytes, ending it with "…" when cut.
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ell = "…"
	return truncate(s, max-len(ell)) + ell
}
