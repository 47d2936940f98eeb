package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/devstack"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/internal/testutil"
)

// lifecycle is a sidecar under test whose stop the test controls.
type lifecycle struct {
	sc    *sidecar
	http  string // base URL of the HTTP ingress
	admin string // base URL of the admin listener
	stop  context.CancelFunc
	done  chan struct{} // closed when run has returned
	err   error         // run's result, once done is closed
}

// startLifecycle starts the sidecar as `eventguard run` wires it, with cfg
// (defaults applied and validated), and does not wait for readiness. The
// test stops it with l.stop; Cleanup stops it otherwise.
func startLifecycle(t *testing.T, cfg *config.Config) *lifecycle {
	t.Helper()
	cfg.Listen.HTTP, cfg.Listen.Admin, cfg.Listen.GRPC = "127.0.0.1:0", "127.0.0.1:0", config.ListenerOff
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	sc, err := newSidecar(cfg, testutil.Discard())
	if err != nil {
		t.Fatalf("newSidecar: %v", err)
	}
	lns, err := sc.listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &lifecycle{sc: sc, http: "http://" + sc.addrs["http"], admin: "http://" + sc.addrs["admin"], stop: stop, done: make(chan struct{})}
	go func() { l.err = sc.run(ctx, lns); close(l.done) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-l.done:
		case <-time.After(cfg.Shutdown.DrainDelay + cfg.Shutdown.GracePeriod + 10*time.Second):
			t.Errorf("sidecar did not stop")
		}
	})
	return l
}

// client never reuses connections, so each request sees whether the
// listener still accepts.
var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// readyz returns /readyz's status and checks.
func (l *lifecycle) readyz(t *testing.T) (int, map[string]string) {
	t.Helper()
	resp, err := client.Get(l.admin + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	if body.Ready != (resp.StatusCode == http.StatusOK) {
		t.Errorf("/readyz: status %d but ready=%v", resp.StatusCode, body.Ready)
	}
	return resp.StatusCode, body.Checks
}

// waitReady polls /readyz until 200 or the timeout.
func (l *lifecycle) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, checks := l.readyz(t)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within %s: %v", timeout, checks)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lifecycleRecord is one valid pets-value version 2 record.
const lifecycleRecord = `{"records":[{"key":"pet-42","value":{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}}]}`

// produce posts one valid pets record and returns the status and body, or
// the transport error.
func (l *lifecycle) produce() (int, string, error) {
	resp, err := client.Post(l.http+"/v1/topics/pets/records", "application/json", strings.NewReader(lifecycleRecord))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestDrainDelay: after the stop signal /readyz fails within moments, while the
// HTTP ingress keeps answering produce requests for shutdown.drain_delay;
// then the ingress closes and run returns nil within the grace period.
func TestDrainDelay(t *testing.T) {
	st := testutil.Start(t)
	st.CreateTopic(t, "pets", 1)
	const drain = 1500 * time.Millisecond
	cfg := st.Config(t, func(c *config.Config) {
		c.Topics = []config.Topic{{Name: "pets"}}
		c.Shutdown.DrainDelay = drain
		c.Shutdown.GracePeriod = 5 * time.Second
	})
	l := startLifecycle(t, cfg)
	l.waitReady(t, 15*time.Second)
	if code, body, err := l.produce(); err != nil || code != http.StatusOK {
		t.Fatalf("produce before the stop: %d %s %v", code, body, err)
	}

	stopped := time.Now()
	l.stop()
	// The stop is handled by run's goroutine: /readyz turns within moments,
	// then stays 503 for the whole drain delay.
	for {
		if code, _ := l.readyz(t); code == http.StatusServiceUnavailable {
			break
		}
		if time.Since(stopped) > time.Second {
			t.Fatalf("/readyz still 200 %s after the stop", time.Since(stopped))
		}
		time.Sleep(5 * time.Millisecond)
	}
	produced := 0
	for time.Since(stopped) < drain-300*time.Millisecond {
		code, checks := l.readyz(t)
		if code != http.StatusServiceUnavailable || checks["lifecycle"] != "shutting down" {
			t.Fatalf("%s after the stop: /readyz %d %v, want 503 with lifecycle \"shutting down\"", time.Since(stopped), code, checks)
		}
		if resp, err := client.Get(l.admin + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s after the stop: /healthz %v %v, want 200 (alive while draining)", time.Since(stopped), resp, err)
		} else {
			resp.Body.Close()
		}
		code, body, err := l.produce()
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s after the stop (drain delay %s): produce got %d %s %v, want 200", time.Since(stopped), drain, code, body, err)
		}
		produced++
		time.Sleep(100 * time.Millisecond)
	}
	if produced < 3 {
		t.Fatalf("only %d produce requests fit in the drain delay; the machine is too slow for this test", produced)
	}

	select {
	case <-l.done:
		if l.err != nil {
			t.Fatalf("run: %v", l.err)
		}
		if since := time.Since(stopped); since < drain {
			t.Errorf("run returned %s after the stop, before the drain delay %s", since, drain)
		}
	case <-time.After(drain + cfg.Shutdown.GracePeriod + 2*time.Second):
		t.Fatal("run did not return within drain delay + grace period")
	}
	if _, _, err := l.produce(); err == nil {
		t.Errorf("the HTTP ingress still accepts connections after run returned")
	}
	if got, want := st.Count("pets"), int64(1+produced); got != want {
		t.Errorf("pets holds %d records, want %d (every 200 is in Kafka)", got, want)
	}
}

// TestWaitsForDependencies: started while Kafka and the registry are not
// reachable, the sidecar keeps running, reports not-ready with the reason,
// answers produce requests with 503, and becomes ready by itself once both
// appear: no crash, so no crash loop.
func TestWaitsForDependencies(t *testing.T) {
	ports := freePorts(t, 2)
	kafkaPort, registryAddr := ports[0], "127.0.0.1:"+strconv.Itoa(ports[1])
	cfg := &config.Config{}
	cfg.Kafka.Brokers = []string{"127.0.0.1:" + strconv.Itoa(kafkaPort)}
	cfg.Kafka.AutoCreateTopics = true
	cfg.Registry.URL = "http://" + registryAddr
	cfg.Registry.Timeout = time.Second
	cfg.Topics = []config.Topic{{Name: "pets"}}
	cfg.Shutdown.GracePeriod = 5 * time.Second
	l := startLifecycle(t, cfg)

	// Down: alive, not ready, every produce refused with 503.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		code, checks := l.readyz(t)
		if code != http.StatusServiceUnavailable || checks["kafka"] == "ok" || checks["registry"] == "ok" {
			t.Fatalf("with Kafka and the registry down: /readyz %d %v, want 503 naming both", code, checks)
		}
		if code, body, err := l.produce(); err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("with Kafka and the registry down: produce %d %s %v, want 503", code, body, err)
		}
		select {
		case <-l.done:
			t.Fatalf("the sidecar stopped while its dependencies were down: %v", l.err)
		case <-time.After(250 * time.Millisecond):
		}
	}

	// Up: the same ports now answer; the sidecar becomes ready by itself.
	stack, err := devstack.Start(devstack.Options{KafkaPort: kafkaPort, RegistryAddr: registryAddr, Partitions: 1, Logger: testutil.Discard()})
	if err != nil {
		t.Skipf("cannot start kfake/srfake on the ports picked a moment ago: %v", err)
	}
	t.Cleanup(stack.Close)
	registerExamples(t, stack.RegistryURL)
	l.waitReady(t, 20*time.Second)
	if code, body, err := l.produce(); err != nil || code != http.StatusOK {
		t.Fatalf("once Kafka and the registry are up: produce %d %s %v, want 200", code, body, err)
	}
	l.stop()
	<-l.done
	if l.err != nil {
		t.Fatalf("run: %v", l.err)
	}
}

// TestBadConfigFailsFast: `eventguard run` with an invalid config exits 1
// at once, naming every bad field; it does not start serving.
func TestBadConfigFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := "kafka:\n  compression: brotli\nlisten:\n  http: nowhere\nshutdown:\n  grace_period: -1s\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVENTGUARD_CONFIG", "")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := Main([]string{"run", "--config", path}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if d := time.Since(start); d > 30*time.Second { // refusing must not wait on anything
		t.Errorf("took %s to refuse a bad config", d)
	}
	for _, want := range []string{"invalid configuration", "kafka.compression", "listen.http", "shutdown.grace_period"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr.String())
		}
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// registerExamples registers examples/contracts with the registry at url.
func registerExamples(t *testing.T, url string) {
	t.Helper()
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := set.Register(ctx, cl); err != nil {
		t.Fatalf("register example contracts: %v", err)
	}
}

// TestPprof: Go's profiles are on the admin listener only when
// listen.pprof is on.
func TestPprof(t *testing.T) {
	st := testutil.Start(t)
	for _, on := range []bool{false, true} {
		cfg := st.Config(t, func(c *config.Config) { c.Listen.Pprof = on })
		l := startLifecycle(t, cfg)
		resp, err := client.Get(l.admin + "/debug/pprof/heap?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if resp.StatusCode != want || on && !strings.Contains(string(body), "heap profile") {
			t.Errorf("listen.pprof %v: GET /debug/pprof/heap = %d %.80q, want %d", on, resp.StatusCode, body, want)
		}
		l.stop()
		<-l.done
	}
}
