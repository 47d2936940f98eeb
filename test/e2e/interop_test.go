package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// pythonWithConfluent returns the Python that has confluent-kafka and
// pytest: $EVENTGUARD_PYTHON, else python3. It skips the test (fails it in
// CI) when there is none.
func pythonWithConfluent(t *testing.T) string {
	t.Helper()
	py := os.Getenv("EVENTGUARD_PYTHON")
	if py == "" {
		py = "python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		unavailable(t, "no Python for the Confluent interop suite (%s: %v); set EVENTGUARD_PYTHON or run bash .ci/run", py, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", "import confluent_kafka, pytest, jsonschema; print(confluent_kafka.__version__)").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		unavailable(t, "%s lacks confluent-kafka[json,schemaregistry] or pytest (%s); pip install them or set EVENTGUARD_PYTHON (bash .ci/run makes .venv)", py, lines[len(lines)-1])
	}
	t.Logf("python %s, confluent-kafka %s", py, bytes.TrimSpace(out))
	return py
}

// interopSpec is what test/interop/test_confluent_interop.py reads from the
// file named by INTEROP_SPEC.
type interopSpec struct {
	Brokers     string            `json:"brokers"`
	RegistryURL string            `json:"registry_url"`
	Consume     []interopTopic    `json:"consume"`
	Produce     interopProduceJob `json:"produce"`
}

// interopTopic is a topic eventguard produced to, for Python to decode.
type interopTopic struct {
	Topic string `json:"topic"`
	// SubjectStrategy is "topic" or "topic_record": the Confluent subject
	// name strategy matching the topic's eventguard strategy.
	SubjectStrategy string          `json:"subject_strategy"`
	Subject         string          `json:"subject"`
	SchemaID        int             `json:"schema_id"`
	Records         []interopRecord `json:"records"`
}

// interopRecord is one record eventguard acknowledged.
type interopRecord struct {
	Key     string          `json:"key"`
	EventID string          `json:"event_id"`
	Value   json.RawMessage `json:"value"`
}

// interopProduceJob asks Python to produce Count records to Topic with
// Confluent's JSONSerializer, using Subject's latest version.
type interopProduceJob struct {
	Topic   string `json:"topic"`
	Subject string `json:"subject"`
	Count   int    `json:"count"`
}

// Wire compatibility with Confluent's own Python client, both ways:
//
//   - test/interop (pytest, confluent-kafka's Consumer + JSONDeserializer
//     with the SchemaRegistryClient pointed at eventguard dev's registry)
//     decodes and validates every record eventguard produced: a topic with
//     the topic strategy (pets) and one with topic_record and a schema with
//     a registry reference (orders), values equal to what was sent;
//   - it produces records with Confluent's JSONSerializer
//     (auto.register.schemas off, use.latest.version on), and eventguard's
//     validate package accepts every one: Unframe, Resolver.ByID, Validate.
func TestConfluentPythonInterop(t *testing.T) {
	py := pythonWithConfluent(t)
	ordersTopic := harness.UniqueName("e2e-py-orders")
	e := start(t, fmt.Sprintf(`topics:
  - name: %s
    subject_strategy: topic_record
    type_pointer: /event_type
`, ordersTopic))
	petsTopic, petsSS := e.topic("e2e-py-pets", "pets-value", 2)
	ordersSS := e.copySubject(ordersTopic+"-OrderPlaced", "orders-OrderPlaced", 1)
	pyTopic, pySS := e.topic("e2e-py-produce", "pets-value", 2)

	spec := interopSpec{
		Brokers:     strings.Join(e.brokers, ","),
		RegistryURL: e.sc.Registry,
		Produce:     interopProduceJob{Topic: pyTopic, Subject: pyTopic + "-value", Count: 5},
	}
	produce := func(topic, strategy, subject string, id int, recs []rec) {
		resp := e.mustPost(topic, recs, map[string]string{"Eventguard-Feature": "interop"}, http.StatusOK)
		it := interopTopic{Topic: topic, SubjectStrategy: strategy, Subject: subject, SchemaID: id}
		for i, r := range recs {
			if resp.Results[i].SchemaID != id || resp.Results[i].Subject != subject {
				t.Fatalf("%s record %d: produced as %s id %d, want %s id %d", topic, i, resp.Results[i].Subject, resp.Results[i].SchemaID, subject, id)
			}
			it.Records = append(it.Records, interopRecord{Key: r.Key, EventID: resp.Results[i].EventID, Value: r.Value})
		}
		spec.Consume = append(spec.Consume, it)
	}
	var pets []rec
	for i := range 4 {
		pets = append(pets, rec{Key: fmt.Sprintf("py-pet-%d", i), Value: petEvent(fmt.Sprintf("pet-%d", i), 3900+i), ID: fmt.Sprintf("interop-pet-%d", i)})
	}
	produce(petsTopic, "topic", petsTopic+"-value", petsSS.ID, pets)
	produce(ordersTopic, "topic_record", ordersTopic+"-OrderPlaced", ordersSS.ID, []rec{
		{Key: "order-typical", Value: golden(t, "orders-OrderPlaced/1/valid/typical.json")},
		{Key: "order-large", Value: golden(t, "orders-OrderPlaced/1/valid/large-13-items.json")},
	})

	specPath := filepath.Join(t.TempDir(), "interop-spec.json")
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "test/interop/test_confluent_interop.py")
	cmd.Dir = rootDir
	cmd.Env = append(os.Environ(), "INTEROP_SPEC="+specPath, "PYTHONDONTWRITEBYTECODE=1")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest test/interop/test_confluent_interop.py failed (%v) after %s:\n%s", err, time.Since(t0).Round(time.Millisecond), out)
	}
	summary := pytestSummary(out)
	if !regexp.MustCompile(`^\d+ passed in `).MatchString(summary) {
		t.Fatalf("pytest test/interop/test_confluent_interop.py: want only passed tests, got %q:\n%s", summary, out)
	}
	t.Logf("pytest test/interop/test_confluent_interop.py: %s", summary)

	// What Confluent's JSONSerializer wrote, checked by eventguard's validate.
	recs, err := harness.ConsumeGroup(ctx, e.brokers, pyTopic, harness.UniqueName("e2e-group"), spec.Produce.Count)
	if err != nil {
		t.Fatal(err)
	}
	regcl, err := harness.RegistryClient(e.sc.Registry)
	if err != nil {
		t.Fatal(err)
	}
	resolver := validate.NewResolver(regcl, validate.Options{})
	for _, r := range recs {
		id, payload, err := validate.Unframe(r.Value)
		if err != nil {
			t.Errorf("record %s: %v", r.Key, err)
			continue
		}
		if id != pySS.ID {
			t.Errorf("record %s: schema id %d in the wire format, want %d (%s latest)", r.Key, id, pySS.ID, spec.Produce.Subject)
		}
		s, err := resolver.ByID(ctx, id, spec.Produce.Subject)
		if err != nil {
			t.Fatalf("record %s: %v", r.Key, err)
		}
		if s.Subject != spec.Produce.Subject || s.Version != pySS.Version {
			t.Errorf("record %s: schema id %d resolves to %s version %d, want %s version %d", r.Key, id, s.Subject, s.Version, spec.Produce.Subject, pySS.Version)
		}
		if f := s.Validate(payload); f != nil {
			t.Errorf("record %s: eventguard refuses what Confluent's JSONSerializer wrote: %s %s: %q", r.Key, f.Code, f.Message, payload)
		}
		// The same record with a broken field must fail: the check is not vacuous.
		var doc map[string]any
		if err := json.Unmarshal(payload, &doc); err != nil {
			t.Fatalf("record %s: %v", r.Key, err)
		}
		doc["net_weight_grams"] = "heavy"
		broken, _ := json.Marshal(doc)
		if f := s.Validate(broken); f == nil || len(f.Violations) == 0 || f.Violations[0].Path != "/net_weight_grams" {
			t.Errorf("record %s with net_weight_grams a string: failure %+v, want a violation at /net_weight_grams", r.Key, f)
		}
	}
	t.Logf("eventguard's validate accepted all %d records Confluent's JSONSerializer produced", len(recs))
}

// pytestSummary returns pytest's closing summary ("3 passed in 1.2s").
func pytestSummary(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.Trim(lines[len(lines)-1], "= ")
	return last
}

// kcat (the librdkafka command line client) reads a record eventguard
// produced: key, headers in order (the caller's, then traceparent and the
// eventguard.* stamps) and the value bytes in Confluent wire format.
func TestKcatReadsRecordAndHeaders(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		unavailable(t, "kcat is not on PATH (apt-get install kcat)")
	}
	e := start(t, "")
	topic, ss := e.topic("e2e-kcat", "pets-value", 2)
	value := petEvent("pet-kcat", 4321)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	e.mustPost(topic, []rec{{Key: "kcat-key-1", Value: value, ID: "kcat-evt-1", Headers: map[string]string{"x-origin": "e2e"}}},
		map[string]string{"Eventguard-Feature": "kcat-check", "traceparent": "00-" + traceID + "-b7ad6b7169203331-01"}, http.StatusOK)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(e.brokers, ","), "-t", topic, "-o", "beginning", "-c", "1", "-e", "-f", "%k|%h|%s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.Bytes())
	}
	parts := bytes.SplitN(out, []byte("|"), 3)
	if len(parts) != 3 {
		t.Fatalf("kcat printed %q, want key|headers|value", out)
	}
	if string(parts[0]) != "kcat-key-1" {
		t.Errorf("key %q, want kcat-key-1", parts[0])
	}
	if want := wire(ss.ID, value); !bytes.Equal(parts[2], want) {
		t.Errorf("value\n got % x\nwant % x", parts[2], want)
	}
	var names []string
	hdr := map[string]string{}
	for _, kv := range strings.Split(string(parts[1]), ",") {
		k, v, _ := strings.Cut(kv, "=")
		names = append(names, k)
		hdr[k] = v
	}
	wantNames := []string{"x-origin", "traceparent", "eventguard.feature", "eventguard.event_id", "eventguard.subject", "eventguard.schema_version"}
	if strings.Join(names, ",") != strings.Join(wantNames, ",") {
		t.Errorf("header names %v, want %v", names, wantNames)
	}
	for k, v := range map[string]string{
		"x-origin": "e2e", "eventguard.feature": "kcat-check", "eventguard.event_id": "kcat-evt-1",
		"eventguard.subject": topic + "-value", "eventguard.schema_version": fmt.Sprint(ss.Version),
	} {
		if hdr[k] != v {
			t.Errorf("header %s = %q, want %q", k, hdr[k], v)
		}
	}
	if m := traceparentRe.FindStringSubmatch(hdr["traceparent"]); m == nil || m[1] != traceID {
		t.Errorf("traceparent %q does not continue trace %s", hdr["traceparent"], traceID)
	}
}
