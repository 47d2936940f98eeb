package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// env is the soak's running parts: the sidecar, its topic, the app it
// delivers to, and the clients.
type env struct {
	o        options
	brokers  []string
	topic    string
	sidecar  *harness.Sidecar
	app      *httptest.Server
	hc       *http.Client
	conn     *grpc.ClientConn
	gc       eventguardv1.EventguardClient
	payload  []byte
	sent     atomic.Int64 // records acknowledged
	failed   atomic.Int64 // requests not acknowledged
	received atomic.Int64 // deliveries the app accepted

	mu  sync.Mutex
	lat []time.Duration // request latencies since the last sample
}

func setUp(ctx context.Context, o options, bin, dir string) (*env, error) {
	e := &env{o: o, brokers: strings.Split(o.brokers, ","), topic: harness.UniqueName("soak")}
	e.payload = []byte(`{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := createTopic(cctx, e.brokers, e.topic, 3); err != nil {
		return nil, err
	}
	e.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		e.received.Add(1)
	}))
	cfg := filepath.Join(dir, "eventguard.yaml")
	yaml := fmt.Sprintf(`feature: soak
log: {level: warn}
subscriptions:
  - name: soak
    topics: [%s]
    group: %s
    deliver: {url: %q}
`, e.topic, e.topic+"-group", e.app.URL+"/events")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	sc, err := harness.Start(ctx, harness.Options{Binary: bin, Brokers: e.brokers, Dir: dir, Config: cfg})
	if err != nil {
		e.app.Close()
		return nil, err
	}
	e.sidecar = sc
	if _, err := harness.CopySubject(cctx, sc.Registry, e.topic+"-value", "pets-value", 2); err != nil {
		e.close()
		return nil, err
	}
	e.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.clients}}
	if e.conn, err = grpc.NewClient(sc.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		e.close()
		return nil, err
	}
	e.gc = eventguardv1.NewEventguardClient(e.conn)
	logf("sidecar pid %d, topic %s (3 partitions), log %s", sc.Pid(), e.topic, sc.LogPath)
	return e, nil
}

func (e *env) close() {
	if e.conn != nil {
		_ = e.conn.Close()
	}
	if e.sidecar != nil && !e.sidecar.Exited() {
		e.sidecar.Kill()
	}
	if e.app != nil {
		e.app.Close()
	}
}

// createTopic creates topic with the brokers' default replication factor
// (3 on the three-broker cluster: with min.insync.replicas=2 a topic of
// one replica could take no acks=all write).
func createTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	cl, err := harness.NewClient(brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	return nil
}

// httpBody is one request's body: batch records with the shared payload.
func (e *env) httpBody(client, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i := range e.o.batch {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"pet-%d-%d","value":%s}`, client, (n+i)%64, e.payload)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// do sends one request from client (HTTP for the first o.clients, gRPC
// Produce for the others) and records its latency.
func (e *env) do(ctx context.Context, client, n int) {
	t0 := time.Now()
	ok := false
	if client < e.o.clients {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.sidecar.HTTP+"/v1/topics/"+e.topic+"/records", bytes.NewReader(e.httpBody(client, n)))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := e.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
		}
	} else {
		recs := make([]*eventguardv1.Record, e.o.batch)
		for i := range recs {
			recs[i] = &eventguardv1.Record{Key: fmt.Appendf(nil, "pet-%d-%d", client, (n+i)%64), Value: e.payload}
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := e.gc.Produce(cctx, &eventguardv1.ProduceRequest{Topic: e.topic, Records: recs})
		cancel()
		ok = err == nil && len(resp.GetResults()) == len(recs)
	}
	if ctx.Err() != nil {
		return // cut off by the end of a phase: not counted
	}
	if ok {
		e.sent.Add(int64(e.o.batch))
	} else {
		e.failed.Add(1)
	}
	e.mu.Lock()
	e.lat = append(e.lat, time.Since(t0))
	e.mu.Unlock()
}

// drive runs every client until ctx ends. With rate > 0 the clients share
// it: each sends one request every clients*batch/rate seconds (one request
// at a time, so a slow answer delays the next, never piles them up);
// with rate 0 they send as fast as they are answered.
func (e *env) drive(ctx context.Context, rate float64) {
	n := e.o.clients + max(1, e.o.clients/2)
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(time.Second) * float64(n*e.o.batch) / rate)
	}
	var wg sync.WaitGroup
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the clients' start over one interval.
			next := time.Now().Add(every * time.Duration(c) / time.Duration(n))
			for i := 0; ; i += e.o.batch {
				if every > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(next)):
					}
					next = next.Add(every)
					if behind := time.Since(next); behind > every {
						next = time.Now() // do not burst to catch up
					}
				} else if ctx.Err() != nil {
					return
				}
				e.do(ctx, c, i)
			}
		}()
	}
	wg.Wait()
}

// calibrate runs the clients at full speed for d and returns the
// acknowledged records per second of its second half.
func (e *env) calibrate(ctx context.Context, d time.Duration) float64 {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{})
	go func() { e.drive(cctx, 0); close(done) }()
	select {
	case <-time.After(d / 2):
	case <-cctx.Done():
	}
	from, t0 := e.sent.Load(), time.Now()
	<-cctx.Done()
	rate := float64(e.sent.Load()-from) / time.Since(t0).Seconds()
	<-done
	e.takeLatencies()
	return rate
}

func (e *env) takeLatencies() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.lat
	e.lat = nil
	return l
}

// sample is one minute's figures.
type sample struct {
	Minute     float64 `json:"minute"`
	RSSMiB     float64 `json:"rss_mib"`
	Goroutines int     `json:"goroutines"`
	OpenFiles  int     `json:"open_files"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Requests   int     `json:"requests"`
	Records    int64   `json:"records_acknowledged"`
	Failed     int64   `json:"requests_failed"`
	Delivered  int64   `json:"records_delivered"`
	// Lag is the records acknowledged so far (the calibration's included)
	// minus those delivered.
	Lag int64 `json:"consumer_lag"`
}

// soak drives the clients at rate for d and samples every interval.
func (e *env) soak(ctx context.Context, rate float64, d, interval time.Duration) ([]sample, error) {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{})
	recv0 := e.received.Load()
	go func() { e.drive(sctx, rate); close(done) }()
	t0 := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var out []sample
	lastSent, lastFailed := e.sent.Load(), e.failed.Load()
	for {
		select {
		case <-sctx.Done():
			<-done
			if ctx.Err() != nil {
				return out, fmt.Errorf("interrupted after %s", time.Since(t0).Round(time.Second))
			}
			return out, nil
		case <-tick.C:
		}
		s := sample{Minute: time.Since(t0).Minutes()}
		pid := e.sidecar.Pid()
		s.RSSMiB = float64(statusKB(pid, "VmRSS:")) / 1024
		s.OpenFiles = openFiles(pid)
		g, err := goroutines(e.sidecar.Admin)
		if err != nil {
			return out, err
		}
		s.Goroutines = g
		lat := e.takeLatencies()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) > 0 {
			s.P50ms = ms(lat[len(lat)/2])
			s.P99ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
		}
		s.Requests = len(lat)
		sent, failed := e.sent.Load(), e.failed.Load()
		s.Records, s.Failed = sent-lastSent, failed-lastFailed
		lastSent, lastFailed = sent, failed
		// The lag counts every record since the start, the calibration's
		// too: they are in the topic and delivered meanwhile.
		recv := e.received.Load()
		s.Delivered, s.Lag = recv-recv0, sent-recv
		out = append(out, s)
		logf("minute %.0f: rss %.1f MiB, goroutines %d, open files %d, p50 %.1f ms, p99 %.1f ms, %d records (%.0f/s), %d failed, lag %d",
			s.Minute, s.RSSMiB, s.Goroutines, s.OpenFiles, s.P50ms, s.P99ms, s.Records, float64(s.Records)/interval.Seconds(), s.Failed, s.Lag)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// statusKB returns a kB field of /proc/<pid>/status, or 0.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// openFiles counts the entries of /proc/<pid>/fd.
func openFiles(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// goroutines reads go_goroutines from the admin listener's /metrics.
func goroutines(admin string) (int, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(admin + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", admin, err)
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no go_goroutines in %s/metrics", admin)
}
