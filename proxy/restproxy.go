package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
)

// Confluent REST Proxy compatibility: the produce calls of REST Proxy's v2
// API (POST /topics/{topic}) and v3 API (POST
// /v3/clusters/{cluster_id}/topics/{topic}/records, one record per JSON
// object, streamed), and GET /v3/clusters, served on the HTTP ingress
// through the same produce pipeline as eventguard's own API. This file
// holds what both versions share: the routes, the error shape and REST
// Proxy's error codes; restproxy_v2.go and restproxy_v3.go the calls,
// restproxy_decode.go the request bodies. docs/rest-proxy.md says what is
// supported and what differs.

// ClusterInfo tells the Kafka cluster's identity; kafka.ClusterInfo
// implements it over franz-go.
type ClusterInfo interface {
	// ClusterID returns the cluster id from Kafka's metadata and the
	// controller's broker id (-1 when unknown).
	ClusterID(ctx context.Context) (id string, controller int32, err error)
}

// SchemaLookup finds a schema's registration under a subject (the
// registry's POST /subjects/{subject}). It never registers anything.
type SchemaLookup interface {
	// LookupSchema returns the id of schema (JSON Schema text) registered
	// under subject: an error wrapping validate.ErrNotFound when it is not
	// registered there, validate.ErrRejected when the registry refuses the
	// lookup (4xx), any other error when the registry could not be asked.
	LookupSchema(ctx context.Context, subject, schema string) (id int, err error)
}

// RESTProxyOptions wire a RESTProxy.
type RESTProxyOptions struct {
	// Config is the sidecar configuration: Limits (body, records, stream
	// bounds), Topics (each topic's subject strategy, to map REST Proxy's
	// subject and subject_name_strategy), Registry.URL (Link headers).
	// Required, with defaults applied and validated.
	Config *config.Config
	// Cluster answers GET /v3/clusters. Required.
	Cluster ClusterInfo
	// Schemas looks up a schema sent in a request (v2 value_schema, v3
	// value.schema). Required.
	Schemas SchemaLookup
	// StreamIdle bounds the wait for the next record of a v3 stream; past
	// it the stream is answered up to there and closed. Default:
	// DefaultStreamIdle.
	StreamIdle time.Duration
	// Logger logs panics. Default: slog.Default().
	Logger *slog.Logger
}

// DefaultStreamIdle is how long a v3 produce stream may wait for its next
// record before eventguard ends it.
const DefaultStreamIdle = 60 * time.Second

// RESTProxy serves Confluent REST Proxy's produce APIs (v2, v3) on the
// HTTP ingress, through the produce pipeline.
type RESTProxy struct {
	p   Producer
	o   RESTProxyOptions
	cfg *config.Config
	log *slog.Logger
	// schemas caches successful lookups of request-borne schemas.
	schemas schemaCache
	// Panics counts handler panics recovered (a bug, answered with 500).
	Panics atomic.Int64
}

// NewRESTProxy returns REST Proxy's produce APIs over p.
func NewRESTProxy(p Producer, o RESTProxyOptions) *RESTProxy {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StreamIdle <= 0 {
		o.StreamIdle = DefaultStreamIdle
	}
	return &RESTProxy{p: p, o: o, cfg: o.Config, log: o.Logger, schemas: schemaCache{m: map[[sha256.Size]byte]int{}}}
}

// Handler returns REST Proxy's routes: POST /topics/{topic} and POST
// /topics/{topic}/partitions/{partition} (v2), POST
// /v3/clusters/{cluster_id}/topics/{topic}/records, GET /v3/clusters and
// GET /v3/clusters/{cluster_id} (v3). Every other path under /v3/ and
// /topics/ is answered in REST Proxy's error shape.
func (rp *RESTProxy) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /topics/{topic}", rp.produceV2)
	mux.HandleFunc("POST /topics/{topic}/partitions/{partition}", rp.produceV2)
	mux.HandleFunc("POST /v3/clusters/{cluster_id}/topics/{topic}/records", rp.produceV3)
	mux.HandleFunc("GET /v3/clusters", rp.listClusters)
	mux.HandleFunc("GET /v3/clusters/{cluster_id}", rp.getCluster)
	for _, path := range []string{"/topics/{topic}", "/topics/{topic}/partitions/{partition}", "/v3/clusters/{cluster_id}/topics/{topic}/records"} {
		mux.HandleFunc(path, rpMethodNotAllowed(http.MethodPost))
	}
	for _, path := range []string{"/v3/clusters", "/v3/clusters/{cluster_id}"} {
		mux.HandleFunc(path, rpMethodNotAllowed(http.MethodGet))
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeRPError(w, http.StatusNotFound, &rpError{Code: 404, Message: "HTTP 404 Not Found"})
	}
	mux.HandleFunc("/topics", notFound) // REST Proxy's topic list: not served
	mux.HandleFunc("/", notFound)
	return rp.recoverer(mux)
}

// Routes returns the HTTP ingress with REST Proxy's routes beside
// eventguard's own: /v3/..., /topics and /topics/... go to rp, the rest to
// h.
func Routes(h *HTTP, rp *RESTProxy) http.Handler {
	mux := http.NewServeMux()
	rph := rp.Handler()
	mux.Handle("/v3/", rph)
	mux.Handle("/topics", rph)
	mux.Handle("/topics/", rph)
	mux.Handle("/", h.Handler())
	return mux
}

func rpMethodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeRPError(w, http.StatusMethodNotAllowed, &rpError{Code: 405, Message: "HTTP 405 Method Not Allowed"})
	}
}

func (rp *RESTProxy) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				rp.Panics.Add(1)
				rp.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeRPError(w, http.StatusInternalServerError, &rpError{Code: 500, Message: "Internal Server Error: eventguard failed on this request (a bug; it was logged)"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// rpError is REST Proxy's error body, v2 and v3 alike.
type rpError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

// REST Proxy's error codes (its Errors and KafkaExceptionMapper), the ones
// eventguard answers with. An HTTP status alone (400, 404, 413...) is also
// an error code, as in REST Proxy.
const (
	rpKafkaBadRequest    = 40002
	rpForbidden          = 40301
	rpTopicNotFound      = 40401
	rpPartitionNotFound  = 40402
	rpKeySchemaMissing   = 42201
	rpInvalidSchema      = 42205
	rpSerialization      = 42207
	rpTooManyRequests    = 42901
	rpRetriable          = 50003
	rpBrokerNotAvailable = 50302
)

// rpCode is REST Proxy's error code for a pipeline failure.
func rpCode(kind produce.Kind, code string) int {
	switch code {
	case produce.CodeTopicNotFound:
		return rpTopicNotFound
	case produce.CodePartitionNotFound, produce.CodeInvalidPartition:
		return rpPartitionNotFound
	case produce.CodeInvalidTopic:
		return rpKafkaBadRequest
	case produce.CodeSchemaNotFound, produce.CodeRegistryRejected:
		return rpSerialization
	case produce.CodeUnusableSchema:
		return rpInvalidSchema
	case produce.CodeKafkaDown:
		return rpBrokerNotAvailable
	case produce.CodeTimeout:
		return rpRetriable
	case produce.CodeOverloaded:
		return rpTooManyRequests
	case produce.CodeKafkaRejected:
		if kind == produce.KindForbidden {
			return rpForbidden
		}
		return rpKafkaBadRequest
	}
	switch kind {
	case produce.KindBadRequest, produce.KindInvalid:
		// REST Proxy answers a value its serializer refuses (JSON Schema
		// validation included) with 400.
		return http.StatusBadRequest
	case produce.KindForbidden:
		return rpForbidden
	case produce.KindNotFound:
		return http.StatusNotFound
	case produce.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case produce.KindOverloaded:
		return rpTooManyRequests
	case produce.KindUnavailable:
		return http.StatusServiceUnavailable
	case produce.KindTimeout:
		return rpRetriable
	default:
		return http.StatusInternalServerError
	}
}

// rpStatus is the HTTP status of a request-level REST Proxy error: the
// code's first three digits, as REST Proxy does, but for a timeout (504)
// and the retriable code (503): an outage is a 5xx with Retry-After.
func rpStatus(kind produce.Kind, code int) int {
	switch {
	case kind == produce.KindTimeout:
		return http.StatusGatewayTimeout
	case code == rpRetriable:
		return http.StatusServiceUnavailable
	case code >= 10000:
		return code / 100
	default:
		return code
	}
}

// rpMessage renders a pipeline failure for REST Proxy clients: the
// eventguard code, then its message (bounded by the pipeline).
func rpMessage(code, msg string) string { return code + ": " + msg }

// writeRPError writes a REST Proxy error body with status.
func writeRPError(w http.ResponseWriter, status int, e *rpError) {
	b, err := json.Marshal(e)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error_code":500,"message":"encoding the answer failed"}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// retryAfter sets Retry-After for a retriable failure.
func retryAfter(hdr http.Header, d time.Duration) {
	if d > 0 {
		hdr.Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// topicPolicy returns topic's entry in the config, or the policy a topic
// admitted by allow_any_topic gets (the topic strategy), as the pipeline
// applies it.
func (rp *RESTProxy) topicPolicy(topic string) config.Topic {
	if t, ok := rp.cfg.Topic(topic); ok {
		return t
	}
	return config.Topic{Name: topic, SubjectStrategy: config.StrategyTopic}
}

// hostRe is what a Host header must look like to be echoed in links.
var hostRe = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]{1,255}$`)

// baseURL is the URL the client reached eventguard at, for the links of
// v3 resources: the Host header when it is a host name (else localhost).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !hostRe.MatchString(host) {
		host = "localhost"
	}
	return scheme + "://" + host
}

// maxSchemaCache bounds the cache of request-borne schemas looked up.
const maxSchemaCache = 1000

// schemaCache remembers the ids of schemas sent in requests (clients send
// the same value_schema on every request), by a SHA-256 of subject and
// schema text. Only registrations found are kept; at maxSchemaCache
// entries it starts over.
type schemaCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]int
}

func schemaKey(subject, schema string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(schema))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *schemaCache) get(subject, schema string) (int, bool) {
	k := schemaKey(subject, schema)
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[k]
	return id, ok
}

func (c *schemaCache) put(subject, schema string, id int) {
	k := schemaKey(subject, schema)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxSchemaCache {
		clear(c.m)
	}
	c.m[k] = id
}

// quoted renders a client's string in a message, bounded.
func quoted(s string) string { return quote.String(s) }
