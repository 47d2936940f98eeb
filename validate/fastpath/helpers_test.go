package fastpath_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/fastpath"
)

// engines is one schema compiled twice: by jsonschema v6 (the reference)
// and, from that, by the fast engine (nil when unsupported).
type engines struct {
	name string
	ref  *jsonschema.Schema
	fast *fastpath.Validator
	// why the fast engine refused the schema, if it did
	unsupported error
}

func newEngines(name string, ref *jsonschema.Schema) *engines {
	e := &engines{name: name, ref: ref}
	e.fast, e.unsupported = fastpath.Compile(ref)
	return e
}

// refusingLoader mirrors validate's: no URL is ever fetched.
type refusingLoader struct{}

func (refusingLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%q is not a registry reference", u)
}

// newCompiler is set up as validate.Resolver.compile sets up its compiler.
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.UseLoader(refusingLoader{})
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft7)
	return c
}

// compileText compiles one schema document as the resolver would (no
// references).
func compileText(tb testing.TB, name, text string) *engines {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	c := newCompiler()
	u := schemaBase + "1.json"
	if err := c.AddResource(u, doc); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	s, err := c.Compile(u)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return newEngines(name, s)
}

// exampleSet is examples/contracts as a local registry.
func exampleSet(tb testing.TB) (*contracts.Set, *contracts.Local) {
	tb.Helper()
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		tb.Fatal(err)
	}
	local, err := set.Local()
	if err != nil {
		tb.Fatal(err)
	}
	return set, local
}

// example is one subject version of examples/contracts with its goldens.
type example struct {
	*engines
	valid, invalid []golden
}

type golden struct {
	file string
	data []byte
}

func sortedGoldens(m map[string][]byte) []golden {
	var out []golden
	for f, d := range m {
		out = append(out, golden{f, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].file < out[j].file })
	return out
}

// loadExamples compiles every example schema exactly as
// validate.Resolver.compile does: the main schema under
// mem://registry/schemas/<id>.json, registry references added as
// resources under the URLs refURLs gives.
func loadExamples(tb testing.TB) []*example {
	tb.Helper()
	set, local := exampleSet(tb)
	ctx := context.Background()
	var out []*example
	for _, subj := range set.Subjects {
		for _, v := range subj.Versions {
			if v.Type != sr.TypeJSON {
				continue // Avro and Protobuf examples: not the fast engine's
			}
			ss, err := local.SchemaByVersion(ctx, v.Subject, v.Version)
			if err != nil {
				tb.Fatal(err)
			}
			name := fmt.Sprintf("%s-v%d", v.Subject, v.Version)
			s, err := compileLikeResolver(ctx, local, ss.ID, ss.Schema)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			out = append(out, &example{
				engines: newEngines(name, s),
				valid:   sortedGoldens(v.Valid),
				invalid: sortedGoldens(v.Invalid),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

const schemaBase = "mem://registry/schemas/"

func compileLikeResolver(ctx context.Context, reg *contracts.Local, id int, sch sr.Schema) (*jsonschema.Schema, error) {
	c := newCompiler()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(sch.Schema))
	if err != nil {
		return nil, err
	}
	mainURL := schemaBase + strconv.Itoa(id) + ".json"
	if err := c.AddResource(mainURL, doc); err != nil {
		return nil, err
	}
	base := mainURL
	if m, ok := doc.(map[string]any); ok {
		if s, ok := m["$id"].(string); ok && s != "" {
			base = s
		}
	}
	seen := map[string]bool{}
	var add func(refs []sr.SchemaReference) error
	add = func(refs []sr.SchemaReference) error {
		for _, ref := range refs {
			k := ref.Subject + "\x00" + strconv.Itoa(ref.Version)
			if seen[k] {
				continue
			}
			seen[k] = true
			ss, err := reg.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return err
			}
			rdoc, err := jsonschema.UnmarshalJSON(strings.NewReader(ss.Schema.Schema))
			if err != nil {
				return err
			}
			for _, u := range refURLs(base, ref.Name) {
				if err := c.AddResource(u, rdoc); err != nil {
					return err
				}
			}
			if err := add(ss.References); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(sch.References); err != nil {
		return nil, err
	}
	return c.Compile(mainURL)
}

// refURLs is validate's.
func refURLs(base, name string) []string {
	u, err := url.Parse(name)
	if err == nil && u.IsAbs() {
		return []string{name}
	}
	urls := []string{}
	if b, err := url.Parse(base); err == nil {
		urls = append(urls, b.ResolveReference(u).String())
	}
	if b, _ := url.Parse(schemaBase); b != nil && base != schemaBase {
		if s := b.ResolveReference(u).String(); len(urls) == 0 || urls[0] != s {
			urls = append(urls, s)
		}
	}
	return urls
}

// refVerdict runs the reference: valid, or not (an error or a panic).
func refVerdict(s *jsonschema.Schema, doc any) (valid bool) {
	defer func() {
		if recover() != nil {
			valid = false
		}
	}()
	return s.Validate(doc) == nil
}

// tally counts differential outcomes.
type tally struct {
	agree, unknown, unsupported int
	refValid                    int // of the decided ones, how many the reference accepts
}

// compare checks one document against one schema on both engines and
// reports a disagreement. Unknown (the fast engine leaving the decision to
// the reference) is allowed, and counted.
func (e *engines) compare(tb testing.TB, tl *tally, doc any, label string) {
	tb.Helper()
	if e.fast == nil {
		tl.unsupported++
		return
	}
	want := refVerdict(e.ref, doc)
	got := e.fast.CheckValue(doc)
	switch {
	case got == fastpath.Unknown:
		tl.unknown++
	case (got == fastpath.Valid) != want:
		tb.Errorf("%s: %s: fast engine says %v, reference says valid=%v", e.name, label, got, want)
	default:
		tl.agree++
		if want {
			tl.refValid++
		}
	}
}

// parse decodes a test document. Numbers beyond a 64-bit float (1e400)
// are let through: eventguard's decoder refuses them, but the engines are
// still compared on them.
func parse(tb testing.TB, text string) any {
	tb.Helper()
	v, err := jsonvalue.Parse([]byte(text), jsonvalue.Limits{BeyondFloat64: true})
	if err != nil {
		tb.Fatalf("parse %.60q: %v", text, err)
	}
	return v
}
