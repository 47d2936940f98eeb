package contracts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// Local serves a Set as a read-only registry, numbering schema ids in
// registration order, so contracts can be compiled and checked offline.
type Local struct {
	byID  map[int]*Version
	ids   map[*Version]int
	bySub map[string][]*Version
}

var _ validate.Registry = (*Local)(nil)

// Local returns the in-memory registry view of s.
func (s *Set) Local() (*Local, error) {
	ordered, err := s.Ordered()
	if err != nil {
		return nil, err
	}
	l := &Local{byID: map[int]*Version{}, ids: map[*Version]int{}, bySub: map[string][]*Version{}}
	for i, v := range ordered {
		l.byID[i+1] = v
		l.ids[v] = i + 1
		l.bySub[v.Subject] = append(l.bySub[v.Subject], v)
	}
	return l, nil
}

func notFound(msg string) error {
	return &sr.ResponseError{StatusCode: 404, ErrorCode: 40403, Message: msg}
}

func schemaOf(v *Version) sr.Schema {
	s := sr.Schema{Schema: v.Schema, Type: v.Type, References: v.References}
	if len(v.Rules) > 0 {
		s.SchemaRuleSet, s.SchemaMetadata, _ = registryRules(v.Rules) // checked when the folder was loaded
	}
	return s
}

// SchemaByID implements validate.Registry.
func (l *Local) SchemaByID(_ context.Context, id int) (sr.Schema, error) {
	v, ok := l.byID[id]
	if !ok {
		return sr.Schema{}, notFound(fmt.Sprintf("schema %d not found", id))
	}
	return schemaOf(v), nil
}

// SchemaByVersion implements validate.Registry; version -1 is the latest.
func (l *Local) SchemaByVersion(_ context.Context, subject string, version int) (sr.SubjectSchema, error) {
	vs := l.bySub[subject]
	if len(vs) == 0 {
		return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40401, Message: fmt.Sprintf("subject %q not found", subject)}
	}
	if version == -1 {
		version = len(vs)
	}
	if version < 1 || version > len(vs) {
		return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40402, Message: fmt.Sprintf("version %d of subject %q not found", version, subject)}
	}
	v := vs[version-1]
	return sr.SubjectSchema{Subject: subject, Version: version, ID: l.ids[v], Schema: schemaOf(v)}, nil
}

// SchemaVersionsByID implements validate.Registry.
func (l *Local) SchemaVersionsByID(_ context.Context, id int) ([]sr.SubjectVersion, error) {
	v, ok := l.byID[id]
	if !ok {
		return nil, notFound(fmt.Sprintf("schema %d not found", id))
	}
	return []sr.SubjectVersion{{Subject: v.Subject, Version: v.Version}}, nil
}

// Outcome is the check of one golden payload.
type Outcome struct {
	Subject string
	Version int
	File    string
	// WantValid says which folder the payload is in.
	WantValid bool
	// Schema marks an outcome about the version's schema itself, which
	// could not be resolved (Err says why): File is its schema.json, the
	// version's golden payloads were not checked, WantValid means nothing.
	Schema bool
	// Failure is the validation result (nil: the payload passed).
	Failure *validate.Failure
	// Err is set when the schema could not be used (Schema), or the
	// golden payload is not JSON.
	Err error
}

// OK reports whether the payload behaved as its folder says.
func (o Outcome) OK() bool {
	return o.Err == nil && (o.Failure == nil) == o.WantValid
}

// Check compiles every schema through res (a resolver over Local, or over a
// real registry to check what is deployed) and checks every golden payload
// as the produce path does (validate.Schema.EncodeDoc: JSON Schema
// validation, or encoding to Avro or Protobuf, the first message of a
// .proto): valid/ must pass, invalid/ must fail, and every golden payload
// must be JSON (a payload in invalid/ that is not JSON would fail for that
// alone and test nothing). A version whose schema cannot be resolved (not
// registered, not usable) is one failed outcome for its schema file.
// Outcomes are sorted by file.
func (s *Set) Check(ctx context.Context, res *validate.Resolver) []Outcome {
	var out []Outcome
	for _, sub := range s.Subjects {
		for _, v := range sub.Versions {
			sch, err := res.ByVersion(ctx, v.Subject, v.Version)
			if err != nil {
				n := len(v.Valid) + len(v.Invalid)
				if errors.Is(err, validate.ErrNotFound) {
					err = fmt.Errorf("subject %q version %d is not registered (%d golden payloads not checked): %w", v.Subject, v.Version, n, err)
				} else {
					err = fmt.Errorf("subject %q version %d cannot be used (%d golden payloads not checked): %w", v.Subject, v.Version, n, err)
				}
				out = append(out, Outcome{Subject: v.Subject, Version: v.Version, File: path.Join(v.Subject, strconv.Itoa(v.Version), "schema.json"), Schema: true, Err: err})
				continue
			}
			add := func(files map[string][]byte, want bool) {
				for f, b := range files {
					o := Outcome{Subject: v.Subject, Version: v.Version, File: f, WantValid: want}
					if !json.Valid(b) {
						o.Err = fmt.Errorf("%s is not JSON: a golden payload must be JSON, an invalid one too (else it fails for that alone and tests nothing)", f)
					} else {
						o.Failure = checkGolden(sch, b)
					}
					out = append(out, o)
				}
			}
			add(v.Valid, true)
			add(v.Invalid, false)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// checkGolden decodes a golden payload strictly and encodes it as produce
// does, keeping only the verdict.
func checkGolden(sch *validate.Schema, b []byte) *validate.Failure {
	doc, err := jsonvalue.ParseDoc(b, jsonvalue.Limits{})
	if err != nil {
		return validate.Malformed(err)
	}
	_, f := sch.EncodeDoc(nil, doc, b, "")
	return f
}
