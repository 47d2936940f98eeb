package main

import (
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/telemetry/observe"
)

// observeConsume completes one subscription's consume options with the
// sidecar's observability (package telemetry/observe): the tracer, an
// Observer feeding the metrics and the catalog, and a Deliverer wrapper
// (delivery span, delivery time, end-to-end lag). Fields already set are
// wrapped, not replaced.
func (s *sidecar) observeConsume(o consume.Options) consume.Options {
	sub := o.Subscription
	if o.Deliverer == nil && sub.Deliver.URL != "" {
		o.Deliverer = consume.HTTPDelivererFor(sub.Deliver)
	}
	if o.Deliverer != nil {
		o.Deliverer = &observe.Deliverer{Next: o.Deliverer, Metrics: s.metrics, Tracer: s.tracing.Tracer, Group: sub.Group}
	}
	if o.Tracer == nil {
		o.Tracer = s.tracing.Tracer
	}
	o.Observer = &observe.Consume{Next: o.Observer, Metrics: s.metrics, Catalog: s.catalog, Recent: s.recent, Subscription: sub}
	return o
}
