package consume

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry/span"
)

// Request headers of an HTTP delivery. They are a public contract: they
// never change silently. Names are in Go's canonical form; HTTP header names
// are case-insensitive.
const (
	HeaderSubscription = "Eventguard-Subscription"
	HeaderTopic        = "Eventguard-Topic"
	HeaderPartition    = "Eventguard-Partition"
	HeaderOffset       = "Eventguard-Offset"
	HeaderTimestamp    = "Eventguard-Timestamp"
	HeaderKey          = "Eventguard-Key"
	HeaderKeyEncoding  = "Eventguard-Key-Encoding"
	// HeaderEventIDEncoding is "base64" when Eventguard-Event-Id carries
	// the id base64-encoded (it could not travel as a header value: a
	// record written by another client with CR, LF or other control
	// characters in its id).
	HeaderEventIDEncoding = "Eventguard-Event-Id-Encoding"
	// HeaderFeatureEncoding is "base64" when Eventguard-Feature carries
	// the feature base64-encoded, for the same reason.
	HeaderFeatureEncoding = "Eventguard-Feature-Encoding"
	// HeaderSubjectEncoding is "base64" when Eventguard-Subject carries
	// the subject base64-encoded, for the same reason.
	HeaderSubjectEncoding = "Eventguard-Subject-Encoding"
	HeaderSubject         = "Eventguard-Subject"
	HeaderSchemaVersion   = "Eventguard-Schema-Version"
	HeaderSchemaID        = "Eventguard-Schema-Id"
	HeaderEventID         = "Eventguard-Event-Id"
	HeaderFeature         = "Eventguard-Feature"
	HeaderAttempt         = "Eventguard-Attempt"
	// HeaderRecordHeaders carries the record's own headers (all but
	// traceparent, tracestate and eventguard.*) as a JSON object of
	// strings, when it has any.
	HeaderRecordHeaders = "Eventguard-Record-Headers"
)

// maxErrorBody bounds how much of an error answer is read into the message.
const maxErrorBody = 512

// HTTPDeliverer POSTs each record to the app: the JSON value as the body,
// the metadata in Eventguard-* headers, and the consume span's trace context
// in traceparent/tracestate. A 2xx answer means delivered; 408, 429, any
// other non-4xx answer, a connection error or a timeout is retried (after
// the app's Retry-After, when it sends one, up to retry.max_backoff); any
// other 4xx is final (ErrRejected). Redirects are not followed.
type HTTPDeliverer struct {
	url string
	// shown is url for messages (logs, dead-letter headers): a password
	// in its user information is replaced by "xxxxx".
	shown  string
	client *http.Client
	// cloudEvents delivers in CloudEvents HTTP binary mode
	// (cloudevents.go).
	cloudEvents bool
}

// HTTPDelivererFor returns the deliverer of d: NewHTTPDeliverer for its
// URL, in CloudEvents HTTP binary mode with format cloudevents.
func HTTPDelivererFor(d config.Deliver) *HTTPDeliverer {
	h := NewHTTPDeliverer(d.URL, nil)
	h.cloudEvents = d.Format == config.FormatCloudEvents
	return h
}

var _ Deliverer = (*HTTPDeliverer)(nil)

// NewHTTPDeliverer returns a deliverer POSTing to url. A nil client means one
// with its own connection pool that keeps enough idle connections for one
// in-flight request per partition and never follows redirects.
func NewHTTPDeliverer(url string, client *http.Client) *HTTPDeliverer {
	if client == nil {
		tr := &http.Transport{
			Proxy:               nil, // the app is next to us: never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}
		client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &HTTPDeliverer{url: url, shown: config.RedactURL(url), client: client}
}

// Deliver POSTs d. ctx bounds the attempt and carries the consume span.
func (h *HTTPDeliverer) Deliver(ctx context.Context, d *Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(d.Value))
	if err != nil {
		return Rejected("build request for %s: %v", h.shown, err)
	}
	hd := req.Header
	hd["Content-Type"] = []string{"application/json"}
	hd[HeaderSubscription] = []string{d.Subscription}
	hd[HeaderTopic] = []string{d.Topic}
	hd[HeaderPartition] = []string{strconv.FormatInt(int64(d.Partition), 10)}
	hd[HeaderOffset] = []string{strconv.FormatInt(d.Offset, 10)}
	hd[HeaderTimestamp] = []string{d.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if d.Key != nil {
		k, enc := headerKey(d.Key)
		hd[HeaderKey] = []string{k}
		if enc != "" {
			hd[HeaderKeyEncoding] = []string{enc}
		}
	}
	setEncoded(hd, HeaderSubject, HeaderSubjectEncoding, d.Subject)
	hd[HeaderSchemaVersion] = []string{strconv.Itoa(d.Version)}
	hd[HeaderSchemaID] = []string{strconv.Itoa(d.SchemaID)}
	if d.EventID != "" {
		setEncoded(hd, HeaderEventID, HeaderEventIDEncoding, d.EventID)
	}
	if d.Feature != "" {
		setEncoded(hd, HeaderFeature, HeaderFeatureEncoding, d.Feature)
	}
	hd[HeaderAttempt] = []string{strconv.Itoa(d.Attempt)}
	if rh := recordHeaders(d.Headers, h.cloudEvents); rh != "" {
		hd[HeaderRecordHeaders] = []string{rh}
	}
	if h.cloudEvents {
		setCloudEventHeaders(hd, d)
	}
	span.Propagator.Inject(ctx, propagation.HeaderCarrier(hd))

	resp, err := h.client.Do(req)
	if err != nil {
		if unreachable(err) {
			return fmt.Errorf("deliver to %s: %w: %v", h.shown, ErrAppUnavailable, err)
		}
		return fmt.Errorf("deliver to %s: %w", h.shown, err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
		return nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return Rejected("%s answered HTTP %d%s", h.shown, code, bodyHint(resp.Body))
	default:
		return &StatusError{URL: h.shown, Code: code, Body: bodyHint(resp.Body), RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
}

// StatusError is an HTTP answer that will be retried.
type StatusError struct {
	// URL is the app's URL, its password (if any) replaced by "xxxxx".
	URL  string
	Code int
	// Body is the start of the answer's body, prefixed with ": ", or "".
	Body string
	// RetryAfter is the wait the app asked for in a Retry-After header;
	// 0 when it sent none (or one that could not be read).
	RetryAfter time.Duration
}

// Error names the URL, the status, the start of the body and the Retry-After.
func (e *StatusError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("deliver to %s: HTTP %d%s (Retry-After %s)", e.URL, e.Code, e.Body, e.RetryAfter)
	}
	return fmt.Sprintf("deliver to %s: HTTP %d%s", e.URL, e.Code, e.Body)
}

// RetryDelay is the app's Retry-After.
func (e *StatusError) RetryDelay() time.Duration { return e.RetryAfter }

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): a number of
// seconds, or an HTTP date, counted from now. Anything else, or a time in
// the past, is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func bodyHint(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	return ": " + string(bytes.ToValidUTF8(b, []byte("?")))
}

// headerKey renders a record key as an HTTP header value: as it is when it
// is printable ASCII without leading or trailing spaces (every HTTP stack
// passes that through unchanged), else standard base64 with encoding
// "base64".
func headerKey(k []byte) (value, encoding string) {
	plain := len(k) == 0 || (k[0] != ' ' && k[len(k)-1] != ' ')
	for _, c := range k {
		if c < 0x20 || c > 0x7e {
			plain = false
			break
		}
	}
	if plain {
		return string(k), ""
	}
	return base64.StdEncoding.EncodeToString(k), "base64"
}

// setEncoded sets header name to v when v can travel as an HTTP header
// value unchanged (kafka.HeaderValueSafe and valid UTF-8), else to v in
// standard base64 with header enc set to "base64". eventguard refuses such
// ids and features on produce, but records written by other clients reach
// the app too: a delivery must never fail on how a header is encoded.
func setEncoded(hd http.Header, name, enc, v string) {
	if kafka.HeaderValueSafe(v) && utf8.ValidString(v) {
		hd[name] = []string{v}
		return
	}
	hd[name] = []string{base64.StdEncoding.EncodeToString([]byte(v))}
	hd[enc] = []string{"base64"}
}

// recordHeaders renders the record's own headers as a JSON object, "" when
// there are none. Later headers of the same name win. With cloudEvents,
// the CloudEvents headers (delivered as ce-* headers) are left out.
func recordHeaders(hs []kgo.RecordHeader, cloudEvents bool) string {
	var m map[string]string
	for _, h := range hs {
		if kafka.ReservedHeader(h.Key) || cloudEvents && isCloudEventHeader(h.Key) {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[h.Key] = string(h.Value)
	}
	if m == nil {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// unreachable reports whether a transport error means the request never
// reached the app: connection refused or an unknown host.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr)
}
