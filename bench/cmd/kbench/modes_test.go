package main

import (
	"slices"
	"testing"
)

func keys(ms []Mode) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

func TestSelectModes(t *testing.T) {
	for _, tc := range []struct {
		list      string
		want, not []string
	}{
		{list: "", want: []string{"direct", "direct-validate", "kroxylicious", "http-batch", "http-single-uds-c64", "consume-dlq", "cost-dedupe"}},
		{list: "grpc-stream", want: []string{"direct", "direct-validate", "grpc-stream"}, not: []string{"http-batch", "kroxylicious"}},
		{list: "cost-dedupe", want: []string{"cost-dedupe", "cost-ids", "http-batch"}, not: []string{"cost-tracing"}},
		{list: "consume", want: []string{"consume-validate", "consume-deliver", "consume-dlq"}, not: []string{"http-batch"}},
		{list: "formats", want: []string{"format-avro", "format-protobuf", "http-batch"}, not: []string{"grpc-stream"}},
		{list: "http-single-c8", want: []string{"http-single-c8", "direct-single-c8"}, not: []string{"direct-single-c1"}},
	} {
		got, err := selectModes(tc.list)
		if err != nil {
			t.Fatalf("%q: %v", tc.list, err)
		}
		k := keys(got)
		for _, w := range tc.want {
			if !slices.Contains(k, w) {
				t.Errorf("%q: %s not selected: %v", tc.list, w, k)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(k, n) {
				t.Errorf("%q: %s selected: %v", tc.list, n, k)
			}
		}
	}
	if _, err := selectModes("http-batch,nonsense"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

// TestModesTable: keys are unique, every base is a mode, and every row
// can run (New or Measure).
func TestModesTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range modes {
		if seen[m.Key] {
			t.Errorf("mode %s twice", m.Key)
		}
		seen[m.Key] = true
		if (m.New == nil) == (m.Measure == nil) {
			t.Errorf("mode %s: want exactly one of New and Measure", m.Key)
		}
		if !slices.Contains(groups, m.Group) {
			t.Errorf("mode %s: unknown group %q", m.Key, m.Group)
		}
		if m.Base != "" && modeGroup(m.Base) == "" {
			t.Errorf("mode %s: base %q is no mode", m.Key, m.Base)
		}
	}
}
