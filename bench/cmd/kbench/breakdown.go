package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// stage is one line of a profile breakdown: where a record's CPU goes.
type stage struct {
	name string
	re   *regexp.Regexp
}

// stages are matched against each sample's frames from the leaf up; the
// first frame that matches any stage names the sample's stage, so the
// runtime's allocation and copying are charged to the code that asked for
// them, and a system call to the syscall line. Samples of the runtime
// alone are GC (the background collector) or runtime (the scheduler).
var stages = []stage{
	{"compression (snappy, …)", regexp.MustCompile(`klauspost/compress|golang/snappy|pierrec/lz4|^compress/`)},
	{"franz-go batching and wire", regexp.MustCompile(`github\.com/twmb/franz-go/`)},
	{"rules (CEL)", regexp.MustCompile(`eventguard/eventguard/rules|google/cel-go|cel\.dev/`)},
	{"decode (strict JSON)", regexp.MustCompile(`eventguard/eventguard/internal/jsonvalue`)},
	{"validate (schema)", regexp.MustCompile(`eventguard/eventguard/validate|santhosh-tekuri/jsonschema|eventguard/eventguard/check\.`)},
	{"dedupe", regexp.MustCompile(`eventguard/eventguard/dedupe`)},
	{"framing, stamping, produce pipeline", regexp.MustCompile(`eventguard/eventguard/produce|eventguard/eventguard/kafka\.|github\.com/google/uuid`)},
	{"consume loop and delivery", regexp.MustCompile(`eventguard/eventguard/consume|eventguard/eventguard/dlq`)},
	{"telemetry (metrics, catalog, tracing)", regexp.MustCompile(`eventguard/eventguard/telemetry|eventguard/eventguard/catalog|prometheus|opentelemetry`)},
	{"gRPC and protobuf", regexp.MustCompile(`google\.golang\.org/grpc|google\.golang\.org/protobuf|golang\.org/x/net/http2`)},
	{"HTTP ingress (net/http, envelope)", regexp.MustCompile(`^net/http|eventguard/eventguard/proxy`)},
	{"system calls (network I/O)", regexp.MustCompile(`^syscall\.|^internal/poll\.|^net\.|^internal/runtime/syscall`)},
}

const (
	stageGC      = "GC (background)"
	stageRuntime = "runtime (scheduler, other)"
)

// gcRe marks the collector's own goroutines.
var gcRe = regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|gcAssistAlloc|markroot)`)

// breakdown sums a profile's samples by stage. traces is the output of
// `go tool pprof -traces`.
func breakdown(traces io.Reader) (map[string]time.Duration, time.Duration, error) {
	out := map[string]time.Duration{}
	var total time.Duration
	var value time.Duration
	var frames []string
	flush := func() {
		if len(frames) == 0 {
			return
		}
		out[classify(frames)] += value
		total += value
		frames = frames[:0]
	}
	sc := bufio.NewScanner(traces)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			in = true
			continue
		}
		if !in || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(line) > 0 && line[0] != ' ' || len(f) == 0 {
			continue
		}
		if len(frames) == 0 && len(f) >= 2 {
			d, err := time.ParseDuration(f[0])
			if err != nil {
				continue // a label line
			}
			value = d
			frames = append(frames, f[1])
			continue
		}
		frames = append(frames, f[0])
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("no samples")
	}
	return out, total, nil
}

// classify names the stage of one sample, frames leaf first.
func classify(frames []string) string {
	for _, fn := range frames {
		for _, s := range stages {
			if s.re.MatchString(fn) {
				return s.name
			}
		}
	}
	if slices.ContainsFunc(frames, gcRe.MatchString) {
		return stageGC
	}
	return stageRuntime
}

// writeBreakdownTable prints the stages as Markdown with µs per record.
func writeBreakdownTable(w io.Writer, by map[string]time.Duration, total time.Duration, records int) {
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(by[b] - by[a]) })
	fmt.Fprintf(w, "| stage | CPU s | share | CPU-µs per record |\n|---|--:|--:|--:|\n")
	for _, n := range names {
		perRec := "–"
		if records > 0 {
			perRec = fmt.Sprintf("%.2f", by[n].Seconds()/float64(records)*1e6)
		}
		fmt.Fprintf(w, "| %s | %.2f | %.1f%% | %s |\n", n, by[n].Seconds(), 100*float64(by[n])/float64(total), perRec)
	}
	perRec := "–"
	if records > 0 {
		perRec = fmt.Sprintf("%.2f", total.Seconds()/float64(records)*1e6)
	}
	fmt.Fprintf(w, "| total sampled | %.2f | 100%% | %s |\n", total.Seconds(), perRec)
}

// pprofTraces runs `go tool pprof -traces` on a profile.
func pprofTraces(path string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "tool", "pprof", "-traces", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -traces %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// writeBreakdown writes prefix.breakdown.txt for prefix.cpu.pprof, a
// profile over a round of records records.
func writeBreakdown(prefix string, records int) error {
	traces, err := pprofTraces(prefix + ".cpu.pprof")
	if err != nil {
		return err
	}
	by, total, err := breakdown(bytes.NewReader(traces))
	if err != nil {
		return err
	}
	f, err := os.Create(prefix + ".breakdown.txt")
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s.cpu.pprof: %d records in the profiled round\n\n", prefix, records)
	writeBreakdownTable(f, by, total, records)
	return f.Close()
}

// breakdownMain is `kbench breakdown [-records N] PROFILE`.
func breakdownMain(args []string) int {
	fs := flag.NewFlagSet("kbench breakdown", flag.ContinueOnError)
	records := fs.Int("records", 0, "records processed while the profile was taken (for µs per record)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: kbench breakdown [-records N] CPU-PROFILE")
		return 2
	}
	traces, err := pprofTraces(fs.Arg(0))
	if err == nil {
		var by map[string]time.Duration
		var total time.Duration
		if by, total, err = breakdown(bytes.NewReader(traces)); err == nil {
			writeBreakdownTable(os.Stdout, by, total, *records)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "kbench breakdown:", err)
	return 1
}
