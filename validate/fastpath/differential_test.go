package fastpath_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/fastpath"
)

// TestGoldens: every example schema is supported by the fast engine, and
// every golden payload gets the reference's verdict, decided (never
// Unknown), and the one its folder says.
func TestGoldens(t *testing.T) {
	n := 0
	for _, ex := range loadExamples(t) {
		if ex.fast == nil {
			t.Errorf("%s: not supported by the fast engine: %v", ex.name, ex.unsupported)
			continue
		}
		for _, set := range []struct {
			goldens []golden
			want    fastpath.Result
		}{{ex.valid, fastpath.Valid}, {ex.invalid, fastpath.Invalid}} {
			for _, g := range set.goldens {
				doc := parse(t, string(g.data))
				ref := refVerdict(ex.ref, doc)
				got := ex.fast.CheckValue(doc)
				if got != set.want || (got == fastpath.Valid) != ref {
					t.Errorf("%s %s: fast %v, reference valid=%v, folder says %v", ex.name, g.file, got, ref, set.want)
				}
				n++
			}
		}
	}
	t.Logf("%d golden payloads: all decided, all as the reference", n)
}

func syntheticEngines(t *testing.T) []*engines {
	var out []*engines
	for _, s := range syntheticSchemas {
		out = append(out, compileText(t, s.name, s.schema))
	}
	return out
}

// corpus is every document the table tests use: trickyDocs and the
// goldens.
func corpus(t *testing.T) []string {
	docs := append([]string(nil), trickyDocs...)
	for _, ex := range loadExamples(t) {
		for _, g := range append(append([]golden(nil), ex.valid...), ex.invalid...) {
			docs = append(docs, string(g.data))
		}
	}
	return docs
}

// TestSynthetic runs every synthetic schema (and every example schema)
// against every document of the corpus.
func TestSynthetic(t *testing.T) {
	docs := corpus(t)
	all := syntheticEngines(t)
	for _, ex := range loadExamples(t) {
		all = append(all, ex.engines)
	}
	var tl tally
	unknownBy := map[string]int{}
	for _, e := range all {
		if e.fast == nil {
			t.Logf("%s: left to the reference: %v", e.name, e.unsupported)
		}
		for _, d := range docs {
			before := tl.unknown
			e.compare(t, &tl, parse(t, d), d)
			if tl.unknown != before {
				unknownBy[e.name+" "+d]++
			}
		}
	}
	t.Logf("%d schemas × %d documents: %d agree (%d valid), %d undecided (left to the reference), %d on unsupported schemas", len(all), len(docs), tl.agree, tl.refValid, tl.unknown, tl.unsupported)
	var keys []string
	for k := range unknownBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("undecided: %s", k)
	}
}

// TestUnsupported: what the fast engine leaves to the reference.
func TestUnsupported(t *testing.T) {
	for _, c := range []struct{ name, schema string }{
		{"in-place cycle", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},"b":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"string"}]}},"$ref":"#/$defs/a"}`},
		{"self ref", `{"$ref":"#"}`},
		{"dynamicRef", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$dynamicAnchor":"n","$dynamicRef":"#n"}`},
		{"recursiveRef", `{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"properties":{"a":{"$recursiveRef":"#"}}}`},
		{"2020-12 metaschema", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"https://json-schema.org/draft/2020-12/schema"}`},
	} {
		e := compileText(t, c.name, c.schema)
		if e.fast != nil || !errors.Is(e.unsupported, fastpath.ErrUnsupported) {
			t.Errorf("%s: compiled by the fast engine (err %v), want ErrUnsupported", c.name, e.unsupported)
		}
	}
	// A cycle through a child instance is fine.
	e := compileText(t, "tree", `{"properties":{"children":{"items":{"$ref":"#"}}}}`)
	if e.fast == nil {
		t.Errorf("tree: %v", e.unsupported)
	}
}

// metaschemaEngines compiles the draft-04, -06 and -07 metaschemas: large
// real schemas ($ref to "#", definitions, dependencies, enums of type
// names, anyOf, uniqueItems, defaults).
func metaschemaEngines(t testing.TB) []*engines {
	var out []*engines
	for _, u := range []string{
		"http://json-schema.org/draft-04/schema",
		"http://json-schema.org/draft-06/schema",
		"http://json-schema.org/draft-07/schema",
		"https://json-schema.org/draft/2019-09/schema",
		"https://json-schema.org/draft/2020-12/schema",
	} {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		s, err := c.Compile(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		out = append(out, newEngines(u, s))
	}
	return out
}

// TestMetaschemas validates every schema text known to these tests (the
// synthetic ones, the examples', the Extra-Test-Suite's) and the corpus
// against the metaschemas.
func TestMetaschemas(t *testing.T) {
	var docs []string
	for _, s := range syntheticSchemas {
		docs = append(docs, s.schema)
	}
	_, local := exampleSet(t)
	for id := 1; ; id++ {
		s, err := local.SchemaByID(t.Context(), id)
		if err != nil {
			break
		}
		if s.Type == sr.TypeProtobuf {
			continue // .proto text is not a JSON document
		}
		docs = append(docs, s.Schema)
	}
	if dir := extraSuiteDir(t); dir != "" {
		for _, f := range suiteFiles(t, dir) {
			for _, g := range readSuiteFile(t, f) {
				b, _ := json.Marshal(g.Schema)
				docs = append(docs, string(b))
			}
		}
	}
	docs = append(docs, corpus(t)...)
	var tl tally
	for _, e := range metaschemaEngines(t) {
		if e.fast == nil {
			t.Logf("%s: left to the reference: %v", e.name, e.unsupported)
		}
		for _, d := range docs {
			e.compare(t, &tl, parse(t, d), d)
		}
	}
	t.Logf("metaschemas × %d documents: %d agree (%d valid), %d undecided, %d on unsupported metaschemas", len(docs), tl.agree, tl.refValid, tl.unknown, tl.unsupported)
}

// The Extra-Test-Suite of jsonschema v6, read where the module cache has it
// (it is part of the module), and any copy of the JSON-Schema-Test-Suite
// named by $FASTPATH_TEST_SUITE (same layout: tests/<draft>/*.json and
// remotes/). Verdicts are compared with the reference, not with the suite's
// "valid" (where jsonschema and the suite disagree, the reference wins).

func extraSuiteDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/santhosh-tekuri/jsonschema/v6").Output()
	if err != nil {
		return ""
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata", "Extra-Test-Suite")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

type suiteGroup struct {
	Description string
	Schema      any
	Tests       []struct {
		Description string
		Data        any
	}
}

func suiteFiles(t *testing.T, dir string) []string {
	var files []string
	filepath.WalkDir(filepath.Join(dir, "tests"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

func readSuiteFile(t *testing.T, path string) []suiteGroup {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var groups []suiteGroup
	if err := dec.Decode(&groups); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return groups
}

// remotesLoader serves the suite's remotes/ for http://localhost:1234/.
type remotesLoader string

func (dir remotesLoader) Load(u string) (any, error) {
	rest, ok := strings.CutPrefix(u, "http://localhost:1234/")
	if !ok {
		return nil, errors.New("not a suite remote: " + u)
	}
	f, err := os.Open(filepath.Join(string(dir), "remotes", filepath.FromSlash(rest)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func runSuite(t *testing.T, dir string) {
	drafts := map[string]*jsonschema.Draft{
		"draft4": jsonschema.Draft4, "draft6": jsonschema.Draft6, "draft7": jsonschema.Draft7,
		"draft2019-09": jsonschema.Draft2019, "draft2020-12": jsonschema.Draft2020,
	}
	var tl tally
	groups, refused, uncompiled := 0, 0, 0
	for _, f := range suiteFiles(t, dir) {
		rel, _ := filepath.Rel(filepath.Join(dir, "tests"), f)
		draft := drafts[strings.Split(filepath.ToSlash(rel), "/")[0]]
		if draft == nil {
			continue // draft3
		}
		for _, g := range readSuiteFile(t, f) {
			c := jsonschema.NewCompiler()
			c.DefaultDraft(draft)
			c.UseLoader(remotesLoader(dir))
			if strings.Contains(rel, "optional") {
				c.AssertFormat()
			}
			const u = "http://testsuites.test/schema.json"
			if err := c.AddResource(u, g.Schema); err != nil {
				uncompiled++
				continue
			}
			s, err := c.Compile(u)
			if err != nil {
				uncompiled++
				continue
			}
			groups++
			e := newEngines(rel+": "+g.Description, s)
			if e.fast == nil {
				refused++
				t.Logf("%s: left to the reference: %v", e.name, e.unsupported)
			}
			for _, tc := range g.Tests {
				// Through the strict decoder's value form, as in production.
				b, err := json.Marshal(tc.Data)
				if err != nil {
					t.Fatal(err)
				}
				doc, err := jsonvalue.Parse(b, jsonvalue.Limits{})
				if err != nil {
					continue // e.g. a duplicate key the strict decoder refuses
				}
				e.compare(t, &tl, doc, tc.Description)
			}
		}
	}
	t.Logf("%s: %d schemas compiled (%d did not compile), %d left to the reference; tests: %d agree (%d valid), %d undecided, %d on unsupported schemas",
		dir, groups, uncompiled, refused, tl.agree, tl.refValid, tl.unknown, tl.unsupported)
}

func TestExtraTestSuite(t *testing.T) {
	dir := extraSuiteDir(t)
	if dir == "" {
		t.Skip("jsonschema v6's Extra-Test-Suite is not in the module cache")
	}
	runSuite(t, dir)
}

func TestJSONSchemaTestSuite(t *testing.T) {
	dir := os.Getenv("FASTPATH_TEST_SUITE")
	if dir == "" {
		t.Skip("set FASTPATH_TEST_SUITE to a JSON-Schema-Test-Suite checkout")
	}
	runSuite(t, dir)
}

// TestConcurrent: a Validator is shared by every goroutine validating
// against its schema (run with -race).
func TestConcurrent(t *testing.T) {
	exs := loadExamples(t)
	type job struct {
		e    *example
		doc  any
		want fastpath.Result
	}
	var jobs []job
	for _, ex := range exs {
		for _, g := range ex.valid {
			jobs = append(jobs, job{ex, parse(t, string(g.data)), fastpath.Valid})
		}
		for _, g := range ex.invalid {
			jobs = append(jobs, job{ex, parse(t, string(g.data)), fastpath.Invalid})
		}
	}
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				for _, j := range jobs {
					if got := j.e.fast.CheckValue(j.doc); got != j.want {
						t.Errorf("%s: %v, want %v", j.e.name, got, j.want)
						return
					}
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}
