package fastpath

import (
	"encoding/json"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// equalValue replicates jsonschema v6's equals (util.go) between the value
// at node v and b, a value of the schema (const, enum): objects and arrays
// member by member, numbers by value (1, 1.0 and 1e0 are equal),
// everything else by Go equality. A schema value of a type the fast engine
// does not know, compared with a number, makes it bail (as equals would
// hand it to big.Rat).
func (st *state) equalValue(v int, b any) bool {
	nd := &st.nodes[v]
	switch nd.Kind {
	case jsonvalue.KindObject:
		b, ok := b.(map[string]any)
		if !ok || int(nd.Len) != len(b) {
			return false
		}
		j := v + 1
		for range nd.Len {
			vb, ok := b[st.nodes[j].Str]
			if !ok || !st.equalValue(j+1, vb) {
				return false
			}
			j = int(st.nodes[j+1].End)
		}
		return true
	case jsonvalue.KindArray:
		b, ok := b.([]any)
		if !ok || int(nd.Len) != len(b) {
			return false
		}
		j := v + 1
		for k := range b {
			if !st.equalValue(j, b[k]) {
				return false
			}
			j = int(st.nodes[j].End)
		}
		return true
	case jsonvalue.KindNull:
		return b == nil
	case jsonvalue.KindTrue, jsonvalue.KindFalse:
		b, ok := b.(bool)
		return ok && b == (nd.Kind == jsonvalue.KindTrue)
	case jsonvalue.KindString:
		b, ok := b.(string)
		return ok && nd.Str == b
	default: // KindNumber
		switch b.(type) {
		case json.Number:
		case map[string]any, []any, nil, bool, string:
			return false
		default:
			st.bail = true
			return false
		}
		return st.equalNumbers(nd.Str, string(b.(json.Number)))
	}
}

// equalNodes is equals between the values at nodes a and b (uniqueItems).
func (st *state) equalNodes(a, b int) bool {
	na, nb := &st.nodes[a], &st.nodes[b]
	if na.Kind != nb.Kind {
		return false
	}
	switch na.Kind {
	case jsonvalue.KindObject:
		if na.Len != nb.Len {
			return false
		}
		j := a + 1
		for range na.Len {
			vb, ok := st.doc.Member(b, st.nodes[j].Str)
			if !ok || !st.equalNodes(j+1, vb) {
				return false
			}
			j = int(st.nodes[j+1].End)
		}
		return true
	case jsonvalue.KindArray:
		if na.Len != nb.Len {
			return false
		}
		i, j := a+1, b+1
		for range na.Len {
			if !st.equalNodes(i, j) {
				return false
			}
			i, j = int(st.nodes[i].End), int(st.nodes[j].End)
		}
		return true
	case jsonvalue.KindString:
		return na.Str == nb.Str
	case jsonvalue.KindNumber:
		return st.equalNumbers(na.Str, nb.Str)
	}
	return true // null, true, false: the kind is the value
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
