package main

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"time"
)

// report is the soak's result, written as JSON.
type report struct {
	Commit      string    `json:"commit"`
	Started     string    `json:"started"`
	Duration    string    `json:"duration"`
	Sample      string    `json:"sample_interval"`
	Warmup      string    `json:"warmup"`
	Capacity    float64   `json:"capacity_records_per_s"`
	Rate        float64   `json:"rate_records_per_s"`
	Clients     int       `json:"http_clients"`
	GRPCClients int       `json:"grpc_clients"`
	Batch       int       `json:"records_per_request"`
	LoadAvg     [2]string `json:"loadavg_start_end"`
	Samples     []sample  `json:"samples"`
	Verdict     verdict   `json:"verdict"`
	ExitError   string    `json:"exit_error,omitempty"`
}

// verdict compares the first and second half of the samples after the
// warm-up, one check per figure.
type verdict struct {
	Flat   bool    `json:"flat"`
	Checks []check `json:"checks"`
}

// check is one figure's comparison.
type check struct {
	Figure string  `json:"figure"`
	First  float64 `json:"first_half"`
	Second float64 `json:"second_half"`
	Limit  float64 `json:"limit"`
	Rule   string  `json:"rule"`
	OK     bool    `json:"ok"`
}

// The flatness rules, applied to the samples after the warm-up split in
// two halves: resident memory may grow by 10% + 2 MiB (the heap breathes
// with the collector), goroutines and open files by 10 at their peak (a
// few connections come and go), and the median p99 latency may at most
// double + 5 ms (noise on a shared machine); a leak or a slow-down that
// grows with time breaks them.
func judge(samples []sample, warmup time.Duration) verdict {
	var post []sample
	for _, s := range samples {
		if s.Minute > warmup.Minutes() {
			post = append(post, s)
		}
	}
	if len(post) < 2 {
		return verdict{Checks: []check{{Figure: "samples after the warm-up", First: float64(len(post)), Limit: 2, Rule: "at least 2"}}}
	}
	a, b := post[:len(post)/2], post[len(post)/2:]
	col := func(ss []sample, f func(sample) float64) []float64 {
		out := make([]float64, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		return out
	}
	rss := func(s sample) float64 { return s.RSSMiB }
	gor := func(s sample) float64 { return float64(s.Goroutines) }
	fds := func(s sample) float64 { return float64(s.OpenFiles) }
	p99 := func(s sample) float64 { return s.P99ms }
	var v verdict
	add := func(figure, rule string, first, second, limit float64) {
		v.Checks = append(v.Checks, check{Figure: figure, Rule: rule, First: first, Second: second, Limit: limit, OK: second <= limit})
	}
	m := mean(col(a, rss))
	add("rss_mib", "mean of the second half <= 1.1 x first + 2", m, mean(col(b, rss)), 1.1*m+2)
	m = maxOf(col(a, gor))
	add("goroutines", "peak of the second half <= first + 10", m, maxOf(col(b, gor)), m+10)
	m = maxOf(col(a, fds))
	add("open_files", "peak of the second half <= first + 10", m, maxOf(col(b, fds)), m+10)
	m = median(col(a, p99))
	add("p99_ms", "median of the second half <= 2 x first + 5", m, median(col(b, p99)), 2*m+5)
	v.Flat = true
	for _, c := range v.Checks {
		v.Flat = v.Flat && c.OK
	}
	return v
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func printReport(r report) {
	fmt.Printf("soak %s at %.0f records/s (capacity %.0f), commit %s, load average %s -> %s\n", r.Duration, r.Rate, r.Capacity, r.Commit, r.LoadAvg[0], r.LoadAvg[1])
	fmt.Println("| minute | RSS MiB | goroutines | open files | p50 ms | p99 ms | records | failed | lag |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, s := range r.Samples {
		fmt.Printf("| %.0f | %.1f | %d | %d | %.1f | %.1f | %d | %d | %d |\n", s.Minute, s.RSSMiB, s.Goroutines, s.OpenFiles, s.P50ms, s.P99ms, s.Records, s.Failed, s.Lag)
	}
	for _, c := range r.Verdict.Checks {
		fmt.Printf("%s: first half %.1f, second half %.1f, limit %.1f (%s): %v\n", c.Figure, c.First, c.Second, c.Limit, c.Rule, map[bool]string{true: "ok", false: "NOT FLAT"}[c.OK])
	}
	fmt.Printf("flat after the warm-up (%s): %v\n", r.Warmup, r.Verdict.Flat)
}

// plot draws the four figures against the minutes as a 2x2 grid of small
// line charts, each from zero to its own maximum, with the warm-up shaded.
func plot(r report) []byte {
	const (
		w, h   = 360.0, 170.0 // one chart
		ml, mt = 48.0, 28.0   // margins inside a chart
		pw, ph = w - ml - 14, h - mt - 26
	)
	type series struct {
		title string
		unit  string
		get   func(sample) float64
	}
	all := []series{
		{"resident memory", "MiB", func(s sample) float64 { return s.RSSMiB }},
		{"goroutines", "", func(s sample) float64 { return float64(s.Goroutines) }},
		{"open files", "", func(s sample) float64 { return float64(s.OpenFiles) }},
		{"produce latency p99", "ms", func(s sample) float64 { return s.P99ms }},
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", 2*w, 2*h+30, 2*w, 2*h+30)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="8" y="18" font-size="13">eventguard soak %s at %.0f records/s (commit %s; warm-up %s shaded)</text>`+"\n", r.Duration, r.Rate, r.Commit, r.Warmup)
	tmax := 1.0
	for _, s := range r.Samples {
		tmax = math.Max(tmax, s.Minute)
	}
	warm, _ := time.ParseDuration(r.Warmup)
	for i, se := range all {
		x0, y0 := float64(i%2)*w, 30+float64(i/2)*h
		ymax := 0.0
		for _, s := range r.Samples {
			ymax = math.Max(ymax, se.get(s))
		}
		ymax = niceCeil(ymax)
		fmt.Fprintf(&b, `<g transform="translate(%.0f,%.0f)">`+"\n", x0, y0)
		title := se.title
		if se.unit != "" {
			title += " (" + se.unit + ")"
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="16">%s</text>`+"\n", ml, title)
		if wm := math.Min(warm.Minutes(), tmax); wm > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#eee"/>`+"\n", ml, mt, pw*wm/tmax, ph)
		}
		fmt.Fprintf(&b, `<path d="M%.0f %.0fV%.0fH%.0f" fill="none" stroke="#444"/>`+"\n", ml, mt, mt+ph, ml+pw)
		for _, f := range []float64{0, 0.5, 1} {
			y := mt + ph - f*ph
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", ml-4, y+4, trim(f*ymax))
		}
		for _, f := range []float64{0, 0.5, 1} {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", ml+f*pw, mt+ph+14, trim(f*tmax))
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">minutes</text>`+"\n", ml+pw, mt+ph+24)
		if len(r.Samples) > 0 && ymax > 0 {
			b.WriteString(`<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="`)
			for j, s := range r.Samples {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", ml+pw*s.Minute/tmax, mt+ph-ph*se.get(s)/ymax)
			}
			b.WriteString(`"/>` + "\n")
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// trim renders an axis label: whole numbers and anything from 10 up
// without decimals.
func trim(v float64) string {
	if v == math.Trunc(v) || v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
