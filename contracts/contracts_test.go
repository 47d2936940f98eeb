package contracts_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/validate"
)

func exampleSet(t *testing.T) *contracts.Set {
	t.Helper()
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestExampleGoldens checks every golden payload of the example contracts
// offline: valid/ passes, invalid/ fails.
func TestExampleGoldens(t *testing.T) {
	set := exampleSet(t)
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	res := validate.NewResolver(local, validate.Options{})
	outcomes := set.Check(context.Background(), res)
	if len(outcomes) < 10 {
		t.Fatalf("only %d golden payloads checked", len(outcomes))
	}
	for _, o := range outcomes {
		if !o.OK() {
			t.Errorf("%s: want valid=%v, got failure=%v err=%v", o.File, o.WantValid, o.Failure, o.Err)
		} else if o.Failure != nil {
			t.Logf("%s: %s", o.File, o.Failure.Message)
		}
	}
}

// TestSchemaTypes: a version's schema file names its type; Local serves it
// and Register registers it with that type.
func TestSchemaTypes(t *testing.T) {
	set := exampleSet(t)
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sr.SchemaType{"pets-value": sr.TypeJSON, "payments-value": sr.TypeAvro, "pos-payment-method": sr.TypeAvro, "tables-value": sr.TypeProtobuf}
	for subject, typ := range want {
		ss, err := local.SchemaByVersion(context.Background(), subject, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Type != typ {
			t.Errorf("Local %s: type %s, want %s", subject, ss.Type, typ)
		}
	}

	reg := srfake.New()
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Register(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	for subject, typ := range want {
		ss, err := cl.SchemaByVersion(context.Background(), subject, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Type != typ {
			t.Errorf("registered %s: type %s, want %s", subject, ss.Type, typ)
		}
	}
	// What was registered compiles and checks through the registry too.
	res := validate.NewResolver(cl, validate.Options{})
	for _, o := range set.Check(context.Background(), res) {
		if !o.OK() {
			t.Errorf("%s against the registry: want valid=%v, got failure=%v err=%v", o.File, o.WantValid, o.Failure, o.Err)
		}
	}
}

func TestLoadSchemaFiles(t *testing.T) {
	cases := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"s/1/schema.json": `{}`, "s/1/schema.avsc": `"int"`}, "holds schema.json and schema.avsc"},
		{map[string]string{"s/1/readme.md": `x`}, "no schema.json, schema.avsc or schema.proto"},
		{map[string]string{"s/1/schema.avsc": `{"type":`}, "schema.avsc is not valid JSON"},
	}
	for _, c := range cases {
		fsys := fstest.MapFS{}
		for name, body := range c.files {
			fsys[name] = &fstest.MapFile{Data: []byte(body)}
		}
		if _, err := contracts.Load(fsys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.files, err, c.want)
		}
	}
	set, err := contracts.Load(fstest.MapFS{"s/1/schema.proto": {Data: []byte(`syntax = "proto3"; message M {}`)}})
	if err != nil || set.Subjects[0].Versions[0].Type != sr.TypeProtobuf || set.Subjects[0].Versions[0].File != "schema.proto" {
		t.Errorf("schema.proto: %v", err)
	}
}

// TestCheckGoldenVerdicts: Avro and Protobuf goldens fail for the reasons
// their names give, at the paths the JSON used.
func TestCheckGoldenVerdicts(t *testing.T) {
	set := exampleSet(t)
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, o := range set.Check(context.Background(), validate.NewResolver(local, validate.Options{})) {
		if o.Failure != nil {
			for _, v := range o.Failure.Violations {
				got[o.File] = append(got[o.File], v.Path+" "+v.Keyword)
			}
		}
	}
	want := map[string]string{
		"payments-value/1/invalid/cheque-and-three-decimals.json": "/amount decimal,/payment_method enum",
		"payments-value/1/invalid/missing-order-local-time.json":  "/occurred_at timestamp,/order_id required",
		"payments-value/1/invalid/transaction-id-number.json":     "/transaction_id union",
		"payments-value/1/invalid/card-number-field.json":         "/card_number unknown_field",
		"tables-value/1/invalid/party-of-25.json":                 "/party/size uint32.gt_lte",
		"tables-value/1/invalid/unknown-status-and-field.json":    "/new_status enum,/waiter unknown_field",
		"tables-value/1/invalid/no-time-unspecified-status.json":  "/event_id string.uuid,/new_status enum.not_in,/occurred_at required",
	}
	for file, w := range want {
		if g := strings.Join(got[file], ","); g != w {
			t.Errorf("%s: violations %q, want %q", file, g, w)
		}
	}
}
