package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// The broker (kfake) runs in this process: its CPU and allocations are in
// every figure below that produces to it. BenchmarkDirectProduceBatch is
// the franz-go baseline on the same broker; the ratio is what eventguard
// costs. Figures per record: ns/record and allocs/record.

// benchHandler is the HTTP ingress for topic pets (3 partitions) with
// producer p (nil: a kgo client on the stack's kfake).
func benchHandler(b *testing.B, st *testutil.Stack, p produce.Producer) http.Handler {
	b.Helper()
	cfg := st.Config(b, func(c *config.Config) { c.Topics = []config.Topic{{Name: "pets"}} })
	st.CreateTopic(b, "pets", 3)
	pl := st.Pipeline(b, cfg, produce.Options{Producer: p})
	return proxy.NewHTTP(pl, cfg.Limits.MaxBodyBytes, cfg.Registry.URL, testutil.Discard()).Handler()
}

func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"pet-%d","value":%s}`, i, hPetV2)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// runHTTP posts body (holding perReq records) once per iteration and
// reports the per-record figures.
func runHTTP(b *testing.B, h http.Handler, body []byte, perReq int) {
	b.Helper()
	runHTTPPath(b, h, "/v1/topics/pets/records", body, perReq)
}

// runHTTPPath is runHTTP posting to path.
func runHTTPPath(b *testing.B, h http.Handler, path string, body []byte, perReq int) {
	b.Helper()
	post := func() int {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", hTraceHdr)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if code := post(); code != http.StatusOK { // warm: schema resolved, client connected
		b.Fatalf("warm-up: status %d", code)
	}
	panics := validate.Panics.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		if code := post(); code != http.StatusOK {
			b.Fatalf("status %d", code)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	records := float64(b.N * perReq)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/records, "allocs/record")
	if validate.Panics.Load() != panics {
		b.Fatal("the validator panicked")
	}
}

// BenchmarkHTTPProduceBatch: 100 records of pets-value v2 per request,
// through the handler, validated, stamped and acknowledged by kfake.
func BenchmarkHTTPProduceBatch(b *testing.B) {
	st := testutil.Start(b)
	runHTTP(b, benchHandler(b, st, nil), benchBody(100), 100)
}

// BenchmarkHTTPProduceSingle: one record per request.
func BenchmarkHTTPProduceSingle(b *testing.B) {
	st := testutil.Start(b)
	runHTTP(b, benchHandler(b, st, nil), benchBody(1), 1)
}

// instantAck acknowledges every record at once without a broker, to show
// eventguard's own share of the batch path.
type instantAck struct{}

func (instantAck) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, nil)
}

// BenchmarkHTTPProduceBatchNoBroker is BenchmarkHTTPProduceBatch with the
// broker taken out: decode, policy, validation, stamping, answer.
func BenchmarkHTTPProduceBatchNoBroker(b *testing.B) {
	st := testutil.Start(b)
	runHTTP(b, benchHandler(b, st, instantAck{}), benchBody(100), 100)
}

// BenchmarkDirectProduceBatch is the baseline: the same 100 framed records
// produced with franz-go (ProduceSync, same client options) to the same
// kind of broker, without eventguard.
func BenchmarkDirectProduceBatch(b *testing.B) {
	st := testutil.Start(b)
	cfg := st.Config(b, nil)
	st.CreateTopic(b, "pets", 3)
	cl := st.KafkaClient(b, cfg)
	id := st.ID(b, "pets-value", 2)
	recs := make([]*kgo.Record, 100)
	fresh := func() {
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "pets", Key: []byte(fmt.Sprintf("pet-%d", i)), Value: validate.Frame(id, []byte(hPetV2))}
		}
	}
	fresh()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fresh()
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	records := float64(b.N * len(recs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/records, "allocs/record")
}
