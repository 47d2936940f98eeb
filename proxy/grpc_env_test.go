package proxy_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// Payloads of the example contract pets-value.
const (
	petV2     = `{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`
	petV2Bad  = `{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":"4210","tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`
	petV1     = `{"event_type":"pet.weight.updated.v1","pet_id":"pet-42","device_id":"bowl-7f3a","weight_grams":4210,"measured_at":"2026-11-02T08:15:00Z","source":"sensor","location_hint":"kitchen bowl"}`
	traceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	tracePar  = "00-" + traceID + "-00f067aa0ba902b7-01"
	testTopic = "pets"
)

// grpcEnv is a gRPC ingress on an in-memory Kafka and registry with the
// example contracts, and a real grpc-go client connected to it.
type grpcEnv struct {
	st     *testutil.Stack
	cfg    *config.Config
	p      *produce.Pipeline
	g      *proxy.GRPC
	conn   *grpc.ClientConn
	client eventguardv1.EventguardClient
	// kafkaDown makes the pipeline's KafkaErr report Kafka unreachable.
	kafkaDown atomic.Bool
}

// envOpts adjust a grpcEnv.
type envOpts struct {
	mutate  func(*config.Config)
	produce produce.Options
	wrap    func(proxy.Producer) proxy.Producer
	ready   func() error
	tcp     bool
	stack   *testutil.Stack
}

// newGRPCEnv starts the stack (unless o.stack is given), the pipeline, the
// gRPC server on bufconn (or TCP) and a client. The default config allows
// topic pets (topic strategy) and orders (topic_record by /event_type).
func newGRPCEnv(t testing.TB, o envOpts) *grpcEnv {
	t.Helper()
	e := &grpcEnv{st: o.stack}
	if e.st == nil {
		e.st = testutil.Start(t)
	}
	e.cfg = e.st.Config(t, func(c *config.Config) {
		c.Feature = "checkout"
		c.Topics = []config.Topic{
			{Name: testTopic},
			{Name: "orders", SubjectStrategy: config.StrategyTopicRecord, TypePointer: "/event_type"},
			{Name: "nosubject"},
			{Name: "billing", Features: []string{"billing"}},
		}
		c.Limits.ProduceTimeout = 5 * time.Second
		if o.mutate != nil {
			o.mutate(c)
		}
	})
	po := o.produce
	if po.KafkaErr == nil {
		po.KafkaErr = func() error {
			if e.kafkaDown.Load() {
				return errKafkaDown
			}
			return nil
		}
	}
	if po.Checker == nil {
		po.Checker = e.st.Checker(t, validate.Options{LatestTTL: e.cfg.Registry.LatestTTL, Timeout: e.cfg.Registry.Timeout}, check.NewDeprecations(e.cfg.Deprecations, testutil.Discard(), nil))
	}
	if o.stack == nil {
		e.st.CreateTopic(t, testTopic, 1)
		e.st.CreateTopic(t, "orders", 1)
	}
	e.p = e.st.Pipeline(t, e.cfg, po)
	var p proxy.Producer = e.p
	if o.wrap != nil {
		p = o.wrap(p)
	}
	e.g = proxy.NewGRPC(p, proxy.GRPCOptions{Config: e.cfg, Ready: o.ready, HealthInterval: 20 * time.Millisecond, Logger: testutil.Discard()})

	var ln net.Listener
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	target := "passthrough:///bufconn"
	if o.tcp {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		target = ln.Addr().String()
	} else {
		bl := bufconn.Listen(1 << 20)
		ln = bl
		dial = append(dial, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }))
	}
	served := make(chan error, 1)
	go func() { served <- e.g.Serve(ln) }()
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	e.client = eventguardv1.NewEventguardClient(conn)
	t.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.g.Stop(ctx); err != nil {
			t.Errorf("stop grpc: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

type kafkaDownError struct{}

func (kafkaDownError) Error() string { return "dial tcp 127.0.0.1:9: connection refused (test)" }

var errKafkaDown error = kafkaDownError{}

// rec returns a record with value v.
func rec(v string) *eventguardv1.Record {
	return &eventguardv1.Record{Key: []byte("pet-42"), Value: []byte(v)}
}

// petsRequest is a request of n valid pets records.
func petsRequest(n int) *eventguardv1.ProduceRequest {
	req := &eventguardv1.ProduceRequest{Topic: testTopic, Records: make([]*eventguardv1.Record, n)}
	for i := range req.Records {
		req.Records[i] = rec(petV2)
	}
	return req
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
