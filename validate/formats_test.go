package validate_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// formatsResolver resolves the example contracts plus the benchmark's
// OrderPlaced in Avro (orders-avro) and Protobuf (orders-proto), offline.
func formatsResolver(tb testing.TB) *validate.Resolver {
	tb.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(examples.Contracts, "contracts", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples.Contracts, p)
		fsys[strings.TrimPrefix(p, "contracts/")] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	for name, file := range map[string]string{"orders-avro/1/schema.avsc": "order-placed.avsc", "orders-proto/1/schema.proto": "order-placed.proto"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			tb.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: b}
	}
	set, err := contracts.Load(fsys)
	if err != nil {
		tb.Fatal(err)
	}
	local, err := set.Local()
	if err != nil {
		tb.Fatal(err)
	}
	return validate.NewResolver(local, validate.Options{})
}

func schemaOf(tb testing.TB, r *validate.Resolver, subject string) *validate.Schema {
	tb.Helper()
	s, err := r.Latest(context.Background(), subject)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func parsed(tb testing.TB, js string) *jsonvalue.Doc {
	tb.Helper()
	d, err := jsonvalue.ParseDoc([]byte(js), jsonvalue.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func example(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "contracts", filepath.FromSlash(path)))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestEncodeDecodeDoc: each format's EncodeDoc output decodes with
// DecodeDoc to JSON (and a doc) that encodes to the same payload.
func TestEncodeDecodeDoc(t *testing.T) {
	r := formatsResolver(t)
	cases := []struct {
		subject, golden string
		format          sr.SchemaType
		msgType         string
		// member is a JSON pointer and the value DecodeDoc's doc holds there.
		member, value string
		prefix        string // the payload's first bytes
	}{
		{"pets-value", "pets-value/2/valid/typical.json", sr.TypeJSON, "", "/pet_id", "pet-42", `{`},
		{"payments-value", "payments-value/1/valid/typical.json", sr.TypeAvro, "ignored", "/amount", "18.50", "H0193a5d2"},
		{"payments-value", "payments-value/1/valid/cash-defaults-numbers.json", sr.TypeAvro, "", "/currency", "USD", "H0193a5d2"},
		{"tables-value", "tables-value/1/valid/seated.json", sr.TypeProtobuf, "", "/party/name", "Okafor", "\x00"},
		{"tables-value", "tables-value/1/valid/freed-camel-case.json", sr.TypeProtobuf, "acme.pos.v1.TableStatusChanged", "/previous_status", "TABLE_STATUS_OCCUPIED", "\x00"},
	}
	for _, c := range cases {
		s := schemaOf(t, r, c.subject)
		if s.Format() != c.format {
			t.Errorf("%s: Format %s, want %s", c.subject, s.Format(), c.format)
		}
		raw := example(t, c.golden)
		dst := []byte("prefix")
		payload, f := s.EncodeDoc(dst, parsed(t, raw), []byte(raw), c.msgType)
		if f != nil {
			t.Fatalf("%s: %s", c.golden, f.Message)
		}
		if string(payload[:6]) != "prefix" {
			t.Errorf("%s: EncodeDoc did not append to dst", c.golden)
		}
		payload = payload[6:]
		if !strings.HasPrefix(string(payload), c.prefix) {
			t.Errorf("%s: payload %q, want it to start with %q", c.golden, payload[:min(12, len(payload))], c.prefix)
		}
		doc := jsonvalue.GetDoc()
		js, f := s.DecodeDoc([]byte("out:"), payload, doc)
		if f != nil {
			t.Fatalf("%s: decode: %s", c.golden, f.Message)
		}
		if c.format == sr.TypeJSON {
			if string(js) != string(payload) {
				t.Errorf("%s: JSON Schema DecodeDoc returned %q, want the payload itself", c.golden, js)
			}
		} else if !strings.HasPrefix(string(js), "out:") {
			t.Errorf("%s: DecodeDoc did not append to dst: %q", c.golden, js)
		} else {
			js = js[4:]
		}
		if i, ok := doc.Pointer(c.member); !ok || doc.Nodes[i].Str != c.value {
			t.Errorf("%s: doc at %s is not %q (decoded %s)", c.golden, c.member, c.value, js)
		}
		again, f := s.EncodeDoc(nil, parsed(t, string(js)), js, c.msgType)
		if f != nil || string(again) != string(payload) {
			t.Errorf("%s: the delivered JSON encodes differently (%v)", c.golden, f)
		}
		jsonvalue.PutDoc(doc)
	}
}

func TestDecodeDocFailures(t *testing.T) {
	r := formatsResolver(t)
	avro := schemaOf(t, r, "payments-value")
	proto := schemaOf(t, r, "tables-value")
	pets := schemaOf(t, r, "pets-value")
	raw := example(t, "payments-value/1/valid/typical.json")
	good, f := avro.EncodeDoc(nil, parsed(t, raw), []byte(raw), "")
	if f != nil {
		t.Fatal(f)
	}
	cases := []struct {
		name    string
		s       *validate.Schema
		payload []byte
		code    string
		want    string
	}{
		{"avro truncated", avro, good[:len(good)-3], validate.CodeMalformedPayload, "payload is not Avro of payments-value version 1"},
		{"avro trailing", avro, append(append([]byte(nil), good...), 0), validate.CodeMalformedPayload, "1 bytes follow the value"},
		{"protobuf garbage", proto, []byte{0, 0xff}, validate.CodeMalformedPayload, "payload is not Protobuf"},
		{"protobuf unknown field", proto, []byte{0, 0x78, 0x01}, validate.CodeSchemaViolation, "does not declare"},
		{"protobuf rule", proto, []byte{0, 0x0a, 0x01, 'x'}, validate.CodeSchemaViolation, "at /event_id"},
		{"json not json", pets, []byte("{"), validate.CodeMalformedJSON, "not valid JSON"},
		{"json violation", pets, []byte(`{}`), validate.CodeSchemaViolation, "value violates pets-value version 2"},
	}
	for _, c := range cases {
		doc := jsonvalue.GetDoc()
		out, f := c.s.DecodeDoc([]byte("dst"), c.payload, doc)
		if f == nil || f.Code != c.code || !strings.Contains(f.Message, c.want) {
			t.Errorf("%s: failure %+v, want %s saying %q", c.name, f, c.code, c.want)
		}
		if string(out) != "dst" {
			t.Errorf("%s: dst changed to %q", c.name, out)
		}
		jsonvalue.PutDoc(doc)
	}
}

// TestEncodeDocFailures: violations carry JSON pointers into the JSON sent
// and the summary names subject and version.
func TestEncodeDocFailures(t *testing.T) {
	r := formatsResolver(t)
	for _, c := range []struct {
		subject, golden, msgType, message string
		paths                             string
	}{
		{"payments-value", "payments-value/1/invalid/cheque-and-three-decimals.json", "",
			"value violates payments-value version 1: at /amount: 18.505 has more than 2 fractional digits (scale of decimal(12,2)) (and 1 more)", "/amount,/payment_method"},
		{"tables-value", "tables-value/1/invalid/party-of-25.json", "",
			"value violates tables-value version 1: at /party/size: must be greater than 0 and less than or equal to 20", "/party/size"},
		{"tables-value", "tables-value/1/valid/seated.json", "Nope",
			`value violates tables-value version 1: at (root): the schema has no message "Nope"`, ""},
	} {
		s := schemaOf(t, r, c.subject)
		raw := example(t, c.golden)
		out, f := s.EncodeDoc([]byte("dst"), parsed(t, raw), []byte(raw), c.msgType)
		if f == nil {
			t.Fatalf("%s passed", c.golden)
		}
		if string(out) != "dst" {
			t.Errorf("%s: dst changed", c.golden)
		}
		var paths []string
		for _, v := range f.Violations {
			paths = append(paths, v.Path)
		}
		if f.Code != validate.CodeSchemaViolation || !strings.HasPrefix(f.Message, c.message) || strings.Join(paths, ",") != c.paths {
			b, _ := json.Marshal(f)
			t.Errorf("%s: %s", c.golden, b)
		}
		// Validate agrees with EncodeDoc.
		if c.msgType == "" {
			if vf := s.Validate([]byte(raw)); vf == nil || vf.Message != f.Message {
				t.Errorf("%s: Validate says %v", c.golden, vf)
			}
		}
	}
}
