package avro_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	havro "github.com/hamba/avro/v2"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/avro"
)

var update = flag.Bool("update", false, "rewrite testdata goldens")

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compile(t testing.TB, schema string, refs ...string) *avro.Schema {
	t.Helper()
	s, err := avro.Compile(schema, refs)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func doc(t testing.TB, js string) *jsonvalue.Doc {
	t.Helper()
	d, err := jsonvalue.ParseDoc([]byte(js), jsonvalue.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return d
}

func encode(t testing.TB, s *avro.Schema, js string) []byte {
	t.Helper()
	out, viol := s.Encode(nil, doc(t, js))
	if len(viol) > 0 {
		t.Fatalf("encode %s: %+v", js, viol)
	}
	return out
}

func decode(t testing.TB, s *avro.Schema, b []byte) string {
	t.Helper()
	out, err := s.Decode(nil, b)
	if err != nil {
		t.Fatalf("decode % x: %v", b, err)
	}
	return string(out)
}

// TestTypicalRoundTrip encodes a value using every type and logical type,
// checks hamba/avro reads the bytes back and writes the very same bytes
// (our encoding is canonical Avro), and checks our decoding against a
// golden that re-encodes to the same bytes.
func TestTypicalRoundTrip(t *testing.T) {
	s := compile(t, readFile(t, "all.avsc"))
	bin := encode(t, s, readFile(t, "typical.json"))

	var generic any
	if err := havro.Unmarshal(s.Parsed(), bin, &generic); err != nil {
		t.Fatalf("hamba/avro cannot read our encoding: %v", err)
	}
	// hamba/avro writes arrays and maps in sized blocks, so its bytes
	// differ from ours; we read them as the same value.
	again, err := havro.Marshal(s.Parsed(), generic)
	if err != nil {
		t.Fatalf("hamba/avro re-marshal: %v", err)
	}
	js := decode(t, s, bin)
	if hj := decode(t, s, again); hj != js {
		t.Errorf("hamba/avro's encoding decodes differently:\n ours  %s\n hamba %s", js, hj)
	}

	golden := filepath.Join("testdata", "typical.decoded.json")
	if *update {
		if err := os.WriteFile(golden, []byte(js+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := strings.TrimSpace(readFile(t, "typical.decoded.json")); js != want {
		t.Errorf("decoded\n got %s\nwant %s", js, want)
	}
	if re := encode(t, s, js); !bytes.Equal(re, bin) {
		t.Errorf("the decoded JSON encodes differently:\n first %x\n again %x", bin, re)
	}
}

func TestEncodeForms(t *testing.T) {
	cases := []struct {
		schema string
		json   string
		hex    string
		// decoded is what Decode writes ("" = json itself).
		decoded string
	}{
		{`"int"`, `1`, "02", ""},
		{`"int"`, `-1`, "01", ""},
		{`"int"`, `1.0`, "02", "1"},
		{`"long"`, `1e3`, "d00f", "1000"},
		{`"long"`, `-9223372036854775808`, "ffffffffffffffffff01", ""},
		{`"double"`, `"NaN"`, "000000000000f87f", ""},
		{`"float"`, `"-Infinity"`, "000080ff", ""},
		{`"string"`, `"é"`, "04c3a9", ""},
		{`"bytes"`, `"é\u0000"`, "04e900", `"é\u0000"`},
		{`["null","string"]`, `null`, "00", ""},
		{`["null","string"]`, `"x"`, "020278", ""},
		{`["null","string"]`, `{"string":"x"}`, "020278", `"x"`},
		{`["string","bytes"]`, `{"bytes":"x"}`, "020278", ""},
		{`["int","double"]`, `{"double":1}`, "02000000000000f03f", ""},
		{`["null","double"]`, `{"double":"NaN"}`, "02000000000000f87f", ""},
		{`["null",{"type":"map","values":"int"}]`, `{"map":{"null":1}}`, "0202086e756c6c0200", ""},
		{`["null",{"type":"map","values":"int"}]`, `{"a":1}`, "020202610200", ""},
		{`{"type":"array","items":"int"}`, `[]`, "00", ""},
		{`{"type":"map","values":"int"}`, `{"a":1,"b":2}`, "0402610202620400", ""},
		{`{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}`, `-0.01`, "02ff", `"-0.01"`},
		{`{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}`, `"128"`, "043200", `"128.00"`},
		{`{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}`, `1.5e1`, "0405dc", `"15.00"`},
		{`{"type":"bytes","logicalType":"decimal","precision":30,"scale":0}`, `"-123456789012345678901234567890"`, "1afe7116f0093c8c1f11b1c0f52e", ""},
		{`{"type":"fixed","name":"D","size":3,"logicalType":"decimal","precision":4,"scale":1}`, `-1.0`, "fffff6", `"-1.0"`},
		{`{"type":"int","logicalType":"date"}`, `"1969-12-31"`, "01", ""},
		{`{"type":"int","logicalType":"date"}`, `19663`, "9eb302", `"2023-11-02"`},
		{`{"type":"long","logicalType":"timestamp-millis"}`, `"1970-01-01T01:00:00.001+01:00"`, "02", `"1970-01-01T00:00:00.001Z"`},
		{`{"type":"long","logicalType":"timestamp-millis"}`, `253402300800000`, "80f0fea1fa9d73", `253402300800000`},
		{`{"type":"long","logicalType":"local-timestamp-micros"}`, `"1970-01-01T00:00:00.000001"`, "02", ""},
		{`{"type":"int","logicalType":"time-millis"}`, `"00:00:01"`, "d00f", ""},
	}
	for _, c := range cases {
		s := compile(t, c.schema)
		bin := encode(t, s, c.json)
		if got := hex.EncodeToString(bin); got != c.hex {
			t.Errorf("%s %s: encoded %s, want %s", c.schema, c.json, got, c.hex)
			continue
		}
		want := c.decoded
		if want == "" {
			want = c.json
		}
		if got := decode(t, s, bin); got != want {
			t.Errorf("%s %s: decoded %s, want %s", c.schema, c.json, got, want)
		}
	}
}

func TestEncodeViolations(t *testing.T) {
	s := compile(t, readFile(t, "all.avsc"))
	typical := readFile(t, "typical.json")
	// Each case replaces one member of the typical value.
	cases := []struct {
		member, value string
		path, keyword string
	}{
		{`"i":-42`, `"i":"x"`, "/i", avro.KeywordType},
		{`"i":-42`, `"i":2147483648`, "/i", avro.KeywordRange},
		{`"i":-42`, `"i":1.5`, "/i", avro.KeywordRange},
		{`"l":9007199254740993`, `"l":9223372036854775808`, "/l", avro.KeywordRange},
		{`"f":1.5`, `"f":1e39`, "/f", avro.KeywordRange},
		{`"by":"\u0000\u00ffA"`, `"by":"Ā"`, "/by", avro.KeywordBytes},
		{`"e":"GREEN"`, `"e":"PINK"`, "/e", avro.KeywordEnum},
		{`"fx":"abcd"`, `"fx":"abc"`, "/fx", avro.KeywordFixedSize},
		{`"arr":[1,-2,3]`, `"arr":[1,"2",3]`, "/arr/1", avro.KeywordType},
		{`"m":{"k":"v","ü":"x"}`, `"m":{"k":"v","a/b":1}`, "/m/a~1b", avro.KeywordType},
		{`"opt":"set"`, `"opt":5`, "/opt", avro.KeywordUnion},
		{`"multi":{"com.acme.Color":"BLUE"}`, `"multi":"BLUE"`, "/multi", avro.KeywordUnionAmbiguous},
		{`"multi":{"com.acme.Color":"BLUE"}`, `"multi":{"com.acme.Color":"PINK"}`, "/multi/com.acme.Color", avro.KeywordEnum},
		{`"money":"18.50"`, `"money":"18.505"`, "/money", avro.KeywordDecimal},
		{`"money":"18.50"`, `"money":12345678.9`, "/money", avro.KeywordDecimal},
		{`"money":"18.50"`, `"money":"eighteen"`, "/money", avro.KeywordDecimal},
		{`"id":"7e1d2c3b-4a59-4687-9abc-def012345678"`, `"id":"7e1d2c3b"`, "/id", avro.KeywordUUID},
		{`"day":"2026-11-02"`, `"day":"2026-13-02"`, "/day", avro.KeywordDate},
		{`"tm":"12:31:00.125"`, `"tm":"12:31:00.1255"`, "/tm", avro.KeywordTime},
		{`"tm":"12:31:00.125"`, `"tm":86400000`, "/tm", avro.KeywordTime},
		{`"ts":"2026-11-02T12:31:00.125Z"`, `"ts":"2026-11-02T12:31:00.1251Z"`, "/ts", avro.KeywordTimestamp},
		{`"ts":"2026-11-02T12:31:00.125Z"`, `"ts":"2026-11-02 12:31"`, "/ts", avro.KeywordTimestamp},
		{`"lts":"2026-11-02T12:31:00"`, `"lts":"2026-11-02T12:31:00Z"`, "/lts", avro.KeywordTimestamp},
		{`"currency":"EUR"`, `"currency":"EUR","ccy":"USD"`, "/ccy", avro.KeywordDuplicateField},
		{`"currency":"EUR"`, `"currency":"EUR","color":"red"`, "/color", avro.KeywordUnknownField},
		{`"b":true,`, ``, "/b", avro.KeywordRequired},
		{`"n":null,`, `"n":0,`, "/n", avro.KeywordType},
		{`"either":{"map":{"a":1}}`, `"either":{"a":1}`, "/either", avro.KeywordUnionAmbiguous},
		{`"next":{"n":null,"b":false,`, `"next":{"n":null,"b":1,`, "/next/b", avro.KeywordType},
	}
	for _, c := range cases {
		if !strings.Contains(typical, c.member) {
			t.Fatalf("typical.json has no %s", c.member)
		}
		js := strings.Replace(typical, c.member, c.value, 1)
		_, viol := s.Encode(nil, doc(t, js))
		if len(viol) != 1 || viol[0].Path != c.path || viol[0].Keyword != c.keyword {
			t.Errorf("%s: violations %+v, want one at %s (%s)", c.value, viol, c.path, c.keyword)
		}
	}

	// Every violation is reported, sorted by path.
	_, viol := s.Encode(nil, doc(t, `{"i":"x","zz":1}`))
	var paths []string
	for _, v := range viol {
		paths = append(paths, v.Path+" "+v.Keyword)
	}
	if len(viol) < 20 || !strings.HasPrefix(strings.Join(paths, ","), "/arr required,/b required,/by required") {
		t.Errorf("violations %q", paths)
	}
	_, viol = s.Encode(nil, doc(t, `[]`))
	if len(viol) != 1 || viol[0].Path != "" || viol[0].Keyword != avro.KeywordType {
		t.Errorf("array for a record: %+v", viol)
	}
}

// TestDefaultsAndAliases: missing fields take their defaults, aliases name
// fields, and both encode exactly like the explicit value.
func TestDefaultsAndAliases(t *testing.T) {
	s := compile(t, readFile(t, "all.avsc"))
	typical := readFile(t, "typical.json")
	explicit := strings.NewReplacer(`"currency":"EUR"`, `"currency":"USD"`, `"inner":{"x":3,"tags":["t"]}`, `"inner":{"x":7,"tags":["a"]}`,
		`"opt":"set"`, `"opt":null`, `"when":1762086660000`, `"when":null`, `"either":{"map":{"a":1}}`, `"either":{"com.acme.Inner":{"x":1,"tags":[]}}`).Replace(typical)
	omitted := typical
	for _, member := range []string{`"currency":"EUR",`, `,"when":1762086660000,"either":{"map":{"a":1}}`, ",\n \"inner\":{\"x\":3,\"tags\":[\"t\"]}", `"opt":"set",`} {
		if !strings.Contains(omitted, member) {
			t.Fatalf("typical.json has no %s", member)
		}
		omitted = strings.Replace(omitted, member, "", 1)
	}
	if omitted == typical || explicit == typical {
		t.Fatal("replacements did not apply")
	}
	want := encode(t, s, explicit)
	if got := encode(t, s, omitted); !bytes.Equal(got, want) {
		t.Errorf("defaults:\n got %x\nwant %x", got, want)
	}
	aliased := strings.NewReplacer(`"currency":"EUR"`, `"ccy":"EUR"`, `"inner":{"x":3,"tags":["t"]}`, `"inner":{}`).Replace(typical)
	wantAliased := encode(t, s, strings.Replace(typical, `"inner":{"x":3,"tags":["t"]}`, `"inner":{"x":7,"tags":["a"]}`, 1))
	if got := encode(t, s, aliased); !bytes.Equal(got, wantAliased) {
		t.Errorf("alias:\n got %x\nwant %x", got, wantAliased)
	}
	// A named type's alias names its union branch.
	u := compile(t, `["null",{"type":"record","name":"a.New","aliases":["a.Old"],"fields":[{"name":"v","type":"int"}]}]`)
	if got := hex.EncodeToString(encode(t, u, `{"a.Old":{"v":1}}`)); got != "0202" {
		t.Errorf("alias branch: %s", got)
	}
}

// TestReferences: a schema uses named types its references define
// (Confluent references), across namespaces.
func TestReferences(t *testing.T) {
	money := `{"type":"record","name":"Money","namespace":"com.acme.common","fields":[
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
		{"name":"currency","type":{"type":"enum","name":"Currency","symbols":["USD","EUR"]},"default":"USD"}]}`
	status := `{"type":"enum","name":"Status","namespace":"com.acme.common","symbols":["OK","FAILED"]}`
	main := `{"type":"record","name":"Payment","namespace":"com.acme","fields":[
		{"name":"total","type":"com.acme.common.Money"},
		{"name":"status","type":["null","com.acme.common.Status"]},
		{"name":"currencies","type":{"type":"array","items":"com.acme.common.Currency"}}]}`
	s := compile(t, main, money, status)
	bin := encode(t, s, `{"total":{"amount":"18.50"},"status":"OK","currencies":["EUR"]}`)
	if got, want := decode(t, s, bin), `{"total":{"amount":"18.50","currency":"USD"},"status":"OK","currencies":["EUR"]}`; got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
	if _, err := avro.Compile(main, []string{status}); err == nil {
		t.Error("compiled without the reference defining com.acme.common.Money")
	}
	if _, err := avro.Compile(main, []string{money, status, money}); err == nil {
		t.Log("a reference defining the same name twice is accepted by hamba/avro when identical")
	}
}

// TestRecursive: a record refers to itself through a union.
func TestRecursive(t *testing.T) {
	s := compile(t, `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}`)
	js := `{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}`
	if got := decode(t, s, encode(t, s, js)); got != js {
		t.Errorf("decoded %s", got)
	}
	deep := strings.Repeat(`{"v":1,"next":`, 100) + "null" + strings.Repeat("}", 100)
	if _, err := s.Decode(nil, encode(t, s, deep)); err == nil {
		t.Error("a value nesting 200 levels decoded; MaxDepth is 128")
	}
}

func TestDecodeMalformed(t *testing.T) {
	cases := []struct {
		schema, hex, why string
	}{
		{`"int"`, "", "input ends inside a number"},
		{`"int"`, "8080808010", "out of 32-bit range"},
		{`"long"`, "ffffffffffffffffff7f", "longer than 64 bits"},
		{`"long"`, "8080808080808080808001", "longer than 64 bits"},
		{`"int"`, "0200", "1 bytes follow the value"},
		{`"boolean"`, "02", "boolean byte 0x02"},
		{`"string"`, "0a61", "length 5 is more than the 1 bytes left"},
		{`"string"`, "feffffffffffffffff01", "length 9223372036854775807 is more than"},
		{`"string"`, "01", "negative length -1"},
		{`"string"`, "02ff", "not valid UTF-8"},
		{`"double"`, "0000", "more than the 2 bytes left"},
		{`{"type":"enum","name":"E","symbols":["A"]}`, "02", "enum index 1"},
		{`["null","int"]`, "04", "union branch 2"},
		{`["null","int"]`, "01", "union branch -1"},
		{`{"type":"array","items":"null"}`, "feffffffffffffffff01", "more than 1048576 array items"},
		{`{"type":"array","items":"int"}`, "01040200", "block size says it ends at byte 4, its items end at 3"},
		{`{"type":"array","items":"int"}`, "01ffffffff0f", "block size -2147483648"},
		{`{"type":"map","values":"int"}`, "0202ff0200", "map key is not valid UTF-8"},
		{`{"type":"fixed","name":"F","size":4}`, "010203", "length 4 is more than the 3 bytes left"},
	}
	for _, c := range cases {
		s := compile(t, c.schema)
		b, _ := hex.DecodeString(c.hex)
		_, err := s.Decode(nil, b)
		var de *avro.DecodeError
		if !errors.As(err, &de) || !de.Malformed || !strings.Contains(de.Msg, c.why) {
			t.Errorf("%s % x: error %v, want a malformed error saying %q", c.schema, b, err, c.why)
		}
	}
	// A logical type's value that the binary holds but the type forbids is
	// a violation, not malformed.
	s := compile(t, `{"type":"string","logicalType":"uuid"}`)
	_, err := s.Decode(nil, []byte{0x06, 'a', 'b', 'c'})
	var de *avro.DecodeError
	if !errors.As(err, &de) || de.Malformed || de.Keyword != avro.KeywordUUID {
		t.Errorf("bad uuid: %v", err)
	}
	s = compile(t, `{"type":"bytes","logicalType":"decimal","precision":2,"scale":0}`)
	_, err = s.Decode(nil, []byte{0x04, 0x03, 0xe8}) // 1000
	if !errors.As(err, &de) || de.Malformed || de.Keyword != avro.KeywordDecimal {
		t.Errorf("decimal over precision: %v", err)
	}
}

// TestDecodeBlocks: negative block counts (with sizes) and several blocks,
// as other writers may use, decode.
func TestDecodeBlocks(t *testing.T) {
	s := compile(t, `{"type":"array","items":"int"}`)
	b, _ := hex.DecodeString("0506020406" + "020800")
	if got := decode(t, s, b); got != "[1,2,3,4]" {
		t.Errorf("got %s", got)
	}
}
