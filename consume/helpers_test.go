package consume

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

// petsV1 requires pet_id and a non-negative integer weight_grams.
const petsV1 = `{"type":"object","properties":{"pet_id":{"type":"string"},"weight_grams":{"type":"integer","minimum":0}},"required":["pet_id","weight_grams"]}`

// petsV2 requires pet_id and a number weight.
const petsV2 = `{"type":"object","properties":{"pet_id":{"type":"string"},"weight":{"type":"number"}},"required":["pet_id","weight"]}`

// env is one test's Kafka cluster, registry and app.
type env struct {
	t        *testing.T
	cluster  *kfake.Cluster
	brokers  []string
	reg      *srfake.Registry
	resolver *validate.Resolver
	sink     *sink
	prod     *kgo.Client
}

// newEnv starts a kfake cluster with the topics (name → partitions), a
// registry holding pets-value version 1 as schema id 1, and an app sink.
func newEnv(t *testing.T, topics map[string]int32) *env {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	reg.SeedSchema("pets-value", 1, 1, sr.Schema{Type: sr.TypeJSON, Schema: petsV1})
	e := &env{t: t, cluster: c, brokers: c.ListenAddrs(), reg: reg}
	e.resolver = e.newResolver()
	e.sink = newSink(t)
	e.prod, err = kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.prod.Close)
	return e
}

func (e *env) newResolver() *validate.Resolver {
	e.t.Helper()
	rc, err := validate.NewRegistryClient(config.Registry{URL: e.reg.URL(), Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return validate.NewResolver(rc, validate.Options{})
}

// sub returns a subscription to topics delivering to the sink, with fast
// retries.
func (e *env) sub(name string, topics ...string) config.Subscription {
	c := &config.Config{Subscriptions: []config.Subscription{{
		Name:    name,
		Topics:  topics,
		Deliver: config.Deliver{URL: e.sink.srv.URL, Timeout: 2 * time.Second},
		Retry:   config.Retry{Attempts: 5, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	}}}
	c.ApplyDefaults()
	return c.Subscriptions[0]
}

// start starts a loop for s, closed at the end of the test.
func (e *env) start(s config.Subscription, tweak ...func(*Options)) *Loop {
	e.t.Helper()
	o := Options{
		Subscription:   s,
		Kafka:          config.Kafka{Brokers: e.brokers, ClientID: "eventguard-test", Compression: "none", MaxBufferedRecords: 10000},
		Instance:       "test-instance",
		Checker:        check.New(check.Options{Resolver: e.resolver, Logger: testLogger(e.t)}),
		Logger:         testLogger(e.t),
		CommitInterval: 50 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&o)
	}
	l, err := Start(o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

// produce writes records synchronously.
func (e *env) produce(rs ...*kgo.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// committed returns the group's committed offsets of topic (-1 when none).
func (e *env) committed(group, topic string, partitions int32) map[int32]int64 {
	e.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < partitions; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, e.prod)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		out[p] = -1
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}

// readTopic reads every record of topic from the start until it has n, or
// fails after the timeout.
func (e *env) readTopic(topic string, n int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("read %s: %d records after %s, want %d", topic, len(out), timeout, n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// endOffset returns the end offset of one partition.
func (e *env) endOffset(topic string, partition int32) int64 {
	e.t.Helper()
	info := e.cluster.PartitionInfo(topic, partition)
	if info == nil {
		return 0
	}
	return info.HighWatermark
}

// framed returns value in wire format with schema id.
func framed(id int, value string) []byte { return validate.Frame(id, []byte(value)) }

// rec builds a record for topic/partition.
func rec(topic string, part int32, key string, value []byte, hs ...kgo.RecordHeader) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: part, Value: value, Headers: hs}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// delivery is one request the app received.
type delivery struct {
	Partition int32
	Offset    int64
	Attempt   int
	Key       string
	Body      string
	Header    http.Header
}

// sink is the app: an HTTP server recording what it accepted.
type sink struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	answer   func(d delivery) int // status to answer; nil means 200
	got      []delivery           // accepted (2xx) deliveries, in arrival order
	requests int                  // every request
	notify   chan struct{}
}

func newSink(t *testing.T) *sink {
	s := &sink{t: t, notify: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	part, _ := strconv.Atoi(r.Header.Get(HeaderPartition))
	off, _ := strconv.ParseInt(r.Header.Get(HeaderOffset), 10, 64)
	att, _ := strconv.Atoi(r.Header.Get(HeaderAttempt))
	d := delivery{Partition: int32(part), Offset: off, Attempt: att, Key: r.Header.Get(HeaderKey), Body: string(body), Header: r.Header.Clone()}
	s.mu.Lock()
	s.requests++
	answer := s.answer
	s.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(d) // may block: outside the lock
	}
	if status/100 == 2 {
		s.mu.Lock()
		s.got = append(s.got, d)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(status)
}

func (s *sink) setAnswer(f func(d delivery) int) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

func (s *sink) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

// waitFor waits until cond holds over the accepted deliveries.
func (s *sink) waitFor(timeout time.Duration, what string, cond func([]delivery) bool) []delivery {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		ds := s.deliveries()
		if cond(ds) {
			return ds
		}
		select {
		case <-s.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s; the app has %d deliveries", what, len(ds))
		}
	}
}

// waitN waits for at least n accepted deliveries.
func (s *sink) waitN(n int, timeout time.Duration) []delivery {
	s.t.Helper()
	return s.waitFor(timeout, strconv.Itoa(n)+" deliveries", func(ds []delivery) bool { return len(ds) >= n })
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// countingObserver counts outcomes.
type countingObserver struct {
	mu           sync.Mutex
	delivered    int
	retried      int
	validated    int
	deadLettered map[string]int
	// rules counts rule evaluations as "rule/outcome".
	rules map[string]int
}

func (o *countingObserver) RuleEvaluated(_ Labels, rule, _, outcome string) {
	o.mu.Lock()
	if o.rules == nil {
		o.rules = map[string]int{}
	}
	o.rules[rule+"/"+outcome]++
	o.mu.Unlock()
}

func (o *countingObserver) Delivered(Labels, int, time.Duration) {
	o.mu.Lock()
	o.delivered++
	o.mu.Unlock()
}

func (o *countingObserver) Validated(time.Duration) {
	o.mu.Lock()
	o.validated++
	o.mu.Unlock()
}

func (o *countingObserver) Retried(Labels, int) {
	o.mu.Lock()
	o.retried++
	o.mu.Unlock()
}

func (o *countingObserver) DeadLettered(_ Labels, reason string) {
	o.mu.Lock()
	if o.deadLettered == nil {
		o.deadLettered = map[string]int{}
	}
	o.deadLettered[reason]++
	o.mu.Unlock()
}

func (o *countingObserver) snapshot() (delivered, retried int, dl map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	dl = map[string]int{}
	for k, v := range o.deadLettered {
		dl[k] = v
	}
	return o.delivered, o.retried, dl
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// configRetry is a retry policy of 5 attempts with the given backoffs.
func configRetry(initial, max time.Duration) config.Retry {
	return config.Retry{Attempts: 5, InitialBackoff: initial, MaxBackoff: max}
}
