package contracts_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/eventguard/eventguard/contracts"
)

// TestConsumers: subject.yaml's consumers load with their versions, and a
// consumer without a name or versions is refused naming the field.
func TestConsumers(t *testing.T) {
	schema := &fstest.MapFile{Data: []byte(`{"type":"object"}`)}
	set, err := contracts.Load(fstest.MapFS{
		"s/subject.yaml":  {Data: []byte("owner: team-a\nconsumers:\n  - {name: billing, owner: team-billing, versions: [1, 2]}\n")},
		"s/1/schema.json": schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := set.Subjects[0].Consumers
	if len(cs) != 1 || cs[0].Name != "billing" || cs[0].Owner != "team-billing" || !cs[0].Reads(2) || cs[0].Reads(3) {
		t.Fatalf("consumers: %+v", cs)
	}
	for yaml, want := range map[string]string{
		"consumers:\n  - {versions: [1]}\n": "consumers[0].name is required",
		"consumers:\n  - {name: billing}\n": "consumers[0].versions is required",
	} {
		_, err := contracts.Load(fstest.MapFS{"s/subject.yaml": {Data: []byte(yaml)}, "s/1/schema.json": schema})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yaml, err, want)
		}
	}
}
