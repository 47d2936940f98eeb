package validate

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// refCycle returns the schema locations of a reference cycle in s that
// applies to the same instance without reading into it ({"$ref":"#"}, or
// a $ref through allOf/anyOf/oneOf/not/if/then/else/dependentSchemas back
// to itself), joined by " -> ", or "" when there is none. Such a schema
// cannot validate any value that reaches the cycle (jsonschema v6 reports
// "reference cycle" at run time): it is the schema's fault, not the
// value's. A $dynamicRef or $recursiveRef counts with its static target
// only; a cycle that only the dynamic scope of a validation would close
// is not found here.
func refCycle(s *jsonschema.Schema) string {
	// Every subschema, in a stable order (breadth first, children in
	// keyword and name order).
	all := []*jsonschema.Schema{s}
	seen := map[*jsonschema.Schema]bool{s: true}
	for i := 0; i < len(all); i++ {
		for _, c := range append(inPlace(all[i]), intoInstance(all[i])...) {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
			}
		}
	}
	// A cycle of the graph of in-place edges: depth first, a node met
	// again while on the path closes one.
	const (
		onPath = 1 + iota // the zero state is "not visited yet"
		done
	)
	state := make(map[*jsonschema.Schema]int, len(all))
	var path, found []*jsonschema.Schema
	var visit func(n *jsonschema.Schema)
	visit = func(n *jsonschema.Schema) {
		switch state[n] {
		case onPath:
			found = append(slices.Clone(path[slices.Index(path, n):]), n)
			return
		case done:
			return
		}
		state[n] = onPath
		path = append(path, n)
		for _, c := range inPlace(n) {
			if visit(c); found != nil {
				return
			}
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	for _, n := range all {
		if visit(n); found != nil {
			break
		}
	}
	if found == nil {
		return ""
	}
	locs := make([]string, len(found))
	for i, n := range found {
		locs[i] = strings.TrimPrefix(n.Location, schemaBase)
	}
	return strings.Join(locs, " -> ")
}

// inPlace returns the subschemas of s that apply to the same instance.
func inPlace(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	out = append(out, sortedValues(s.DependentSchemas)...)
	for _, k := range slices.Sorted(maps.Keys(s.Dependencies)) {
		if d, ok := s.Dependencies[k].(*jsonschema.Schema); ok {
			out = append(out, d)
		}
	}
	return slices.DeleteFunc(out, func(c *jsonschema.Schema) bool { return c == nil })
}

// intoInstance returns the subschemas of s that apply to a part of the
// instance (a property, an item, a name, decoded content).
func intoInstance(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	out = append(out, sortedValues(s.Properties)...)
	pats := slices.SortedFunc(maps.Keys(s.PatternProperties), func(a, b jsonschema.Regexp) int { return cmp.Compare(a.String(), b.String()) })
	for _, p := range pats {
		out = append(out, s.PatternProperties[p])
	}
	out = append(out, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch v := v.(type) {
		case *jsonschema.Schema:
			out = append(out, v)
		case []*jsonschema.Schema:
			out = append(out, v...)
		}
	}
	return slices.DeleteFunc(out, func(c *jsonschema.Schema) bool { return c == nil })
}

func sortedValues(m map[string]*jsonschema.Schema) []*jsonschema.Schema {
	out := make([]*jsonschema.Schema, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}
