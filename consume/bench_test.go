package consume

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

// benchRecords is how many records each benchmark iteration consumes.
const benchRecords = 20000

// benchSchema is close to the pet.weight.updated.v1 example.
const benchSchema = `{"type":"object","properties":{
	"event_type":{"const":"pet.weight.updated.v1"},
	"pet_id":{"type":"string","minLength":1},
	"device_id":{"type":"string","minLength":1},
	"weight_grams":{"type":"integer","minimum":0},
	"measured_at":{"type":"string","format":"date-time"},
	"source":{"enum":["sensor","app","backfill"]},
	"location_hint":{"type":["string","null"]}},
	"required":["event_type","pet_id","device_id","weight_grams","measured_at","source"]}`

func benchValue(i int, valid bool) []byte {
	w := fmt.Sprint(1000 + i%5000)
	if !valid {
		w = `"` + w + `"` // a string where an integer belongs: schema_violation
	}
	return validate.Frame(1, []byte(`{"event_type":"pet.weight.updated.v1","pet_id":"pet-`+fmt.Sprint(i%977)+
		`","device_id":"bowl-7f3a","weight_grams":`+w+`,"measured_at":"2026-11-02T08:15:00Z","source":"sensor","location_hint":"kitchen bowl"}`))
}

// benchEnv is a kfake cluster holding "valid" and "invalid", 3 partitions
// each, with benchRecords records apiece.
type benchEnv struct {
	brokers []string
	reg     *srfake.Registry
}

func newBenchEnv(b *testing.B) *benchEnv {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "valid", "invalid", "invalid.dlq"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	reg := srfake.New()
	b.Cleanup(reg.Close)
	reg.SeedSchema("valid-value", 1, 1, sr.Schema{Type: sr.TypeJSON, Schema: benchSchema})
	if id, _, err := reg.RegisterSchema("invalid-value", sr.Schema{Type: sr.TypeJSON, Schema: benchSchema}); err != nil || id != 1 {
		b.Fatalf("register invalid-value: id %d, %v", id, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"valid", "invalid"} {
		var wg sync.WaitGroup
		var perr atomic.Value
		for i := 0; i < benchRecords; i++ {
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("pet-", i%977)), Value: benchValue(i, topic == "valid")}, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.Store(err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		if err, ok := perr.Load().(error); ok {
			b.Fatal(err)
		}
	}
	return &benchEnv{brokers: c.ListenAddrs(), reg: reg}
}

func (e *benchEnv) resolver(b *testing.B) *validate.Resolver {
	rc, err := validate.NewRegistryClient(config.Registry{URL: e.reg.URL(), Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return validate.NewResolver(rc, validate.Options{})
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs one consumption of benchRecords per iteration and reports
// records/s and CPU-seconds per million records.
func measure(b *testing.B, run func(group string)) {
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		run(fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i))
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	n := float64(b.N * benchRecords)
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds()/n*1e6, "cpu-s/Mrec")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkConsume compares, on one kfake cluster in one run, eventguard's
// loop with a plain franz-go group consumer doing the same work with a
// goroutine per partition and no guarantees (no ordered commits, no
// retries, no DLQ acknowledgement tracking):
//
//   - plain: fetching alone;
//   - plain+validate: unframing and validating every record (the
//     validation ceiling);
//   - plain+validate+post: and POSTing each one to a local HTTP app in
//     partition order (the delivery ceiling);
//   - deliver: eventguard's loop doing that;
//   - plain+validate-invalid: validating 100% invalid records, violations
//     included (the ceiling for the dead-letter path);
//   - plain+validate-invalid+produce: and producing each to a DLQ topic;
//   - dlq: eventguard's loop on 100% invalid records, writing each one with
//     its context headers to the dead-letter topic (acks=all) and committing
//     only what is acknowledged.
func BenchmarkConsume(b *testing.B) {
	e := newBenchEnv(b)
	// The production log format: the dlq benchmark pays for its one
	// warn line per dead-lettered record.
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))

	// plain consumes topic with a franz-go group consumer and hands each
	// partition's records to work, one goroutine per partition and poll.
	plain := func(b *testing.B, topic string, work func(r *validate.Resolver, cl *kgo.Client, rec *kgo.Record) error) {
		r := e.resolver(b)
		measure(b, func(group string) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(fetchMaxWait))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			var got atomic.Int64
			for got.Load() < benchRecords {
				fs := cl.PollFetches(context.Background())
				var wg sync.WaitGroup
				fs.EachPartition(func(p kgo.FetchTopicPartition) {
					if work == nil {
						got.Add(int64(len(p.Records)))
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, rec := range p.Records {
							if err := work(r, cl, rec); err != nil {
								b.Error(err)
								return
							}
							got.Add(1)
						}
					}()
				})
				wg.Wait()
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
	checkOne := func(r *validate.Resolver, rec *kgo.Record, subject string) (*validate.Schema, []byte, *validate.Failure, error) {
		id, payload, err := validate.Unframe(rec.Value)
		if err != nil {
			return nil, nil, nil, err
		}
		s, err := r.ByID(context.Background(), id, subject)
		if err != nil {
			return nil, nil, nil, err
		}
		return s, payload, s.Validate(payload), nil
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	post := NewHTTPDeliverer(app.URL, nil)

	b.Run("plain", func(b *testing.B) { plain(b, "valid", nil) })
	b.Run("plain+validate", func(b *testing.B) {
		plain(b, "valid", func(r *validate.Resolver, _ *kgo.Client, rec *kgo.Record) error {
			_, _, f, err := checkOne(r, rec, "valid-value")
			if f != nil {
				return f
			}
			return err
		})
	})
	b.Run("plain+validate+post", func(b *testing.B) {
		plain(b, "valid", func(r *validate.Resolver, _ *kgo.Client, rec *kgo.Record) error {
			s, payload, f, err := checkOne(r, rec, "valid-value")
			if f != nil {
				return f
			}
			if err != nil {
				return err
			}
			return post.Deliver(context.Background(), &Delivery{Topic: rec.Topic, Offset: rec.Offset, Key: rec.Key, Value: payload, Subject: s.Subject, Version: s.Version, SchemaID: s.ID, Attempt: 1})
		})
	})
	b.Run("plain+validate-invalid", func(b *testing.B) {
		plain(b, "invalid", func(r *validate.Resolver, _ *kgo.Client, rec *kgo.Record) error {
			_, _, f, err := checkOne(r, rec, "invalid-value")
			if f == nil && err == nil {
				return fmt.Errorf("offset %d passed", rec.Offset)
			}
			return err
		})
	})
	b.Run("plain+validate-invalid+produce", func(b *testing.B) {
		plain(b, "invalid", func(r *validate.Resolver, cl *kgo.Client, rec *kgo.Record) error {
			_, _, f, err := checkOne(r, rec, "invalid-value")
			if err != nil {
				return err
			}
			cl.Produce(context.Background(), &kgo.Record{Topic: "invalid.dlq", Key: rec.Key, Value: rec.Value, Headers: []kgo.RecordHeader{{Key: "reason", Value: []byte(f.Message)}}}, nil)
			return nil
		})
	})

	loop := func(b *testing.B, topic string, done func(obs *countingObserver, app *atomic.Int64) bool) {
		var got atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			got.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		r := e.resolver(b)
		measure(b, func(group string) {
			got.Store(0)
			c := &config.Config{Subscriptions: []config.Subscription{{Name: group, Topics: []string{topic}, Deliver: config.Deliver{URL: srv.URL}}}}
			c.ApplyDefaults()
			obs := &countingObserver{}
			l, err := Start(Options{
				Subscription: c.Subscriptions[0],
				Kafka:        config.Kafka{Brokers: e.brokers, ClientID: "bench", Compression: "none", MaxBufferedRecords: 10000},
				Checker:      check.New(check.Options{Resolver: r, Logger: quiet}), Observer: obs, Logger: quiet,
			})
			if err != nil {
				b.Fatal(err)
			}
			for !done(obs, &got) {
				time.Sleep(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := l.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("deliver", func(b *testing.B) {
		loop(b, "valid", func(_ *countingObserver, app *atomic.Int64) bool { return app.Load() >= benchRecords })
	})
	b.Run("dlq", func(b *testing.B) {
		loop(b, "invalid", func(obs *countingObserver, _ *atomic.Int64) bool {
			_, _, dl := obs.snapshot()
			return dl["schema_violation"] >= benchRecords
		})
	})
}
