package main

import (
	"context"
)

// costModes are the rows of issue 14 part 5: what a feature costs on the
// HTTP batch path, each row against its "off" twin in the same run. A row
// whose setting is not in this build (Needs) is reported "not available"
// until it is; then it runs with no change here, or with its Env or
// Config line adjusted to the setting's final shape.
var costModes = []Mode{
	{
		Key: "cost-tracing", Name: "HTTP batch, tracing on (every request sampled, OTLP to a local sink)", Group: "cost", Base: "http-batch",
		Sidecar: &SidecarSpec{Env: []string{"EVENTGUARD_TELEMETRY_TRACING=true", "EVENTGUARD_TELEMETRY_SAMPLE_RATIO=1",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={{app}}/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf"}},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
	{
		// Metrics cannot be turned off today: the row waits for a key.
		Key: "cost-telemetry-off", Name: "HTTP batch, telemetry off (no metrics, catalog, tracing)", Group: "cost", Base: "http-batch",
		Needs:   "telemetry.metrics",
		Sidecar: &SidecarSpec{Env: []string{"EVENTGUARD_TELEMETRY_METRICS=false"}},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
	{
		Key: "cost-rules", Name: "HTTP batch, three CEL rules on OrderPlaced", Group: "cost", Base: "http-batch",
		Needs:   "rules",
		Sidecar: &SidecarSpec{Config: rulesConfig},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
	{
		Key: "cost-ids", Name: "HTTP batch, every record with a new event id (dedupe off)", Group: "cost", Base: "http-batch",
		Sidecar: &SidecarSpec{},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, true))
		},
	},
	{
		Key: "cost-dedupe", Name: "HTTP batch, every record with a new event id, dedupe on", Group: "cost", Base: "cost-ids",
		Needs:   "dedupe.window",
		Sidecar: &SidecarSpec{Env: []string{"EVENTGUARD_DEDUPE_WINDOW=10m"}},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, true))
		},
	},
}

// rulesConfig is the sidecar config of the rules row: three CEL rules on
// the benchmark topic's subject ({{topic}}-value), the kind issue 11's
// target counts (rules.subjects, docs/config.md).
const rulesConfig = `rules:
  subjects:
    - subject: {{topic}}-value
      rules:
        - {name: positiveTotal, kind: CONDITION, type: CEL, expr: "double(message.total_amount) > 0.0"}
        - {name: knownOrderType, kind: CONDITION, type: CEL, expr: "message.order_type in ['dine_in', 'takeout', 'delivery']"}
        - {name: someItems, kind: CONDITION, type: CEL, expr: "size(message.items) > 0"}
`
