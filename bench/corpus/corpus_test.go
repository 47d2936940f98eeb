package corpus

import (
	"bytes"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/examples"
)

func TestOrderPlacedIsVariedAndValid(t *testing.T) {
	sch, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	events := OrderPlaced(n, 1)
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	seen := map[string]bool{}
	buckets := make([]int, 4) // sizes by quarter of [MinBytes, MaxBytes]
	items := map[int]bool{}
	for i, b := range events {
		if len(b) < MinBytes || len(b) > MaxBytes {
			t.Errorf("event %d: %d bytes, want %d to %d", i, len(b), MinBytes, MaxBytes)
		}
		if seen[string(b)] {
			t.Errorf("event %d repeats an earlier one", i)
		}
		seen[string(b)] = true
		buckets[min(3, (len(b)-MinBytes)*4/(MaxBytes-MinBytes+1))]++
		items[bytes.Count(b, []byte(`"sku"`))] = true
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("event %d is not a valid OrderPlaced: %v\n%s", i, err, b)
		}
	}
	for q, c := range buckets {
		if c < n/8 {
			t.Errorf("only %d of %d events in size quarter %d: %v", c, n, q, buckets)
		}
	}
	if len(items) < 20 {
		t.Errorf("only %d different item counts", len(items))
	}
	again := OrderPlaced(n, 1)
	for i := range events {
		if !bytes.Equal(events[i], again[i]) {
			t.Fatalf("event %d differs for the same seed", i)
		}
	}
	if bytes.Equal(OrderPlaced(1, 2)[0], events[0]) {
		t.Error("another seed gave the same first event")
	}
}

// goldens returns the contract's golden files of kind (valid, invalid).
func goldens(t *testing.T, kind string) map[string][]byte {
	t.Helper()
	dir := "contracts/orders-OrderPlaced/1/" + kind
	ents, err := fs.ReadDir(examples.Contracts, dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := examples.Contracts.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		t.Fatalf("no %s goldens", kind)
	}
	return out
}

// TestSchemasJudgeLikeTheContract checks Schema and Bundled against the
// contract's golden files, and that the bundled document still refuses
// what the envelope refuses.
func TestSchemasJudgeLikeTheContract(t *testing.T) {
	sch, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"$ref"`) {
		t.Fatalf("bundled schema still has a $ref: %s", raw)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource("mem://bundled.json", doc); err != nil {
		t.Fatal(err)
	}
	bundled, err := c.Compile("mem://bundled.json")
	if err != nil {
		t.Fatal(err)
	}
	noTenant := OrderPlaced(1, 3)[0]
	noTenant = bytes.Replace(noTenant, []byte(`"tenant_id":`), []byte(`"tenant":`), 1)
	badFormat := bytes.Replace(OrderPlaced(1, 4)[0], []byte(`"occurred_at":"`), []byte(`"occurred_at":"x`), 1)
	cases := map[string][]byte{"generated without tenant_id": noTenant, "generated with a bad date-time": badFormat}
	for name, b := range goldens(t, "invalid") {
		cases["invalid/"+name] = b
	}
	for name, b := range goldens(t, "valid") {
		cases["valid/"+name] = b
	}
	for name, b := range cases {
		want := strings.HasPrefix(name, "valid/")
		d, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for sname, s := range map[string]*jsonschema.Schema{"Schema": sch, "Bundled": bundled} {
			if got := s.Validate(d) == nil; got != want {
				t.Errorf("%s judges %s valid=%v, want %v", sname, name, got, want)
			}
		}
	}
}
