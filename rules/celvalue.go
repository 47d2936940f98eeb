package rules

import (
	"math"
	"reflect"
	"strconv"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
)

// The event reaches CEL as values that read the decoded tape
// (jsonvalue.Doc) where they stand: an object is a traits.Mapper and an
// array a traits.Lister over node indexes, and a scalar is converted when
// an expression reads it. Nothing is built per record beyond what the
// expression touches: objects and arrays cost no allocation (they live in
// a pooled arena indexed like the tape), a string read costs one.
//
// JSON numbers: a literal without fraction or exponent that fits int64 is
// a CEL int; every other number is a CEL double.

// tapeNode is a container of the tape: the evaluation it belongs to and
// its node index. tapeObject and tapeArray are its two CEL faces.
type tapeNode struct {
	ev *evalState
	i  int32
}

type (
	tapeObject tapeNode
	tapeArray  tapeNode
)

var (
	_ traits.Mapper   = (*tapeObject)(nil)
	_ traits.Lister   = (*tapeArray)(nil)
	_ traits.Zeroer   = (*tapeObject)(nil)
	_ traits.Zeroer   = (*tapeArray)(nil)
	_ traits.Foldable = (*tapeObject)(nil)
	_ traits.Foldable = (*tapeArray)(nil)
)

// nodeValue returns node j of the evaluation's tape as a CEL value.
func (ev *evalState) nodeValue(j int32) ref.Val {
	n := &ev.doc.Nodes[j]
	switch n.Kind {
	case jsonvalue.KindNull:
		return types.NullValue
	case jsonvalue.KindTrue:
		return types.True
	case jsonvalue.KindFalse:
		return types.False
	case jsonvalue.KindString:
		return types.String(n.Str)
	case jsonvalue.KindNumber:
		return numberValue(n.Str)
	case jsonvalue.KindArray:
		slot := &ev.arena[j]
		*slot = tapeNode{ev: ev, i: j}
		return (*tapeArray)(slot)
	case jsonvalue.KindObject:
		slot := &ev.arena[j]
		*slot = tapeNode{ev: ev, i: j}
		return (*tapeObject)(slot)
	}
	return types.NewErr("unknown JSON node kind %d", n.Kind)
}

// numberValue converts a JSON number literal (already checked by the
// decoder): an int when it is written as an integer and fits int64, else a
// double.
func numberValue(lit string) ref.Val {
	digits := lit
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	integer := true
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			integer = false
			break
		}
		v = v*10 + int64(c-'0')
	}
	if integer {
		if len(digits) <= 18 { // no overflow whatever the digits
			if len(digits) < len(lit) {
				v = -v
			}
			return types.Int(v)
		}
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return types.Int(n)
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !math.IsInf(f, 0) {
		return types.NewErr("number %s: %v", quote.String(lit), err)
	}
	return types.Double(f)
}

// nativeValue returns node j in the form CEL's default adapter reads:
// map[string]any, []any, string, int64, float64, bool or nil.
func nativeValue(d *jsonvalue.Doc, j int) any {
	n := &d.Nodes[j]
	switch n.Kind {
	case jsonvalue.KindString:
		return n.Str
	case jsonvalue.KindNumber:
		switch v := numberValue(n.Str).(type) {
		case types.Int:
			return int64(v)
		case types.Double:
			return float64(v)
		}
		return nil
	case jsonvalue.KindTrue:
		return true
	case jsonvalue.KindFalse:
		return false
	case jsonvalue.KindArray:
		out := make([]any, n.Len)
		k := j + 1
		for i := range out {
			out[i] = nativeValue(d, k)
			k = int(d.Nodes[k].End)
		}
		return out
	case jsonvalue.KindObject:
		out := make(map[string]any, n.Len)
		k := j + 1
		for range n.Len {
			out[d.Nodes[k].Str] = nativeValue(d, k+1)
			k = int(d.Nodes[k+1].End)
		}
		return out
	}
	return nil
}

// --- objects ---

func (o *tapeObject) node() *jsonvalue.Node { return &o.ev.doc.Nodes[o.i] }

// materialize returns the object as one of CEL's own maps, for the rare
// operations that need one (conversions).
func (o *tapeObject) materialize() ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(nativeValue(o.ev.doc, int(o.i)))
}

// ConvertToNative implements ref.Val.
func (o *tapeObject) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return o.materialize().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (o *tapeObject) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, typeVal)
}

// Equal implements ref.Val: the same keys with equal values.
func (o *tapeObject) Equal(other ref.Val) ref.Val {
	m, ok := other.(traits.Mapper)
	if !ok {
		return types.False
	}
	if m.Size() != types.Int(o.node().Len) {
		return types.False
	}
	d := o.ev.doc
	k := o.i + 1
	for range o.node().Len {
		ov, found := m.Find(types.String(d.Nodes[k].Str))
		if !found || types.Equal(o.ev.nodeValue(k+1), ov) != types.True {
			return types.False
		}
		k = d.Nodes[k+1].End
	}
	return types.True
}

// Type implements ref.Val.
func (o *tapeObject) Type() ref.Type { return types.MapType }

// Value implements ref.Val: the object as map[string]any.
func (o *tapeObject) Value() any { return nativeValue(o.ev.doc, int(o.i)) }

// IsZeroValue implements traits.Zeroer.
func (o *tapeObject) IsZeroValue() bool { return o.node().Len == 0 }

// Contains implements traits.Container: whether the key is present.
func (o *tapeObject) Contains(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found && v != nil && types.IsUnknownOrError(v) {
		return v
	}
	return types.Bool(found)
}

// Get implements traits.Indexer.
func (o *tapeObject) Get(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Find implements traits.Mapper: a linear walk over the members, as the
// tape keeps them.
func (o *tapeObject) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	d := o.ev.doc
	name := string(s)
	k := o.i + 1
	for range o.node().Len {
		if d.Nodes[k].Str == name {
			return o.ev.nodeValue(k + 1), true
		}
		k = d.Nodes[k+1].End
	}
	return nil, false
}

// Iterator implements traits.Iterable: the keys in document order.
func (o *tapeObject) Iterator() traits.Iterator {
	return &tapeIterator{ev: o.ev, at: o.i + 1, left: o.node().Len, keys: true}
}

// Size implements traits.Sizer.
func (o *tapeObject) Size() ref.Val { return types.Int(o.node().Len) }

// Fold implements traits.Foldable: the members in document order, in one
// walk (comprehensions iterate this way).
func (o *tapeObject) Fold(f traits.Folder) {
	d := o.ev.doc
	keysOnly := false
	if kf, ok := f.(interface{ FoldKeyOnly() bool }); ok {
		keysOnly = kf.FoldKeyOnly()
	}
	k := o.i + 1
	for range o.node().Len {
		var v ref.Val
		if !keysOnly {
			v = o.ev.nodeValue(k + 1)
		}
		if !f.FoldEntry(types.String(d.Nodes[k].Str), v) {
			return
		}
		k = d.Nodes[k+1].End
	}
}

// --- arrays ---

func (a *tapeArray) node() *jsonvalue.Node { return &a.ev.doc.Nodes[a.i] }

func (a *tapeArray) materialize() ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(nativeValue(a.ev.doc, int(a.i)))
}

// ConvertToNative implements ref.Val.
func (a *tapeArray) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return a.materialize().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (a *tapeArray) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.ListType:
		return a
	case types.TypeType:
		return types.ListType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.ListType, typeVal)
}

// Equal implements ref.Val: the same items in the same order.
func (a *tapeArray) Equal(other ref.Val) ref.Val {
	l, ok := other.(traits.Lister)
	if !ok {
		return types.False
	}
	n := a.node().Len
	if l.Size() != types.Int(n) {
		return types.False
	}
	d := a.ev.doc
	k := a.i + 1
	for i := range n {
		if types.Equal(a.ev.nodeValue(k), l.Get(types.Int(i))) != types.True {
			return types.False
		}
		k = d.Nodes[k].End
	}
	return types.True
}

// Type implements ref.Val.
func (a *tapeArray) Type() ref.Type { return types.ListType }

// Value implements ref.Val: the array as []any.
func (a *tapeArray) Value() any { return nativeValue(a.ev.doc, int(a.i)) }

// IsZeroValue implements traits.Zeroer.
func (a *tapeArray) IsZeroValue() bool { return a.node().Len == 0 }

// Add implements traits.Adder: concatenation builds one of CEL's lists.
func (a *tapeArray) Add(other ref.Val) ref.Val {
	l, ok := a.materialize().(traits.Lister)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	return l.Add(other)
}

// Contains implements traits.Container: whether an item equals v.
func (a *tapeArray) Contains(v ref.Val) ref.Val {
	if types.IsUnknownOrError(v) {
		return v
	}
	d := a.ev.doc
	k := a.i + 1
	for range a.node().Len {
		if types.Equal(a.ev.nodeValue(k), v) == types.True {
			return types.True
		}
		k = d.Nodes[k].End
	}
	return types.False
}

// Get implements traits.Indexer: item i (an int, or a whole double or
// uint, as CEL's lists take).
func (a *tapeArray) Get(index ref.Val) ref.Val {
	i, err := types.GetOrError(index)
	if err != nil {
		return types.ValOrErr(index, "%v", err)
	}
	if i < 0 || i >= int(a.node().Len) {
		return types.NewErr("index '%d' out of range in list size '%d'", i, a.node().Len)
	}
	k, _ := a.ev.doc.Item(int(a.i), i)
	return a.ev.nodeValue(int32(k))
}

// Iterator implements traits.Iterable: the items in order.
func (a *tapeArray) Iterator() traits.Iterator {
	return &tapeIterator{ev: a.ev, at: a.i + 1, left: a.node().Len}
}

// Size implements traits.Sizer.
func (a *tapeArray) Size() ref.Val { return types.Int(a.node().Len) }

// Fold implements traits.Foldable: (index, item) in order, in one walk
// (comprehensions iterate this way).
func (a *tapeArray) Fold(f traits.Folder) {
	d := a.ev.doc
	k := a.i + 1
	for i := range a.node().Len {
		if !f.FoldEntry(types.Int(i), a.ev.nodeValue(k)) {
			return
		}
		k = d.Nodes[k].End
	}
}

// --- iteration ---

// tapeIterator walks an object's keys or an array's items.
type tapeIterator struct {
	ev   *evalState
	at   int32 // the next item, or the next member's key node
	left int32
	keys bool
}

var _ traits.Iterator = (*tapeIterator)(nil)

// HasNext implements traits.Iterator.
func (it *tapeIterator) HasNext() ref.Val { return types.Bool(it.left > 0) }

// Next implements traits.Iterator.
func (it *tapeIterator) Next() ref.Val {
	if it.left <= 0 {
		return nil
	}
	it.left--
	d := it.ev.doc
	if it.keys {
		k := it.at
		it.at = d.Nodes[k+1].End
		return types.String(d.Nodes[k].Str)
	}
	k := it.at
	it.at = d.Nodes[k].End
	return it.ev.nodeValue(k)
}

// ConvertToNative implements ref.Val; an iterator converts to nothing.
func (it *tapeIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, errIteratorConversion
}

// ConvertToType implements ref.Val.
func (it *tapeIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("type conversion on iterators not supported")
}

// Equal implements ref.Val.
func (it *tapeIterator) Equal(ref.Val) ref.Val { return types.NoSuchOverloadErr() }

// Type implements ref.Val.
func (it *tapeIterator) Type() ref.Type { return types.IteratorType }

// Value implements ref.Val.
func (it *tapeIterator) Value() any { return nil }

var errIteratorConversion = types.NewErr("type conversion on iterators not supported").(*types.Err)
