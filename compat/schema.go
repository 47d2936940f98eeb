package compat

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/validate"
)

// Drafts, as numbers that order them.
const (
	draft4    = 4
	draft6    = 6
	draft7    = 7
	draft2019 = 2019
	draft2020 = 2020
)

// node is one schema (an object or a boolean) inside one version's documents.
type node struct {
	v      any    // map[string]any or bool
	doc    string // URL of the document holding it
	ptr    string // JSON pointer from that document's root
	base   string // base URI $ref resolves against
	draft  int
	origin validate.SubjectVersion
}

func (n node) obj() map[string]any {
	m, _ := n.v.(map[string]any)
	return m
}

func (n node) loc() string { return n.doc + "#" + n.ptr }

// child returns the subschema at keyword path elems below n.
func (n node) child(elems ...string) (node, bool) {
	var cur any = n.v
	ptr := n.ptr
	for _, e := range elems {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[e]
			if !ok {
				return node{}, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(e)
			if err != nil || i < 0 || i >= len(c) {
				return node{}, false
			}
			cur = c[i]
		default:
			return node{}, false
		}
		ptr += "/" + escapePtr(e)
	}
	switch cur.(type) {
	case map[string]any, bool:
	default:
		return node{}, false
	}
	c := node{v: cur, doc: n.doc, ptr: ptr, base: n.base, draft: n.draft, origin: n.origin}
	if m, ok := cur.(map[string]any); ok {
		c.base, c.draft = idBase(c.base, m, c.draft)
	}
	return c, true
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// idBase returns the base URI and draft inside schema m, whose parent's are
// base and draft.
func idBase(base string, m map[string]any, draft int) (string, int) {
	if s, ok := m["$schema"].(string); ok {
		draft = draftOf(s, draft)
	}
	key := "$id"
	if draft == draft4 {
		key = "id"
	}
	id, ok := m[key].(string)
	if !ok || id == "" || strings.HasPrefix(id, "#") {
		return base, draft
	}
	return resolveURL(base, id), draft
}

func draftOf(s string, def int) int {
	switch {
	case strings.Contains(s, "draft-04"):
		return draft4
	case strings.Contains(s, "draft-06"):
		return draft6
	case strings.Contains(s, "draft-07"):
		return draft7
	case strings.Contains(s, "2019-09"):
		return draft2019
	case strings.Contains(s, "2020-12"):
		return draft2020
	}
	return def
}

func resolveURL(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

// side is one version's schema: its documents, an index of the resources
// and anchors inside them, and a compiler to evaluate any location.
type side struct {
	version int
	subject string
	res     *validate.Resources
	root    node
	// resources maps a resource URL (no fragment) to its node; anchors
	// maps "<resource URL>#<anchor>" to its node.
	resources map[string]node
	anchors   map[string]node
	comp      *jsonschema.Compiler
	compiled  map[string]*jsonschema.Schema
	// full validates whole documents with eventguard's validator.
	full *validate.Schema
}

func newSide(subject string, version int, res *validate.Resources, full *validate.Schema) (*side, error) {
	s := &side{version: version, subject: subject, res: res, resources: map[string]node{}, anchors: map[string]node{}, compiled: map[string]*jsonschema.Schema{}, full: full}
	comp, err := res.Compiler()
	if err != nil {
		return nil, err
	}
	s.comp = comp
	urls := make([]string, 0, len(res.Docs))
	for u := range res.Docs {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		d := res.Docs[u]
		origin := res.Origin[u]
		if u == res.Main {
			origin = validate.SubjectVersion{Subject: subject, Version: version}
		}
		n := node{v: d, doc: u, ptr: "", base: u, draft: draft7, origin: origin}
		if m, ok := d.(map[string]any); ok {
			n.base, n.draft = idBase(u, m, draft7)
		}
		s.resources[u] = n
		s.index(n, 0)
	}
	s.root = s.resources[res.Main]
	return s, nil
}

// schemaKeywords hold subschemas: objects of schemas, arrays of schemas, or a
// schema.
var (
	schemaMapKeywords   = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
	schemaArrayKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems", "items"}
	schemaKeywords      = []string{"additionalProperties", "additionalItems", "unevaluatedProperties", "unevaluatedItems", "items", "contains", "propertyNames", "not", "if", "then", "else"}
)

func (s *side) index(n node, depth int) {
	m := n.obj()
	if m == nil || depth > 200 {
		return
	}
	if n.base != "" {
		if _, ok := s.resources[n.base]; !ok {
			s.resources[n.base] = n
		}
	}
	key := "$id"
	if n.draft == draft4 {
		key = "id"
	}
	if id, ok := m[key].(string); ok && strings.HasPrefix(id, "#") && len(id) > 1 {
		s.anchors[n.base+id] = n
	}
	if a, ok := m["$anchor"].(string); ok {
		s.anchors[n.base+"#"+a] = n
	}
	if a, ok := m["$dynamicAnchor"].(string); ok {
		if _, dup := s.anchors[n.base+"#"+a]; !dup {
			s.anchors[n.base+"#"+a] = n
		}
	}
	for _, k := range schemaMapKeywords {
		if mm, ok := m[k].(map[string]any); ok {
			for name := range mm {
				if c, ok := n.child(k, name); ok {
					s.index(c, depth+1)
				}
			}
		}
	}
	for _, k := range schemaArrayKeywords {
		if a, ok := m[k].([]any); ok {
			for i := range a {
				if c, ok := n.child(k, strconv.Itoa(i)); ok {
					s.index(c, depth+1)
				}
			}
		}
	}
	for _, k := range schemaKeywords {
		if c, ok := n.child(k); ok {
			s.index(c, depth+1)
		}
	}
}

// resolve finds the schema a $ref in n names.
func (s *side) resolve(n node, ref string) (node, error) {
	u := resolveURL(n.base, ref)
	resURL, frag, _ := strings.Cut(u, "#")
	r, ok := s.resources[resURL]
	if !ok {
		return node{}, fmt.Errorf("$ref %q (%s) names no schema of this version or its references", ref, u)
	}
	if frag == "" {
		return r, nil
	}
	if strings.HasPrefix(frag, "/") {
		frag, _ = url.PathUnescape(frag)
		elems := strings.Split(frag[1:], "/")
		for i := range elems {
			elems[i] = unescapePtr(elems[i])
		}
		c, ok := r.child(elems...)
		if !ok {
			return node{}, fmt.Errorf("$ref %q: no schema at %s", ref, u)
		}
		return c, nil
	}
	if a, ok := s.anchors[resURL+"#"+frag]; ok {
		return a, nil
	}
	return node{}, fmt.Errorf("$ref %q: no anchor %q", ref, frag)
}

// evaluate reports whether the schema at n accepts value (decoded as
// jsonschema.UnmarshalJSON decodes: numbers are json.Number).
func (s *side) evaluate(n node, value any) bool {
	if b, ok := n.v.(bool); ok {
		return b
	}
	loc := n.loc()
	sch, ok := s.compiled[loc]
	if !ok {
		var err error
		sch, err = s.comp.Compile(loc)
		if err != nil {
			sch = nil
		}
		s.compiled[loc] = sch
	}
	if sch == nil {
		return false
	}
	ok, _ = safeValidate(sch, value)
	return ok
}

func safeValidate(sch *jsonschema.Schema, value any) (ok bool, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			ok, panicked = false, true
		}
	}()
	return sch.Validate(value) == nil, false
}

// normalize turns a Go value into the form jsonschema validates (numbers as
// json.Number) through a JSON round trip.
func normalize(v any) (any, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	out, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	return out, b, err
}
