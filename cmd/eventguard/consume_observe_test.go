package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/telemetry"
)

// appServer is the app behind the sidecar: it records every delivery and
// answers by pet id for one subscription: pet-reject gets 400 (dead-letter
// it), pet-flaky 500 once then 200 (retry), the rest 200.
type appServer struct {
	mu        sync.Mutex
	flakySeen bool
	got       []delivered
}

type delivered struct {
	subscription, petID, traceparent string
	status                           int
}

func (a *appServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var v struct {
		PetID string `json:"pet_id"`
	}
	_ = json.Unmarshal(b, &v)
	sub := r.Header.Get(consume.HeaderSubscription)
	a.mu.Lock()
	status := http.StatusOK
	if sub == "analytics" {
		switch v.PetID {
		case "pet-reject":
			status = http.StatusBadRequest
		case "pet-flaky":
			if !a.flakySeen {
				status, a.flakySeen = http.StatusInternalServerError, true
			}
		}
	}
	a.got = append(a.got, delivered{sub, v.PetID, r.Header.Get("traceparent"), status})
	a.mu.Unlock()
	w.WriteHeader(status)
}

func (a *appServer) deliveries() []delivered {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]delivered(nil), a.got...)
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func petV2For(id string) string {
	return strings.Replace(petV2, `"pet_id":"pet-42"`, `"pet_id":"`+id+`"`, 1)
}

// TestConsumeObservability runs two subscriptions (two consumer groups) on
// the pets topic in a fully wired sidecar (its own consume loops, started
// and observed as `eventguard run` does), with the app accepting,
// refusing and failing once, plus a record that is not in the wire format;
// then checks every consume-side metric family, the deprecated-version
// count (ghost consumers), the catalog with two features and two groups,
// the dead-letter log lines, and that the trace id sent by the producer
// reaches the app's delivery request, parented on the deliver span.
func TestConsumeObservability(t *testing.T) {
	app := &appServer{}
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	exp := tracetest.NewInMemoryExporter()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Telemetry.Tracing, c.Telemetry.SampleRatio = true, 1
		c.Deprecations = []config.Deprecation{{Subject: "pets-value", Version: 1, Sunset: date(t, "2099-03-31")}}
		retry := config.Retry{Attempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
		c.Subscriptions = []config.Subscription{
			{Name: "analytics", Topics: []string{"pets"}, Group: "weight-analytics", Deliver: config.Deliver{URL: appSrv.URL}, Retry: retry},
			{Name: "alerts", Topics: []string{"pets"}, Group: "vet-alerts", Deliver: config.Deliver{URL: appSrv.URL}, Retry: retry},
		}
	}, sidecarHooks{spanExporter: exp})

	// Produce: traced pet-1 from weight-sync, pet-reject and pet-flaky from
	// weight-sync, a deprecated v1 from vet-portal.
	const traceID = "5b8efff798038103d269b633813fc60c"
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "weight-sync", "traceparent": "00-" + traceID + "-eee19b7ec3c1b174-01"}, records(petV2For("pet-1"))); resp.StatusCode != 200 {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "weight-sync"}, records(petV2For("pet-reject"), petV2For("pet-flaky"))); resp.StatusCode != 200 {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}
	if resp, body := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "vet-portal"}, `{"records":[{"key":"pet-42","schema_version":1,"value":`+petV1+`}]}`); resp.StatusCode != 200 {
		t.Fatalf("produce v1: %d %s", resp.StatusCode, body)
	}
	// A record that bypassed eventguard and is not in the wire format.
	raw, err := kgo.NewClient(kgo.SeedBrokers(r.stack.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.ProduceSync(context.Background(), &kgo.Record{Topic: "pets", Value: []byte(`{"pet_id":"raw"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Wait until every record is finished in both groups: 4 delivered or
	// dead-lettered valid records and 1 dead-lettered raw record each.
	finished := func() float64 {
		fams, err := r.sc.prom.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, f := range fams {
			if f.GetName() != telemetry.MetricRecords {
				continue
			}
			for _, m := range f.GetMetric() {
				l := labelsOf(m)
				if l["direction"] == "consume" && (l["outcome"] == "delivered" || l["outcome"] == "dead_lettered") {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for finished() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("consume did not finish: %v finished; deliveries %v", finished(), app.deliveries())
		}
		time.Sleep(50 * time.Millisecond)
	}

	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(subject, version, group, outcome, reason string) map[string]string {
		return map[string]string{"direction": "consume", "topic": "pets", "subject": subject, "version": version, "feature": "", "group": group, "outcome": outcome, "reason": reason}
	}
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "2", "weight-analytics", "delivered", ""), 2)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "1", "weight-analytics", "delivered", ""), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "2", "weight-analytics", "retried", ""), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "2", "weight-analytics", "dead_lettered", dlq.ReasonRejectedByApp), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("unknown", "unknown", "weight-analytics", "dead_lettered", dlq.ReasonNotWireFormat), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "2", "vet-alerts", "delivered", ""), 3)
	wantMetric(t, fams, telemetry.MetricRecords, rec("pets-value", "1", "vet-alerts", "delivered", ""), 1)
	wantMetric(t, fams, telemetry.MetricRecords, rec("unknown", "unknown", "vet-alerts", "dead_lettered", dlq.ReasonNotWireFormat), 1)
	dep := func(group string) map[string]string {
		return map[string]string{"direction": "consume", "subject": "pets-value", "version": "1", "feature": "", "group": group}
	}
	wantMetric(t, fams, telemetry.MetricDeprecated, dep("weight-analytics"), 1)
	wantMetric(t, fams, telemetry.MetricDeprecated, dep("vet-alerts"), 1)
	wantMetric(t, fams, telemetry.MetricConsumeLag, map[string]string{"topic": "pets", "group": "weight-analytics"}, 3)
	// Every record in wire format with a known schema, in each group.
	wantMetric(t, fams, telemetry.MetricValidation, map[string]string{"direction": "consume"}, 8)
	wantMetric(t, fams, telemetry.MetricConsumeLag, map[string]string{"topic": "pets", "group": "vet-alerts"}, 4)
	wantMetric(t, fams, telemetry.MetricDeliveryDuration, map[string]string{"group": "weight-analytics", "result": "ok"}, 3)
	wantMetric(t, fams, telemetry.MetricDeliveryDuration, map[string]string{"group": "weight-analytics", "result": "retry"}, 1)
	wantMetric(t, fams, telemetry.MetricDeliveryDuration, map[string]string{"group": "weight-analytics", "result": "rejected"}, 1)
	wantMetric(t, fams, telemetry.MetricDLQWrites, map[string]string{"topic": "pets.dlq", "group": "weight-analytics", "reason": dlq.ReasonRejectedByApp}, 1)
	wantMetric(t, fams, telemetry.MetricDLQWrites, map[string]string{"topic": "pets.dlq", "group": "vet-alerts", "reason": dlq.ReasonNotWireFormat}, 1)
	if v, ok := metricValue(t, fams, telemetry.MetricSchemaLookups, map[string]string{"kind": "id", "outcome": "hit"}); !ok || v < 1 {
		t.Errorf("id lookups hit = %v", v)
	}

	// The catalog: two features produced, two groups consumed.
	var snap catalog.Snapshot
	if err := json.Unmarshal(r.get(t, "/v1/catalog"), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Entries) != 2 {
		t.Fatalf("catalog: %+v", snap.Entries)
	}
	v1, v2 := snap.Entries[0], snap.Entries[1]
	names := func(us []catalog.Usage) string {
		var out []string
		for _, u := range us {
			out = append(out, u.Name+"="+strings.TrimSpace(strings.Repeat("I", int(u.Count))))
		}
		return strings.Join(out, ",")
	}
	if !v1.Deprecated || names(v1.Producers) != "vet-portal=I" || names(v1.Consumers) != "vet-alerts=I,weight-analytics=I" {
		t.Errorf("v1 entry: deprecated %v producers %s consumers %s", v1.Deprecated, names(v1.Producers), names(v1.Consumers))
	}
	if names(v2.Producers) != "weight-sync=III" || names(v2.Consumers) != "vet-alerts=III,weight-analytics=III" {
		t.Errorf("v2 entry: producers %s consumers %s", names(v2.Producers), names(v2.Consumers))
	}

	// Dead-letter log lines name the record's facts and its trace.
	dl := r.logs.lines(t, "record dead-lettered")
	if len(dl) != 3 {
		t.Fatalf("%d dead-letter lines, want 3: %v", len(dl), dl)
	}
	for _, l := range dl {
		if l["topic"] != "pets" || l["group"] == nil || l["reason"] == nil || l["trace_id"] == nil || l["subject"] == nil || l["version"] == nil {
			t.Errorf("dead-letter line lacks facts: %v", l)
		}
	}
	if l := r.logs.lines(t, "deprecated schema version consumed"); len(l) != 2 {
		t.Errorf("%d consumed-deprecated lines, want one per group: %v", len(l), l)
	}

	// Trace: producer → Kafka → process → deliver → the app's request.
	spans := exp.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	var tp string
	for _, d := range app.deliveries() {
		if d.subscription == "analytics" && d.petID == "pet-1" {
			tp = d.traceparent
		}
	}
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[1] != traceID {
		t.Fatalf("app got traceparent %q, want trace %s", tp, traceID)
	}
	deliver, ok := byID[parts[2]]
	if !ok || deliver.Name != "deliver pets" {
		t.Fatalf("the app's parent span %s is not a deliver span: %+v", parts[2], deliver.Name)
	}
	process, ok := byID[deliver.Parent.SpanID().String()]
	if !ok || process.Name != "process pets" {
		t.Fatalf("deliver's parent is %q", process.Name)
	}
	produceSpan, ok := byID[process.Parent.SpanID().String()]
	if !ok || produceSpan.Name != "produce pets" || produceSpan.SpanContext.TraceID().String() != traceID {
		t.Fatalf("process's parent is %q", produceSpan.Name)
	}
	// Each dead-lettered record has a dead-letter span under its process span.
	deadLetters := 0
	for _, sp := range spans {
		if sp.Name != "dead-letter pets" {
			continue
		}
		deadLetters++
		if p, ok := byID[sp.Parent.SpanID().String()]; !ok || p.Name != "process pets" {
			t.Errorf("dead-letter span's parent is %q", p.Name)
		}
	}
	if deadLetters != 3 {
		t.Errorf("%d dead-letter spans, want 3", deadLetters)
	}
}
