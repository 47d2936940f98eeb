package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem with one field.
type FieldError struct {
	// Path is the field's YAML path, such as "topics[2].subject_strategy".
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error renders the problem as "path: message".
func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// topicName is Kafka's legal topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Validate reports every problem at once, each a *FieldError naming the
// field path, joined with errors.Join. Call it after the defaults are applied.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "must name at least one broker")
	}
	for i, b := range c.Kafka.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "must be host:port, got %q", b)
		}
	}
	switch c.Kafka.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		bad("kafka.compression", "must be one of none, gzip, snappy, lz4, zstd, got %q", c.Kafka.Compression)
	}
	if c.Kafka.MaxBufferedRecords < 1 {
		bad("kafka.max_buffered_records", "must be at least 1")
	}
	if c.Kafka.MaxBufferedBytes < 1 {
		bad("kafka.max_buffered_bytes", "must be at least 1")
	}
	if c.Kafka.Linger < 0 {
		bad("kafka.linger", "must not be negative")
	}
	tls := c.Kafka.TLS
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		bad("kafka.tls", "cert_file and key_file go together")
	}
	if !tls.Enabled && (tls.CAFile != "" || tls.CertFile != "" || tls.ServerName != "") {
		bad("kafka.tls.enabled", "must be true when other tls fields are set")
	}
	switch c.Kafka.SASL.Mechanism {
	case "":
		if c.Kafka.SASL.Username != "" {
			bad("kafka.sasl.mechanism", "must be set when sasl.username is set")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.Kafka.SASL.Username == "" {
			bad("kafka.sasl.username", "is required with sasl.mechanism %s", c.Kafka.SASL.Mechanism)
		}
		if c.Kafka.SASL.Password != "" && c.Kafka.SASL.PasswordFile != "" {
			bad("kafka.sasl.password_file", "give password or password_file, not both")
		}
	default:
		bad("kafka.sasl.mechanism", "must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got %q", c.Kafka.SASL.Mechanism)
	}

	if u, err := url.Parse(c.Registry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("registry.url", "must be an http or https URL, got %q", RedactURL(c.Registry.URL))
	} else if u.User != nil {
		// The URL is shown in /readyz, logs and Link headers: it must not
		// carry a secret.
		bad("registry.url", "must not carry credentials (user:password@); set registry.username and registry.password_file")
	}
	if c.Registry.BearerToken != "" || c.Registry.BearerTokenFile != "" {
		if c.Registry.Username != "" {
			bad("registry.bearer_token", "give basic auth or a bearer token, not both")
		}
	}
	if c.Registry.Timeout <= 0 {
		bad("registry.timeout", "must be positive")
	}
	if c.Registry.LatestTTL < 0 {
		bad("registry.latest_ttl", "must not be negative")
	}

	for _, l := range []struct{ path, addr string }{
		{"listen.http", c.Listen.HTTP}, {"listen.grpc", c.Listen.GRPC}, {"listen.admin", c.Listen.Admin},
	} {
		if l.addr == ListenerOff {
			continue
		}
		if network, path := ListenNetwork(l.addr); network == "unix" {
			switch {
			case l.path == "listen.admin":
				bad(l.path, "must be host:port or %q: probes and scrapers reach the admin listener over TCP, got %q", ListenerOff, l.addr)
			case !filepath.IsAbs(path) || len(path) > 104:
				bad(l.path, "a Unix socket must be unix:///absolute/path, at most 104 bytes, got %q", l.addr)
			}
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			bad(l.path, "must be host:port, unix:///path or %q, got %q", ListenerOff, l.addr)
		}
	}

	if c.Listen.ReadTimeout <= 0 {
		bad("listen.read_timeout", "must be positive")
	}
	if c.Listen.IdleTimeout <= 0 {
		bad("listen.idle_timeout", "must be positive")
	}
	if c.Listen.MaxConnections < 1 {
		bad("listen.max_connections", "must be at least 1")
	}

	auth, ltls := c.Listen.Auth, c.Listen.TLS
	if (ltls.CertFile == "") != (ltls.KeyFile == "") {
		bad("listen.tls", "cert_file and key_file go together")
	}
	switch auth.Mode {
	case AuthNone:
		if len(auth.Tokens) > 0 || len(auth.TokenFiles) > 0 {
			bad("listen.auth.mode", "is %q, so nobody is asked for the tokens given: set it to %q", AuthNone, AuthToken)
		}
	case AuthToken:
		if len(auth.Tokens) == 0 && len(auth.TokenFiles) == 0 {
			bad("listen.auth.tokens", "mode %q needs at least one token, in tokens or token_files", AuthToken)
		}
	case AuthMTLS:
		if ltls.CertFile == "" && ltls.KeyFile == "" {
			bad("listen.tls.cert_file", "mode %q needs the listeners' certificate and key (cert_file, key_file)", AuthMTLS)
		}
		if ltls.ClientCAFile == "" {
			bad("listen.tls.client_ca_file", "mode %q needs the CA bundle client certificates chain to", AuthMTLS)
		}
		if len(auth.Tokens) > 0 || len(auth.TokenFiles) > 0 {
			bad("listen.auth.mode", "is %q, so nobody is asked for the tokens given: set it to %q or leave the tokens out", AuthMTLS, AuthToken)
		}
	default:
		bad("listen.auth.mode", "must be one of none, token, mtls, got %q", auth.Mode)
	}
	if ltls.ClientCAFile != "" && auth.Mode != AuthMTLS {
		bad("listen.tls.client_ca_file", "is used only with listen.auth.mode %q", AuthMTLS)
	}
	// A token is never quoted: only what is wrong with it.
	for i, tok := range auth.Tokens {
		p := fmt.Sprintf("listen.auth.tokens[%d]", i)
		switch {
		case len(tok) < MinTokenBytes:
			bad(p, "is shorter than %d characters", MinTokenBytes)
		case len(tok) > MaxTokenBytes:
			bad(p, "is longer than %d characters", MaxTokenBytes)
		case !IsB64Token(tok):
			bad(p, "has a character outside RFC 6750's b64token (letters, digits, - . _ ~ + / and trailing =)")
		}
	}
	for i, f := range auth.TokenFiles {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("listen.auth.token_files[%d]", i), "must name a file")
		}
	}

	seen := map[string]int{}
	for i, t := range c.Topics {
		p := fmt.Sprintf("topics[%d]", i)
		if !topicName.MatchString(t.Name) {
			bad(p+".name", "must be a Kafka topic name (letters, digits, '.', '_', '-'; 1 to 249), got %q", t.Name)
		} else if j, dup := seen[t.Name]; dup {
			bad(p+".name", "topic %q is already listed at topics[%d]", t.Name, j)
		} else {
			seen[t.Name] = i
		}
		switch t.SubjectStrategy {
		case StrategyTopic, StrategyRecord, StrategyTopicRecord:
		default:
			bad(p+".subject_strategy", "must be one of topic, record, topic_record, got %q", t.SubjectStrategy)
		}
		if t.TypePointer != "" && !strings.HasPrefix(t.TypePointer, "/") {
			bad(p+".type_pointer", "must be a JSON pointer starting with '/', got %q", t.TypePointer)
		}
	}

	if c.Limits.MaxBodyBytes < 1 {
		bad("limits.max_body_bytes", "must be at least 1")
	}
	if c.Limits.MaxRecordsPerRequest < 1 {
		bad("limits.max_records_per_request", "must be at least 1")
	}
	if c.Limits.MaxValueBytes < 1 {
		bad("limits.max_value_bytes", "must be at least 1")
	}
	if c.Limits.MaxKeyBytes < 1 {
		bad("limits.max_key_bytes", "must be at least 1")
	}
	if c.Limits.ProduceTimeout <= 0 {
		bad("limits.produce_timeout", "must be positive")
	}

	if c.Rules.MaxCost < 1 {
		bad("rules.max_cost", "must be at least 1")
	}
	if c.Rules.TransitionKeys < 1 {
		bad("rules.transition_keys", "must be at least 1")
	}
	for i, r := range c.Rules.Subjects {
		p := fmt.Sprintf("rules.subjects[%d]", i)
		if r.Subject == "" {
			bad(p+".subject", "is required")
		}
		if r.Version < 0 {
			bad(p+".version", "must be 0 (every version) or a version number")
		}
		if r.Rules.Kind != yaml.SequenceNode {
			bad(p+".rules", "must be a list of rules")
		}
	}

	names := map[string]int{}
	for i, s := range c.Subscriptions {
		p := fmt.Sprintf("subscriptions[%d]", i)
		if s.Name == "" {
			bad(p+".name", "is required")
		} else if j, dup := names[s.Name]; dup {
			bad(p+".name", "subscription %q is already defined at subscriptions[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		if len(s.Topics) == 0 {
			bad(p+".topics", "must name at least one topic")
		}
		for j, t := range s.Topics {
			if !topicName.MatchString(t) {
				bad(fmt.Sprintf("%s.topics[%d]", p, j), "must be a Kafka topic name, got %q", t)
			}
		}
		switch {
		case s.Deliver.URL == "" && !s.Deliver.GRPC:
			bad(p+".deliver", "must set url or grpc: true")
		case s.Deliver.URL != "" && s.Deliver.GRPC:
			bad(p+".deliver", "set url or grpc: true, not both")
		case s.Deliver.URL != "":
			if u, err := url.Parse(s.Deliver.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(p+".deliver.url", "must be an http or https URL, got %q", RedactURL(s.Deliver.URL))
			}
		}
		if s.Deliver.GRPC && c.Listen.GRPC == ListenerOff {
			bad(p+".deliver.grpc", "needs the gRPC listener, but listen.grpc is %q", ListenerOff)
		}
		if s.Deliver.Timeout <= 0 {
			bad(p+".deliver.timeout", "must be positive")
		}
		switch s.Deliver.Format {
		case FormatEventguard:
		case FormatCloudEvents:
			if s.Deliver.GRPC {
				bad(p+".deliver.format", "cloudevents is an HTTP delivery format: it needs url, not grpc: true")
			}
		default:
			bad(p+".deliver.format", "must be %s or %s, got %q", FormatEventguard, FormatCloudEvents, s.Deliver.Format)
		}
		if s.DLQTopic != "" && !topicName.MatchString(s.DLQTopic) {
			bad(p+".dlq_topic", "must be a Kafka topic name, got %q", s.DLQTopic)
		}
		for _, t := range s.Topics {
			if t == s.DLQTopic {
				bad(p+".dlq_topic", "must differ from the consumed topic %q", t)
			}
		}
		if s.Retry.Attempts < 1 {
			bad(p+".retry.attempts", "must be at least 1")
		}
		if s.Retry.InitialBackoff <= 0 {
			bad(p+".retry.initial_backoff", "must be positive")
		}
		if s.Retry.MaxBackoff < s.Retry.InitialBackoff {
			bad(p+".retry.max_backoff", "must be at least initial_backoff (%s)", s.Retry.InitialBackoff)
		}
		if s.MaxInFlight < 1 {
			bad(p+".max_in_flight", "must be at least 1")
		}
		if s.SessionTimeout < time.Second {
			bad(p+".session_timeout", "must be at least 1s")
		}
		if s.StartFrom != "earliest" && s.StartFrom != "latest" {
			bad(p+".start_from", "must be earliest or latest, got %q", s.StartFrom)
		}
		switch s.SubjectStrategy {
		case "", StrategyTopic, StrategyRecord, StrategyTopicRecord, StrategyAny:
		default:
			bad(p+".subject_strategy", "must be one of topic, record, topic_record, any, got %q", s.SubjectStrategy)
		}
	}

	for i, d := range c.Deprecations {
		p := fmt.Sprintf("deprecations[%d]", i)
		if d.Subject == "" {
			bad(p+".subject", "is required")
		}
		if d.Version < 1 {
			bad(p+".version", "must be a version number (1 or more)")
		}
		if d.Sunset.IsZero() {
			bad(p+".sunset", "is required (YYYY-MM-DD)")
		}
		if d.AfterSunset != "warn" && d.AfterSunset != "reject" {
			bad(p+".after_sunset", "must be warn or reject, got %q", d.AfterSunset)
		}
		if r := d.Replacement; r != nil && (r.Subject == "" || r.Version < 1) {
			bad(p+".replacement", "needs subject and version")
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be one of debug, info, warn, error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	if c.Shutdown.DrainDelay < 0 {
		bad("shutdown.drain_delay", "must not be negative")
	}
	if c.Shutdown.GracePeriod <= 0 {
		bad("shutdown.grace_period", "must be positive")
	}
	if c.GRPC.MaxRecvBytes < 1024 {
		bad("grpc.max_recv_bytes", "must be at least 1024")
	}
	if c.GRPC.KeepaliveTime <= 0 {
		bad("grpc.keepalive_time", "must be positive")
	}
	if c.GRPC.KeepaliveTimeout <= 0 {
		bad("grpc.keepalive_timeout", "must be positive")
	}
	if c.GRPC.KeepaliveMinTime <= 0 {
		bad("grpc.keepalive_min_time", "must be positive")
	}
	if c.GRPC.MaxStreamRequestsInFlight < 1 {
		bad("grpc.max_stream_requests_in_flight", "must be at least 1")
	}
	if c.Telemetry.SampleRatio < 0 || c.Telemetry.SampleRatio > 1 {
		bad("telemetry.sample_ratio", "must be between 0 and 1")
	}
	return errors.Join(errs...)
}

// Topic returns the allow-list entry for name, or false.
func (c *Config) Topic(name string) (Topic, bool) {
	for _, t := range c.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// ConsumePolicy returns the policy the contract check applies to records
// sub consumes from topic: the subject strategy their schema ids must be
// registered under, and whether any subject is allowed (subject_strategy:
// any). Without a subject_strategy of its own, the subscription follows the
// topic's entry in topics, else the topic strategy.
func (c *Config) ConsumePolicy(sub *Subscription, topic string) (t Topic, anySubject bool) {
	t = Topic{Name: topic, SubjectStrategy: StrategyTopic}
	switch sub.SubjectStrategy {
	case StrategyAny:
		return t, true
	case StrategyTopic, StrategyRecord, StrategyTopicRecord:
		t.SubjectStrategy = sub.SubjectStrategy
		return t, false
	}
	if listed, ok := c.Topic(topic); ok && listed.SubjectStrategy != "" {
		t.SubjectStrategy = listed.SubjectStrategy
	}
	return t, false
}

// DLQTopicFor returns the dead-letter topic for a record consumed from topic.
func (s *Subscription) DLQTopicFor(topic string) string {
	if s.DLQTopic != "" {
		return s.DLQTopic
	}
	return DefaultDLQTopic(topic)
}

// DefaultDLQTopic is the dead-letter topic of records of topic:
// "<topic>.dlq". Subscriptions may name another (dlq_topic); produce
// diverts records a contract rule dead-letters here.
func DefaultDLQTopic(topic string) string { return topic + ".dlq" }

// Bounds of a listener token (listen.auth.tokens, token_files).
const (
	// MinTokenBytes refuses tokens too short to resist guessing.
	MinTokenBytes = 16
	// MaxTokenBytes bounds a token (and what a request's Authorization
	// header is compared with).
	MaxTokenBytes = 4096
)

// IsB64Token reports whether tok is RFC 6750's b64token: one or more
// letters, digits, "-", ".", "_", "~", "+" or "/", then any number of "=".
func IsB64Token(tok string) bool {
	i := 0
	for ; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return false
		}
	}
	return true
}

// RedactURL is raw with the password of its user information, if any,
// replaced by "xxxxx", for messages and logs. A URL that does not parse
// loses everything between "//" and the last "@" before its path.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return raw
		}
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return scheme + "//xxxxx@" + rest[at+1:]
	}
	return raw
}
