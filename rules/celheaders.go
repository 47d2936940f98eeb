package rules

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/twmb/franz-go/pkg/kgo"
)

// headerMap is a record's headers as a CEL map(string, string), read
// where they stand. Kafka allows a name more than once: the map holds its
// last value (as Java's Headers.lastHeader reads it).
type headerMap struct {
	hs []kgo.RecordHeader
}

var _ traits.Mapper = (*headerMap)(nil)

// last reports whether header i is the last one with its name.
func (h *headerMap) last(i int) bool {
	for j := i + 1; j < len(h.hs); j++ {
		if h.hs[j].Key == h.hs[i].Key {
			return false
		}
	}
	return true
}

func (h *headerMap) native() map[string]string {
	m := make(map[string]string, len(h.hs))
	for _, hd := range h.hs {
		m[hd.Key] = string(hd.Value)
	}
	return m
}

// ConvertToNative implements ref.Val.
func (h *headerMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return types.DefaultTypeAdapter.NativeToValue(h.native()).ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (h *headerMap) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return h
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, typeVal)
}

// Equal implements ref.Val.
func (h *headerMap) Equal(other ref.Val) ref.Val {
	m, ok := other.(traits.Mapper)
	if !ok || m.Size() != h.Size() {
		return types.False
	}
	for i, hd := range h.hs {
		if !h.last(i) {
			continue
		}
		v, found := m.Find(types.String(hd.Key))
		if !found || types.Equal(types.String(hd.Value), v) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (h *headerMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val: map[string]string.
func (h *headerMap) Value() any { return h.native() }

// Contains implements traits.Container.
func (h *headerMap) Contains(key ref.Val) ref.Val {
	v, found := h.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

// Get implements traits.Indexer.
func (h *headerMap) Get(key ref.Val) ref.Val {
	v, found := h.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Find implements traits.Mapper.
func (h *headerMap) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	for i := len(h.hs) - 1; i >= 0; i-- {
		if h.hs[i].Key == string(s) {
			return types.String(h.hs[i].Value), true
		}
	}
	return nil, false
}

// Iterator implements traits.Iterable: each name once.
func (h *headerMap) Iterator() traits.Iterator {
	return &headerIterator{h: h}
}

// Size implements traits.Sizer: the number of distinct names.
func (h *headerMap) Size() ref.Val {
	n := 0
	for i := range h.hs {
		if h.last(i) {
			n++
		}
	}
	return types.Int(n)
}

// headerIterator yields each header name once, at its last occurrence.
type headerIterator struct {
	h  *headerMap
	at int
}

func (it *headerIterator) skip() {
	for it.at < len(it.h.hs) && !it.h.last(it.at) {
		it.at++
	}
}

// HasNext implements traits.Iterator.
func (it *headerIterator) HasNext() ref.Val {
	it.skip()
	return types.Bool(it.at < len(it.h.hs))
}

// Next implements traits.Iterator.
func (it *headerIterator) Next() ref.Val {
	it.skip()
	if it.at >= len(it.h.hs) {
		return nil
	}
	k := it.h.hs[it.at].Key
	it.at++
	return types.String(k)
}

// ConvertToNative implements ref.Val.
func (it *headerIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, errIteratorConversion
}

// ConvertToType implements ref.Val.
func (it *headerIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("type conversion on iterators not supported")
}

// Equal implements ref.Val.
func (it *headerIterator) Equal(ref.Val) ref.Val { return types.NoSuchOverloadErr() }

// Type implements ref.Val.
func (it *headerIterator) Type() ref.Type { return types.IteratorType }

// Value implements ref.Val.
func (it *headerIterator) Value() any { return nil }
