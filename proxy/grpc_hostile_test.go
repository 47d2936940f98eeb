package proxy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
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
