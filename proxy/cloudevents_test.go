package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/validate"
)

// ceClient is the official CloudEvents Go SDK's HTTP client aimed at
// eventguard's CloudEvents route for topic.
func ceClient(t *testing.T, srv *httptest.Server, topic string) cloudevents.Client {
	t.Helper()
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(srv.URL + "/v1/topics/" + topic + "/cloudevents"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// petEvent is a pet.weight.updated.v2 CloudEvent carrying data.
func petEvent(t *testing.T, id, data string) cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("/bowls/bowl-7f3a")
	ev.SetType("pet.weight.updated.v2")
	ev.SetSubject("pet-42")
	ev.SetTime(time.Date(2026, 11, 2, 8, 15, 0, 0, time.UTC))
	ev.SetDataSchema("https://schemas.example.com/pet.weight.updated/2")
	ev.SetExtension("partitionkey", "pet-42")
	ev.SetExtension("tenantid", "acme")
	if err := ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(data)); err != nil {
		t.Fatal(err)
	}
	return ev
}

// ceRecord returns the record of pets whose event id is id.
func ceRecord(t *testing.T, recs []*kgo.Record, id string) *kgo.Record {
	t.Helper()
	for _, r := range recs {
		if v, _ := kafka.Header(r.Headers, kafka.HeaderEventID); v == id {
			return r
		}
	}
	t.Fatalf("no record with event id %q", id)
	return nil
}

// checkCERecord checks a record written from petEvent: the Kafka binding's
// binary mode (ce_* headers, content-type, partitionkey as the key), the
// CloudEvent's id as the event id, the data framed with pets-value v2.
func checkCERecord(t *testing.T, e *httpEnv, r *kgo.Record, id string) {
	t.Helper()
	want := map[string]string{
		"ce_specversion": "1.0", "ce_id": id, "ce_source": "/bowls/bowl-7f3a", "ce_type": "pet.weight.updated.v2",
		"ce_subject": "pet-42", "ce_time": "2026-11-02T08:15:00Z", "ce_dataschema": "https://schemas.example.com/pet.weight.updated/2",
		"ce_partitionkey": "pet-42", "ce_tenantid": "acme", "content-type": "application/json", kafka.HeaderEventID: id,
	}
	for k, v := range want {
		if got, ok := kafka.Header(r.Headers, k); !ok || got != v {
			t.Errorf("header %s = %q (%v), want %q", k, got, ok, v)
		}
	}
	if string(r.Key) != "pet-42" {
		t.Errorf("key %q, want the partitionkey", r.Key)
	}
	sid, payload, err := validate.Unframe(r.Value)
	if err != nil || sid != e.st.ID(t, "pets-value", 2) {
		t.Errorf("value framed with %d (%v), want pets-value v2", sid, err)
	}
	var got, wantData any
	_ = json.Unmarshal(payload, &got)
	_ = json.Unmarshal([]byte(hPetV2), &wantData)
	if b1, b2 := mustJSON(got), mustJSON(wantData); b1 != b2 {
		t.Errorf("data %s, want %s", payload, hPetV2)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCloudEventsSDK: the official Go SDK sends events in binary,
// structured and batch mode; each lands as a Kafka record in the Kafka
// binding's binary mode, validated against the topic's contract; an
// event whose data breaks it is NACKed with 422 and nothing is written;
// under topic_record the CloudEvent type picks the subject.
func TestCloudEventsSDK(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c := ceClient(t, srv, "pets")

	if res := c.Send(ctx, petEvent(t, "ev-binary", hPetV2)); !cloudevents.IsACK(res) {
		t.Fatalf("binary mode: %v", res)
	}
	if res := c.Send(cloudevents.WithEncodingStructured(ctx), petEvent(t, "ev-structured", hPetV2)); !cloudevents.IsACK(res) {
		t.Fatalf("structured mode: %v", res)
	}
	batch := []cloudevents.Event{petEvent(t, "ev-batch-0", hPetV2), petEvent(t, "ev-batch-1", hPetV2), petEvent(t, "ev-batch-2", hPetV2)}
	req, err := cehttp.NewHTTPRequestFromEvents(ctx, srv.URL+"/v1/topics/pets/cloudevents", batch)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Results []struct {
			Index   int    `json:"index"`
			EventID string `json:"event_id"`
			Subject string `json:"subject"`
		} `json:"results"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Results) != 3 || out.Results[2].EventID != "ev-batch-2" || out.Results[0].Subject != "pets-value" {
		t.Fatalf("batch mode: %d %+v", resp.StatusCode, out)
	}

	res := c.Send(ctx, petEvent(t, "ev-bad", hPetV2Bad))
	var hr *cehttp.Result
	if cloudevents.IsACK(res) || !cloudevents.ResultAs(res, &hr) || hr.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("data breaking the contract: %v, want a NACK with 422", res)
	}

	recs := e.st.Records(t, "pets")
	if len(recs) != 5 {
		t.Fatalf("%d records in pets, want 5", len(recs))
	}
	for _, id := range []string{"ev-binary", "ev-structured", "ev-batch-0", "ev-batch-1", "ev-batch-2"} {
		checkCERecord(t, e, ceRecord(t, recs, id), id)
	}

	// The CloudEvent type names the record type: orders-OrderPlaced.
	order := cloudevents.NewEvent()
	order.SetID("order-1")
	order.SetSource("urn:pos:till-3")
	order.SetType("OrderPlaced")
	_ = order.SetData(cloudevents.ApplicationJSON, json.RawMessage(hOrder))
	req, _ = cehttp.NewHTTPRequestFromEvents(ctx, srv.URL+"/v1/topics/orders/cloudevents", []cloudevents.Event{order})
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Results) != 1 || out.Results[0].Subject != "orders-OrderPlaced" {
		t.Errorf("type selects the subject: %d %+v", resp.StatusCode, out)
	}
}

// TestCloudEventsRefused: every way an event breaks the CloudEvents spec,
// or cannot be validated, is a 4xx naming the attribute; nothing is
// produced.
func TestCloudEventsRefused(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	bin := map[string]string{"ce-specversion": "1.0", "ce-id": "x-1", "ce-source": "/s", "ce-type": "pet.weight.updated.v2"}
	with := func(kv ...string) map[string]string {
		h := map[string]string{}
		for k, v := range bin {
			h[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
			} else {
				h[kv[i]] = kv[i+1]
			}
		}
		return h
	}
	ev := func(extra string) string {
		return `{"specversion":"1.0","id":"x-1","source":"/s","type":"t"` + extra + `}`
	}
	const st, ba = "application/cloudevents+json", "application/cloudevents-batch+json"
	tests := []struct {
		name, ct string
		header   map[string]string
		body     string
		status   int
		code     string
		contains string
	}{
		{"binary: no id", "application/json", with("ce-id", ""), hPetV2, 400, "invalid_cloudevent", "id is missing"},
		{"binary: no specversion", "application/json", with("ce-specversion", ""), hPetV2, 400, "invalid_cloudevent", "specversion is missing"},
		{"binary: specversion 0.3", "application/json", with("ce-specversion", "0.3"), hPetV2, 400, "invalid_cloudevent", "CloudEvents 1.0"},
		{"binary: no source", "application/json", with("ce-source", ""), hPetV2, 400, "invalid_cloudevent", "source is missing"},
		{"binary: no type", "application/json", with("ce-type", ""), hPetV2, 400, "invalid_cloudevent", "type is missing"},
		{"binary: source not a URI-reference", "application/json", with("ce-source", "http://[::1"), hPetV2, 400, "invalid_cloudevent", "URI-reference"},
		{"binary: relative dataschema", "application/json", with("ce-dataschema", "schemas/pet"), hPetV2, 400, "invalid_cloudevent", "absolute URI"},
		{"binary: time not RFC 3339", "application/json", with("ce-time", "yesterday"), hPetV2, 400, "invalid_cloudevent", "RFC 3339"},
		{"binary: ce-datacontenttype", "application/json", with("ce-datacontenttype", "application/json"), hPetV2, 400, "invalid_cloudevent", "ce-datacontenttype"},
		{"binary: extension name with _", "application/json", with("ce-tenant_id", "a"), hPetV2, 400, "invalid_cloudevent", "lower-case letters and digits"},
		{"binary: bad percent-encoding", "application/json", with("ce-subject", "a%zz"), hPetV2, 400, "invalid_cloudevent", "two hex digits"},
		{"binary: percent-encoded invalid UTF-8", "application/json", with("ce-subject", "a%C0%A0"), hPetV2, 400, "invalid_cloudevent", "not UTF-8"},
		{"binary: percent-encoded control character", "application/json", with("ce-subject", "a%0Ab"), hPetV2, 400, "invalid_cloudevent", "control character"},
		{"binary: text data", "text/plain", bin, "hello", 415, "unsupported_media_type", "send JSON data"},
		{"binary: no content type", "-", bin, hPetV2, 415, "unsupported_media_type", "datacontenttype"},
		{"binary: no data", "application/json", bin, "", 400, "invalid_cloudevent", "no data"},
		{"binary: data breaks the contract", "application/json", bin, hPetV2Bad, 422, "invalid_records", "net_weight_grams"},
		{"binary: id over 128 bytes", "application/json", with("ce-id", strings.Repeat("i", 200)), hPetV2, 400, "invalid_event_id", "128"},
		{"structured: not JSON", st, nil, `{"id":`, 400, "invalid_cloudevent", "not a CloudEvents JSON event"},
		{"structured: no type", st, nil, `{"specversion":"1.0","id":"x","source":"/s","data":{}}`, 400, "invalid_cloudevent", "type is missing"},
		{"structured: id a number", st, nil, `{"specversion":"1.0","id":5,"source":"/s","type":"t","data":{}}`, 400, "invalid_cloudevent", "must be a string"},
		{"structured: data and data_base64", st, nil, ev(`,"data":{},"data_base64":"e30="`), 400, "invalid_cloudevent", "both data and data_base64"},
		{"structured: data_base64 of text", st, nil, ev(`,"datacontenttype":"text/plain","data_base64":"aGk="`), 415, "unsupported_media_type", "data_base64"},
		{"structured: text data", st, nil, ev(`,"datacontenttype":"text/plain","data":"hi"`), 415, "unsupported_media_type", "text/plain"},
		{"structured: bad datacontenttype", st, nil, ev(`,"datacontenttype":"json","data":{}`), 415, "unsupported_media_type", "json"},
		{"structured: object extension", st, nil, ev(`,"ext":{},"data":{}`), 400, "invalid_cloudevent", "string, a boolean or an integer"},
		{"structured: decimal extension", st, nil, ev(`,"ext":1.5,"data":{}`), 400, "invalid_cloudevent", "integer of 32 bits"},
		{"structured: member data twice", st, nil, ev(`,"data":{},"data":{}`), 400, "invalid_cloudevent", `"data" twice`},
		{"structured: no data", st, nil, ev(``), 400, "invalid_cloudevent", "no data"},
		{"structured: upper-case member", st, nil, ev(`,"Ext":"a","data":{}`), 400, "invalid_cloudevent", "lower-case"},
		{"structured: another event format", "application/cloudevents+avro", nil, "x", 415, "unsupported_media_type", "JSON event format"},
		{"batch: not an array", ba, nil, ev(`,"data":{}`), 400, "invalid_cloudevent", "JSON array"},
		{"batch: empty", ba, nil, `[]`, 400, "empty_batch", "batch is empty"},
		{"batch: an invalid event", ba, nil, `[` + ev(`,"data":{}`) + `,{"specversion":"1.0","id":"y","source":"/s","data":{}}]`, 400, "invalid_cloudevent", "event 1: the required attribute type"},
		{"batch: too many events", ba, nil, `[` + strings.Repeat(ev(`,"data":{}`)+`,`, 5) + ev(`,"data":{}`) + `]`, 413, "too_many_records", "limits.max_records_per_request"},
		{"body too large", st, nil, ev(`,"data":"` + strings.Repeat("x", 70<<10) + `"`), 413, "body_too_large", "limits.max_body_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, hReq{path: "/v1/topics/pets/cloudevents", contentType: tt.ct, header: tt.header, body: tt.body})
			r := hDecode(t, w)
			if w.Code != tt.status || r.Error == nil || r.Error.Code != tt.code || !strings.Contains(r.Error.Message, tt.contains) {
				t.Errorf("%d %s, want %d %s containing %q", w.Code, w.Body, tt.status, tt.code, tt.contains)
			}
		})
	}
	if n := e.flushedCount(t, "pets"); n != 0 {
		t.Errorf("%d records in pets after refused events", n)
	}
	w := e.do(t, hReq{method: http.MethodGet, path: "/v1/topics/pets/cloudevents"})
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}

// TestCloudEventsAttributeEncoding: binary-mode header values are
// percent-decoded (and unquoted) before they become Kafka headers;
// structured extension values of every CloudEvents JSON type become their
// canonical strings; ?partial=true produces the valid events of a batch.
func TestCloudEventsAttributeEncoding(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	w := e.do(t, hReq{path: "/v1/topics/pets/cloudevents", header: map[string]string{
		"ce-specversion": "1.0", "ce-id": "enc-1", "ce-source": "/s", "ce-type": "t",
		"ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80", "ce-comment": `"quoted \"value\""`,
	}, body: hPetV2})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = e.do(t, hReq{path: "/v1/topics/pets/cloudevents?partial=true", contentType: "application/cloudevents-batch+json", body: `[` +
		`{"specversion":"1.0","id":"enc-2","source":"/s","type":"t","seq":42,"sampled":true,"note":null,"data":` + hPetV2 + `},` +
		`{"specversion":"1.0","id":"enc-3","source":"/s","type":"t","data":` + hPetV2Bad + `}]`})
	r := hDecode(t, w)
	if w.Code != http.StatusMultiStatus || len(r.Results) != 2 || r.Results[0].Error != nil || r.Results[1].Error == nil {
		t.Fatalf("partial batch: %d %s", w.Code, w.Body)
	}
	recs := e.st.Records(t, "pets")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r1, r2 := ceRecord(t, recs, "enc-1"), ceRecord(t, recs, "enc-2")
	for _, c := range []struct {
		r       *kgo.Record
		k, want string
	}{{r1, "ce_subject", "Euro € 😀"}, {r1, "ce_comment", `quoted "value"`}, {r1, "content-type", "application/json"},
		{r2, "ce_seq", "42"}, {r2, "ce_sampled", "true"}, {r2, "content-type", "application/json"}} {
		if got, _ := kafka.Header(c.r.Headers, c.k); got != c.want {
			t.Errorf("%s = %q, want %q", c.k, got, c.want)
		}
	}
	if _, ok := kafka.Header(r2.Headers, "ce_note"); ok {
		t.Error("a null attribute is unset, not a header")
	}
	if r1.Key != nil {
		t.Errorf("no partitionkey, no key: %q", r1.Key)
	}
}
