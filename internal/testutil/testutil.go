// Package testutil gives package tests a real in-memory Kafka (franz-go's
// kfake) and schema registry (franz-go's srfake) with the example contracts
// registered, and builds the produce pipeline on them. Nothing here is a mock:
// tests talk to a real kgo client and a real registry client.
//
// Typical use:
//
//	st := testutil.Start(t)                 // kfake + srfake, examples registered
//	cfg := st.Config(t, func(c *config.Config) { c.AllowAnyTopic = true })
//	p := st.Pipeline(t, cfg, produce.Options{})
//	st.CreateTopic(t, "pets", 1)
//	... produce ...
//	recs := st.Records(t, "pets")           // everything in the topic, read back
//
// Everything started is stopped by t.Cleanup. Tests that make the registry
// fail (SetRegistryDown) or the broker misbehave (Cluster.ControlKey) should
// use a Stack of their own.
package testutil

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/devstack"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/validate"
)

// Stack is a running kfake cluster and srfake registry (a devstack.Stack,
// the same one `eventguard dev` runs) with the example contracts registered.
type Stack struct {
	*devstack.Stack

	calls atomic.Int64
	down  atomic.Bool

	mu  sync.Mutex
	ids map[string]int // "subject/version" → schema id
}

// Start starts a Stack on random ports, registers examples/contracts, and
// stops everything when the test ends. Topics are auto-created with 3
// partitions.
func Start(tb testing.TB) *Stack {
	tb.Helper()
	ds, err := devstack.Start(devstack.Options{Logger: Discard()})
	if err != nil {
		tb.Fatalf("start kfake and srfake: %v", err)
	}
	tb.Cleanup(ds.Close)
	s := &Stack{Stack: ds, ids: map[string]int{}}
	// Interceptors run in order: count every request, then fail it while down.
	ds.Registry.Intercept(func(http.ResponseWriter, *http.Request) bool {
		s.calls.Add(1)
		return false
	})
	ds.Registry.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if !s.down.Load() {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error_code":50301,"message":"registry down (testutil)"}`)
		return true
	})

	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		tb.Fatalf("load example contracts: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	regs, err := set.Register(ctx, s.RegistryClient(tb))
	if err != nil {
		tb.Fatalf("register example contracts: %v", err)
	}
	for _, r := range regs {
		s.ids[fmt.Sprintf("%s/%d", r.Subject, r.Version)] = r.ID
	}
	return s
}

// ID returns the schema id registered for subject version, failing the
// test when there is none.
func (s *Stack) ID(tb testing.TB, subject string, version int) int {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[fmt.Sprintf("%s/%d", subject, version)]
	if !ok {
		tb.Fatalf("no schema registered as %s version %d", subject, version)
	}
	return id
}

// Register registers a JSON schema under subject (srfake's RegisterSchema)
// and returns its id and version.
func (s *Stack) Register(tb testing.TB, subject, schema string, refs ...sr.SchemaReference) (id, version int) {
	tb.Helper()
	id, version, err := s.Registry.RegisterSchema(subject, sr.Schema{Schema: schema, Type: sr.TypeJSON, References: refs})
	if err != nil {
		tb.Fatalf("register %s: %v", subject, err)
	}
	s.mu.Lock()
	s.ids[fmt.Sprintf("%s/%d", subject, version)] = id
	s.mu.Unlock()
	return id, version
}

// RegistryCalls is the number of HTTP requests the registry has received,
// failed ones included. Compare two readings to count a test's calls.
func (s *Stack) RegistryCalls() int64 { return s.calls.Load() }

// SetRegistryDown makes the registry answer every request with 503 (down)
// or serve normally again (up).
func (s *Stack) SetRegistryDown(down bool) { s.down.Store(down) }

// RegistryClient returns a registry client for the stack, built the way the
// sidecar builds it.
func (s *Stack) RegistryClient(tb testing.TB) *sr.Client {
	tb.Helper()
	cl, err := validate.NewRegistryClient(config.Registry{URL: s.RegistryURL, Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

// Resolver returns a resolver over the stack's registry.
func (s *Stack) Resolver(tb testing.TB, o validate.Options) *validate.Resolver {
	tb.Helper()
	return validate.NewResolver(s.RegistryClient(tb), o)
}

// Config returns a validated configuration with every default, pointed at
// the stack, after mutate (which may be nil) changed it.
func (s *Stack) Config(tb testing.TB, mutate func(*config.Config)) *config.Config {
	tb.Helper()
	c := &config.Config{}
	c.Kafka.Brokers = s.Brokers
	c.Registry.URL = s.RegistryURL
	c.Log.Format = "text"
	if mutate != nil {
		mutate(c)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		tb.Fatalf("test config is invalid:\n%v", err)
	}
	return c
}

// KafkaClient returns a client for the stack built by kafka.NewClient from
// cfg.Kafka (acks=all, idempotent), closed when the test ends.
func (s *Stack) KafkaClient(tb testing.TB, cfg *config.Config, extra ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil, extra...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// Checker returns a contract check over the stack's registry, resolving
// with opts and looking up deps (nil: none).
func (s *Stack) Checker(tb testing.TB, opts validate.Options, deps *check.Deprecations) *check.Checker {
	tb.Helper()
	return check.New(check.Options{Resolver: s.Resolver(tb, opts), Deprecations: deps, Logger: Discard()})
}

// Pipeline returns a produce pipeline for cfg. A nil o.Checker becomes a
// Checker with cfg's registry settings and no deprecations; a nil o.Producer becomes KafkaClient(cfg); a nil
// o.Logger discards.
func (s *Stack) Pipeline(tb testing.TB, cfg *config.Config, o produce.Options) *produce.Pipeline {
	tb.Helper()
	if o.Checker == nil {
		o.Checker = s.Checker(tb, validate.Options{LatestTTL: cfg.Registry.LatestTTL, Timeout: cfg.Registry.Timeout}, nil)
	}
	if o.Producer == nil {
		o.Producer = s.KafkaClient(tb, cfg)
	}
	if o.Logger == nil {
		o.Logger = Discard()
	}
	return produce.New(cfg, o)
}

// CreateTopic creates topic with the given number of partitions.
func (s *Stack) CreateTopic(tb testing.TB, topic string, partitions int32) {
	tb.Helper()
	if err := s.Cluster.CreateTopic(topic, partitions, nil); err != nil {
		tb.Fatalf("create topic %s: %v", topic, err)
	}
}

// Count returns the number of records in topic (0 when it does not exist).
func (s *Stack) Count(topic string) int64 {
	var n int64
	for _, p := range s.Cluster.PartitionInfos(topic) {
		n += p.HighWatermark - p.LogStartOffset
	}
	return n
}

// Records reads every record currently in topic with a fresh consumer and
// returns them in partition, then offset, order. It fails the test when
// they do not arrive within 10 seconds.
func (s *Stack) Records(tb testing.TB, topic string) []*kgo.Record {
	tb.Helper()
	want := s.Count(topic)
	if want == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	byPart := map[int32][]*kgo.Record{}
	var got int64
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("read %s: %d of %d records after 10s", topic, got, want)
		}
		fs.EachError(func(t string, p int32, err error) { tb.Fatalf("fetch %s[%d]: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			byPart[r.Partition] = append(byPart[r.Partition], r)
			got++
		})
	}
	var out []*kgo.Record
	for p := int32(0); len(out) < int(got); p++ {
		out = append(out, byPart[p]...)
	}
	return out
}

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Clock is a settable clock for the Now options of validate and produce.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
