package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// pythonWithIngressClients returns the Python of the interop suite with the
// CloudEvents SDK as well (bash .ci/run installs both into .venv); it skips
// the test (fails it in CI) when there is none.
func pythonWithIngressClients(t *testing.T) string {
	t.Helper()
	py := pythonWithConfluent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", "import cloudevents; print(cloudevents.__version__)").CombinedOutput()
	if err != nil {
		unavailable(t, "%s lacks the cloudevents package (%s); pip install cloudevents or run bash .ci/run", py, strings.TrimSpace(string(out)))
	}
	t.Logf("cloudevents (Python SDK) %s", strings.TrimSpace(string(out)))
	return py
}

// ingressSpec is what test/interop/test_restproxy.py and
// test_cloudevents.py read from the file named by INGRESS_SPEC.
type ingressSpec struct {
	HTTP        string       `json:"http"`
	Brokers     string       `json:"brokers"`
	RegistryURL string       `json:"registry_url"`
	RESTProxy   ingressTopic `json:"restproxy"`
	CloudEvents ingressTopic `json:"cloudevents"`
}

type ingressTopic struct {
	Topic      string          `json:"topic"`
	Partitions int             `json:"partitions"`
	Subject    string          `json:"subject"`
	SchemaID   int             `json:"schema_id"`
	Schema     string          `json:"schema"`
	Pet        json.RawMessage `json:"pet"`
	BadPet     json.RawMessage `json:"bad_pet"`
	// Deliveries names the file of what the app received (CloudEvents).
	Deliveries string `json:"deliveries,omitempty"`
}

// TestRESTProxyAndCloudEventsInterop: on a real broker, Confluent REST
// Proxy's produce API (v2, v3 and its streamed form, driven with plain HTTP
// from Python as its API reference documents it) and CloudEvents (the
// official Python SDK sending in binary, structured and batch mode) go
// through eventguard's contract check into Kafka, read back with
// Confluent's consumer and the SDK's Kafka binding; a subscription with
// deliver.format: cloudevents delivers the events to an app, and the SDK's
// HTTP binding reads every delivery back as the event sent.
func TestRESTProxyAndCloudEventsInterop(t *testing.T) {
	t.Parallel()
	py := pythonWithIngressClients(t)
	brokers := kafkaBrokers(t)
	rpTopic, ceTopic := harness.UniqueName("e2e-restproxy"), harness.UniqueName("e2e-cloudevents")
	createTopic(t, brokers, rpTopic, 3)
	createTopic(t, brokers, ceTopic, 3)
	app := newSink(t, always200)
	sub := newSubscription("ce", ceTopic, app.url("/events"))
	e := start(t, `feature: e2e-ingress
subscriptions:
  - name: `+sub.Name+`
    topics: [`+ceTopic+`]
    group: `+sub.Group+`
    deliver: {url: "`+sub.URL+`", format: cloudevents, timeout: 2s}
    retry: {attempts: 5, initial_backoff: 50ms, max_backoff: 200ms}
`)
	rpSS := e.copySubject(rpTopic+"-value", "pets-value", 2)
	ceSS := e.copySubject(ceTopic+"-value", "pets-value", 2)

	dir := t.TempDir()
	pet := petEvent("pet-42", 4210)
	bad := badPet("pet-42")
	spec := ingressSpec{
		HTTP: e.sc.HTTP, Brokers: strings.Join(brokers, ","), RegistryURL: e.sc.Registry,
		RESTProxy:   ingressTopic{Topic: rpTopic, Partitions: 3, Subject: rpSS.Subject, SchemaID: rpSS.ID, Schema: rpSS.Schema.Schema, Pet: pet, BadPet: bad},
		CloudEvents: ingressTopic{Topic: ceTopic, Partitions: 3, Subject: ceSS.Subject, SchemaID: ceSS.ID, Pet: pet, BadPet: bad, Deliveries: filepath.Join(dir, "deliveries.json")},
	}
	specPath := filepath.Join(dir, "ingress-spec.json")
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pytest := func(k string, want *regexp.Regexp) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
			"test/interop/test_restproxy.py", "test/interop/test_cloudevents.py", "-k", k)
		cmd.Dir = rootDir
		cmd.Env = append(os.Environ(), "INGRESS_SPEC="+specPath, "PYTHONDONTWRITEBYTECODE=1")
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pytest -k %q failed (%v) after %s:\n%s", k, err, time.Since(t0).Round(time.Millisecond), out)
		}
		if s := pytestSummary(out); !want.MatchString(s) {
			t.Fatalf("pytest -k %q: got %q:\n%s", k, s, out)
		}
		t.Logf("pytest -k %q: %s", k, pytestSummary(out))
	}
	pytest("not deliveries", regexp.MustCompile(`^8 passed, 1 deselected in `))

	// The five events the Python SDK sent reach the app as CloudEvents.
	app.waitOK(5, 60*time.Second)
	type delivered struct {
		Headers map[string][]string `json:"headers"`
		Body    string              `json:"body"`
	}
	var ds []delivered
	for _, d := range app.delivered() {
		ds = append(ds, delivered{Headers: d.Header, Body: string(d.Body)})
	}
	b, _ = json.Marshal(ds)
	if err := os.WriteFile(spec.CloudEvents.Deliveries, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pytest("deliveries", regexp.MustCompile(`^1 passed, 8 deselected in `))
	if n := mustCount(t, brokers, ceTopic+".dlq"); n != 0 {
		t.Errorf("%s.dlq holds %d records, want none", ceTopic, n)
	}
}
