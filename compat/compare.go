package compat

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/validate"
)

// Pair is two versions of one subject to compare, as a registry serves them.
type Pair struct {
	Subject string
	// Older and Newer are the versions, registered (or about to be) in
	// Registry, which also serves their references.
	Older, Newer int
	Registry     validate.Registry
	// Backward asks that Newer accept everything Older accepts; Forward
	// the other way round.
	Backward, Forward bool
	// Lenient treats adding an optional property to an open content model
	// as compatible.
	Lenient bool
}

// Engine compares the versions of one schema format. JSON Schema's is built
// in; Avro and Protobuf engines plug in through Checker.Engines.
type Engine interface {
	Compare(ctx context.Context, p Pair, older, newer sr.SubjectSchema) ([]Finding, error)
}

// Checker compares versions of subjects held by a registry.
type Checker struct {
	// Registry serves the subjects, versions and references compared: a
	// contracts folder's offline view, a real registry, or both overlaid.
	Registry validate.Registry
	// Lenient treats adding an optional property to an open content model
	// as compatible (stated in every Result).
	Lenient bool
	// Engines by schema type; JSON Schema's is used when absent.
	Engines map[sr.SchemaType]Engine
}

// Compare compares version to of subject with version from (from < to) under
// level, one pair: a transitive level's other pairs are the caller's (see
// Plan).
func (c *Checker) Compare(ctx context.Context, subject string, from, to int, level Level) (*Result, error) {
	r := &Result{Subject: subject, From: from, To: to, Level: level, Lenient: c.Lenient, Findings: []Finding{}}
	if level == None {
		r.Compatible = true
		return r, nil
	}
	older, err := c.Registry.SchemaByVersion(ctx, subject, from)
	if err != nil {
		return nil, fmt.Errorf("read subject %q version %d: %w", subject, from, err)
	}
	newer, err := c.Registry.SchemaByVersion(ctx, subject, to)
	if err != nil {
		return nil, fmt.Errorf("read subject %q version %d: %w", subject, to, err)
	}
	eng := c.Engines[newer.Type]
	if older.Type != newer.Type {
		r.Findings = append(r.Findings, Finding{Code: CodeTypeNarrowed, Message: fmt.Sprintf("version %d is %s; version %d was %s", to, newer.Type, from, older.Type),
			Breaks: fmt.Sprintf("consumers of version %d", from), BreaksVersion: from, Fix: "keep the schema format, or publish the change as a new subject", Consumers: []string{}})
		return r, nil
	}
	if eng == nil {
		if newer.Type != sr.TypeJSON {
			return nil, fmt.Errorf("subject %q: compatibility of %s schemas is not supported by this build", subject, newer.Type)
		}
		eng = &JSONSchema{}
	}
	p := Pair{Subject: subject, Older: from, Newer: to, Registry: c.Registry, Backward: level.Backward(), Forward: level.Forward(), Lenient: c.Lenient}
	fs, err := eng.Compare(ctx, p, older, newer)
	if err != nil {
		return nil, err
	}
	for i := range fs {
		if fs[i].Consumers == nil {
			fs[i].Consumers = []string{}
		}
	}
	r.Findings = fs
	r.Compatible = len(fs) == 0
	return r, nil
}

// Plan returns the version pairs a level asks to compare when version to
// is added after versions 1..to-1: the one before it, or every earlier one
// for a transitive level (NONE: the one before it, always compatible).
func Plan(level Level, to int) [][2]int {
	if to < 2 {
		return nil
	}
	if !level.Transitive() {
		return [][2]int{{to - 1, to}}
	}
	var out [][2]int
	for v := 1; v < to; v++ {
		out = append(out, [2]int{v, to})
	}
	return out
}

// JSONSchema is the JSON Schema engine.
type JSONSchema struct{}

// Compare implements Engine.
func (JSONSchema) Compare(ctx context.Context, p Pair, older, newer sr.SubjectSchema) ([]Finding, error) {
	res := validate.NewResolver(p.Registry, validate.Options{})
	load := func(ss sr.SubjectSchema) (*side, error) {
		full, err := res.ByVersion(ctx, p.Subject, ss.Version)
		if err != nil {
			return nil, fmt.Errorf("compile subject %q version %d: %w", p.Subject, ss.Version, err)
		}
		r, err := validate.LoadResources(ctx, p.Registry, ss.ID, ss.Schema)
		if err != nil {
			return nil, fmt.Errorf("load subject %q version %d: %w", p.Subject, ss.Version, err)
		}
		s, err := newSide(p.Subject, ss.Version, r, full)
		if err != nil {
			return nil, fmt.Errorf("load subject %q version %d: %w", p.Subject, ss.Version, err)
		}
		return s, nil
	}
	o, err := load(older)
	if err != nil {
		return nil, err
	}
	n, err := load(newer)
	if err != nil {
		return nil, err
	}
	var out []Finding
	if p.Backward {
		out = append(out, run(o, n, true, p.Lenient)...)
	}
	if p.Forward {
		// Fresh sides: compiled locations are cached per side, and a
		// side's compiler is not shared across goroutines anyway.
		out = append(out, run(n, o, false, p.Lenient)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].BreaksVersion != out[j].BreaksVersion {
			return out[i].BreaksVersion < out[j].BreaksVersion
		}
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Code < out[j].Code
	})
	return out, nil
}

// run proves x ⊆ y and returns the findings with their counterexamples.
func run(x, y *side, backward, lenient bool) []Finding {
	c := &checker{x: x, y: y, backward: backward, lenient: lenient, active: map[string]bool{}}
	c.sub(x.flatten(x.root), y.flatten(y.root), walk{wrap: func(v any) any { return v }}, 0)
	var out []Finding
	seen := map[string]bool{}
	for _, p := range c.found {
		f := p.f
		proven := false
		for _, cand := range p.candidates {
			_, b, err := normalize(cand)
			if err != nil {
				continue
			}
			if x.full.Validate(b) == nil && y.full.Validate(b) != nil {
				f.Example, f.AcceptedBy, f.RefusedBy = b, x.version, y.version
				proven = true
				break
			}
		}
		if !proven {
			if p.approx && f.Code != CodeCannotProve {
				reason := p.reason
				if reason == "" {
					reason = f.Message + " (found by an approximation, and no document proving it was found)"
				}
				f.Message = fmt.Sprintf("cannot prove that version %d accepts every document version %d accepts here: %s", y.version, x.version, reason)
				f.Code = CodeCannotProve
			}
			f.Note = "no counterexample was proven (none generated was accepted by one version and refused by the other)"
		}
		k := f.Code + "\x00" + f.Path + "\x00" + f.SchemaPath + "\x00" + f.Message
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}
