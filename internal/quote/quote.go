// Package quote renders values that came from a client (an event id, a
// type, a string that broke its schema) for messages, logs and headers,
// bounded: a hostile 900 kB string must not become a 900 kB answer, log
// line or dead-letter header.
package quote

import (
	"strconv"
	"unicode/utf8"
)

// MaxBytes is how much of a value String and Cut keep: a prefix of at
// most this many bytes (cut at a character boundary).
const MaxBytes = 64

// String returns s as a Go-quoted string; when s is longer than MaxBytes,
// only its first MaxBytes bytes are quoted, followed by "…" and its length
// ("\"abc\"…(900000 bytes)").
func String(s string) string {
	if len(s) <= MaxBytes {
		return strconv.Quote(s)
	}
	return strconv.Quote(prefix(s, MaxBytes)) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// Cut returns s unchanged when it is at most n bytes long, else its first
// n bytes (cut at a character boundary) followed by "…(N bytes)".
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, n) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// prefix returns at most n bytes of s, not splitting a UTF-8 sequence.
func prefix(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
