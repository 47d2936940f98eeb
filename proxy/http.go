// Package proxy is eventguard's ingress: the HTTP and gRPC transports that
// decode produce requests, hand them to the produce pipeline and encode its
// answers and errors. Transports hold no produce logic of their own.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry/span"
)

// FeatureHeader names the producing feature on an HTTP request.
const FeatureHeader = "Eventguard-Feature"

// CodeRequestTimeout answers (408) a request whose body did not arrive
// within the server's read timeout (listen.read_timeout).
const CodeRequestTimeout = "request_timeout"

// Producer is the pipeline the transports call; *produce.Pipeline implements it.
type Producer interface {
	Produce(ctx context.Context, req *produce.Request) *produce.Response
}

// HTTP serves the HTTP ingress.
type HTTP struct {
	p           Producer
	maxBody     int64
	registryURL string
	log         *slog.Logger
	// Panics counts handler panics recovered (a bug, answered with 500).
	Panics atomic.Int64
}

// NewHTTP returns the HTTP ingress. registryURL is used in Link headers that
// point at replacement schema versions.
func NewHTTP(p Producer, maxBody int64, registryURL string, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.Default()
	}
	return &HTTP{p: p, maxBody: maxBody, registryURL: registryURL, log: log}
}

// Handler returns the routes: POST /v1/topics/{topic}/records
// (eventguard's API) and POST /v1/topics/{topic}/cloudevents (CloudEvents,
// cloudevents.go).
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/topics/{topic}/records", h.produce)
	mux.HandleFunc("/v1/topics/{topic}/records", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed here; use POST", quote.Cut(r.Method, quote.MaxBytes)))
	})
	mux.HandleFunc("POST /v1/topics/{topic}/cloudevents", h.cloudevents)
	mux.HandleFunc("/v1/topics/{topic}/cloudevents", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed here; use POST", r.Method))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_route", fmt.Sprintf("no route for %s %s; produce with POST /v1/topics/{topic}/records", quote.Cut(r.Method, quote.MaxBytes), quote.Cut(r.URL.Path, quote.MaxBytes)))
	})
	return h.recoverer(mux)
}

func (h *HTTP) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.Panics.Add(1)
				h.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, produce.CodeInternal, "eventguard failed on this request (a bug; it was logged)")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// wireError is a request-level error; a record's error is the pipeline's
// produce.RecordError as it is (code, message, violations).
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type wireResult struct {
	Index         int                  `json:"index"`
	Partition     *int32               `json:"partition,omitempty"`
	Offset        *int64               `json:"offset,omitempty"`
	Subject       string               `json:"subject,omitempty"`
	SchemaID      int                  `json:"schema_id,omitempty"`
	SchemaVersion int                  `json:"schema_version,omitempty"`
	EventID       string               `json:"event_id,omitempty"`
	Error         *produce.RecordError `json:"error,omitempty"`
	// DeadLettered is where a contract rule (onFailure DLQ) sent the
	// record instead of its topic.
	DeadLettered *wireDeadLetter `json:"dead_lettered,omitempty"`
	// Warnings are the warn-mode rules the record broke (it was produced).
	Warnings []string `json:"warnings,omitempty"`
}

type wireDeadLetter struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Rule      string `json:"rule"`
	Message   string `json:"message"`
}

type wireResponse struct {
	Error   *wireError   `json:"error,omitempty"`
	Results []wireResult `json:"results,omitempty"`
}

func (h *HTTP) produce(w http.ResponseWriter, r *http.Request) {
	if cts := r.Header.Values("Content-Type"); len(cts) > 1 || !isJSON(r.Header.Get("Content-Type")) {
		msg := fmt.Sprintf("Content-Type is %s; send application/json", quote.String(r.Header.Get("Content-Type")))
		if len(cts) > 1 {
			msg = fmt.Sprintf("Content-Type is sent %d times; send it once, as application/json", len(cts))
		}
		writeError(w, http.StatusUnsupportedMediaType, produce.CodeUnsupportedMedia, msg)
		return
	}
	// Sent twice, the feature header means a list (RFC 9110: "a, b"), not
	// the first of them.
	if fs := r.Header.Values(FeatureHeader); len(fs) > 1 {
		writeError(w, http.StatusBadRequest, produce.CodeInvalidFeature, fmt.Sprintf("%s is sent %d times; name one producing feature", FeatureHeader, len(fs)))
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
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// listen.read_timeout passed before the body was read.
			writeError(w, http.StatusRequestTimeout, CodeRequestTimeout, "the request body did not arrive within listen.read_timeout")
			return
		}
		writeError(w, http.StatusBadRequest, produce.CodeMalformedRequest, "reading the request body: "+err.Error())
		return
	}
	req, msg := decodeRequest(body)
	if msg != "" {
		writeError(w, http.StatusBadRequest, produce.CodeMalformedRequest, msg)
		return
	}
	req.Topic = r.PathValue("topic")
	req.Feature = r.Header.Get(FeatureHeader)
	req.Release = release // the body goes back to the pool while Kafka acknowledges

	ctx := span.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	resp := h.p.Produce(ctx, req)
	h.writeResponse(w, req, resp)
}

func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || cs == "utf-8" || cs == "UTF-8"
}

func sortHeaders(hs []produce.Header) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].Key < hs[j-1].Key; j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

func (h *HTTP) writeResponse(w http.ResponseWriter, req *produce.Request, resp *produce.Response) {
	hdr := w.Header()
	h.deprecationHeaders(hdr, resp.Deprecations)
	warningHeaders(hdr, resp)
	if b, ok := appendProduced(resp); ok {
		writeBody(w, http.StatusOK, b)
		return
	}
	out := wireResponse{Results: make([]wireResult, len(resp.Results))}
	anyFailed := false
	for i := range resp.Results {
		res := &resp.Results[i]
		wr := wireResult{Index: res.Index, Subject: res.Subject, SchemaID: res.SchemaID, SchemaVersion: res.SchemaVersion, EventID: res.EventID}
		if res.Produced {
			wr.Partition, wr.Offset = &res.Partition, &res.Offset
		}
		if e := res.Err; e != nil {
			anyFailed = true
			wr.Error = e
		}
		if d := res.DeadLettered; d != nil {
			wr.DeadLettered = &wireDeadLetter{Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Rule: d.Rule, Message: d.Message}
		}
		out.Results[i] = wr
	}
	for _, w := range resp.Warnings {
		if w.Index >= 0 && w.Index < len(out.Results) {
			out.Results[w.Index].Warnings = append(out.Results[w.Index].Warnings, w.Message)
		}
	}
	status := http.StatusOK
	if e := resp.Err; e != nil {
		status = httpStatus(e.Kind)
		out.Error = &wireError{Code: e.Code, Message: e.Message}
		if e.RetryAfter > 0 {
			hdr.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
		}
	} else if anyFailed {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, &out)
}

// warningHeaders tells the producer about warn-mode rules its records broke
// and records a DLQ rule diverted: one RFC 9111 Warning header (code 299,
// "miscellaneous persistent warning") each, at most produce.MaxWarnings.
func warningHeaders(hdr http.Header, resp *produce.Response) {
	n := 0
	for _, w := range resp.Warnings {
		hdr.Add("Warning", warningValue(fmt.Sprintf("record %d: %s", w.Index, w.Message)))
		n++
	}
	for i := range resp.Results {
		if d := resp.Results[i].DeadLettered; d != nil && n < produce.MaxWarnings {
			hdr.Add("Warning", warningValue(fmt.Sprintf("record %d: dead-lettered to %s by rule %q", i, d.Topic, d.Rule)))
			n++
		}
	}
}

// warningValue renders text as a Warning header value: 299, the agent,
// and the text as a quoted string (control characters left out).
func warningValue(text string) string {
	b := make([]byte, 0, len(text)+24)
	b = append(b, `299 eventguard "`...)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// deprecationHeaders sets RFC 9745 Deprecation, RFC 8594 Sunset and a Link
// to the replacement version for the first deprecated version used.
func (h *HTTP) deprecationHeaders(hdr http.Header, ns []check.Notice) {
	setDeprecationHeaders(hdr, h.registryURL, ns)
}

// setDeprecationHeaders sets the deprecation headers of every HTTP front
// door (see HTTP.deprecationHeaders); registryURL is the base of the Link.
func setDeprecationHeaders(hdr http.Header, registryURL string, ns []check.Notice) {
	if len(ns) == 0 {
		return
	}
	n := ns[0]
	since := int64(0)
	if !n.Since.IsZero() {
		since = n.Since.Unix()
	}
	hdr.Set("Deprecation", "@"+strconv.FormatInt(since, 10))
	hdr.Set("Sunset", n.Sunset.UTC().Format(http.TimeFormat))
	if n.Replacement != nil {
		hdr.Add("Link", fmt.Sprintf(`<%s/subjects/%s/versions/%d>; rel="successor-version"`, registryURL, n.Replacement.Subject, n.Replacement.Version))
	}
	for _, m := range ns {
		hdr.Add("Eventguard-Deprecated", fmt.Sprintf("%s;version=%d;sunset=%s", m.Subject, m.Version, m.Sunset.Format(time.DateOnly)))
	}
}

// httpStatus is the HTTP status of a failure kind. A client mistake is a
// 4xx, never a 500; an outage a 503 or 504.
func httpStatus(k produce.Kind) int {
	switch k {
	case produce.KindBadRequest:
		return http.StatusBadRequest
	case produce.KindForbidden:
		return http.StatusForbidden
	case produce.KindNotFound:
		return http.StatusNotFound
	case produce.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case produce.KindInvalid:
		return http.StatusUnprocessableEntity
	case produce.KindOverloaded:
		return http.StatusTooManyRequests
	case produce.KindUnavailable:
		return http.StatusServiceUnavailable
	case produce.KindTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, &wireResponse{Error: &wireError{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// writeBody writes a JSON answer (b ends with a newline).
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
