package proxy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
)

// CloudEvents 1.0 in: an event read from HTTP (binary mode: ce-* headers
// and the data as body; structured mode: one JSON event; batch mode: a
// JSON array of them) becomes a produce.Record in the Kafka protocol
// binding's binary mode: the data as the value, every attribute as a
// ce_<name> header, datacontenttype as content-type, the partitionkey
// extension as the key, id as the event id, type as the record type. The
// attributes are checked as the spec says (required ones present, formats
// of source, dataschema, time, datacontenttype, names of extensions).

// ceSpecVersion is the one CloudEvents version accepted.
const ceSpecVersion = "1.0"

// maxCEAttrName bounds an extension attribute's name (the spec says it
// SHOULD NOT exceed 20 characters).
const maxCEAttrName = 64

// The core context attributes, in the order they become Kafka headers.
var ceCore = []string{"specversion", "id", "source", "type", "subject", "time", "dataschema"}

// ceEvent is one event as read, before it becomes a record.
type ceEvent struct {
	// attrs are the context attributes but datacontenttype, by name, as
	// canonical strings.
	attrs map[string]string
	// contentType is datacontenttype ("" when absent).
	contentType string
	// data is the data's bytes; hasData is false when the event has none.
	data    []byte
	hasData bool
	// dataJSON says data is a JSON value (not base64-decoded bytes): its
	// media type is not checked again.
	dataJSON bool
}

// ceError is a CloudEvents request eventguard refuses before producing:
// the HTTP status and the error code of its answer.
type ceError struct {
	status int
	code   string
	msg    string
}

func (e *ceError) Error() string { return e.msg }

// Error codes of the CloudEvents front door beside the pipeline's.
const (
	// CodeInvalidCloudEvent: an event breaks the CloudEvents spec (a
	// required attribute missing, a malformed source, time, dataschema,
	// datacontenttype or extension name), or the body is not an event.
	CodeInvalidCloudEvent = "invalid_cloudevent"
)

func ceInvalid(format string, args ...any) *ceError {
	return &ceError{status: http.StatusBadRequest, code: CodeInvalidCloudEvent, msg: fmt.Sprintf(format, args...)}
}

func ceMedia(format string, args ...any) *ceError {
	return &ceError{status: http.StatusUnsupportedMediaType, code: produce.CodeUnsupportedMedia, msg: fmt.Sprintf(format, args...)}
}

// isJSONMedia reports whether a media type declares JSON data: */json or
// */*+json (the JSON event format's rule).
func isJSONMedia(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	_, sub, ok := strings.Cut(mt, "/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// ceBinary reads a binary-mode event: ce-* headers, the body as data.
func ceBinary(h http.Header, body []byte) (*ceEvent, *ceError) {
	ev := &ceEvent{attrs: map[string]string{}}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "ce-") {
			continue
		}
		name := lk[3:]
		if len(vs) > 1 {
			return nil, ceInvalid("header %s is repeated: an attribute appears at most once", quote.String(k))
		}
		if name == "datacontenttype" {
			return nil, ceInvalid("header ce-datacontenttype is not allowed in binary mode: the Content-Type header is the datacontenttype")
		}
		if err := ceAttrName(name); err != nil {
			return nil, ceInvalid("header %s: %v", quote.String(k), err)
		}
		v, err := ceHeaderValue(vs[0])
		if err != nil {
			return nil, ceInvalid("header %s: %v", quote.String(k), err)
		}
		ev.attrs[name] = v
	}
	ev.contentType = h.Get("Content-Type")
	if !isJSONMedia(ev.contentType) {
		return nil, ceMedia("Content-Type (the event's datacontenttype) is %s; eventguard checks the data, as JSON, against the topic's contract: send JSON data (application/json or */*+json)", quote.String(ev.contentType))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, ceInvalid("the event has no data: eventguard validates every event's data against the topic's contract, so events without data are not produced")
	}
	ev.data, ev.hasData, ev.dataJSON = body, true, true
	if err := ev.check(); err != nil {
		return nil, ceInvalid("%v", err)
	}
	return ev, nil
}

// ceHeaderValue decodes a binary-mode header value: a quoted-string is
// unquoted, then one round of percent-decoding; the result must be UTF-8.
func ceHeaderValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			c := v[i]
			if c == '\\' && i+1 < len(v)-1 {
				i++
				c = v[i]
			}
			b.WriteByte(c)
		}
		v = b.String()
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", fmt.Errorf("a %% is not followed by two hex digits")
		}
		n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("a %% is not followed by two hex digits")
		}
		out = append(out, byte(n))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("the percent-decoded value is not UTF-8")
	}
	return string(out), nil
}

// ceStructured reads structured-mode events: one JSON event object
// (batch false) or a JSON array of them (batch true).
func ceStructured(body []byte, batch bool) ([]*ceEvent, *ceError) {
	d := &reqDecoder{b: body, s: string(body)}
	if d.peek() == 0 {
		return nil, ceInvalid("the body is empty")
	}
	var evs []*ceEvent
	var cerr *ceError
	event := func(i int) error {
		ev, err := d.ceEvent(i)
		if err != nil {
			var ce *ceError
			if errors.As(err, &ce) {
				cerr = ce
			}
			return err
		}
		if e := ev.check(); e != nil {
			if batch {
				cerr = ceInvalid("event %d: %v", i, e)
			} else {
				cerr = ceInvalid("%v", e)
			}
			return cerr
		}
		if !ev.hasData {
			cerr = ceInvalid("%sthe event has no data: eventguard validates every event's data against the topic's contract, so events without data are not produced", eventAt(batch, i))
			return cerr
		}
		if !ev.dataJSON && !isJSONMedia(ev.contentType) {
			cerr = ceMedia("%sdata_base64 with datacontenttype %s: eventguard checks the data, as JSON, against the topic's contract: send JSON data", eventAt(batch, i), quote.String(ev.contentType))
			return cerr
		}
		evs = append(evs, ev)
		return nil
	}
	var err error
	if batch {
		if d.peek() != '[' {
			return nil, ceInvalid("a batch (application/cloudevents-batch+json) must be a JSON array of events")
		}
		err = d.array(root, "between events", event)
	} else {
		err = event(-1)
	}
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, ceInvalid("the body is not a CloudEvents JSON %s: %v", map[bool]string{true: "batch", false: "event"}[batch], err)
	}
	if d.peek() != 0 {
		return nil, ceInvalid("the body has data after the JSON %s", map[bool]string{true: "batch", false: "event"}[batch])
	}
	if batch && len(evs) == 0 {
		return nil, &ceError{status: http.StatusBadRequest, code: produce.CodeEmptyBatch, msg: "the batch is empty: send at least one event"}
	}
	return evs, nil
}

func eventAt(batch bool, i int) string {
	if batch {
		return "event " + strconv.Itoa(i) + ": "
	}
	return ""
}

// ceEvent reads one JSON event object (i is its index in a batch, -1
// alone).
func (d *reqDecoder) ceEvent(i int) (*ceEvent, error) {
	at := root
	if i >= 0 {
		at = where{rec: -1, field: "[" + strconv.Itoa(i) + "]"}
	}
	ev := &ceEvent{attrs: map[string]string{}}
	seen := map[string]bool{}
	var dataRaw []byte
	var dataB64 string
	hasB64 := false
	err := d.object(at, "an event must be a JSON object", func(k []byte) error {
		name := string(k)
		fat := at.in(strings.TrimPrefix(at.field+"."+name, "."))
		if seen[name] {
			return d.fail(at, "has %q twice", name)
		}
		seen[name] = true
		switch name {
		case "data":
			start := d.i
			if err := d.skip(fat); err != nil {
				return err
			}
			dataRaw = d.b[start:d.i:d.i]
			return nil
		case "data_base64":
			if d.peek() == 'n' && d.literal("null") {
				return nil
			}
			s, err := d.stringField(fat)
			dataB64, hasB64 = s, true
			return err
		}
		if err := ceAttrName(name); err != nil {
			return d.fail(at, "member %s: %v", quote.String(name), err)
		}
		switch c := d.peek(); {
		case c == 'n' && d.literal("null"):
			return nil // null is unset
		case c == '"':
			s, err := d.str(fat)
			if err != nil {
				return err
			}
			if name == "datacontenttype" {
				ev.contentType = s
			} else {
				ev.attrs[name] = s
			}
			return nil
		case c == 't' && d.literal("true"):
			ev.attrs[name] = "true"
		case c == 'f' && d.literal("false"):
			ev.attrs[name] = "false"
		case c == '-' || c >= '0' && c <= '9':
			n, err := d.int32Field(fat)
			if err != nil {
				return d.fail(fat, "must be a string, a boolean or an integer of 32 bits")
			}
			ev.attrs[name] = strconv.Itoa(int(n))
		default:
			return d.fail(fat, "must be a string, a boolean or an integer (CloudEvents attribute types)")
		}
		if slices.Contains(ceCore, name) || name == "datacontenttype" {
			return d.fail(fat, "must be a string")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case dataRaw != nil && hasB64:
		return nil, d.fail(at, "has both data and data_base64")
	case hasB64:
		b, err := base64.StdEncoding.DecodeString(dataB64)
		if err != nil {
			return nil, d.fail(at.in("data_base64"), "is not base64: %v", err)
		}
		ev.data, ev.hasData = b, true
	case dataRaw != nil:
		if ev.contentType != "" && !isJSONMedia(ev.contentType) {
			return nil, &ceError{status: http.StatusUnsupportedMediaType, code: produce.CodeUnsupportedMedia,
				msg: fmt.Sprintf("%sdatacontenttype is %s; eventguard checks the data, as JSON, against the topic's contract: send JSON data", eventAt(i >= 0, i), quote.String(ev.contentType))}
		}
		ev.data, ev.hasData, ev.dataJSON = dataRaw, true, true
	}
	if ev.contentType == "" && ev.dataJSON {
		ev.contentType = "application/json" // the JSON format's implied type, stated
	}
	return ev, nil
}

// ceAttrName checks an attribute name: lower-case letters and digits, 1 to
// maxCEAttrName of them, not "data".
func ceAttrName(name string) error {
	if name == "" || len(name) > maxCEAttrName {
		return fmt.Errorf("attribute names are 1 to %d lower-case letters and digits", maxCEAttrName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("attribute names are lower-case letters and digits, not %s", quote.String(name))
		}
	}
	if name == "data" {
		return errors.New(`"data" is not an attribute name`)
	}
	return nil
}

// check applies the spec's rules to the attributes.
func (ev *ceEvent) check() error {
	for _, name := range []string{"specversion", "id", "source", "type"} {
		if ev.attrs[name] == "" {
			return fmt.Errorf("the required attribute %s is missing or empty", name)
		}
	}
	if v := ev.attrs["specversion"]; v != ceSpecVersion {
		return fmt.Errorf("specversion is %s; eventguard accepts CloudEvents %s", quote.String(v), ceSpecVersion)
	}
	for name, v := range ev.attrs {
		if err := ceString(v); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	if _, err := url.Parse(ev.attrs["source"]); err != nil {
		return fmt.Errorf("source %s is not a URI-reference (RFC 3986)", quote.String(ev.attrs["source"]))
	}
	if v, ok := ev.attrs["dataschema"]; ok {
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() {
			return fmt.Errorf("dataschema %s is not an absolute URI", quote.String(v))
		}
	}
	if v, ok := ev.attrs["subject"]; ok && v == "" {
		return errors.New("subject is empty")
	}
	if v, ok := ev.attrs["time"]; ok {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("time %s is not an RFC 3339 timestamp", quote.String(v))
		}
	}
	if ev.contentType != "" {
		if _, _, err := mime.ParseMediaType(ev.contentType); err != nil {
			return fmt.Errorf("datacontenttype %s is not a media type (RFC 2046)", quote.String(ev.contentType))
		}
	}
	return nil
}

// ceString checks a CloudEvents String: UTF-8, without control characters
// (U+0000-U+001F, U+007F-U+009F) or noncharacters.
func ceString(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		switch {
		case r <= 0x1f, r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("has the control character %U", r)
		case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe:
			return fmt.Errorf("has the noncharacter %U", r)
		}
	}
	return nil
}

// record turns ev into a record in the Kafka binding's binary mode.
func (ev *ceEvent) record() produce.Record {
	r := produce.Record{Value: ev.data, ID: ev.attrs["id"], Type: ev.attrs["type"]}
	if k, ok := ev.attrs["partitionkey"]; ok {
		r.Key = []byte(k)
	}
	hs := make([]produce.Header, 0, len(ev.attrs)+1)
	for _, name := range ceCore {
		if v, ok := ev.attrs[name]; ok {
			hs = append(hs, produce.Header{Key: "ce_" + name, Value: []byte(v)})
		}
	}
	var ext []string
	for name := range ev.attrs {
		if !slices.Contains(ceCore, name) {
			ext = append(ext, name)
		}
	}
	slices.Sort(ext)
	for _, name := range ext {
		hs = append(hs, produce.Header{Key: "ce_" + name, Value: []byte(ev.attrs[name])})
	}
	if ev.contentType != "" {
		hs = append(hs, produce.Header{Key: "content-type", Value: []byte(ev.contentType)})
	}
	r.Headers = hs
	return r
}
