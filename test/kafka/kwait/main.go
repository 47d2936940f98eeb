// Command kwait waits until a Kafka broker answers a Metadata request.
//
// It is the readiness probe of the test broker harness (test/kafka/kafka.sh):
//
//	kwait -brokers 127.0.0.1:19092 -timeout 90s [-pid 1234] [-nodes 1,2,3]
//
// Each attempt sends one Metadata request (no topics) with its own deadline and
// succeeds when the answer lists at least one broker, or, with -nodes, every
// broker id named (a KRaft cluster lists a broker once it is registered and
// unfenced: the cluster harness waits for a restarted broker that way). kwait exits 0 once an
// attempt succeeds, 1 when -timeout passes first, 2 on bad flags, and 3 as soon
// as the process given with -pid has gone (a broker that died while starting).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		brokers = flag.String("brokers", "127.0.0.1:19092", "comma-separated seed brokers (host:port)")
		timeout = flag.Duration("timeout", 90*time.Second, "give up after this long")
		attempt = flag.Duration("attempt", 2*time.Second, "deadline of one Metadata request")
		pid     = flag.Int("pid", 0, "stop waiting as soon as this process is gone (0: don't watch)")
		quiet   = flag.Bool("quiet", false, "print nothing")
		nodes   = flag.String("nodes", "", "comma-separated broker ids the answer must list (default: any broker)")
	)
	flag.Parse()
	logf := func(format string, args ...any) {
		if !*quiet {
			fmt.Fprintf(os.Stderr, "kwait: "+format+"\n", args...)
		}
	}

	var seeds []string
	for _, s := range strings.Split(*brokers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 || *timeout <= 0 || *attempt <= 0 {
		logf("need -brokers, and positive -timeout and -attempt")
		return 2
	}
	var want []int32
	for _, s := range strings.Split(*nodes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			logf("-nodes: %q is not a broker id", s)
			return 2
		}
		want = append(want, int32(id))
	}

	start := time.Now()
	deadline := start.Add(*timeout)
	var lastErr error
	for n := 1; ; n++ {
		if *pid > 0 && !alive(*pid) {
			logf("process %d exited before %s answered", *pid, *brokers)
			return 3
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		per := min(*attempt, left)
		nb, err := probe(seeds, per, want)
		if err == nil {
			logf("%s answered Metadata (%d broker(s)) after %s, attempt %d",
				*brokers, nb, time.Since(start).Round(10*time.Millisecond), n)
			return 0
		}
		lastErr = err
		// Pause between attempts, but never past the deadline.
		if pause := min(250*time.Millisecond, time.Until(deadline)); pause > 0 {
			time.Sleep(pause)
		}
	}
	logf("%s did not answer Metadata within %s: %v", *brokers, *timeout, lastErr)
	return 1
}

// probe sends one Metadata request with a fresh client, so that no backoff or
// cached connection state from an earlier attempt (a broker not yet listening)
// slows the next one down.
func probe(seeds []string, per time.Duration, want []int32) (int, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(per),
		kgo.RequestRetries(0),
		kgo.RetryTimeout(per),
		kgo.MetadataMinAge(10*time.Millisecond),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), per)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest() // Topics nil: no topic, just brokers.
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Brokers) == 0 {
		return 0, errors.New("metadata response lists no broker yet")
	}
	for _, id := range want {
		if !slices.ContainsFunc(resp.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == id }) {
			return 0, fmt.Errorf("metadata response does not list broker %d yet", id)
		}
	}
	return len(resp.Brokers), nil
}

// alive reports whether the process exists (signal 0 checks without sending)
// and, where /proc says so, is not a zombie waiting to be reaped.
func alive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
