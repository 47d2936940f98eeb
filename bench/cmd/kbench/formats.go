package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// formatModes are issue 16 part 5's rows: the HTTP batch row (b), whose
// subject is JSON Schema, again with the same corpus posted to a topic whose
// subject is the same OrderPlaced event in Avro or in Protobuf (with
// buf.validate rules): eventguard validates each JSON event and encodes it
// to the registry's binary format, so the rows' proxy CPU-µs per record
// against (b)'s is the cost of the format.
var formatModes = []Mode{
	{
		Key: "format-avro", Name: "HTTP batch, Avro subject: the same JSON validated and encoded as Avro", Group: "formats", Base: "http-batch",
		Sidecar: &SidecarSpec{Format: &formatSubject{Type: sr.TypeAvro, File: "validate/testdata/order-placed.avsc"}},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
	{
		Key: "format-protobuf", Name: "HTTP batch, Protobuf subject with buf.validate: the same JSON validated and encoded as Protobuf", Group: "formats", Base: "http-batch",
		Sidecar: &SidecarSpec{Format: &formatSubject{Type: sr.TypeProtobuf, File: "validate/testdata/order-placed.proto"}},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
}

// formatSubject is the schema of a formats row's own topic: OrderPlaced
// in another format, from a file of the module.
type formatSubject struct {
	Type sr.SchemaType
	// File is the schema's path from the module root. A Protobuf schema
	// may import buf/validate/validate.proto without a reference:
	// eventguard has it built in.
	File string
}

// formatTopic creates the row's own topic, "<benchmark topic>-<type>",
// registers f's schema as its "-value" subject in the row's sidecar's
// registry, and points e at it. The caller deletes the topic.
func formatTopic(ctx context.Context, e *Env, f *formatSubject) (string, error) {
	root, err := harness.ModuleRoot()
	if err != nil {
		return "", err
	}
	text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.File)))
	if err != nil {
		return "", fmt.Errorf("read the %s schema: %w", f.Type, err)
	}
	topic := fmt.Sprintf("%s-%s", e.Topic, f.Type)
	if err := harness.CreateTopic(ctx, e.Brokers, topic, int32(e.opts.partitions)); err != nil {
		return "", err
	}
	cl, err := harness.RegistryClient(e.Sidecar.Registry)
	if err != nil {
		return topic, err
	}
	if _, err := cl.CreateSchema(ctx, topic+"-value", sr.Schema{Type: f.Type, Schema: string(text)}); err != nil {
		return topic, fmt.Errorf("register %s as %s-value: %w", f.File, topic, err)
	}
	e.Topic = topic
	return topic, nil
}
