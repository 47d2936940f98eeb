package jsonvalue

import (
	"reflect"
	"strings"
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

// TestDocParseIn: values inside a larger text decode as the same text on
// its own would, sharing the caller's string, and end where they end.
func TestDocParseIn(t *testing.T) {
	t.Parallel()
	body := []byte(`{"records":[{"value": {"a":[1,"x\u00e9"],"b":null} },{"value":7},{"value":"s"},{"value":{"a":1,"a":2}},{"value":[1,]}]}`)
	src := string(body)
	var d Doc
	tests := []struct {
		off     int
		want    string
		errCode string
	}{
		{strings.Index(src, `"value":`) + len(`"value":`), `{"a":[1,"x\u00e9"],"b":null}`, ""},
		{strings.Index(src, `7`), `7`, ""},
		{strings.Index(src, `"s"`), `"s"`, ""},
		{strings.Index(src, `{"a":1,"a":2}`), "", CodeDuplicateKey},
		{strings.Index(src, `[1,]`), "", CodeSyntax},
		{len(src), "", CodeEmpty},
	}
	for _, tt := range tests {
		end, err := d.ParseIn(src, body, tt.off, Limits{})
		if tt.errCode != "" {
			if e, ok := err.(*Error); !ok || e.Code != tt.errCode {
				t.Errorf("at %d: err %v, want %s", tt.off, err, tt.errCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("at %d: %v", tt.off, err)
			continue
		}
		text := strings.TrimSpace(src[tt.off:end])
		want, _ := Parse([]byte(tt.want), Limits{})
		if text != tt.want || !reflect.DeepEqual(d.Value(0), want) {
			t.Errorf("at %d: text %q value %#v, want %q", tt.off, text, d.Value(0), tt.want)
		}
	}
}

// FuzzParseIn: whatever ParseIn accepts at an offset, Parse accepts on its
// own, with the same value.
func FuzzParseIn(f *testing.F) {
	f.Add([]byte(`[{"a":1}, 2, "x"]`), uint16(1))
	f.Add([]byte(`{"value": {"k":[true,false,null]} }`), uint16(9))
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		off := int(at) % (len(data) + 1)
		var d Doc
		end, err := d.ParseIn(string(data), data, off, Limits{})
		if err != nil {
			return
		}
		want, err := Parse(data[off:end], Limits{})
		if err != nil {
			t.Fatalf("ParseIn accepted %q at %d..%d, Parse refuses it: %v", data, off, end, err)
		}
		if !reflect.DeepEqual(d.Value(0), want) {
			t.Fatalf("%q at %d: %#v, Parse gives %#v", data, off, d.Value(0), want)
		}
	})
}
