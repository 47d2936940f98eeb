package validate

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/quote"
)

// SchemaLookup finds the id a JSON Schema text is registered with under a
// subject (the registry's POST /subjects/{subject}); it never registers
// one. The REST Proxy front door uses it for the schemas producers send in
// requests (v2 value_schema, v3 value.schema).
type SchemaLookup struct {
	// Client asks the registry; *sr.Client implements it.
	Client interface {
		LookupSchema(ctx context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error)
	}
	// Timeout bounds one lookup. Default: 5s.
	Timeout time.Duration
}

var _ = SchemaLookup{Client: (*sr.Client)(nil)}

// LookupSchema returns the id of schema under subject. Its error wraps
// ErrNotFound when the schema is not registered there, ErrRejected when
// the registry refuses the lookup (4xx), ErrUnavailable otherwise.
func (l SchemaLookup) LookupSchema(ctx context.Context, subject, schema string) (int, error) {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ss, err := l.Client.LookupSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeJSON})
	if err != nil {
		return 0, fmt.Errorf("look up a schema under subject %s: %w", quote.String(subject), classify(err))
	}
	return ss.ID, nil
}
