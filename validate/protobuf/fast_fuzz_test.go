package protobuf_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// FuzzFastEncoder checks the fast encoder against protojson + proto.Marshal
// on a message using every scalar kind, packed and unpacked repeated
// fields, maps with every key kind, oneofs, proto3 optional and Timestamp:
// where it does not give up, its bytes are protojson's.
func FuzzFastEncoder(f *testing.F) {
	s, err := protobuf.Compile(context.Background(), readFile(f, "kinds.proto"), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{}`,
		`{"i32":-1,"i64":"-9223372036854775808","u32":4294967295,"u64":"18446744073709551615","s32":-2147483648,"s64":"9223372036854775807",
		  "f32":1,"f64":"2","sf32":-3,"sf64":"-4","fl":1.5,"db":-2.25e-300,"b":true,"s":"é\n","by":"AAECAw==","e":"E_TWO"}`,
		`{"i32":0,"i64":"0","fl":0,"db":0,"b":false,"s":"","by":"","e":0,"oi":0,"os":"","oe":"E_ZERO"}`,
		`{"ri32":[1,-1,0],"rs64":["-5",5],"rdb":[1.5,0],"re":["E_ONE",2,0],"rs":["a",""],"rby":["AA==",""],"rk":[{},{"i32":1}]}`,
		`{"mi":{"-1":"a","10":"b","2":""},"mb":{"true":{"b":true},"false":{}},"mu":{"18446744073709551615":"E_ONE","0":0},"ms":{"b":"AA==","a":""},"msi":{"-3":1.5,"3":0}}`,
		`{"child":{"child":{"ts":"1970-01-01T00:00:00Z"}},"ts":"0001-01-01T00:00:00Z","rts":["9999-12-31T23:59:59.999999999Z","2026-11-02T12:30:00.5+01:00"]}`,
		`{"c2":{"c1":"7"},"o2":0,"camelCaseName":3}`,
		`{"c3":"","o1":false,"camel_case_name":-3}`,
		`{"e":7,"re":[7],"mu":{"1":99}}`,
		`{"i32":2147483648}`, `{"fl":3.5e38}`, `{"by":"-_-_"}`, `{"mi":{"01":"x"}}`, `{"c1":1,"c3":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		d, err := jsonvalue.ParseDoc(js, jsonvalue.Limits{})
		if err != nil {
			return
		}
		fast, ok, ref, refOK := s.EncodeBoth(d, js, "")
		if ok && (!refOK || !bytes.Equal(fast, ref)) {
			t.Fatalf("fast encoder differs from protojson (protojson accepts: %v):\n fast %x\n ref  %x\n%s", refOK, fast, ref, js)
		}
	})
}

// TestFastEncoderCoverage: the seeds the fast encoder should take, it takes.
func TestFastEncoderCoverage(t *testing.T) {
	s, err := protobuf.Compile(context.Background(), readFile(t, "kinds.proto"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range []string{
		`{"i32":-1,"i64":"-9223372036854775808","u32":4294967295,"u64":"18446744073709551615","s32":-2147483648,"s64":"9223372036854775807","f32":1,"f64":"2","sf32":-3,"sf64":"-4","fl":1.5,"db":-2.25e-300,"b":true,"s":"é\n","by":"AAECAw==","e":"E_TWO"}`,
		`{"ri32":[1,-1,0],"rs64":["-5",5],"rdb":[1.5,0],"re":["E_ONE",2,0],"rs":["a",""],"rby":["AA==",""],"rk":[{},{"i32":1}]}`,
		`{"mi":{"-1":"a","10":"b","2":""},"mb":{"true":{"b":true},"false":{}},"mu":{"18446744073709551615":"E_ONE","0":0},"ms":{"b":"AA==","a":""},"msi":{"-3":1.5,"3":0}}`,
		`{"child":{"child":{"ts":"1970-01-01T00:00:00Z"}},"ts":"0001-01-01T00:00:00Z","rts":["9999-12-31T23:59:59.999999999Z","2026-11-02T12:30:00.5+01:00"]}`,
		`{"c2":{"c1":"7"},"o2":0,"camelCaseName":3,"oi":0,"os":"","oe":"E_ZERO"}`,
		`{"e":7,"re":[7],"mu":{"1":99}}`,
	} {
		d, err := jsonvalue.ParseDoc([]byte(js), jsonvalue.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		fast, ok, ref, refOK := s.EncodeBoth(d, []byte(js), "")
		if !ok || !refOK || !bytes.Equal(fast, ref) {
			t.Errorf("%s: fast ok=%v %x, protojson ok=%v %x", js, ok, fast, refOK, ref)
		}
	}
}
