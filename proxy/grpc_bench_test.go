package proxy_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// gRPC produce benchmarks, next to the HTTP ones in bench_test.go and their
// franz-go baseline BenchmarkDirectProduceBatch, on the same in-process
// kfake: ns/record, records/s and allocs/record (client, server and broker
// together, as they share the process). The server is built as the
// sidecar builds it (proxy.NewGRPC on the pipeline, served on a loopback
// TCP listener) and called with a real grpc-go client; the side-by-side on
// a real broker is bench/cmd/kbench against `eventguard dev --brokers`.

// benchGRPC serves the gRPC ingress for topic pets (3 partitions) with
// producer p (nil: a kgo client on the stack's kfake) on loopback TCP and
// returns a client.
func benchGRPC(b *testing.B, p produce.Producer) eventguardv1.EventguardClient {
	b.Helper()
	st := testutil.Start(b)
	cfg := st.Config(b, func(c *config.Config) { c.Topics = []config.Topic{{Name: "pets"}} })
	st.CreateTopic(b, "pets", 3)
	pl := st.Pipeline(b, cfg, produce.Options{Producer: p})
	g := proxy.NewGRPC(pl, proxy.GRPCOptions{Config: cfg, Logger: testutil.Discard()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Stop(ctx)
	})
	return eventguardv1.NewEventguardClient(conn)
}

// benchRequest is n records of pets-value v2 with distinct keys.
func benchRequest(n int) *eventguardv1.ProduceRequest {
	req := &eventguardv1.ProduceRequest{Topic: "pets", Records: make([]*eventguardv1.Record, n)}
	for i := range req.Records {
		req.Records[i] = &eventguardv1.Record{Key: []byte(fmt.Sprintf("pet-%d", i)), Value: []byte(hPetV2)}
	}
	return req
}

// measure runs loop (which produces b.N times perReq records) and reports
// the per-record figures.
func measure(b *testing.B, perReq int, loop func()) {
	b.Helper()
	panics := validate.Panics.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	b.ReportAllocs()
	b.ResetTimer()
	loop()
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	records := float64(b.N * perReq)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/records, "allocs/record")
	if validate.Panics.Load() != panics {
		b.Fatal("the validator panicked")
	}
}

func runUnary(b *testing.B, cl eventguardv1.EventguardClient, perReq int) {
	req := benchRequest(perReq)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", hTraceHdr)
	if _, err := cl.Produce(ctx, req); err != nil { // warm: schema resolved, clients connected
		b.Fatalf("warm-up: %v", err)
	}
	measure(b, perReq, func() {
		for b.Loop() {
			if _, err := cl.Produce(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGRPCProduceUnary: one Produce call of 100 records at a time.
func BenchmarkGRPCProduceUnary(b *testing.B) {
	runUnary(b, benchGRPC(b, nil), 100)
}

func runStream(b *testing.B, cl eventguardv1.EventguardClient, perReq int) {
	req := benchRequest(perReq)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", hTraceHdr)
	if _, err := cl.Produce(ctx, req); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	measure(b, perReq, func() {
		stream, err := cl.ProduceStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// Send as fast as the stream's bound lets us; count the answers.
		answered := make(chan error, 1)
		go func() {
			for {
				resp, err := stream.Recv()
				if err != nil {
					answered <- nil
					return
				}
				if e := resp.GetError(); e != nil {
					answered <- fmt.Errorf("request failed: %v", e)
					return
				}
			}
		}()
		for b.Loop() {
			if err := stream.Send(req); err != nil {
				b.Fatal(err)
			}
		}
		// b.Loop stopped the timer; the answers still outstanding count.
		b.StartTimer()
		if err := stream.CloseSend(); err != nil {
			b.Fatal(err)
		}
		if err := <-answered; err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkGRPCProduceStream: requests of 100 records on one ProduceStream,
// up to grpc.max_stream_requests_in_flight (8) at once.
func BenchmarkGRPCProduceStream(b *testing.B) {
	runStream(b, benchGRPC(b, nil), 100)
}

// BenchmarkGRPCProduceStreamNoBroker is BenchmarkGRPCProduceStream with the
// broker taken out (records acknowledged at once): eventguard's and gRPC's
// own share.
func BenchmarkGRPCProduceStreamNoBroker(b *testing.B) {
	runStream(b, benchGRPC(b, instantAck{}), 100)
}
