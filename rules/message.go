package rules

import "unicode/utf8"

// DefaultMaxMessageBytes is the default of [Options.MaxMessageBytes].
const DefaultMaxMessageBytes = 256

// Values a message quotes are bounded by internal/quote (64 bytes and the
// length of what was cut).

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
