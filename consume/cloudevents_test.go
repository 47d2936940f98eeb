package consume

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
)

// ceReceiver is an app taking deliveries with the official CloudEvents Go
// SDK (cehttp.NewEventFromHTTPRequest); it keeps the last event and the
// raw request headers.
type ceReceiver struct {
	mu     sync.Mutex
	event  *cloudevents.Event
	header http.Header
	err    error
}

func (c *ceReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	c.mu.Lock()
	c.event, c.header, c.err = ev, r.Header.Clone(), err
	c.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func (c *ceReceiver) deliver(t *testing.T, d *Delivery) (*cloudevents.Event, http.Header) {
	t.Helper()
	srv := httptest.NewServer(c)
	defer srv.Close()
	h := HTTPDelivererFor(config.Deliver{URL: srv.URL, Format: config.FormatCloudEvents})
	if err := h.Deliver(context.Background(), d); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		t.Fatalf("the SDK could not read the delivery: %v", c.err)
	}
	if err := c.event.Validate(); err != nil {
		t.Fatalf("the delivered event is not valid: %v", err)
	}
	return c.event, c.header
}

var ceTime = time.Date(2026, 11, 2, 8, 15, 0, 0, time.UTC)

// TestCloudEventsDelivery: with deliver.format: cloudevents, a record
// produced as a CloudEvent reaches the app, read by the official Go SDK,
// with its own attributes (percent-encoded where needed) and data; its
// other headers stay in Eventguard-Record-Headers.
func TestCloudEventsDelivery(t *testing.T) {
	t.Parallel()
	d := &Delivery{
		Topic: "pets", Partition: 1, Offset: 7, Timestamp: ceTime.Add(time.Minute), Key: []byte("pet-42"),
		Value: []byte(`{"pet_id":"pet-42"}`), Subject: "pets-value", SchemaID: 2, Version: 2, EventID: "ev-1", Feature: "weight-sync", Attempt: 1,
		Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("ev-1")},
			{Key: "ce_source", Value: []byte("/bowls/bowl-7f3a")}, {Key: "ce_type", Value: []byte("pet.weight.updated.v2")},
			{Key: "ce_subject", Value: []byte("Euro € 😀")}, {Key: "ce_time", Value: []byte("2026-11-02T08:15:00Z")},
			{Key: "ce_dataschema", Value: []byte("https://schemas.example.com/pet.weight.updated/2")},
			{Key: "ce_partitionkey", Value: []byte("pet-42")}, {Key: "ce_tenantid", Value: []byte("acme")},
			{Key: "content-type", Value: []byte("application/json; charset=utf-8")}, {Key: "origin", Value: []byte("bowl")},
			{Key: "eventguard.event_id", Value: []byte("ev-1")},
		},
	}
	ev, hd := (&ceReceiver{}).deliver(t, d)
	// The Go SDK (v2.16) does not percent-decode header values (the HTTP
	// binding's 3.1.3.2); the Python SDK does (test/interop).
	if ev.ID() != "ev-1" || ev.Source() != "/bowls/bowl-7f3a" || ev.Type() != "pet.weight.updated.v2" || ev.Subject() != "Euro%20%E2%82%AC%20%F0%9F%98%80" ||
		!ev.Time().Equal(ceTime) || ev.DataSchema() != "https://schemas.example.com/pet.weight.updated/2" || ev.SpecVersion() != "1.0" {
		t.Errorf("attributes: %v", ev)
	}
	if ext := ev.Extensions(); ext["partitionkey"] != "pet-42" || ext["tenantid"] != "acme" {
		t.Errorf("extensions %v", ext)
	}
	if ev.DataContentType() != "application/json; charset=utf-8" || string(ev.Data()) != `{"pet_id":"pet-42"}` {
		t.Errorf("data %q of %q", ev.Data(), ev.DataContentType())
	}
	if rh := hd.Get(HeaderRecordHeaders); rh != `{"origin":"bowl"}` {
		t.Errorf("Eventguard-Record-Headers %q, want only the record's own non-CloudEvents header", rh)
	}
	if hd.Get(HeaderTopic) != "pets" || hd.Get(HeaderEventID) != "ev-1" {
		t.Errorf("the Eventguard-* headers are still there: %v", hd)
	}
	if v := hd.Get("Ce-Subject"); v != "Euro%20%E2%82%AC%20%F0%9F%98%80" {
		t.Errorf("ce-subject on the wire %q, want the HTTP binding's percent-encoding", v)
	}
}

// TestCloudEventsDeliveryMadeUp: a record produced without CloudEvents
// gets attributes from what eventguard knows (id the event id, source
// eventguard/<feature>, type the subject, time the record's timestamp,
// partitionkey the key); a record produced as a CloudEvent gets only the
// required ones it lacks (id <topic>-<partition>-<offset>); attribute
// headers that are not CloudEvents Strings, or not attribute names, are
// left out.
func TestCloudEventsDeliveryMadeUp(t *testing.T) {
	t.Parallel()
	ev, hd := (&ceReceiver{}).deliver(t, &Delivery{Topic: "pets", Partition: 2, Offset: 9, Timestamp: ceTime, Key: []byte("pet-42"),
		Value: []byte(`{}`), Subject: "pets-value", EventID: "0190-abc", Feature: "weight-sync", Attempt: 1})
	if ev.ID() != "0190-abc" || ev.Source() != "eventguard/weight-sync" || ev.Type() != "pets-value" || !ev.Time().Equal(ceTime) ||
		ev.Extensions()["partitionkey"] != "pet-42" || ev.DataContentType() != "application/json" {
		t.Errorf("made-up attributes: %v", ev)
	}
	if hd.Get(HeaderRecordHeaders) != "" {
		t.Errorf("record headers %q", hd.Get(HeaderRecordHeaders))
	}

	ev, _ = (&ceReceiver{}).deliver(t, &Delivery{Topic: "pets", Partition: 2, Offset: 9, Key: []byte{0xff, 0x00}, Timestamp: ceTime,
		Value: []byte(`{}`), Subject: "pets-value", Attempt: 1, Headers: []kgo.RecordHeader{
			{Key: "ce_id", Value: []byte("bad\x00id")}, {Key: "ce_Tenant", Value: []byte("x")}, {Key: "ce_source", Value: []byte("/s")},
			{Key: "ce_specversion", Value: []byte("0.3")}, {Key: "content-type", Value: []byte("text/plain")},
		}})
	if ev.ID() != "pets-2-9" || ev.Source() != "/s" || ev.SpecVersion() != "1.0" || ev.DataContentType() != "application/json" {
		t.Errorf("foreign record: %v", ev)
	}
	if _, ok := ev.Extensions()["partitionkey"]; ok {
		t.Errorf("a binary key is no partitionkey: %v", ev.Extensions())
	}
	if !ev.Time().IsZero() {
		t.Errorf("a record produced as a CloudEvent gets no time it did not have: %v", ev.Time())
	}
	if _, ok := ev.Extensions()["tenant"]; ok {
		t.Error("ce_Tenant is not an attribute name")
	}
	ev, _ = (&ceReceiver{}).deliver(t, &Delivery{Topic: "pets", Value: []byte(`{}`), Subject: "pets-value", Attempt: 1})
	if ev.Source() != "kafka/pets" {
		t.Errorf("no feature: source %q", ev.Source())
	}
}

// TestEventguardFormatHasNoCloudEvents: the default format sends no ce-*
// header and keeps ce_* record headers in Eventguard-Record-Headers.
func TestEventguardFormatHasNoCloudEvents(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	h := HTTPDelivererFor(config.Deliver{URL: srv.URL, Format: config.FormatEventguard})
	if err := h.Deliver(context.Background(), &Delivery{Value: []byte(`{}`), Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if len(k) > 3 && k[:3] == "Ce-" {
			t.Errorf("header %s in the eventguard format", k)
		}
	}
	if got.Get(HeaderRecordHeaders) != `{"ce_id":"x"}` {
		t.Errorf("record headers %q", got.Get(HeaderRecordHeaders))
	}
}

func TestCEEncode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"plain-value_1": "plain-value_1", "Euro € 😀": "Euro%20%E2%82%AC%20%F0%9F%98%80", `a"b%c`: "a%22b%25c", "": ""} {
		if got := ceEncode(in); got != want {
			t.Errorf("ceEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
