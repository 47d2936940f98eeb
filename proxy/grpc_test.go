package proxy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// details splits a status's details by type.
type details struct {
	info  *errdetails.ErrorInfo
	bad   *errdetails.BadRequest
	retry *errdetails.RetryInfo
	resp  *eventguardv1.ProduceResponse
}

func statusDetails(t *testing.T, err error) (*status.Status, details) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	var d details
	for _, x := range st.Details() {
		switch v := x.(type) {
		case *errdetails.ErrorInfo:
			d.info = v
		case *errdetails.BadRequest:
			d.bad = v
		case *errdetails.RetryInfo:
			d.retry = v
		case *eventguardv1.ProduceResponse:
			d.resp = v
		case error:
			t.Fatalf("undecodable status detail: %v", v)
		}
	}
	return st, d
}

func fields(bad *errdetails.BadRequest) []string {
	var out []string
	for _, f := range bad.GetFieldViolations() {
		out = append(out, f.GetField())
	}
	return out
}

// TestGRPCProduce produces over a real client and reads the records back:
// results, the wire format, stamped headers, the caller's trace continued
// and the feature taken from metadata (the request field wins over it).
func TestGRPCProduce(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), "traceparent", tracePar, "tracestate", "vendor=1", proxy.FeatureMetadata, "weight-sync")
	req := petsRequest(2)
	req.RequestId = "req-1"
	req.Records[0].Id = "evt-1"
	req.Records[0].Headers = []*eventguardv1.Header{{Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("1")}}
	req.Records[1].Key = nil
	resp, err := e.client.Produce(ctx, req)
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if resp.GetRequestId() != "req-1" || len(resp.GetResults()) != 2 || resp.GetError() != nil {
		t.Fatalf("response = %v", resp)
	}
	id := e.st.ID(t, "pets-value", 2)
	for i, r := range resp.GetResults() {
		if !r.GetProduced() || r.GetIndex() != uint32(i) || r.GetSubject() != "pets-value" || r.GetSchemaId() != uint32(id) || r.GetSchemaVersion() != 2 || r.GetEventId() == "" || r.GetError() != nil {
			t.Errorf("results[%d] = %v", i, r)
		}
	}
	if resp.Results[0].GetEventId() != "evt-1" {
		t.Errorf("event id = %q, want the given evt-1", resp.Results[0].GetEventId())
	}

	recs := e.st.Records(t, testTopic)
	if len(recs) != 2 {
		t.Fatalf("%d records in Kafka, want 2", len(recs))
	}
	byID := map[string]*kgo.Record{}
	for _, r := range recs {
		v, _ := kafka.Header(r.Headers, kafka.HeaderEventID)
		byID[v] = r
	}
	r := byID["evt-1"]
	if r == nil {
		t.Fatalf("no record with event id evt-1 in %v", recs)
	}
	sid, payload, err := validate.Unframe(r.Value)
	if err != nil || sid != id || string(payload) != petV2 {
		t.Errorf("value = %q (id %d, err %v), want wire format of schema %d around the JSON as sent", r.Value, sid, err, id)
	}
	if string(r.Key) != "pet-42" {
		t.Errorf("key = %q", r.Key)
	}
	if r.Headers[0].Key != "b" || r.Headers[1].Key != "a" {
		t.Errorf("caller headers not first and in order: %v", r.Headers)
	}
	for name, want := range map[string]string{kafka.HeaderFeature: "weight-sync", kafka.HeaderSubject: "pets-value", kafka.HeaderSchemaVersion: "2", kafka.HeaderTracestate: "vendor=1"} {
		if got, _ := kafka.Header(r.Headers, name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	tp, _ := kafka.Header(r.Headers, kafka.HeaderTraceparent)
	if !strings.HasPrefix(tp, "00-"+traceID+"-") || tp == tracePar {
		t.Errorf("traceparent = %q, want the caller's trace %s continued by a new span", tp, traceID)
	}
	for _, r := range recs {
		if r.Key == nil {
			return
		}
	}
	t.Errorf("the record sent without a key has one")

	// The request's feature field wins over the metadata.
	req = petsRequest(1)
	req.Feature = "field-feature"
	if _, err := e.client.Produce(ctx, req); err != nil {
		t.Fatal(err)
	}
	last := e.st.Records(t, testTopic)
	found := false
	for _, r := range last {
		f, _ := kafka.Header(r.Headers, kafka.HeaderFeature)
		found = found || f == "field-feature"
	}
	if !found {
		t.Errorf("no record stamped with the request's feature field")
	}
}

// TestGRPCStatuses checks every request-level failure's status code and
// details. A client mistake is never Unknown or Internal.
func TestGRPCStatuses(t *testing.T) {
	e := newGRPCEnv(t, envOpts{mutate: func(c *config.Config) {
		c.Limits.MaxRecordsPerRequest = 10
		c.Limits.MaxValueBytes = 1000
		c.GRPC.MaxRecvBytes = 64 << 10
	}})
	big := `{"pad":"` + strings.Repeat("x", 1200) + `"}`
	huge := `{"pad":"` + strings.Repeat("x", 100<<10) + `"}`
	cases := []struct {
		name   string
		req    *eventguardv1.ProduceRequest
		code   codes.Code
		reason string   // ErrorInfo reason; "" when grpc-go answers itself
		fields []string // BadRequest field violations, in order
	}{
		{
			name:   "invalid record",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(petV2), rec(petV2Bad)}},
			code:   codes.InvalidArgument,
			reason: "INVALID_RECORDS",
			fields: []string{"records[1].value/net_weight_grams"},
		},
		{
			name:   "several violations",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(`{"event_type":"pet.weight.updated.v2","pet_id":"","device_id":"d","net_weight_grams":1.5,"tare_weight_grams":1,"measured_at":"2026-11-02T08:15:00Z","source":"sensor","extra":1}`)}},
			code:   codes.InvalidArgument,
			reason: "INVALID_RECORDS",
			fields: []string{"records[0].value/extra", "records[0].value/net_weight_grams", "records[0].value/pet_id"},
		},
		{
			name:   "malformed JSON",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(`{"pet_id":`)}},
			code:   codes.InvalidArgument,
			reason: "INVALID_RECORDS",
			fields: []string{"records[0].value"},
		},
		{
			name:   "value missing",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(petV2), {}}},
			code:   codes.InvalidArgument,
			reason: "MALFORMED_REQUEST",
			fields: []string{"records[1].value"},
		},
		{
			name:   "empty header name",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV2), Headers: []*eventguardv1.Header{{Value: []byte("v")}}}}},
			code:   codes.InvalidArgument,
			reason: "MALFORMED_REQUEST",
			fields: []string{"records[0].headers[0].key"},
		},
		{
			name:   "reserved header",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV2), Headers: []*eventguardv1.Header{{Key: "traceparent", Value: []byte("x")}}}}},
			code:   codes.InvalidArgument,
			reason: "RESERVED_HEADER",
			fields: []string{"records[0].headers"},
		},
		{
			name:   "no records",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic},
			code:   codes.InvalidArgument,
			reason: "EMPTY_BATCH",
			fields: []string{"records"},
		},
		{
			name:   "bad topic name",
			req:    &eventguardv1.ProduceRequest{Topic: "pets/../x", Records: []*eventguardv1.Record{rec(petV2)}},
			code:   codes.InvalidArgument,
			reason: "INVALID_TOPIC",
			fields: []string{"topic"},
		},
		{
			name:   "too many records",
			req:    petsRequest(11),
			code:   codes.InvalidArgument,
			reason: "TOO_MANY_RECORDS",
			fields: []string{"records"},
		},
		{
			name:   "value too large",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(big)}},
			code:   codes.InvalidArgument,
			reason: "VALUE_TOO_LARGE",
			fields: []string{"records[0].value"},
		},
		{
			name: "message over grpc.max_recv_bytes",
			req:  &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(huge)}},
			code: codes.ResourceExhausted,
		},
		{
			name:   "topic not allowed",
			req:    &eventguardv1.ProduceRequest{Topic: "secrets", Records: []*eventguardv1.Record{rec(petV2)}},
			code:   codes.PermissionDenied,
			reason: "TOPIC_NOT_ALLOWED",
		},
		{
			name:   "feature not allowed",
			req:    &eventguardv1.ProduceRequest{Topic: "billing", Feature: "checkout", Records: []*eventguardv1.Record{rec(petV2)}},
			code:   codes.PermissionDenied,
			reason: "FEATURE_NOT_ALLOWED",
		},
		{
			name:   "subject missing",
			req:    &eventguardv1.ProduceRequest{Topic: "nosubject", Records: []*eventguardv1.Record{rec(petV2)}},
			code:   codes.NotFound,
			reason: "SCHEMA_NOT_FOUND",
		},
		{
			name:   "schema version missing",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV2), SchemaVersion: 9}}},
			code:   codes.NotFound,
			reason: "SCHEMA_NOT_FOUND",
		},
		{
			name:   "schema id missing",
			req:    &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV2), SchemaId: 99999}}},
			code:   codes.NotFound,
			reason: "SCHEMA_NOT_FOUND",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.st.Count(testTopic)
			_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), c.req)
			st, d := statusDetails(t, err)
			if st.Code() != c.code {
				t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), c.code)
			}
			if after := e.st.Count(testTopic); after != before {
				t.Errorf("%d records produced by a failed request", after-before)
			}
			if c.reason == "" {
				return
			}
			if d.info.GetReason() != c.reason || d.info.GetDomain() != proxy.ErrorDomain || d.info.GetMetadata()["code"] != strings.ToLower(c.reason) {
				t.Errorf("ErrorInfo = %v, want reason %s", d.info, c.reason)
			}
			if c.code == codes.InvalidArgument {
				if got := fields(d.bad); strings.Join(got, " ") != strings.Join(c.fields, " ") {
					t.Errorf("BadRequest fields = %q, want %q", got, c.fields)
				}
				for _, f := range d.bad.GetFieldViolations() {
					if f.GetDescription() == "" || f.GetReason() == "" {
						t.Errorf("field violation without description or reason: %v", f)
					}
				}
			}
		})
	}

	t.Run("per-record results in the details", func(t *testing.T) {
		_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), &eventguardv1.ProduceRequest{Topic: testTopic, RequestId: "r9", Records: []*eventguardv1.Record{rec(petV2), rec(petV2Bad)}})
		_, d := statusDetails(t, err)
		if d.resp == nil || len(d.resp.GetResults()) != 2 {
			t.Fatalf("no ProduceResponse detail with 2 results: %v", d.resp)
		}
		if d.resp.GetRequestId() != "r9" || d.resp.GetError().GetCode() != produce.CodeInvalidRecords || d.resp.GetError().GetStatusCode() != int32(codes.InvalidArgument) {
			t.Errorf("detail response = %v", d.resp)
		}
		r0, r1 := d.resp.Results[0], d.resp.Results[1]
		if r0.GetError() != nil || r0.GetProduced() || r0.GetSubject() != "pets-value" {
			t.Errorf("results[0] = %v, want valid and not produced", r0)
		}
		v := r1.GetError().GetViolations()
		if r1.GetError().GetCode() != validate.CodeSchemaViolation || len(v) != 1 || v[0].GetPath() != "/net_weight_grams" || v[0].GetKeyword() != "type" {
			t.Errorf("results[1] = %v", r1)
		}
	})

	t.Run("kafka down", func(t *testing.T) {
		e.kafkaDown.Store(true)
		defer e.kafkaDown.Store(false)
		_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(1))
		st, d := statusDetails(t, err)
		if st.Code() != codes.Unavailable || d.info.GetReason() != "KAFKA_UNAVAILABLE" {
			t.Fatalf("status = %v %v", st.Code(), d.info)
		}
		if d.retry.GetRetryDelay().AsDuration() != 5*time.Second {
			t.Errorf("RetryInfo = %v, want 5s", d.retry)
		}
	})
}

// TestGRPCRegistryDown: a schema that is not cached while the registry is
// down is UNAVAILABLE with retry info, never a pass.
func TestGRPCRegistryDown(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	e.st.SetRegistryDown(true)
	_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(1))
	st, d := statusDetails(t, err)
	if st.Code() != codes.Unavailable || d.info.GetReason() != "REGISTRY_UNAVAILABLE" || d.retry == nil {
		t.Fatalf("status = %v %q %v %v", st.Code(), st.Message(), d.info, d.retry)
	}
	e.st.SetRegistryDown(false)
	if _, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(1)); err != nil {
		t.Fatalf("after the registry is back: %v", err)
	}
}

// stallProducer never acknowledges a record.
type stallProducer struct{}

func (stallProducer) TryProduce(context.Context, *kgo.Record, func(*kgo.Record, error)) {}

// failProducer fails every record at once with err.
type failProducer struct{ err error }

func (f failProducer) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, f.err)
}

// TestGRPCTimeouts: no acknowledgement within limits.produce_timeout is
// DEADLINE_EXCEEDED, and a shorter call deadline bounds the wait.
func TestGRPCTimeouts(t *testing.T) {
	e := newGRPCEnv(t, envOpts{
		mutate:  func(c *config.Config) { c.Limits.ProduceTimeout = 300 * time.Millisecond },
		produce: produce.Options{Producer: stallProducer{}},
	})
	start := time.Now()
	_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(3))
	st, d := statusDetails(t, err)
	if st.Code() != codes.DeadlineExceeded || d.info.GetReason() != "TIMEOUT" {
		t.Fatalf("status = %v %v", st.Code(), d.info)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("answered after %s, want about the 300ms produce timeout", el)
	}
	if d.resp == nil || d.resp.Results[0].GetError().GetCode() != produce.CodeTimeout {
		t.Errorf("per-record timeout results missing: %v", d.resp)
	}

	long := newGRPCEnv(t, envOpts{
		mutate:  func(c *config.Config) { c.Limits.ProduceTimeout = time.Minute },
		produce: produce.Options{Producer: stallProducer{}},
	})
	start = time.Now()
	_, err = long.client.Produce(ctxTimeout(t, 200*time.Millisecond), petsRequest(1))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("the 200ms call deadline did not bound a 1m produce timeout: %s", el)
	}
}

// TestGRPCOverloaded: the producer's buffer bound is RESOURCE_EXHAUSTED.
func TestGRPCOverloaded(t *testing.T) {
	e := newGRPCEnv(t, envOpts{produce: produce.Options{Producer: failProducer{kgo.ErrMaxBuffered}}})
	_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(2))
	st, d := statusDetails(t, err)
	if st.Code() != codes.ResourceExhausted || d.info.GetReason() != "OVERLOADED" {
		t.Fatalf("status = %v %v", st.Code(), d.info)
	}
}

// TestGRPCPartial: partial mode answers OK with per-record errors, and only
// the valid records are produced.
func TestGRPCPartial(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	resp, err := e.client.Produce(ctxTimeout(t, 10*time.Second), &eventguardv1.ProduceRequest{Topic: testTopic, Partial: true, Records: []*eventguardv1.Record{rec(petV2Bad), rec(petV2)}})
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	r0, r1 := resp.Results[0], resp.Results[1]
	if r0.GetProduced() || r0.GetError().GetCode() != validate.CodeSchemaViolation || r0.GetError().GetViolations()[0].GetPath() != "/net_weight_grams" {
		t.Errorf("results[0] = %v", r0)
	}
	if !r1.GetProduced() || r1.GetError() != nil {
		t.Errorf("results[1] = %v", r1)
	}
	if n := e.st.Count(testTopic); n != 1 {
		t.Errorf("%d records produced, want 1", n)
	}
}

// TestGRPCDeprecation: a deprecated version is answered with the notice in
// the response and the same trailers the HTTP ingress sends as headers;
// after a rejecting sunset it is refused as InvalidArgument.
func TestGRPCDeprecation(t *testing.T) {
	dep := func(sunset, after string) func(*config.Config) {
		return func(c *config.Config) {
			var d config.Date
			if err := d.UnmarshalText([]byte(sunset)); err != nil {
				t.Fatal(err)
			}
			var since config.Date
			_ = since.UnmarshalText([]byte("2026-10-01"))
			c.Deprecations = []config.Deprecation{{Subject: "pets-value", Version: 1, Sunset: d, Since: since, Owner: "team-pets", AfterSunset: after,
				Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}}}
		}
	}
	e := newGRPCEnv(t, envOpts{mutate: dep("2099-03-31", "reject")})
	var trailer metadata.MD
	resp, err := e.client.Produce(ctxTimeout(t, 10*time.Second), &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV1), SchemaVersion: 1}}}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	want := &eventguardv1.DeprecationNotice{Subject: "pets-value", Version: 1, Since: "2026-10-01", Sunset: "2099-03-31", Owner: "team-pets", ReplacementSubject: "pets-value", ReplacementVersion: 2}
	if len(resp.GetDeprecations()) != 1 || !proto.Equal(resp.Deprecations[0], want) {
		t.Errorf("deprecations = %v, want %v", resp.GetDeprecations(), want)
	}
	for k, v := range map[string]string{
		"deprecation":           "@1790812800",
		"sunset":                "Tue, 31 Mar 2099 00:00:00 GMT",
		"link":                  "<" + e.cfg.Registry.URL + `/subjects/pets-value/versions/2>; rel="successor-version"`,
		"eventguard-deprecated": "pets-value;version=1;sunset=2099-03-31",
	} {
		if got := trailer.Get(k); len(got) != 1 || got[0] != v {
			t.Errorf("trailer %s = %q, want %q", k, got, v)
		}
	}

	past := newGRPCEnv(t, envOpts{mutate: dep("2020-01-01", "reject")})
	_, err = past.client.Produce(ctxTimeout(t, 10*time.Second), &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{Value: []byte(petV1), SchemaVersion: 1}}}, grpc.Trailer(&trailer))
	st, d := statusDetails(t, err)
	if st.Code() != codes.InvalidArgument || d.info.GetReason() != "DEPRECATED_VERSION_SUNSET" || fields(d.bad)[0] != "records[0]" {
		t.Errorf("status = %v %v %v", st.Code(), d.info, d.bad)
	}
	if len(trailer.Get("sunset")) != 1 {
		t.Errorf("no sunset trailer on the refusal: %v", trailer)
	}
}

// panicProducer is a pipeline that panics (a bug).
type panicProducer struct{}

func (panicProducer) Produce(context.Context, *produce.Request) *produce.Response {
	panic("boom")
}

// TestGRPCPanic: a handler panic is INTERNAL and counted; the server keeps
// serving.
func TestGRPCPanic(t *testing.T) {
	e := newGRPCEnv(t, envOpts{wrap: func(proxy.Producer) proxy.Producer { return panicProducer{} }})
	for range 2 {
		_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(1))
		if status.Code(err) != codes.Internal {
			t.Fatalf("err = %v, want Internal", err)
		}
	}
	stream, err := e.client.ProduceStream(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(petsRequest(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Internal {
		t.Fatalf("stream err = %v, want Internal", err)
	}
	if n := e.g.Panics.Load(); n != 3 {
		t.Errorf("Panics = %d, want 3", n)
	}
}

// TestGRPCStatusBound: many invalid records still give a status whose
// details fit MaxStatusDetailsBytes, saying what was left out.
func TestGRPCStatusBound(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	req := &eventguardv1.ProduceRequest{Topic: testTopic}
	for range 200 {
		req.Records = append(req.Records, rec(petV2Bad))
	}
	_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), req)
	st, d := statusDetails(t, err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v", st.Code())
	}
	if n := len(st.Proto().String()); n > 3*proxy.MaxStatusDetailsBytes {
		t.Errorf("status is %d bytes of text", n)
	}
	if d.resp != nil || !strings.HasPrefix(d.info.GetMetadata()["results"], "omitted") {
		t.Errorf("results detail not left out: %v", d.info)
	}
	n := len(d.bad.GetFieldViolations())
	if n == 0 || n >= 200 || d.info.GetMetadata()["field_violations"] == "" {
		t.Errorf("%d field violations, metadata %v", n, d.info.GetMetadata())
	}
}
