package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// durations is a histogram of durations, one per label value, kept in
// atomic counters and exported as a constant histogram at each scrape.
// Observing a batch costs a few atomic adds for the whole batch: the
// produce path observes every record's validation time, and
// prometheus.Histogram's four atomic operations per value were a visible
// part of the hot path.
type durations struct {
	desc   *prometheus.Desc
	bounds []float64 // bucket upper bounds, seconds
	series []*durationSeries
	values []string // the label value of each series
}

// durationSeries is one label value's histogram.
type durationSeries struct {
	buckets []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	count   atomic.Uint64
	sumNano atomic.Int64
}

var _ prometheus.Collector = (*durations)(nil)

// newDurations returns a histogram named name with one series per value of
// label.
func newDurations(name, help, label string, bounds []float64, values ...string) *durations {
	d := &durations{desc: prometheus.NewDesc(name, help, []string{label}, nil), bounds: bounds, values: values}
	for range values {
		d.series = append(d.series, &durationSeries{buckets: make([]atomic.Uint64, len(bounds)+1)})
	}
	return d
}

// observe adds ds to series i.
func (d *durations) observe(i int, ds ...time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := d.series[i]
	if len(ds) == 1 {
		s.buckets[d.bucket(ds[0])].Add(1)
		s.sumNano.Add(int64(ds[0]))
		s.count.Add(1)
		return
	}
	var local [32]uint64
	counts := local[:]
	if len(d.bounds)+1 > len(local) {
		counts = make([]uint64, len(d.bounds)+1)
	}
	var sum int64
	for _, v := range ds {
		counts[d.bucket(v)]++
		sum += int64(v)
	}
	for b, n := range counts[:len(d.bounds)+1] {
		if n > 0 {
			s.buckets[b].Add(n)
		}
	}
	s.sumNano.Add(sum)
	s.count.Add(uint64(len(ds)))
}

// bucket returns the index of the first bucket v fits in.
func (d *durations) bucket(v time.Duration) int {
	secs := v.Seconds()
	for i, b := range d.bounds {
		if secs <= b {
			return i
		}
	}
	return len(d.bounds)
}

// Describe sends the family's description.
func (d *durations) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect sends one histogram per label value. A scrape during an observe
// may see a count a little ahead of the buckets; the next scrape is exact.
func (d *durations) Collect(ch chan<- prometheus.Metric) {
	for i, s := range d.series {
		cum := make(map[float64]uint64, len(d.bounds))
		var n uint64
		for b, bound := range d.bounds {
			n += s.buckets[b].Load()
			cum[bound] = n
		}
		n += s.buckets[len(d.bounds)].Load()
		count := max(s.count.Load(), n)
		sum := float64(s.sumNano.Load()) / float64(time.Second)
		ch <- prometheus.MustNewConstHistogram(d.desc, count, sum, cum, d.values[i])
	}
}
