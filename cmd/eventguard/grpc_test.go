package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/telemetry"
)

// TestSidecarGRPC: the sidecar serves gRPC on listen.grpc with health from
// its readiness and the same pipeline as HTTP, observed by the metrics.
func TestSidecarGRPC(t *testing.T) {
	r := startSidecar(t, nil, func(c *config.Config) { c.Listen.GRPC = "127.0.0.1:0" })
	addr := r.sc.addrs["grpc"]
	if addr == "" {
		t.Fatal("no grpc listener")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Ready over /readyz means SERVING over gRPC health within a second.
	hc := healthpb.NewHealthClient(conn)
	for {
		h, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && h.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("health never SERVING: %v %v", h, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	eg := eventguardv1.NewEventguardClient(conn)
	resp, err := eg.Produce(ctx, &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(petV2)}}})
	if err != nil || !resp.GetResults()[0].GetProduced() {
		t.Fatalf("Produce: %v %v", resp, err)
	}
	_, err = eg.Produce(ctx, &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(`{"pet_id":1}`)}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid record: %v", err)
	}

	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "grpc", "status": "OK"}, 1)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "grpc", "status": "InvalidArgument"}, 1)
	wantMetric(t, fams, telemetry.MetricPanics, map[string]string{"component": "grpc"}, 0)
}
