package proxy_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// TestGRPCDeepValuePerRecord: over gRPC a value nested too deeply, at any
// depth, is its record's malformed_json (too_deep); partial produces the
// others (issue 10, item 2: the gRPC path decodes values in the pipeline).
func TestGRPCDeepValuePerRecord(t *testing.T) {
	e := newGRPCEnv(t, envOpts{mutate: func(c *config.Config) { c.Limits.MaxValueBytes = 60000 }})
	req := &eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(petV2), rec(deepValues[0]), rec(deepValues[1]), rec(petV2)}}

	_, err := e.client.Produce(ctxTimeout(t, 10*time.Second), req)
	st, d := statusDetails(t, err)
	if st.Code() != codes.InvalidArgument || d.info.GetMetadata()["code"] != "invalid_records" {
		t.Fatalf("all or nothing: %v, want INVALID_ARGUMENT invalid_records", err)
	}

	req.Partial = true
	resp, err := e.client.Produce(ctxTimeout(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("partial: %v", err)
	}
	for i, r := range resp.GetResults() {
		deep := i == 1 || i == 2
		if !deep && !r.GetProduced() {
			t.Errorf("partial: valid record %d not produced: %v", i, r)
		}
		if deep && (r.GetError().GetCode() != validate.CodeMalformedJSON || len(r.GetError().GetViolations()) != 1 || r.GetError().GetViolations()[0].GetKeyword() != jsonvalue.CodeTooDeep) {
			t.Errorf("partial: record %d: %v, want malformed_json too_deep", i, r.GetError())
		}
	}
	if n := len(e.st.Records(t, testTopic)); n != 2 {
		t.Errorf("%d records in the topic, want 2", n)
	}
}

// TestGRPCFeatureMetadataOnce: eventguard-feature sent twice is
// INVALID_ARGUMENT invalid_feature on Produce and ProduceStream, not its
// first value; a schema_version or schema_id of 0 keeps meaning "not
// pinned" (proto3 cannot tell it from unset) (issue 10, item 11).
func TestGRPCFeatureMetadataOnce(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), proxy.FeatureMetadata, "billing", proxy.FeatureMetadata, "other")
	_, err := e.client.Produce(ctx, petsRequest(1))
	st, d := statusDetails(t, err)
	if st.Code() != codes.InvalidArgument || d.info.GetMetadata()["code"] != produce.CodeInvalidFeature || !slices.Equal(fields(d.bad), []string{"feature"}) {
		t.Errorf("Produce with two features: %v, want INVALID_ARGUMENT invalid_feature on field feature", err)
	}
	stream, err := e.client.ProduceStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(petsRequest(1))
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ProduceStream with two features: %v, want INVALID_ARGUMENT", err)
	}

	req := petsRequest(1)
	req.Records[0].SchemaVersion, req.Records[0].SchemaId = 0, 0
	resp, err := e.client.Produce(metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), proxy.FeatureMetadata, "billing"), req)
	if err != nil || resp.GetResults()[0].GetSchemaVersion() != 2 {
		t.Errorf("schema_version 0: %v, %v; want the latest version, 2", resp, err)
	}
	if n := len(e.st.Records(t, testTopic)); n != 1 {
		t.Errorf("%d records in the topic, want 1", n)
	}
}

// TestGRPCStatusBounded: whatever the pipeline's messages hold, a failed
// call's status (message and details, as encoded into the
// grpc-status-details-bin trailer) stays within MaxStatusDetailsBytes: one
// record with a 900 kB invalid date-time, and many records with many
// violations on long property names (issue 10, item 5).
func TestGRPCStatusBounded(t *testing.T) {
	e := newGRPCEnv(t, envOpts{mutate: func(c *config.Config) { c.GRPC.MaxRecvBytes = 8 << 20 }})
	huge := strings.Replace(petV2, `"2026-11-02T08:15:00Z"`, `"`+strings.Repeat("x", 900_000)+`"`, 1)
	var extra strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&extra, `,"%s%03d":1`, strings.Repeat("k", 2000), i)
	}
	many := strings.TrimSuffix(petV2Bad, "}") + extra.String() + "}"
	for _, c := range []struct {
		name   string
		values []string
	}{
		{"a 900 kB invalid date-time", []string{huge}},
		{"many violations on long names", []string{many, many, many, many, many}},
		{"both", []string{petV2, huge, many}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := &eventguardv1.ProduceRequest{Topic: testTopic}
			for _, v := range c.values {
				req.Records = append(req.Records, rec(v))
			}
			_, err := e.client.Produce(ctxTimeout(t, 20*time.Second), req)
			st, d := statusDetails(t, err)
			if st.Code() != codes.InvalidArgument || d.info.GetMetadata()["code"] != "invalid_records" {
				t.Fatalf("status %v %v, want INVALID_ARGUMENT invalid_records", st.Code(), d.info)
			}
			if n := proto.Size(st.Proto()); n > proxy.MaxStatusDetailsBytes {
				t.Errorf("encoded status is %d bytes, over the bound of %d", n, proxy.MaxStatusDetailsBytes)
			}
			if n := len(st.Message()); n > 1024 || !strings.Contains(st.Message(), "record ") {
				t.Errorf("status message is %d bytes (%.80q...), want at most 1024 saying which record", n, st.Message())
			}
			if len(d.bad.GetFieldViolations()) == 0 {
				t.Fatal("no field violation kept")
			}
			for _, f := range d.bad.GetFieldViolations() {
				if len(f.GetField()) > 256 || len(f.GetDescription()) > 512 || !strings.HasPrefix(f.GetField(), "records[") {
					t.Errorf("field violation %.80q: %.80q (%d and %d bytes)", f.GetField(), f.GetDescription(), len(f.GetField()), len(f.GetDescription()))
				}
			}
		})
	}
}

// TestGRPCSubscribeNameBounded: an unknown subscription name is quoted
// cut, not whole, in the NOT_FOUND status.
func TestGRPCSubscribeNameBounded(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	s, err := e.client.Subscribe(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("n", 1<<20)
	if err := s.Send(&eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: name}}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv()
	if st := status.Convert(err); st.Code() != codes.NotFound || len(st.Message()) > 300 {
		t.Errorf("unknown long name: %v, %d bytes of message; want NOT_FOUND with the name cut", st.Code(), len(st.Message()))
	}
}

// rawCodec sends and receives messages as the bytes given: a client that
// can send what no generated client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// mangle marshals m and replaces the placeholder "MANGLE" (which m holds
// once) with bytes of the same length that are not UTF-8.
func mangle(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("MANGLE")) != 1 {
		t.Fatalf("placeholder not found once in %q", b)
	}
	return bytes.Replace(b, []byte("MANGLE"), []byte("\xffANGLE"), 1)
}

// TestGRPCInvalidMessage: over a real connection, a message that is not
// protobuf, or whose string field is not UTF-8, is INVALID_ARGUMENT
// malformed_request naming the field, on unary calls (Produce, the health
// Check) and streams (ProduceStream after a good request, Subscribe) alike,
// never INTERNAL (issue 10, item 7).
func TestGRPCInvalidMessage(t *testing.T) {
	e := newGRPCEnv(t, envOpts{tcp: true})
	conn, err := grpc.NewClient(e.conn.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	badHeader := petsRequest(2)
	badHeader.Records[1].Headers = []*eventguardv1.Header{{Key: "ok", Value: []byte("x")}, {Key: "MANGLE"}}
	badTopic := petsRequest(1)
	badTopic.Topic = "MANGLE"
	good, _ := proto.Marshal(petsRequest(1))

	wantInvalid := func(t *testing.T, err error, field, msg string) {
		t.Helper()
		st, d := statusDetails(t, err)
		if st.Code() != codes.InvalidArgument || d.info.GetMetadata()["code"] != produce.CodeMalformedRequest || !slices.Equal(fields(d.bad), []string{field}) || !strings.Contains(st.Message(), msg) {
			t.Errorf("status %v %q, fields %v, code %q; want INVALID_ARGUMENT malformed_request on %s, saying %q", st.Code(), st.Message(), fields(d.bad), d.info.GetMetadata()["code"], field, msg)
		}
	}
	unary := []struct {
		name, method string
		msg          []byte
		field, says  string
	}{
		{"not protobuf", "/eventguard.v1.Eventguard/Produce", []byte{0xff, 0xff, 0xff, 0xff}, "(message)", "not a valid eventguard.v1.ProduceRequest"},
		{"topic not UTF-8", "/eventguard.v1.Eventguard/Produce", mangle(t, badTopic), "topic", "topic is not valid UTF-8"},
		{"header name not UTF-8", "/eventguard.v1.Eventguard/Produce", mangle(t, badHeader), "records[1].headers[1].key", "records[1].headers[1].key is not valid UTF-8"},
		{"health service not UTF-8", "/grpc.health.v1.Health/Check", mangle(t, &healthpb.HealthCheckRequest{Service: "MANGLE"}), "service", "service is not valid UTF-8"},
	}
	for _, c := range unary {
		t.Run(c.name, func(t *testing.T) {
			var out []byte
			err := conn.Invoke(ctxTimeout(t, 10*time.Second), c.method, &c.msg, &out)
			wantInvalid(t, err, c.field, c.says)
		})
	}

	t.Run("ProduceStream", func(t *testing.T) {
		s, err := conn.NewStream(ctxTimeout(t, 10*time.Second), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/eventguard.v1.Eventguard/ProduceStream")
		if err != nil {
			t.Fatal(err)
		}
		bad := mangle(t, badTopic)
		for _, m := range [][]byte{good, bad} {
			if err := s.SendMsg(&m); err != nil {
				t.Fatal(err)
			}
		}
		var out []byte
		if err := s.RecvMsg(&out); err != nil {
			t.Fatalf("the good request before the bad one: %v", err)
		}
		var resp eventguardv1.ProduceResponse
		if err := proto.Unmarshal(out, &resp); err != nil || resp.GetError() != nil || !resp.GetResults()[0].GetProduced() {
			t.Errorf("the good request: %v %v", &resp, err)
		}
		wantInvalid(t, s.RecvMsg(&out), "topic", "topic is not valid UTF-8")
	})
	t.Run("Subscribe", func(t *testing.T) {
		s, err := conn.NewStream(ctxTimeout(t, 10*time.Second), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/eventguard.v1.Eventguard/Subscribe")
		if err != nil {
			t.Fatal(err)
		}
		m := mangle(t, &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: "MANGLE"}}})
		if err := s.SendMsg(&m); err != nil {
			t.Fatal(err)
		}
		var out []byte
		wantInvalid(t, s.RecvMsg(&out), "subscription.name", "subscription.name is not valid UTF-8")
	})
	if n := len(e.st.Records(t, testTopic)); n != 1 {
		t.Errorf("%d records in the topic, want the one good request's", n)
	}
}
