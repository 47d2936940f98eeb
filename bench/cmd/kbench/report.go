package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/eventguard/eventguard/bench/corpus"
)

// Report is the JSON written to bench/results/<date>-<commit>.json; the
// tables print the same figures.
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
	// Unavailable are the selected modes that could not run here, and why.
	Unavailable []Unavailable `json:"unavailable,omitempty"`
	Targets     []Target      `json:"targets"`
}

// Settings are the run's parameters.
type Settings struct {
	Rounds     int     `json:"rounds"`
	DurationS  float64 `json:"duration_s"`
	WarmupS    float64 `json:"warmup_s"`
	Clients    int     `json:"clients"`
	Batch      int     `json:"batch"`
	Partitions int     `json:"partitions"`
	Corpus     Corpus  `json:"corpus"`
	Producer   string  `json:"producer"`
	// StreamInFlight is K: the requests each gRPC stream keeps unanswered,
	// and the sidecar's grpc.max_stream_requests_in_flight.
	StreamInFlight int `json:"stream_in_flight"`
	// Kroxylicious describes mode k's setup.
	Kroxylicious string `json:"kroxylicious"`
	// ConsumeRecords is the backlog of each consume topic.
	ConsumeRecords int `json:"consume_records"`
}

// Corpus describes the events every mode writes.
type Corpus struct {
	Events    int     `json:"events"`
	Seed      uint64  `json:"seed"`
	MinBytes  int     `json:"min_bytes"`
	MaxBytes  int     `json:"max_bytes"`
	MeanBytes float64 `json:"mean_bytes"`
	Source    string  `json:"source"`
}

// ModeResult is one row: the sums over all rounds of one mode.
type ModeResult struct {
	Key       string `json:"key"`
	Name      string `json:"name"`
	Group     string `json:"group"`
	Baseline  bool   `json:"baseline,omitempty"`
	Reference bool   `json:"reference,omitempty"`
	// Proxy names the process between the clients and the broker:
	// eventguard, kroxylicious, or "" (none).
	Proxy             string `json:"proxy"`
	Clients           int    `json:"clients"`
	RecordsPerRequest int    `json:"records_per_request"`
	Records           int    `json:"records"`
	Requests          int    `json:"requests"`
	Errors            int    `json:"errors"`
	FirstError        string `json:"first_error,omitempty"`
	// Seconds is the measured time, all rounds together.
	Seconds      float64 `json:"seconds"`
	RecordsPerS  float64 `json:"records_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	// MBPerS is records × the corpus's mean event size (the JSON, 10^6
	// bytes a MB) per second.
	MBPerS float64 `json:"mb_per_s"`
	// P50Ms and P99Ms are request latencies over all rounds (0 for the
	// consume rows, which have no requests).
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// CPU microseconds per record of each process (user + system, from
	// /proc/<pid>/stat): the proxy (null without one), the broker (null
	// when its pid was unknown) and kbench, which runs the clients (and
	// the app the consume rows deliver to).
	ProxyCPUUs  *float64 `json:"proxy_cpu_us_per_record"`
	BrokerCPUUs *float64 `json:"broker_cpu_us_per_record"`
	ClientCPUUs float64  `json:"client_cpu_us_per_record"`
	// ProxyPeakRSSMiB is the proxy's highest VmHWM in any round of this
	// mode (reset at the start of each); null without a proxy.
	ProxyPeakRSSMiB *float64 `json:"proxy_peak_rss_mib"`
	// VsDirect and VsDirectValidate are records/s over (a)'s and (a2)'s;
	// Base and VsBase the same over the row's own base in its group.
	VsDirect         float64  `json:"vs_direct"`
	VsDirectValidate float64  `json:"vs_direct_validate"`
	Base             string   `json:"base,omitempty"`
	VsBase           *float64 `json:"vs_base,omitempty"`
	// RoundsRecordsPerS is records/s of each round, in order.
	RoundsRecordsPerS []float64 `json:"rounds_records_per_s"`
}

// Unavailable is a selected mode that did not run, and why.
type Unavailable struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Target is one of the figures the issues ask for.
type Target struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	// Met is null for a figure to report that has no target.
	Met *bool `json:"met"`
}

// met is a Target's Met for a figure with a target.
func met(ok bool) *bool { return &ok }

func ptr(f float64) *float64 { return &f }

func report(o *options, e *Env, runners []*runner, brokerKnown bool) *Report {
	var sum int
	for _, v := range e.Corpus {
		sum += len(v)
	}
	mean := float64(sum) / float64(len(e.Corpus))
	rep := &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Go:      runtime.Version(),
		Machine: machine(),
		Settings: Settings{
			Rounds: o.rounds, DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
			Clients: o.clients, Batch: o.batch, StreamInFlight: o.inFlight, Partitions: o.partitions,
			Corpus: Corpus{Events: len(e.Corpus), Seed: o.seed, MinBytes: corpus.MinBytes, MaxBytes: corpus.MaxBytes, MeanBytes: round1(mean),
				Source: "bench/corpus: generated OrderPlaced events valid against examples/contracts/orders-OrderPlaced v1"},
			Producer: "franz-go, acks=all, idempotent, snappy, linger 0 (eventguard's kafka.Options, every producing client)",
			Kroxylicious: fmt.Sprintf("kroxylicious-runtime and kroxylicious-record-validation 0.12.0 (Maven Central) started by bench/kroxylicious's launcher, JVM heap %s (-Xms = -Xmx), %s; RecordValidation valueRule schemaValidationConfig with the contract bundled into one schema (envelope inlined), served by kbench's stub of Apicurio Registry's v2 API (content by global id, no references); clients send the JSON unframed",
				o.kroxyHeap, javaVersion()),
			ConsumeRecords: o.consumeRecords,
		},
	}
	byKey := map[string]*ModeResult{}
	for _, r := range runners {
		m := ModeResult{Key: r.mode.Key, Name: r.mode.Name, Group: r.mode.Group, Baseline: r.mode.Baseline, Reference: r.mode.Reference,
			Clients: r.env.Clients, RecordsPerRequest: r.perRequest, Base: r.mode.Base}
		switch {
		case r.mode.Start != nil:
			m.Proxy = "kroxylicious"
		case r.mode.Sidecar != nil || r.mode.Measure != nil && r.mode.Key != "consume-validate":
			m.Proxy = "eventguard"
		}
		if r.mode.Measure != nil {
			m.Clients = 0
		}
		var lat []time.Duration
		var px, br, cl float64
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
			px, br, cl = px+x.proxyCPU, br+x.brokerCPU, cl+x.clientCPU
			peak = max(peak, x.proxyPeakRSS)
			m.RoundsRecordsPerS = append(m.RoundsRecordsPerS, round1(float64(x.records)/max(x.seconds, 1e-9)))
		}
		m.RecordsPerS = round1(float64(m.Records) / max(m.Seconds, 1e-9))
		m.RequestsPerS = round1(float64(m.Requests) / max(m.Seconds, 1e-9))
		m.MBPerS = round2(float64(m.Records) * mean / max(m.Seconds, 1e-9) / 1e6)
		m.P50Ms = round2(ms(percentile(lat, 50)))
		m.P99Ms = round2(ms(percentile(lat, 99)))
		perRecord := func(s float64) float64 {
			if m.Records == 0 {
				return 0
			}
			return round2(s / float64(m.Records) * 1e6)
		}
		if m.Proxy != "" {
			m.ProxyCPUUs = ptr(perRecord(px))
			m.ProxyPeakRSSMiB = ptr(round1(float64(peak) / (1 << 20)))
		}
		if brokerKnown {
			m.BrokerCPUUs = ptr(perRecord(br))
		}
		m.ClientCPUUs = perRecord(cl)
		rep.Modes = append(rep.Modes, m)
	}
	for i := range rep.Modes {
		byKey[rep.Modes[i].Key] = &rep.Modes[i]
	}
	ratio := func(m *ModeResult, key string) float64 {
		b := byKey[key]
		if b == nil || b.RecordsPerS == 0 {
			return 0
		}
		return round2(m.RecordsPerS / b.RecordsPerS)
	}
	for i := range rep.Modes {
		m := &rep.Modes[i]
		if m.Group != "consume" {
			m.VsDirect, m.VsDirectValidate = ratio(m, "direct"), ratio(m, "direct-validate")
		}
		if m.Base != "" && byKey[m.Base] != nil {
			m.VsBase = ptr(ratio(m, m.Base))
		}
	}
	rep.Targets = targets(byKey, rep.Modes, mean)
	return rep
}

// targets are issue 14's figures (and the earlier issues' that still
// apply), for the modes that ran.
func targets(by map[string]*ModeResult, rows []ModeResult, mean float64) []Target {
	var out []Target
	kb := mean / 1024
	a2 := by["direct-validate"]
	perKB := func(key string, want float64) {
		m := by[key]
		if m == nil || m.ProxyCPUUs == nil || m.Records == 0 {
			return
		}
		got := round2(*m.ProxyCPUUs / kb)
		out = append(out, Target{Name: fmt.Sprintf("%s eventguard CPU-µs per KB of event (%.2f µs per %.0f-byte record)", key, *m.ProxyCPUUs, mean),
			Want: fmt.Sprintf("<= %g per 1 KB record", want), Got: got, Met: met(got <= want)})
		if a2 != nil && a2.Records > 0 {
			both := round2(*m.ProxyCPUUs + m.ClientCPUUs)
			out = append(out, Target{Name: fmt.Sprintf("%s eventguard + client CPU-µs per record, vs (a2)'s client %.2f", key, a2.ClientCPUUs),
				Want: "< (a2) client", Got: both, Met: met(both < a2.ClientCPUUs)})
		}
	}
	perKB("http-batch", 5)
	perKB("grpc-stream", 4.5)
	if m := by["http-batch"]; m != nil {
		out = append(out, Target{Name: "(b)/(a) records/s", Want: ">= 0.6 (goal 0.85)", Got: m.VsDirect, Met: met(m.VsDirect >= 0.6)})
	}
	if m := by["grpc-stream"]; m != nil {
		out = append(out, Target{Name: "(e)/(a) records/s", Want: ">= 0.9 (goal)", Got: m.VsDirect, Met: met(m.VsDirect >= 0.9)})
	}
	if m := by["http-single-c8"]; m != nil {
		out = append(out, Target{Name: "HTTP 1/request, 8 clients, requests/s", Want: ">= 10000", Got: m.RequestsPerS, Met: met(m.RequestsPerS >= 10000)})
	}
	if m := by["consume-deliver"]; m != nil && m.VsBase != nil {
		out = append(out, Target{Name: "consume → validate → deliver / plain validating consumer, records/s", Want: ">= 0.8", Got: *m.VsBase, Met: met(*m.VsBase >= 0.8)})
	}
	if m := by["consume-dlq"]; m != nil && m.VsBase != nil {
		out = append(out, Target{Name: "100% invalid to the DLQ / valid path, records/s", Want: ">= 0.8", Got: *m.VsBase, Met: met(*m.VsBase >= 0.8)})
	}
	// Issue 16: a format's encode + validate within 1.5× of JSON Schema's
	// per-record CPU ((b), the same corpus over the same path).
	for _, key := range []string{"format-avro", "format-protobuf"} {
		m, b := by[key], by["http-batch"]
		if m == nil || b == nil || m.ProxyCPUUs == nil || b.ProxyCPUUs == nil || *b.ProxyCPUUs == 0 {
			continue
		}
		got := round2(*m.ProxyCPUUs / *b.ProxyCPUUs)
		out = append(out, Target{Name: fmt.Sprintf("%s eventguard CPU-µs per record / (b)'s (%.2f vs %.2f µs; %.2f µs per KB of JSON)", key, *m.ProxyCPUUs, *b.ProxyCPUUs, *m.ProxyCPUUs/kb),
			Want: "<= 1.5", Got: got, Met: met(got <= 1.5)})
	}
	var rss float64
	var any bool
	for _, m := range rows {
		if m.Proxy == "eventguard" && m.ProxyPeakRSSMiB != nil {
			rss, any = max(rss, *m.ProxyPeakRSSMiB), true
		}
	}
	if any {
		out = append(out, Target{Name: "eventguard peak RSS under load in every mode, MiB", Want: "<= 64", Got: rss, Met: met(rss <= 64)})
	}
	return out
}

// groupTitles head the tables.
var groupTitles = map[string]string{
	"peers":   "Produce, batches: the peers",
	"single":  "Produce, one event per request (vs base: franz-go direct with as many clients)",
	"consume": "Consume (vs base: the plain validating consumer; the DLQ row vs the valid path)",
	"cost":    "Cost of optional features on the HTTP batch path (vs base: the same row with the feature off)",
	"formats": "Avro and Protobuf subjects: the same JSON in, validated and encoded (vs base: (b), JSON Schema)",
}

// writeTables prints the report as Markdown, one table per group.
func writeTables(w io.Writer, rep *Report) {
	s := rep.Settings
	fmt.Fprintf(w, "eventguard and its peers on Kafka %s, %s, %s, commit %s, %s\n", rep.Kafka, rep.Machine, rep.Go, rep.Commit, rep.Date)
	fmt.Fprintf(w, "%d rounds × %gs per mode, alternating; %d clients unless the row says; batch %d; gRPC stream %d requests in flight; %d distinct OrderPlaced events of %d–%d bytes (mean %.0f); %d partitions; %s; load average %s at start, %s at end\n",
		s.Rounds, s.DurationS, s.Clients, s.Batch, s.StreamInFlight, s.Corpus.Events, s.Corpus.MinBytes, s.Corpus.MaxBytes, s.Corpus.MeanBytes, s.Partitions, s.Producer, rep.LoadAvg[0], rep.LoadAvg[1])
	fmt.Fprintf(w, "Kroxylicious: %s\n", s.Kroxylicious)
	for _, g := range groups {
		var rows []ModeResult
		for _, m := range rep.Modes {
			if m.Group == g {
				rows = append(rows, m)
			}
		}
		var missing []Unavailable
		for _, u := range rep.Unavailable {
			if modeGroup(u.Key) == g {
				missing = append(missing, u)
			}
		}
		if len(rows) == 0 && len(missing) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### %s\n\n", groupTitles[g])
		fmt.Fprintln(w, "| mode | clients | records/s | MB/s | p50 ms | p99 ms | proxy CPU-µs/rec | broker CPU-µs/rec | client CPU-µs/rec | proxy peak RSS MiB | vs (a) | vs (a2) | vs base | errors |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, m := range rows {
			clients, lat50, lat99 := fmt.Sprint(m.Clients), fmt.Sprintf("%.2f", m.P50Ms), fmt.Sprintf("%.2f", m.P99Ms)
			if m.Group == "consume" {
				clients, lat50, lat99 = "–", "–", "–"
			}
			vsA, vsA2 := fmt.Sprintf("%.2f", m.VsDirect), fmt.Sprintf("%.2f", m.VsDirectValidate)
			if m.Group == "consume" {
				vsA, vsA2 = "–", "–"
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.1f | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %d |\n",
				m.Name, clients, m.RecordsPerS, m.MBPerS, lat50, lat99, opt(m.ProxyCPUUs, "%.2f"), opt(m.BrokerCPUUs, "%.2f"), m.ClientCPUUs,
				opt(m.ProxyPeakRSSMiB, "%.1f"), vsA, vsA2, opt(m.VsBase, "%.2f"), m.Errors)
		}
		for _, u := range missing {
			fmt.Fprintf(w, "| %s | %s |\n", u.Name, u.Reason)
		}
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

// modeGroup returns the group of the mode with key, or "".
func modeGroup(key string) string {
	for _, m := range modes {
		if m.Key == key {
			return m.Group
		}
	}
	return ""
}

// opt formats a figure that may be absent as "–".
func opt(f *float64, format string) string {
	if f == nil {
		return "–"
	}
	return fmt.Sprintf(format, *f)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
