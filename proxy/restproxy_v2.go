package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/propagation"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry/span"
)

// REST Proxy v2: POST /topics/{topic} and POST
// /topics/{topic}/partitions/{partition}, with the embedded format in the
// Content-Type. All-or-nothing like eventguard's own API (and like REST
// Proxy, which serializes every record before producing any): one record
// breaking its contract refuses the request (400) and nothing is
// produced. Kafka's per-record failures are in offsets[i].error_code.

// The v2 embedded formats eventguard accepts.
const (
	v2JSON       = "json"
	v2JSONSchema = "jsonschema"
	v2Binary     = "binary"
)

// v2ContentType is the media type of v2 answers.
const v2ContentType = "application/vnd.kafka.v2+json"

// v2Answer is REST Proxy v2's ProduceResponse.
type v2Answer struct {
	Offsets       []v2Offset `json:"offsets"`
	KeySchemaID   *int       `json:"key_schema_id"`
	ValueSchemaID *int       `json:"value_schema_id"`
}

// v2Offset is one record's outcome (PartitionOffset).
type v2Offset struct {
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
	ErrorCode *int    `json:"error_code"`
	Error     *string `json:"error"`
}

// v2Format returns the embedded format a Content-Type names, or the 415.
func v2Format(ct string) (string, *rpFailure) {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case "application/vnd.kafka.json.v2+json":
			return v2JSON, nil
		case "application/vnd.kafka.jsonschema.v2+json":
			return v2JSONSchema, nil
		case "application/vnd.kafka.binary.v2+json":
			return v2Binary, nil
		case "application/vnd.kafka.avro.v2+json", "application/vnd.kafka.protobuf.v2+json":
			return "", &rpFailure{status: http.StatusUnsupportedMediaType, rpError: rpError{Code: http.StatusUnsupportedMediaType,
				Message: fmt.Sprintf("HTTP 415 Unsupported Media Type: %s is not supported on the REST Proxy front door: send the values as JSON (application/vnd.kafka.jsonschema.v2+json); eventguard checks them against the topic's contract and writes them in its subject's format (JSON Schema, Avro or Protobuf)", mt)}}
		}
	}
	return "", &rpFailure{status: http.StatusUnsupportedMediaType, rpError: rpError{Code: http.StatusUnsupportedMediaType,
		Message: fmt.Sprintf("HTTP 415 Unsupported Media Type: Content-Type is %s; send application/vnd.kafka.jsonschema.v2+json, application/vnd.kafka.json.v2+json or application/vnd.kafka.binary.v2+json", quoted(ct))}}
}

// v2Accepts reports whether an Accept header allows a v2 answer
// (application/vnd.kafka.v2+json or application/json), and which to send.
func v2Accepts(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return v2ContentType, true
	}
	jsonOnly := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case v2ContentType, "application/vnd.kafka+json", "application/*", "*/*":
			return v2ContentType, true
		case "application/json":
			jsonOnly = true
		}
	}
	if jsonOnly {
		return "application/json", true
	}
	return "", false
}

func (rp *RESTProxy) produceV2(w http.ResponseWriter, r *http.Request) {
	format, f := v2Format(r.Header.Get("Content-Type"))
	if f != nil {
		writeRPError(w, f.status, &f.rpError)
		return
	}
	answerType, ok := v2Accepts(r.Header.Get("Accept"))
	if !ok {
		writeRPError(w, http.StatusNotAcceptable, &rpError{Code: http.StatusNotAcceptable, Message: "HTTP 406 Not Acceptable: accept application/vnd.kafka.v2+json or application/json"})
		return
	}
	topic := r.PathValue("topic")
	pathPart, pathPartSet := int32(0), false
	if ps := r.PathValue("partition"); ps != "" {
		n, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || n < 0 {
			writeRPError(w, http.StatusNotFound, &rpError{Code: rpPartitionNotFound, Message: fmt.Sprintf("Partition not found: %s", quoted(ps))})
			return
		}
		pathPart, pathPartSet = int32(n), true
	}
	limit := rp.cfg.Limits.MaxBodyBytes
	body, release, err := readBody(w, r, limit)
	defer release()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRPError(w, http.StatusRequestEntityTooLarge, &rpError{Code: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("The request included a message larger than the maximum message size the server can accept: the body is over %d bytes (limits.max_body_bytes)", limit)})
			return
		}
		writeRPError(w, http.StatusBadRequest, &rpError{Code: http.StatusBadRequest, Message: "Bad Request: reading the request body: " + err.Error()})
		return
	}
	b, err := decodeV2Body(body)
	if err != nil {
		if !json.Valid(body) {
			writeRPError(w, http.StatusBadRequest, &rpError{Code: http.StatusBadRequest, Message: "Bad Request: the body is not JSON: " + err.Error()})
			return
		}
		writeRPError(w, http.StatusUnprocessableEntity, &rpError{Code: http.StatusUnprocessableEntity, Message: "the body is not a REST Proxy v2 produce request: " + err.Error()})
		return
	}
	if len(b.records) == 0 {
		writeRPError(w, http.StatusUnprocessableEntity, &rpError{Code: http.StatusUnprocessableEntity, Message: "records may not be empty"})
		return
	}
	ctx := span.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	schemaID := 0
	if format == v2JSONSchema {
		if b.hasKeySchema || b.keySchemaID != 0 {
			writeRPError(w, http.StatusUnprocessableEntity, &rpError{Code: rpKeySchemaMissing, Message: "eventguard does not serialize keys with a key schema (key_schema, key_schema_id): send the keys without one; they are written as compact JSON text, as with application/vnd.kafka.json.v2+json"})
			return
		}
		schemaID = b.valueSchemaID
		if b.hasValueSchema {
			if schemaID != 0 {
				writeRPError(w, http.StatusBadRequest, &rpError{Code: http.StatusBadRequest, Message: "Bad Request: give value_schema or value_schema_id, not both"})
				return
			}
			if t := rp.topicPolicy(topic); strategyOf(t) != config.StrategyTopic {
				writeRPError(w, http.StatusUnprocessableEntity, &rpError{Code: rpInvalidSchema, Message: fmt.Sprintf("Invalid schema: value_schema on topic %q needs the topic subject strategy (it has %s); send value_schema_id", topic, strategyOf(t))})
				return
			}
			id, f := rp.lookup(ctx, check.TopicSubject(topic), b.valueSchema)
			if f != nil {
				retryAfter(w.Header(), f.retry)
				writeRPError(w, f.status, &f.rpError)
				return
			}
			schemaID = id
		}
	}
	req := &produce.Request{Topic: topic, Feature: r.Header.Get(FeatureHeader), Records: make([]produce.Record, len(b.records)), Release: release}
	for i, vr := range b.records {
		rec := &req.Records[i]
		if f := setV2Record(format, i, vr, rec); f != nil {
			writeRPError(w, f.status, &f.rpError)
			return
		}
		rec.SchemaID = schemaID
		switch {
		case vr.partitionSet:
			rec.Partition, rec.PartitionSet = vr.partition, true
		case pathPartSet:
			rec.Partition, rec.PartitionSet = pathPart, true
		}
		if rec.PartitionSet && rec.Partition < 0 {
			writeRPError(w, http.StatusNotFound, &rpError{Code: rpPartitionNotFound, Message: fmt.Sprintf("Partition not found: records[%d].partition is %d", i, rec.Partition)})
			return
		}
	}
	resp := rp.p.Produce(ctx, req)
	rp.writeV2(w, answerType, resp)
}

// setV2Record sets rec's key and value from record i of a v2 request in
// format: JSON keys as compact JSON text (what REST Proxy writes), binary
// keys and values base64-decoded.
func setV2Record(format string, i int, vr v2Record, rec *produce.Record) *rpFailure {
	if vr.value == nil {
		return &rpFailure{status: http.StatusUnprocessableEntity, rpError: rpError{Code: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("records[%d].value is missing or null: eventguard validates every value against the topic's contract, so records without a value (tombstones) are not supported", i)}}
	}
	typ := rpTypeJSON
	if format == v2Binary {
		typ = rpTypeBinary
	}
	if vr.key != nil {
		k, f := keyBytes(typ, vr.key, fmt.Sprintf("records[%d].key", i))
		if f != nil {
			return f
		}
		rec.Key = k // a copy: never a sub-slice of the pooled body
	}
	if format != v2Binary {
		rec.Value = vr.value
		return nil
	}
	v, f := dataBytes(vr.value, fmt.Sprintf("records[%d].value", i), true)
	rec.Value = v
	return f
}

// writeV2 writes the answer to a v2 produce call. A request refused
// before any record reached Kafka is an error answer (REST Proxy's shape,
// HTTP status from its code); else the offsets, with Kafka's per-record
// failures in error_code and error (HTTP 200, 403 when Kafka refused
// eventguard's writes).
func (rp *RESTProxy) writeV2(w http.ResponseWriter, answerType string, resp *produce.Response) {
	hdr := w.Header()
	setDeprecationHeaders(hdr, rp.cfg.Registry.URL, resp.Deprecations)
	handedOver := false
	for i := range resp.Results {
		res := &resp.Results[i]
		handedOver = handedOver || (res.EventID != "" && (res.Produced || res.Err != nil))
	}
	if e := resp.Err; e != nil && !handedOver {
		f := rpPipelineFailure(e.Kind, e.Code, e.Message, e.RetryAfter)
		retryAfter(hdr, f.retry)
		writeRPError(w, f.status, &f.rpError)
		return
	}
	a := v2Answer{Offsets: make([]v2Offset, len(resp.Results))}
	status := http.StatusOK
	for i := range resp.Results {
		res := &resp.Results[i]
		if a.ValueSchemaID == nil && res.SchemaID != 0 {
			id := res.SchemaID
			a.ValueSchemaID = &id
		}
		switch {
		case res.Produced:
			a.Offsets[i] = v2Offset{Partition: &res.Partition, Offset: &res.Offset}
		case res.Err != nil:
			code := rpCode(res.Err.Kind, res.Err.Code)
			msg := rpMessage(res.Err.Code, res.Err.Message)
			a.Offsets[i] = v2Offset{ErrorCode: &code, Error: &msg}
			if code == rpForbidden {
				status = http.StatusForbidden
			}
		default:
			code, msg := rpRetriable, "not produced: another record of the request failed first"
			a.Offsets[i] = v2Offset{ErrorCode: &code, Error: &msg}
		}
	}
	b, err := json.Marshal(&a)
	if err != nil {
		writeRPError(w, http.StatusInternalServerError, &rpError{Code: http.StatusInternalServerError, Message: "encoding the answer failed"})
		return
	}
	hdr.Set("Content-Type", answerType)
	hdr.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
