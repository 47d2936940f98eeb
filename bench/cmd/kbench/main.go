// Command kbench is eventguard's side-by-side benchmark on a real Kafka
// broker (`make bench`, through test/run-bench.sh). In one run it
// measures, in alternating rounds, a direct franz-go producer (the
// baseline) and eventguard's ingress modes writing the same ~1 KB example
// event to the same topic, and prints a Markdown table plus the same
// figures as JSON under bench/results/.
//
// Each eventguard mode talks to a sidecar of its own (all started at the
// beginning, idle while another mode runs), so the CPU and peak RSS of a
// row are that mode's alone. Each mode is a row of the modes table
// (modes.go): a function that returns
// the Loop each client runs, one request at a time or, for the gRPC stream,
// up to K pipelined. Clients run concurrently for the round's duration; a
// request's latency runs from its send to its answer (for eventguard: after
// the broker acknowledged every record).
//
// Usage:
//
//	kbench -brokers 127.0.0.1:19092 [-kafka-dir DIR] [-rounds 3] [-duration 10s]
//	       [-clients 8] [-batch 100] [-stream-in-flight 8] [-out bench/results]
//	       [-modes direct,http-batch,http-single,grpc-unary,grpc-stream]
//	       [-profile DIR]
//
// -profile turns on the sidecar's listen.pprof and saves, for each mode, a
// CPU profile of eventguard over its first measured round and a heap
// profile at its end: DIR/<mode>.cpu.pprof and DIR/<mode>.heap.pprof (read
// them with go tool pprof).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// payloadPath is the example event every mode writes: an OrderPlaced of
// about 1 KB, valid against orders-OrderPlaced version 1.
const payloadPath = "contracts/orders-OrderPlaced/1/valid/large-13-items.json"

// options are the command-line flags.
type options struct {
	brokers    string
	kafkaDir   string
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	clients    int
	batch      int
	inFlight   int
	partitions int
	modes      string
	out        string
	commit     string
	binary     string
	profile    string
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", os.Getenv("KAFKA_BROKERS"), "Kafka brokers (default $KAFKA_BROKERS)")
	flag.StringVar(&o.kafkaDir, "kafka-dir", os.Getenv("KAFKA_DIR"), "test/kafka/kafka.sh data dir holding broker.pid, for the broker's CPU (default $KAFKA_DIR)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each round runs every mode once, in turn")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one mode's turn in a round")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up of each mode before the first round")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients (N)")
	flag.IntVar(&o.batch, "batch", 100, "records per request in the batched modes")
	flag.IntVar(&o.inFlight, "stream-in-flight", config.Default().GRPC.MaxStreamRequestsInFlight,
		"requests each gRPC stream keeps unanswered (K); the sidecar's grpc.max_stream_requests_in_flight is set to the same")
	flag.IntVar(&o.partitions, "partitions", 3, "partitions of the benchmark topic")
	flag.StringVar(&o.modes, "modes", "", "comma-separated mode keys to run, of "+modeKeys()+" (default: all; the baseline always runs)")
	flag.StringVar(&o.out, "out", "bench/results", "directory for the JSON results (empty: do not write)")
	flag.StringVar(&o.commit, "commit", "", "commit the results are for (default: git rev-parse --short HEAD)")
	flag.StringVar(&o.binary, "eventguard", "", "a prebuilt eventguard binary (default: build ./cmd/eventguard)")
	flag.StringVar(&o.profile, "profile", "", "directory for eventguard's CPU and heap profiles of each mode's first round (empty: none)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.brokers == "" {
		return errors.New("no brokers: set -brokers or KAFKA_BROKERS (test/run-bench.sh starts a broker)")
	}
	if o.rounds < 1 || o.clients < 1 || o.batch < 1 || o.inFlight < 1 || o.duration <= 0 {
		return errors.New("-rounds, -clients, -batch, -stream-in-flight and -duration must be positive")
	}
	selected, err := selectModes(o.modes)
	if err != nil {
		return err
	}
	payload, err := examples.Contracts.ReadFile(payloadPath)
	if err != nil {
		return err
	}
	payload = []byte(strings.TrimSpace(string(payload)))

	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "kbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx := context.Background()

	bin := o.binary
	if bin == "" {
		logf("building eventguard")
		if bin, err = harness.Build(ctx, root, work); err != nil {
			return err
		}
	}
	brokers := strings.Split(o.brokers, ",")
	// harness.Start puts every listener (HTTP, admin, gRPC, registry) on a
	// free loopback port through EVENTGUARD_LISTEN_*.
	var env []string
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		env = append(env, "EVENTGUARD_LISTEN_PPROF=true")
	}
	if o.inFlight != config.Default().GRPC.MaxStreamRequestsInFlight {
		env = append(env, fmt.Sprintf("EVENTGUARD_GRPC_MAX_STREAM_REQUESTS_IN_FLIGHT=%d", o.inFlight))
	}
	topic := harness.UniqueName("kbench")
	if err := harness.CreateTopic(ctx, brokers, topic, int32(o.partitions)); err != nil {
		return err
	}
	defer deleteTopic(brokers, topic)
	brokerPid := readPid(o.kafkaDir)
	if brokerPid == 0 {
		logf("no broker pid (set -kafka-dir / KAFKA_DIR to test/kafka/kafka.sh's dir): broker CPU is not measured")
	}

	// Every eventguard mode has a sidecar of its own, so that its CPU and
	// peak RSS are its own: Go keeps freed memory a while, and one mode's
	// peak would show in the next mode's figures. The sidecars of the
	// modes not running sit idle.
	base := &Env{Brokers: brokers, Topic: topic, Payload: payload, Batch: o.batch, Clients: o.clients, InFlight: o.inFlight}
	runners := make([]*runner, len(selected))
	for i, m := range selected {
		e := new(Env)
		*e = *base
		if !m.Baseline {
			dir := filepath.Join(work, m.Key)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			sc, err := harness.Start(ctx, harness.Options{Binary: bin, Brokers: brokers, Dir: dir, Env: env})
			if err != nil {
				return fmt.Errorf("mode %s: %w", m.Key, err)
			}
			defer func() {
				if err := sc.Stop(30 * time.Second); err != nil {
					logf("stopping eventguard (%s): %v", m.Key, err)
				}
			}()
			logf("%s: eventguard pid %d at %s, gRPC %s", m.Key, sc.Pid(), sc.HTTP, sc.GRPC)
			ss, err := harness.CopySubject(ctx, sc.Registry, topic+"-value", "orders-OrderPlaced", 1)
			if err != nil {
				return err
			}
			e.Sidecar, e.SchemaID = sc, ss.ID
			if base.SchemaID == 0 {
				base.SchemaID = ss.ID // the baseline frames with a registered id
			}
		}
		runners[i] = &runner{mode: m, env: e}
	}
	for _, r := range runners {
		if r.env.SchemaID == 0 {
			r.env.SchemaID = max(base.SchemaID, 1)
		}
		loop, closeFn, err := r.mode.New(ctx, r.env)
		if err != nil {
			return fmt.Errorf("mode %s: %w", r.mode.Key, err)
		}
		defer closeFn()
		r.loop, r.perRequest = loop, r.mode.Records(r.env)
	}

	load0 := loadAvg()
	for _, r := range runners {
		logf("warm-up %s (%s)", r.mode.Key, o.warmup)
		r.round(o.warmup, 0)
	}
	for round := 1; round <= o.rounds; round++ {
		for _, r := range runners {
			var saved <-chan error
			if o.profile != "" && round == 1 && r.env.Sidecar != nil {
				saved = profile(r.env.Sidecar.Admin, filepath.Join(o.profile, r.mode.Key), o.duration)
			}
			res := r.round(o.duration, brokerPid)
			if saved != nil {
				if err := <-saved; err != nil {
					logf("profile of %s: %v", r.mode.Key, err)
				}
			}
			r.rounds = append(r.rounds, res)
			logf("round %d %-12s %8.0f records/s  p50 %6.2f ms  p99 %6.2f ms  errors %d",
				round, r.mode.Key, float64(res.records)/res.seconds, ms(percentile(res.latencies, 50)), ms(percentile(res.latencies, 99)), res.errors)
		}
	}

	rep := report(o, base, runners, brokerPid != 0)
	rep.Kafka = kafkaVersion(brokerPid)
	rep.LoadAvg = [2]string{load0, loadAvg()}
	rep.Commit = o.commit
	if rep.Commit == "" {
		rep.Commit = gitCommit(root)
	}
	fmt.Println()
	writeTable(os.Stdout, rep)
	if o.out == "" {
		return nil
	}
	path := filepath.Join(o.out, fmt.Sprintf("%s-%s.json", rep.Date[:10], rep.Commit))
	if !filepath.IsAbs(o.out) {
		path = filepath.Join(root, path)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", path)
	return nil
}

// selectModes returns the modes named in list (all when empty), baseline
// first.
func selectModes(list string) ([]Mode, error) {
	if list == "" {
		return modes, nil
	}
	want := strings.Split(list, ",")
	var out []Mode
	for _, m := range modes {
		if m.Baseline || slices.Contains(want, m.Key) {
			out = append(out, m)
		}
	}
	for _, k := range want {
		if k == "" {
			continue
		}
		if !slices.ContainsFunc(modes, func(m Mode) bool { return m.Key == k }) {
			return nil, fmt.Errorf("unknown mode %q", k)
		}
	}
	return out, nil
}

// modeKeys lists the mode keys for -modes' help.
func modeKeys() string {
	keys := make([]string, len(modes))
	for i, m := range modes {
		keys[i] = m.Key
	}
	return strings.Join(keys, ",")
}

// runner measures one mode.
type runner struct {
	mode       Mode
	env        *Env // Sidecar: this mode's own (nil for the baseline)
	loop       Loop
	perRequest int
	rounds     []roundResult
}

// roundResult is one mode's turn in one round.
type roundResult struct {
	records, requests, errors int
	firstError                string
	seconds                   float64
	latencies                 []time.Duration
	// CPU seconds used during the turn, and eventguard's peak RSS in bytes
	// (VmHWM after resetting it at the start; 0 if unknown).
	egCPU, brokerCPU, clientCPU float64
	egPeakRSS                   int64
}

// round runs the mode's clients for d and measures them. egPid and
// brokerPid may be 0 (not measured: the warm-up).
func (r *runner) round(d time.Duration, brokerPid int) roundResult {
	e, egPid := r.env, 0
	if e.Sidecar != nil {
		egPid = e.Sidecar.Pid()
	}
	if egPid != 0 {
		resetPeakRSS(egPid)
	}
	eg0, br0, cl0 := cpuSeconds(egPid), cpuSeconds(brokerPid), cpuSeconds(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	t0 := time.Now()
	per := make([]roundResult, e.Clients)
	var wg sync.WaitGroup
	for c := range e.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &per[c]
			res.latencies = make([]time.Duration, 0, 4096)
			// Requests still unanswered at the deadline are not cut off:
			// they are answered, and counted, like any other.
			r.loop(ctx, c, func(sent time.Time, err error) {
				res.latencies = append(res.latencies, time.Since(sent))
				res.requests++
				if err != nil {
					res.errors++
					if res.firstError == "" {
						res.firstError = err.Error()
					}
					return
				}
				res.records += r.perRequest
			})
		}()
	}
	wg.Wait()
	out := roundResult{seconds: time.Since(t0).Seconds()}
	for _, p := range per {
		out.records += p.records
		out.requests += p.requests
		out.errors += p.errors
		if out.firstError == "" {
			out.firstError = p.firstError
		}
		out.latencies = append(out.latencies, p.latencies...)
	}
	out.egCPU = cpuSeconds(egPid) - eg0
	out.brokerCPU = cpuSeconds(brokerPid) - br0
	out.clientCPU = cpuSeconds(os.Getpid()) - cl0
	if egPid != 0 {
		out.egPeakRSS = peakRSS(egPid)
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kbench: "+format+"\n", args...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile (nearest rank) of ds, sorting ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// gitCommit is the short HEAD commit of the tree at root, "-dirty" added
// when tracked files differ from it, or "unknown".
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

// loadAvg returns the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// machine describes the machine for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH)
}

// profile starts a CPU profile of the sidecar for d (saved as
// prefix.cpu.pprof), then saves its heap profile (prefix.heap.pprof); the
// channel reports when both are written.
func profile(admin, prefix string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		secs := max(1, int(d.Round(time.Second)/time.Second))
		err := fetch(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, secs), prefix+".cpu.pprof", d+30*time.Second)
		if err == nil {
			err = fetch(admin+"/debug/pprof/heap", prefix+".heap.pprof", 30*time.Second)
		}
		done <- err
	}()
	return done
}

// fetch saves the body of GET url to path.
func fetch(url, path string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
