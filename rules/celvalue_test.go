package rules

import (
	"errors"
	"reflect"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestTapeValues exercises the tape's CEL values through the interfaces
// CEL calls them by, beyond what the expressions of cel_test.go reach.
func TestTapeValues(t *testing.T) {
	in := &Input{Value: parseDoc(t, `{"a": 1, "b": [true, null, "x", 2.5], "c": {}, "d": []}`)}
	ev := getEvalState(in)
	defer putEvalState(ev)
	v, _ := ev.ResolveName(VarMessage)
	obj := v.(*tapeObject)
	native := map[string]any{"a": int64(1), "b": []any{true, nil, "x", 2.5}, "c": map[string]any{}, "d": []any{}}

	if got := obj.Value(); !reflect.DeepEqual(got, native) {
		t.Errorf("Value() = %#v", got)
	}
	if got, err := obj.ConvertToNative(reflect.TypeFor[map[string]any]()); err != nil || !reflect.DeepEqual(got, native) {
		t.Errorf("ConvertToNative(map) = %#v, %v", got, err)
	}
	if got, err := obj.ConvertToNative(reflect.TypeFor[*structpb.Struct]()); err != nil || got.(*structpb.Struct).Fields["a"].GetNumberValue() != 1 {
		t.Errorf("ConvertToNative(Struct) = %v, %v", got, err)
	}
	if obj.ConvertToType(types.MapType) != obj || obj.ConvertToType(types.TypeType) != types.MapType || !types.IsError(obj.ConvertToType(types.StringType)) {
		t.Error("ConvertToType")
	}
	if obj.Type() != types.MapType || obj.IsZeroValue() || obj.Size() != types.Int(4) {
		t.Error("Type, IsZeroValue or Size")
	}
	if obj.Get(types.String("a")) != types.Int(1) || !types.IsError(obj.Get(types.String("z"))) || !types.IsError(obj.Get(types.Int(1))) {
		t.Error("Get")
	}
	if _, found := obj.Find(types.Int(1)); found {
		t.Error("Find with an int key")
	}
	if e := types.NewErr("boom"); obj.Contains(e) != e {
		t.Error("Contains(err) does not pass the error on")
	}
	var keys []ref.Val
	for it := obj.Iterator(); it.HasNext() == types.True; {
		keys = append(keys, it.Next())
	}
	if !reflect.DeepEqual(keys, []ref.Val{types.String("a"), types.String("b"), types.String("c"), types.String("d")}) {
		t.Errorf("keys %v", keys)
	}
	celMap := types.DefaultTypeAdapter.NativeToValue(native)
	if obj.Equal(celMap) != types.True || celMap.Equal(obj) != types.True || obj.Equal(types.String("x")) != types.False {
		t.Error("Equal with CEL's own map")
	}
	c, _ := obj.Find(types.String("c"))
	if !c.(traits.Zeroer).IsZeroValue() {
		t.Error("{} is not zero")
	}

	b, _ := obj.Find(types.String("b"))
	arr := b.(*tapeArray)
	if got := arr.Value(); !reflect.DeepEqual(got, native["b"]) {
		t.Errorf("array Value() = %#v", got)
	}
	if got, err := arr.ConvertToNative(reflect.TypeFor[[]any]()); err != nil || !reflect.DeepEqual(got, native["b"]) {
		t.Errorf("array ConvertToNative = %#v, %v", got, err)
	}
	if arr.ConvertToType(types.ListType) != arr || arr.ConvertToType(types.TypeType) != types.ListType || !types.IsError(arr.ConvertToType(types.MapType)) {
		t.Error("array ConvertToType")
	}
	celList := types.DefaultTypeAdapter.NativeToValue(native["b"])
	if arr.Equal(celList) != types.True || celList.Equal(arr) != types.True || arr.Equal(celMap) != types.False {
		t.Error("array Equal")
	}
	if arr.Equal(types.DefaultTypeAdapter.NativeToValue([]any{true, nil, "x", 2.6})) != types.False {
		t.Error("array Equal with a different item")
	}
	if arr.Get(types.Int(2)) != types.String("x") || !types.IsError(arr.Get(types.Int(4))) || !types.IsError(arr.Get(types.String("0"))) {
		t.Error("array Get")
	}
	if arr.Type() != types.ListType || arr.IsZeroValue() {
		t.Error("array Type or IsZeroValue")
	}
	var items []ref.Val
	it := arr.Iterator()
	for it.HasNext() == types.True {
		items = append(items, it.Next())
	}
	if len(items) != 4 || items[3] != types.Double(2.5) || it.Next() != nil {
		t.Errorf("items %v", items)
	}
	if _, err := it.ConvertToNative(reflect.TypeFor[any]()); err == nil || !types.IsError(it.ConvertToType(types.ListType)) ||
		!types.IsError(it.Equal(it)) || it.Type() != types.IteratorType || it.Value() != nil {
		t.Error("iterator's ref.Val methods")
	}
	if sum := arr.Add(types.DefaultTypeAdapter.NativeToValue([]any{"y"})); sum.(traits.Sizer).Size() != types.Int(5) {
		t.Errorf("Add = %v", sum)
	}
}

func TestHeaderValues(t *testing.T) {
	h := &headerMap{hs: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}}}
	want := map[string]string{"a": "3", "b": "2"}
	if got := h.Value(); !reflect.DeepEqual(got, want) {
		t.Errorf("Value() = %v", got)
	}
	if got, err := h.ConvertToNative(reflect.TypeFor[map[string]string]()); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ConvertToNative = %v, %v", got, err)
	}
	if h.ConvertToType(types.MapType) != h || h.ConvertToType(types.TypeType) != types.MapType || !types.IsError(h.ConvertToType(types.ListType)) {
		t.Error("ConvertToType")
	}
	if h.Get(types.String("a")) != types.String("3") || !types.IsError(h.Get(types.String("z"))) || h.Type() != types.MapType {
		t.Error("Get or Type")
	}
	if _, found := h.Find(types.Int(1)); found {
		t.Error("Find with an int key")
	}
	if e := types.NewErr("boom"); h.Contains(e) != e {
		t.Error("Contains(err)")
	}
	if h.Equal(types.DefaultTypeAdapter.NativeToValue(map[string]string{"a": "1", "b": "2"})) != types.False || h.Equal(types.True) != types.False {
		t.Error("Equal with another map")
	}
	var keys []ref.Val
	it := h.Iterator()
	for it.HasNext() == types.True {
		keys = append(keys, it.Next())
	}
	if !reflect.DeepEqual(keys, []ref.Val{types.String("b"), types.String("a")}) || it.Next() != nil {
		t.Errorf("keys %v", keys)
	}
	if _, err := it.ConvertToNative(reflect.TypeFor[any]()); err == nil || !types.IsError(it.ConvertToType(types.MapType)) ||
		!types.IsError(it.Equal(it)) || it.Type() != types.IteratorType || it.Value() != nil {
		t.Error("iterator's ref.Val methods")
	}
}

func TestCompileErrorUnwraps(t *testing.T) {
	_, err := Compile([]Rule{cond("r", "NOPE", "x")}, Options{})
	var ce *CompileError
	if !errors.As(err, &ce) || errors.Unwrap(ce) == nil || errors.Unwrap(ce).Error() == "" {
		t.Fatalf("CompileError %v does not unwrap", err)
	}
	s := mustCompile(t, Options{}, cond("r", TypeCEL, "true"))
	if rs := s.Rules(); len(rs) != 1 || rs[0].Name != "r" {
		t.Errorf("Rules() = %+v", rs)
	}
}
