package jsonvalue

import (
	"encoding/json"
	"strings"
	"sync"
)

// Kind is the kind of a [Node].
type Kind uint8

// The kinds of JSON values.
const (
	// KindNull is null.
	KindNull Kind = iota
	// KindFalse is false.
	KindFalse
	// KindTrue is true.
	KindTrue
	// KindNumber is a number; Node.Str is its literal.
	KindNumber
	// KindString is a string or a member's key; Node.Str is its text.
	KindString
	// KindArray is an array; Node.Len is its number of items.
	KindArray
	// KindObject is an object; Node.Len is its number of members.
	KindObject
)

// Node is one value of a [Doc], or the key of an object member.
type Node struct {
	// Str is a string's unescaped text, a number's literal exactly as
	// written, or a member's unescaped key.
	Str string
	// Len is an array's number of items or an object's number of members.
	Len int32
	// End is the index of the node just past this value and everything in
	// it: an item's next sibling.
	End int32
	// Kind says what the node is. A member key is a KindString node.
	Kind Kind
}

// Doc is one JSON text decoded as a tape: its values in document order,
// each container followed by what it holds. An array's items follow it one
// after another (the next item starts at the previous one's End); an
// object's members follow it as a key node (KindString) and then the
// value's nodes. Nodes[0] is the root.
//
// A Doc holds the same value as [Parse] returns, after the same strict
// checks, without a map, slice or interface per value: decoding one costs
// two allocations (the copy of the input that the strings share, and the
// tape when it grows), and none when a pooled Doc (GetDoc) is reused. It is
// what the validators walk on the hot path; [Doc.Value] builds the
// map[string]any form for whatever needs it.
type Doc struct {
	Nodes []Node
}

// Parse decodes data into d, replacing what d held, with the checks and
// errors of [Parse]. After an error d holds no value.
func (d *Doc) Parse(data []byte, lim Limits) error {
	dec := getDecoder()
	nodes, err := dec.parse(data, lim.withDefaults(), d.Nodes[:0])
	return d.keep(dec, nodes, err)
}

// keep stores the tape dec built and gives dec back; after an error it
// leaves d empty and completes the error's pointer.
func (d *Doc) keep(dec *decoder, nodes []Node, err *Error) error {
	d.Nodes = nodes
	if err != nil {
		err.Pointer = renderPointer(dec.segs)
		putDecoder(dec)
		d.Nodes = d.Nodes[:0]
		return err
	}
	putDecoder(dec)
	return nil
}

// ParseIn decodes the JSON value that starts at data[off] (after optional
// white space) into d, replacing what d held, with the checks of [Parse], and
// returns the offset just past the value; what follows it is not looked at.
// src must hold the same bytes as data (string(data), made once by the caller
// for many values, such as the records of one request): the strings of d are
// substrings of it, so decoding copies nothing. Error offsets count from the
// start of data.
func (d *Doc) ParseIn(src string, data []byte, off int, lim Limits) (end int, err error) {
	if len(src) != len(data) || off < 0 || off > len(data) {
		panic("jsonvalue: ParseIn: src and data differ in length, or off is out of range")
	}
	dec := getDecoder()
	nodes, end, perr := dec.parseIn(data, src, off, lim.withDefaults(), d.Nodes[:0])
	if err := d.keep(dec, nodes, perr); err != nil {
		return 0, err
	}
	return end, nil
}

// ParseDoc decodes data into a new Doc (see [Doc.Parse]).
func ParseDoc(data []byte, lim Limits) (*Doc, error) {
	d := new(Doc)
	if err := d.Parse(data, lim); err != nil {
		return nil, err
	}
	return d, nil
}

// maxPooledNodes bounds the tape a pooled Doc keeps.
const maxPooledNodes = 16 << 10

var docPool = sync.Pool{New: func() any { return new(Doc) }}

// GetDoc returns an empty Doc from a pool; give it back with PutDoc once
// nothing refers to its nodes.
func GetDoc() *Doc { return docPool.Get().(*Doc) }

// PutDoc returns d to the pool. Strings taken from d stay valid. The tape is
// not cleared (that costs a write barrier per string while the collector
// runs): a pooled Doc keeps the copy of its last input alive until it is
// reused or the pool lets it go at a garbage collection.
func PutDoc(d *Doc) {
	if cap(d.Nodes) > maxPooledNodes {
		return
	}
	d.Nodes = d.Nodes[:0]
	docPool.Put(d)
}

// Value returns the value at node i in the form [Parse] returns:
// map[string]any, []any (never nil), json.Number, string, bool or nil.
func (d *Doc) Value(i int) any {
	n := &d.Nodes[i]
	switch n.Kind {
	case KindString:
		return n.Str
	case KindNumber:
		return json.Number(n.Str)
	case KindTrue:
		return true
	case KindFalse:
		return false
	case KindArray:
		out := make([]any, n.Len)
		j := i + 1
		for k := range out {
			out[k] = d.Value(j)
			j = int(d.Nodes[j].End)
		}
		return out
	case KindObject:
		out := make(map[string]any, n.Len)
		j := i + 1
		for range n.Len {
			out[d.Nodes[j].Str] = d.Value(j + 1)
			j = int(d.Nodes[j+1].End)
		}
		return out
	}
	return nil
}

// Member returns the index of the value of object obj's member name.
func (d *Doc) Member(obj int, name string) (int, bool) {
	n := &d.Nodes[obj]
	if n.Kind != KindObject {
		return 0, false
	}
	j := obj + 1
	for range n.Len {
		if d.Nodes[j].Str == name {
			return j + 1, true
		}
		j = int(d.Nodes[j+1].End)
	}
	return 0, false
}

// Item returns the index of array arr's item k.
func (d *Doc) Item(arr, k int) (int, bool) {
	n := &d.Nodes[arr]
	if n.Kind != KindArray || k < 0 || k >= int(n.Len) {
		return 0, false
	}
	j := arr + 1
	for range k {
		j = int(d.Nodes[j].End)
	}
	return j, true
}

// Pointer returns the index of the value at RFC 6901 JSON pointer ptr ("" is
// the root, "/items/0/sku" a member of an item), or false when there is no
// such value. An array index is "0" or digits without a leading zero.
func (d *Doc) Pointer(ptr string) (int, bool) {
	if len(d.Nodes) == 0 {
		return 0, false
	}
	if ptr == "" {
		return 0, true
	}
	if ptr[0] != '/' {
		return 0, false
	}
	at := 0
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		if strings.Contains(tok, "~") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		var ok bool
		switch d.Nodes[at].Kind {
		case KindObject:
			at, ok = d.Member(at, tok)
		case KindArray:
			k, isIndex := arrayIndex(tok)
			if isIndex {
				at, ok = d.Item(at, k)
			}
		}
		if !ok {
			return 0, false
		}
	}
	return at, true
}

// arrayIndex reads an RFC 6901 array index: "0", or digits with no leading
// zero.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (tok[0] == '0' && len(tok) > 1) {
		return 0, false
	}
	k := 0
	for i := 0; i < len(tok); i++ {
		if !isDigit(tok[i]) {
			return 0, false
		}
		k = k*10 + int(tok[i]-'0')
	}
	return k, true
}
