package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/devstack"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry"
)

// syncBuffer is a log sink safe for the sidecar's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// running is a sidecar serving on loopback against kfake and srfake with
// the example contracts registered.
type running struct {
	stack *devstack.Stack
	sc    *sidecar
	http  string // base URL of the HTTP ingress
	admin string // base URL of the admin listener
	logs  *syncBuffer
}

// startSidecar starts the whole sidecar, as `eventguard run` wires it, and
// waits until /readyz passes. prepare may seed the registry before the
// sidecar starts; edit adjusts the configuration.
func startSidecar(t *testing.T, prepare func(*devstack.Stack), edit func(*config.Config), hooks ...sidecarHooks) *running {
	t.Helper()
	stack, err := devstack.Start(devstack.Options{Partitions: 1})
	if err != nil {
		t.Fatalf("start kfake and srfake: %v", err)
	}
	t.Cleanup(stack.Close)
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		t.Fatalf("load example contracts: %v", err)
	}
	regcl, err := sr.NewClient(sr.URLs(stack.RegistryURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := set.Register(ctx, regcl); err != nil {
		t.Fatalf("register example contracts: %v", err)
	}
	if prepare != nil {
		prepare(stack)
	}

	cfg := &config.Config{}
	cfg.Feature = "checkout"
	cfg.Instance = "test-pod"
	cfg.AllowAnyTopic = true
	cfg.Kafka.Brokers = stack.Brokers
	cfg.Kafka.AutoCreateTopics = true
	cfg.Registry.URL = stack.RegistryURL
	cfg.Listen.HTTP, cfg.Listen.Admin, cfg.Listen.GRPC = "127.0.0.1:0", "127.0.0.1:0", config.ListenerOff
	cfg.Topics = []config.Topic{{Name: "pets"}, {Name: "orders", SubjectStrategy: config.StrategyTopicRecord, TypePointer: "/event_type"}}
	if edit != nil {
		edit(cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncBuffer{}
	log, err := telemetry.NewLogger(logs, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newSidecar(cfg, log, hooks...)
	if err != nil {
		t.Fatalf("newSidecar: %v", err)
	}
	lns, err := sc.listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.run(runCtx, lns) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sidecar run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("sidecar did not stop")
		}
	})
	scheme, poll := "http://", http.DefaultClient
	if cfg.Listen.TLS.CertFile != "" {
		// listen.tls: readiness is polled without verifying the
		// certificate; tests ask with clients of their own.
		scheme, poll = "https://", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	r := &running{stack: stack, sc: sc, http: scheme + sc.addrs["http"], admin: scheme + sc.addrs["admin"], logs: logs}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := poll.Get(r.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// produce posts body to topic with extra request headers and returns the
// response.
func (r *running) produce(t *testing.T, topic string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.http+"/v1/topics/"+topic+"/records", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (r *running) get(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get(r.admin + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

const (
	petV1 = `{"event_type":"pet.weight.updated.v1","pet_id":"pet-42","device_id":"bowl-7f3a","weight_grams":4210,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`
	petV2 = `{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`
	// petV2Bad has the weight as a string.
	petV2Bad = `{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":"4210","tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`
	legacy   = `{"id":"x"}`
)

func records(values ...string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf(`{"key":"pet-42","value":%s}`, v)
	}
	return `{"records":[` + strings.Join(parts, ",") + `]}`
}

// seedLegacy registers subject legacy-value whose registry metadata
// deprecates version 1 (sunset passed, reject), and a version 2.
func seedLegacy(s *devstack.Stack) {
	meta := &sr.SchemaMetadata{Properties: map[string]string{
		check.MetadataSunset:      "2020-01-31",
		check.MetadataOwner:       "team-legacy",
		check.MetadataReplacement: "legacy-value:2",
		check.MetadataAfterSunset: "reject",
	}}
	if _, _, err := s.Registry.RegisterSchema("legacy-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`, SchemaMetadata: meta}); err != nil {
		panic(err)
	}
	if _, _, err := s.Registry.RegisterSchema("legacy-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","required":["id"]}`}); err != nil {
		panic(err)
	}
	// warned-value version 1: the metadata says reject after a passed
	// sunset, but the config declares it too (warn), and the config wins.
	meta2 := &sr.SchemaMetadata{Properties: map[string]string{check.MetadataSunset: "2020-01-31", check.MetadataAfterSunset: "reject"}}
	if _, _, err := s.Registry.RegisterSchema("warned-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","title":"warned"}`, SchemaMetadata: meta2}); err != nil {
		panic(err)
	}
}

func metricValue(t *testing.T, fams []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func seriesCount(fams []*dto.MetricFamily, name string) int {
	for _, f := range fams {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

func wantMetric(t *testing.T, fams []*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := metricValue(t, fams, name, labels)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestProduceMetricsAfterTraffic sends real traffic through the HTTP ingress
// of a fully wired sidecar and asserts every produce-side metric family and
// its labels, the label bounds, the deprecation sources and the log lines.
func TestProduceMetricsAfterTraffic(t *testing.T) {
	r := startSidecar(t, seedLegacy, func(c *config.Config) {
		c.Deprecations = []config.Deprecation{
			{Subject: "pets-value", Version: 1, Since: date(t, "2026-10-01"), Sunset: date(t, "2099-03-31"), Owner: "team-pets", Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}, AfterSunset: "reject"},
			{Subject: "warned-value", Version: 1, Sunset: date(t, "2020-01-31"), AfterSunset: "warn"},
		}
	})

	// Two valid v2 records from weight-sync.
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "weight-sync"}, records(petV2, petV2)); resp.StatusCode != 200 {
		t.Fatalf("valid batch: %d %s", resp.StatusCode, body)
	}
	// A deprecated v1 record from the default feature (checkout): 200 with
	// the deprecation headers.
	resp, body := r.produce(t, "pets", nil, `{"records":[{"key":"pet-42","schema_version":1,"value":`+petV1+`}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("Deprecation") != "@1790812800" || resp.Header.Get("Sunset") != "Tue, 31 Mar 2099 00:00:00 GMT" ||
		!strings.Contains(resp.Header.Get("Link"), "/subjects/pets-value/versions/2>") {
		t.Fatalf("deprecated v1: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// An invalid record in a batch with a valid one: 422, nothing produced.
	traceparent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "weight-sync", "traceparent": traceparent}, records(petV2, petV2Bad)); resp.StatusCode != 422 {
		t.Fatalf("invalid batch: %d %s", resp.StatusCode, body)
	}
	// A topic whose subject is not in the registry, from an unknown feature.
	if resp, body := r.produce(t, "ghost-topic", map[string]string{"Eventguard-Feature": "feature-x"}, records(petV2)); resp.StatusCode != 404 {
		t.Fatalf("unknown subject: %d %s", resp.StatusCode, body)
	}
	// Registry metadata deprecates legacy-value 1 with a passed sunset and
	// reject: 422 deprecated_version_sunset.
	resp, body = r.produce(t, "legacy", nil, `{"records":[{"schema_version":1,"value":`+legacy+`}]}`)
	if resp.StatusCode != 422 || !strings.Contains(body, produce.CodeDeprecated) || resp.Header.Get("Sunset") != "Fri, 31 Jan 2020 00:00:00 GMT" ||
		!strings.Contains(resp.Header.Get("Link"), "/subjects/legacy-value/versions/2>") {
		t.Fatalf("sunset legacy-value 1 (registry metadata): %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// warned-value 1: metadata says reject, the config says warn; config wins.
	if resp, body := r.produce(t, "warned", nil, `{"records":[{"value":{}}]}`); resp.StatusCode != 200 || resp.Header.Get("Deprecation") == "" {
		t.Fatalf("warned-value 1 (config wins over metadata): %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A malformed body never reaches the pipeline: counted by status only.
	if resp, _ := r.produce(t, "pets", nil, `{"records":`); resp.StatusCode != 400 {
		t.Fatalf("malformed body: %d", resp.StatusCode)
	}

	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(topic, subject, version, feature, outcome, reason string) map[string]string {
		return map[string]string{"direction": "produce", "topic": topic, "subject": subject, "version": version, "feature": feature, "group": "", "outcome": outcome, "reason": reason}
	}
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets", "pets-value", "2", "weight-sync", "accepted", ""), 2)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets", "pets-value", "1", "checkout", "accepted", ""), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets", "pets-value", "2", "weight-sync", "rejected", "schema_violation"), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets", "pets-value", "2", "weight-sync", "rejected", produce.ReasonBatchRejected), 1)
	// Never resolved: the topic and the feature are not label values.
	wantMetric(t, fams, telemetry.MetricRecords, rec("other", "unknown", "unknown", "other", "rejected", "schema_not_found"), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("legacy", "legacy-value", "1", "checkout", "rejected", produce.CodeDeprecated), 1)
	for _, f := range fams {
		if f.GetName() != telemetry.MetricRecords {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); v == "ghost-topic" || v == "feature-x" || v == "ghost-topic-value" {
					t.Errorf("unresolved value %q became a label: %v", v, m.GetLabel())
				}
			}
		}
	}
	dep := func(subject, version, feature string) map[string]string {
		return map[string]string{"direction": "produce", "subject": subject, "version": version, "feature": feature, "group": ""}
	}
	wantMetric(t, fams, telemetry.MetricDeprecated, dep("pets-value", "1", "checkout"), 1)
	wantMetric(t, fams, telemetry.MetricDeprecated, dep("legacy-value", "1", "checkout"), 1)
	wantMetric(t, fams, telemetry.MetricDeprecated, dep("warned-value", "1", "checkout"), 1)
	// 7 records validated against a schema (2 + 1 + 2 + 1 legacy + 1 warned).
	wantMetric(t, fams, telemetry.MetricValidation, map[string]string{"direction": "produce"}, 7)
	// Three requests reached Kafka and were acknowledged.
	wantMetric(t, fams, telemetry.MetricProduceDuration, map[string]string{"topic": "pets"}, 2)
	wantMetric(t, fams, telemetry.MetricProduceDuration, map[string]string{"topic": "warned"}, 1)
	if v, ok := metricValue(t, fams, telemetry.MetricSchemaLookups, map[string]string{"kind": "latest", "outcome": "hit"}); !ok || v < 1 {
		t.Errorf("latest hits = %v (%v), want ≥ 1", v, ok)
	}
	wantMetric(t, fams, telemetry.MetricSchemaLookups, map[string]string{"kind": "version", "outcome": "miss"}, 2)
	wantMetric(t, fams, telemetry.MetricSchemaLookups, map[string]string{"kind": "latest", "outcome": "error"}, 1)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "http", "status": "200"}, 3)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "http", "status": "422"}, 2)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "http", "status": "404"}, 1)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "http", "status": "400"}, 1)
	wantMetric(t, fams, telemetry.MetricInflight, map[string]string{"transport": "http"}, 0)
	wantMetric(t, fams, telemetry.MetricBuffered, nil, 0)
	wantMetric(t, fams, telemetry.MetricPanics, map[string]string{"component": "validate"}, 0)
	wantMetric(t, fams, telemetry.MetricPanics, map[string]string{"component": "http"}, 0)
	wantMetric(t, fams, telemetry.MetricBuildInfo, map[string]string{"version": "dev"}, 1)

	// /metrics serves the same registry.
	text := string(r.get(t, "/metrics"))
	for _, name := range []string{telemetry.MetricRecords, telemetry.MetricBuildInfo, telemetry.MetricBuffered, telemetry.MetricPanics, "go_goroutines"} {
		if !strings.Contains(text, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if n := seriesCount(fams, telemetry.MetricRecords); n != 7 {
		t.Errorf("%s has %d series, want 7", telemetry.MetricRecords, n)
	}

	// Logs: one line per rejected record with its facts and the trace id;
	// nothing per accepted record.
	rej := r.logs.lines(t, "record rejected")
	if len(rej) != 3 {
		t.Fatalf("%d 'record rejected' lines, want 3 (schema_violation, schema_not_found, sunset): %v", len(rej), rej)
	}
	v := rej[0]
	if v["topic"] != "pets" || v["subject"] != "pets-value" || v["version"] != float64(2) || v["feature"] != "weight-sync" ||
		v["code"] != "schema_violation" || v["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || v["index"] != float64(1) {
		t.Errorf("rejected line: %v", v)
	}
	if v := rej[1]; v["topic"] != "ghost-topic" || v["code"] != "schema_not_found" || v["feature"] != "feature-x" {
		t.Errorf("unresolved rejected line: %v", v)
	}
	if v := rej[2]; v["subject"] != "legacy-value" || v["version"] != float64(1) || v["code"] != produce.CodeDeprecated {
		t.Errorf("sunset rejected line: %v", v)
	}
	if l := r.logs.lines(t, "request rejected"); len(l) != 0 {
		t.Errorf("request-level rejections logged: %v", l)
	}
	if l := r.logs.lines(t, "record produced"); len(l) != 0 {
		t.Errorf("accepted records logged: %v", l)
	}
	if l := r.logs.lines(t, "deprecated schema version produced"); len(l) != 3 {
		t.Errorf("%d deprecation lines, want 3 (one per subject version and feature): %v", len(l), l)
	}
}

func date(t *testing.T, s string) config.Date {
	t.Helper()
	var d config.Date
	if err := d.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCatalogAfterTraffic checks GET /v1/catalog after produce traffic from
// two features: one entry per topic, subject and version, its features with
// counts, sorted.
func TestCatalogAfterTraffic(t *testing.T) {
	r := startSidecar(t, nil, nil)
	for i, f := range []string{"weight-sync", "weight-sync", "vet-portal"} {
		if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": f}, records(petV2)); resp.StatusCode != 200 {
			t.Fatalf("produce %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "vet-portal"}, `{"records":[{"schema_version":1,"value":`+petV1+`}]}`); resp.StatusCode != 200 {
		t.Fatalf("produce v1: %d %s", resp.StatusCode, body)
	}
	// Rejected and unresolved traffic does not enter the catalog.
	r.produce(t, "pets", map[string]string{"Eventguard-Feature": "weight-sync"}, records(petV2Bad))
	r.produce(t, "ghost-topic", nil, records(petV2))

	var snap catalog.Snapshot
	if err := json.Unmarshal(r.get(t, "/v1/catalog"), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Instance != "test-pod" || snap.Since.IsZero() {
		t.Errorf("snapshot header: %+v", snap)
	}
	if len(snap.Entries) != 2 {
		t.Fatalf("entries: %+v", snap.Entries)
	}
	e1, e2 := snap.Entries[0], snap.Entries[1]
	if e1.Topic != "pets" || e1.Subject != "pets-value" || e1.Version != 1 || len(e1.Producers) != 1 || e1.Producers[0].Name != "vet-portal" || e1.Producers[0].Count != 1 {
		t.Errorf("entry 1: %+v", e1)
	}
	if e2.Version != 2 || len(e2.Producers) != 2 || e2.Producers[0].Name != "vet-portal" || e2.Producers[0].Count != 1 ||
		e2.Producers[1].Name != "weight-sync" || e2.Producers[1].Count != 2 || e2.Producers[1].FirstSeen.After(e2.Producers[1].LastSeen) {
		t.Errorf("entry 2: %+v", e2)
	}
}

// TestTraceContextToKafka sends a traceparent with tracing on (in-memory
// exporter, every trace sampled) and checks the spans' parentage and the
// traceparent stamped on the Kafka record.
func TestTraceContextToKafka(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Telemetry.Tracing = true
		c.Telemetry.SampleRatio = 1
	}, sidecarHooks{spanExporter: exp})

	const traceID, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	resp, body := r.produce(t, "pets", map[string]string{"traceparent": "00-" + traceID + "-" + callerSpan + "-01"}, records(petV2))
	if resp.StatusCode != 200 {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}

	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	ingress, ok1 := spans["POST /v1/topics/{topic}/records"]
	prod, ok2 := spans["produce pets"]
	val, ok3 := spans["validate pets"]
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("spans: %v", exp.GetSpans().Snapshots())
	}
	if ingress.SpanContext.TraceID().String() != traceID || ingress.Parent.SpanID().String() != callerSpan || ingress.SpanKind != trace.SpanKindServer {
		t.Errorf("ingress span: trace %s parent %s kind %v", ingress.SpanContext.TraceID(), ingress.Parent.SpanID(), ingress.SpanKind)
	}
	if prod.Parent.SpanID() != ingress.SpanContext.SpanID() || prod.SpanKind != trace.SpanKindProducer {
		t.Errorf("produce span parent %s, want the ingress span %s", prod.Parent.SpanID(), ingress.SpanContext.SpanID())
	}
	if val.Parent.SpanID() != prod.SpanContext.SpanID() {
		t.Errorf("validate span parent %s, want the produce span %s", val.Parent.SpanID(), prod.SpanContext.SpanID())
	}
	attrs := map[string]string{}
	for _, a := range prod.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	for k, v := range map[string]string{"messaging.system": "kafka", "messaging.destination.name": "pets", "messaging.kafka.message.key": "pet-42", "messaging.destination.partition.id": "0", "messaging.kafka.offset": "0"} {
		if attrs[k] != v {
			t.Errorf("produce span %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	var res struct {
		Service, Instance string
	}
	for _, a := range prod.Resource.Attributes() {
		switch a.Key {
		case "service.name":
			res.Service = a.Value.AsString()
		case "service.instance.id":
			res.Instance = a.Value.AsString()
		}
	}
	if res.Service != "eventguard" || res.Instance != "test-pod" {
		t.Errorf("resource: %+v", res)
	}

	// The record on Kafka carries the produce span as its parent.
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.stack.Brokers...), kgo.ConsumeTopics("pets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetches := cl.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records on pets", len(recs))
	}
	tp, _ := kafka.Header(recs[0].Headers, kafka.HeaderTraceparent)
	want := "00-" + traceID + "-" + prod.SpanContext.SpanID().String() + "-01"
	if tp != want {
		t.Errorf("record traceparent %q, want %q", tp, want)
	}
}

// TestRefusedRequestMetrics: a request refused as a whole (topic not in the
// allow-list) counts each of its records under topic="other" and logs one
// line for the request, not one per record.
func TestRefusedRequestMetrics(t *testing.T) {
	r := startSidecar(t, nil, func(c *config.Config) { c.AllowAnyTopic = false })
	if resp, body := r.produce(t, "secret-topic", map[string]string{"Eventguard-Feature": "intruder"}, records(petV2, petV2)); resp.StatusCode != 403 {
		t.Fatalf("not allowed: %d %s", resp.StatusCode, body)
	}
	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	wantMetric(t, fams, telemetry.MetricRecords, map[string]string{"direction": "produce", "topic": "other", "subject": "unknown", "version": "unknown",
		"feature": "other", "group": "", "outcome": "rejected", "reason": produce.CodeTopicNotAllowed}, 2)
	wantMetric(t, fams, telemetry.MetricIngressRequests, map[string]string{"transport": "http", "status": "403"}, 1)
	l := r.logs.lines(t, "request rejected")
	if len(l) != 1 || l[0]["topic"] != "secret-topic" || l[0]["records"] != float64(2) || l[0]["code"] != produce.CodeTopicNotAllowed || l[0]["feature"] != "intruder" {
		t.Errorf("request rejected lines: %v", l)
	}
	if l := r.logs.lines(t, "record rejected"); len(l) != 0 {
		t.Errorf("per-record lines for a refused request: %v", l)
	}
}
