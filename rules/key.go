package rules

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
)

// pointer is an RFC 6901 JSON pointer split into its reference tokens
// once, at compile time.
type pointer struct {
	src  string
	toks []ptrToken
}

type ptrToken struct {
	name  string // the unescaped member name
	index int    // the array index it spells, or -1
}

// parsePointer reads an RFC 6901 pointer: "" (the whole event) or "/"
// followed by tokens in which "~0" is '~' and "~1" is '/'.
func parsePointer(s string) (*pointer, error) {
	p := &pointer{src: s}
	if s == "" {
		return p, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %s does not start with '/'", quote.String(s))
	}
	for tok := range strings.SplitSeq(s[1:], "/") {
		for i := 0; i < len(tok); i++ {
			if tok[i] == '~' && (i+1 == len(tok) || (tok[i+1] != '0' && tok[i+1] != '1')) {
				return nil, fmt.Errorf("JSON pointer %s: '~' must be followed by 0 or 1", quote.String(s))
			}
		}
		if strings.Contains(tok, "~") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		p.toks = append(p.toks, ptrToken{name: tok, index: arrayIndex(tok)})
	}
	return p, nil
}

// arrayIndex returns the array index tok spells ("0", or digits without a
// leading zero, at most 9 of them), or -1.
func arrayIndex(tok string) int {
	if tok == "" || len(tok) > 9 || (tok[0] == '0' && len(tok) > 1) {
		return -1
	}
	k := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return -1
		}
		k = k*10 + int(tok[i]-'0')
	}
	return k
}

// find returns the index of the node p points at in d.
func (p *pointer) find(d *jsonvalue.Doc) (int, bool) {
	if d == nil || len(d.Nodes) == 0 {
		return 0, false
	}
	at := 0
	for _, t := range p.toks {
		var ok bool
		switch d.Nodes[at].Kind {
		case jsonvalue.KindObject:
			at, ok = d.Member(at, t.name)
		case jsonvalue.KindArray:
			if t.index >= 0 {
				at, ok = d.Item(at, t.index)
			}
		}
		if !ok {
			return 0, false
		}
	}
	return at, true
}

// scalarText returns the text of a scalar for comparison with a key or a
// state: a string's text, a number's literal as written, true or false.
// problem says why there is none (missing, null, a container).
func (p *pointer) scalarText(d *jsonvalue.Doc) (text string, problem string) {
	at, ok := p.find(d)
	if !ok {
		return "", "no value at " + p.src
	}
	n := &d.Nodes[at]
	switch n.Kind {
	case jsonvalue.KindString, jsonvalue.KindNumber:
		return n.Str, ""
	case jsonvalue.KindTrue:
		return "true", ""
	case jsonvalue.KindFalse:
		return "false", ""
	case jsonvalue.KindNull:
		return "", p.src + " is null"
	case jsonvalue.KindArray:
		return "", p.src + " is an array, not a string, number or boolean"
	}
	return "", p.src + " is an object, not a string, number or boolean"
}

// keyTemplate is a KEY rule's expr: one JSON pointer ("/order_id"), or a
// template of literal text and pointers in braces
// ("{/tenant_id}:{/order_id}"; "{{" and "}}" are literal braces).
type keyTemplate struct {
	src   string
	parts []keyPart
}

type keyPart struct {
	lit string
	ptr *pointer // nil for a literal
}

// maxTemplatePointers bounds the pointers of one key template.
const maxTemplatePointers = 16

// parseKeyTemplate reads a KEY rule's expr.
func parseKeyTemplate(expr string) (*keyTemplate, error) {
	t := &keyTemplate{src: expr}
	if expr == "" {
		return nil, errors.New("expr is empty: want a JSON pointer such as /order_id or a template such as {/tenant_id}:{/order_id}")
	}
	if !strings.ContainsAny(expr, "{}") {
		p, err := parsePointer(expr)
		if err != nil {
			return nil, fmt.Errorf("%w (a template puts pointers in braces: {/tenant_id}:{/order_id})", err)
		}
		if p.src == "" {
			return nil, errors.New("expr is empty")
		}
		t.parts = []keyPart{{ptr: p}}
		return t, nil
	}
	var lit strings.Builder
	pointers := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{' && i+1 < len(expr) && expr[i+1] == '{':
			lit.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(expr) && expr[i+1] == '}':
			lit.WriteByte('}')
			i += 2
		case c == '}':
			return nil, fmt.Errorf("template %s: '}' at offset %d closes nothing (write }} for a literal brace)", quote.String(expr), i)
		case c == '{':
			end := strings.IndexByte(expr[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %s: '{' at offset %d is not closed", quote.String(expr), i)
			}
			src := expr[i+1 : i+1+end]
			if strings.IndexByte(src, '{') >= 0 {
				return nil, fmt.Errorf("template %s: '{' inside the pointer at offset %d", quote.String(expr), i)
			}
			if src == "" || src[0] != '/' {
				return nil, fmt.Errorf("template %s: {%s} at offset %d: want a JSON pointer starting with '/'", quote.String(expr), quote.Cut(src, quote.MaxBytes), i)
			}
			p, err := parsePointer(src)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", quote.String(expr), err)
			}
			if pointers++; pointers > maxTemplatePointers {
				return nil, fmt.Errorf("template %s: more than %d pointers", quote.String(expr), maxTemplatePointers)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, keyPart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, keyPart{ptr: p})
			i += end + 2
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, keyPart{lit: lit.String()})
	}
	if pointers == 0 {
		return nil, fmt.Errorf("template %s names no pointer: a key rule compares the key with values of the event", quote.String(expr))
	}
	return t, nil
}

// check compares key with the value the template renders from d. It
// allocates only to explain a failure.
func (t *keyTemplate) check(d *jsonvalue.Doc, key []byte) (Outcome, string) {
	off := 0
	match := key != nil
	for _, p := range t.parts {
		text := p.lit
		if p.ptr != nil {
			var problem string
			if text, problem = p.ptr.scalarText(d); problem != "" {
				if key == nil {
					return OutcomeFail, "the record has no key, and " + problem
				}
				return OutcomeFail, problem + "; the key is " + quote.String(string(key))
			}
		}
		if match && (len(key)-off < len(text) || string(key[off:off+len(text)]) != text) {
			match = false
		}
		off += len(text)
	}
	if match && off == len(key) {
		return OutcomePass, ""
	}
	want := quote.String(t.render(d))
	if key == nil {
		return OutcomeFail, "the record has no key; want " + want + " from " + t.src
	}
	return OutcomeFail, "key " + quote.String(string(key)) + " does not match " + want + " from " + t.src
}

// render writes the template's text from d (every pointer resolves: check
// came first).
func (t *keyTemplate) render(d *jsonvalue.Doc) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ptr == nil {
			b.WriteString(p.lit)
			continue
		}
		text, _ := p.ptr.scalarText(d)
		b.WriteString(text)
	}
	return b.String()
}
