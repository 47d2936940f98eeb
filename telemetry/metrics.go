package telemetry

import (
	"github.com/eventguard/eventguard/telemetry/span"

	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Directions of a record.
const (
	DirectionProduce = "produce"
	DirectionConsume = "consume"
)

// Placeholder label values for facts eventguard does not trust as labels
// (see docs/decisions/0006-metrics-labels.md).
const (
	// OtherLabel replaces a topic or feature that may not become a label
	// value: a topic that is neither configured nor resolved from the
	// registry, or a feature beyond the cap.
	OtherLabel = "other"
	// UnknownLabel stands for a subject or version that was never resolved
	// from the registry.
	UnknownLabel = "unknown"
)

// MetricsOptions configure Metrics. The zero value means the documented
// defaults.
type MetricsOptions struct {
	// Topics are the topics that may always be label values: the produce
	// allow-list and the subscribed topics. Others become labels only once
	// a record on them resolved a schema from the registry.
	Topics []string
	// Features are the features that may always be label values: the
	// configured default feature and the per-topic feature allow-lists.
	Features []string
	// Groups are the consumer groups that may be label values (the
	// configured subscriptions). Others become OtherLabel.
	Groups []string
	// MaxValues caps the distinct values of each of the topic, subject and
	// feature labels learned at run time (configured values do not count);
	// past it new values become OtherLabel. Default: 200.
	MaxValues int
	// Version, Commit and GoVersion label eventguard_build_info.
	Version, Commit, GoVersion string
}

// Metrics are eventguard's Prometheus metrics on an injected registry. The
// methods are safe for concurrent use and cheap enough for the per-record
// path; a nil *Metrics records nothing.
//
// Metrics has no idea of the pipelines: adapters (package telemetry/observe
// and cmd) translate the pipelines' observer facts into these calls, so
// neither validation nor produce/consume code imports Prometheus.
type Metrics struct {
	reg prometheus.Registerer

	records       *prometheus.CounterVec
	deprecated    *prometheus.CounterVec
	validation    *durations
	produceTime   *prometheus.HistogramVec
	lag           *prometheus.HistogramVec
	lookups       *prometheus.CounterVec
	inflight      *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	dlqWrites     *prometheus.CounterVec
	ruleEvals     *prometheus.CounterVec
	rules         *bounded
	deliveryTime  *prometheus.HistogramVec
	buildInfo     *prometheus.GaugeVec
	topics        *bounded
	subjects      *bounded
	features      *bounded
	groups        map[string]bool
	panicsMu      sync.Mutex
	panicSources  map[string]bool
	bufferedAdded bool

	// counters caches resolved records counters by their raw facts, so the
	// per-record path skips the label policy and the label hashing.
	counters     sync.Map // recordKey → prometheus.Counter
	countersSize atomic.Int64
}

// maxCachedCounters bounds the counters cache; facts past it still count,
// through the slower path.
const maxCachedCounters = 10000

type recordKey struct {
	l               RecordLabels
	outcome, reason string
}

// Metric family names. They are part of the public surface: docs/observability.md
// lists each with its labels.
const (
	MetricRecords          = "eventguard_records_total"
	MetricDeprecated       = "eventguard_deprecated_records_total"
	MetricValidation       = "eventguard_validation_duration_seconds"
	MetricProduceDuration  = "eventguard_produce_duration_seconds"
	MetricConsumeLag       = "eventguard_consume_lag_seconds"
	MetricDeliveryDuration = "eventguard_delivery_duration_seconds"
	MetricSchemaLookups    = "eventguard_schema_lookups_total"
	MetricInflight         = "eventguard_inflight_requests"
	MetricIngressRequests  = "eventguard_ingress_requests_total"
	MetricBuffered         = "eventguard_produce_buffered_records"
	MetricDLQWrites        = "eventguard_dlq_writes_total"
	MetricRuleEvaluations  = "eventguard_rule_evaluations_total"
	MetricPanics           = "eventguard_recovered_panics_total"
	MetricBuildInfo        = "eventguard_build_info"
)

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer, o MetricsOptions) (*Metrics, error) {
	if o.MaxValues <= 0 {
		o.MaxValues = 200
	}
	m := &Metrics{
		reg: reg,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRecords,
			Help: "Records by direction (produce, consume), topic, subject, schema version, producing feature, consumer group, outcome (accepted, rejected, failed; delivered, retried, dead_lettered) and reason (the error code; empty on success).",
		}, []string{"direction", "topic", "subject", "version", "feature", "group", "outcome", "reason"}),
		deprecated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDeprecated,
			Help: "Records of a deprecated schema version produced (by feature) or consumed (by group): who still uses what is being retired.",
		}, []string{"direction", "subject", "version", "feature", "group"}),
		validation: newDurations(MetricValidation, "Time to parse and validate one record against its schema.", "direction",
			[]float64{1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3},
			DirectionProduce, DirectionConsume),
		produceTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricProduceDuration,
			Help:    "Time from a produce request's arrival to the broker's acknowledgement of its last record.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"topic"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricConsumeLag,
			Help:    "End-to-end lag on consume: from the record's timestamp to its delivery to the app.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"topic", "group"}),
		deliveryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDeliveryDuration,
			Help:    "Time of one delivery attempt to the app (HTTP push or gRPC stream), by result (ok, retry, rejected).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"group", "result"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricSchemaLookups,
			Help: "Schema registry cache lookups by kind (id, version, latest) and outcome (hit, miss, stale, error).",
		}, []string{"kind", "outcome"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricInflight,
			Help: "Produce requests being served, by transport (http, grpc).",
		}, []string{"transport"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricIngressRequests,
			Help: "Produce requests answered, by transport and status (the HTTP status code, or the gRPC code name).",
		}, []string{"transport", "status"}),
		dlqWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDLQWrites,
			Help: "Dead-letter records acknowledged by the broker, by DLQ topic, consumer group and reason.",
		}, []string{"topic", "group", "reason"}),
		ruleEvals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRuleEvaluations,
			Help: "Contract rule evaluations by direction (produce, consume), subject, schema version, rule, mode (observe, warn, enforce), outcome (pass, fail, error, skipped), producing feature and consumer group: when a rule's failures drop to zero for every feature, it is safe to enforce.",
		}, []string{"direction", "subject", "version", "rule", "mode", "outcome", "feature", "group"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricBuildInfo,
			Help: "Always 1; the labels say which eventguard build is running.",
		}, []string{"version", "commit", "goversion"}),
		topics:       newBounded(o.Topics, o.MaxValues),
		subjects:     newBounded(nil, o.MaxValues),
		features:     newBounded(o.Features, o.MaxValues),
		rules:        newBounded(nil, o.MaxValues),
		groups:       map[string]bool{},
		panicSources: map[string]bool{},
	}
	for _, g := range o.Groups {
		m.groups[g] = true
	}
	for _, c := range []prometheus.Collector{m.records, m.deprecated, m.validation, m.produceTime, m.lag, m.deliveryTime, m.lookups, m.inflight, m.requests, m.dlqWrites, m.ruleEvals, m.buildInfo} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.buildInfo.WithLabelValues(orUnknown(o.Version), orUnknown(o.Commit), orUnknown(o.GoVersion)).Set(1)
	// Families that are only ever incremented show up from the start, at
	// zero, for the label values known up front.
	for _, t := range []string{"http", "grpc"} {
		m.inflight.WithLabelValues(t)
	}
	return m, nil
}

func orUnknown(s string) string {
	if s == "" {
		return UnknownLabel
	}
	return s
}

// RecordLabels place one record for eventguard_records_total and
// eventguard_deprecated_records_total.
type RecordLabels struct {
	// Direction is DirectionProduce or DirectionConsume.
	Direction string
	// Topic is the Kafka topic.
	Topic string
	// Subject and Version are the schema the record was checked against;
	// "" and 0 when none was resolved from the registry.
	Subject string
	Version int
	// Feature is the producing feature (produce only).
	Feature string
	// Group is the consumer group (consume only).
	Group string
}

// labels applies the label policy: a subject, version or run-time topic
// becomes a label only when the schema was resolved; feature values learned
// at run time are capped.
func (m *Metrics) labels(l RecordLabels) (topic, subject, version, feature, group string) {
	resolved := l.Subject != ""
	topic = m.topics.value(l.Topic, resolved)
	subject, version = UnknownLabel, UnknownLabel
	if resolved {
		subject = m.subjects.value(l.Subject, true)
		if subject != OtherLabel {
			version = strconv.Itoa(l.Version)
		}
	}
	if l.Feature != "" {
		feature = m.features.value(l.Feature, resolved)
	}
	if l.Group != "" {
		group = OtherLabel
		if m.groups[l.Group] {
			group = l.Group
		}
	}
	return
}

// Record counts n records with the same outcome. reason is the error code
// ("" on success).
func (m *Metrics) Record(l RecordLabels, outcome, reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	k := recordKey{l, outcome, reason}
	if c, ok := m.counters.Load(k); ok {
		c.(prometheus.Counter).Add(float64(n))
		return
	}
	t, s, v, f, g := m.labels(l)
	c := m.records.WithLabelValues(l.Direction, t, s, v, f, g, outcome, reason)
	c.Add(float64(n))
	// Only resolved facts are cached: unresolved ones carry raw caller
	// values and would fill the cache with junk.
	if l.Subject != "" && m.countersSize.Load() < maxCachedCounters {
		if _, loaded := m.counters.LoadOrStore(k, c); !loaded {
			m.countersSize.Add(1)
		}
	}
}

// RuleEvaluated counts one contract rule's evaluation on one record of a
// resolved schema (l.Subject set). rule names are learned up to the label
// bound like subjects; mode and outcome are the rules package's words.
func (m *Metrics) RuleEvaluated(l RecordLabels, rule, mode, outcome string) {
	if m == nil || l.Subject == "" {
		return
	}
	k := ruleKey{l, rule, mode, outcome}
	if c, ok := m.counters.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	_, s, v, f, g := m.labels(l)
	c := m.ruleEvals.WithLabelValues(l.Direction, s, v, m.rules.value(rule, true), mode, outcome, f, g)
	c.Inc()
	if m.countersSize.Load() < maxCachedCounters {
		if _, loaded := m.counters.LoadOrStore(k, c); !loaded {
			m.countersSize.Add(1)
		}
	}
}

// ruleKey caches a rule evaluation counter by its raw facts.
type ruleKey struct {
	l                   RecordLabels
	rule, mode, outcome string
}

// Deprecated counts n records of a deprecated schema version.
func (m *Metrics) Deprecated(l RecordLabels, n int) {
	if m == nil || l.Subject == "" || n <= 0 {
		return
	}
	_, s, v, f, g := m.labels(l)
	m.deprecated.WithLabelValues(l.Direction, s, v, f, g).Add(float64(n))
}

// Validated observes the time each record's validation took (one value per
// record; a request's records at once). direction is DirectionProduce or
// DirectionConsume; another is ignored.
func (m *Metrics) Validated(direction string, ds ...time.Duration) {
	if m == nil {
		return
	}
	switch direction {
	case DirectionProduce:
		m.validation.observe(0, ds...)
	case DirectionConsume:
		m.validation.observe(1, ds...)
	}
}

// Produced observes a produce request's time from arrival to the last
// acknowledgement. Only requests that reached Kafka are observed, so the
// topic resolved.
func (m *Metrics) Produced(topic string, d time.Duration) {
	if m == nil {
		return
	}
	m.produceTime.WithLabelValues(m.topics.value(topic, true)).Observe(d.Seconds())
}

// Lag observes the time from a consumed record's timestamp to its delivery.
func (m *Metrics) Lag(topic, group string, d time.Duration) {
	if m == nil {
		return
	}
	_, _, _, _, g := m.labels(RecordLabels{Group: group})
	m.lag.WithLabelValues(m.topics.value(topic, true), g).Observe(d.Seconds())
}

// Delivery observes one delivery attempt's time and result (ok, retry,
// rejected).
func (m *Metrics) Delivery(group, result string, d time.Duration) {
	if m == nil {
		return
	}
	_, _, _, _, g := m.labels(RecordLabels{Group: group})
	m.deliveryTime.WithLabelValues(g, result).Observe(d.Seconds())
}

// SchemaLookup counts a registry cache outcome; it implements
// validate.Observer.
func (m *Metrics) SchemaLookup(kind, outcome string) {
	if m == nil {
		return
	}
	m.lookups.WithLabelValues(kind, outcome).Inc()
}

// DLQWrite counts one dead-letter record acknowledged on dlqTopic.
func (m *Metrics) DLQWrite(dlqTopic, group, reason string) {
	if m == nil {
		return
	}
	_, _, _, _, g := m.labels(RecordLabels{Group: group})
	m.dlqWrites.WithLabelValues(m.topics.value(dlqTopic, false), g, reason).Inc()
}

// InFlight counts one produce request on transport as being served until the
// returned function is called.
func (m *Metrics) InFlight(transport string) (done func()) {
	if m == nil {
		return func() {}
	}
	g := m.inflight.WithLabelValues(transport)
	g.Inc()
	return g.Dec
}

// Answered counts one produce request answered on transport with status.
func (m *Metrics) Answered(transport, status string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(transport, status).Inc()
}

// RegisterPanics exposes a recovered-panics counter (validate.Panics,
// proxy's HTTP.Panics, the gRPC server's) as
// eventguard_recovered_panics_total{component}. Each component registers once.
func (m *Metrics) RegisterPanics(component string, count func() int64) error {
	if m == nil {
		return nil
	}
	m.panicsMu.Lock()
	defer m.panicsMu.Unlock()
	if m.panicSources[component] {
		return fmt.Errorf("register panics counter: component %q is registered already", component)
	}
	c := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        MetricPanics,
		Help:        "Panics recovered since start, by component (validate, http, grpc, consume); any non-zero value is a bug worth reporting.",
		ConstLabels: prometheus.Labels{"component": component},
	}, func() float64 { return float64(count()) })
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("register panics counter for %s: %w", component, err)
	}
	m.panicSources[component] = true
	return nil
}

// RegisterBuffered exposes the producer's buffered records (kgo's
// Client.BufferedProduceRecords) as eventguard_produce_buffered_records.
func (m *Metrics) RegisterBuffered(buffered func() int64) error {
	if m == nil {
		return nil
	}
	m.panicsMu.Lock()
	defer m.panicsMu.Unlock()
	if m.bufferedAdded {
		return fmt.Errorf("register buffered records gauge: registered already")
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: MetricBuffered,
		Help: "Records handed to the Kafka producer and not yet acknowledged (bounded by kafka.max_buffered_records).",
	}, func() float64 { return float64(buffered()) })
	if err := m.reg.Register(g); err != nil {
		return fmt.Errorf("register buffered records gauge: %w", err)
	}
	m.bufferedAdded = true
	return nil
}

// InstrumentHTTP wraps an HTTP produce ingress: it counts the request in
// flight and its answer by status, and with tracing on starts the ingress
// server span, continuing the caller's traceparent. Either m or t may be nil.
//
// The wrapped handler extracts the trace context from the request headers
// itself; so that its spans are children of the ingress span, the wrapper
// rewrites the request's traceparent to the ingress span.
func InstrumentHTTP(next http.Handler, m *Metrics, t *span.Tracer) http.Handler {
	tracing := t != nil && t.Enabled()
	if m == nil && !tracing {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := m.InFlight("http")
		defer done()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if tracing {
			ctx, span := startIngress(t, r)
			defer span.End()
			defer func() { endIngress(span, sw.status) }()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(sw, r)
		m.Answered("http", statusText(sw.status))
	})
}

var statusTexts sync.Map // int → string

func statusText(code int) string {
	if s, ok := statusTexts.Load(code); ok {
		return s.(string)
	}
	s := strconv.Itoa(code)
	statusTexts.Store(code, s)
	return s
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bounded decides which run-time values may become label values.
type bounded struct {
	fixed map[string]bool
	max   int

	mu      sync.RWMutex
	learned map[string]bool
}

func newBounded(fixed []string, max int) *bounded {
	b := &bounded{fixed: map[string]bool{}, max: max, learned: map[string]bool{}}
	for _, v := range fixed {
		b.fixed[v] = true
	}
	return b
}

// value returns v when it may be a label value: it is configured, or it is
// trusted (resolved from the registry) and the cap has room; else OtherLabel.
func (b *bounded) value(v string, trusted bool) string {
	if b.fixed[v] {
		return v
	}
	b.mu.RLock()
	ok := b.learned[v]
	n := len(b.learned)
	b.mu.RUnlock()
	if ok {
		return v
	}
	if !trusted || n >= b.max {
		return OtherLabel
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.learned) >= b.max && !b.learned[v] {
		return OtherLabel
	}
	b.learned[v] = true
	return v
}
