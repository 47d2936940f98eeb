package validate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// Failure codes. They appear in HTTP and gRPC error bodies and in the
// eventguard.dlq.reason header, so they never change silently.
const (
	// CodeMalformedJSON: the value is not one strict JSON text.
	CodeMalformedJSON = "malformed_json"
	// CodeSchemaViolation: the value is JSON but breaks its schema.
	CodeSchemaViolation = "schema_violation"
)

// MaxViolations bounds the violations reported for one value.
const MaxViolations = 100

// Violation is one reason a value failed its schema.
type Violation struct {
	// Path is the RFC 6901 JSON pointer of the offending value ("" is the
	// whole document). For a missing required property it points at the
	// property that should be there.
	Path string `json:"path"`
	// Keyword is the JSON Schema keyword that failed (type, required,
	// minimum, ...) or, for malformed JSON, the parse problem
	// (syntax, duplicate_key, invalid_utf8, number_range, too_deep, empty).
	Keyword string `json:"keyword"`
	// Message says what was wrong, in English.
	Message string `json:"message"`
}

// Failure is a value that did not pass. It is an error.
type Failure struct {
	// Code is CodeMalformedJSON or CodeSchemaViolation.
	Code string `json:"code"`
	// Message summarises the failure.
	Message string `json:"message"`
	// Violations lists every problem found, sorted by path, at most
	// MaxViolations.
	Violations []Violation `json:"violations,omitempty"`
}

// Error is the failure's message.
func (f *Failure) Error() string { return f.Message }

var printer = message.NewPrinter(language.English)

// Malformed describes a value that is not strict JSON, from a jsonvalue.Parse error.
func Malformed(err error) *Failure {
	v := Violation{Keyword: jsonvalue.CodeSyntax, Message: err.Error()}
	if je, ok := err.(*jsonvalue.Error); ok {
		v = Violation{Path: je.Pointer, Keyword: je.Code, Message: fmt.Sprintf("%s (byte %d)", je.Msg, je.Offset)}
	}
	return &Failure{
		Code:       CodeMalformedJSON,
		Message:    "value is not valid JSON: " + err.Error(),
		Violations: []Violation{v},
	}
}

func violations(subject string, version int, ve *jsonschema.ValidationError) *Failure {
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= MaxViolations {
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		base := pointer(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, p := range k.Missing {
				out = append(out, Violation{Path: base + "/" + escapeToken(p), Keyword: "required", Message: fmt.Sprintf("missing required property %q", p)})
			}
			return
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, Violation{Path: base + "/" + escapeToken(p), Keyword: "additionalProperties", Message: fmt.Sprintf("property %q is not allowed", p)})
			}
			return
		case *kind.FalseSchema:
			kw, msg := falseSchema(e)
			out = append(out, Violation{Path: base, Keyword: kw, Message: msg})
			return
		}
		kw := ""
		if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
			kw = kp[len(kp)-1]
		}
		out = append(out, Violation{Path: base, Keyword: kw, Message: e.ErrorKind.LocalizedString(printer)})
	}
	walk(ve)
	if len(out) > MaxViolations {
		out = out[:MaxViolations]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	msg := fmt.Sprintf("value violates %s version %d", subject, version)
	if subject == "" {
		msg = fmt.Sprintf("value violates schema version %d", version)
	}
	if len(out) > 0 {
		where := out[0].Path
		if where == "" {
			where = "(root)"
		}
		msg += fmt.Sprintf(": at %s: %s", where, out[0].Message)
		if len(out) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(out)-1)
		}
	}
	return &Failure{Code: CodeSchemaViolation, Message: msg, Violations: out}
}

// falseSchema names the keyword whose value false refused e's instance (its
// schema location ends in it, as in "#/unevaluatedProperties"), and says
// what was refused: jsonschema only reports "false schema".
func falseSchema(e *jsonschema.ValidationError) (keyword, msg string) {
	_, frag, _ := strings.Cut(e.SchemaURL, "#")
	toks := strings.Split(frag, "/")
	kw := toks[len(toks)-1]
	if len(toks) > 1 {
		switch toks[len(toks)-2] {
		case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
			kw = "" // a schema named kw, not the keyword kw
		}
	}
	tok := ""
	if n := len(e.InstanceLocation); n > 0 {
		tok = e.InstanceLocation[n-1]
	}
	switch kw {
	case "unevaluatedProperties", "additionalProperties":
		return kw, fmt.Sprintf("property %q is not allowed (%s: false)", tok, kw)
	case "unevaluatedItems", "additionalItems", "items":
		return kw, fmt.Sprintf("item %s is not allowed (%s: false)", tok, kw)
	}
	return "false", "no value is allowed here (the schema is false)"
}

// pointer renders instance location tokens as an RFC 6901 JSON pointer.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}
