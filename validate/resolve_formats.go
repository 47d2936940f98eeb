package validate

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/validate/avro"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// maxRefDepth bounds how deeply references nest, and maxRefs how many
// schemas one schema may pull in through them.
const (
	maxRefDepth = 32
	maxRefs     = 1000
)

// refSchema is a referenced schema: its reference name (an Avro full name
// or a Protobuf import path) and text.
type refSchema struct {
	name   string
	schema string
}

// compileOther compiles an Avro or Protobuf schema with its references,
// fetched from the registry (each subject version once).
func (r *Resolver) compileOther(ctx context.Context, id int, sch sr.Schema) (*Schema, error) {
	var refs []refSchema
	if err := r.collectRefs(ctx, sch.References, map[versionKey]bool{}, &refs, 0); err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	s := &Schema{ID: id, Metadata: sch.SchemaMetadata, RuleSet: sch.SchemaRuleSet, format: sch.Type, limits: r.opts.Limits}
	switch sch.Type {
	case sr.TypeAvro:
		texts := make([]string, len(refs))
		for i, ref := range refs {
			texts[i] = ref.schema
		}
		a, err := avro.Compile(sch.Schema, texts)
		if err != nil {
			return nil, fmt.Errorf("%w: Avro schema id %d does not compile: %v", ErrBadSchema, id, err)
		}
		s.avro = a
	case sr.TypeProtobuf:
		files := make(map[string]string, len(refs))
		for _, ref := range refs {
			files[ref.name] = ref.schema
		}
		p, err := protobuf.Compile(ctx, sch.Schema, files)
		if err != nil {
			return nil, fmt.Errorf("%w: Protobuf schema id %d does not compile: %v", ErrBadSchema, id, err)
		}
		s.proto = p
	}
	return s, nil
}

// collectRefs appends refs and, before each, the schemas it references in
// turn (depth first, each subject version once): the order in which Avro
// named types must be defined.
func (r *Resolver) collectRefs(ctx context.Context, refs []sr.SchemaReference, seen map[versionKey]bool, out *[]refSchema, depth int) error {
	if depth > maxRefDepth {
		return fmt.Errorf("%w: references nest deeper than %d", ErrBadSchema, maxRefDepth)
	}
	for _, ref := range refs {
		k := versionKey{ref.Subject, ref.Version}
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(seen) > maxRefs {
			return fmt.Errorf("%w: more than %d referenced schemas", ErrBadSchema, maxRefs)
		}
		if ref.Name == protobuf.ValidateImport {
			continue // built in: protovalidate's own descriptor
		}
		ss, err := r.reg.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, classify(err))
		}
		if err := r.collectRefs(ctx, ss.References, seen, out, depth+1); err != nil {
			return err
		}
		*out = append(*out, refSchema{name: ref.Name, schema: ss.Schema.Schema})
	}
	return nil
}
