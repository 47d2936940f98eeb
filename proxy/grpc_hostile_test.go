package proxy_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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
