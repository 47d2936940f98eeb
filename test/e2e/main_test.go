// Package e2e runs the built eventguard binary against a real Apache Kafka
// broker (test/kafka/kafka.sh) and checks what lands in Kafka with clients
// nobody here wrote: franz-go consumer groups, Confluent's Python client
// (test/interop) and kcat.
//
// The tests need KAFKA_BROKERS; `make test-e2e` (test/run-e2e.sh) starts a
// broker and sets it. Without it every test is skipped, unless CI=true,
// where nothing may be skipped and a missing prerequisite fails the test.
// The broker-restart test also needs EVENTGUARD_KAFKA_SCRIPT (kafka.sh),
// which run-e2e.sh exports when it manages the broker.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// The binary under test, built once by TestMain when a broker is known.
var (
	binPath  string
	buildErr error
	rootDir  string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KAFKA_BROKERS") != "" {
		dir, err := os.MkdirTemp("", "eventguard-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		rootDir, buildErr = harness.ModuleRoot()
		if buildErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			t0 := time.Now()
			binPath, buildErr = harness.Build(ctx, rootDir, dir)
			cancel()
			if buildErr == nil {
				fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", binPath, time.Since(t0).Round(time.Millisecond))
			}
		}
	}
	return m.Run()
}

// inCI reports whether this is a CI run, where nothing may be skipped.
func inCI() bool { return os.Getenv("CI") == "true" }

// unavailable skips the test for a missing prerequisite, or fails it in CI.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("CI=true and a prerequisite is missing: %s", msg)
	}
	t.Skipf("SKIPPED: %s", msg)
}

// kafkaBrokers returns KAFKA_BROKERS as a list, or skips (fails in CI).
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	b := os.Getenv("KAFKA_BROKERS")
	if b == "" {
		unavailable(t, `KAFKA_BROKERS is not set: run "make test-e2e" (it starts a broker) or eval "$(test/kafka/kafka.sh up)" first`)
	}
	return strings.Split(b, ",")
}

// env is one test's running eventguard and the clients that talk to it.
type env struct {
	t       *testing.T
	sc      *harness.Sidecar
	brokers []string
	hc      *http.Client
}

// start runs `eventguard dev --brokers $KAFKA_BROKERS` for the test, with
// configYAML as its --config file when not empty. The sidecar is stopped
// with SIGTERM when the test ends and must exit 0; if the test failed, the
// last lines of eventguard's log and of the broker log are printed.
func start(t *testing.T, configYAML string) *env {
	t.Helper()
	return startWith(t, configYAML, harness.Options{})
}

// startWith is start with more harness options: o.Brokers, when set,
// replaces KAFKA_BROKERS as eventguard's brokers (the env's brokers, for
// reading back, stay KAFKA_BROKERS); o.Env, o.Registry, o.Run and
// o.AnyReadiness pass through.
func startWith(t *testing.T, configYAML string, o harness.Options) *env {
	t.Helper()
	return launch(t, "eventguard", configYAML, o, false)
}

// launch starts a sidecar for the test: the harness options o, with
// configYAML as its --config file when not empty, the built binary and a
// directory of the test's. When the test ends, a sidecar still running is
// stopped with SIGTERM and must exit 0; one that has already ended is an
// error, unless mayEnd (the test stops or kills it itself). If the test
// failed, the end of its log (labelled with label) and of the broker log are
// printed. Under TestApicurio a sidecar without o.Registry uses Apicurio
// instead of its embedded registry (registryOverride).
func launch(t *testing.T, label, configYAML string, o harness.Options, mayEnd bool) *env {
	t.Helper()
	brokers := kafkaBrokers(t)
	if buildErr != nil {
		t.Fatalf("eventguard binary: %v", buildErr)
	}
	if o.Registry == "" {
		o.Registry = registryOverride(t) // the suite's tests rerun on Apicurio
	}
	dir := t.TempDir()
	o.Binary, o.Dir = binPath, dir
	if o.Brokers == nil {
		o.Brokers = brokers
	}
	if configYAML != "" {
		o.Config = filepath.Join(dir, "eventguard.yaml")
		if err := os.WriteFile(o.Config, []byte(configYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	sc, err := harness.Start(ctx, o)
	if err != nil {
		dumpBrokerLog(t)
		t.Fatalf("start %s: %v", label, err)
	}
	t.Logf("%s: pid %d up in %s: http %s, registry %s", label, sc.Pid(), time.Since(t0).Round(time.Millisecond), sc.HTTP, sc.Registry)
	t.Cleanup(func() {
		if !mayEnd || !sc.Exited() {
			if err := sc.Stop(30 * time.Second); err != nil {
				t.Errorf("%s: stop eventguard (SIGTERM must end it with status 0): %v", label, err)
			}
		}
		if t.Failed() {
			t.Logf("%s: eventguard log %s, last 150 lines:\n%s", label, sc.LogPath, harness.Tail(sc.LogPath, 150))
			dumpBrokerLog(t)
		}
	})
	return &env{t: t, sc: sc, brokers: brokers, hc: &http.Client{Timeout: 30 * time.Second}}
}

// dumpBrokerLog prints the end of the broker log (KAFKA_LOG), if known.
func dumpBrokerLog(t *testing.T) {
	t.Helper()
	if p := os.Getenv("KAFKA_LOG"); p != "" {
		t.Logf("broker log %s, last 60 lines:\n%s", p, harness.Tail(p, 60))
	}
}

// topic returns a new unique topic name whose "<topic>-value" subject is a
// copy of version (-1: latest) of the example subject from.
func (e *env) topic(prefix, from string, version int) (string, sr.SubjectSchema) {
	e.t.Helper()
	name := harness.UniqueName(prefix)
	ss := e.copySubject(name+"-value", from, version)
	return name, ss
}

// copySubject registers a copy of an example subject version as subject.
func (e *env) copySubject(subject, from string, version int) sr.SubjectSchema {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ss, err := harness.CopySubject(ctx, e.sc.Registry, subject, from, version)
	if err != nil {
		e.t.Fatal(err)
	}
	return ss
}

// rec is one record of a produce request. Value is sent byte for byte.
type rec struct {
	Key     string
	Value   []byte
	ID      string
	Headers map[string]string
}

// apiError is an error object of the HTTP API.
type apiError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Violations []struct {
		Path    string `json:"path"`
		Keyword string `json:"keyword"`
		Message string `json:"message"`
	} `json:"violations"`
}

// produceResult is one entry of a produce response's results.
type produceResult struct {
	Index         int       `json:"index"`
	Partition     *int32    `json:"partition"`
	Offset        *int64    `json:"offset"`
	Subject       string    `json:"subject"`
	SchemaID      int       `json:"schema_id"`
	SchemaVersion int       `json:"schema_version"`
	EventID       string    `json:"event_id"`
	Error         *apiError `json:"error"`
}

// produceResponse is the body of every produce answer.
type produceResponse struct {
	Error   *apiError       `json:"error"`
	Results []produceResult `json:"results"`
}

// requestBody builds a produce request body by hand, so that every value
// goes out exactly as given (encoding/json would compact it).
func requestBody(recs []rec) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"key":`)
		k, _ := json.Marshal(r.Key)
		b.Write(k)
		if r.ID != "" {
			id, _ := json.Marshal(r.ID)
			b.WriteString(`,"id":`)
			b.Write(id)
		}
		if len(r.Headers) > 0 {
			h, _ := json.Marshal(r.Headers)
			b.WriteString(`,"headers":`)
			b.Write(h)
		}
		b.WriteString(`,"value":`)
		b.Write(r.Value)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// answer is one HTTP produce answer.
type answer struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   produceResponse
	// DecodeErr says why Raw is not a produce response (nil if it is).
	DecodeErr error
}

// post sends recs to POST /v1/topics/{topic}/records with the given
// request headers.
func (e *env) post(ctx context.Context, topic string, recs []rec, hdr map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.sc.HTTP+"/v1/topics/"+topic+"/records", bytes.NewReader(requestBody(recs)))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{Status: resp.StatusCode, Header: resp.Header}
	if a.Raw, err = io.ReadAll(resp.Body); err != nil {
		return a, fmt.Errorf("read the answer body: %w", err)
	}
	a.DecodeErr = json.Unmarshal(a.Raw, &a.Body)
	return a, nil
}

// mustPost posts and fails the test unless the answer has status want and
// a JSON body.
func (e *env) mustPost(topic string, recs []rec, hdr map[string]string, want int) produceResponse {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := e.post(ctx, topic, recs, hdr)
	if err != nil {
		e.t.Fatalf("POST %d records to %s: %v", len(recs), topic, err)
	}
	if a.Status != want {
		e.t.Fatalf("POST %d records to %s: status %d, want %d; body: %s", len(recs), topic, a.Status, want, a.Raw)
	}
	if a.DecodeErr != nil {
		e.t.Fatalf("POST to %s: answer is not a produce response: %v; body: %s", topic, a.DecodeErr, a.Raw)
	}
	return a.Body
}

// golden returns an example contract payload, e.g.
// "orders-OrderPlaced/1/valid/typical.json", without trailing white space.
func golden(t *testing.T, path string) []byte {
	t.Helper()
	b, err := examples.Contracts.ReadFile("contracts/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// petEvent returns a valid pets-value version 2 event, with the spacing
// given, so tests can check the bytes survive as sent.
func petEvent(petID string, grams int) []byte {
	return fmt.Appendf(nil, `{"event_type": "pet.weight.updated.v2", "pet_id": %q, "device_id": "bowl-7f3a",
  "net_weight_grams": %d, "tare_weight_grams": 380, "measured_at": "2026-11-02T08:15:00Z", "source": "sensor"}`, petID, grams)
}

// wire returns value in the Confluent wire format for schema id.
func wire(id int, value []byte) []byte {
	return append([]byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, value...)
}

// waitFor polls cond every 20 ms until it holds, failing the test with
// what (and state(), when given) after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			s := ""
			if state != nil {
				s = "; " + state()
			}
			t.Fatalf("waited %s for %s%s", timeout, what, s)
		}
		<-tick.C
	}
}
