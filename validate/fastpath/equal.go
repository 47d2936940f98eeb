package fastpath

import "encoding/json"

// equal replicates jsonschema v6's equals (util.go), used by const, enum
// and uniqueItems: objects and arrays member by member, numbers by value
// (1, 1.0 and 1e0 are equal), everything else by Go equality. Values of a
// type the fast engine does not know make it bail.
func (st *state) equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !st.equal(va, vb) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !st.equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case json.Number:
		switch b.(type) {
		case json.Number:
		case map[string]any, []any, nil, bool, string:
			return false
		default:
			st.bail = true
			return false
		}
		return st.equalNumbers(string(a), string(b.(json.Number)))
	default:
		st.bail = true
		return false
	}
}

func (st *state) equalNumbers(a, b string) bool {
	if a == b {
		// The same literal: equal if the reference can read it at all.
		if _, ok := parseDecimal(a); ok {
			return true
		}
	}
	da, ok1 := parseDecimal(a)
	db, ok2 := parseDecimal(b)
	if !ok1 || !ok2 {
		st.bail = true
		return false
	}
	if eq, ok := equalDecimal(&da, &db); ok {
		return eq
	}
	// Wide literals: the reference's own arithmetic.
	ra, ok1 := rat(a)
	rb, ok2 := rat(b)
	return ok1 && ok2 && ra.Cmp(rb) == 0
}
