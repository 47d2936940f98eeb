package fastpath_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// TestResolverEndToEnd goes through validate itself: every example schema
// resolved twice from the same registry, once as in production (fast
// engine first) and once with Options.ReferenceOnly, and every golden
// payload and thousands of mutations of them validated by both. The
// *validate.Failure must be identical (nil for valid): same verdict, same
// violations, same messages.
func TestResolverEndToEnd(t *testing.T) {
	set, local := exampleSet(t)
	ctx := context.Background()
	prod := validate.NewResolver(local, validate.Options{})
	ref := validate.NewResolver(local, validate.Options{ReferenceOnly: true})
	docs, valid := 0, 0
	for _, subj := range set.Subjects {
		for _, v := range subj.Versions {
			if v.Type != sr.TypeJSON {
				continue // Avro and Protobuf examples: not the fast engine's
			}
			a, err := prod.ByVersion(ctx, v.Subject, v.Version)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ref.ByVersion(ctx, v.Subject, v.Version)
			if err != nil {
				t.Fatal(err)
			}
			if !a.FastPath() || b.FastPath() {
				t.Errorf("%s v%d: FastPath %v (production), %v (ReferenceOnly)", v.Subject, v.Version, a.FastPath(), b.FastPath())
			}
			var texts [][]byte
			for _, g := range sortedGoldens(v.Valid) {
				texts = append(texts, g.data)
			}
			for _, g := range sortedGoldens(v.Invalid) {
				texts = append(texts, g.data)
			}
			// Mutations of every golden, deterministic.
			vc := &vocab{}
			vc.harvest(mustUnmarshal(t, v.Schema))
			vc.finish()
			n := len(texts)
			for seed := 0; n > 0 && seed < 1500; seed++ {
				src := texts[seed%n]
				doc, err := jsonvalue.Parse(src, jsonvalue.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				g := &gen{data: []byte(strconv.Itoa(seed*7919) + string(src[seed%len(src):])), vocab: vc}
				m, err := json.Marshal(g.mutate(doc, 0))
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, m)
			}
			for _, text := range texts {
				fa, fb := a.Validate(text), b.Validate(text)
				if !reflect.DeepEqual(fa, fb) {
					t.Errorf("%s v%d: %s:\nproduction: %+v\nreference:  %+v", v.Subject, v.Version, text, fa, fb)
				}
				docs++
				if fa == nil {
					valid++
				}
			}
		}
	}
	t.Logf("%d documents (%d valid, %d invalid): identical failures with and without the fast engine", docs, valid, docs-valid)
}

func mustUnmarshal(t *testing.T, s string) any {
	var v any
	d := json.NewDecoder(stringsReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
