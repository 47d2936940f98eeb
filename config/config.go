// Package config holds eventguard's configuration: the types, their defaults,
// loading from YAML and the environment, and validation.
//
// The YAML keys are a public contract. Every field's doc comment states its
// default; docs/config.md is generated from these comments (make docs) and a
// test fails when it is stale.
package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole sidecar configuration.
type Config struct {
	// Feature is the producing feature stamped on every produced record when
	// the request does not name one in the Eventguard-Feature header.
	// Default: "default".
	Feature string `yaml:"feature"`

	// Instance names this sidecar in dead-letter headers, logs and the
	// catalog. Default: the host name (the pod name in Kubernetes).
	Instance string `yaml:"instance"`

	// Kafka configures the Kafka client.
	Kafka Kafka `yaml:"kafka"`

	// Registry configures the Confluent-compatible schema registry client.
	Registry Registry `yaml:"registry"`

	// Listen holds the listener addresses.
	Listen Listen `yaml:"listen"`

	// Topics is the produce allow-list with each topic's subject strategy.
	// Default: empty (no topic may be produced to unless AllowAnyTopic).
	Topics []Topic `yaml:"topics"`

	// AllowAnyTopic allows producing to any topic that is not in Topics,
	// as long as its subject (with the topic subject strategy) exists in
	// the registry. `eventguard dev` turns it on. Default: false.
	AllowAnyTopic bool `yaml:"allow_any_topic"`

	// Limits bounds what one produce request may carry and how long it may take.
	Limits Limits `yaml:"limits"`

	// Subscriptions are the consume loops this sidecar runs for its app.
	// Default: none.
	Subscriptions []Subscription `yaml:"subscriptions"`

	// Deprecations declares deprecated subject versions. Default: none.
	Deprecations []Deprecation `yaml:"deprecations"`

	// Rules configures the contracts' domain rules (CEL, KEY,
	// TRANSITION; docs/rules.md): rules of the config's own, and their
	// bounds.
	Rules Rules `yaml:"rules"`

	// Log configures logging.
	Log Log `yaml:"log"`

	// Shutdown configures the graceful stop on SIGTERM.
	Shutdown Shutdown `yaml:"shutdown"`

	// GRPC configures the gRPC ingress beyond its listen address.
	GRPC GRPC `yaml:"grpc"`

	// Telemetry configures tracing.
	Telemetry Telemetry `yaml:"telemetry"`
}

// Kafka configures the Kafka client used for producing and consuming.
type Kafka struct {
	// Brokers are the seed brokers, host:port. Default: ["127.0.0.1:9092"].
	Brokers []string `yaml:"brokers"`

	// ClientID is the Kafka client id. Default: "eventguard".
	ClientID string `yaml:"client_id"`

	// TLS configures TLS to the brokers. Default: off.
	TLS TLS `yaml:"tls"`

	// SASL configures SASL authentication. Default: off.
	SASL SASL `yaml:"sasl"`

	// Compression is the producer's batch compression: none, gzip, snappy,
	// lz4 or zstd. Default: "snappy".
	Compression string `yaml:"compression"`

	// Linger is how long the producer waits to fill a batch. Default: 0
	// (batches still form while a request to the broker is in flight).
	Linger time.Duration `yaml:"linger"`

	// MaxBufferedRecords bounds the records buffered in the producer,
	// handed over and not yet acknowledged by Kafka. A produce request
	// that would exceed it is refused at once, whole, with 429 overloaded
	// and Retry-After (gRPC RESOURCE_EXHAUSTED): it never waits for room.
	// Default: 10000.
	MaxBufferedRecords int `yaml:"max_buffered_records"`
	// MaxBufferedBytes bounds the bytes of those records (framed values,
	// keys and headers), as MaxBufferedRecords bounds their number: with
	// both, a broker that stops answering costs at most this much memory
	// of buffered records. Default: 16777216 (16 MiB).
	MaxBufferedBytes int `yaml:"max_buffered_bytes"`

	// AutoCreateTopics lets the producer ask the broker to create a missing
	// topic (the broker's auto.create.topics.enable must allow it too).
	// `eventguard dev` turns it on. Default: false.
	AutoCreateTopics bool `yaml:"auto_create_topics"`
}

// TLS configures a TLS client.
type TLS struct {
	// Enabled turns TLS on. Default: false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of CAs to trust. Default: the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile is the client certificate (PEM) for mutual TLS. Default: none.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client key (PEM) for mutual TLS. Default: none.
	KeyFile string `yaml:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	// Default: the host of the address dialled.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables certificate verification. Never use it in
	// production. Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL configures SASL authentication to the brokers.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables
	// SASL. Default: "".
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user. Default: "".
	Username string `yaml:"username"`
	// Password is the SASL password; prefer PasswordFile or the
	// EVENTGUARD_KAFKA_SASL_PASSWORD environment variable. Default: "".
	Password string `yaml:"password"`
	// PasswordFile is a file holding the password (a mounted Secret).
	// Default: "".
	PasswordFile string `yaml:"password_file"`
}

// Registry configures the schema registry client.
type Registry struct {
	// URL is the registry's base URL. Default: "http://127.0.0.1:8081".
	URL string `yaml:"url"`
	// Username for HTTP basic auth. Default: "" (no auth).
	Username string `yaml:"username"`
	// Password for HTTP basic auth. Default: "".
	Password string `yaml:"password"`
	// PasswordFile is a file holding the basic-auth password. Default: "".
	PasswordFile string `yaml:"password_file"`
	// BearerToken is sent as "Authorization: Bearer ..."; prefer
	// BearerTokenFile. Default: "".
	BearerToken string `yaml:"bearer_token"`
	// BearerTokenFile is a file holding the bearer token. Default: "".
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Timeout bounds one registry request. Default: 5s.
	Timeout time.Duration `yaml:"timeout"`
	// LatestTTL is how long a subject's "latest version" is trusted before
	// it is looked up again; schemas by id and by version never expire.
	// Default: 30s.
	LatestTTL time.Duration `yaml:"latest_ttl"`
}

// Listen holds listener addresses; an empty string turns a listener off.
type Listen struct {
	// HTTP is the HTTP ingress address: host:port, or a Unix domain socket
	// as unix:///absolute/path (shared with the app through a volume; the
	// socket is made readable and writable by all, so the directory is
	// what restricts it). Keep a TCP address on loopback: only the app in
	// the same pod should reach it. Default: "127.0.0.1:8080".
	HTTP string `yaml:"http"`
	// GRPC is the gRPC ingress address: host:port or unix:///absolute/path
	// (grpc-go and most gRPC clients dial "unix:///path" as it is).
	// Default: "127.0.0.1:9090".
	GRPC string `yaml:"grpc"`
	// Admin serves /metrics, /healthz, /readyz, /v1/catalog, /v1/recent
	// and the admin page, /ui. Default: "0.0.0.0:9464".
	Admin string `yaml:"admin"`
	// ReadTimeout bounds reading one HTTP request, headers and body, on
	// the HTTP ingress and the admin listener: a client sending slower is
	// answered 408 and cut off (slowloris). The headers alone must arrive
	// within 10s or ReadTimeout, whichever is shorter. With the default
	// limits.max_body_bytes it asks at least 140 kB/s of a client.
	// Default: 30s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes an HTTP keep-alive connection of the HTTP ingress
	// or the admin listener that waited that long for its next request.
	// Default: 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections bounds the connections each listener (HTTP ingress,
	// gRPC, admin) holds open at once; past it, new connections wait in the
	// kernel's accept queue until one closes. Default: 1024.
	MaxConnections int `yaml:"max_connections"`
	// Pprof also serves Go's profiles (/debug/pprof/) on the admin
	// listener, to diagnose CPU and memory use. They reveal the process's
	// internals: turn it on only where the admin port is not reachable from
	// outside the pod. Default: false.
	Pprof bool `yaml:"pprof"`
	// Auth authenticates the clients of the HTTP and gRPC ingress and of
	// the admin listener's data endpoints, for when loopback is not enough
	// (docker compose, a sidecar per node; docs/deploy.md, "Authenticating
	// the ingress"). Default: off.
	Auth ListenAuth `yaml:"auth"`
	// TLS serves the HTTP ingress, the gRPC ingress and the admin listener
	// over TLS. Default: off (plain text).
	TLS ListenTLS `yaml:"tls"`
}

// Authentication modes (ListenAuth.Mode).
const (
	// AuthNone authenticates nobody: whoever reaches a listener may use it.
	AuthNone = "none"
	// AuthToken asks every request for a bearer token.
	AuthToken = "token"
	// AuthMTLS asks every connection for a client certificate.
	AuthMTLS = "mtls"
)

// ListenAuth authenticates the listeners' clients. It covers every route and
// method of the HTTP ingress, every gRPC method but the standard health
// service (grpc.health.v1, for probes), and the admin listener's data
// endpoints: /v1/catalog, /v1/recent, /ui and its assets, /debug/pprof/.
// /metrics, /healthz and /readyz stay open for probes and scrapers. A client
// that is not authenticated is answered 401 with WWW-Authenticate (HTTP) or
// UNAUTHENTICATED (gRPC). Tokens are never logged.
type ListenAuth struct {
	// Mode is none, token or mtls. token: a request carries one of the
	// accepted tokens as "Authorization: Bearer <token>" (gRPC: the
	// authorization metadata), or over HTTP as the password of Basic auth
	// with any user name (so a browser can open the admin page). mtls: a
	// connection presents a client certificate that
	// listen.tls.client_ca_file verifies. Default: "none".
	Mode string `yaml:"mode"`
	// Tokens are accepted bearer tokens; list several to rotate (the old
	// and the new one accepted together). Prefer TokenFiles, or the
	// EVENTGUARD_LISTEN_AUTH_TOKENS environment variable (comma-separated),
	// to keeping a token in the file. A token is 16 to 4096 characters of
	// RFC 6750's b64token: letters, digits, "-", ".", "_", "~", "+", "/",
	// then optionally "=" padding. Default: none.
	Tokens StringList `yaml:"tokens"`
	// TokenFiles are files (mounted Secrets) holding accepted tokens, one
	// per non-empty line. A file that changes is read again, checked at
	// most every 10s on the next request: a rotated Secret takes effect
	// without a restart (a file that cannot be read or holds no valid
	// token then keeps its previous tokens, with a warning in the log).
	// Default: none.
	TokenFiles StringList `yaml:"token_files"`
}

// ListenTLS is the TLS server side of the listeners (TLS 1.2 or later).
// The files are read at start and read again when they change, checked at
// most every 10s on the next handshake: a renewed certificate takes effect
// without a restart.
type ListenTLS struct {
	// CertFile is the server certificate (PEM, its chain after it). With
	// KeyFile, every listener serves TLS; probes and scrapers of the admin
	// listener then use HTTPS. Default: "" (plain text).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the server certificate's private key (PEM). Default: "".
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is the CA bundle (PEM) client certificates must chain
	// to, with listen.auth.mode mtls (and required by it). Default: "".
	ClientCAFile string `yaml:"client_ca_file"`
}

// StringList is a list of strings in YAML. A single string is taken as a
// list of one; any other shape is refused without quoting it, so a
// misplaced secret does not end up in the error.
type StringList []string

// UnmarshalYAML decodes a sequence of strings or one string.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return fmt.Errorf("line %d: want a list of strings", c.Line)
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// UnixPrefix starts a listen address that is a Unix domain socket path.
const UnixPrefix = "unix://"

// ListenNetwork splits a listen address into what net.Listen takes:
// ("unix", "/path") for unix:///path, else ("tcp", addr).
func ListenNetwork(addr string) (network, address string) {
	if strings.HasPrefix(addr, UnixPrefix) {
		return "unix", strings.TrimPrefix(addr, UnixPrefix)
	}
	return "tcp", addr
}

// Subject strategies name how a record's subject is derived.
const (
	// StrategyTopic uses "<topic>-value".
	StrategyTopic = "topic"
	// StrategyRecord uses the record's type.
	StrategyRecord = "record"
	// StrategyTopicRecord uses "<topic>-<type>".
	StrategyTopicRecord = "topic_record"
	// StrategyAny, for a subscription only, accepts records framed with a
	// schema registered under any subject.
	StrategyAny = "any"
)

// Topic is one entry of the produce allow-list.
type Topic struct {
	// Name is the Kafka topic. Required.
	Name string `yaml:"name"`
	// SubjectStrategy is topic, record or topic_record. Default: "topic".
	SubjectStrategy string `yaml:"subject_strategy"`
	// TypePointer is a JSON pointer into the value naming the record's type
	// (for example "/event_type") for the record and topic_record
	// strategies when the request does not give "type". Default: "".
	TypePointer string `yaml:"type_pointer"`
	// KeyRequired refuses records without a key. Default: false.
	KeyRequired bool `yaml:"key_required"`
	// Features, when not empty, are the only producing features allowed on
	// this topic; others get 403. Default: empty (any feature).
	Features []string `yaml:"features"`
}

// Limits bounds produce requests.
type Limits struct {
	// MaxBodyBytes bounds an HTTP request body. Default: 4194304 (4 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxRecordsPerRequest bounds the records of one request. Default: 1000.
	MaxRecordsPerRequest int `yaml:"max_records_per_request"`
	// MaxValueBytes bounds one record's value; keep it at or below the
	// topic's max.message.bytes. Default: 1000000.
	MaxValueBytes int `yaml:"max_value_bytes"`
	// MaxKeyBytes bounds one record's key; a longer key is refused with 400
	// invalid_key. Default: 4096.
	MaxKeyBytes int `yaml:"max_key_bytes"`
	// ProduceTimeout bounds a produce request from arrival to the broker's
	// acknowledgement of all its records; past it the answer is 504.
	// Default: 10s.
	ProduceTimeout time.Duration `yaml:"produce_timeout"`
}

// Subscription is one consume loop delivering a topic's valid records to the app.
type Subscription struct {
	// Name identifies the subscription in logs, metrics and gRPC Subscribe.
	// Required.
	Name string `yaml:"name"`
	// Topics are consumed. Required.
	Topics []string `yaml:"topics"`
	// Group is the Kafka consumer group. Default: the subscription name.
	Group string `yaml:"group"`
	// Deliver says where valid records go.
	Deliver Deliver `yaml:"deliver"`
	// DLQTopic receives records that fail. Default: "<topic>.dlq" for each
	// consumed topic.
	DLQTopic string `yaml:"dlq_topic"`
	// Retry governs redelivery after a 5xx, a connection error or a timeout.
	Retry Retry `yaml:"retry"`
	// MaxInFlight bounds the records fetched but not yet finished across
	// all partitions of the subscription, shared equally by the assigned
	// partitions: a partition holding its share is no longer fetched until
	// it has finished half of it (the records of one fetch, at most 256 KiB
	// per partition, can come on top), and at most its share is started
	// and unfinished at once. Default: 256.
	MaxInFlight int `yaml:"max_in_flight"`
	// SessionTimeout is how long the group waits for a member that stopped
	// heartbeating (a killed pod) before giving its partitions to another;
	// the broker bounds it (group.min/max.session.timeout.ms, by default
	// 6s to 30m). Default: 45s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// StartFrom is where a group with no committed offset starts: earliest
	// or latest. Default: "earliest".
	StartFrom string `yaml:"start_from"`
	// SubjectStrategy says which subjects a consumed record's schema id
	// may be registered under: topic ("<topic>-value"), topic_record
	// ("<topic>-<type>"), record (any record type), or any (any subject,
	// for a topic that carries several types under subjects of their
	// own). A record framed with a schema of another subject is
	// dead-lettered as wrong_subject: a producer that bypasses eventguard
	// cannot bypass the topic's contract. Default: "" — the topic's
	// subject_strategy in topics when it is listed there, else topic.
	SubjectStrategy string `yaml:"subject_strategy"`
}

// Deliver names the delivery target: an HTTP URL or the gRPC Subscribe stream.
type Deliver struct {
	// URL receives each valid record as an HTTP POST. Default: "".
	URL string `yaml:"url"`
	// GRPC delivers over the gRPC Subscribe stream instead of HTTP: the
	// app subscribes by this subscription's name. Needs listen.grpc (not
	// "off"). Default: false.
	GRPC bool `yaml:"grpc"`
	// Timeout bounds one delivery attempt. Default: 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Format is how a record is POSTed to URL: "eventguard" (the value as
	// the body, the record's facts in Eventguard-* headers) or
	// "cloudevents" (CloudEvents 1.0 in HTTP binary mode: the same, plus
	// ce-* headers: the record's own CloudEvents attributes when it was
	// produced as a CloudEvent, else made from its event id, feature,
	// subject, timestamp and key; see docs/cloudevents.md). Only with url.
	// Default: "eventguard".
	Format string `yaml:"format"`
}

// Delivery formats (Deliver.Format).
const (
	// FormatEventguard delivers the value with Eventguard-* headers.
	FormatEventguard = "eventguard"
	// FormatCloudEvents delivers in CloudEvents HTTP binary mode.
	FormatCloudEvents = "cloudevents"
)

// Retry is an exponential backoff policy.
type Retry struct {
	// Attempts is the number of delivery attempts, the first included.
	// Default: 5.
	Attempts int `yaml:"attempts"`
	// InitialBackoff is the wait after the first failure. Default: 100ms.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the wait between attempts. Default: 10s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Deprecation marks one subject version deprecated.
type Deprecation struct {
	// Subject is the deprecated subject. Required.
	Subject string `yaml:"subject"`
	// Version is the deprecated version. Required.
	Version int `yaml:"version"`
	// Sunset is the date (YYYY-MM-DD, UTC) after which AfterSunset applies.
	// Required.
	Sunset Date `yaml:"sunset"`
	// Since is the date the version was deprecated, sent in the
	// Deprecation response header. Default: none (the header then says
	// "@0": deprecated, date not given).
	Since Date `yaml:"since"`
	// Owner is who to ask (a team or a channel). Default: "".
	Owner string `yaml:"owner"`
	// Replacement is the subject version to move to. Default: none.
	Replacement *SubjectVersion `yaml:"replacement"`
	// AfterSunset is warn or reject. Default: "warn".
	AfterSunset string `yaml:"after_sunset"`
}

// SubjectVersion names one version of a subject.
type SubjectVersion struct {
	// Subject is the registry subject. Required.
	Subject string `yaml:"subject"`
	// Version is the subject version. Required.
	Version int `yaml:"version"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default: "info".
	Level string `yaml:"level"`
	// Format is json or text. Default: "json" ("text" in eventguard dev).
	Format string `yaml:"format"`
}

// Shutdown configures the graceful stop.
type Shutdown struct {
	// DrainDelay is how long the sidecar keeps serving with /readyz failing
	// after SIGTERM, so load balancers stop sending. Default: 0s.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// GracePeriod bounds the whole stop after the drain delay: in-flight
	// produces answered, producer flushed, offsets committed. Default: 20s.
	GracePeriod time.Duration `yaml:"grace_period"`
}

// GRPC configures the gRPC server.
type GRPC struct {
	// MaxRecvBytes bounds one received message; a larger one is refused
	// with RESOURCE_EXHAUSTED. At least 1024. Default: 4194304 (4 MiB).
	MaxRecvBytes int `yaml:"max_recv_bytes"`
	// KeepaliveTime is the server's keepalive ping interval on an idle
	// connection. Must be positive. Default: 2h.
	KeepaliveTime time.Duration `yaml:"keepalive_time"`
	// KeepaliveTimeout is how long a keepalive ping may go unanswered
	// before the connection is closed. Must be positive. Default: 20s.
	KeepaliveTimeout time.Duration `yaml:"keepalive_timeout"`
	// KeepaliveMinTime is the shortest interval between a client's
	// keepalive pings the server tolerates; a client pinging more often is
	// disconnected (GOAWAY too_many_pings). Must be positive. Default: 10s.
	KeepaliveMinTime time.Duration `yaml:"keepalive_min_time"`
	// MaxStreamRequestsInFlight bounds produce requests a ProduceStream has
	// accepted but not yet answered; the stream stops reading past it, so
	// a slow broker slows the client. Memory grows with it (streams ×
	// requests in flight × request size); more than 4 bought no throughput
	// in the benchmark, only latency and memory. At least 1. Default: 4.
	MaxStreamRequestsInFlight int `yaml:"max_stream_requests_in_flight"`
}

// Telemetry configures tracing. OTLP export itself is configured with the
// standard OTEL_EXPORTER_OTLP_* environment variables.
type Telemetry struct {
	// Tracing turns span export on. Default: false (trace context is still
	// propagated and stamped).
	Tracing bool `yaml:"tracing"`
	// SampleRatio is the ratio of new traces sampled; a sampled parent is
	// always followed. Default: 0.01.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Date is a calendar date in YAML as YYYY-MM-DD.
type Date struct{ time.Time }

// UnmarshalText parses YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	t, err := time.Parse(time.DateOnly, string(b))
	if err != nil {
		return fmt.Errorf("want a date as YYYY-MM-DD, got %q", b)
	}
	d.Time = t
	return nil
}

// MarshalText renders YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return nil, nil
	}
	return []byte(d.Format(time.DateOnly)), nil
}

// Rules configures the contracts' domain rules. A schema version's rules
// are its registry ruleSet's domain rules (contracts register puts a
// subject.yaml's rules there) and the ones listed here for its subject.
type Rules struct {
	// Subjects adds rules to subjects: for a registry that drops a
	// schema's ruleSet (Apicurio does), or to change one (a rule here
	// replaces the registry's rule of the same name, e.g. to roll it out
	// in warn mode first). A rule that does not compile stops the start
	// with its name. Default: none.
	Subjects []SubjectRules `yaml:"subjects"`
	// MaxCost aborts one CEL rule's evaluation on one record past this
	// runtime cost (about one step per list item visited): the rule's
	// outcome is then error, and it counts as a failure. Default: 100000.
	MaxCost int `yaml:"max_cost"`
	// TransitionKeys bounds each subscription's TRANSITION rule memory:
	// the keys whose last value it remembers (per rule, topic and
	// partition), the least recently used forgotten first (its next record
	// is a new baseline). About 180 bytes per key. Default: 100000.
	TransitionKeys int `yaml:"transition_keys"`
}

// SubjectRules are the config's rules for one subject.
type SubjectRules struct {
	// Subject the rules apply to. Required.
	Subject string `yaml:"subject"`
	// Version they apply to. Default: 0, every version.
	Version int `yaml:"version"`
	// Rules lists the rules in the shape of Confluent's data-contract
	// domain rules: name, doc, kind (CONDITION), type (CEL, KEY,
	// TRANSITION), mode (WRITE, READ, WRITEREAD), expr, onFailure (ERROR,
	// DLQ, NONE), params (eventguard.mode: observe, warn or enforce),
	// disabled. Checked when the sidecar starts. Required.
	Rules yaml.Node `yaml:"rules"`
}
