// Command kbench is eventguard's side-by-side benchmark on a real Kafka
// broker (`make bench`, through test/run-bench.sh). In one run, in
// alternating rounds on the same broker, it measures the peers of issue
// 14 — (a) a direct franz-go producer, (a2) the same validating each
// event with jsonschema v6 in the client, (k) Kroxylicious's
// RecordValidation filter in JSON Schema mode — against eventguard's
// ingress modes, all writing the same corpus of varied OrderPlaced events;
// then one event per request with 1, 8 and 64 clients over TCP and Unix
// sockets, the consume side, and the cost of optional features. It prints
// Markdown tables and writes the same figures as JSON under
// bench/results/.
//
// Each eventguard mode talks to a sidecar of its own (all started at the
// beginning, idle while another mode runs; a consume row starts one per
// turn), so the CPU and peak RSS of a row are that mode's alone. For each
// row kbench reads /proc/<pid>/stat of the proxy (eventguard or
// Kroxylicious), the broker and itself (the clients), and the proxy's
// VmHWM. Each mode is a row of the modes table (modes.go).
//
// Usage:
//
//	kbench -brokers 127.0.0.1:19092 [-kafka-dir DIR] [-rounds 3] [-duration 10s]
//	       [-clients 8] [-batch 100] [-stream-in-flight 4] [-out bench/results]
//	       [-modes peers,single,consume,cost | KEY,...] [-profile DIR]
//	       [-kroxylicious=true] [-kroxylicious-heap 512m] [-kroxylicious-port 0]
//	       [-registry-stub 127.0.0.1:0] [-corpus 4096] [-consume-records 200000]
//	kbench breakdown -records N PROFILE   # where the CPU of a profile went, per record
//
// -profile turns on the sidecar's listen.pprof and saves, for each
// eventguard mode, a CPU profile over its first measured round, a heap
// profile at its end, and the profile's per-record breakdown by stage:
// DIR/<mode>.cpu.pprof, DIR/<mode>.heap.pprof, DIR/<mode>.breakdown.txt.
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

	"github.com/eventguard/eventguard/bench/corpus"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// options are the command-line flags.
type options struct {
	brokers        string
	kafkaDir       string
	rounds         int
	duration       time.Duration
	warmup         time.Duration
	clients        int
	batch          int
	inFlight       int
	partitions     int
	modes          string
	out            string
	commit         string
	binary         string
	profile        string
	corpus         int
	seed           uint64
	consumeRecords int
	kroxylicious   bool
	kroxyHeap      string
	kroxyPort      int
	registryStub   string

	// bin is the eventguard binary; sidecarEnv the settings every
	// sidecar gets.
	bin        string
	sidecarEnv []string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "breakdown" {
		os.Exit(breakdownMain(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.brokers, "brokers", os.Getenv("KAFKA_BROKERS"), "Kafka brokers (default $KAFKA_BROKERS)")
	flag.StringVar(&o.kafkaDir, "kafka-dir", os.Getenv("KAFKA_DIR"), "test/kafka/kafka.sh data dir holding broker.pid, for the broker's CPU (default $KAFKA_DIR)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each round runs every mode once, in turn")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one mode's turn in a round")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up of each mode before the first round")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients (N) of the modes that do not set their own")
	flag.IntVar(&o.batch, "batch", 100, "records per request in the batched modes")
	flag.IntVar(&o.inFlight, "stream-in-flight", config.Default().GRPC.MaxStreamRequestsInFlight,
		"requests each gRPC stream keeps unanswered (K); the sidecar's grpc.max_stream_requests_in_flight is set to the same")
	flag.IntVar(&o.partitions, "partitions", 3, "partitions of the benchmark topics")
	flag.StringVar(&o.modes, "modes", "", "comma-separated groups ("+strings.Join(groups, ",")+") or mode keys, of "+modeKeys()+" (default: all; (a) and (a2) always run)")
	flag.StringVar(&o.out, "out", "bench/results", "directory for the JSON results (empty: do not write)")
	flag.StringVar(&o.commit, "commit", "", "commit the results are for (default: git rev-parse --short HEAD)")
	flag.StringVar(&o.binary, "eventguard", "", "a prebuilt eventguard binary (default: build ./cmd/eventguard)")
	flag.StringVar(&o.profile, "profile", "", "directory for eventguard's CPU and heap profiles of each mode's first round, with their breakdown (empty: none)")
	flag.IntVar(&o.corpus, "corpus", 4096, "distinct events in the corpus every mode writes")
	flag.Uint64Var(&o.seed, "seed", 14, "seed of the corpus")
	flag.IntVar(&o.consumeRecords, "consume-records", 200000, "records in each consume backlog (a consume turn ends early when it has read them all)")
	flag.BoolVar(&o.kroxylicious, "kroxylicious", true, "run mode k (needs java 17+ and mvn; without them k is left out with the reason)")
	flag.StringVar(&o.kroxyHeap, "kroxylicious-heap", "512m", "Kroxylicious's JVM heap (-Xms and -Xmx)")
	flag.IntVar(&o.kroxyPort, "kroxylicious-port", 0, "Kroxylicious's bootstrap port P (its broker port is P+1); 0: free ports")
	flag.StringVar(&o.registryStub, "registry-stub", "127.0.0.1:0", "address of the Apicurio v2 stub serving Kroxylicious the contract")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
		os.Exit(1)
	}
}

// groups are the tables, in order; -modes takes their names.
var groups = []string{"peers", "single", "consume", "cost", "formats"}

func run(o options) error {
	if o.brokers == "" {
		return errors.New("no brokers: set -brokers or KAFKA_BROKERS (test/run-bench.sh starts a broker)")
	}
	if o.rounds < 1 || o.clients < 1 || o.batch < 1 || o.inFlight < 1 || o.duration <= 0 || o.corpus < o.batch || o.consumeRecords < 1 {
		return errors.New("-rounds, -clients, -batch, -stream-in-flight, -duration and -consume-records must be positive, -corpus at least -batch")
	}
	selected, err := selectModes(o.modes)
	if err != nil {
		return err
	}
	var unavailable []Unavailable
	var runnable []Mode
	for _, m := range selected {
		reason := ""
		if m.Needs != "" && !hasSetting(m.Needs) {
			reason = fmt.Sprintf("not available: this build has no setting %s", m.Needs)
		} else if m.Unavailable != nil {
			if r := m.Unavailable(&o); r != "" {
				reason = "not available: " + r
			}
		}
		if reason != "" {
			logf("%s: %s", m.Key, reason)
			unavailable = append(unavailable, Unavailable{Key: m.Key, Name: m.Name, Reason: reason})
			continue
		}
		runnable = append(runnable, m)
	}

	events := corpus.OrderPlaced(o.corpus, o.seed)
	schema, err := corpus.Schema()
	if err != nil {
		return err
	}
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

	o.bin = o.binary
	if o.bin == "" {
		logf("building eventguard")
		if o.bin, err = harness.Build(ctx, root, work); err != nil {
			return err
		}
	}
	brokers := strings.Split(o.brokers, ",")
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		o.sidecarEnv = append(o.sidecarEnv, "EVENTGUARD_LISTEN_PPROF=true")
	}
	if o.inFlight != config.Default().GRPC.MaxStreamRequestsInFlight {
		o.sidecarEnv = append(o.sidecarEnv, fmt.Sprintf("EVENTGUARD_GRPC_MAX_STREAM_REQUESTS_IN_FLIGHT=%d", o.inFlight))
	}
	topic := harness.UniqueName("kbench")
	if err := harness.CreateTopic(ctx, brokers, topic, int32(o.partitions)); err != nil {
		return err
	}
	defer deleteTopics(brokers, topic)
	brokerPid := readPid(o.kafkaDir)
	if brokerPid == 0 {
		logf("no broker pid (set -kafka-dir / KAFKA_DIR to test/kafka/kafka.sh's dir): broker CPU is not measured")
	}
	app, err := startSinkApp()
	if err != nil {
		return err
	}
	defer app.stop()

	base := &Env{Brokers: brokers, Topic: topic, Corpus: events, Schema: schema, Batch: o.batch, InFlight: o.inFlight, opts: &o, app: app}
	// The schema id every framed value carries: orders-OrderPlaced v1's
	// in an embedded registry, the same in every sidecar's (registered in
	// the same order; a copy of a schema keeps its id), checked below.
	if base.SchemaID, err = schemaID(ctx, &o, brokers, topic, filepath.Join(work, "id")); err != nil {
		return err
	}
	base.Framed = make([][]byte, len(events))
	for i, v := range events {
		base.Framed[i] = validate.Frame(base.SchemaID, v)
	}

	var runners []*runner
	for _, m := range runnable {
		e := new(Env)
		*e = *base
		e.Clients = o.clients
		if m.Clients > 0 {
			e.Clients = m.Clients
		}
		if m.Sidecar != nil {
			if err := startSidecar(ctx, e, m, filepath.Join(work, m.Key)); err != nil {
				return fmt.Errorf("mode %s: %w", m.Key, err)
			}
			defer func() {
				if err := e.Sidecar.Stop(30 * time.Second); err != nil {
					logf("stopping eventguard (%s): %v", m.Key, err)
				}
			}()
		}
		if m.Sidecar != nil && m.Sidecar.Format != nil {
			topic, err := formatTopic(ctx, e, m.Sidecar.Format)
			if topic != "" {
				defer deleteTopics(brokers, topic)
			}
			if err != nil {
				return fmt.Errorf("mode %s: %w", m.Key, err)
			}
		}
		if m.Start != nil {
			stop, err := m.Start(ctx, e)
			if err != nil {
				reason := "not available: " + firstLine(err.Error())
				logf("%s: %v", m.Key, err)
				unavailable = append(unavailable, Unavailable{Key: m.Key, Name: m.Name, Reason: reason})
				continue
			}
			defer stop()
		}
		r := &runner{mode: m, env: e, perRequest: m.Records(e)}
		if m.New != nil {
			loop, closeFn, err := m.New(ctx, e)
			if err != nil {
				return fmt.Errorf("mode %s: %w", m.Key, err)
			}
			defer closeFn()
			r.loop = loop
		}
		runners = append(runners, r)
	}
	if slices.ContainsFunc(runners, func(r *runner) bool { return r.mode.Measure != nil }) {
		if err := fillConsumeTopics(ctx, base, o.consumeRecords, o.partitions); err != nil {
			return err
		}
	}

	load0 := loadAvg()
	for _, r := range runners {
		if r.mode.Measure != nil {
			continue // a consume turn starts cold, like a new consumer
		}
		logf("warm-up %s (%s)", r.mode.Key, o.warmup)
		r.round(o.warmup, 0)
	}
	for round := 1; round <= o.rounds; round++ {
		for _, r := range runners {
			var saved <-chan error
			prefix := filepath.Join(o.profile, r.mode.Key)
			if o.profile != "" && round == 1 && r.env.Sidecar != nil && r.mode.Measure == nil {
				saved = profile(r.env.Sidecar.Admin, prefix, o.duration)
			}
			var res roundResult
			if r.mode.Measure != nil {
				res = r.mode.Measure(ctx, r.env, o.duration, brokerPid)
			} else {
				res = r.round(o.duration, brokerPid)
			}
			if saved != nil {
				if err := <-saved; err != nil {
					logf("profile of %s: %v", r.mode.Key, err)
				} else if err := writeBreakdown(prefix, res.records); err != nil {
					logf("breakdown of %s: %v", r.mode.Key, err)
				}
			}
			r.rounds = append(r.rounds, res)
			logf("round %d %-22s %9.0f records/s  p50 %6.2f ms  p99 %6.2f ms  errors %d",
				round, r.mode.Key, float64(res.records)/max(res.seconds, 1e-9), ms(percentile(res.latencies, 50)), ms(percentile(res.latencies, 99)), res.errors)
		}
	}

	rep := report(&o, base, runners, brokerPid != 0)
	rep.Unavailable = unavailable
	rep.Kafka = kafkaVersion(brokerPid)
	rep.LoadAvg = [2]string{load0, loadAvg()}
	rep.Commit = o.commit
	if rep.Commit == "" {
		rep.Commit = gitCommit(root)
	}
	fmt.Println()
	writeTables(os.Stdout, rep)
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

// schemaID starts a sidecar briefly to learn the id its embedded registry
// gives orders-OrderPlaced version 1 (and a copy of it).
func schemaID(ctx context.Context, o *options, brokers []string, topic, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	sc, err := harness.Start(ctx, harness.Options{Binary: o.bin, Brokers: brokers, Dir: dir})
	if err != nil {
		return 0, err
	}
	defer sc.Stop(30 * time.Second)
	ss, err := harness.CopySubject(ctx, sc.Registry, topic+"-value", "orders-OrderPlaced", 1)
	if err != nil {
		return 0, err
	}
	return ss.ID, nil
}

// startSidecar starts the mode's own eventguard as its SidecarSpec says
// and registers the benchmark topic's subject in its registry.
func startSidecar(ctx context.Context, e *Env, m Mode, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	o := e.opts
	env := slices.Clone(o.sidecarEnv)
	for _, kv := range m.Sidecar.Env {
		env = append(env, strings.ReplaceAll(kv, "{{app}}", e.app.url))
	}
	if m.Sidecar.Unix {
		// In the run's work dir (removed at the end); a socket path is at
		// most 104 bytes, and this one about 60.
		e.HTTPSock, e.GRPCSock = filepath.Join(dir, "http.sock"), filepath.Join(dir, "grpc.sock")
		env = append(env, "EVENTGUARD_LISTEN_HTTP=unix://"+e.HTTPSock, "EVENTGUARD_LISTEN_GRPC=unix://"+e.GRPCSock)
	}
	opts := harness.Options{Binary: o.bin, Brokers: e.Brokers, Dir: dir, Env: env}
	if m.Sidecar.Config != "" {
		opts.Config = filepath.Join(dir, "config.yaml")
		text := strings.NewReplacer("{{topic}}", e.Topic, "{{app}}", e.app.url).Replace(m.Sidecar.Config)
		if err := os.WriteFile(opts.Config, []byte(text), 0o644); err != nil {
			return err
		}
	}
	sc, err := harness.Start(ctx, opts)
	if err != nil {
		return err
	}
	e.Sidecar, e.ProxyPid = sc, sc.Pid()
	where := sc.HTTP + ", gRPC " + sc.GRPC
	if m.Sidecar.Unix {
		where = e.HTTPSock + ", gRPC " + e.GRPCSock
	}
	logf("%s: eventguard pid %d at %s", m.Key, sc.Pid(), where)
	ss, err := harness.CopySubject(ctx, sc.Registry, e.Topic+"-value", "orders-OrderPlaced", 1)
	if err != nil {
		return err
	}
	if ss.ID != e.SchemaID {
		return fmt.Errorf("orders-OrderPlaced v1 has id %d in this sidecar's registry, %d in the first one's", ss.ID, e.SchemaID)
	}
	return nil
}

// selectModes returns the modes named in list by key or group (all when
// empty), in table order; (a) and (a2) always.
func selectModes(list string) ([]Mode, error) {
	if list == "" {
		return modes, nil
	}
	want := strings.Split(list, ",")
	for _, k := range want {
		if k == "" || slices.Contains(groups, k) {
			continue
		}
		if !slices.ContainsFunc(modes, func(m Mode) bool { return m.Key == k }) {
			return nil, fmt.Errorf("unknown mode or group %q", k)
		}
	}
	// A row's base runs with it (a cost row's twin, a consume row's
	// plain consumer), and the base's base.
	for changed := true; changed; {
		changed = false
		for _, m := range modes {
			if m.Base != "" && !slices.Contains(want, m.Base) && (slices.Contains(want, m.Key) || slices.Contains(want, m.Group)) {
				want, changed = append(want, m.Base), true
			}
		}
	}
	var out []Mode
	for _, m := range modes {
		if m.Baseline || m.Reference || slices.Contains(want, m.Key) || slices.Contains(want, m.Group) {
			out = append(out, m)
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
	env        *Env // Sidecar: this mode's own (nil for none)
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
	// CPU seconds used during the turn by the proxy (eventguard or
	// Kroxylicious), the broker and kbench (the clients), and the
	// proxy's peak RSS in bytes (VmHWM after resetting it at the start;
	// 0 if unknown).
	proxyCPU, brokerCPU, clientCPU float64
	proxyPeakRSS                   int64
}

// fail records a turn that could not run.
func (r *roundResult) fail(err error) {
	r.errors++
	if r.firstError == "" {
		r.firstError = err.Error()
	}
}

// round runs the mode's clients for d and measures them. brokerPid may be
// 0 (not measured: the warm-up).
func (r *runner) round(d time.Duration, brokerPid int) roundResult {
	e, proxyPid := r.env, r.env.ProxyPid
	if proxyPid != 0 {
		resetPeakRSS(proxyPid)
	}
	px0, br0, cl0 := cpuSeconds(proxyPid), cpuSeconds(brokerPid), cpuSeconds(os.Getpid())
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
					res.fail(err)
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
	out.proxyCPU = cpuSeconds(proxyPid) - px0
	out.brokerCPU = cpuSeconds(brokerPid) - br0
	out.clientCPU = cpuSeconds(os.Getpid()) - cl0
	if proxyPid != 0 {
		out.proxyPeakRSS = peakRSS(proxyPid)
	}
	return out
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
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
