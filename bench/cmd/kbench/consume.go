package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// consumeModes are issue 14 part 4's rows: each turn reads a backlog of
// -consume-records records from the start of a topic filled before the
// rounds (the same corpus, framed), and is measured from its first record
// to the end of the turn or of the backlog.
var consumeModes = []Mode{
	{
		Key: "consume-validate", Name: "franz-go consumer, decode + validate (jsonschema v6), no delivery", Group: "consume",
		Records: func(*Env) int { return 1 },
		Measure: measurePlainConsumer,
	},
	{
		Key: "consume-deliver", Name: "eventguard subscription: consume, validate, deliver over HTTP", Group: "consume", Base: "consume-validate",
		Records: func(*Env) int { return 1 },
		Measure: func(ctx context.Context, e *Env, d time.Duration, brokerPid int) roundResult {
			return measureSubscription(ctx, e, d, brokerPid, false)
		},
	},
	{
		Key: "consume-dlq", Name: "eventguard subscription: 100% invalid, to the DLQ", Group: "consume", Base: "consume-deliver",
		Records: func(*Env) int { return 1 },
		Measure: func(ctx context.Context, e *Env, d time.Duration, brokerPid int) roundResult {
			return measureSubscription(ctx, e, d, brokerPid, true)
		},
	},
}

// consumeTopics are the backlog topics of the consume rows: valid events,
// and the same events each with one schema violation (total_amount a
// number), both framed with the contract's schema id.
func consumeTopics(topic string) (valid, invalid string) {
	return topic + "-consume", topic + "-consume-bad"
}

// fillConsumeTopics creates the backlog topics (and the invalid one's
// dead-letter topic) and writes n records to each.
func fillConsumeTopics(ctx context.Context, e *Env, n, partitions int) error {
	valid, invalid := consumeTopics(e.Topic)
	for _, t := range []string{valid, invalid, invalid + ".dlq"} {
		if err := harness.CreateTopic(ctx, e.Brokers, t, int32(partitions)); err != nil {
			return err
		}
	}
	bad := make([][]byte, len(e.Corpus))
	for i, v := range e.Corpus {
		bad[i] = validate.Frame(e.SchemaID, invalidEvent(v))
	}
	cl, err := harness.NewClient(e.Brokers, kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, tv := range []struct {
		topic  string
		values [][]byte
	}{{valid, e.Framed}, {invalid, bad}} {
		t0 := time.Now()
		var failed atomic.Value
		for i := range n {
			r := &kgo.Record{Topic: tv.topic, Key: []byte("order-" + strconv.Itoa(i)), Value: tv.values[i%len(tv.values)]}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.CompareAndSwap(nil, err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		if err, _ := failed.Load().(error); err != nil {
			return fmt.Errorf("fill %s: %w", tv.topic, err)
		}
		logf("consume backlog: %d records in %s (%.1fs)", n, tv.topic, time.Since(t0).Seconds())
	}
	return nil
}

// measurePlainConsumer reads the valid backlog with a franz-go consumer
// (no group, every partition from its start), decoding and validating
// each value with jsonschema v6, the partitions of a fetch in parallel.
// That is the whole work of a consumer without eventguard, short of its
// own handler; all of it is the client's CPU.
func measurePlainConsumer(ctx context.Context, e *Env, d time.Duration, brokerPid int) roundResult {
	valid, _ := consumeTopics(e.Topic)
	var out roundResult
	cl, err := harness.NewClient(e.Brokers, kgo.ConsumeTopics(valid), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		out.fail(err)
		return out
	}
	defer cl.Close()
	var m *meter
	var count, bad atomic.Int64
	deadline := time.Now().Add(d + 30*time.Second)
	for int(count.Load()) < e.opts.consumeRecords && time.Now().Before(deadline) {
		if m != nil && m.elapsed() >= d {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if m == nil && fs.NumRecords() > 0 {
			m = startMeter(e, brokerPid, 0)
		}
		var wg sync.WaitGroup
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, r := range p.Records {
					_, payload, err := validate.Unframe(r.Value)
					if err == nil {
						err = validateJSON(e.Schema, payload)
					}
					if err != nil {
						bad.Add(1)
					}
					count.Add(1)
				}
			}()
		})
		wg.Wait()
	}
	if m == nil {
		out.fail(fmt.Errorf("no record read from %s", valid))
		return out
	}
	out = m.stop(int(count.Load()))
	if n := bad.Load(); n > 0 {
		out.errors = int(n)
		out.firstError = fmt.Sprintf("%d records failed validation", n)
	}
	return out
}

// measureSubscription starts a sidecar of its own for the turn with one
// subscription (a new consumer group, from the start) on the valid or the
// invalid backlog, delivering to kbench's app, and counts the records it
// finished (delivered or dead-lettered) from its /metrics. The turn is
// measured from the first finished record, so startup and the group join
// are not in it.
func measureSubscription(ctx context.Context, e *Env, d time.Duration, brokerPid int, invalid bool) roundResult {
	var out roundResult
	topic, bad := consumeTopics(e.Topic)
	if invalid {
		topic = bad
	}
	dir, err := os.MkdirTemp("", "kbench-consume-")
	if err != nil {
		out.fail(err)
		return out
	}
	defer os.RemoveAll(dir)
	group := harness.UniqueName("kbench-group")
	cfg := fmt.Sprintf(`subscriptions:
  - name: kbench
    topics: [%s]
    group: %s
    subject_strategy: any
    start_from: earliest
    dlq_topic: %s.dlq
    deliver: {url: %s/deliver, timeout: 10s}
`, topic, group, bad, e.app.url)
	path := filepath.Join(dir, "consume.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		out.fail(err)
		return out
	}
	sc, err := harness.Start(ctx, harness.Options{Binary: e.opts.bin, Brokers: e.Brokers, Dir: dir, Config: path, Env: e.opts.sidecarEnv})
	if err != nil {
		out.fail(err)
		return out
	}
	defer func() {
		if err := sc.Stop(30 * time.Second); err != nil {
			logf("stopping the consume sidecar: %v", err)
		}
	}()
	e.Sidecar, e.ProxyPid = sc, sc.Pid()
	var m *meter
	var c0 int
	deadline := time.Now().Add(d + 60*time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n, err := consumed(sc.Admin)
		if err != nil {
			continue
		}
		if m == nil {
			if n > 0 {
				m, c0 = startMeter(e, brokerPid, sc.Pid()), n
			}
			continue
		}
		if m.elapsed() >= d || n >= e.opts.consumeRecords {
			return m.stop(n - c0)
		}
	}
	if m == nil {
		out.fail(fmt.Errorf("no record finished within %s; log:\n%s", d+60*time.Second, harness.Tail(sc.LogPath, 20)))
		return out
	}
	n, _ := consumed(sc.Admin)
	return m.stop(n - c0)
}

// consumed sums eventguard_records_total of the consume direction with
// outcome delivered or dead_lettered, from the sidecar's /metrics.
func consumed(admin string) (int, error) {
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, `eventguard_records_total{direction="consume"`) ||
			!strings.Contains(line, `outcome="delivered"`) && !strings.Contains(line, `outcome="dead_lettered"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			total += int(v)
		}
	}
	return total, sc.Err()
}

// meter measures a turn that does not start with the round (consume
// rows): CPU of the proxy, the broker and kbench, and the proxy's peak
// RSS, from start to stop.
type meter struct {
	t0                   time.Time
	proxyPid, brokerPid  int
	proxy0, br0, client0 float64
}

func startMeter(e *Env, brokerPid, proxyPid int) *meter {
	if proxyPid != 0 {
		resetPeakRSS(proxyPid)
	}
	return &meter{t0: time.Now(), proxyPid: proxyPid, brokerPid: brokerPid,
		proxy0: cpuSeconds(proxyPid), br0: cpuSeconds(brokerPid), client0: cpuSeconds(os.Getpid())}
}

func (m *meter) elapsed() time.Duration { return time.Since(m.t0) }

func (m *meter) stop(records int) roundResult {
	r := roundResult{records: records, seconds: time.Since(m.t0).Seconds(),
		proxyCPU: cpuSeconds(m.proxyPid) - m.proxy0, brokerCPU: cpuSeconds(m.brokerPid) - m.br0,
		clientCPU: cpuSeconds(os.Getpid()) - m.client0}
	if m.proxyPid != 0 {
		r.proxyPeakRSS = peakRSS(m.proxyPid)
	}
	return r
}

// sinkApp is the application next to the sidecars, in kbench: it takes
// deliveries (POST /deliver: 200, body read and dropped) and OTLP trace
// exports (POST /v1/traces: 200, empty protobuf answer).
type sinkApp struct {
	url        string
	srv        *http.Server
	deliveries atomic.Int64
}

func startSinkApp() (*sinkApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &sinkApp{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /deliver", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a.deliveries.Add(1)
	})
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *sinkApp) stop() { _ = a.srv.Close() }
