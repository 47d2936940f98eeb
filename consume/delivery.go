// Package consume runs the subscription loops: fetch with a consumer group,
// decode the wire format, validate against the registry schema, deliver
// valid records to the app in partition order, dead-letter the rest, and
// commit only what is finished.
package consume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Delivery is one valid record handed to the app.
type Delivery struct {
	// Subscription is the subscription's name.
	Subscription string
	Topic        string
	Partition    int32
	Offset       int64
	Timestamp    time.Time
	// Key is the record key (nil when none).
	Key []byte
	// Value is the JSON value without the wire-format header.
	Value []byte
	// Headers are the record's headers as produced.
	Headers []kgo.RecordHeader
	// Subject, SchemaID and Version say which schema the value passed.
	Subject  string
	SchemaID int
	Version  int
	// EventID and Feature are read from the stamped headers ("" if absent).
	EventID string
	Feature string
	// Attempt is 1 for the first delivery attempt, 2 for the first retry...
	Attempt int
}

// Deliverer hands one record to the app: over HTTP push, or over the gRPC
// Subscribe stream. Deliver returns nil when the app took the record; an
// error wrapping ErrRejected when the app refused it for good (dead-letter
// it now); any other error to retry with backoff. Deliver must honour ctx
// (the per-attempt delivery timeout and shutdown).
type Deliverer interface {
	Deliver(ctx context.Context, d *Delivery) error
}

// ErrRejected marks a delivery error the app meant as final: an HTTP 4xx or
// a gRPC Nack without retry.
var ErrRejected = errors.New("rejected by the app")

// ErrAppUnavailable marks a delivery that never reached the app: the
// connection was refused, the app's host does not resolve, or no gRPC
// subscriber is connected. Such a record waits (the partition backs off up
// to retry.max_backoff and tries again, without limit) and spends no
// attempt: an app that is restarting must not turn good records into
// dead letters. Errors after the app was reached (5xx, timeouts) spend
// attempts as usual.
var ErrAppUnavailable = errors.New("the app is not reachable")

// RetryDelayer is implemented by delivery errors that carry the wait the
// app asked for before the next attempt (HTTP Retry-After). The partition
// waits the longer of that and its backoff, at most retry.max_backoff.
type RetryDelayer interface {
	RetryDelay() time.Duration
}

// retryDelay returns the wait err asks for, or 0.
func retryDelay(err error) time.Duration {
	var rd RetryDelayer
	if errors.As(err, &rd) {
		return max(rd.RetryDelay(), 0)
	}
	return 0
}

// Rejected returns an error wrapping ErrRejected with the app's reason.
func Rejected(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}
