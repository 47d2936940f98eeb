package proxy_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

const v3Path = "/v3/clusters/cluster-1/topics/%s/records"

var jsonCT = map[string]string{"Content-Type": "application/json"}

// v3Answers posts body to topic's v3 records and returns the answers.
func (e *rpEnv) v3(t testing.TB, topic, body string, header map[string]string) (*httptest.ResponseRecorder, []map[string]any) {
	t.Helper()
	if header == nil {
		header = jsonCT
	}
	w := e.call(t, http.MethodPost, fmt.Sprintf(v3Path, topic), header, body)
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, w.Body)
		}
		out = append(out, m)
	}
	return w, out
}

func code(m map[string]any) int {
	f, _ := m["error_code"].(float64)
	return int(f)
}

// TestRESTProxyV3Errors: every documented REST Proxy v3 failure, and
// eventguard's own refusals, answered per record (HTTP 200) with REST
// Proxy's error codes and a message naming the problem; nothing produced.
func TestRESTProxyV3Errors(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	pet := hPetV2
	valid := `{"value":{"data":` + pet + `}}`
	big := `{"value":{"type":"JSON","data":{"s":"` + strings.Repeat("x", 5000) + `"}}}`
	headers65 := make([]string, 65)
	for i := range headers65 {
		headers65[i] = fmt.Sprintf(`{"name":"h%d","value":"eA=="}`, i)
	}
	tests := []struct {
		name, topic, body string
		header            map[string]string
		code              int
		contains          string
	}{
		{"topic not in the allow-list", "nope", valid, nil, 40301, "topic_not_allowed"},
		{"feature not allowed", "guarded", `{"value":{"data":{}}}`, nil, 40301, "feature_not_allowed"},
		{"topic missing in Kafka", "missing", `{"value":{"data":{}}}`, nil, 40401, "topic_not_found"},
		{"invalid topic name", "bad%20topic", valid, nil, 40002, "invalid_topic"},
		{"partition beyond the topic's", "pets", `{"partition_id":9,"value":{"data":` + pet + `}}`, nil, 40402, `has no partition 9`},
		{"negative partition", "pets", `{"partition_id":-1,"value":{"data":` + pet + `}}`, nil, 40402, "Partition not found"},
		{"breaks its schema", "pets", `{"value":{"data":` + hPetV2Bad + `}}`, nil, 400, "schema_violation"},
		{"not strict JSON (duplicate key)", "pets", `{"value":{"data":{"a":1,"a":2}}}`, nil, 400, "malformed_json"},
		{"no such schema version", "pets", `{"value":{"schema_version":99,"data":` + pet + `}}`, nil, 42207, "schema_not_found"},
		{"schema id of another subject", "topic-1", `{"value":{"schema_id":1,"data":{}}}`, nil, 42207, "not registered under subject"},
		{"both pins", "pets", `{"value":{"schema_id":1,"schema_version":1,"data":` + pet + `}}`, nil, 400, "conflicting_pins"},
		{"raw schema not registered", "pets", `{"value":{"type":"JSONSCHEMA","schema":"{\"type\":\"string\"}","data":"x"}}`, nil, 42205, "does not register schemas"},
		{"raw schema and an id", "pets", `{"value":{"schema":"{}","schema_id":2,"data":{}}}`, nil, 400, "not two of them"},
		{"subject of another topic", "pets", `{"value":{"subject":"orders-OrderPlaced","data":{}}}`, nil, 400, "is not a subject topic"},
		{"strategy unlike the topic's", "pets", `{"value":{"subject_name_strategy":"RECORD_NAME","data":{}}}`, nil, 400, "does not match"},
		{"AVRO value", "pets", `{"value":{"type":"AVRO","data":{}}}`, nil, 400, "AVRO is not supported"},
		{"PROTOBUF value", "pets", `{"value":{"type":"PROTOBUF","data":{}}}`, nil, 400, "PROTOBUF is not supported"},
		{"typed value with a schema", "pets", `{"value":{"type":"JSON","schema_id":1,"data":{}}}`, nil, 400, "takes no schema"},
		{"no value (tombstone)", "pets", `{"key":{"type":"STRING","data":"k"}}`, nil, 400, "tombstones"},
		{"null data", "pets", `{"value":{"type":"JSON","data":null}}`, nil, 400, "tombstones"},
		{"STRING value not a string", "pets", `{"value":{"type":"STRING","data":{}}}`, nil, 400, "is not a string"},
		{"BINARY value not base64", "pets", `{"value":{"type":"BINARY","data":"!!"}}`, nil, 400, "not a valid base64"},
		{"BINARY value not JSON once decoded", "pets", `{"value":{"type":"BINARY","data":"aGVsbG8="}}`, nil, 400, "validated as JSON once decoded"},
		{"key with a schema id", "pets", `{"key":{"schema_id":1,"data":1},"value":{"data":` + pet + `}}`, nil, 400, "key schemas are not supported"},
		{"key typed with a subject", "pets", `{"key":{"type":"STRING","subject":"x","data":"k"},"value":{"data":` + pet + `}}`, nil, 400, "takes no schema"},
		{"key over max_key_bytes", "pets", `{"key":{"type":"STRING","data":"` + strings.Repeat("k", 5000) + `"},"value":{"data":` + pet + `}}`, nil, 400, "invalid_key"},
		{"value over max_value_bytes", "topic-1", big, nil, 413, "value_too_large"},
		{"reserved header", "pets", `{"headers":[{"name":"eventguard.feature","value":"eA=="}],"value":{"data":` + pet + `}}`, nil, 400, "reserved_header"},
		{"too many headers", "pets", `{"headers":[` + strings.Join(headers65, ",") + `],"value":{"data":` + pet + `}}`, nil, 400, "65 headers"},
		{"header without a name", "pets", `{"headers":[{"value":"eA=="}],"value":{"data":` + pet + `}}`, nil, 400, `has no "name"`},
		{"unknown field", "pets", `{"value":{"data":` + pet + `},"partition":1}`, nil, 400, `unknown field "partition"`},
		{"duplicate field", "pets", `{"value":{"data":{}},"value":{"data":{}}}`, nil, 400, `"value" twice`},
		{"bad timestamp", "pets", `{"timestamp":"yesterday","value":{"data":` + pet + `}}`, nil, 400, "RFC 3339"},
		{"unknown type", "pets", `{"value":{"type":"XML","data":"<a/>"}}`, nil, 400, `"XML"`},
		{"unknown strategy", "pets", `{"value":{"subject_name_strategy":"OTHER","data":{}}}`, nil, 400, "TOPIC_NAME, RECORD_NAME"},
		{"invalid UTF-8 in a string", "pets", "{\"value\":{\"type\":\"STRING\",\"data\":\"\xff\"}}", nil, 400, "UTF-8"},
		{"type required by the strategy", "orders", `{"value":{"data":{"order_id":"x"}}}`, nil, 400, "type_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, as := e.v3(t, tt.topic, tt.body, tt.header)
			if w.Code != http.StatusOK || len(as) != 1 {
				t.Fatalf("status %d, %d answers, want 200 and one answer:\n%s", w.Code, len(as), w.Body)
			}
			if code(as[0]) != tt.code || !strings.Contains(as[0]["message"].(string), tt.contains) {
				t.Errorf("answer %v, want error_code %d with a message containing %q", as[0], tt.code, tt.contains)
			}
			if len(as[0]) != 2 {
				t.Errorf("an error answer has error_code and message only: %v", as[0])
			}
		})
	}
	for _, topic := range []string{"pets", "topic-1", "orders", "guarded"} {
		if n := e.st.Count(topic); n != 0 {
			t.Errorf("%d records in %s after refused requests", n, topic)
		}
	}
}

// TestRESTProxyV3Outages: an unreachable registry or Kafka is a retriable
// answer (never a 4xx) with Retry-After.
func TestRESTProxyV3Outages(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	e.st.SetRegistryDown(true)
	w, as := e.v3(t, "test", `{"value":{"data":{}}}`, nil)
	if len(as) != 1 || code(as[0]) != 503 || !strings.Contains(as[0]["message"].(string), "registry_unavailable") || w.Header().Get("Retry-After") == "" {
		t.Errorf("registry down: %v, Retry-After %q; want 503 registry_unavailable with Retry-After", as, w.Header().Get("Retry-After"))
	}
	w, as = e.v3(t, "test", `{"value":{"type":"JSONSCHEMA","schema":"{}","data":{}}}`, nil)
	if len(as) != 1 || code(as[0]) != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("registry down, raw schema lookup: %v", as)
	}
	e.st.SetRegistryDown(false)

	down := newRPEnv(t, nil, proxy.RESTProxyOptions{Cluster: failingCluster{}})
	w = down.call(t, http.MethodGet, "/v3/clusters", nil, "")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"error_code":50302`) {
		t.Errorf("GET /v3/clusters with Kafka down: %d %s", w.Code, w.Body)
	}
}

type failingCluster struct{}

func (failingCluster) ClusterID(context.Context) (string, int32, error) {
	return "", -1, fmt.Errorf("dial tcp: connection refused")
}

// TestRESTProxyV3Produced: what a v3 record becomes in Kafka: the key by
// its type (BINARY decoded, STRING as is, JSON as compact JSON text), the
// headers base64-decoded beside eventguard's, the chosen partition and
// timestamp, the value framed with the schema it passed; a subject picks
// the record type under topic_record; a raw schema is looked up once.
func TestRESTProxyV3Produced(t *testing.T) {
	t.Parallel()
	lookups := &countingLookup{}
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{Schemas: lookups})
	lookups.next = validate.SchemaLookup{Client: e.st.RegistryClient(t)}

	body := `{"partition_id":2,"headers":[{"name":"origin","value":"Ym93bA=="},{"name":"empty","value":null}],` +
		`"key":{"type":"JSON","data":{ "pet" : "pet-42" }},"value":{"data":` + hPetV2 + `},"timestamp":"2021-02-05T19:14:42.5Z"}` +
		`{"key":{"type":"STRING","data":"pet-43"},"value":{"type":"STRING","data":` + quoteJSON(hPetV2) + `}}` +
		`{"key":{"type":"BINARY","data":"AAEC"},"value":{"type":"BINARY","data":"` + b64(hPetV2) + `"}}`
	_, as := e.v3(t, "pets", body, nil)
	if len(as) != 3 {
		t.Fatalf("%d answers, want 3", len(as))
	}
	for i, a := range as {
		if code(a) != 200 {
			t.Fatalf("answer %d: %v", i, a)
		}
	}
	if as[0]["timestamp"] != "2021-02-05T19:14:42.500Z" || as[0]["partition_id"].(float64) != 2 {
		t.Errorf("answer 0: %v", as[0])
	}
	v := as[0]["value"].(map[string]any)
	if v["type"] != "JSONSCHEMA" || v["subject"] != "pets-value" || int(v["schema_version"].(float64)) != 2 || int(v["size"].(float64)) != len(hPetV2)+5 {
		t.Errorf("answer 0 value: %v", v)
	}
	recs := e.st.Records(t, "pets")
	if len(recs) != 3 {
		t.Fatalf("%d records in pets, want 3", len(recs))
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range recs {
		byKey[string(r.Key)] = r
	}
	r := byKey[`{"pet":"pet-42"}`]
	if r == nil || r.Partition != 2 || !r.Timestamp.Equal(time.Date(2021, 2, 5, 19, 14, 42, 500e6, time.UTC)) {
		t.Fatalf("the JSON-keyed record: %+v (keys %v)", r, keysOf(byKey))
	}
	if h, _ := kafka.Header(r.Headers, "origin"); h != "bowl" {
		t.Errorf("header origin = %q", h)
	}
	if _, ok := kafka.Header(r.Headers, kafka.HeaderEventID); !ok {
		t.Error("eventguard's headers are missing")
	}
	id, payload, err := validate.Unframe(r.Value)
	if err != nil || id != e.st.ID(t, "pets-value", 2) || string(payload) != hPetV2 {
		t.Errorf("value: id %d, %q, %v", id, payload, err)
	}
	for _, k := range []string{"pet-43", "\x00\x01\x02"} {
		if r := byKey[k]; r == nil {
			t.Errorf("no record keyed %q", k)
		} else if _, payload, _ := validate.Unframe(r.Value); string(payload) != hPetV2 {
			t.Errorf("record %q value %q", k, payload)
		}
	}

	// topic_record: the subject names the type.
	_, as = e.v3(t, "orders", `{"value":{"subject":"orders-OrderPlaced","data":`+hOrder+`}}`, nil)
	if len(as) != 1 || code(as[0]) != 200 || as[0]["value"].(map[string]any)["subject"] != "orders-OrderPlaced" {
		t.Errorf("topic_record by subject: %v", as)
	}

	// A raw schema registered under the subject: looked up once.
	ss, ok := e.st.Registry.GetSchema("test-value", 1)
	if !ok {
		t.Fatal("test-value version 1 is not registered")
	}
	schema := ss.Schema.Schema
	for range 3 {
		_, as = e.v3(t, "test", `{"value":{"type":"JSONSCHEMA","schema":`+quoteJSON(schema)+`,"data":{"x":1}}}`, nil)
		if len(as) != 1 || code(as[0]) != 200 {
			t.Fatalf("raw schema: %v", as)
		}
	}
	if n := lookups.n.Load(); n != 1 {
		t.Errorf("%d registry lookups for the same schema, want 1 (cached)", n)
	}
}

func keysOf(m map[string]*kgo.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRESTProxyV3Stream: on a real connection, each record's answer comes
// back while the body is still open (one record in, one answer out), and
// a record over limits.max_body_bytes ends the stream with a 413 answer.
func TestRESTProxyV3Stream(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{StreamIdle: 2 * time.Second})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST "+v3Path+" HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", "pets")
	chunk := func(s string) { fmt.Fprintf(conn, "%x\r\n%s\r\n", len(s), s) }
	br := bufio.NewReader(conn)

	chunk(`{"key":{"type":"STRING","data":"s-0"},"value":{"data":` + hPetV2 + `}}`)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stream answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := bufio.NewReader(resp.Body)
	dec := json.NewDecoder(body)
	for i := range 3 {
		if i > 0 {
			chunk(fmt.Sprintf(`{"key":{"type":"STRING","data":"s-%d"},"value":{"data":%s}}`, i, hPetV2))
		}
		var a map[string]any
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("answer %d before the next record was sent: %v", i, err)
		}
		if code(a) != 200 {
			t.Fatalf("answer %d: %v", i, a)
		}
	}
	// A bad record answers alone; the stream goes on.
	chunk(`{"value":{"data":` + hPetV2Bad + `}}`)
	var a map[string]any
	if err := dec.Decode(&a); err != nil || code(a) != 400 {
		t.Fatalf("bad record: %v %v", a, err)
	}
	// Too large: answered 413, and the stream ends.
	chunk(`{"value":{"data":{"s":"` + strings.Repeat("x", 20<<10) + `"}}}`)
	if err := dec.Decode(&a); err != nil || code(a) != 413 {
		t.Fatalf("record over max_body_bytes: %v %v", a, err)
	}
	if rest, err := io.ReadAll(body); err != nil || strings.TrimSpace(string(rest)) != "" {
		t.Errorf("after a 413 the stream ends: %q %v", rest, err)
	}
	if n := e.st.Count("pets"); n != 3 {
		t.Errorf("%d records in pets, want 3", n)
	}
}

// TestRESTProxyV3StreamIdle: a stream whose next record does not come
// within StreamIdle is answered up to there and closed.
func TestRESTProxyV3StreamIdle(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{StreamIdle: 300 * time.Millisecond})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintf(pw, `{"value":{"data":%s}}`, hPetV2)
		time.Sleep(3 * time.Second) // idle past StreamIdle
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+fmt.Sprintf(v3Path, "pets"), pr)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	as := jsonValues(t, string(b))
	if len(as) != 2 || kindOf(as[0]) != "object" || as[0].(map[string]any)["error_code"] != json.Number("200") ||
		as[1].(map[string]any)["error_code"] != json.Number("400") || !strings.Contains(as[1].(map[string]any)["message"].(string), "waits at most 300ms") {
		t.Errorf("answers %s", b)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("the idle stream ended after %s, want about StreamIdle (300ms)", d)
	}
}

// TestRESTProxyV3ManyRecords: more records than max_records_per_request in
// one body are produced in several batches, all answered in order.
func TestRESTProxyV3ManyRecords(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	var b strings.Builder
	for i := range 23 {
		fmt.Fprintf(&b, `{"partition_id":%d,"key":{"type":"STRING","data":"k%d"},"value":{"data":{"i":%d}}}`+"\n", i%3, i, i)
	}
	_, as := e.v3(t, "test", b.String(), nil)
	if len(as) != 23 {
		t.Fatalf("%d answers, want 23", len(as))
	}
	last := map[float64]float64{0: -1, 1: -1, 2: -1}
	for i, a := range as {
		p, o := a["partition_id"].(float64), a["offset"].(float64)
		if code(a) != 200 || int(p) != i%3 || o != last[p]+1 {
			t.Fatalf("answer %d: %v (out of order?)", i, a)
		}
		last[p] = o
	}
}

// TestRESTProxyRoutes: methods and paths outside the API answer in REST
// Proxy's error shape; eventguard's own API is still served beside it.
func TestRESTProxyRoutes(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	for _, tt := range []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/topics/pets", 405, `"error_code":405`},
		{http.MethodGet, "/v3/clusters/x/topics/pets/records", 405, `"error_code":405`},
		{http.MethodDelete, "/v3/clusters", 405, `"error_code":405`},
		{http.MethodGet, "/v3/nothing", 404, `"error_code":404`},
		{http.MethodGet, "/topics", 404, `"error_code":404`},
		{http.MethodGet, "/v1/topics/pets/records", 405, `"code":"method_not_allowed"`},
		{http.MethodGet, "/elsewhere", 404, `"code":"no_route"`},
	} {
		w := e.call(t, tt.method, tt.path, nil, "")
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, w.Code, w.Body)
		}
	}
	w := e.call(t, http.MethodGet, "/v3/clusters", nil, "")
	var l struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || len(l.Data) != 1 || l.Data[0].ClusterID == "" {
		t.Fatalf("GET /v3/clusters: %s", w.Body)
	}
	w = e.call(t, http.MethodGet, "/v3/clusters/"+l.Data[0].ClusterID, nil, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"kind":"KafkaCluster"`) {
		t.Errorf("GET /v3/clusters/{id}: %d %s", w.Code, w.Body)
	}
	w = e.call(t, http.MethodGet, "/v3/clusters/"+strings.Repeat("x", 1000), nil, "")
	if w.Code != 404 || w.Body.Len() > 300 {
		t.Errorf("a long unknown cluster id is echoed bounded: %d bytes", w.Body.Len())
	}
	w = e.post(t, "pets", hRec(hPetV2))
	if w.Code != 200 {
		t.Errorf("eventguard's own API beside REST Proxy's: %d %s", w.Code, w.Body)
	}
}

func (e *rpEnv) post(t testing.TB, topic string, records ...string) *httptest.ResponseRecorder {
	t.Helper()
	return e.call(t, http.MethodPost, "/v1/topics/"+topic+"/records", jsonCT, `{"records":[`+strings.Join(records, ",")+`]}`)
}

// quoteJSON is s as a JSON string literal.
func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// countingLookup counts the registry lookups it passes on.
type countingLookup struct {
	next proxy.SchemaLookup
	n    atomic.Int32
}

func (c *countingLookup) LookupSchema(ctx context.Context, subject, schema string) (int, error) {
	c.n.Add(1)
	return c.next.LookupSchema(ctx, subject, schema)
}

const v2JSONCT, v2SchemaCT, v2BinaryCT = "application/vnd.kafka.json.v2+json", "application/vnd.kafka.jsonschema.v2+json", "application/vnd.kafka.binary.v2+json"

// TestRESTProxyV2Errors: REST Proxy v2's documented failures and
// eventguard's refusals, in REST Proxy's error shape with its codes; the
// HTTP status is the code's first three digits; nothing is produced.
func TestRESTProxyV2Errors(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	pet := `{"records":[{"value":` + hPetV2 + `}]}`
	tests := []struct {
		name, path, ct, accept, body string
		status, code                 int
		contains                     string
	}{
		{"protobuf", "/topics/pets", "application/vnd.kafka.protobuf.v2+json", "", pet, 415, 415, "protobuf"},
		{"no content type", "/topics/pets", "", "", pet, 415, 415, "Content-Type is"},
		{"plain JSON", "/topics/pets", "application/json", "", pet, 415, 415, "vnd.kafka.jsonschema.v2+json"},
		{"not acceptable", "/topics/pets", v2SchemaCT, "application/xml", pet, 406, 406, "Not Acceptable"},
		{"not JSON", "/topics/pets", v2SchemaCT, "", `{"records":[`, 400, 400, "not JSON"},
		{"unknown field", "/topics/pets", v2SchemaCT, "", `{"records":[{"value":{}}],"extra":1}`, 422, 422, `unknown field "extra"`},
		{"unknown record field", "/topics/pets", v2SchemaCT, "", `{"records":[{"value":{},"headers":{}}]}`, 422, 422, `unknown field "headers"`},
		{"no records", "/topics/pets", v2SchemaCT, "", `{}`, 422, 422, "records may not be empty"},
		{"null value", "/topics/pets", v2SchemaCT, "", `{"records":[{"value":null}]}`, 422, 422, "tombstones"},
		{"key schema", "/topics/pets", v2SchemaCT, "", `{"key_schema_id":1,"records":[{"key":"k","value":` + hPetV2 + `}]}`, 422, 42201, "key schema"},
		{"value schema not registered", "/topics/pets", v2SchemaCT, "", `{"value_schema":"{\"type\":\"string\"}","records":[{"value":"x"}]}`, 422, 42205, "does not register schemas"},
		{"value schema and id", "/topics/pets", v2SchemaCT, "", `{"value_schema":"{}","value_schema_id":2,"records":[{"value":{}}]}`, 400, 400, "not both"},
		{"value schema under topic_record", "/topics/orders", v2SchemaCT, "", `{"value_schema":"{}","records":[{"value":{}}]}`, 422, 42205, "needs the topic subject strategy"},
		{"value schema id of another subject", "/topics/pets", v2SchemaCT, "", `{"value_schema_id":` + fmt.Sprint(e.st.ID(t, "test-value", 1)) + `,"records":[{"value":{}}]}`, 422, 42207, "not registered under subject"},
		{"one record breaks the schema", "/topics/pets", v2SchemaCT, "", `{"records":[{"value":` + hPetV2 + `},{"value":` + hPetV2Bad + `}]}`, 400, 400, "record 1"},
		{"too many records", "/topics/test", v2JSONCT, "", `{"records":[{"value":1},{"value":1},{"value":1},{"value":1},{"value":1},{"value":1}]}`, 413, 413, "too_many_records"},
		{"body too large", "/topics/test", v2JSONCT, "", `{"records":[{"value":"` + strings.Repeat("x", 20<<10) + `"}]}`, 413, 413, "limits.max_body_bytes"},
		{"topic not allowed", "/topics/nope", v2JSONCT, "", `{"records":[{"value":1}]}`, 403, 40301, "topic_not_allowed"},
		{"bad partition in the path", "/topics/test/partitions/x", v2JSONCT, "", `{"records":[{"value":1}]}`, 404, 40402, "Partition not found"},
		{"negative record partition", "/topics/test", v2JSONCT, "", `{"records":[{"value":1,"partition":-2}]}`, 404, 40402, "Partition not found"},
		{"binary value not base64", "/topics/test", v2BinaryCT, "", `{"records":[{"value":"!!"}]}`, 400, 400, "not a valid base64"},
		{"binary key not a string", "/topics/test", v2BinaryCT, "", `{"records":[{"key":1,"value":"MQ=="}]}`, 400, 400, "is not a base64 string"},
		{"json key not JSON", "/topics/test", v2JSONCT, "", `{"records":[{"key":tru,"value":1}]}`, 400, 400, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.ct != "" {
				h["Content-Type"] = tt.ct
			}
			if tt.accept != "" {
				h["Accept"] = tt.accept
			}
			w := e.call(t, http.MethodPost, tt.path, h, tt.body)
			var a struct {
				Code    int    `json:"error_code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("%d %s: %v", w.Code, w.Body, err)
			}
			if w.Code != tt.status || a.Code != tt.code || !strings.Contains(a.Message, tt.contains) {
				t.Errorf("%d %s, want %d with error_code %d and %q", w.Code, w.Body, tt.status, tt.code, tt.contains)
			}
		})
	}
	for _, topic := range []string{"pets", "test", "orders"} {
		if n := e.st.Count(topic); n != 0 {
			t.Errorf("%d records in %s after refused requests", n, topic)
		}
	}
	// An outage is a 5xx with Retry-After, never a 4xx.
	e.st.SetRegistryDown(true)
	defer e.st.SetRegistryDown(false)
	w := e.call(t, http.MethodPost, "/topics/test", map[string]string{"Content-Type": v2JSONCT}, `{"records":[{"value":1}]}`)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "registry_unavailable") {
		t.Errorf("registry down: %d %s", w.Code, w.Body)
	}
}

// TestRESTProxyV2Produced: JSON keys are written as compact JSON text (as
// REST Proxy writes them: "pet-42" with its quotes), binary keys and
// values decoded; the path's partition applies to records without their
// own; a value_schema registered under the subject pins its id.
func TestRESTProxyV2Produced(t *testing.T) {
	t.Parallel()
	e := newRPEnv(t, nil, proxy.RESTProxyOptions{})
	w := e.call(t, http.MethodPost, "/topics/test/partitions/2", map[string]string{"Content-Type": v2JSONCT, "Accept": "application/json"},
		`{"records":[{"key":"pet-42","value":{"a":1}},{"key":{"id" : 7},"value":[1],"partition":0}]}`)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var a struct {
		Offsets []struct {
			Partition *int32 `json:"partition"`
		} `json:"offsets"`
		ValueSchemaID *int `json:"value_schema_id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || len(a.Offsets) != 2 || *a.Offsets[0].Partition != 2 || *a.Offsets[1].Partition != 0 ||
		a.ValueSchemaID == nil || *a.ValueSchemaID != e.st.ID(t, "test-value", 1) {
		t.Fatalf("answer %s", w.Body)
	}
	w = e.call(t, http.MethodPost, "/topics/test", map[string]string{"Content-Type": v2BinaryCT},
		`{"records":[{"key":"AAE=","value":"`+b64(`{"b":2}`)+`"}]}`)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/vnd.kafka.v2+json" {
		t.Fatalf("binary: %d %s", w.Code, w.Body)
	}
	keys := map[string]string{}
	for _, r := range e.st.Records(t, "test") {
		_, payload, _ := validate.Unframe(r.Value)
		keys[string(r.Key)] = string(payload)
	}
	for k, v := range map[string]string{`"pet-42"`: `{"a":1}`, `{"id":7}`: `[1]`, "\x00\x01": `{"b":2}`} {
		if keys[k] != v {
			t.Errorf("key %q: value %q, want %q (all: %q)", k, keys[k], v, keys)
		}
	}
	ss, _ := e.st.Registry.GetSchema("test-value", 1)
	w = e.call(t, http.MethodPost, "/topics/test", map[string]string{"Content-Type": v2SchemaCT},
		`{"value_schema":`+quoteJSON(ss.Schema.Schema)+`,"records":[{"value":{"c":3}}]}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf(`"value_schema_id":%d`, ss.ID)) {
		t.Errorf("value_schema: %d %s", w.Code, w.Body)
	}
}
