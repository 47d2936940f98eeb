package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// scriptedApicurio is the suite's Apicurio Registry as
// test/registry/apicurio.sh runs it, for a test that kills and restarts it
// (its data, an H2 database file, survives a kill). Only a test that runs
// alone may use it: no t.Parallel.
type scriptedApicurio struct {
	script string
	URL    string
}

// theScriptedApicurio returns the suite's registry when it is apicurio.sh's
// (EVENTGUARD_APICURIO_SCRIPT, which test/run-e2e.sh sets only then), or
// skips the test (fails it in CI).
func theScriptedApicurio(t *testing.T) *scriptedApicurio {
	t.Helper()
	url := apicurioURL(t)
	script := os.Getenv("EVENTGUARD_APICURIO_SCRIPT")
	if script == "" {
		unavailable(t, "EVENTGUARD_APICURIO_SCRIPT is not set: this test kills and restarts the registry with test/registry/apicurio.sh; run it through make test-e2e")
	}
	return &scriptedApicurio{script: script, URL: url}
}

// run runs `apicurio.sh cmd` and returns its stdout.
func (a *scriptedApicurio) run(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, a.script, cmd)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("apicurio.sh %s: %w\n%s", cmd, err, stderr.String())
	}
	return string(out), nil
}

// outagePhase is when a produce request was answered, relative to the
// registry's kill and restart.
type outagePhase int

const (
	beforeKill outagePhase = iota
	registryDown
	afterRestart
)

func (p outagePhase) String() string {
	return [...]string{"before the kill", "while the registry was down", "after the restart"}[p]
}

// TestApicurioKilledUnderLoad kills the suite's registry (apicurio.sh kill:
// SIGKILL) while eventguard serves produce traffic and a subscription, and
// starts it again on the same data, without touching eventguard. It runs
// alone, as TestBrokerRestartUnderLoad does with the broker:
//
//   - warm traffic (a subject already resolved) keeps being answered 200
//     throughout, with registry.latest_ttl at 1s, so its "latest version"
//     is looked up again, and fails, many times during the outage, and
//     every acknowledged record is in Kafka;
//   - a subject eventguard never resolved is answered 503
//     registry_unavailable with Retry-After while the registry is down,
//     never 200 nor a 4xx, and 200 once it is back;
//   - on the consume side, a record framed with a schema id eventguard
//     never resolved makes its partition wait (logged), it is not
//     dead-lettered and nothing after it is delivered; once the registry is
//     back it is delivered, then the rest, in order;
//   - the sidecar is the same process throughout and exits 0 on SIGTERM.
func TestApicurioKilledUnderLoad(t *testing.T) {
	brokers := kafkaBrokers(t)
	reg := theScriptedApicurio(t)
	warmTopic := harness.UniqueName("e2e-regkill-warm")
	coldTopic := harness.UniqueName("e2e-regkill-cold")
	subTopic := harness.UniqueName("e2e-regkill-sub")
	createTopic(t, brokers, subTopic, 1)
	app := newSink(t, always200)
	sub := newSubscription("regkill", subTopic, app.url("/events"))
	// Subjects of the test's own beside what the other tests registered.
	e := startWith(t, sub.yaml()+`registry:
  latest_ttl: 1s
  timeout: 2s
`, harness.Options{Registry: reg.URL})
	warm := e.copySubject(warmTopic+"-value", "pets-value", 2)
	createTopic(t, brokers, warmTopic, 3)
	// The subscribed topic's subject: the warm schema (the same id) as
	// version 1, and one of its own as version 2, as is the cold subject's,
	// so their ids are new to eventguard.
	if ss := e.copySubject(subTopic+"-value", "pets-value", 2); ss.ID != warm.ID {
		t.Fatalf("the same schema under %s-value has id %d, not %d", subTopic, ss.ID, warm.ID)
	}
	cold := registerVariant(t, reg.URL, coldTopic+"-value", "cold")
	unseen := registerVariant(t, reg.URL, subTopic+"-value", "unseen")
	if cold.ID == warm.ID || unseen.ID == warm.ID || cold.ID == unseen.ID {
		t.Fatalf("schema ids not distinct: warm %d, cold %d, unseen %d", warm.ID, cold.ID, unseen.ID)
	}

	// Warm up: the warm subject by produce, the warm id by consume.
	e.mustPost(warmTopic, []rec{{Key: "warm-up", Value: petEvent("warm-up", 4000)}}, nil, http.StatusOK)
	prod := newProducer(t, brokers)
	produceSync(t, prod, &kgo.Record{Topic: subTopic, Partition: 0, Key: []byte("sub-0"), Value: wire(warm.ID, petEvent("sub-0", 4000))})
	app.waitOK(1, 30*time.Second)

	// Load: 2 clients, batches of 5 warm records every 100 ms or so (the
	// registry's JVM must start beside it on 2 cores), each answer kept
	// with the phase it ended in.
	var (
		phase    atomic.Int32
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		counts   [3]map[int]int // phase → status → requests
		bad      []string
		acked    atomic.Int64
		seq      atomic.Int64
		loadDone = time.Now().Add(3 * time.Minute) // a hard bound on the loop
	)
	for i := range counts {
		counts[i] = map[int]int{}
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(loadDone) {
				select {
				case <-stop:
					return
				default:
				}
				var recs []rec
				for range 5 {
					n := seq.Add(1)
					recs = append(recs, rec{Key: fmt.Sprintf("w%d-%d", w, n), Value: petEvent(fmt.Sprintf("pet-%d", n), 4000+int(n%1000))})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				a, err := e.post(ctx, warmTopic, recs, nil)
				cancel()
				p := outagePhase(phase.Load())
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, fmt.Sprintf("%s: %v", p, err))
				default:
					counts[p][a.Status]++
					if a.Status == http.StatusOK {
						acked.Add(int64(len(recs)))
					} else if len(bad) < 20 {
						bad = append(bad, fmt.Sprintf("%s: %d %s", p, a.Status, a.Raw))
					}
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	stopLoad := func() {
		close(stop)
		wg.Wait()
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()
	time.Sleep(time.Second)

	// The registry dies. Whatever happens next, the tests after this one
	// get it back.
	t.Cleanup(func() {
		if _, err := reg.run("status"); err != nil {
			if _, err := reg.run("start"); err != nil {
				t.Errorf("restart the registry for the tests after this one: %v", err)
			}
		}
	})
	if _, err := reg.run("kill"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	phase.Store(int32(registryDown))

	// A subject never resolved: 503 with Retry-After, again and again.
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a, err := e.post(ctx, coldTopic, []rec{{Key: "cold", Value: petEvent("cold", 4100)}}, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusServiceUnavailable || a.Body.Error == nil || a.Body.Error.Code != "registry_unavailable" {
			t.Fatalf("produce to a subject never resolved, registry down (try %d): %d %s, want 503 registry_unavailable", i+1, a.Status, a.Raw)
		}
		if s, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("503 for a registry outage with Retry-After %q, want a positive number of seconds", a.Header.Get("Retry-After"))
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Consume: a record of a schema id never resolved, then a warm one.
	produceSync(t, prod,
		&kgo.Record{Topic: subTopic, Partition: 0, Key: []byte("sub-1-unseen"), Value: wire(unseen.ID, petEvent("sub-1", 4001))},
		&kgo.Record{Topic: subTopic, Partition: 0, Key: []byte("sub-2"), Value: wire(warm.ID, petEvent("sub-2", 4002))},
	)
	waitFor(t, 30*time.Second, "the sidecar to log that the partition waits for the registry", func() bool {
		return strings.Contains(harness.Tail(e.sc.LogPath, 200), "schema registry unavailable; the partition waits")
	}, nil)
	time.Sleep(2 * time.Second) // the outage lasts; nothing may move meanwhile
	if n := app.countOK(); n != 1 {
		t.Errorf("while the registry was down the app got %d deliveries, want only the warm-up one: %s", n, app.summary())
	}
	if n := mustCount(t, brokers, subTopic+".dlq"); n != 0 {
		t.Errorf("%s.dlq holds %d records during the outage: an outage must never dead-letter", subTopic, n)
	}
	readyz := get(t, e.sc.Admin+"/readyz")
	t.Logf("/readyz while the registry is down: %s", readyz)

	// The registry comes back on the same data; eventguard is not touched.
	startAt := time.Since(killed)
	if _, err := reg.run("start"); err != nil {
		t.Fatal(err)
	}
	phase.Store(int32(afterRestart))
	restarted := time.Now()
	t.Logf("registry killed; started again after %s; answering again after %s", startAt.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	var coldOK time.Duration
	waitFor(t, 30*time.Second, "produce to the subject never resolved to succeed after the restart", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := e.post(ctx, coldTopic, []rec{{Key: "cold", Value: petEvent("cold", 4100)}}, nil)
		if err != nil || a.Status != http.StatusOK {
			if err == nil && a.Status != http.StatusServiceUnavailable {
				t.Errorf("produce to the cold subject after the restart: %d %s, want 503 until it answers, then 200", a.Status, a.Raw)
			}
			return false
		}
		if r := a.Body.Results[0]; r.SchemaID != cold.ID || r.Subject != coldTopic+"-value" {
			t.Errorf("cold record produced as %s id %d, want %s-value id %d", r.Subject, r.SchemaID, coldTopic, cold.ID)
		}
		coldOK = time.Since(restarted)
		return true
	}, nil)
	app.waitOK(3, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, subTopic, map[int32]int64{0: 3}, 30*time.Second)
	time.Sleep(time.Second)
	stopLoad()

	if got := keys(app.delivered()); strings.Join(got, ",") != "sub-0,sub-1-unseen,sub-2" {
		t.Errorf("the app got %q, want sub-0, sub-1-unseen, sub-2 in order", got)
	}
	if n := mustCount(t, brokers, subTopic+".dlq"); n != 0 {
		t.Errorf("%s.dlq holds %d records: an outage must never dead-letter", subTopic, n)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("warm produce requests by phase and status: before %v, down %v, after %v; %d records acknowledged; the cold subject answered 200 %s after the restart",
		counts[beforeKill], counts[registryDown], counts[afterRestart], acked.Load(), coldOK.Round(time.Millisecond))
	for _, b := range bad {
		t.Errorf("warm traffic not answered 200: %s", b)
	}
	if counts[registryDown][http.StatusOK] < 10 {
		t.Errorf("only %d warm requests answered while the registry was down: the load did not run through the outage", counts[registryDown][http.StatusOK])
	}
	if n := mustCount(t, brokers, warmTopic); n != acked.Load()+1 {
		t.Errorf("%s holds %d records, want the %d acknowledged plus the warm-up one", warmTopic, n, acked.Load())
	}
}

// registerVariant registers, as subject, pets-value version 2 with its
// title changed to one of its own (content the registry has not seen, so a
// new schema id), and returns it.
func registerVariant(t *testing.T, registryURL, subject, title string) sr.SubjectSchema {
	t.Helper()
	cl, err := harness.RegistryClient(registryURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := cl.SchemaByVersion(ctx, "pets-value", 2)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(src.Schema.Schema), &doc); err != nil {
		t.Fatal(err)
	}
	doc["title"] = title + " " + subject
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := src.Schema
	s.Schema = string(b)
	ss, err := cl.CreateSchema(ctx, subject, s)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss
}

// get returns the status and body of GET url, for the log.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}
