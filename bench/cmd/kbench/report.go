package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Report is the JSON written to bench/results/<date>-<commit>.json; the
// table prints the same figures.
type Report struct {
	Date    string `json:"date"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Machine string `json:"machine"`
	Kafka   string `json:"kafka"`
	// LoadAvg is /proc/loadavg at the start and at the end of the run: the
	// machine is shared, and other load skews every figure.
	LoadAvg  [2]string    `json:"loadavg"`
	Settings Settings     `json:"settings"`
	Modes    []ModeResult `json:"modes"`
	// Ratios are each mode's records/s over the baseline's, by mode key.
	Ratios  map[string]float64 `json:"ratios"`
	Targets []Target           `json:"targets"`
}

// Settings are the run's parameters.
type Settings struct {
	Rounds       int     `json:"rounds"`
	DurationS    float64 `json:"duration_s"`
	WarmupS      float64 `json:"warmup_s"`
	Clients      int     `json:"clients"`
	Batch        int     `json:"batch"`
	Partitions   int     `json:"partitions"`
	PayloadBytes int     `json:"payload_bytes"`
	Payload      string  `json:"payload"`
	Producer     string  `json:"producer"`
	// StreamInFlight is K: the requests each gRPC stream keeps unanswered,
	// and the sidecar's grpc.max_stream_requests_in_flight.
	StreamInFlight int `json:"stream_in_flight"`
}

// ModeResult is one row: the sums over all rounds of one mode.
type ModeResult struct {
	Key               string `json:"key"`
	Name              string `json:"name"`
	Baseline          bool   `json:"baseline,omitempty"`
	RecordsPerRequest int    `json:"records_per_request"`
	Records           int    `json:"records"`
	Requests          int    `json:"requests"`
	Errors            int    `json:"errors"`
	FirstError        string `json:"first_error,omitempty"`
	// Seconds is the measured time, all rounds together.
	Seconds      float64 `json:"seconds"`
	RecordsPerS  float64 `json:"records_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	// MBPerS is records × payload bytes (the JSON, 10^6 bytes a MB) per second.
	MBPerS float64 `json:"mb_per_s"`
	// P50Ms and P99Ms are request latencies over all rounds.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// CPU seconds per million records; BrokerCPUSPerM is null when the
	// broker's pid was unknown.
	EventguardCPUSPerM float64  `json:"eventguard_cpu_s_per_m"`
	BrokerCPUSPerM     *float64 `json:"broker_cpu_s_per_m"`
	ClientCPUSPerM     float64  `json:"client_cpu_s_per_m"`
	// EventguardPeakRSSMiB is the highest VmHWM of eventguard in any round
	// of this mode (reset at the start of each).
	EventguardPeakRSSMiB float64 `json:"eventguard_peak_rss_mib"`
	// RoundsRecordsPerS is records/s of each round, in order.
	RoundsRecordsPerS []float64 `json:"rounds_records_per_s"`
}

// Target is one of the figures issues 3 (HTTP) and 5 (gRPC) ask for.
type Target struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	// Met is null for a figure to report that has no target.
	Met *bool `json:"met"`
}

// met is a Target's Met for a figure with a target.
func met(ok bool) *bool { return &ok }

func report(o options, e *Env, runners []*runner, brokerKnown bool) *Report {
	rep := &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Go:      runtime.Version(),
		Machine: machine(),
		Settings: Settings{
			Rounds: o.rounds, DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
			Clients: o.clients, Batch: o.batch, StreamInFlight: o.inFlight, Partitions: o.partitions,
			PayloadBytes: len(e.Payload), Payload: "examples/" + payloadPath,
			Producer: "franz-go, acks=all, idempotent, snappy, linger 0 (eventguard's kafka.Options, both sides)",
		},
		Ratios: map[string]float64{},
	}
	for _, r := range runners {
		m := ModeResult{Key: r.mode.Key, Name: r.mode.Name, Baseline: r.mode.Baseline, RecordsPerRequest: r.perRequest}
		var lat []time.Duration
		var eg, br, cl float64
		var peak int64
		for _, x := range r.rounds {
			m.Records += x.records
			m.Requests += x.requests
			m.Errors += x.errors
			if m.FirstError == "" {
				m.FirstError = x.firstError
			}
			m.Seconds += x.seconds
			lat = append(lat, x.latencies...)
			eg, br, cl = eg+x.egCPU, br+x.brokerCPU, cl+x.clientCPU
			peak = max(peak, x.egPeakRSS)
			m.RoundsRecordsPerS = append(m.RoundsRecordsPerS, round1(float64(x.records)/x.seconds))
		}
		m.RecordsPerS = round1(float64(m.Records) / m.Seconds)
		m.RequestsPerS = round1(float64(m.Requests) / m.Seconds)
		m.MBPerS = round2(float64(m.Records) * float64(len(e.Payload)) / m.Seconds / 1e6)
		m.P50Ms = round2(ms(percentile(lat, 50)))
		m.P99Ms = round2(ms(percentile(lat, 99)))
		perM := func(s float64) float64 {
			if m.Records == 0 {
				return 0
			}
			return round2(s / float64(m.Records) * 1e6)
		}
		m.EventguardCPUSPerM = perM(eg)
		if brokerKnown {
			v := perM(br)
			m.BrokerCPUSPerM = &v
		}
		m.ClientCPUSPerM = perM(cl)
		m.EventguardPeakRSSMiB = round1(float64(peak) / (1 << 20))
		rep.Modes = append(rep.Modes, m)
	}
	base := rep.Modes[0]
	for _, m := range rep.Modes[1:] {
		if base.RecordsPerS > 0 {
			rep.Ratios[m.Key] = round2(m.RecordsPerS / base.RecordsPerS)
		}
	}
	var rss float64
	for _, m := range rep.Modes {
		if !m.Baseline {
			rss = max(rss, m.EventguardPeakRSSMiB)
		}
		r := rep.Ratios[m.Key]
		switch m.Key {
		case "http-batch":
			rep.Targets = append(rep.Targets, Target{Name: "(b)/(a) records/s", Want: ">= 0.6 (goal 0.85)", Got: r, Met: met(r >= 0.6)})
		case "http-single":
			rep.Targets = append(rep.Targets, Target{Name: "(c) requests/s", Want: ">= 10000", Got: m.RequestsPerS, Met: met(m.RequestsPerS >= 10000)})
		case "grpc-unary":
			rep.Targets = append(rep.Targets, Target{Name: "(d)/(a) records/s", Want: "reported (no target)", Got: r})
		case "grpc-stream":
			rep.Targets = append(rep.Targets, Target{Name: "(e)/(a) records/s", Want: ">= 0.9 (goal)", Got: r, Met: met(r >= 0.9)})
		}
	}
	if len(rep.Modes) > 1 {
		rep.Targets = append(rep.Targets, Target{Name: "eventguard peak RSS under load, MiB", Want: "<= 64", Got: rss, Met: met(rss <= 64)})
	}
	return rep
}

// writeTable prints the report as Markdown.
func writeTable(w io.Writer, rep *Report) {
	s := rep.Settings
	fmt.Fprintf(w, "eventguard vs direct franz-go on Kafka %s, %s, %s, commit %s, %s\n", rep.Kafka, rep.Machine, rep.Go, rep.Commit, rep.Date)
	fmt.Fprintf(w, "%d rounds × %gs per mode, alternating; %d clients; batch %d; gRPC stream %d requests in flight; %d-byte event (%s); %d partitions; %s; load average %s at start, %s at end\n\n",
		s.Rounds, s.DurationS, s.Clients, s.Batch, s.StreamInFlight, s.PayloadBytes, s.Payload, s.Partitions, s.Producer, rep.LoadAvg[0], rep.LoadAvg[1])
	fmt.Fprintln(w, "| mode | records/s | requests/s | MB/s | p50 ms | p99 ms | eventguard CPU-s/M rec | broker CPU-s/M rec | client CPU-s/M rec | eventguard peak RSS MiB | errors | vs (a) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, m := range rep.Modes {
		broker := "n/a"
		if m.BrokerCPUSPerM != nil {
			broker = fmt.Sprintf("%.1f", *m.BrokerCPUSPerM)
		}
		ratio, egCPU, egRSS := "1.00", "–", "–" // the baseline has no eventguard
		if !m.Baseline {
			ratio = fmt.Sprintf("%.2f", rep.Ratios[m.Key])
			egCPU, egRSS = fmt.Sprintf("%.1f", m.EventguardCPUSPerM), fmt.Sprintf("%.1f", m.EventguardPeakRSSMiB)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.1f | %.2f | %.2f | %s | %s | %.1f | %s | %d | %s |\n",
			m.Name, m.RecordsPerS, m.RequestsPerS, m.MBPerS, m.P50Ms, m.P99Ms, egCPU, broker, m.ClientCPUSPerM, egRSS, m.Errors, ratio)
	}
	fmt.Fprintln(w)
	var per []string
	for _, m := range rep.Modes {
		per = append(per, fmt.Sprintf("%s %v", m.Key, m.RoundsRecordsPerS))
	}
	fmt.Fprintf(w, "records/s by round: %s\n", strings.Join(per, "; "))
	for _, t := range rep.Targets {
		verdict := "reported"
		if t.Met != nil {
			verdict = "not met"
			if *t.Met {
				verdict = "met"
			}
		}
		fmt.Fprintf(w, "target %s %s: %g (%s)\n", t.Name, t.Want, t.Got, verdict)
	}
	for _, m := range rep.Modes {
		if m.Errors > 0 {
			fmt.Fprintf(w, "errors in %s: %d, first: %s\n", m.Key, m.Errors, m.FirstError)
		}
	}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
