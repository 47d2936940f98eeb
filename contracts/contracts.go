// Package contracts reads a contracts folder (schemas, references and golden
// payloads per subject version), registers it with a schema registry, and
// checks the golden payloads against the schemas.
//
// Layout, one folder per registry subject:
//
//	<subject>/subject.yaml            description, owner, compatibility, consumers (optional)
//	<subject>/<version>/schema.json   the JSON Schema, or
//	<subject>/<version>/schema.avsc   an Avro schema, or
//	<subject>/<version>/schema.proto  a Protobuf schema (exactly one of the three)
//	<subject>/<version>/references.json  [{"name","subject","version"}] (optional)
//	<subject>/<version>/valid/*.json     payloads that must pass
//	<subject>/<version>/invalid/*.json   payloads that must fail
//
// Golden payloads are JSON for every format: for Avro and Protobuf subjects,
// the JSON an app would send (see docs/formats.md), which Check encodes as
// the produce path does.
package contracts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
	"gopkg.in/yaml.v3"

	"github.com/eventguard/eventguard/rules"
)

// Version is one schema version of a subject with its golden payloads.
type Version struct {
	Subject string
	Version int
	Schema  string
	// Type is the schema's type, from its file name: schema.json is
	// JSON Schema, schema.avsc Avro, schema.proto Protobuf.
	Type sr.SchemaType
	// File is the schema file's name (schema.json, schema.avsc or
	// schema.proto).
	File       string
	References []sr.SchemaReference
	// Valid and Invalid map a golden payload's file path to its bytes.
	Valid, Invalid map[string][]byte
	// Rules are the version's domain rules: the subject's (subject.yaml
	// rules:), each replaced by the version's own of the same name
	// (<version>/rules.yaml). Register sends them as the schema's
	// ruleSet.domainRules.
	Rules []rules.Rule
}

// Subject is one registry subject.
type Subject struct {
	Name          string `yaml:"-"`
	Description   string `yaml:"description"`
	Owner         string `yaml:"owner"`
	Compatibility string `yaml:"compatibility"`
	// Consumers are the registered readers of the subject (who breaks
	// when a version changes, who blocks a version's retirement).
	Consumers []Consumer `yaml:"consumers"`
	// Rules are the subject's domain rules, for every version (in
	// Confluent's shape; docs/rules.md).
	Rules    []rules.Rule `yaml:"rules"`
	Versions []*Version   `yaml:"-"`
}

// Consumer is one registered reader of a subject, as subject.yaml lists it:
//
//	consumers:
//	  - name: billing
//	    owner: team-billing
//	    versions: [1, 2]
type Consumer struct {
	// Name is the consuming service or consumer group. Required.
	Name string `yaml:"name"`
	// Owner is who to ask (a team or a channel).
	Owner string `yaml:"owner"`
	// Versions are the subject versions it reads. Required.
	Versions []int `yaml:"versions"`
}

// Reads reports whether c reads version v.
func (c Consumer) Reads(v int) bool {
	for _, x := range c.Versions {
		if x == v {
			return true
		}
	}
	return false
}

// Set is a loaded contracts folder.
type Set struct {
	Subjects []*Subject
}

// Load reads a contracts folder from fsys (rooted at the folder).
func Load(fsys fs.FS) (*Set, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read contracts: %w", err)
	}
	set := &Set{}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := loadSubject(fsys, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.Subjects = append(set.Subjects, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(set.Subjects) == 0 {
		return nil, errors.New("read contracts: no subject folders found")
	}
	return set, nil
}

func loadSubject(fsys fs.FS, name string) (*Subject, error) {
	s := &Subject{Name: name}
	if b, err := fs.ReadFile(fsys, path.Join(name, "subject.yaml")); err == nil {
		// Unknown keys are refused: a misspelt compatibility would
		// otherwise leave the subject at the registry's default.
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s/subject.yaml: %w", name, err)
		}
		s.Name = name
	}
	switch strings.ToUpper(s.Compatibility) {
	case "", "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE":
		s.Compatibility = strings.ToUpper(s.Compatibility)
	default:
		return nil, fmt.Errorf("%s/subject.yaml: compatibility %q is not a registry compatibility level", name, s.Compatibility)
	}
	for i, c := range s.Consumers {
		if c.Name == "" {
			return nil, fmt.Errorf("%s/subject.yaml: consumers[%d].name is required", name, i)
		}
		if len(c.Versions) == 0 {
			return nil, fmt.Errorf("%s/subject.yaml: consumers[%d].versions is required (the versions %s reads)", name, i, c.Name)
		}
	}
	entries, err := fs.ReadDir(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read subject %s: %w", name, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s/%s: version folders must be named by number (1, 2, 3)", name, e.Name())
		}
		v, err := loadVersion(fsys, name, n)
		if err != nil {
			return nil, err
		}
		if err := v.loadRules(fsys, s.Rules); err != nil {
			return nil, err
		}
		s.Versions = append(s.Versions, v)
	}
	sort.Slice(s.Versions, func(i, j int) bool { return s.Versions[i].Version < s.Versions[j].Version })
	for i, v := range s.Versions {
		if v.Version != i+1 {
			return nil, fmt.Errorf("%s: versions must be 1..n without gaps; version %d is missing", name, i+1)
		}
	}
	if len(s.Versions) == 0 {
		return nil, fmt.Errorf("%s: no version folders", name)
	}
	return s, nil
}

func loadVersion(fsys fs.FS, subject string, n int) (*Version, error) {
	dir := path.Join(subject, strconv.Itoa(n))
	var found []*Version
	for _, sf := range schemaFiles {
		b, err := fs.ReadFile(fsys, path.Join(dir, sf.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if sf.json && !json.Valid(b) {
			return nil, fmt.Errorf("%s/%s is not valid JSON", dir, sf.name)
		}
		found = append(found, &Version{Subject: subject, Version: n, Schema: string(b), Type: sf.typ, File: sf.name})
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s: no schema.json, schema.avsc or schema.proto", dir)
	case 1:
	default:
		return nil, fmt.Errorf("%s: holds %s and %s; a version has one schema", dir, found[0].File, found[1].File)
	}
	v := found[0]
	v.Valid, v.Invalid = map[string][]byte{}, map[string][]byte{}
	if rb, err := fs.ReadFile(fsys, path.Join(dir, "references.json")); err == nil {
		if v.References, err = parseReferences(rb); err != nil {
			return nil, fmt.Errorf("%s/references.json: %w", dir, err)
		}
	}
	for _, kind := range []string{"valid", "invalid"} {
		files, err := fs.Glob(fsys, path.Join(dir, kind, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			pb, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			if kind == "valid" {
				v.Valid[f] = pb
			} else {
				v.Invalid[f] = pb
			}
		}
	}
	return v, nil
}

// schemaFiles are the schema file names a version folder may hold, one
// per registry schema type.
var schemaFiles = []struct {
	name string
	typ  sr.SchemaType
	json bool // the file must be JSON
}{
	{"schema.json", sr.TypeJSON, true},
	{"schema.avsc", sr.TypeAvro, true},
	{"schema.proto", sr.TypeProtobuf, false},
}

// parseReferences reads references.json: a JSON array of {"name",
// "subject", "version"}, each field required, no other field (a typo
// would otherwise leave a reference without its subject or version).
func parseReferences(b []byte) ([]sr.SchemaReference, error) {
	var refs []struct {
		Name    string `json:"name"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&refs); err != nil {
		return nil, fmt.Errorf(`want a JSON array of {"name", "subject", "version"}: %w`, err)
	}
	out := make([]sr.SchemaReference, len(refs))
	for i, r := range refs {
		switch {
		case r.Name == "":
			return nil, fmt.Errorf(`[%d] has no "name" (what the schema's $ref says)`, i)
		case r.Subject == "":
			return nil, fmt.Errorf(`[%d] (%s) has no "subject"`, i, r.Name)
		case r.Version < 1:
			return nil, fmt.Errorf(`[%d] (%s) has no "version" (1 or more)`, i, r.Name)
		}
		out[i] = sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out, nil
}

// Ordered returns every version, referenced subjects' versions before the
// versions that reference them, otherwise by subject name and version.
func (s *Set) Ordered() ([]*Version, error) {
	var all []*Version
	for _, sub := range s.Subjects {
		all = append(all, sub.Versions...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Subject != all[j].Subject {
			return all[i].Subject < all[j].Subject
		}
		return all[i].Version < all[j].Version
	})
	done := map[string]bool{}
	key := func(subject string, v int) string { return subject + "\x00" + strconv.Itoa(v) }
	var out []*Version
	for len(out) < len(all) {
		progressed := false
		for _, v := range all {
			if done[key(v.Subject, v.Version)] {
				continue
			}
			ready := v.Version == 1 || done[key(v.Subject, v.Version-1)]
			for _, r := range v.References {
				ready = ready && done[key(r.Subject, r.Version)]
			}
			if ready {
				done[key(v.Subject, v.Version)] = true
				out = append(out, v)
				progressed = true
			}
		}
		if !progressed {
			var missing []string
			for _, v := range all {
				if !done[key(v.Subject, v.Version)] {
					missing = append(missing, fmt.Sprintf("%s/%d", v.Subject, v.Version))
				}
			}
			return nil, fmt.Errorf("references cannot be satisfied (missing or circular) for %s", strings.Join(missing, ", "))
		}
	}
	return out, nil
}

// Registered is one version as the registry has it.
type Registered struct {
	Subject string
	Version int // the registry's version number
	ID      int
	// Local is the folder's version number; it differs from Version when
	// the registry already held other versions.
	Local int
}

// SchemaClient is the part of the registry client Register needs; *sr.Client
// implements it.
type SchemaClient interface {
	CreateSchema(ctx context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error)
	SetCompatibility(ctx context.Context, compat sr.SetCompatibility, subjects ...string) []sr.CompatibilityResult
}

// Register registers every version in order, setting each subject's
// compatibility level first when the folder declares one. Registering a
// schema the registry already holds returns its existing id and version.
func (s *Set) Register(ctx context.Context, cl SchemaClient) ([]Registered, error) {
	ordered, err := s.Ordered()
	if err != nil {
		return nil, err
	}
	for _, sub := range s.Subjects {
		if sub.Compatibility == "" {
			continue
		}
		var lvl sr.CompatibilityLevel
		if err := lvl.UnmarshalText([]byte(sub.Compatibility)); err != nil {
			return nil, fmt.Errorf("subject %s: %w", sub.Name, err)
		}
		for _, r := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: lvl}, sub.Name) {
			if r.Err != nil {
				return nil, fmt.Errorf("set compatibility of subject %q: %w", sub.Name, r.Err)
			}
		}
	}
	var out []Registered
	for _, v := range ordered {
		sch := sr.Schema{Schema: v.Schema, Type: v.Type, References: v.References}
		if len(v.Rules) > 0 {
			if sch.SchemaRuleSet, sch.SchemaMetadata, err = registryRules(v.Rules); err != nil {
				return out, fmt.Errorf("%s version %d: %w", v.Subject, v.Version, err)
			}
		}
		ss, err := cl.CreateSchema(ctx, v.Subject, sch)
		if err != nil {
			return out, registerError(v, err)
		}
		out = append(out, Registered{Subject: v.Subject, Version: ss.Version, ID: ss.ID, Local: v.Version})
	}
	return out, nil
}
