package proxy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on the strings eventguard's answers echo, so that a hostile or
// mistaken client cannot make an answer (or a gRPC trailer) as large as
// its request. docs/grpc.md and the README state them.
const (
	// maxQuoted bounds a client-sent string (a header value, a path, a
	// subscription name) quoted in an error message.
	maxQuoted = 128
	// maxStatusMessageBytes bounds a gRPC status message (the
	// grpc-message trailer) and a ProduceStream response's error message.
	maxStatusMessageBytes = 1024
	// maxViolationFieldBytes and maxViolationDescBytes bound each
	// google.rpc.BadRequest field violation's field (a JSON pointer may
	// hold a long property name) and description.
	maxViolationFieldBytes = 256
	maxViolationDescBytes  = 512
)

// quoted renders a client-sent string for an error message: Go-quoted, at
// most maxQuoted bytes of it, with its length when cut.
func quoted(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:runeCut(s, maxQuoted)]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// bounded returns s as valid UTF-8 (invalid bytes replaced) of at most
// max bytes: a longer s is cut at a character boundary and ends with
// "… (N bytes)", N its original length (the suffix alone when max is
// shorter than it). Strings in protobuf messages must
// be valid UTF-8, or the status cannot be encoded at all.
func bounded(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	n := len(s)
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	suffix := "… (" + strconv.Itoa(n) + " bytes)"
	keep := max - len(suffix)
	if keep < 0 {
		keep = 0
	}
	return s[:runeCut(s, keep)] + suffix
}

// runeCut returns the largest i <= n at which s can be cut without
// splitting a UTF-8 sequence.
func runeCut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
