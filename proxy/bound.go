package proxy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on the strings of gRPC statuses, so that a hostile or mistaken
// client cannot make a status (a trailer) as large as its request; a
// client-sent string quoted in a message is cut by internal/quote.
// docs/grpc.md states them.
const (
	// maxStatusMessageBytes bounds a gRPC status message (the
	// grpc-message trailer) and a ProduceStream response's error message.
	maxStatusMessageBytes = 1024
	// maxViolationFieldBytes and maxViolationDescBytes bound each
	// google.rpc.BadRequest field violation's field (a JSON pointer may
	// hold a long property name) and description.
	maxViolationFieldBytes = 256
	maxViolationDescBytes  = 512
)

// bounded returns s as valid UTF-8 (invalid bytes replaced) of at most
// max bytes: a longer s is cut at a character boundary and ends with
// "…(N bytes)" (as internal/quote does), N its original length (the suffix alone when max is
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
	suffix := "…(" + strconv.Itoa(n) + " bytes)"
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
