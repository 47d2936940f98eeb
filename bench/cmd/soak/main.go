// Command soak runs eventguard for a long time (one hour by default) under
// mixed produce and consume traffic at about half its measured capacity,
// and samples the sidecar's resident memory, goroutines, open files and
// produce latency every minute: after the warm-up they must stay flat. It
// writes the samples as JSON and a small SVG plot (docs/soak/ by default).
//
// `make soak` (test/run-soak.sh) runs it against a broker of kafka.sh; it is
// not part of make test. The traffic: HTTP clients posting batches and gRPC
// clients calling Produce, paced together to the target rate, and one
// subscription delivering every record to an app in this process.
//
//	soak -brokers 127.0.0.1:19092 [-duration 1h] [-sample 1m] [-warmup 10m]
//	     [-calibrate 30s] [-rate 0] [-out docs/soak]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	brokers   string
	duration  time.Duration
	sample    time.Duration
	warmup    time.Duration
	calibrate time.Duration
	rate      float64
	fraction  float64
	out       string
	clients   int
	batch     int
}

func run() error {
	var o options
	flag.StringVar(&o.brokers, "brokers", os.Getenv("KAFKA_BROKERS"), "Kafka brokers (default $KAFKA_BROKERS)")
	flag.DurationVar(&o.duration, "duration", time.Hour, "how long the measured soak runs")
	flag.DurationVar(&o.sample, "sample", time.Minute, "sampling interval")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Minute, "the first part of the soak left out of the flatness verdict")
	flag.DurationVar(&o.calibrate, "calibrate", 30*time.Second, "how long to measure the capacity at full speed first (0: use -rate)")
	flag.Float64Var(&o.rate, "rate", 0, "records/s to send; 0: -fraction of the calibrated capacity")
	flag.Float64Var(&o.fraction, "fraction", 0.5, "share of the calibrated capacity to run at")
	flag.StringVar(&o.out, "out", "docs/soak", "directory for the JSON and SVG results ('' writes none)")
	flag.IntVar(&o.clients, "clients", 4, "HTTP clients; half as many gRPC clients run beside them")
	flag.IntVar(&o.batch, "batch", 10, "records per request")
	flag.Parse()
	if o.brokers == "" {
		return fmt.Errorf("no brokers: set -brokers or KAFKA_BROKERS")
	}
	if o.sample <= 0 || o.duration < o.sample || o.warmup >= o.duration {
		return fmt.Errorf("need 0 < -sample <= -duration and -warmup < -duration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "eventguard-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := harness.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	env, err := setUp(ctx, o, bin, dir)
	if err != nil {
		return err
	}
	defer env.close()

	rate := o.rate
	var capacity float64
	if rate == 0 {
		if o.calibrate <= 0 {
			return fmt.Errorf("-rate 0 needs -calibrate > 0")
		}
		logf("calibrating: full speed for %s", o.calibrate)
		capacity = env.calibrate(ctx, o.calibrate)
		if capacity <= 0 {
			return fmt.Errorf("calibration acknowledged no record (%d requests failed; sidecar log %s)", env.failed.Load(), env.sidecar.LogPath)
		}
		rate = capacity * o.fraction
		logf("capacity %.0f records/s; soaking at %.0f records/s (%.0f%%)", capacity, rate, 100*o.fraction)
	}

	rep := report{
		Commit:      gitCommit(root),
		Started:     time.Now().UTC().Format(time.RFC3339),
		Duration:    o.duration.String(),
		Sample:      o.sample.String(),
		Warmup:      o.warmup.String(),
		Capacity:    capacity,
		Rate:        rate,
		Clients:     o.clients,
		GRPCClients: max(1, o.clients/2),
		Batch:       o.batch,
		LoadAvg:     [2]string{loadAvg(), ""},
	}
	samples, err := env.soak(ctx, rate, o.duration, o.sample)
	rep.Samples = samples
	rep.LoadAvg[1] = loadAvg()
	if err != nil {
		return err
	}
	if err := env.sidecar.Stop(30 * time.Second); err != nil {
		rep.ExitError = err.Error()
	}
	rep.Verdict = judge(samples, o.warmup)
	printReport(rep)
	if o.out != "" {
		if err := writeResults(o.out, rep); err != nil {
			return err
		}
	}
	if !rep.Verdict.Flat || rep.ExitError != "" {
		return fmt.Errorf("not flat after the warm-up, or the sidecar did not exit 0 (%s)", rep.ExitError)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// writeResults writes soak-<date>-<commit>.json and .svg into dir.
func writeResults(dir string, rep report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, fmt.Sprintf("soak-%s-%s", time.Now().UTC().Format("2006-01-02"), rep.Commit))
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".svg", plot(rep), 0o644); err != nil {
		return err
	}
	logf("wrote %s.json and %s.svg", base, base)
	return nil
}
