package proxy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// Example payloads from examples/contracts.
var (
	hPetV1     = hExampleJSON("pets-value/1/valid/typical.json")
	hPetV2     = hExampleJSON("pets-value/2/valid/typical.json")
	hPetV2Bad  = strings.Replace(hPetV2, `"net_weight_grams":4210`, `"net_weight_grams":"4210"`, 1)
	hOrder     = hExampleJSON("orders-OrderPlaced/1/valid/typical.json")
	hPayment   = hExampleJSON("orders-PaymentCompleted/1/valid/typical.json")
	hTraceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	hParentID  = "00f067aa0ba902b7"
	hTraceHdr  = "00-" + hTraceID + "-" + hParentID + "-01"
	hTraceStat = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
)

func hExampleJSON(path string) string {
	b, err := os.ReadFile(filepath.Join("..", "examples", "contracts", filepath.FromSlash(path)))
	if err != nil {
		panic(err)
	}
	return string(bytes.TrimSpace(b))
}

// hNumsSchema is the target of hostile numbers: minimum and uniqueItems make
// jsonschema v6.0.3 panic on literals like 1e1000001.
const hNumsSchema = `{"type":"object","properties":{"n":{"type":"number","minimum":0},"list":{"type":"array","uniqueItems":true}},"additionalProperties":false}`

// httpEnv is the HTTP ingress on a produce pipeline on kfake and srfake.
type httpEnv struct {
	st      *testutil.Stack
	cfg     *config.Config
	h       *proxy.HTTP
	handler http.Handler
	kcl     *kgo.Client // the pipeline's producer
}

// newHTTPEnv builds the ingress on st (a new Stack when nil). The config
// allows pets (topic strategy), orders (topic_record by /event_type), nums
// (subject nums-value with hNumsSchema), guarded (features: billing only),
// keyed (key required), ghosts (no subject) and events (record strategy). mutate may change it; o
// may set pipeline options.
func newHTTPEnv(t testing.TB, st *testutil.Stack, mutate func(*config.Config), o produce.Options) *httpEnv {
	t.Helper()
	if st == nil {
		st = testutil.Start(t)
	}
	if _, ok := st.Registry.GetSchema("nums-value", 1); !ok {
		st.Register(t, "nums-value", hNumsSchema)
		st.Register(t, "guarded-value", `{"type":"object"}`)
		st.Register(t, "keyed-value", `{"type":"object"}`)
	}
	cfg := st.Config(t, func(c *config.Config) {
		c.Feature = "checkout"
		c.Topics = []config.Topic{
			{Name: "pets"},
			{Name: "orders", SubjectStrategy: config.StrategyTopicRecord, TypePointer: "/event_type"},
			{Name: "nums"},
			{Name: "guarded", Features: []string{"billing"}},
			{Name: "keyed", KeyRequired: true},
			{Name: "ghosts"},
			{Name: "events", SubjectStrategy: config.StrategyRecord},
		}
		c.Limits.MaxBodyBytes = 64 << 10
		c.Limits.MaxRecordsPerRequest = 5
		c.Limits.MaxValueBytes = 2048
		c.Limits.ProduceTimeout = 10 * time.Second
		if mutate != nil {
			mutate(c)
		}
	})
	for _, tp := range cfg.Topics {
		if st.Cluster.TopicInfo(tp.Name) == nil {
			st.CreateTopic(t, tp.Name, 3)
		}
	}
	e := &httpEnv{st: st, cfg: cfg}
	if o.Producer == nil {
		e.kcl = st.KafkaClient(t, cfg)
		o.Producer = e.kcl
	}
	p := st.Pipeline(t, cfg, o)
	e.h = proxy.NewHTTP(p, cfg.Limits.MaxBodyBytes, cfg.Registry.URL, testutil.Discard())
	e.handler = e.h.Handler()
	return e
}

// hReq is one HTTP request to the ingress.
type hReq struct {
	method, path, contentType, body string
	header                          map[string]string
}

func (e *httpEnv) do(t testing.TB, r hReq) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.contentType == "" {
		r.contentType = "application/json"
	}
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.contentType != "-" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return w
}

// post sends records (JSON array elements) to topic.
func (e *httpEnv) post(t testing.TB, topic string, records ...string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, hReq{path: "/v1/topics/" + topic + "/records", body: `{"records":[` + strings.Join(records, ",") + `]}`})
}

// flushedCount waits for every record handed to the producer to be
// acknowledged, then counts the records in topic.
func (e *httpEnv) flushedCount(t testing.TB, topic string) int64 {
	t.Helper()
	if e.kcl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.kcl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	return e.st.Count(topic)
}

type hError struct {
	Code       string               `json:"code"`
	Message    string               `json:"message"`
	Violations []validate.Violation `json:"violations"`
}

type hResult struct {
	Index         int     `json:"index"`
	Partition     *int32  `json:"partition"`
	Offset        *int64  `json:"offset"`
	Subject       string  `json:"subject"`
	SchemaID      int     `json:"schema_id"`
	SchemaVersion int     `json:"schema_version"`
	EventID       string  `json:"event_id"`
	Error         *hError `json:"error"`
	// Warnings name the warn-mode rules the record broke.
	Warnings     []string       `json:"warnings"`
	DeadLettered map[string]any `json:"dead_lettered"`
}

type hResponse struct {
	Error   *hError   `json:"error"`
	Results []hResult `json:"results"`
}

// decode parses a response body strictly: no field outside the API.
func hDecode(t testing.TB, w *httptest.ResponseRecorder) hResponse {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length = %s, body is %d bytes", cl, w.Body.Len())
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	var r hResponse
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("body is not the API's JSON: %v\n%s", err, w.Body)
	}
	return r
}

// wantError checks an error answer: the status, {"error":{"code","message"}}
// with the code, nothing else at the top level but results, and returns it.
func hWantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) hResponse {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d\n%s", w.Code, status, w.Body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &top); err != nil {
		t.Fatalf("error body is not a JSON object: %v\n%s", err, w.Body)
	}
	for k := range top {
		if k != "error" && k != "results" {
			t.Errorf("unexpected top-level key %q", k)
		}
	}
	var e map[string]any
	if err := json.Unmarshal(top["error"], &e); err != nil || len(e) != 2 {
		t.Errorf(`error = %s, want {"code","message"}`, top["error"])
	}
	r := hDecode(t, w)
	if r.Error == nil {
		t.Fatalf("no error object:\n%s", w.Body)
	}
	if r.Error.Code != code {
		t.Errorf("error.code = %q, want %q (%s)", r.Error.Code, code, r.Error.Message)
	}
	if r.Error.Message == "" {
		t.Error("error.message is empty")
	}
	return r
}

func hRec(value string, extra ...string) string {
	fields := append([]string{`"value":` + value}, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

func TestHTTPProduceOK(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	st := e.st
	tests := []struct {
		name    string
		topic   string
		records []string
		subject []string
		version []int
		ids     []int
		eventID []string // "" means a generated UUIDv7
	}{
		{name: "latest", topic: "pets", records: []string{hRec(hPetV2, `"key":"pet-42"`)},
			subject: []string{"pets-value"}, version: []int{2}, ids: []int{st.ID(t, "pets-value", 2)}, eventID: []string{""}},
		{name: "given id", topic: "pets", records: []string{hRec(hPetV2, `"id":"evt-1"`)},
			subject: []string{"pets-value"}, version: []int{2}, ids: []int{st.ID(t, "pets-value", 2)}, eventID: []string{"evt-1"}},
		{name: "pinned version", topic: "pets", records: []string{hRec(hPetV1, `"schema_version":1`)},
			subject: []string{"pets-value"}, version: []int{1}, ids: []int{st.ID(t, "pets-value", 1)}, eventID: []string{""}},
		{name: "pinned id", topic: "pets", records: []string{hRec(hPetV1, fmt.Sprintf(`"schema_id":%d`, st.ID(t, "pets-value", 1)))},
			subject: []string{"pets-value"}, version: []int{1}, ids: []int{st.ID(t, "pets-value", 1)}, eventID: []string{""}},
		{name: "record strategy by type", topic: "events", records: []string{hRec(hPetV2, `"type":"pets-value"`)},
			subject: []string{"pets-value"}, version: []int{2}, ids: []int{st.ID(t, "pets-value", 2)}, eventID: []string{""}},
		{name: "topic_record by pointer", topic: "orders",
			records: []string{hRec(hOrder), hRec(hPayment, `"key":"5f0c6e2a-1b2c-4d3e-8f90-123456789abc"`)}, // the example's key rule
			subject: []string{"orders-OrderPlaced", "orders-PaymentCompleted"}, version: []int{1, 1},
			ids: []int{st.ID(t, "orders-OrderPlaced", 1), st.ID(t, "orders-PaymentCompleted", 1)}, eventID: []string{"", ""}},
		{name: "batch", topic: "pets", records: []string{hRec(hPetV2), hRec(hPetV1, `"schema_version":1`), hRec(hPetV2)},
			subject: []string{"pets-value", "pets-value", "pets-value"}, version: []int{2, 1, 2},
			ids: []int{st.ID(t, "pets-value", 2), st.ID(t, "pets-value", 1), st.ID(t, "pets-value", 2)}, eventID: []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := e.post(t, tt.topic, tt.records...)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			r := hDecode(t, w)
			if r.Error != nil || len(r.Results) != len(tt.records) {
				t.Fatalf("response: %s", w.Body)
			}
			for i, res := range r.Results {
				if res.Index != i || res.Error != nil || res.Partition == nil || res.Offset == nil {
					t.Errorf("results[%d] = %+v", i, res)
					continue
				}
				if res.Subject != tt.subject[i] || res.SchemaVersion != tt.version[i] || res.SchemaID != tt.ids[i] {
					t.Errorf("results[%d] = %s v%d id %d, want %s v%d id %d", i, res.Subject, res.SchemaVersion, res.SchemaID, tt.subject[i], tt.version[i], tt.ids[i])
				}
				if *res.Partition < 0 || *res.Partition > 2 || *res.Offset < 0 {
					t.Errorf("results[%d]: partition %d offset %d", i, *res.Partition, *res.Offset)
				}
				if want := tt.eventID[i]; want != "" {
					if res.EventID != want {
						t.Errorf("results[%d].event_id = %q, want %q", i, res.EventID, want)
					}
				} else if u, err := uuid.Parse(res.EventID); err != nil || u.Version() != 7 {
					t.Errorf("results[%d].event_id = %q, want a UUIDv7", i, res.EventID)
				}
				// The record is where the answer says it is.
				info := st.Cluster.PartitionInfo(tt.topic, *res.Partition)
				if info == nil || info.HighWatermark <= *res.Offset {
					t.Errorf("results[%d]: %s[%d] has no offset %d", i, tt.topic, *res.Partition, *res.Offset)
				}
			}
		})
	}
}

func TestHTTPStatuses(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	ordersID := e.st.ID(t, "orders-OrderPlaced", 1)
	big := `"` + strings.Repeat("x", 2100) + `"`
	six := strings.Repeat(hRec(hPetV2)+",", 5) + hRec(hPetV2)
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	uniq25 := func(last string) string {
		var b strings.Builder
		for i := 0; i < 24; i++ {
			fmt.Fprintf(&b, "%d,", i)
		}
		return `{"list":[` + b.String() + last + `]}`
	}
	tests := []struct {
		name   string
		req    hReq
		status int
		code   string
		// check, if set, looks further at the answer.
		check func(t *testing.T, w *httptest.ResponseRecorder, r hResponse)
	}{
		{name: "malformed JSON body", req: hReq{body: `{"records":[`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "not JSON", req: hReq{body: `records please`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "empty body", req: hReq{body: ``}, status: 400, code: produce.CodeMalformedRequest},
		{name: "unknown field", req: hReq{body: `{"records":[` + hRec(hPetV2) + `],"compress":true}`}, status: 400, code: produce.CodeMalformedRequest,
			check: hMsgContains(`"compress"`)},
		{name: "unknown record field", req: hReq{body: `{"records":[` + hRec(hPetV2, `"partition":1`) + `]}`}, status: 400, code: produce.CodeMalformedRequest,
			check: hMsgContains(`"partition"`)},
		{name: "records not an array", req: hReq{body: `{"records":{}}`}, status: 400, code: produce.CodeMalformedRequest,
			check: hMsgContains("records must be an array of records")},
		{name: "key not a string", req: hReq{body: `{"records":[` + hRec(hPetV2, `"key":42`) + `]}`}, status: 400, code: produce.CodeMalformedRequest,
			check: hMsgContains("must be a string")},
		{name: "no records key", req: hReq{body: `{}`}, status: 400, code: produce.CodeMalformedRequest, check: hMsgContains(`no "records" array`)},
		{name: "data after the object", req: hReq{body: `{"records":[` + hRec(hPetV2) + `]} {}`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "a stray bracket after the object", req: hReq{body: `{"records":[` + hRec(hPetV2) + `]}]`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "empty batch", req: hReq{body: `{"records":[]}`}, status: 400, code: produce.CodeEmptyBatch},
		{name: "missing value", req: hReq{body: `{"records":[{"key":"k"}]}`}, status: 400, code: produce.CodeMalformedRequest,
			check: hMsgContains("records[0].value is missing")},
		{name: "reserved header traceparent", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"traceparent":"x"}`) + `]}`}, status: 400, code: produce.CodeReservedHeader},
		{name: "reserved header eventguard.", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"eventguard.subject":"x"}`) + `]}`}, status: 400, code: produce.CodeReservedHeader},
		{name: "empty header name", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"":"x"}`) + `]}`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "bad topic name", req: hReq{path: "/v1/topics/bad$topic/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeInvalidTopic},
		{name: "escaped slash in topic", req: hReq{path: "/v1/topics/a%2Fb/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeInvalidTopic},
		{name: "bad feature", req: hReq{body: `{"records":[` + hRec(hPetV2) + `]}`, header: map[string]string{proxy.FeatureHeader: "weight sync!"}}, status: 400, code: produce.CodeInvalidFeature},
		{name: "conflicting pins", req: hReq{body: `{"records":[` + hRec(hPetV1, `"schema_id":1`, `"schema_version":1`) + `]}`}, status: 400, code: produce.CodeConflictingPins},
		{name: "negative pin", req: hReq{body: `{"records":[` + hRec(hPetV1, `"schema_version":-1`) + `]}`}, status: 400, code: produce.CodeMalformedRequest},
		{name: "type required for topic_record", req: hReq{path: "/v1/topics/orders/records", body: `{"records":[` + hRec(`{"order_id":"x"}`) + `]}`}, status: 400, code: produce.CodeTypeRequired,
			check: hMsgContains("/event_type")},
		{name: "type required for record", req: hReq{path: "/v1/topics/events/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeTypeRequired,
			check: hMsgContains(`give "type"`)},
		{name: "key required", req: hReq{path: "/v1/topics/keyed/records", body: `{"records":[` + hRec(`{}`) + `]}`}, status: 400, code: produce.CodeKeyRequired},
		{name: "event id too long", req: hReq{body: `{"records":[` + hRec(hPetV2, `"id":"`+strings.Repeat("i", 129)+`"`) + `]}`}, status: 400, code: produce.CodeInvalidEventID},
		// Issue 10, item 1: an id that cannot travel as an HTTP header
		// value was produced, then never deliverable.
		{name: "event id with CR LF", req: hReq{body: `{"records":[` + hRec(hPetV2, `"id":"evil\r\nX-Injected: 3"`) + `]}`}, status: 400, code: produce.CodeInvalidEventID,
			check: hMsgContains(`"evil\r\nX-Injected: 3"`)},
		{name: "event id with NUL", req: hReq{body: `{"records":[` + hRec(hPetV2, `"id":"a\u0000b"`) + `]}`}, status: 400, code: produce.CodeInvalidEventID},
		{name: "event id with a trailing space", req: hReq{body: `{"records":[` + hRec(hPetV2, `"id":"id "`) + `]}`}, status: 400, code: produce.CodeInvalidEventID},
		// Issue 10, item 8: every envelope string is bounded.
		{name: "type with LF", req: hReq{path: "/v1/topics/events/records", body: `{"records":[` + hRec(hPetV2, `"type":"a\nb"`) + `]}`}, status: 400, code: produce.CodeInvalidType},
		{name: "type too long", req: hReq{path: "/v1/topics/events/records", body: `{"records":[` + hRec(hPetV2, `"type":"`+strings.Repeat("t", 256)+`"`) + `]}`}, status: 400, code: produce.CodeInvalidType,
			check: hMsgContains("(256 bytes)")},
		{name: "type at the type pointer too long", req: hReq{path: "/v1/topics/orders/records", body: `{"records":[` + hRec(`{"event_type":"`+strings.Repeat("t", 300)+`"}`) + `]}`}, status: 400, code: produce.CodeInvalidType,
			check: hMsgContains("/event_type")},
		{name: "key too long", req: hReq{body: `{"records":[` + hRec(hPetV2, `"key":"`+strings.Repeat("k", 4097)+`"`) + `]}`}, status: 400, code: produce.CodeInvalidKey,
			check: hMsgContains("limits.max_key_bytes")},
		{name: "header name with CR", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"a\rb":"x"}`) + `]}`}, status: 400, code: produce.CodeInvalidHeader},
		{name: "header name too long", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"`+strings.Repeat("h", 256)+`":"x"}`) + `]}`}, status: 400, code: produce.CodeInvalidHeader},
		{name: "header value too long", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{"h":"`+strings.Repeat("v", 8193)+`"}`) + `]}`}, status: 400, code: produce.CodeInvalidHeader},
		{name: "too many headers", req: hReq{body: `{"records":[` + hRec(hPetV2, `"headers":{`+manyHeaders(65)+`}`) + `]}`}, status: 400, code: produce.CodeInvalidHeader},
		// Issue 10, item 9: Kafka forbids "." and "..".
		{name: "topic ..", req: hReq{path: "/v1/topics/%2e%2e/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeInvalidTopic},
		{name: "topic .", req: hReq{path: "/v1/topics/%2e/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeInvalidTopic},
		{name: "topic over 249", req: hReq{path: "/v1/topics/" + strings.Repeat("t", 250) + "/records", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 400, code: produce.CodeInvalidTopic,
			check: hMsgContains("(250 bytes)")},
		{name: "topic not allowed", req: hReq{path: "/v1/topics/secrets/records", body: `{"records":[` + hRec(`{}`) + `]}`}, status: 403, code: produce.CodeTopicNotAllowed},
		{name: "feature not allowed (config default)", req: hReq{path: "/v1/topics/guarded/records", body: `{"records":[` + hRec(`{}`) + `]}`}, status: 403, code: produce.CodeFeatureNotAllowed,
			check: hMsgContains(`"checkout"`)},
		{name: "feature not allowed (header)", req: hReq{path: "/v1/topics/guarded/records", body: `{"records":[` + hRec(`{}`) + `]}`, header: map[string]string{proxy.FeatureHeader: "weight-sync"}}, status: 403, code: produce.CodeFeatureNotAllowed},
		{name: "unknown subject", req: hReq{path: "/v1/topics/ghosts/records", body: `{"records":[` + hRec(`{}`) + `]}`}, status: 404, code: produce.CodeSchemaNotFound,
			check: hMsgContains("ghosts-value")},
		{name: "pinned id of another subject", req: hReq{body: `{"records":[` + hRec(hPetV2, fmt.Sprintf(`"schema_id":%d`, ordersID)) + `]}`}, status: 404, code: produce.CodeSchemaNotFound,
			check: hMsgContains("orders-OrderPlaced")},
		{name: "pinned id unknown", req: hReq{body: `{"records":[` + hRec(hPetV2, `"schema_id":99999`) + `]}`}, status: 404, code: produce.CodeSchemaNotFound},
		{name: "pinned version missing", req: hReq{body: `{"records":[` + hRec(hPetV2, `"schema_version":9`) + `]}`}, status: 404, code: produce.CodeSchemaNotFound},
		{name: "no route", req: hReq{method: http.MethodGet, path: "/v1/topics"}, status: 404, code: "no_route"},
		{name: "method not allowed", req: hReq{method: http.MethodGet}, status: 405, code: "method_not_allowed",
			check: func(t *testing.T, w *httptest.ResponseRecorder, _ hResponse) {
				if got := w.Header().Get("Allow"); got != http.MethodPost {
					t.Errorf("Allow = %q", got)
				}
			}},
		{name: "method not allowed (PUT)", req: hReq{method: http.MethodPut, body: `{}`}, status: 405, code: "method_not_allowed"},
		{name: "body over the limit", req: hReq{body: `{"records":[` + hRec(`"`+strings.Repeat("x", 70<<10)+`"`) + `]}`}, status: 413, code: produce.CodeBodyTooLarge},
		{name: "too many records", req: hReq{body: `{"records":[` + six + `]}`}, status: 413, code: produce.CodeTooManyRecords},
		{name: "value too large", req: hReq{body: `{"records":[` + hRec(big) + `]}`}, status: 413, code: produce.CodeValueTooLarge},
		{name: "wrong content type", req: hReq{contentType: "text/plain", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 415, code: produce.CodeUnsupportedMedia},
		{name: "no content type", req: hReq{contentType: "-", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 415, code: produce.CodeUnsupportedMedia},
		{name: "latin-1 JSON", req: hReq{contentType: "application/json; charset=iso-8859-1", body: `{"records":[` + hRec(hPetV2) + `]}`}, status: 415, code: produce.CodeUnsupportedMedia},
		{name: "invalid value", req: hReq{body: `{"records":[` + hRec(hPetV2Bad) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeSchemaViolation, "/net_weight_grams type")},
		{name: "value with a duplicate key", req: hReq{body: `{"records":[` + hRec(`{"a":1,"a":2}`) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeMalformedJSON, "/a duplicate_key")},
		{name: "value nested too deep", req: hReq{body: `{"records":[` + hRec(deep) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeMalformedJSON, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0 too_deep")},
		{name: "1e1000001 under minimum", req: hReq{path: "/v1/topics/nums/records", body: `{"records":[` + hRec(`{"n":1e1000001}`) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeMalformedJSON, "/n number_range")},
		{name: "25 numbers under uniqueItems, one absurd", req: hReq{path: "/v1/topics/nums/records", body: `{"records":[` + hRec(uniq25("1e1000001")) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeMalformedJSON, "/list/24 number_range")},
		{name: "25 numbers under uniqueItems, one repeated", req: hReq{path: "/v1/topics/nums/records", body: `{"records":[` + hRec(uniq25("3.0")) + `]}`}, status: 422, code: produce.CodeInvalidRecords,
			check: hViolations(0, validate.CodeSchemaViolation, "/list uniqueItems")},
	}
	panicsBefore := validate.Panics.Load()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.path == "" {
				tt.req.path = "/v1/topics/pets/records"
			}
			w := e.do(t, tt.req)
			r := hWantError(t, w, tt.status, tt.code)
			if tt.check != nil {
				tt.check(t, w, r)
			}
		})
	}
	if n := validate.Panics.Load() - panicsBefore; n != 0 {
		t.Errorf("the validator panicked %d times", n)
	}
	if n := e.h.Panics.Load(); n != 0 {
		t.Errorf("the handler recovered %d panics", n)
	}
	// Nothing of all that reached Kafka.
	for _, topic := range []string{"pets", "orders", "nums", "guarded", "keyed", "ghosts"} {
		if n := e.flushedCount(t, topic); n != 0 {
			t.Errorf("topic %s has %d records", topic, n)
		}
	}
}

// manyHeaders returns n header members h0..h(n-1) of a JSON object.
func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"h%d":"v"`, i)
	}
	return b.String()
}

func hMsgContains(s string) func(*testing.T, *httptest.ResponseRecorder, hResponse) {
	return func(t *testing.T, _ *httptest.ResponseRecorder, r hResponse) {
		t.Helper()
		if !strings.Contains(r.Error.Message, s) {
			t.Errorf("message %q does not contain %s", r.Error.Message, s)
		}
	}
}

// violations checks results[i].error: its code and its violations as
// "path keyword" lines.
func hViolations(i int, code string, want ...string) func(*testing.T, *httptest.ResponseRecorder, hResponse) {
	return func(t *testing.T, _ *httptest.ResponseRecorder, r hResponse) {
		t.Helper()
		if len(r.Results) <= i || r.Results[i].Error == nil {
			t.Fatalf("no results[%d].error: %+v", i, r.Results)
		}
		e := r.Results[i].Error
		if e.Code != code || e.Message == "" {
			t.Errorf("results[%d].error = %s %q, want code %s", i, e.Code, e.Message, code)
		}
		var got []string
		for _, v := range e.Violations {
			got = append(got, v.Path+" "+v.Keyword)
			if v.Message == "" {
				t.Errorf("violation %s has no message", v.Path)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("violations = %q, want %q", got, want)
		}
	}
}

// TestHTTPInvalidBatch: one invalid record among three: 422 naming it,
// nothing produced, the topic stays empty.
func TestHTTPInvalidBatch(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	w := e.post(t, "pets", hRec(hPetV2, `"key":"a"`), hRec(hPetV2Bad, `"key":"b"`), hRec(hPetV2, `"key":"c"`))
	r := hWantError(t, w, http.StatusUnprocessableEntity, produce.CodeInvalidRecords)
	if !strings.Contains(r.Error.Message, "record 1") || !strings.Contains(r.Error.Message, "nothing was produced") {
		t.Errorf("message = %q", r.Error.Message)
	}
	if len(r.Results) != 3 {
		t.Fatalf("results: %+v", r.Results)
	}
	hViolations(1, validate.CodeSchemaViolation, "/net_weight_grams type")(t, w, r)
	for _, i := range []int{0, 2} {
		if res := r.Results[i]; res.Error != nil || res.Partition != nil || res.Offset != nil || res.Index != i {
			t.Errorf("results[%d] = %+v, want valid and not produced", i, res)
		}
	}
	if n := e.flushedCount(t, "pets"); n != 0 {
		t.Errorf("topic pets has %d records after a refused batch", n)
	}
}

func TestHTTPPartial(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	body := `{"partial":true,"records":[` + hRec(hPetV2) + "," + hRec(hPetV2Bad) + "," + hRec(hPetV2, `"headers":{"eventguard.x":"y"}`) + "," + hRec(hPetV2) + `]}`
	w := e.do(t, hReq{path: "/v1/topics/pets/records", body: body})
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", w.Code, w.Body)
	}
	r := hDecode(t, w)
	if r.Error != nil || len(r.Results) != 4 {
		t.Fatalf("response: %s", w.Body)
	}
	for _, i := range []int{0, 3} {
		if res := r.Results[i]; res.Error != nil || res.Partition == nil || res.Offset == nil || res.EventID == "" {
			t.Errorf("results[%d] = %+v, want produced", i, res)
		}
	}
	hViolations(1, validate.CodeSchemaViolation, "/net_weight_grams type")(t, w, r)
	if res := r.Results[2]; res.Error == nil || res.Error.Code != produce.CodeReservedHeader || res.Partition != nil {
		t.Errorf("results[2] = %+v, want reserved_header", res)
	}
	if n := e.flushedCount(t, "pets"); n != 2 {
		t.Errorf("topic pets has %d records, want the 2 valid ones", n)
	}

	// Partial with nothing valid fails as a whole.
	w = e.do(t, hReq{path: "/v1/topics/pets/records", body: `{"partial":true,"records":[` + hRec(hPetV2Bad) + `]}`})
	hWantError(t, w, http.StatusUnprocessableEntity, produce.CodeInvalidRecords)
}

// TestHTTPIntegration produces through the handler to kfake and reads the
// records back with a kgo consumer: the value in wire format with the JSON
// exactly as sent, the key, the caller's headers and every stamped header.
func TestHTTPIntegration(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	// Whitespace inside the value is kept byte for byte.
	spaced := "{ \"event_type\" : \"pet.weight.updated.v2\",\n\t\"pet_id\":\"pet-42\", \"device_id\":\"bowl-7f3a\",\"net_weight_grams\":4210,\"tare_weight_grams\":380,\"measured_at\":\"2026-11-02T08:15:00Z\",\"source\":\"sensor\" }"
	body := `{"records":[` +
		hRec(spaced, `"key":"pet-42"`, `"headers":{"z-origin":"bowl","a-tenant":"t1"}`, `"id":"evt-given"`) + "," +
		hRec(hPetV2) + `]}`
	w := e.do(t, hReq{path: "/v1/topics/pets/records", body: body, header: map[string]string{
		"traceparent": hTraceHdr, "tracestate": hTraceStat, proxy.FeatureHeader: "weight-sync",
	}})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	r := hDecode(t, w)
	// A second request: no trace context, no feature header.
	w2 := e.post(t, "pets", hRec(hPetV2, `"key":"pet-7"`))
	if w2.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w2.Code, w2.Body)
	}
	r2 := hDecode(t, w2)

	recs := e.st.Records(t, "pets")
	if len(recs) != 3 {
		t.Fatalf("%d records in pets, want 3", len(recs))
	}
	find := func(res hResult) *kgo.Record {
		t.Helper()
		for _, k := range recs {
			if k.Partition == *res.Partition && k.Offset == *res.Offset {
				return k
			}
		}
		t.Fatalf("no record at partition %d offset %d", *res.Partition, *res.Offset)
		return nil
	}
	id2 := e.st.ID(t, "pets-value", 2)
	wire := func(value string) []byte {
		b := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(id2))
		return append(b, value...)
	}

	first := find(r.Results[0])
	if !bytes.Equal(first.Value, wire(spaced)) {
		t.Errorf("value = %q\nwant %q", first.Value, wire(spaced))
	}
	if first.Value[0] != 0 || binary.BigEndian.Uint32(first.Value[1:5]) != uint32(id2) {
		t.Errorf("wire header %x, want 0 then id %d", first.Value[:5], id2)
	}
	if string(first.Key) != "pet-42" {
		t.Errorf("key = %q", first.Key)
	}
	hdrs := hHeaderMap(t, first)
	wantHeaders := map[string]string{
		"a-tenant":                "t1",
		"z-origin":                "bowl",
		kafka.HeaderTracestate:    hTraceStat,
		kafka.HeaderFeature:       "weight-sync",
		kafka.HeaderEventID:       "evt-given",
		kafka.HeaderSubject:       "pets-value",
		kafka.HeaderSchemaVersion: "2",
		kafka.HeaderTraceparent:   "", // checked below
	}
	for k, v := range wantHeaders {
		got, ok := hdrs[k]
		if !ok {
			t.Errorf("header %s missing", k)
		} else if v != "" && got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if len(hdrs) != len(wantHeaders) {
		t.Errorf("headers = %v, want exactly %v", hdrs, wantHeaders)
	}
	// The caller's headers come first, in name order.
	if first.Headers[0].Key != "a-tenant" || first.Headers[1].Key != "z-origin" {
		t.Errorf("caller headers not first and sorted: %v", first.Headers)
	}
	tp := strings.Split(hdrs[kafka.HeaderTraceparent], "-")
	if len(tp) != 4 || tp[0] != "00" || tp[1] != hTraceID || tp[2] == hParentID || len(tp[2]) != 16 || tp[3] != "01" {
		t.Errorf("traceparent = %q, want trace %s continued with a new span id", hdrs[kafka.HeaderTraceparent], hTraceID)
	}

	// The second record of the first request: generated UUIDv7, same trace.
	second := hHeaderMap(t, find(r.Results[1]))
	if u, err := uuid.Parse(second[kafka.HeaderEventID]); err != nil || u.Version() != 7 || second[kafka.HeaderEventID] != r.Results[1].EventID {
		t.Errorf("event id %q (answer %q), want the same UUIDv7", second[kafka.HeaderEventID], r.Results[1].EventID)
	}
	if second[kafka.HeaderTraceparent] != hdrs[kafka.HeaderTraceparent] {
		t.Errorf("records of one request carry different traceparents: %s, %s", second[kafka.HeaderTraceparent], hdrs[kafka.HeaderTraceparent])
	}
	if first.Key == nil || find(r.Results[1]).Key != nil {
		t.Errorf("a record without key got key %q", find(r.Results[1]).Key)
	}

	// The request without trace context or feature: a new trace, the
	// config's feature, no tracestate.
	third := hHeaderMap(t, find(r2.Results[0]))
	tp3 := strings.Split(third[kafka.HeaderTraceparent], "-")
	if len(tp3) != 4 || tp3[1] == hTraceID || tp3[1] == strings.Repeat("0", 32) {
		t.Errorf("traceparent without a caller trace = %q", third[kafka.HeaderTraceparent])
	}
	if third[kafka.HeaderFeature] != "checkout" {
		t.Errorf("feature = %q, want the config default checkout", third[kafka.HeaderFeature])
	}
	if _, ok := third[kafka.HeaderTracestate]; ok {
		t.Error("tracestate stamped without one in the request")
	}
}

func hHeaderMap(t *testing.T, r *kgo.Record) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range r.Headers {
		if _, dup := m[h.Key]; dup {
			t.Errorf("header %s twice", h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestHTTPRegistryRefusesTheLookup: a registry 4xx other than "not found"
// is the request's problem, answered 400 registry_rejected without
// Retry-After (issue 10, item 8: it was a 503 retried forever).
func TestHTTPRegistryRefusesTheLookup(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	e.st.Registry.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/subjects/events-") && !strings.Contains(r.URL.Path, "/subjects/huge") {
			return false
		}
		w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
		fmt.Fprint(w, `{"error_code":431,"message":"request header fields too large"}`)
		return true
	})
	w := e.post(t, "events", hRec(hPetV2, `"type":"huge"`))
	r := hWantError(t, w, http.StatusBadRequest, produce.CodeRegistryRejected)
	if got := w.Header().Get("Retry-After"); got != "" {
		t.Errorf("Retry-After = %q on a request that cannot succeed", got)
	}
	if len(r.Results) != 1 || r.Results[0].Error == nil || !strings.Contains(r.Results[0].Error.Message, "431") {
		t.Errorf("results = %+v, want the registry's status named", r.Results)
	}
}

func TestHTTPRegistryDown(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})

	t.Run("cold cache: 503 with Retry-After", func(t *testing.T) {
		e.st.SetRegistryDown(true)
		defer e.st.SetRegistryDown(false)
		w := e.post(t, "orders", hRec(hOrder), hRec(hOrder), hRec(hOrder))
		r := hWantError(t, w, http.StatusServiceUnavailable, produce.CodeRegistryDown)
		if got := w.Header().Get("Retry-After"); got != "5" {
			t.Errorf("Retry-After = %q, want 5", got)
		}
		for i, res := range r.Results {
			if res.Index != i {
				t.Errorf("results[%d].index = %d", i, res.Index)
			}
		}
	})
	t.Run("warm cache serves, with zero registry calls", func(t *testing.T) {
		if w := e.post(t, "pets", hRec(hPetV2)); w.Code != http.StatusOK {
			t.Fatalf("warm-up: %d %s", w.Code, w.Body)
		}
		before := e.st.RegistryCalls()
		for i := 0; i < 5; i++ {
			if w := e.post(t, "pets", hRec(hPetV2), hRec(hPetV2)); w.Code != http.StatusOK {
				t.Fatalf("warm: %d %s", w.Code, w.Body)
			}
		}
		if n := e.st.RegistryCalls() - before; n != 0 {
			t.Errorf("warm path made %d registry calls", n)
		}
		e.st.SetRegistryDown(true)
		defer e.st.SetRegistryDown(false)
		if w := e.post(t, "pets", hRec(hPetV2)); w.Code != http.StatusOK {
			t.Errorf("registry down, warm cache: %d %s", w.Code, w.Body)
		}
	})
}

type hKafkaDown struct{}

func (hKafkaDown) Error() string { return "dial tcp 127.0.0.1:9092: connect: connection refused" }

func TestHTTPKafkaDown(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{KafkaErr: func() error { return hKafkaDown{} }})
	w := e.post(t, "pets", hRec(hPetV2))
	r := hWantError(t, w, http.StatusServiceUnavailable, produce.CodeKafkaDown)
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if !strings.Contains(r.Error.Message, "connection refused") {
		t.Errorf("message = %q, want the cause", r.Error.Message)
	}
	if n := e.flushedCount(t, "pets"); n != 0 {
		t.Errorf("%d records produced while Kafka was reported down", n)
	}
}

// TestHTTPTimeout: the broker never acknowledges (kfake drops every Produce
// request), so past limits.produce_timeout the answer is 504.
func TestHTTPTimeout(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	e := newHTTPEnv(t, st, func(c *config.Config) { c.Limits.ProduceTimeout = 300 * time.Millisecond }, produce.Options{})
	st.Cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		st.Cluster.KeepControl()
		return nil, nil, true // no answer
	})
	start := time.Now()
	w := e.post(t, "pets", hRec(hPetV2), hRec(hPetV2))
	took := time.Since(start)
	r := hWantError(t, w, http.StatusGatewayTimeout, produce.CodeTimeout)
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("answered after %s, want just past the 300ms produce timeout", took)
	}
	for i, res := range r.Results {
		if res.Error == nil || res.Error.Code != produce.CodeTimeout || res.Partition != nil {
			t.Errorf("results[%d] = %+v, want a timeout", i, res)
		}
	}
	if !strings.Contains(r.Error.Message, "may or may not have been written") {
		t.Errorf("message = %q", r.Error.Message)
	}
}

// TestHTTPKafkaRefuses: errors the broker answers are mapped, not 500.
func TestHTTPKafkaRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    *kerr.Error
		status int
		code   string
	}{
		{kerr.TopicAuthorizationFailed, http.StatusForbidden, produce.CodeKafkaRejected},
		{kerr.MessageTooLarge, http.StatusRequestEntityTooLarge, produce.CodeValueTooLarge},
		{kerr.InvalidRecord, http.StatusBadRequest, produce.CodeKafkaRejected},
	}
	for _, tt := range tests {
		t.Run(tt.err.Message, func(t *testing.T) {
			t.Parallel()
			st := testutil.Start(t)
			e := newHTTPEnv(t, st, nil, produce.Options{})
			st.Cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "pets", Err: tt.err, Count: -1})
			hWantError(t, e.post(t, "pets", hRec(hPetV2)), tt.status, tt.code)
		})
	}
}

func TestHTTPDeprecation(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	since := config.Date{Time: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	sunset := config.Date{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}
	deps := []config.Deprecation{{Subject: "pets-value", Version: 1, Since: since, Sunset: sunset, Owner: "team-pets",
		Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}, AfterSunset: "reject"}}
	clock := testutil.NewClock(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	e := newHTTPEnv(t, st, nil, produce.Options{Checker: st.Checker(t, validate.Options{}, check.NewDeprecations(deps, testutil.Discard(), clock.Now))})
	v1 := hRec(hPetV1, `"schema_version":1`)

	checkHeaders := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		want := map[string]string{
			"Deprecation":           "@" + strconv.FormatInt(since.Unix(), 10),
			"Sunset":                "Wed, 31 Mar 2027 00:00:00 GMT",
			"Link":                  "<" + st.RegistryURL + `/subjects/pets-value/versions/2>; rel="successor-version"`,
			"Eventguard-Deprecated": "pets-value;version=1;sunset=2027-03-31",
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	}

	w := e.post(t, "pets", v1)
	if w.Code != http.StatusOK {
		t.Fatalf("before the sunset: %d %s", w.Code, w.Body)
	}
	checkHeaders(t, w)

	w = e.post(t, "pets", hRec(hPetV2))
	if w.Code != http.StatusOK || w.Header().Get("Deprecation") != "" || w.Header().Get("Sunset") != "" {
		t.Errorf("version 2: %d, Deprecation %q", w.Code, w.Header().Get("Deprecation"))
	}

	clock.Advance(200 * 24 * time.Hour) // past 2027-03-31
	before := e.flushedCount(t, "pets")
	w = e.post(t, "pets", v1)
	r := hWantError(t, w, http.StatusUnprocessableEntity, produce.CodeDeprecated)
	checkHeaders(t, w)
	if e := r.Results[0].Error; e == nil || e.Code != produce.CodeDeprecated || !strings.Contains(e.Message, "version 2 of pets-value") {
		t.Errorf("results[0].error = %+v", e)
	}
	if n := e.flushedCount(t, "pets"); n != before {
		t.Errorf("a sunset version was produced (%d records, had %d)", n, before)
	}

	// after_sunset: warn keeps accepting, with the headers.
	deps[0].AfterSunset = "warn"
	warn := newHTTPEnv(t, st, nil, produce.Options{Checker: st.Checker(t, validate.Options{}, check.NewDeprecations(deps, testutil.Discard(), clock.Now))})
	w = warn.post(t, "pets", v1)
	if w.Code != http.StatusOK {
		t.Fatalf("warn after the sunset: %d %s", w.Code, w.Body)
	}
	checkHeaders(t, w)
}

type hPanicProducer struct{ v any }

func (p hPanicProducer) Produce(context.Context, *produce.Request) *produce.Response { panic(p.v) }

func TestHTTPPanicRecovered(t *testing.T) {
	t.Parallel()
	h := proxy.NewHTTP(hPanicProducer{v: "boom"}, 1<<20, "http://registry", testutil.Discard())
	handler := h.Handler()
	for i := 1; i <= 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", strings.NewReader(`{"records":[`+hRec(hPetV2)+`]}`))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		hWantError(t, w, http.StatusInternalServerError, produce.CodeInternal)
		if n := h.Panics.Load(); n != int64(i) {
			t.Errorf("Panics = %d, want %d", n, i)
		}
	}

	// http.ErrAbortHandler is net/http's own way to abort: passed on, not counted.
	ha := proxy.NewHTTP(hPanicProducer{v: http.ErrAbortHandler}, 1<<20, "http://registry", testutil.Discard())
	req := httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", strings.NewReader(`{"records":[`+hRec(hPetV2)+`]}`))
	req.Header.Set("Content-Type", "application/json")
	got := func() (v any) {
		defer func() { v = recover() }()
		ha.Handler().ServeHTTP(httptest.NewRecorder(), req)
		return nil
	}()
	if err, ok := got.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
		t.Errorf("recovered %v, want http.ErrAbortHandler passed on", got)
	}
	if n := ha.Panics.Load(); n != 0 {
		t.Errorf("ErrAbortHandler counted as %d panics", n)
	}
}

// TestHTTPOverRealServer: the same handler behind a real net/http server
// and client, content type with a charset, keep-alive.
func TestHTTPOverRealServer(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	for i := 0; i < 3; i++ {
		resp, err := srv.Client().Post(srv.URL+"/v1/topics/pets/records", "application/json; charset=utf-8",
			strings.NewReader(`{"records":[`+hRec(hPetV2)+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		var body hResponse
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(body.Results) != 1 || body.Results[0].Offset == nil {
			t.Fatalf("status %d, %+v, %v", resp.StatusCode, body, err)
		}
	}
	if n := e.flushedCount(t, "pets"); n != 3 {
		t.Errorf("%d records, want 3", n)
	}
}
