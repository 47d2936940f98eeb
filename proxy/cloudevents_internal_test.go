package proxy

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCloudEventsStructured: the structured and batch decoders never
// panic, and every event they accept has the required attributes, a
// specversion of 1.0, String-clean attribute values, data, and records
// that carry them as ce_* headers.
func FuzzCloudEventsStructured(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"A234-1234-1234","source":"/mycontext","type":"com.example.someevent","time":"2018-04-05T17:31:00Z","datacontenttype":"application/json","data":{"a":[1,2]}}`), false)
	f.Add([]byte(`[{"specversion":"1.0","id":"1","source":"urn:x","type":"t","comexampleothervalue":5,"data_base64":"e30=","datacontenttype":"application/vnd+json"}]`), true)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"data":"\u00e9"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		evs, err := ceStructured(body, batch)
		if err != nil {
			if err.status < 400 || err.status >= 500 {
				t.Fatalf("refused with %d", err.status)
			}
			return
		}
		for _, ev := range evs {
			checkAccepted(t, ev)
		}
	})
}

// FuzzCloudEventsBinary: binary-mode header values never make the decoder
// panic; what it accepts is UTF-8 without control characters.
func FuzzCloudEventsBinary(f *testing.F) {
	f.Add("Euro%20%E2%82%AC%20%F0%9F%98%80", "ce-subject")
	f.Add(`"quoted \"x\""`, "ce-tenantid")
	f.Add("%C0%A0", "ce-x")
	f.Fuzz(func(t *testing.T, value, name string) {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t"} {
			h.Set(k, v)
		}
		h[http.CanonicalHeaderKey(name)] = []string{value}
		ev, err := ceBinary(h, []byte(`{}`))
		if err != nil {
			return
		}
		checkAccepted(t, ev)
	})
}

func checkAccepted(t *testing.T, ev *ceEvent) {
	t.Helper()
	for _, a := range []string{"id", "source", "type"} {
		if ev.attrs[a] == "" {
			t.Fatalf("accepted an event without %s: %v", a, ev.attrs)
		}
	}
	if ev.attrs["specversion"] != "1.0" || !ev.hasData {
		t.Fatalf("accepted %v", ev.attrs)
	}
	for k, v := range ev.attrs {
		if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") || ceAttrName(k) != nil {
			t.Fatalf("attribute %q = %q", k, v)
		}
	}
	r := ev.record()
	if len(r.Headers) < 4 || r.ID != ev.attrs["id"] {
		t.Fatalf("record %+v", r)
	}
}
