package proxy_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestGRPCHealthFollowsKafka: while the Kafka cluster is down the health
// service reports NOT_SERVING and Produce fails fast with UNAVAILABLE; once
// it is back, SERVING and produce works again. Health changes are pushed to
// a Watch stream; all over a real TCP connection.
func TestGRPCHealthFollowsKafka(t *testing.T) {
	// The cluster keeps its state on disk, so the restart brings back the
	// same topic (same topic id), as a real broker's restart does.
	port, dir := freePort(t), t.TempDir()
	start := func(opts ...kfake.Opt) *kfake.Cluster {
		t.Helper()
		c, err := kfake.NewCluster(append(opts, kfake.Ports(port), kfake.NumBrokers(1), kfake.DataDir(dir))...)
		if err != nil {
			t.Fatalf("start kafka on port %d: %v", port, err)
		}
		return c
	}
	cluster := start(kfake.SeedTopics(1, testTopic))
	defer func() { cluster.Close() }()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", port)))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	mon := kafka.NewMonitor(kcl, 100*time.Millisecond)
	ctx := ctxTimeout(t, time.Minute)
	go mon.Run(ctx)

	e := newGRPCEnv(t, envOpts{tcp: true, ready: mon.Err, produce: produce.Options{Producer: kcl, KafkaErr: mon.Err}})
	hc := healthpb.NewHealthClient(e.conn)
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: ""})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for {
			r, err := watch.Recv()
			if err != nil {
				t.Fatalf("watch: %v (waiting for %v)", err, want)
			}
			if r.GetStatus() == want {
				break
			}
		}
		for _, svc := range []string{"", proxy.ServiceName} {
			r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || r.GetStatus() != want {
				t.Fatalf("Check(%q) = %v, %v; want %v", svc, r, err, want)
			}
		}
	}
	produceOK := func() {
		t.Helper()
		if _, err := e.client.Produce(ctx, petsRequest(2)); err != nil {
			t.Fatalf("Produce: %v", err)
		}
	}
	expect(healthpb.HealthCheckResponse_SERVING)
	produceOK()

	cluster.Close()
	expect(healthpb.HealthCheckResponse_NOT_SERVING)
	_, err = e.client.Produce(ctx, petsRequest(1))
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "kafka is unreachable") {
		t.Fatalf("Produce while Kafka is down: %v, want UNAVAILABLE kafka_unavailable", err)
	}

	cluster = start()
	expect(healthpb.HealthCheckResponse_SERVING)
	produceOK()
}

// TestGRPCOverTCP: produce and server reflection (what grpcurl needs,
// including the error detail types) over a real TCP listener.
func TestGRPCOverTCP(t *testing.T) {
	e := newGRPCEnv(t, envOpts{tcp: true})
	ctx := ctxTimeout(t, 10*time.Second)
	resp, err := e.client.Produce(ctx, petsRequest(3))
	if err != nil || len(resp.GetResults()) != 3 || !resp.Results[2].GetProduced() {
		t.Fatalf("Produce over TCP: %v, %v", resp, err)
	}

	rc, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{proxy.ServiceName, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
	for _, sym := range []string{proxy.ServiceName, "google.rpc.BadRequest", "google.rpc.ErrorInfo", "google.rpc.RetryInfo"} {
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: sym}}); err != nil {
			t.Fatal(err)
		}
		r, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("reflection has no file for %s: %v", sym, r.GetErrorResponse())
		}
	}
}
