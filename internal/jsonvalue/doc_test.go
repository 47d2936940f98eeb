package jsonvalue

import (
	"reflect"
	"testing"
)

func TestDocPointer(t *testing.T) {
	t.Parallel()
	doc, err := ParseDoc([]byte(`{"event_type":"OrderPlaced","a/b":"slash","m~n":"tilde","items":[{"sku":"A"},{"sku":"B"}],"n":null,"":"empty"}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ptr  string
		want any
		ok   bool
	}{
		{"/event_type", "OrderPlaced", true},
		{"/a~1b", "slash", true},
		{"/m~0n", "tilde", true},
		{"/items/0/sku", "A", true},
		{"/items/1/sku", "B", true},
		{"/items/1", map[string]any{"sku": "B"}, true},
		{"/n", nil, true},
		{"/", "empty", true},
		{"/missing", nil, false},
		{"/items/2/sku", nil, false},
		{"/items/-1", nil, false},
		{"/items/01", nil, false},
		{"/items/+1", nil, false},
		{"/items/x", nil, false},
		{"/items/", nil, false},
		{"/event_type/0", nil, false},
		{"event_type", nil, false},
	}
	for _, tt := range tests {
		i, ok := doc.Pointer(tt.ptr)
		if ok != tt.ok {
			t.Errorf("Pointer(%q) ok = %v, want %v", tt.ptr, ok, tt.ok)
			continue
		}
		if ok && !reflect.DeepEqual(doc.Value(i), tt.want) {
			t.Errorf("Pointer(%q) = %#v, want %#v", tt.ptr, doc.Value(i), tt.want)
		}
	}
	if i, ok := doc.Pointer(""); !ok || i != 0 {
		t.Errorf(`Pointer("") = %d %v, want the root`, i, ok)
	}
	var empty Doc
	if _, ok := empty.Pointer(""); ok {
		t.Error("an empty Doc has a root")
	}
}

// TestDocLayout pins the tape's shape: pre-order, keys before values, Len
// and End on containers.
func TestDocLayout(t *testing.T) {
	t.Parallel()
	doc, err := ParseDoc([]byte(` {"a":[1,"x",{}],"b":true} `), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Kind: KindObject, Len: 2, End: 8}, // the root's End is len(Nodes)
		{Kind: KindString, Str: "a", End: 2},
		{Kind: KindArray, Len: 3, End: 6},
		{Kind: KindNumber, Str: "1", End: 4},
		{Kind: KindString, Str: "x", End: 5},
		{Kind: KindObject, End: 6},
		{Kind: KindString, Str: "b", End: 7},
		{Kind: KindTrue, End: 8},
	}
	if !reflect.DeepEqual(doc.Nodes, want) {
		t.Errorf("tape:\n got %+v\nwant %+v", doc.Nodes, want)
	}
}

// TestDocReuse: a reused Doc holds only the latest value, and an error
// leaves it empty.
func TestDocReuse(t *testing.T) {
	t.Parallel()
	var d Doc
	for _, text := range []string{`{"a":[1,2,3],"b":{"c":"d"}}`, `7`, `["x"]`} {
		if err := d.Parse([]byte(text), Limits{}); err != nil {
			t.Fatal(err)
		}
		want, _ := Parse([]byte(text), Limits{})
		if !reflect.DeepEqual(d.Value(0), want) || int(d.Nodes[0].End) != len(d.Nodes) {
			t.Errorf("after %s: %#v (%d nodes)", text, d.Value(0), len(d.Nodes))
		}
	}
	if err := d.Parse([]byte(`{"a":1,"a":2}`), Limits{}); err == nil || err.(*Error).Code != CodeDuplicateKey {
		t.Fatalf("duplicate key: %v", err)
	}
	if len(d.Nodes) != 0 {
		t.Errorf("after an error the Doc holds %d nodes", len(d.Nodes))
	}
}
