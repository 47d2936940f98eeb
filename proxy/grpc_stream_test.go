package proxy_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
)

// TestGRPCProduceStream100k streams 1000 requests of 100 records and checks
// every request is answered, in order, with every record acknowledged: on
// a one-partition topic the offsets of each answer follow the previous
// answer's.
func TestGRPCProduceStream100k(t *testing.T) {
	requests, per := 1000, 100
	if testing.Short() {
		requests = 100
	}
	e := newGRPCEnv(t, envOpts{})
	stream, err := e.client.ProduceStream(ctxTimeout(t, 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	sendErr := make(chan error, 1)
	go func() {
		for i := range requests {
			req := petsRequest(per)
			req.RequestId = fmt.Sprint(i)
			if err := stream.Send(req); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	next := int64(0)
	for i := range requests {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.GetRequestId() != fmt.Sprint(i) || resp.GetError() != nil || len(resp.GetResults()) != per {
			t.Fatalf("response %d out of order or failed: id %q, error %v, %d results", i, resp.GetRequestId(), resp.GetError(), len(resp.GetResults()))
		}
		for j, r := range resp.GetResults() {
			if !r.GetProduced() || r.GetOffset() != next {
				t.Fatalf("response %d result %d: produced %v offset %d, want offset %d", i, j, r.GetProduced(), r.GetOffset(), next)
			}
			next++
		}
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("a response past the last request")
	} else if status.Code(err) != codes.OK && err.Error() != "EOF" {
		t.Fatalf("stream ended with %v, want EOF", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	if n := e.st.Count(testTopic); n != int64(requests*per) {
		t.Fatalf("%d records in Kafka, want %d", n, requests*per)
	}
}

// gate is a pipeline that holds every request until opened, counting the
// requests it holds.
type gate struct {
	next    proxy.Producer
	open    chan struct{}
	held    atomic.Int64
	maxHeld atomic.Int64
	calls   atomic.Int64
}

func (g *gate) Produce(ctx context.Context, req *produce.Request) *produce.Response {
	g.calls.Add(1)
	n := g.held.Add(1)
	for {
		m := g.maxHeld.Load()
		if n <= m || g.maxHeld.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	g.held.Add(-1)
	return g.next.Produce(ctx, req)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGRPCProduceStreamBound: with the broker stalled, a stream has at most
// grpc.max_stream_requests_in_flight requests read and unanswered; the
// server reads no more until one is answered, then answers all in order.
func TestGRPCProduceStreamBound(t *testing.T) {
	const bound = 4
	g := &gate{open: make(chan struct{})}
	e := newGRPCEnv(t, envOpts{
		mutate: func(c *config.Config) { c.GRPC.MaxStreamRequestsInFlight = bound },
		wrap:   func(p proxy.Producer) proxy.Producer { g.next = p; return g },
	})
	stream, err := e.client.ProduceStream(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	const total = 20
	go func() {
		for i := range total {
			req := petsRequest(1)
			req.RequestId = fmt.Sprint(i)
			if stream.Send(req) != nil {
				return
			}
		}
		_ = stream.CloseSend()
	}()
	waitFor(t, "the first requests to reach the pipeline", func() bool { return g.held.Load() == bound })
	time.Sleep(200 * time.Millisecond)
	if n := g.calls.Load(); n != bound {
		t.Fatalf("%d requests read while %d were unanswered; want the stream to stop reading at %d", n, bound, bound)
	}
	close(g.open)
	for i := range total {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.GetRequestId() != fmt.Sprint(i) || resp.GetError() != nil {
			t.Fatalf("response %d: %v", i, resp)
		}
	}
	if m := g.maxHeld.Load(); m > bound {
		t.Errorf("%d requests in flight at once, bound %d", m, bound)
	}
}

// TestGRPCProduceStreamErrors: a failing request is answered with its
// error and status code in order; the stream goes on.
func TestGRPCProduceStreamErrors(t *testing.T) {
	e := newGRPCEnv(t, envOpts{})
	stream, err := e.client.ProduceStream(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	reqs := []struct {
		req  *eventguardv1.ProduceRequest
		code codes.Code
		err  string
	}{
		{petsRequest(2), codes.OK, ""},
		{&eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{rec(petV2), rec(petV2Bad)}}, codes.InvalidArgument, produce.CodeInvalidRecords},
		{&eventguardv1.ProduceRequest{Topic: "secrets", Records: []*eventguardv1.Record{rec(petV2)}}, codes.PermissionDenied, produce.CodeTopicNotAllowed},
		{&eventguardv1.ProduceRequest{Topic: testTopic, Records: []*eventguardv1.Record{{}}}, codes.InvalidArgument, produce.CodeMalformedRequest},
		{&eventguardv1.ProduceRequest{Topic: "nosubject", Records: []*eventguardv1.Record{rec(petV2)}}, codes.NotFound, produce.CodeSchemaNotFound},
		{petsRequest(3), codes.OK, ""},
	}
	for i, r := range reqs {
		r.req.RequestId = fmt.Sprint(i)
		if err := stream.Send(r.req); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.GetRequestId() != fmt.Sprint(i) {
			t.Fatalf("response %d has request id %q", i, resp.GetRequestId())
		}
		if codes.Code(resp.GetError().GetStatusCode()) != r.code || resp.GetError().GetCode() != r.err {
			t.Errorf("response %d: error %v, want %v %s", i, resp.GetError(), r.code, r.err)
		}
	}
	if n := e.st.Count(testTopic); n != 5 {
		t.Errorf("%d records in Kafka, want 5", n)
	}
}

// TestGRPCProduceStreamCancelNoLeak: a client that cancels mid-stream,
// with requests held at a stalled broker, leaves no goroutine behind.
func TestGRPCProduceStreamCancelNoLeak(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	e := newGRPCEnv(t, envOpts{wrap: func(p proxy.Producer) proxy.Producer { g.next = p; return g }})
	// Warm up the connection and the registry client, whose goroutines
	// live as long as the test's server.
	close(g.open)
	if _, err := e.client.Produce(ctxTimeout(t, 10*time.Second), petsRequest(1)); err != nil {
		t.Fatal(err)
	}
	g.open = make(chan struct{})
	// The in-memory Kafka serves each new client connection on goroutines
	// of its own; they are the broker's, not the stream's.
	ignore := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read.func1"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write")}

	for _, mid := range []string{"held at the broker", "between requests"} {
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := e.client.ProduceStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if mid == "between requests" {
			close(g.open)
			if err := stream.Send(petsRequest(1)); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
		} else {
			// As many as the stream accepts at once (the default bound).
			n := int64(config.Default().GRPC.MaxStreamRequestsInFlight)
			for range n {
				if err := stream.Send(petsRequest(10)); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "requests held", func() bool { return g.held.Load() == n })
		}
		cancel()
		if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
			t.Fatalf("%s: Recv after cancel: %v", mid, err)
		}
		waitFor(t, "held requests to end", func() bool { return g.held.Load() == 0 })
		if err := goleak.Find(ignore...); err != nil {
			t.Fatalf("%s: goroutines left behind:\n%v", mid, err)
		}
	}
}

// TestGRPCStopEndsStreams: Stop answers what a ProduceStream accepted, ends
// it and open Subscribe streams with UNAVAILABLE, turns health off and ends
// health Watch streams, and returns without waiting for the clients.
func TestGRPCStopEndsStreams(t *testing.T) {
	e := newGRPCEnv(t, envOpts{mutate: func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{Name: "weights", Topics: []string{testTopic}, Deliver: config.Deliver{GRPC: true}}}
	}})
	ctx := ctxTimeout(t, 30*time.Second)
	stream, err := e.client.ProduceStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(petsRequest(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, e, ctx, "weights")
	watch, err := healthpb.NewHealthClient(e.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.g.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("ProduceStream after Stop: %v, want Unavailable", err)
	}
	if _, err := sub.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Subscribe after Stop: %v, want Unavailable", err)
	}
	for {
		h, err := watch.Recv()
		if err != nil {
			break // the Watch stream ended
		}
		if h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health after Stop: %v", h.GetStatus())
		}
	}
	wg.Wait()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Stop took %s", el)
	}
}
