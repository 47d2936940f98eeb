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
	"github.com/eventguard/eventguard/internal/quote"
)

// Failure codes. They appear in HTTP and gRPC error bodies and in the
// eventguard.dlq.reason header, so they never change silently.
const (
	// CodeMalformedJSON: the value is not one strict JSON text.
	CodeMalformedJSON = "malformed_json"
	// CodeSchemaViolation: the value is JSON but breaks its schema.
	CodeSchemaViolation = "schema_violation"
	// CodeMalformedPayload: a consumed Avro or Protobuf payload (what
	// follows the wire-format header) does not decode against the schema
	// its id names: truncated, trailing bytes, an index out of range,
	// invalid UTF-8, beyond the decoder's bounds. A dead-letter reason.
	CodeMalformedPayload = "malformed_payload"
)

// MaxViolations bounds the violations reported for one value.
const MaxViolations = 100

// MaxMessageBytes bounds a violation's message. A value quoted in it (a
// string that is not a valid date-time, that does not match a pattern) is
// cut to quote.MaxBytes with its length; a property name in a path to
// maxTokenBytes. So one violation is at most about 1 KiB, and a failure
// with MaxViolations of them about 100 KiB, whatever the value's size.
const MaxMessageBytes = 512

// maxTokenBytes bounds one token of a violation's path (a property name
// taken from the value).
const maxTokenBytes = 128

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
	// Code is CodeMalformedJSON, CodeSchemaViolation or
	// CodeMalformedPayload.
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
	v := Violation{Keyword: jsonvalue.CodeSyntax, Message: quote.Cut(err.Error(), MaxMessageBytes)}
	if je, ok := err.(*jsonvalue.Error); ok {
		v = Violation{Path: quote.Cut(je.Pointer, MaxMessageBytes), Keyword: je.Code, Message: quote.Cut(fmt.Sprintf("%s (byte %d)", je.Msg, je.Offset), MaxMessageBytes)}
	}
	return &Failure{
		Code:       CodeMalformedJSON,
		Message:    "value is not valid JSON: " + quote.Cut(err.Error(), MaxMessageBytes),
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
				out = append(out, Violation{Path: base + "/" + escapeToken(p), Keyword: "required", Message: "missing required property " + quote.String(p)})
			}
			return
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, Violation{Path: base + "/" + escapeToken(p), Keyword: "additionalProperties", Message: "property " + quote.String(p) + " is not allowed"})
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
		out = append(out, Violation{Path: base, Keyword: kw, Message: describe(e.ErrorKind)})
	}
	walk(ve)
	if len(out) > MaxViolations {
		out = out[:MaxViolations]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return violationFailure(subject, version, out)
}

// violationFailure is the schema_violation failure listing out (sorted by
// path, at most MaxViolations).
func violationFailure(subject string, version int, out []Violation) *Failure {
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

// describe renders what a keyword found wrong, quoting at most a bounded
// prefix of the offending value (jsonschema's own messages quote it whole).
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Format:
		msg := boundedValue(k.Got) + " is not valid " + k.Want
		if k.Err != nil {
			// The reason, unless it is long: it may repeat the value.
			if why := k.Err.Error(); len(why) <= 2*quote.MaxBytes {
				msg += ": " + why
			}
		}
		return msg
	case *kind.Pattern:
		return quote.String(k.Got) + " does not match pattern " + quote.String(k.Want)
	case *kind.PropertyNames:
		return "invalid property name " + quote.String(k.Property)
	}
	return quote.Cut(k.LocalizedString(printer), MaxMessageBytes)
}

// boundedValue renders a JSON value for a message: a string quoted and
// cut, a number or a literal as it is, a container as "value".
func boundedValue(v any) string {
	switch v := v.(type) {
	case string:
		return quote.String(v)
	case []any, map[string]any:
		return "value"
	default:
		return quote.Cut(fmt.Sprint(v), quote.MaxBytes)
	}
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
		return kw, fmt.Sprintf("property %s is not allowed (%s: false)", quote.String(tok), kw)
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

// escapeToken renders one pointer token (RFC 6901 escapes), cut to
// maxTokenBytes: a property name comes from the value and may be huge.
func escapeToken(t string) string {
	t = quote.Cut(t, maxTokenBytes)
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}
