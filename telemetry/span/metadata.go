package span

import "strings"

// MetadataCarrier adapts gRPC metadata (metadata.MD is a
// map[string][]string with lower-case keys; convert with
// span.MetadataCarrier(md)) to the propagator, without importing gRPC.
type MetadataCarrier map[string][]string

// Get returns the first value of key.
func (c MetadataCarrier) Get(key string) string {
	if v := c[strings.ToLower(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (c MetadataCarrier) Set(key, value string) { c[strings.ToLower(key)] = []string{value} }

// Keys lists the keys.
func (c MetadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
