package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// Header names eventguard stamps on every record it produces. They are part
// of the public contract: they never change silently.
const (
	// HeaderTraceparent carries the W3C trace context (the producer's trace
	// continued by eventguard's produce span).
	HeaderTraceparent = "traceparent"
	// HeaderTracestate carries the W3C tracestate, when the caller sent one.
	HeaderTracestate = "tracestate"
	// HeaderFeature is the producing feature.
	HeaderFeature = "eventguard.feature"
	// HeaderEventID is the event id: the one given, or a generated UUIDv7.
	HeaderEventID = "eventguard.event_id"
	// HeaderSubject is the registry subject the value was validated against.
	HeaderSubject = "eventguard.subject"
	// HeaderSchemaVersion is the subject version, in decimal. The schema id
	// is in the value's wire-format header.
	HeaderSchemaVersion = "eventguard.schema_version"
	// HeaderReplayedFrom marks a record re-produced by `eventguard dlq
	// replay`: the dead-letter topic/partition/offset it came from.
	HeaderReplayedFrom = "eventguard.replayed_from"
)

// ReservedHeader reports whether a caller may not set header name itself:
// the trace headers and everything under "eventguard.".
func ReservedHeader(name string) bool {
	return name == HeaderTraceparent || name == HeaderTracestate ||
		len(name) >= len("eventguard.") && name[:len("eventguard.")] == "eventguard."
}

// HeaderValueSafe reports whether s can travel unchanged as an HTTP header
// value (RFC 9110 field-value): no control character (CR, LF, NUL, DEL...),
// no leading or trailing space (HTTP parsers strip it). The empty string is
// safe. eventguard refuses event ids and types that are not, since they
// reach the app as HTTP headers on delivery.
func HeaderValueSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')
}

// Header returns the value of the last header called name, and whether
// there was one.
func Header(hs []kgo.RecordHeader, name string) (string, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == name {
			return string(hs[i].Value), true
		}
	}
	return "", false
}

// HeaderCarrier adapts record headers to OpenTelemetry's TextMapCarrier.
type HeaderCarrier struct{ Headers *[]kgo.RecordHeader }

// Get returns the value of the last header called key.
func (c HeaderCarrier) Get(key string) string {
	v, _ := Header(*c.Headers, key)
	return v
}

// Set replaces every header called key with one holding value.
func (c HeaderCarrier) Set(key, value string) {
	hs := *c.Headers
	out := hs[:0]
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	*c.Headers = append(out, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}
