package validate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
)

// Resources are the documents one registered schema compiles from, added
// under the URLs the Resolver uses: the schema itself and every registry
// reference it names, transitively. Tools that reason about a schema's
// structure (package compat) read them, and compile parts of them with
// Compiler, so that they see exactly what validation sees.
type Resources struct {
	// Main is the URL the schema itself is added under.
	Main string
	// Docs maps every URL to its decoded document (jsonschema.UnmarshalJSON:
	// numbers are json.Number). A reference added under two URLs appears
	// twice, with the same document.
	Docs map[string]any
	// Origin maps every URL of Docs to the subject and version it came
	// from; the main schema's is the zero SubjectVersion unless set by
	// the caller.
	Origin map[string]SubjectVersion
}

// LoadResources loads schema sch (registered with id, 0 when it is not
// registered yet) and its references from reg, as the Resolver would before
// compiling it.
func LoadResources(ctx context.Context, reg Registry, id int, sch sr.Schema) (*Resources, error) {
	if sch.Type != sr.TypeJSON {
		return nil, fmt.Errorf("%w: schema is %s; not JSON Schema", ErrBadSchema, sch.Type)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(sch.Schema))
	if err != nil {
		return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrBadSchema, err)
	}
	res := &Resources{Main: schemaBase + strconv.Itoa(id) + ".json", Docs: map[string]any{}, Origin: map[string]SubjectVersion{}}
	res.Docs[res.Main] = doc
	base := res.Main
	if m, ok := doc.(map[string]any); ok {
		if s, ok := m["$id"].(string); ok && s != "" {
			base = s
		}
	}
	seen := map[versionKey]bool{}
	var add func(refs []sr.SchemaReference, depth int) error
	add = func(refs []sr.SchemaReference, depth int) error {
		if depth > 32 {
			return fmt.Errorf("%w: references nest deeper than 32", ErrBadSchema)
		}
		for _, ref := range refs {
			k := versionKey{ref.Subject, ref.Version}
			if seen[k] {
				continue
			}
			seen[k] = true
			ss, err := reg.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, classify(err))
			}
			rdoc, err := jsonschema.UnmarshalJSON(strings.NewReader(ss.Schema.Schema))
			if err != nil {
				return fmt.Errorf("%w: reference %q is not JSON: %v", ErrBadSchema, ref.Name, err)
			}
			for _, u := range refURLs(base, ref.Name) {
				res.Docs[u] = rdoc
				res.Origin[u] = SubjectVersion{Subject: ss.Subject, Version: ss.Version}
			}
			if err := add(ss.References, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(sch.References, 0); err != nil {
		return nil, err
	}
	return res, nil
}

// Compiler returns a jsonschema compiler set up as the Resolver's (formats
// asserted, draft 7 unless the schema says otherwise, no URL ever fetched)
// holding every document of r. Compile r.Main, or a location inside any
// document ("<url>#/properties/a"), with it. A compiler is not safe for
// concurrent use.
func (r *Resources) Compiler() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(refusingLoader{})
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft7)
	for u, d := range r.Docs {
		if err := c.AddResource(u, d); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadSchema, u, err)
		}
	}
	return c, nil
}
