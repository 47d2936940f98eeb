package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// Env is what every mode gets: the broker, the running eventguard, and the
// topic and event to write.
type Env struct {
	Brokers []string
	Sidecar *harness.Sidecar
	// Topic is the benchmark topic; its subject "<Topic>-value" is a copy
	// of orders-OrderPlaced version 1 with schema id SchemaID.
	Topic    string
	SchemaID int
	// Payload is the event, JSON, about 1 KB.
	Payload []byte
	// Batch is the records per request of the batched modes.
	Batch int
	// Clients is the number of concurrent clients.
	Clients int
	// InFlight is the requests each gRPC stream keeps unanswered at most
	// (K); the sidecar's grpc.max_stream_requests_in_flight is the same.
	InFlight int
}

// Mode is one way of producing, one row of the table. New prepares the
// mode and returns the Loop each client runs; close releases what New
// made.
type Mode struct {
	// Key names the mode in -modes and in the JSON results.
	Key string
	// Name is the row label in the table.
	Name string
	// Baseline marks the mode the others are compared with.
	Baseline bool
	// Records returns the records one request carries.
	Records func(e *Env) int
	New     func(ctx context.Context, e *Env) (loop Loop, close func(), err error)
}

// Loop runs client number client (0 to Clients-1) until ctx is done: it
// sends requests back to back (one at a time, or pipelined) and returns
// once every request it sent was answered or has failed; requests are
// not cut off at the deadline but answered and counted like any other.
// It calls done once per request, never concurrently, with the time the
// request was sent and its outcome: nil once every record of the request
// was acknowledged, else an error.
type Loop func(ctx context.Context, client int, done func(sent time.Time, err error))

// oneAtATime makes a Loop of a request function: do returns once every
// record of its request was acknowledged (nil) or refused (an error); the
// client waits for each answer before sending the next request. Its
// arguments are those New-style constructors return, so that
// oneAtATime(newHTTP(e, 1)) is a Mode's New.
func oneAtATime(do func(ctx context.Context, client int) error, close func(), err error) (Loop, func(), error) {
	if err != nil {
		return nil, nil, err
	}
	loop := func(ctx context.Context, client int, done func(time.Time, error)) {
		for ctx.Err() == nil {
			start := time.Now()
			done(start, do(context.Background(), client))
		}
	}
	return loop, close, nil
}

// modes are the rows, baseline first.
var modes = []Mode{
	{
		Key: "direct", Name: "(a) franz-go direct, batch", Baseline: true,
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newDirect(ctx, e))
		},
	},
	{
		Key: "http-batch", Name: "(b) eventguard HTTP, batch",
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch))
		},
	},
	{
		Key: "http-single", Name: "(c) eventguard HTTP, 1/request",
		Records: func(*Env) int { return 1 },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, 1))
		},
	},
	{
		Key: "grpc-unary", Name: "(d) eventguard gRPC unary, batch",
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newGRPCUnary(e))
		},
	},
	{
		Key: "grpc-stream", Name: "(e) eventguard gRPC stream, batch",
		Records: func(e *Env) int { return e.Batch },
		New:     newGRPCStream,
	},
}

// newDirect is the baseline: a franz-go producer with exactly the options
// eventguard's own producer gets from package kafka (acks=all, idempotent,
// snappy, no linger), writing the same wire-format value (5-byte header +
// JSON) with a key and no headers. Each request is ProduceSync of Batch
// records: the same shape as an HTTP batch.
func newDirect(ctx context.Context, e *Env) (func(context.Context, int) error, func(), error) {
	cfg := config.Default()
	cfg.Kafka.Brokers = e.Brokers
	cfg.Kafka.ClientID = "kbench-direct"
	opts, err := kafka.Options(cfg.Kafka, nil)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	value := validate.Frame(e.SchemaID, e.Payload)
	do := func(ctx context.Context, client int) error {
		recs := make([]*kgo.Record, e.Batch)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: e.Topic, Key: fmt.Appendf(nil, "order-%d-%d", client, i), Value: value}
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}
	return do, cl.Close, nil
}

// newHTTP posts n records per request to eventguard's HTTP ingress over
// kept-alive connections; each client sends the same prebuilt body.
func newHTTP(e *Env, n int) (func(context.Context, int) error, func(), error) {
	tr := &http.Transport{MaxIdleConns: 2 * e.Clients, MaxIdleConnsPerHost: 2 * e.Clients, IdleConnTimeout: time.Minute, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := e.Sidecar.HTTP + "/v1/topics/" + e.Topic + "/records"
	bodies := make([][]byte, e.Clients)
	for c := range bodies {
		var b bytes.Buffer
		b.WriteString(`{"records":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"key":"order-%d-%d","value":`, c, i)
			b.Write(e.Payload)
			b.WriteByte('}')
		}
		b.WriteString(`]}`)
		bodies[c] = b.Bytes()
	}
	do := func(ctx context.Context, client int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[client]))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
		}
		return nil
	}
	return do, tr.CloseIdleConnections, nil
}
