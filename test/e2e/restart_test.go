package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// restartLoad shapes the producer loop of TestBrokerRestartUnderLoad.
const (
	restartWorkers  = 4
	restartInterval = 25 * time.Millisecond // per worker: at most 160 requests/s in all
	restartBefore   = 60                    // events acknowledged before the stop
	restartAfter    = 60                    // and again after the start
)

// outcome is one produce request of the loop.
type outcome struct {
	ids        []string
	status     int
	code       string
	start, end time.Time
}

// The broker is stopped and started again while a loop of numbered events
// (distinct event ids, 1 to 3 per request) runs through eventguard. Every
// event eventguard acknowledged with 200 must be in the topic exactly once;
// every request it did not acknowledge must have got 503 or 504 with a JSON
// error body (503 with Retry-After) — never a 200 while the broker was down,
// never another status, never a hang past the 30 s client timeout. No event
// may be in the topic twice (the producer is idempotent).
func TestBrokerRestartUnderLoad(t *testing.T) {
	script := os.Getenv("EVENTGUARD_KAFKA_SCRIPT")
	if script == "" {
		unavailable(t, "EVENTGUARD_KAFKA_SCRIPT is not set: this test stops and starts the broker with test/kafka/kafka.sh; run it through make test-e2e")
	}
	e := start(t, "")
	topic, _ := e.topic("e2e-restart", "pets-value", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := harness.CreateTopic(ctx, e.brokers, topic, 3); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		outcomes []outcome
		problems []string
		seq      atomic.Int64
		acked    atomic.Int64 // events
		refused  atomic.Int64 // requests
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	worker := func() {
		defer wg.Done()
		tick := time.NewTicker(restartInterval)
		defer tick.Stop()
		for ; !stop.Load(); <-tick.C {
			n := int(seq.Add(1))
			recs := make([]rec, 1+n%3)
			ids := make([]string, len(recs))
			for i := range recs {
				ids[i] = fmt.Sprintf("restart-%06d-%d", n, i)
				recs[i] = rec{Key: fmt.Sprintf("pet-%d", (n+i)%17), ID: ids[i], Value: petEvent(fmt.Sprintf("pet-%d", n), n)}
			}
			o := outcome{ids: ids, start: time.Now()}
			// Never cancelled: an answer must come within the client's 30 s.
			a, err := e.post(context.Background(), topic, recs, nil)
			o.end, o.status = time.Now(), a.Status
			if a.Body.Error != nil {
				o.code = a.Body.Error.Code
			}
			var problem string
			switch {
			case err != nil:
				problem = fmt.Sprintf("request %d: no answer: %v", n, err)
			case a.Status == http.StatusOK:
				if a.DecodeErr != nil || len(a.Body.Results) != len(recs) {
					problem = fmt.Sprintf("request %d: 200 with body %s", n, a.Raw)
					break
				}
				for _, r := range a.Body.Results {
					if r.Offset == nil || r.Error != nil {
						problem = fmt.Sprintf("request %d: 200 but result %+v", n, r)
					}
				}
				acked.Add(int64(len(recs)))
			case a.Status == http.StatusServiceUnavailable || a.Status == http.StatusGatewayTimeout:
				refused.Add(1)
				if a.DecodeErr != nil || a.Body.Error == nil || a.Body.Error.Code == "" || a.Body.Error.Message == "" {
					problem = fmt.Sprintf("request %d: %d without a JSON error body: %s", n, a.Status, a.Raw)
				} else if a.Status == http.StatusServiceUnavailable && a.Header.Get("Retry-After") == "" {
					problem = fmt.Sprintf("request %d: 503 %s without Retry-After", n, a.Body.Error.Code)
				}
			default:
				problem = fmt.Sprintf("request %d: status %d, want 200, 503 or 504: %s", n, a.Status, a.Raw)
			}
			mu.Lock()
			outcomes = append(outcomes, o)
			if problem != "" {
				problems = append(problems, problem)
			}
			mu.Unlock()
		}
	}
	wg.Add(restartWorkers)
	for range restartWorkers {
		go worker()
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	state := func() string {
		return fmt.Sprintf("%d requests sent, %d events acknowledged, %d requests refused", seq.Load(), acked.Load(), refused.Load())
	}

	waitFor(t, 60*time.Second, fmt.Sprintf("%d acknowledged events before the broker stops", restartBefore), func() bool { return acked.Load() >= restartBefore }, state)
	stopBegan := time.Now()
	kafkaScript(t, script, "stop")
	stoppedAt := time.Now()
	refusedAtStop := refused.Load()
	waitFor(t, 60*time.Second, "eventguard to refuse events while the broker is down", func() bool { return refused.Load() >= refusedAtStop+5 }, state)
	startBegan := time.Now()
	kafkaScript(t, script, "start")
	startedAt := time.Now()
	ackedAtStart := acked.Load()
	waitFor(t, 90*time.Second, "eventguard to acknowledge events again after the broker is back", func() bool { return acked.Load() >= ackedAtStart+restartAfter }, state)
	stop.Store(true)
	wg.Wait()

	recs, err := harness.ReadToEnd(ctx, e.brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	inTopic := map[string]int{}
	for _, r := range recs {
		id, ok := harness.Header(r, "eventguard.event_id")
		if !ok {
			t.Errorf("record at %d/%d has no event id header", r.Partition, r.Offset)
		}
		inTopic[id]++
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	var (
		ackedIDs, refusedIDs, refusedWritten int
		byStatus                             = map[string]int{}
		firstRefusal, firstAckAfter          time.Time
	)
	for _, o := range outcomes {
		switch o.status {
		case http.StatusOK:
			for _, id := range o.ids {
				ackedIDs++
				if c := inTopic[id]; c != 1 {
					t.Errorf("event %s was acknowledged with 200 but is in the topic %d times", id, c)
				}
			}
			if o.start.After(stoppedAt) && o.end.Before(startBegan) {
				t.Errorf("events %v got 200 while the broker was down (request %s to %s; broker stopped %s, started %s)",
					o.ids, o.start.Format(time.StampMilli), o.end.Format(time.StampMilli), stoppedAt.Format(time.StampMilli), startBegan.Format(time.StampMilli))
			}
			if o.start.After(startedAt) && (firstAckAfter.IsZero() || o.end.Before(firstAckAfter)) {
				firstAckAfter = o.end
			}
		default:
			byStatus[fmt.Sprintf("%d %s", o.status, o.code)]++
			if firstRefusal.IsZero() || o.end.Before(firstRefusal) {
				firstRefusal = o.end
			}
			for _, id := range o.ids {
				refusedIDs++
				if inTopic[id] > 0 {
					refusedWritten++
				}
			}
		}
	}
	for id, c := range inTopic {
		if c > 1 {
			t.Errorf("event %s is in the topic %d times (the producer is idempotent: never a duplicate)", id, c)
		}
	}
	statuses := make([]string, 0, len(byStatus))
	for s, c := range byStatus {
		statuses = append(statuses, fmt.Sprintf("%s ×%d", s, c))
	}
	sort.Strings(statuses)
	t.Logf("%d requests, %d events: %d acknowledged (each found exactly once), %d refused (%d of those written anyway, allowed: 504 says it may have been); %d records in the topic",
		len(outcomes), ackedIDs+refusedIDs, ackedIDs, refusedIDs, refusedWritten, len(recs))
	t.Logf("refusals: %s", strings.Join(statuses, ", "))
	t.Logf("kafka.sh stop ran %s..%s, start ran %s..%s; first refusal %s after stop began; first acknowledgement %s after the broker answered again",
		stopBegan.Format(time.StampMilli), stoppedAt.Format(time.StampMilli), startBegan.Format(time.StampMilli), startedAt.Format(time.StampMilli),
		sinceOrNever(firstRefusal, stopBegan), sinceOrNever(firstAckAfter, startedAt))
}

// sinceOrNever is t - from, or "never".
func sinceOrNever(t, from time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

// kafkaScript runs test/kafka/kafka.sh with one command and fails the test
// with its output if it fails.
func kafkaScript(t *testing.T, script, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, script, command).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, command, err, out)
	}
	t.Logf("kafka.sh %s took %s", command, time.Since(t0).Round(time.Millisecond))
}
