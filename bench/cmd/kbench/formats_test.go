package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/bench/corpus"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// TestFormatRowsEncodeTheCorpus: every corpus event is valid against the
// formats rows' Avro and Protobuf schemas and encodes, so those rows
// measure the same events as (b) and no request of theirs is refused.
func TestFormatRowsEncodeTheCorpus(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	res := validate.NewResolver(cl, validate.Options{})
	events := corpus.OrderPlaced(500, 7)
	for _, m := range formatModes {
		f := m.Sidecar.Format
		text, err := os.ReadFile(filepath.Join("..", "..", "..", filepath.FromSlash(f.File)))
		if err != nil {
			t.Fatal(err)
		}
		subject := m.Key + "-value"
		if _, err := cl.CreateSchema(context.Background(), subject, sr.Schema{Type: f.Type, Schema: string(text)}); err != nil {
			t.Fatal(err)
		}
		s, err := res.Latest(context.Background(), subject)
		if err != nil {
			t.Fatalf("%s: %v", m.Key, err)
		}
		if s.Format() != f.Type {
			t.Fatalf("%s: format %s, want %s", m.Key, s.Format(), f.Type)
		}
		for i, ev := range events {
			doc, err := jsonvalue.ParseDoc(ev, jsonvalue.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if _, fail := s.EncodeDoc(nil, doc, ev, ""); fail != nil {
				t.Fatalf("%s: corpus event %d does not encode: %s %s\n%s", m.Key, i, fail.Code, fail.Message, ev)
			}
		}
	}
}

// TestCostConfigsLoad: the cost rows' config files are valid sidecar
// configs of this build (a row whose config the sidecar refuses cannot
// start).
func TestCostConfigsLoad(t *testing.T) {
	for _, m := range costModes {
		if m.Sidecar == nil || m.Sidecar.Config == "" || (m.Needs != "" && !hasSetting(m.Needs)) {
			continue
		}
		text := strings.NewReplacer("{{topic}}", "kbench-t", "{{app}}", "http://127.0.0.1:1").Replace(m.Sidecar.Config)
		c := config.Default()
		if err := config.Parse([]byte(text), c); err != nil {
			t.Errorf("%s: %v", m.Key, err)
			continue
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", m.Key, err)
		}
	}
}
