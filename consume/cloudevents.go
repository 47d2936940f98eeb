package consume

import (
	"mime"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CloudEvents delivery (deliver.format: cloudevents): the record is POSTed
// in CloudEvents 1.0 HTTP binary mode, the value as the body and every
// context attribute as a ce-<name> header, besides the Eventguard-*
// headers. A record produced as a CloudEvent (Kafka binding, binary mode:
// ce_* headers, content-type) keeps its attributes as they are, but for a
// required one it lacks; a record produced without CloudEvents gets them
// all from what eventguard knows:
//
//	specversion  1.0
//	id           the event id (eventguard.event_id), else <topic>-<partition>-<offset>
//	source       eventguard/<feature>, else kafka/<topic>
//	type         the subject the value passed
//	time         the record's timestamp (not added to a CloudEvent)
//	partitionkey the record key, when it is a CloudEvents String (not
//	             added to a CloudEvent)
//
// An attribute header that is not a CloudEvents String (not UTF-8, control
// characters) or has an invalid name is left out (a required one is then
// made up as above). Content-Type is the record's content-type when it is
// a JSON media type, else application/json: the body passed a JSON Schema.

// ceHeaderPrefix is the Kafka binding's attribute header prefix.
const ceHeaderPrefix = "ce_"

// cloudEventAttrs returns the CloudEvents attributes of d, by name, and
// its data's content type.
func cloudEventAttrs(d *Delivery) (map[string]string, string) {
	attrs := map[string]string{}
	contentType := ""
	produced := false // as a CloudEvent
	for _, h := range d.Headers {
		switch {
		case h.Key == "content-type":
			contentType = string(h.Value)
		case strings.HasPrefix(h.Key, ceHeaderPrefix):
			produced = true
			name, v := h.Key[len(ceHeaderPrefix):], string(h.Value)
			if ceName(name) && ceString(v) && name != "datacontenttype" {
				attrs[name] = v // the last header of a name wins
			}
		}
	}
	if attrs["specversion"] != "1.0" {
		attrs["specversion"] = "1.0"
	}
	if attrs["id"] == "" {
		if ceString(d.EventID) && d.EventID != "" {
			attrs["id"] = d.EventID
		} else {
			attrs["id"] = d.Topic + "-" + strconv.Itoa(int(d.Partition)) + "-" + strconv.FormatInt(d.Offset, 10)
		}
	}
	if attrs["source"] == "" {
		if d.Feature != "" && ceString(d.Feature) {
			attrs["source"] = "eventguard/" + d.Feature
		} else {
			attrs["source"] = "kafka/" + d.Topic
		}
	}
	if attrs["type"] == "" {
		attrs["type"] = d.Subject
	}
	if !produced && !d.Timestamp.IsZero() {
		attrs["time"] = d.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	if !produced && len(d.Key) > 0 && ceString(string(d.Key)) {
		attrs["partitionkey"] = string(d.Key)
	}
	if !jsonMedia(contentType) {
		contentType = "application/json"
	}
	return attrs, contentType
}

// setCloudEventHeaders sets d's attributes as ce-* headers and its
// Content-Type.
func setCloudEventHeaders(hd http.Header, d *Delivery) {
	attrs, contentType := cloudEventAttrs(d)
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		hd[textproto.CanonicalMIMEHeaderKey("ce-"+name)] = []string{ceEncode(attrs[name])}
	}
	hd["Content-Type"] = []string{contentType}
}

// ceEncode percent-encodes an attribute value for an HTTP header (HTTP
// binding, 3.1.3.2): space, '"', '%' and everything outside printable
// ASCII, byte by byte of its UTF-8.
func ceEncode(v string) string {
	plain := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '%' {
			plain = false
			break
		}
	}
	if plain {
		return v
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ceName reports whether name is a CloudEvents attribute name: lower-case
// letters and digits, not "data".
func ceName(name string) bool {
	if name == "" || name == "data" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ceString reports whether s is a CloudEvents String: UTF-8 without
// control characters.
func ceString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= 0x1f || r >= 0x7f && r <= 0x9f {
			return false
		}
	}
	return true
}

// jsonMedia reports whether ct is */json or */*+json.
func jsonMedia(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	_, sub, ok := strings.Cut(mt, "/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// isCloudEventHeader reports whether a record header is one of the
// CloudEvents mapping's (ce_* or content-type): delivered as ce-* headers
// and Content-Type, not again in Eventguard-Record-Headers.
func isCloudEventHeader(name string) bool {
	return name == "content-type" || strings.HasPrefix(name, ceHeaderPrefix)
}
