package e2e

// Avro and Protobuf on the real broker and the real registry, with
// Confluent's own Python client on the other side (issue 16 part 4). The
// engine-level twin without a broker is formats_interop_test.go.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/jhump/protoreflect/v2/protoprint"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// formatsBrokerSpec is what test/interop/test_formats_broker.py reads from
// the file named by FORMATS_BROKER_SPEC.
type formatsBrokerSpec struct {
	Brokers     string             `json:"brokers"`
	RegistryURL string             `json:"registry_url"`
	Out         string             `json:"out"`
	Avro        formatsBrokerTopic `json:"avro"`
	Protobuf    formatsBrokerTopic `json:"protobuf"`
}

type formatsBrokerTopic struct {
	Topic    string               `json:"topic"`
	Subject  string               `json:"subject"`
	SchemaID int                  `json:"schema_id"`
	Message  string               `json:"message,omitempty"`
	Records  []formatsBrokerEvent `json:"records"`
}

// formatsBrokerEvent is one golden event eventguard produced: as the app
// posted it, and as eventguard's subscription delivered it back.
type formatsBrokerEvent struct {
	Key     string          `json:"key"`
	JSON    json.RawMessage `json:"json"`
	Decoded json.RawMessage `json:"decoded"`
}

// formatsProduced is what the Python producers wrote.
type formatsProduced struct {
	Avro     []formatsProducedRecord `json:"avro"`
	Protobuf []formatsProducedRecord `json:"protobuf"`
}

type formatsProducedRecord struct {
	Key      string `json:"key"`
	ValueHex string `json:"value_hex"`
}

// TestConfluentPythonFormatsBroker: the Avro and Protobuf example subjects
// on the real broker, through the built binary, with their schemas in
// Apicurio Registry, and Confluent's Python client on the other side:
//
//   - payments-value (Avro, referencing the pos-payment-method enum subject)
//     and tables-value (Protobuf with buf.validate rules, referencing
//     buf/validate/validate.proto, registered as a subject from
//     protovalidate's own descriptor printed as .proto text, as a real
//     registry needs it) are registered in Apicurio under new topics;
//   - the app posts the golden JSON events to eventguard's HTTP API: the
//     valid ones are produced as Avro / Protobuf in Confluent's wire format
//     with Apicurio's ids, the invalid ones refused (422, the violation's
//     path and keyword: Avro's decimal scale, buf.validate's uint32.gt_lte);
//   - eventguard's subscription on each topic delivers them to the app as
//     JSON; Confluent's Consumer with AvroDeserializer/ProtobufDeserializer
//     (Python) reads the same records from the broker and decodes each to
//     the value eventguard delivered;
//   - Confluent's AvroSerializer/ProtobufSerializer (use.latest.version)
//     produce the same events to the same topics: eventguard's subscription
//     delivers each as the same JSON as eventguard's own record of it, and
//     the Avro bytes are identical to eventguard's;
//   - a record framed with the subject's id whose body does not decode is
//     dead-lettered as malformed_payload, byte for byte.
//
// Apicurio 3.3.3 answers Confluent's ?format=serialized (the
// FileDescriptorProto the Python client asks for Protobuf schemas) with the
// descriptor's raw bytes in a JSON string instead of base64, which a JSON
// string cannot carry (bytes past 0x7F arrive as U+FFFD): Confluent's
// Protobuf serdes cannot read any Protobuf schema from it. The Python client
// therefore talks to Apicurio through serializedShim, which passes every
// request through and replaces only the "schema" of such answers with the
// base64 descriptor of the text Apicurio holds, as Confluent's registry
// does. eventguard reads the schema text and needs no shim.
func TestConfluentPythonFormatsBroker(t *testing.T) {
	py := pythonWithConfluent(t)
	regURL := apicurioURL(t)
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, py, "-c", "import fastavro, google.protobuf").CombinedOutput(); err != nil {
		unavailable(t, "%s lacks confluent-kafka[avro,protobuf] (%s); pip install them (bash .ci/run makes .venv)", py, bytes.TrimSpace(out))
	}

	// The subjects, in Apicurio, under this test's topics.
	cl, err := harness.RegistryClient(regURL)
	if err != nil {
		t.Fatal(err)
	}
	create := func(subject string, s sr.Schema) sr.SubjectSchema {
		t.Helper()
		ss, err := cl.CreateSchema(ctx, subject, s)
		if err != nil {
			t.Fatalf("register %s in Apicurio: %v", subject, err)
		}
		return ss
	}
	avroTopic := harness.UniqueName("e2e-fmt-avro")
	protoTopic := harness.UniqueName("e2e-fmt-proto")
	method := create(avroTopic+"-payment-method", sr.Schema{Type: sr.TypeAvro, Schema: string(golden(t, "pos-payment-method/1/schema.avsc"))})
	payments := create(avroTopic+"-value", sr.Schema{Type: sr.TypeAvro, Schema: string(golden(t, "payments-value/1/schema.avsc")),
		References: []sr.SchemaReference{{Name: "com.acme.pos.PaymentMethod", Subject: method.Subject, Version: method.Version}}})
	validateText := validateProtoText(t)
	vref := create(validateImportSubject, sr.Schema{Type: sr.TypeProtobuf, Schema: validateText})
	tablesText := string(golden(t, "tables-value/1/schema.proto"))
	tables := create(protoTopic+"-value", sr.Schema{Type: sr.TypeProtobuf, Schema: tablesText,
		References: []sr.SchemaReference{{Name: protobuf.ValidateImport, Subject: vref.Subject, Version: vref.Version}}})
	t.Logf("Apicurio: %s id %d, %s id %d (%s version %d, %d bytes of .proto)", payments.Subject, payments.ID, tables.Subject, tables.ID,
		vref.Subject, vref.Version, len(validateText))

	compiled, err := protobuf.Compile(ctx, tablesText, nil)
	if err != nil {
		t.Fatal(err)
	}
	shim := newSerializedShim(t, regURL, map[string]string{
		tablesText:   descriptorBase64(t, protodesc.ToFileDescriptorProto(compiled.File())),
		validateText: descriptorBase64(t, protodesc.ToFileDescriptorProto(validatepb.File_buf_validate_validate_proto)),
	})

	createTopic(t, brokers, avroTopic, 1)
	createTopic(t, brokers, protoTopic, 1)
	app := newSink(t, always200)
	subAvro := newSubscription("fmt-avro", avroTopic, app.url("/avro"))
	subProto := newSubscription("fmt-proto", protoTopic, app.url("/proto"))
	e := startWith(t, subAvro.yaml()+strings.SplitN(subProto.yaml(), "subscriptions:\n", 2)[1], harness.Options{Registry: regURL})

	// The app posts the goldens: valid ones produced, invalid ones refused.
	post := func(topic string, ss sr.SubjectSchema, goldens ...string) []formatsBrokerEvent {
		var recs []rec
		var events []formatsBrokerEvent
		for i, g := range goldens {
			r := rec{Key: fmt.Sprintf("eg-%d", i), Value: golden(t, g)}
			recs = append(recs, r)
			events = append(events, formatsBrokerEvent{Key: r.Key, JSON: r.Value})
		}
		resp := e.mustPost(topic, recs, nil, http.StatusOK)
		for i, res := range resp.Results {
			if res.SchemaID != ss.ID || res.Subject != ss.Subject || res.Offset == nil {
				t.Errorf("%s: produced as %s id %d offset %v, want %s id %d", goldens[i], res.Subject, res.SchemaID, res.Offset, ss.Subject, ss.ID)
			}
		}
		return events
	}
	avroEvents := post(avroTopic, payments, "payments-value/1/valid/typical.json",
		"payments-value/1/valid/cash-defaults-numbers.json", "payments-value/1/valid/avro-json-union.json")
	protoEvents := post(protoTopic, tables, "tables-value/1/valid/seated.json", "tables-value/1/valid/freed-camel-case.json")
	for _, c := range []struct{ topic, golden, path, keyword string }{
		{avroTopic, "payments-value/1/invalid/cheque-and-three-decimals.json", "/amount", "decimal"},
		{protoTopic, "tables-value/1/invalid/party-of-25.json", "/party/size", "uint32.gt_lte"},
	} {
		resp := e.mustPost(c.topic, []rec{{Key: "bad", Value: golden(t, c.golden)}}, nil, http.StatusUnprocessableEntity)
		if !hasViolation(resp, c.path, c.keyword) {
			t.Errorf("%s: refusal %+v does not name %s (%s)", c.golden, resp.Results, c.path, c.keyword)
		}
	}

	// eventguard's subscription delivers its own records as JSON.
	app.waitOK(len(avroEvents)+len(protoEvents), 60*time.Second)
	byKey := func(path string) map[string][]byte {
		out := map[string][]byte{}
		for _, d := range app.delivered() {
			if d.Path == path {
				out[d.Key] = d.Body
			}
		}
		return out
	}
	for path, events := range map[string][]formatsBrokerEvent{"/avro": avroEvents, "/proto": protoEvents} {
		got := byKey(path)
		for i := range events {
			if got[events[i].Key] == nil {
				t.Fatalf("%s: no delivery of %s; %s", path, events[i].Key, app.summary())
			}
			events[i].Decoded = got[events[i].Key]
		}
	}

	// Confluent's Python client reads them, then writes the same events.
	spec := formatsBrokerSpec{
		Brokers:     strings.Join(brokers, ","),
		RegistryURL: shim.url,
		Out:         filepath.Join(t.TempDir(), "python-produced.json"),
		Avro:        formatsBrokerTopic{Topic: avroTopic, Subject: payments.Subject, SchemaID: payments.ID, Records: avroEvents},
		Protobuf: formatsBrokerTopic{Topic: protoTopic, Subject: tables.Subject, SchemaID: tables.ID,
			Message: "acme.pos.v1.TableStatusChanged", Records: protoEvents},
	}
	runPytest(t, ctx, py, "FORMATS_BROKER_SPEC", spec, "test/interop/test_formats_broker.py", `^4 passed in `)
	var wrote formatsProduced
	if b, err := os.ReadFile(spec.Out); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &wrote); err != nil {
		t.Fatal(err)
	}
	if len(wrote.Avro) != len(avroEvents) || len(wrote.Protobuf) != len(protoEvents) {
		t.Fatalf("Python produced %d Avro and %d Protobuf records, want %d and %d", len(wrote.Avro), len(wrote.Protobuf), len(avroEvents), len(protoEvents))
	}
	t.Logf("Apicurio's ?format=serialized answers: %d replaced by the shim, %d served as they were", shim.replaced.Load(), shim.passed.Load())
	if shim.passed.Load() > 0 {
		t.Errorf("Apicurio %s now serves ?format=serialized as base64 descriptors: drop serializedShim and say so in docs/formats.md", os.Getenv("APICURIO_VERSION"))
	}

	// Bodies that are not what the id's schema reads, around eventguard.
	prod := newProducer(t, brokers)
	poison := map[string][]byte{
		avroTopic:  wire(payments.ID, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}), // a string longer than the record
		protoTopic: wire(tables.ID, []byte{0x00, 0x0a, 0x7f, 'T', '7'}),     // message [0], field 1 claims 127 bytes
	}
	for topic, v := range poison {
		produceSync(t, prod, &kgo.Record{Topic: topic, Partition: 0, Key: []byte("poison"), Value: v})
	}

	// eventguard delivers what Confluent's serializers wrote as the same
	// JSON as its own records of the same events, and dead-letters the poison.
	app.waitOK(2*(len(avroEvents)+len(protoEvents)), 60*time.Second)
	for path, events := range map[string][]formatsBrokerEvent{"/avro": avroEvents, "/proto": protoEvents} {
		got := byKey(path)
		for i, ev := range events {
			py := got[fmt.Sprintf("py-%d", i)]
			if !bytes.Equal(py, ev.Decoded) {
				t.Errorf("%s py-%d: eventguard delivered what Confluent's serializer wrote as\n %s\nwant (its own record of the same event)\n %s", path, i, py, ev.Decoded)
			}
		}
		if _, ok := got["poison"]; ok {
			t.Errorf("%s: the poison record was delivered", path)
		}
	}
	for topic, ss := range map[string]sr.SubjectSchema{avroTopic: payments, protoTopic: tables} {
		waitCount(t, brokers, topic+".dlq", 1, 30*time.Second)
		dl := readList(t, brokers, topic+".dlq")
		if len(dl) != 1 || !bytes.Equal(dl[0].Value, poison[topic]) || headerOf(dl[0], "eventguard.dlq.reason") != "malformed_payload" ||
			headerOf(dl[0], "eventguard.dlq.schema_id") != strconv.Itoa(ss.ID) || headerOf(dl[0], "eventguard.dlq.subject") != ss.Subject {
			t.Errorf("%s.dlq: %d records, want the poison record as malformed_payload of %s id %d: %v", topic, len(dl), ss.Subject, ss.ID, fmtRecords(dl))
		} else {
			t.Logf("%s.dlq: malformed_payload: %s", topic, headerOf(dl[0], "eventguard.dlq.message"))
		}
	}

	// The bytes on the broker: Avro's encoding is canonical, so Confluent's
	// and eventguard's records of an event are identical; Protobuf's need
	// not be (logged).
	for _, c := range []struct {
		topic string
		n     int
		same  bool
	}{{avroTopic, len(avroEvents), true}, {protoTopic, len(protoEvents), false}} {
		vals := map[string][]byte{}
		for _, r := range readList(t, brokers, c.topic) {
			vals[string(r.Key)] = r.Value
		}
		for i := range c.n {
			eg, py := vals[fmt.Sprintf("eg-%d", i)], vals[fmt.Sprintf("py-%d", i)]
			same := bytes.Equal(eg, py)
			if c.same && !same {
				t.Errorf("%s record %d: Confluent's bytes\n % x\ndiffer from eventguard's\n % x", c.topic, i, py, eg)
			}
			t.Logf("%s record %d: Confluent's %d bytes %s eventguard's", c.topic, i, len(py), map[bool]string{true: "are identical to", false: "differ from"}[same])
		}
	}
}

// hasViolation reports whether the first refused record of resp has a
// violation at path with keyword.
func hasViolation(resp produceResponse, path, keyword string) bool {
	for _, res := range resp.Results {
		if res.Error == nil {
			continue
		}
		for _, v := range res.Error.Violations {
			if v.Path == path && v.Keyword == keyword {
				return true
			}
		}
	}
	return false
}

// fmtRecords describes records for failure messages.
func fmtRecords(rs []*kgo.Record) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %s/%d/%d key=%q value=% x headers=%s", r.Topic, r.Partition, r.Offset, r.Key, r.Value, fmtHeaders(r.Headers))
	}
	return b.String()
}

// validateProtoText returns buf/validate/validate.proto as .proto text,
// printed from the descriptor protovalidate's Go module is built with (the
// one eventguard compiles against): what a real registry needs registered
// for a schema that imports it.
func validateProtoText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	if err := (&protoprint.Printer{}).PrintProtoFile(validatepb.File_buf_validate_validate_proto, &b); err != nil {
		t.Fatalf("print buf/validate/validate.proto: %v", err)
	}
	return b.String()
}

// runPytest writes spec as JSON to a file named by the environment
// variable specVar and runs pytest on file with it; it fails the test
// unless pytest passes with a summary matching want.
func runPytest(t *testing.T, ctx context.Context, py, specVar string, spec any, file, want string) {
	t.Helper()
	specPath := filepath.Join(t.TempDir(), "spec.json")
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", file)
	cmd.Dir = rootDir
	cmd.Env = append(os.Environ(), specVar+"="+specPath, "PYTHONDONTWRITEBYTECODE=1")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest %s failed (%v) after %s:\n%s", file, err, time.Since(t0).Round(time.Millisecond), out)
	}
	summary := pytestSummary(out)
	if !regexp.MustCompile(want).MatchString(summary) {
		t.Fatalf("pytest %s: summary %q does not match %q:\n%s", file, summary, want, out)
	}
	t.Logf("pytest %s: %s", file, summary)
}

// serializedShim is an HTTP proxy in front of a registry that passes
// every request through, except that it repairs answers to
// ?format=serialized whose "schema" is not a base64 FileDescriptorProto
// (Apicurio's): it asks the registry for the same resource without
// format and, when descs knows the schema text it holds, answers with its
// base64 descriptor. It counts the answers it replaced and those it found
// valid.
type serializedShim struct {
	t        *testing.T
	upstream *url.URL
	descs    map[string]string
	url      string // the shim's URL, with the registry's path
	hc       *http.Client

	replaced, passed atomic.Int32
}

func newSerializedShim(t *testing.T, registry string, descs map[string]string) *serializedShim {
	t.Helper()
	u, err := url.Parse(registry)
	if err != nil {
		t.Fatal(err)
	}
	s := &serializedShim{t: t, upstream: u, descs: descs, hc: &http.Client{Timeout: 30 * time.Second}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL + u.Path
	return s
}

// forward sends r's method, path, query and body to the registry.
func (s *serializedShim) forward(r *http.Request, query url.Values) (int, http.Header, []byte, error) {
	u := *s.upstream
	u.Path, u.RawQuery = r.URL.Path, query.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, h := range []string{"Content-Type", "Accept"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

func (s *serializedShim) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, hdr, body, err := s.forward(r, q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if r.Method == http.MethodGet && q.Get("format") == "serialized" && status == http.StatusOK {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil && m["schemaType"] == "PROTOBUF" {
			if isDescriptor(m["schema"]) {
				s.passed.Add(1)
			} else {
				plain := url.Values{}
				for k, vs := range q {
					if k != "format" {
						plain[k] = vs
					}
				}
				if st, _, text, err := s.forward(r, plain); err == nil && st == http.StatusOK {
					var p map[string]any
					if json.Unmarshal(text, &p) == nil {
						if d, ok := s.descs[fmt.Sprint(p["schema"])]; ok {
							m["schema"] = d
							body, _ = json.Marshal(m)
							s.replaced.Add(1)
						} else {
							s.t.Errorf("serializedShim: %s: no descriptor for the schema text the registry holds", r.URL)
						}
					}
				}
			}
		}
	}
	if ct := hdr.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// isDescriptor reports whether v is a base64 FileDescriptorProto.
func isDescriptor(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && proto.Unmarshal(b, &descriptorpb.FileDescriptorProto{}) == nil
}
