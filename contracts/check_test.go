package contracts_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/validate"
)

// TestCheckGoldenNotJSON: a golden payload that is not JSON fails, naming
// the file, in invalid/ too (where it would otherwise "fail as expected"
// and test nothing); a duplicate key is JSON and stays a legitimate
// invalid golden (issue 10, item 16).
func TestCheckGoldenNotJSON(t *testing.T) {
	set, err := contracts.Load(fstest.MapFS{
		"things-value/1/schema.json":             {Data: []byte(`{"type":"object","required":["id"]}`)},
		"things-value/1/valid/ok.json":           {Data: []byte(`{"id":1}`)},
		"things-value/1/valid/trailing.json":     {Data: []byte(`{"id":1,}`)},
		"things-value/1/invalid/trailing.json":   {Data: []byte(`{"name":"x",}`)},
		"things-value/1/invalid/missing-id.json": {Data: []byte(`{"name":"x"}`)},
		"things-value/1/invalid/duplicate.json":  {Data: []byte(`{"id":1,"id":2}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]contracts.Outcome{}
	for _, o := range set.Check(context.Background(), validate.NewResolver(local, validate.Options{})) {
		got[o.File] = o
	}
	for file, wantOK := range map[string]bool{
		"things-value/1/valid/ok.json":           true,
		"things-value/1/valid/trailing.json":     false,
		"things-value/1/invalid/trailing.json":   false,
		"things-value/1/invalid/missing-id.json": true,
		"things-value/1/invalid/duplicate.json":  true,
	} {
		o, ok := got[file]
		if !ok {
			t.Errorf("%s: not checked", file)
			continue
		}
		if o.OK() != wantOK {
			t.Errorf("%s: ok=%v (failure %v, err %v), want %v", file, o.OK(), o.Failure, o.Err, wantOK)
		}
		if !wantOK && (o.Err == nil || !strings.Contains(o.Err.Error(), file+" is not JSON")) {
			t.Errorf("%s: err %v, want it to name the file and say it is not JSON", file, o.Err)
		}
	}
}

// TestCheckSubjectNotRegistered: against a registry that lacks a subject,
// each version of it is one failed outcome for its schema.json saying it
// is not registered, not a failure per golden payload (issue 10, item 16).
func TestCheckSubjectNotRegistered(t *testing.T) {
	registered, err := contracts.Load(fstest.MapFS{"other-value/1/schema.json": {Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registered.Local()
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(fstest.MapFS{
		"things-value/1/schema.json":        {Data: []byte(`{}`)},
		"things-value/1/valid/a.json":       {Data: []byte(`{}`)},
		"things-value/1/invalid/b.json":     {Data: []byte(`1`)},
		"things-value/2/schema.json":        {Data: []byte(`{}`)},
		"other-value/1/schema.json":         {Data: []byte(`{}`)},
		"other-value/1/valid/anything.json": {Data: []byte(`{"x":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := set.Check(context.Background(), validate.NewResolver(reg, validate.Options{}))
	var files []string
	for _, o := range outcomes {
		files = append(files, o.File)
		if o.Subject != "things-value" {
			if !o.OK() {
				t.Errorf("%s: %v %v", o.File, o.Failure, o.Err)
			}
			continue
		}
		if !o.Schema || o.OK() || !strings.Contains(o.Err.Error(), `subject "things-value" version `+string(rune('0'+o.Version))+" is not registered") {
			t.Errorf("%s: schema=%v err=%v, want a schema outcome saying the version is not registered", o.File, o.Schema, o.Err)
		}
	}
	if want := "other-value/1/valid/anything.json things-value/1/schema.json things-value/2/schema.json"; strings.Join(files, " ") != want {
		t.Errorf("outcomes for %v, want %s", files, want)
	}
}

// TestReferencesJSON: references.json entries need name, subject and
// version, and nothing else (a misspelt field would leave a reference
// without its subject or version).
func TestReferencesJSON(t *testing.T) {
	for body, want := range map[string]string{
		`[{"name":"e.json","subject":"env","version":1}]`: "",
		`[{"name":"e.json","subjet":"env","version":1}]`:  `unknown field "subjet"`,
		`[{"name":"e.json","version":1}]`:                 `[0] (e.json) has no "subject"`,
		`[{"name":"e.json","subject":"env"}]`:             `[0] (e.json) has no "version"`,
		`[{"subject":"env","version":1}]`:                 `[0] has no "name"`,
		`{"name":"e.json"}`:                               "want a JSON array",
	} {
		_, err := contracts.Load(fstest.MapFS{
			"env/1/schema.json":   {Data: []byte(`{}`)},
			"x/1/schema.json":     {Data: []byte(`{"$ref":"e.json"}`)},
			"x/1/references.json": {Data: []byte(body)},
		})
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "x/1/references.json: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want x/1/references.json: ...%s", body, err, want)
		}
	}
}

// TestSubjectYAMLUnknownKey: a misspelt key of subject.yaml is refused,
// not ignored (the subject would keep the registry's compatibility).
func TestSubjectYAMLUnknownKey(t *testing.T) {
	_, err := contracts.Load(fstest.MapFS{
		"x/subject.yaml":  {Data: []byte("owner: team\ncompatibilty: FULL\n")},
		"x/1/schema.json": {Data: []byte(`{}`)},
	})
	if err == nil || !strings.Contains(err.Error(), "x/subject.yaml") || !strings.Contains(err.Error(), "compatibilty") {
		t.Errorf("err = %v, want x/subject.yaml naming the unknown key", err)
	}
	if _, err := contracts.Load(fstest.MapFS{"x/subject.yaml": {Data: []byte("# nothing yet\n")}, "x/1/schema.json": {Data: []byte(`{}`)}}); err != nil {
		t.Errorf("an empty subject.yaml: %v", err)
	}
}
