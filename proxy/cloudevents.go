package proxy

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/propagation"

	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry/span"
)

// CloudEvents front door: POST /v1/topics/{topic}/cloudevents takes
// CloudEvents 1.0 over HTTP in the three modes of the HTTP protocol
// binding, told apart by Content-Type:
//
//	application/cloudevents+json        structured: one event, JSON format
//	application/cloudevents-batch+json  batch: a JSON array of events
//	anything else                       binary: ce-* headers, the body is
//	                                    the data, Content-Type its type
//
// Each event becomes a record in the Kafka binding's binary mode
// (cloudevents_decode.go) and goes through the same produce pipeline as
// eventguard's own API, all-or-nothing unless ?partial=true; the answer is
// eventguard's (HTTP status, {"results": [...]} or {"error": ...}).
// A route of its own, not the records endpoint by content type: a binary
// mode event is sent as application/json too, so only the path can tell
// an event's data from eventguard's request envelope.

func (h *HTTP) cloudevents(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	structured, batch := false, false
	switch {
	case mt == "application/cloudevents+json":
		structured = true
	case mt == "application/cloudevents-batch+json":
		structured, batch = true, true
	case strings.HasPrefix(mt, "application/cloudevents"):
		writeError(w, http.StatusUnsupportedMediaType, produce.CodeUnsupportedMedia, fmt.Sprintf("Content-Type is %s: eventguard reads the JSON event format (application/cloudevents+json, application/cloudevents-batch+json) or binary mode", quote.String(ct)))
		return
	}
	body, release, err := readBody(w, r, h.maxBody)
	defer release()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, produce.CodeBodyTooLarge, fmt.Sprintf("request body is over %d bytes (limits.max_body_bytes)", h.maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, produce.CodeMalformedRequest, "reading the request body: "+err.Error())
		return
	}
	var evs []*ceEvent
	var cerr *ceError
	if structured {
		evs, cerr = ceStructured(body, batch)
	} else {
		var ev *ceEvent
		ev, cerr = ceBinary(r.Header, body)
		evs = []*ceEvent{ev}
	}
	if cerr != nil {
		writeError(w, cerr.status, cerr.code, cerr.msg)
		return
	}
	req := &produce.Request{
		Topic:   r.PathValue("topic"),
		Feature: r.Header.Get(FeatureHeader),
		Records: make([]produce.Record, len(evs)),
		Partial: r.URL.Query().Get("partial") == "true",
		Release: release,
	}
	for i, ev := range evs {
		req.Records[i] = ev.record()
	}
	ctx := span.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	resp := h.p.Produce(ctx, req)
	h.writeResponse(w, req, resp)
}
