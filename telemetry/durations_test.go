package telemetry

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestDurationsMatchPrometheus: observing values one by one or in batches,
// from several goroutines, exports what a prometheus.Histogram with the same
// buckets exports for the same values: count, sum, every cumulative bucket.
func TestDurationsMatchPrometheus(t *testing.T) {
	bounds := []float64{1e-6, 2.5e-6, 5e-6, 10e-6, 1e-3, 1}
	d := newDurations("t_seconds", "test", "direction", bounds, "produce", "consume")
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t_seconds", Buckets: bounds})

	rng := rand.New(rand.NewPCG(1, 2))
	var values []time.Duration
	for range 5000 {
		// From 0 to ~3 s, many on or near the bounds.
		v := time.Duration(rng.Int64N(3e9))
		switch rng.IntN(4) {
		case 0:
			v = time.Duration(bounds[rng.IntN(len(bounds))] * 1e9)
		case 1:
			v = time.Duration(rng.Int64N(20_000))
		}
		values = append(values, v)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := values[w*1250 : (w+1)*1250]
			for i := 0; i < len(part); {
				n := min(1+i%7, len(part)-i) // batches of 1 to 7
				d.observe(0, part[i:i+n]...)
				i += n
			}
		}()
	}
	wg.Wait()
	for _, v := range values {
		ref.Observe(v.Seconds())
	}

	got := collectHistograms(t, d)
	var want dto.Metric
	if err := ref.Write(&want); err != nil {
		t.Fatal(err)
	}
	g, w := got["produce"].GetHistogram(), want.GetHistogram()
	if g.GetSampleCount() != w.GetSampleCount() || math.Abs(g.GetSampleSum()-w.GetSampleSum()) > 1e-6 {
		t.Errorf("count %d sum %g, prometheus %d %g", g.GetSampleCount(), g.GetSampleSum(), w.GetSampleCount(), w.GetSampleSum())
	}
	if len(g.GetBucket()) != len(w.GetBucket()) {
		t.Fatalf("%d buckets, prometheus %d", len(g.GetBucket()), len(w.GetBucket()))
	}
	for i := range w.GetBucket() {
		if gb, wb := g.GetBucket()[i], w.GetBucket()[i]; gb.GetUpperBound() != wb.GetUpperBound() || gb.GetCumulativeCount() != wb.GetCumulativeCount() {
			t.Errorf("bucket %d: le %g count %d, prometheus le %g count %d", i, gb.GetUpperBound(), gb.GetCumulativeCount(), wb.GetUpperBound(), wb.GetCumulativeCount())
		}
	}
	if c := got["consume"].GetHistogram().GetSampleCount(); c != 0 {
		t.Errorf("the other series counted %d", c)
	}
}

// collectHistograms returns d's exported histograms by label value.
func collectHistograms(t *testing.T, d *durations) map[string]*dto.Metric {
	t.Helper()
	ch := make(chan prometheus.Metric, 8)
	d.Collect(ch)
	close(ch)
	out := map[string]*dto.Metric{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		out[pb.GetLabel()[0].GetValue()] = &pb
	}
	return out
}
