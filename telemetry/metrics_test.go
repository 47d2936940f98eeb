package telemetry

import (
	"github.com/eventguard/eventguard/telemetry/span"

	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// TestLabelBounds: a topic or subject that never resolved, a feature not
// configured and not resolved, and a group not configured never become
// label values; learned values stop at MaxValues.
func TestLabelBounds(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Topics: []string{"pets"}, Features: []string{"checkout"}, Groups: []string{"analytics"}, MaxValues: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Before resolution: allow-listed topic and configured feature stay.
	m.Record(RecordLabels{Direction: DirectionProduce, Topic: "pets", Feature: "checkout"}, "rejected", "reserved_header", 1)
	// Never resolved, unknown topic and feature: other/unknown.
	m.Record(RecordLabels{Direction: DirectionProduce, Topic: "random-1", Feature: "random-f"}, "rejected", "schema_not_found", 1)
	// Resolved: learned, up to the cap of 2 per label.
	for _, topic := range []string{"t1", "t2", "t3"} {
		m.Record(RecordLabels{Direction: DirectionProduce, Topic: topic, Subject: topic + "-value", Version: 1, Feature: "f-" + topic}, "accepted", "", 1)
	}
	m.Record(RecordLabels{Direction: DirectionConsume, Topic: "pets", Subject: "pets-value", Version: 2, Group: "analytics"}, "delivered", "", 1)
	m.Record(RecordLabels{Direction: DirectionConsume, Topic: "pets", Subject: "pets-value", Version: 2, Group: "stranger"}, "delivered", "", 1)
	m.Deprecated(RecordLabels{Direction: DirectionConsume, Topic: "pets", Subject: "pets-value", Version: 1, Group: "analytics"}, 1)
	m.Deprecated(RecordLabels{Direction: DirectionProduce, Topic: "pets"}, 1) // unresolved: not counted

	got := map[string]bool{}
	for _, s := range gather(t, reg)[MetricRecords].GetMetric() {
		l := labelsOf(s)
		got[strings.Join([]string{l["direction"], l["topic"], l["subject"], l["version"], l["feature"], l["group"], l["outcome"], l["reason"]}, "|")] = true
	}
	for _, want := range []string{
		"produce|pets|unknown|unknown|checkout||rejected|reserved_header",
		"produce|other|unknown|unknown|other||rejected|schema_not_found",
		"produce|t1|t1-value|1|f-t1||accepted|",
		"produce|t2|t2-value|1|f-t2||accepted|",
		"produce|other|other|unknown|other||accepted|",     // t3: every cap reached
		"consume|pets|other|unknown||analytics|delivered|", // subject cap reached too
		"consume|pets|other|unknown||other|delivered|",     // group not configured
	} {
		if !got[want] {
			t.Errorf("missing series %s; have %v", want, got)
		}
	}
	for k := range got {
		for _, bad := range []string{"random-1", "random-f", "t3", "stranger"} {
			if strings.Contains(k, bad) {
				t.Errorf("series %s carries the unbounded value %q", k, bad)
			}
		}
	}
	dep := gather(t, reg)[MetricDeprecated].GetMetric()
	if len(dep) != 1 || dep[0].GetCounter().GetValue() != 1 || labelsOf(dep[0])["group"] != "analytics" {
		t.Errorf("deprecated: %v", dep)
	}
}

// TestMetricFamilies calls every recording method once and checks each
// family's name, type and labels.
func TestMetricFamilies(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Topics: []string{"pets", "pets.dlq"}, Groups: []string{"g"}, Version: "1.2.3", Commit: "abc", GoVersion: "go1.26"})
	if err != nil {
		t.Fatal(err)
	}
	var panics int64 = 3
	if err := m.RegisterPanics("validate", func() int64 { return panics }); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterPanics("validate", func() int64 { return 0 }); err == nil {
		t.Error("second registration of a component accepted")
	}
	if err := m.RegisterPanics("http", func() int64 { return 1 }); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterBuffered(func() int64 { return 42 }); err != nil {
		t.Fatal(err)
	}
	m.Validated(DirectionProduce, 40*time.Microsecond)
	m.Produced("pets", 3*time.Millisecond)
	m.Lag("pets", "g", 2*time.Second)
	m.Delivery("g", "ok", time.Millisecond)
	m.SchemaLookup("id", "hit")
	m.DLQWrite("pets.dlq", "g", "schema_violation")
	done := m.InFlight("grpc")
	m.Answered("grpc", "OK")

	fams := gather(t, reg)
	for name, want := range map[string]struct {
		typ    dto.MetricType
		labels string
		value  float64
	}{
		MetricValidation:       {dto.MetricType_HISTOGRAM, "direction=produce", 1},
		MetricProduceDuration:  {dto.MetricType_HISTOGRAM, "topic=pets", 1},
		MetricConsumeLag:       {dto.MetricType_HISTOGRAM, "group=g,topic=pets", 1},
		MetricDeliveryDuration: {dto.MetricType_HISTOGRAM, "group=g,result=ok", 1},
		MetricSchemaLookups:    {dto.MetricType_COUNTER, "kind=id,outcome=hit", 1},
		MetricDLQWrites:        {dto.MetricType_COUNTER, "group=g,reason=schema_violation,topic=pets.dlq", 1},
		MetricIngressRequests:  {dto.MetricType_COUNTER, "status=OK,transport=grpc", 1},
		MetricBuffered:         {dto.MetricType_GAUGE, "", 42},
		MetricBuildInfo:        {dto.MetricType_GAUGE, "commit=abc,goversion=go1.26,version=1.2.3", 1},
	} {
		f := fams[name]
		if f == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s: type %v", name, f.GetType())
			continue
		}
		var s *dto.Metric
		var all []string
		for _, x := range f.GetMetric() {
			var parts []string
			for _, lp := range x.GetLabel() {
				parts = append(parts, lp.GetName()+"="+lp.GetValue())
			}
			got := strings.Join(parts, ",")
			all = append(all, got)
			if got == want.labels {
				s = x
			}
		}
		if s == nil {
			t.Errorf("%s: no series %s; have %v", name, want.labels, all)
			continue
		}
		v := s.GetCounter().GetValue() + s.GetGauge().GetValue() + float64(s.GetHistogram().GetSampleCount())
		if v != want.value {
			t.Errorf("%s = %v, want %v", name, v, want.value)
		}
	}
	inflight := map[string]float64{}
	for _, s := range fams[MetricInflight].GetMetric() {
		inflight[labelsOf(s)["transport"]] = s.GetGauge().GetValue()
	}
	if inflight["grpc"] != 1 || inflight["http"] != 0 {
		t.Errorf("in flight: %v", inflight)
	}
	done()
	panicsBy := map[string]float64{}
	for _, s := range gather(t, reg)[MetricPanics].GetMetric() {
		panicsBy[labelsOf(s)["component"]] = s.GetCounter().GetValue()
	}
	if panicsBy["validate"] != 3 || panicsBy["http"] != 1 || fams[MetricPanics].GetType() != dto.MetricType_COUNTER {
		t.Errorf("panics: %v", panicsBy)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "eventguard_") {
			t.Errorf("%s lacks the eventguard_ prefix", f.GetName())
		}
	}
}

// TestNilMetrics: a nil *Metrics records nothing and does not panic.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Record(RecordLabels{}, "accepted", "", 1)
	m.Deprecated(RecordLabels{Subject: "s"}, 1)
	m.Validated(DirectionProduce, 0)
	m.Produced("t", 0)
	m.Lag("t", "g", 0)
	m.Delivery("g", "ok", 0)
	m.SchemaLookup("id", "hit")
	m.DLQWrite("t", "g", "r")
	m.InFlight("http")()
	m.Answered("http", "200")
	if err := m.RegisterPanics("x", nil); err != nil {
		t.Error(err)
	}
	h := InstrumentHTTP(http.NotFoundHandler(), nil, nil)
	if _, ok := h.(http.HandlerFunc); !ok {
		// With nothing to record the handler is returned as is.
		t.Logf("wrapped: %T", h)
	}
}

func inflightHTTP(t *testing.T, reg *prometheus.Registry) float64 {
	for _, s := range gather(t, reg)[MetricInflight].GetMetric() {
		if labelsOf(s)["transport"] == "http" {
			return s.GetGauge().GetValue()
		}
	}
	t.Fatal("no http in-flight series")
	return 0
}

// TestInstrumentHTTP: the wrapper counts in-flight and answered requests
// and, with tracing on, starts the ingress server span as the caller's
// child and hands the handler a traceparent naming that span.
func TestInstrumentHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := span.NewTracer(tp)
	var seen string
	var inflight float64
	h := InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("traceparent")
		inflight = inflightHTTP(t, reg)
		w.WriteHeader(http.StatusUnprocessableEntity)
	}), m, tr)
	req := httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), req)

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name != "POST /v1/topics/{topic}/records" || s.SpanKind != trace.SpanKindServer || s.Parent.SpanID().String() != "b7ad6b7169203331" ||
		s.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("span: %s kind %v parent %s", s.Name, s.SpanKind, s.Parent.SpanID())
	}
	want := "00-0af7651916cd43dd8448eb211c80319c-" + s.SpanContext.SpanID().String() + "-01"
	if seen != want {
		t.Errorf("handler saw traceparent %q, want %q", seen, want)
	}
	var status int64
	for _, a := range s.Attributes {
		if a.Key == "http.response.status_code" {
			status = a.Value.AsInt64()
		}
	}
	if status != 422 {
		t.Errorf("status attribute %d", status)
	}
	if inflight != 1 {
		t.Errorf("in flight during the request = %v", inflight)
	}
	fams := gather(t, reg)
	if v := inflightHTTP(t, reg); v != 0 {
		t.Errorf("in flight after = %v", v)
	}
	if s := fams[MetricIngressRequests].GetMetric()[0]; labelsOf(s)["status"] != "422" || s.GetCounter().GetValue() != 1 {
		t.Errorf("answered: %v", s)
	}

	// Tracing off: no span, the caller's traceparent reaches the handler
	// untouched (the pipeline makes the child).
	h = InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("traceparent") }), m, span.NewTracer(nil))
	req = httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if seen != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("tracing off: handler saw %q", seen)
	}
}
