package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// formatsSpec is what test/interop/test_formats_interop.py reads from the
// file named by FORMATS_SPEC.
type formatsSpec struct {
	RegistryURL string         `json:"registry_url"`
	Out         string         `json:"out"`
	Avro        formatsSubject `json:"avro"`
	Protobuf    formatsSubject `json:"protobuf"`
}

type formatsSubject struct {
	Subject string          `json:"subject"`
	Message string          `json:"message,omitempty"`
	Records []formatsRecord `json:"records"`
}

// formatsRecord is one golden event: as an app posts it, as eventguard's
// DecodeDoc renders eventguard's encoding of it, and that encoding.
type formatsRecord struct {
	Name    string          `json:"name"`
	JSON    json.RawMessage `json:"json"`
	Decoded json.RawMessage `json:"decoded"`
	WireHex string          `json:"wire_hex"`
}

// formatsWritten is what the Python serializers wrote.
type formatsWritten struct {
	Avro     []formatsOut `json:"avro"`
	Protobuf []formatsOut `json:"protobuf"`
}

type formatsOut struct {
	Name    string `json:"name"`
	WireHex string `json:"wire_hex"`
}

// validateImportSubject holds buf/validate/validate.proto in the test
// registry: a reference Confluent's client resolves (it needs the file in
// its descriptor pool); eventguard uses protovalidate's built-in copy.
const validateImportSubject = "buf-validate-validate"

// Avro and Protobuf wire compatibility of eventguard's engines with
// Confluent's own Python client, at the engine level (no broker):
//
//   - the example subjects payments-value (Avro, with a reference to the
//     pos-payment-method enum) and tables-value (Protobuf with buf.validate
//     rules, importing the well-known Timestamp) are registered in srfake,
//     served over HTTP as Confluent's registry serves them (Protobuf
//     schemas as base64 FileDescriptorProtos for ?format=serialized);
//   - every valid golden is encoded with validate.Schema.EncodeDoc and
//     framed; Confluent's AvroDeserializer and ProtobufDeserializer must
//     decode each to the value eventguard's DecodeDoc renders;
//   - Confluent's AvroSerializer and ProtobufSerializer serialize the same
//     goldens (use.latest.version), and eventguard's DecodeDoc must decode
//     what they wrote to the same JSON.
func TestConfluentPythonFormats(t *testing.T) {
	py := pythonWithConfluent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, py, "-c", "import fastavro, google.protobuf").CombinedOutput(); err != nil {
		unavailable(t, "%s lacks confluent-kafka[avro,protobuf] (%s); pip install them (bash .ci/run makes .venv)", py, bytes.TrimSpace(out))
	}

	reg := srfake.NewRegistry()
	register := func(subject string, s sr.Schema) sr.SubjectSchema {
		t.Helper()
		id, version, err := reg.RegisterSchema(subject, s)
		if err != nil {
			t.Fatalf("register %s: %v", subject, err)
		}
		return sr.SubjectSchema{Subject: subject, Version: version, ID: id, Schema: s}
	}
	contract := func(p string) string {
		b, err := fs.ReadFile(examples.Contracts, path.Join("contracts", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	method := register("pos-payment-method", sr.Schema{Type: sr.TypeAvro, Schema: contract("pos-payment-method/1/schema.avsc")})
	payments := register("payments-value", sr.Schema{Type: sr.TypeAvro, Schema: contract("payments-value/1/schema.avsc"),
		References: []sr.SchemaReference{{Name: "com.acme.pos.PaymentMethod", Subject: method.Subject, Version: method.Version}}})
	const validatePlaceholder = "// buf/validate/validate.proto: served as protovalidate's descriptor"
	vref := register(validateImportSubject, sr.Schema{Type: sr.TypeProtobuf, Schema: validatePlaceholder})
	tablesText := contract("tables-value/1/schema.proto")
	tables := register("tables-value", sr.Schema{Type: sr.TypeProtobuf, Schema: tablesText,
		References: []sr.SchemaReference{{Name: protobuf.ValidateImport, Subject: vref.Subject, Version: vref.Version}}})

	// Confluent's registry serves Protobuf schemas as descriptors when the
	// client asks for ?format=serialized, as Confluent's client does.
	compiled, err := protobuf.Compile(ctx, tablesText, nil)
	if err != nil {
		t.Fatal(err)
	}
	serialized := map[string]string{
		tablesText:          descriptorBase64(t, protodesc.ToFileDescriptorProto(compiled.File())),
		validatePlaceholder: descriptorBase64(t, protodesc.ToFileDescriptorProto(validatepb.File_buf_validate_validate_proto)),
	}
	srv := httptest.NewServer(serializedFormat(reg.Handler(), serialized))
	defer srv.Close()

	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	res := validate.NewResolver(cl, validate.Options{})

	spec := formatsSpec{RegistryURL: srv.URL, Out: filepath.Join(t.TempDir(), "python-wrote.json")}
	build := func(ss sr.SubjectSchema, goldens []string, msg string) formatsSubject {
		s, err := res.ByVersion(ctx, ss.Subject, ss.Version)
		if err != nil {
			t.Fatal(err)
		}
		fsub := formatsSubject{Subject: ss.Subject, Message: msg}
		for _, g := range goldens {
			raw := []byte(contract(g))
			doc, err := jsonvalue.ParseDoc(raw, jsonvalue.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			payload, f := s.EncodeDoc(nil, doc, raw, "")
			if f != nil {
				t.Fatalf("%s: %s", g, f.Message)
			}
			decoded, f := s.DecodeDoc(nil, payload, jsonvalue.GetDoc())
			if f != nil {
				t.Fatalf("%s: %s", g, f.Message)
			}
			fsub.Records = append(fsub.Records, formatsRecord{Name: g, JSON: raw, Decoded: decoded,
				WireHex: hex.EncodeToString(validate.Frame(ss.ID, payload))})
		}
		return fsub
	}
	spec.Avro = build(payments, []string{"payments-value/1/valid/typical.json", "payments-value/1/valid/cash-defaults-numbers.json",
		"payments-value/1/valid/avro-json-union.json"}, "")
	spec.Protobuf = build(tables, []string{"tables-value/1/valid/seated.json", "tables-value/1/valid/freed-camel-case.json"},
		"acme.pos.v1.TableStatusChanged")

	specPath := filepath.Join(t.TempDir(), "formats-spec.json")
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := rootDir
	if root == "" {
		root = filepath.Join("..", "..")
	}
	cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "test/interop/test_formats_interop.py")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "FORMATS_SPEC="+specPath, "PYTHONDONTWRITEBYTECODE=1")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest test/interop/test_formats_interop.py failed (%v) after %s:\n%s", err, time.Since(t0).Round(time.Millisecond), out)
	}
	summary := pytestSummary(out)
	if !regexp.MustCompile(`^4 passed in `).MatchString(summary) {
		t.Fatalf("pytest: want 4 passed tests, got %q:\n%s", summary, out)
	}
	t.Logf("pytest test/interop/test_formats_interop.py: %s", summary)

	// What Confluent's serializers wrote, decoded by eventguard.
	wb, err := os.ReadFile(spec.Out)
	if err != nil {
		t.Fatal(err)
	}
	var wrote formatsWritten
	if err := json.Unmarshal(wb, &wrote); err != nil {
		t.Fatal(err)
	}
	check := func(fsub formatsSubject, ss sr.SubjectSchema, outs []formatsOut) {
		if len(outs) != len(fsub.Records) {
			t.Fatalf("%s: Python wrote %d records, want %d", fsub.Subject, len(outs), len(fsub.Records))
		}
		for i, o := range outs {
			wire, err := hex.DecodeString(o.WireHex)
			if err != nil {
				t.Fatal(err)
			}
			id, payload, err := validate.Unframe(wire)
			if err != nil || id != ss.ID {
				t.Errorf("%s: header id %d (%v), want %d", o.Name, id, err, ss.ID)
				continue
			}
			s, err := res.ByID(ctx, id, fsub.Subject)
			if err != nil {
				t.Fatal(err)
			}
			doc := jsonvalue.GetDoc()
			js, f := s.DecodeDoc(nil, payload, doc)
			if f != nil {
				t.Errorf("%s: eventguard refuses what Confluent's serializer wrote: %s %s (% x)", o.Name, f.Code, f.Message, payload)
				continue
			}
			if string(js) != string(fsub.Records[i].Decoded) {
				t.Errorf("%s: Confluent's bytes decode to\n %s\nwant (eventguard's own encoding decoded)\n %s", o.Name, js, fsub.Records[i].Decoded)
			}
			// Avro's binary encoding of a value is canonical (fastavro
			// writes arrays and maps in one block, as eventguard does):
			// the bytes must be identical. Protobuf's need not be (map
			// order, field order of other writers): logged.
			mine, _ := hex.DecodeString(fsub.Records[i].WireHex)
			same := bytes.Equal(mine, wire)
			if !same && s.Format() == sr.TypeAvro {
				t.Errorf("%s: Confluent's Avro bytes\n % x\ndiffer from eventguard's\n % x", o.Name, wire, mine)
			}
			t.Logf("%s: Confluent's %d bytes %s eventguard's", o.Name, len(wire), map[bool]string{true: "are identical to", false: "differ from"}[same])
		}
	}
	check(spec.Avro, payments, wrote.Avro)
	check(spec.Protobuf, tables, wrote.Protobuf)
}

func descriptorBase64(t *testing.T, fdp proto.Message) string {
	t.Helper()
	b, err := proto.Marshal(fdp)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// serializedFormat answers ?format=serialized requests for schemas as
// Confluent's registry does for Protobuf: the "schema" member replaced by
// its base64 FileDescriptorProto (from serialized, by schema text).
func serializedFormat(next http.Handler, serialized map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") != "serialized" || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
			if s, ok := m["schema"].(string); ok {
				if enc, ok := serialized[s]; ok {
					m["schema"] = enc
					body, _ = json.Marshal(m)
				}
			}
		}
		for k, v := range rec.Header() {
			if !strings.EqualFold(k, "Content-Length") {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}
