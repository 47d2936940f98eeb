package proxy

import (
	"strconv"

	"github.com/eventguard/eventguard/produce"
)

// appendProduced writes the answer to a request whose every record was
// produced, byte for byte what encoding/json writes for the wireResponse
// (and a newline), without reflection; the hot path of every successful
// produce. It reports false when the answer is anything else (an error, a
// failed record, a string that needs escaping), for writeJSON to write.
func appendProduced(resp *produce.Response) ([]byte, bool) {
	if resp.Err != nil || len(resp.Results) == 0 || len(resp.Warnings) > 0 {
		return nil, false
	}
	b := make([]byte, 0, 16+len(resp.Results)*160)
	b = append(b, `{"results":[`...)
	for i := range resp.Results {
		r := &resp.Results[i]
		if r.Err != nil || !r.Produced || !plainJSON(r.Subject) || !plainJSON(r.EventID) {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(r.Index), 10)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(r.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, r.Offset, 10)
		if r.Subject != "" {
			b = append(b, `,"subject":"`...)
			b = append(b, r.Subject...)
			b = append(b, '"')
		}
		if r.SchemaID != 0 {
			b = append(b, `,"schema_id":`...)
			b = strconv.AppendInt(b, int64(r.SchemaID), 10)
		}
		if r.SchemaVersion != 0 {
			b = append(b, `,"schema_version":`...)
			b = strconv.AppendInt(b, int64(r.SchemaVersion), 10)
		}
		if r.EventID != "" {
			b = append(b, `,"event_id":"`...)
			b = append(b, r.EventID...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...), true
}

// plainJSON reports whether encoding/json writes s unchanged between
// quotes: printable ASCII without '"', '\\', '<', '>' or '&' (which it
// escapes for HTML).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
