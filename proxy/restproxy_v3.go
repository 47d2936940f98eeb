package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"golang.org/x/sync/semaphore"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry/span"
	"github.com/eventguard/eventguard/validate"
)

// REST Proxy v3: POST /v3/clusters/{cluster_id}/topics/{topic}/records.
// The body is one record object, or several concatenated (the streamed
// form, usually with Transfer-Encoding: chunked); each gets one answer
// object, in order, written as soon as it is known. Once the body is
// accepted the HTTP status is 200 and each answer carries its own
// error_code (200 for a record produced), as in REST Proxy.
//
// Records are produced in batches: the records that arrive while the
// previous batch waits for Kafka go together into the next, at most
// limits.max_records_per_request at a time, each judged on its own (a bad
// record does not hold back the others). The stream is bounded: a record
// object is at most limits.max_body_bytes, at most limits.max_body_bytes
// of records are read ahead of their answers (eventguard stops reading
// until they are answered), and the next record must arrive within
// StreamIdle.

// rpFailure is a REST Proxy error, with the HTTP status it has when it
// answers a whole request and the wait before a retry.
type rpFailure struct {
	status int
	rpError
	retry time.Duration
}

func rpBadRequest(format string, args ...any) *rpFailure {
	return &rpFailure{status: http.StatusBadRequest, rpError: rpError{Code: http.StatusBadRequest, Message: "Bad Request: " + fmt.Sprintf(format, args...)}}
}

// rpPipelineFailure is REST Proxy's rendering of a pipeline failure.
func rpPipelineFailure(kind produce.Kind, code, msg string, retry time.Duration) *rpFailure {
	c := rpCode(kind, code)
	return &rpFailure{status: rpStatus(kind, c), rpError: rpError{Code: c, Message: rpMessage(code, msg)}, retry: retry}
}

// v3Answer is one answer of a v3 produce call (REST Proxy's
// ProduceResponse), in REST Proxy's field order.
type v3Answer struct {
	ErrorCode   int           `json:"error_code"`
	Message     string        `json:"message,omitempty"`
	ClusterID   string        `json:"cluster_id,omitempty"`
	TopicName   string        `json:"topic_name,omitempty"`
	PartitionID *int32        `json:"partition_id,omitempty"`
	Offset      *int64        `json:"offset,omitempty"`
	Timestamp   string        `json:"timestamp,omitempty"`
	Key         *v3DataAnswer `json:"key,omitempty"`
	Value       *v3DataAnswer `json:"value,omitempty"`
}

// v3DataAnswer describes the key or value written (ProduceResponseData).
// The value always names the schema it was validated against.
type v3DataAnswer struct {
	Type          string `json:"type"`
	Size          int    `json:"size"`
	Subject       string `json:"subject,omitempty"`
	SchemaID      int    `json:"schema_id,omitempty"`
	SchemaVersion int    `json:"schema_version,omitempty"`
}

// v3Item is one record object read from a v3 body, or why reading stopped.
type v3Item struct {
	obj []byte
	// fail, when set, is answered in place of a record; end says the
	// stream stops after it.
	fail *rpFailure
	end  bool
}

func (rp *RESTProxy) produceV3(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		writeRPError(w, http.StatusUnsupportedMediaType, &rpError{Code: http.StatusUnsupportedMediaType, Message: "HTTP 415 Unsupported Media Type"})
		return
	}
	cluster, topic := r.PathValue("cluster_id"), r.PathValue("topic")
	// Records read are produced and answered even when the stream's read
	// fails (the client went away, or was idle: net/http then cancels the
	// request's context); the pipeline bounds each call with
	// limits.produce_timeout.
	ctx, cancel := context.WithCancel(context.WithoutCancel(span.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
	defer cancel()
	feature := r.Header.Get(FeatureHeader)
	limits := rp.cfg.Limits
	maxObj := int(limits.MaxBodyBytes)

	// Answers are written while the body is still being read.
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // not needed (HTTP/2) or not supported (tests): the reads end first

	// The reader hands records over with their bytes reserved in
	// readAhead; they are given back once the records are answered.
	readAhead := semaphore.NewWeighted(int64(maxObj))
	stopCtx, stopRead := context.WithCancel(context.Background())
	items := make(chan v3Item, limits.MaxRecordsPerRequest)
	// stopped is closed when the handler no longer takes items. (A read
	// error, the idle bound included, cancels the request's context: the
	// reader still hands over why it stopped, to be answered.)
	stopped := make(chan struct{})
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		defer close(items)
		sp := &objectSplitter{r: r.Body, max: maxObj}
		for {
			_ = rc.SetReadDeadline(time.Now().Add(rp.o.StreamIdle))
			obj, err := sp.next()
			var it v3Item
			switch {
			case err == nil:
				if readAhead.Acquire(stopCtx, int64(len(obj))) != nil {
					return // the handler is done
				}
				it = v3Item{obj: obj}
			case errors.Is(err, io.EOF):
				return
			case errors.Is(err, errObjectLarge):
				it = v3Item{end: true, fail: &rpFailure{status: http.StatusRequestEntityTooLarge, rpError: rpError{Code: http.StatusRequestEntityTooLarge,
					Message: fmt.Sprintf("The request included a message larger than the maximum message size the server can accept: a record is more than %d bytes (limits.max_body_bytes); the stream ends here", maxObj)}}}
			case errors.Is(err, errNotObject), errors.Is(err, errEndsEarly), errors.Is(err, errBrackets), errors.Is(err, errTooDeep):
				it = v3Item{end: true, fail: rpBadRequest("%v; the stream ends here", err)}
			default: // the client went away, or was idle past StreamIdle
				it = v3Item{end: true, fail: rpBadRequest("%v; the stream ends here (a stream waits at most %s for its next record)", err, rp.o.StreamIdle)}
			}
			select {
			case items <- it:
			case <-stopped:
				return
			}
			if it.end {
				return
			}
		}
	}()
	stop := func() {
		close(stopped)
		stopRead()
		cancel()
		_ = rc.SetReadDeadline(time.Now()) // unblock a pending read
		reading.Wait()
	}
	defer stop()

	answered := 0
	for it := range items {
		batch := []v3Item{it}
	more:
		for !batch[len(batch)-1].end && len(batch) < limits.MaxRecordsPerRequest {
			select {
			case next, ok := <-items:
				if !ok {
					break more
				}
				batch = append(batch, next)
			default:
				break more
			}
		}
		answers, resp := rp.produceV3Batch(ctx, cluster, topic, feature, batch)
		held := 0
		for _, b := range batch {
			held += len(b.obj)
		}
		readAhead.Release(int64(held))
		if answered == 0 {
			hdr := w.Header()
			hdr.Set("Content-Type", "application/json")
			if resp != nil {
				setDeprecationHeaders(hdr, rp.cfg.Registry.URL, resp.Deprecations)
			}
			for _, a := range answers {
				if a.retry > 0 {
					retryAfter(hdr, a.retry)
					break
				}
			}
			w.WriteHeader(http.StatusOK)
		}
		for _, a := range answers {
			b, err := json.Marshal(a.v3Answer)
			if err != nil {
				b = []byte(`{"error_code":500,"message":"encoding the answer failed"}`)
			}
			if _, err := w.Write(append(b, '\r', '\n')); err != nil {
				return // the client went away
			}
			answered++
		}
		_ = rc.Flush()
	}
	if answered == 0 {
		writeRPError(w, http.StatusUnprocessableEntity, &rpError{Code: http.StatusUnprocessableEntity, Message: "Payload error. Request body is empty. Data is required."})
	}
}

// v3Out is one answer and the wait before a retry it asks for.
type v3Out struct {
	v3Answer
	retry time.Duration
}

// pending is a v3 record handed to the pipeline, with what its answer
// reports beside the pipeline's result.
type pendingV3 struct {
	index     int // in the batch
	keyType   string
	keySize   int
	hasKey    bool
	valueType string
	valueSize int
	binary    bool // the value was BINARY or STRING: say so on malformed_json
}

// produceV3Batch decodes a batch of v3 records, produces the valid ones in
// one pipeline request (each judged alone), and returns one answer per
// item, in order.
func (rp *RESTProxy) produceV3Batch(ctx context.Context, cluster, topic, feature string, batch []v3Item) ([]v3Out, *produce.Response) {
	out := make([]v3Out, len(batch))
	req := &produce.Request{Topic: topic, Feature: feature, Partial: true}
	var pend []pendingV3
	for i, it := range batch {
		if it.fail != nil {
			out[i] = v3Out{v3Answer: v3Answer{ErrorCode: it.fail.Code, Message: it.fail.Message}, retry: it.fail.retry}
			continue
		}
		rec, p, f := rp.v3Record(ctx, topic, it.obj)
		if f != nil {
			out[i] = v3Out{v3Answer: v3Answer{ErrorCode: f.Code, Message: f.Message}, retry: f.retry}
			continue
		}
		p.index = i
		pend = append(pend, p)
		req.Records = append(req.Records, rec)
	}
	if len(req.Records) == 0 {
		return out, nil
	}
	resp := rp.p.Produce(ctx, req)
	for n, p := range pend {
		var res *produce.Result
		if n < len(resp.Results) {
			res = &resp.Results[n]
		}
		switch {
		case res != nil && res.Produced:
			a := v3Answer{ErrorCode: http.StatusOK, ClusterID: cluster, TopicName: topic, PartitionID: &res.Partition, Offset: &res.Offset, Timestamp: javaInstant(res.Timestamp),
				Value: &v3DataAnswer{Type: p.valueType, Size: p.valueSize, Subject: res.Subject, SchemaID: res.SchemaID, SchemaVersion: res.SchemaVersion}}
			if p.hasKey {
				a.Key = &v3DataAnswer{Type: p.keyType, Size: p.keySize}
			}
			out[p.index] = v3Out{v3Answer: a}
		case res != nil && res.Err != nil:
			e := res.Err
			retry := time.Duration(0)
			if e.Kind == produce.KindUnavailable || e.Kind == produce.KindOverloaded {
				retry = 5 * time.Second
			}
			f := rpPipelineFailure(e.Kind, e.Code, valueHint(e.Code, e.Message, p.binary), retry)
			out[p.index] = v3Out{v3Answer: v3Answer{ErrorCode: f.Code, Message: f.Message}, retry: f.retry}
		case resp.Err != nil:
			// Refused as a whole before this record was judged (the
			// topic, the feature, Kafka or the registry unreachable).
			f := rpPipelineFailure(resp.Err.Kind, resp.Err.Code, resp.Err.Message, resp.Err.RetryAfter)
			out[p.index] = v3Out{v3Answer: v3Answer{ErrorCode: f.Code, Message: f.Message}, retry: f.retry}
		default:
			out[p.index] = v3Out{v3Answer: v3Answer{ErrorCode: http.StatusInternalServerError, Message: "Internal Server Error: no outcome for this record (a bug)"}}
		}
	}
	return out, resp
}

// valueHint adds to a malformed_json message that a BINARY or STRING value
// is validated as JSON once decoded.
func valueHint(code, msg string, binary bool) string {
	if binary && code == check.CodeMalformedJSON {
		return msg + " (a BINARY or STRING value is validated as JSON once decoded: every value must meet the topic's contract)"
	}
	return msg
}

// javaInstant renders t as Java's Instant.toString does for a Kafka
// timestamp (milliseconds): "2021-02-05T19:14:42Z" or
// "2021-02-05T19:14:42.123Z".
func javaInstant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	if t.Nanosecond()/int(time.Millisecond) == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// v3Record decodes one record object into a produce.Record.
func (rp *RESTProxy) v3Record(ctx context.Context, topic string, obj []byte) (produce.Record, pendingV3, *rpFailure) {
	var rec produce.Record
	var p pendingV3
	vr, err := decodeV3Record(obj)
	if err != nil {
		return rec, p, rpBadRequest("the record is not a valid REST Proxy v3 record: %v", err)
	}
	rec.Headers = vr.headers
	rec.Partition, rec.PartitionSet = vr.partition, vr.partitionSet
	if vr.partitionSet && vr.partition < 0 {
		return rec, p, &rpFailure{status: http.StatusNotFound, rpError: rpError{Code: rpPartitionNotFound, Message: fmt.Sprintf("Partition not found: partition_id %d", vr.partition)}}
	}
	rec.Timestamp = vr.timestamp
	key, f := v3Key(&vr.key)
	if f != nil {
		return rec, p, f
	}
	if key != nil {
		rec.Key, p.hasKey, p.keyType, p.keySize = key, true, vr.key.typ, len(key)
	}
	if f := rp.v3Value(ctx, topic, &vr.value, &rec); f != nil {
		return rec, p, f
	}
	p.valueType = vr.value.typ
	if p.valueType == "" {
		p.valueType = rpTypeJSONSchema
	}
	p.valueSize = validate.WireHeaderLen + len(rec.Value)
	p.binary = vr.value.typ == rpTypeBinary || vr.value.typ == rpTypeString
	return rec, p, nil
}

// v3Key returns the key bytes of a v3 record: BINARY base64-decoded,
// STRING as UTF-8, JSON as compact JSON text (what REST Proxy writes); nil
// for no key. Keys with a schema are not supported.
func v3Key(d *v3Data) ([]byte, *rpFailure) {
	if !d.present || d.data == nil {
		return nil, nil
	}
	switch d.typ {
	case rpTypeBinary, rpTypeString, rpTypeJSON:
		if d.usesSchemaFields() {
			return nil, rpBadRequest("key.type %s takes no schema (subject, subject_name_strategy, schema_id, schema_version, schema)", d.typ)
		}
	default:
		return nil, rpBadRequest("key: eventguard does not serialize keys with a schema (key schemas are not supported); give the key a type: BINARY, STRING or JSON")
	}
	return keyBytes(d.typ, d.data, "key.data")
}

// keyBytes returns the bytes of a key given as JSON text data: base64
// decoded (BINARY), a string's UTF-8 (STRING), compact JSON text (JSON).
func keyBytes(typ string, data []byte, field string) ([]byte, *rpFailure) {
	switch typ {
	case rpTypeBinary:
		b, f := dataBytes(data, field, true)
		return b, f
	case rpTypeString:
		b, f := dataBytes(data, field, false)
		return b, f
	default:
		b, err := compactJSON(data)
		if err != nil {
			return nil, rpBadRequest("%s is not JSON: %v", field, err)
		}
		return b, nil
	}
}

// dataBytes returns the bytes of BINARY data (a base64 string) or STRING
// data (a string's UTF-8), with REST Proxy's messages.
func dataBytes(data []byte, field string, binary bool) ([]byte, *rpFailure) {
	s, err := jsonString(data)
	switch {
	case errors.Is(err, errNotString) && binary:
		return nil, rpBadRequest("%s=%s is not a base64 string.", field, quote.Cut(string(data), quote.MaxBytes))
	case errors.Is(err, errNotString):
		return nil, rpBadRequest("%s=%s is not a string.", field, quote.Cut(string(data), quote.MaxBytes))
	case err != nil:
		return nil, rpBadRequest("%s is not a valid JSON string: %v", field, err)
	case !binary:
		return []byte(s), nil
	}
	b, err := decodeBase64(s)
	if err != nil {
		return nil, rpBadRequest("%s=%s is not a valid base64 string.", field, quote.Cut(s, quote.MaxBytes))
	}
	return b, nil
}

// v3Value sets r's value and schema pins from a v3 record's value.
func (rp *RESTProxy) v3Value(ctx context.Context, topic string, d *v3Data, r *produce.Record) *rpFailure {
	switch d.typ {
	case rpTypeAvro, rpTypeProtobuf:
		return rpBadRequest("value.type %s is not supported on the REST Proxy front door: send the data as JSON (type JSON, or no type to name its schema); eventguard checks it against the topic's contract and writes it in its subject's format (JSON Schema, Avro or Protobuf)", d.typ)
	case rpTypeBinary, rpTypeString, rpTypeJSON:
		if d.usesSchemaFields() {
			return rpBadRequest("value.type %s takes no schema (subject, subject_name_strategy, schema_id, schema_version, schema); leave the type out to name a schema", d.typ)
		}
	}
	if !d.present || d.data == nil {
		return rpBadRequest("the record has no value: eventguard validates every value against the topic's contract, so records without a value (tombstones) are not supported")
	}
	switch d.typ {
	case rpTypeBinary, rpTypeString:
		b, f := dataBytes(d.data, "data", d.typ == rpTypeBinary)
		if f != nil {
			return f
		}
		r.Value = b
	default:
		r.Value = d.data
	}
	t := rp.topicPolicy(topic)
	if d.strategy != "" && rpStrategies[d.strategy] != strategyOf(t) {
		return rpBadRequest("value.subject_name_strategy %s does not match topic %q's subject strategy in eventguard's config (%s)", d.strategy, topic, strategyOf(t))
	}
	if d.subject != "" {
		typ, ok := typeForSubject(t, d.subject)
		if !ok {
			return rpBadRequest("value.subject %s is not a subject topic %q may carry under its %s subject strategy", quoted(d.subject), topic, strategyOf(t))
		}
		r.Type = typ
	}
	r.SchemaID, r.SchemaVersion = d.schemaID, d.schemaVersion
	if d.hasSchema {
		if d.schemaID != 0 || d.schemaVersion != 0 {
			return rpBadRequest("give value.schema, value.schema_id or value.schema_version, not two of them")
		}
		subject := d.subject
		if subject == "" {
			if strategyOf(t) != config.StrategyTopic {
				return rpBadRequest("value.schema on topic %q (%s subject strategy) needs value.subject", topic, strategyOf(t))
			}
			subject = check.TopicSubject(topic)
		}
		id, f := rp.lookup(ctx, subject, d.schema)
		if f != nil {
			return f
		}
		r.SchemaID = id
	}
	return nil
}

// strategyOf is t's subject strategy, the default spelled out.
func strategyOf(t config.Topic) string {
	if t.SubjectStrategy == "" {
		return config.StrategyTopic
	}
	return t.SubjectStrategy
}

// typeForSubject returns the record type that makes the pipeline derive
// subject on topic t (check.Subject), and whether there is one.
func typeForSubject(t config.Topic, subject string) (string, bool) {
	typ := ""
	switch strategyOf(t) {
	case config.StrategyRecord:
		typ = subject
	case config.StrategyTopicRecord:
		if len(subject) <= len(t.Name)+1 || subject[:len(t.Name)+1] != t.Name+"-" {
			return "", false
		}
		typ = subject[len(t.Name)+1:]
	}
	return typ, check.Subject(t, typ) == subject
}

// lookup returns the id of schema registered under subject, asking the
// registry once per subject and schema text (cached).
func (rp *RESTProxy) lookup(ctx context.Context, subject, schema string) (int, *rpFailure) {
	if id, ok := rp.schemas.get(subject, schema); ok {
		return id, nil
	}
	id, err := rp.o.Schemas.LookupSchema(ctx, subject, schema)
	switch {
	case err == nil:
		rp.schemas.put(subject, schema, id)
		return id, nil
	case errors.Is(err, validate.ErrNotFound):
		return 0, &rpFailure{status: http.StatusUnprocessableEntity, rpError: rpError{Code: rpInvalidSchema, Message: fmt.Sprintf(
			"Invalid schema: the schema sent is not registered under subject %s; eventguard does not register schemas from producers: register it with the topic's contract (eventguard contracts register), then send it again or send its id", quoted(subject))}}
	case errors.Is(err, validate.ErrRejected):
		return 0, &rpFailure{status: http.StatusUnprocessableEntity, rpError: rpError{Code: rpSerialization, Message: fmt.Sprintf("Error serializing message. The registry refused the lookup under subject %s: %v", quoted(subject), err)}}
	default:
		return 0, &rpFailure{status: http.StatusServiceUnavailable, rpError: rpError{Code: http.StatusServiceUnavailable, Message: rpMessage(produce.CodeRegistryDown, fmt.Sprintf("looking the schema up under subject %s: %v", quoted(subject), err))}, retry: 5 * time.Second}
	}
}

// rpCluster is REST Proxy's KafkaCluster resource.
type rpCluster struct {
	Kind                   string          `json:"kind"`
	Metadata               rpResourceMeta  `json:"metadata"`
	ClusterID              string          `json:"cluster_id"`
	Controller             *rpRelationship `json:"controller,omitempty"`
	ACLs                   rpRelationship  `json:"acls"`
	Brokers                rpRelationship  `json:"brokers"`
	BrokerConfigs          rpRelationship  `json:"broker_configs"`
	ConsumerGroups         rpRelationship  `json:"consumer_groups"`
	Topics                 rpRelationship  `json:"topics"`
	PartitionReassignments rpRelationship  `json:"partition_reassignments"`
}

type rpResourceMeta struct {
	Self         string `json:"self"`
	ResourceName string `json:"resource_name"`
}

type rpRelationship struct {
	Related string `json:"related"`
}

type rpClusterList struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Self string  `json:"self"`
		Next *string `json:"next"`
	} `json:"metadata"`
	Data []rpCluster `json:"data"`
}

// clusterID asks Kafka for the cluster id and controller (a metadata
// request for no topic, bounded by limits.produce_timeout).
func (rp *RESTProxy) clusterID(ctx context.Context) (string, int32, *rpFailure) {
	ctx, cancel := context.WithTimeout(ctx, rp.cfg.Limits.ProduceTimeout)
	defer cancel()
	id, controller, err := rp.o.Cluster.ClusterID(ctx)
	if err != nil {
		return "", 0, &rpFailure{status: http.StatusServiceUnavailable, rpError: rpError{Code: rpBrokerNotAvailable, Message: rpMessage(produce.CodeKafkaDown, "asking Kafka for the cluster id: "+err.Error())}, retry: 5 * time.Second}
	}
	return id, controller, nil
}

func cluster(base, id string, controller int32) rpCluster {
	self := base + "/v3/clusters/" + id
	c := rpCluster{Kind: "KafkaCluster", Metadata: rpResourceMeta{Self: self, ResourceName: "crn:///kafka=" + id}, ClusterID: id,
		ACLs: rpRelationship{self + "/acls"}, Brokers: rpRelationship{self + "/brokers"}, BrokerConfigs: rpRelationship{self + "/broker-configs"},
		ConsumerGroups: rpRelationship{self + "/consumer-groups"}, Topics: rpRelationship{self + "/topics"},
		PartitionReassignments: rpRelationship{self + "/topics/-/partitions/-/reassignment"}}
	if controller >= 0 {
		c.Controller = &rpRelationship{self + "/brokers/" + strconv.Itoa(int(controller))}
	}
	return c
}

func (rp *RESTProxy) listClusters(w http.ResponseWriter, r *http.Request) {
	id, controller, f := rp.clusterID(r.Context())
	if f != nil {
		retryAfter(w.Header(), f.retry)
		writeRPError(w, f.status, &f.rpError)
		return
	}
	base := baseURL(r)
	var l rpClusterList
	l.Kind = "KafkaClusterList"
	l.Metadata.Self = base + "/v3/clusters"
	l.Data = []rpCluster{cluster(base, id, controller)}
	writeJSON(w, http.StatusOK, &l)
}

func (rp *RESTProxy) getCluster(w http.ResponseWriter, r *http.Request) {
	id, controller, f := rp.clusterID(r.Context())
	if f != nil {
		retryAfter(w.Header(), f.retry)
		writeRPError(w, f.status, &f.rpError)
		return
	}
	if want := r.PathValue("cluster_id"); want != id {
		writeRPError(w, http.StatusNotFound, &rpError{Code: http.StatusNotFound, Message: fmt.Sprintf("Cluster %s cannot be found.", quote.Cut(want, quote.MaxBytes))})
		return
	}
	c := cluster(baseURL(r), id, controller)
	writeJSON(w, http.StatusOK, &c)
}
