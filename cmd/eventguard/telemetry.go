package main

import (
	"context"
	"net/http"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/validate"
)

// setupTelemetry creates the sidecar's metrics on its Prometheus registry,
// the usage catalog and tracing (off unless telemetry.tracing).
func (s *sidecar) setupTelemetry(hooks ...sidecarHooks) error {
	var h sidecarHooks
	if len(hooks) > 0 {
		h = hooks[0]
	}
	v, c, goVersion := buildInfo()
	o := telemetry.MetricsOptions{Version: v, Commit: c, GoVersion: goVersion, Features: []string{s.cfg.Feature}}
	for _, t := range s.cfg.Topics {
		o.Topics = append(o.Topics, t.Name)
		o.Features = append(o.Features, t.Features...)
	}
	for _, sub := range s.cfg.Subscriptions {
		o.Topics = append(o.Topics, sub.Topics...)
		for _, t := range sub.Topics {
			o.Topics = append(o.Topics, sub.DLQTopicFor(t))
		}
		o.Groups = append(o.Groups, sub.Group)
	}
	m, err := telemetry.NewMetrics(s.prom, o)
	if err != nil {
		return err
	}
	s.metrics = m
	s.registerPanics("validate", validate.Panics.Load)
	if err := m.RegisterBuffered(s.kcl.BufferedProduceRecords); err != nil {
		return err
	}
	s.catalog = catalog.New(catalog.Options{Instance: s.cfg.Instance})
	s.recent = catalog.NewRecent(catalog.RecentOptions{Instance: s.cfg.Instance})
	s.deprecations = check.NewDeprecations(s.cfg.Deprecations, s.log, nil)
	s.tracing, err = telemetry.StartTracing(context.Background(), s.cfg.Telemetry, telemetry.TracingOptions{
		ServiceVersion: v,
		Instance:       s.cfg.Instance,
		Exporter:       h.spanExporter,
	})
	if err != nil {
		return err
	}
	return nil
}

// registerPanics exposes a component's recovered-panics counter; a second
// registration of the same component (a restarted listener) is logged, not
// fatal.
func (s *sidecar) registerPanics(component string, count func() int64) {
	if err := s.metrics.RegisterPanics(component, count); err != nil {
		s.log.Warn("recovered panics not exported", "component", component, "error", err)
	}
}

// serveCatalog answers GET /v1/catalog: what this sidecar has produced and
// consumed since start, by topic, subject, version, feature and group.
func (s *sidecar) serveCatalog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.catalogSnapshot())
}
