package proxy

import (
	"encoding/json"
	"testing"

	"github.com/eventguard/eventguard/produce"
)

// TestAppendProduced: the hand-written answer is byte for byte what
// encoding/json writes for the same results, and anything it does not
// write plainly is left to encoding/json.
func TestAppendProduced(t *testing.T) {
	ok := func(i int, subject, id string) produce.Result {
		return produce.Result{Index: i, Produced: true, Partition: int32(i % 3), Offset: int64(1000*i + 7), Subject: subject, SchemaID: 10 + i, SchemaVersion: i, EventID: id}
	}
	tests := []struct {
		name   string
		resp   produce.Response
		direct bool // appendProduced writes it
	}{
		{"one", produce.Response{Results: []produce.Result{ok(0, "pets-value", "0193a5d2-8a40-7c11-b2d4-5e6f708192a3")}}, true},
		{"several, zero fields omitted", produce.Response{Results: []produce.Result{ok(0, "", ""), ok(1, "orders-OrderPlaced", "e-1"), ok(2, "x", "")}}, true},
		{"partition and offset zero are written", produce.Response{Results: []produce.Result{{Produced: true, Subject: "s", SchemaID: 1, SchemaVersion: 1, EventID: "e"}}}, true},
		{"subject needing escapes", produce.Response{Results: []produce.Result{ok(0, `a"b\c<d>&é`, "e")}}, false},
		{"event id with a control character", produce.Response{Results: []produce.Result{ok(0, "s", "a\x01")}}, false},
		{"a failed record", produce.Response{Results: []produce.Result{ok(0, "s", "e"), {Index: 1, Err: &produce.RecordError{Code: "schema_violation", Message: "m"}}}}, false},
		{"a request error", produce.Response{Err: &produce.Error{Code: "timeout"}, Results: []produce.Result{ok(0, "s", "e")}}, false},
		{"no results", produce.Response{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, direct := appendProduced(&tt.resp)
			if direct != tt.direct {
				t.Fatalf("appendProduced wrote it: %v, want %v", direct, tt.direct)
			}
			if !direct {
				return
			}
			out := wireResponse{}
			for i := range tt.resp.Results {
				r := &tt.resp.Results[i]
				out.Results = append(out.Results, wireResult{Index: r.Index, Partition: &r.Partition, Offset: &r.Offset, Subject: r.Subject, SchemaID: r.SchemaID, SchemaVersion: r.SchemaVersion, EventID: r.EventID})
			}
			want, err := json.Marshal(&out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want)+"\n" {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestPlainJSON: every string plainJSON accepts, encoding/json writes
// unchanged.
func TestPlainJSON(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := "a" + string(rune(c)) + "b"
		if c >= 0x80 {
			s = "a" + string([]byte{byte(c)}) + "b"
		}
		b, _ := json.Marshal(s)
		if plainJSON(s) && string(b) != `"`+s+`"` {
			t.Errorf("byte %#x: plainJSON says plain, encoding/json writes %s", c, b)
		}
	}
}
