package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// Env is what every mode gets: the broker, the process under test, and
// the topic and events to write.
type Env struct {
	Brokers []string
	// Sidecar is this mode's own eventguard (nil for a mode without one).
	Sidecar *harness.Sidecar
	// HTTPSock and GRPCSock are the sidecar's Unix sockets, for a mode
	// whose sidecar listens on them ("" otherwise).
	HTTPSock, GRPCSock string
	// Topic is the benchmark topic; its subject "<Topic>-value" is a copy
	// of orders-OrderPlaced version 1 with schema id SchemaID.
	Topic    string
	SchemaID int
	// Corpus are the events, valid OrderPlaced JSON of 0.5 to 4 KB, none
	// repeated; Framed are the same in Confluent's wire format with
	// SchemaID. Clients take them in turn.
	Corpus, Framed [][]byte
	// Schema is orders-OrderPlaced v1 compiled with jsonschema v6 alone
	// (what mode a2 and the plain consumer validate with).
	Schema *jsonschema.Schema
	// Batch is the records per request of the batched modes.
	Batch int
	// Clients is the number of concurrent clients of this mode.
	Clients int
	// InFlight is the requests each gRPC stream keeps unanswered at most
	// (K); the sidecar's grpc.max_stream_requests_in_flight is the same.
	InFlight int
	// ProxyPid is the process measured as the proxy: the sidecar, or a
	// peer's (Kroxylicious); 0 for none.
	ProxyPid int
	// Peer holds what a peer mode started (Kroxylicious's address).
	Peer string
	// opts are the command line's settings.
	opts *options
	// app is the application a consume mode's sidecar delivers to.
	app *sinkApp
}

// Mode is one way of producing or consuming, one row of a table. New
// prepares the mode and returns the Loop each client runs; close releases
// what New made. A consume mode has Measure instead of New.
type Mode struct {
	// Key names the mode in -modes and in the JSON results.
	Key string
	// Name is the row label in the table.
	Name string
	// Group is the table the row is in: peers, single, consume or cost.
	Group string
	// Baseline marks (a), the mode every produce row is compared with;
	// Reference marks (a2), the validating client without eventguard.
	// Both always run.
	Baseline, Reference bool
	// Base is the key of the mode the row's "vs base" compares with (in
	// its group), when not (a).
	Base string
	// Clients overrides -clients for this mode (0: -clients).
	Clients int
	// Sidecar, when not nil, gives the mode an eventguard of its own
	// configured so.
	Sidecar *SidecarSpec
	// Needs names a setting (a yaml path, "dedupe.window") the mode
	// cannot run without: until this build's config has it, the mode is
	// reported "not available" and skipped.
	Needs string
	// Unavailable returns why the mode cannot run here ("" if it can),
	// for modes needing more than Go (Java for Kroxylicious).
	Unavailable func(o *options) string
	// Start, when set, starts what the mode measures besides eventguard
	// (Kroxylicious) and sets e.ProxyPid; stop ends it.
	Start func(ctx context.Context, e *Env) (stop func(), err error)
	// Records returns the records one request carries.
	Records func(e *Env) int
	New     func(ctx context.Context, e *Env) (loop Loop, close func(), err error)
	// Measure, for a mode that is no request loop (consuming), runs one
	// turn of about d and measures it.
	Measure func(ctx context.Context, e *Env, d time.Duration, brokerPid int) roundResult
}

// SidecarSpec configures a mode's own eventguard.
type SidecarSpec struct {
	// Env holds EVENTGUARD_* settings (and any other variable the
	// sidecar reads, such as OTEL_*), on top of kbench's.
	Env []string
	// Unix puts the HTTP and gRPC ingress on Unix domain sockets.
	Unix bool
	// Config is a YAML config file's text for the sidecar (may use
	// {{app}}, {{topic}} and {{group}}; consume modes write their own).
	Config string
	// Format, when set, gives the mode a topic of its own whose subject
	// is this schema (formats.go); the mode's Env.Topic is that topic.
	Format *formatSubject
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

// turns hands each client the index of its next slice of the corpus:
// client c's k-th request starts at event (c + k×Clients)×n, so that
// concurrent clients write different events and each request's events
// are consecutive in the corpus (no event twice in a request).
type turns struct {
	n, clients, size int
	next             []int
}

func newTurns(e *Env, n int) *turns {
	return &turns{n: n, clients: e.Clients, size: len(e.Corpus), next: make([]int, e.Clients)}
}

// take returns the corpus index of client's next request's first event.
// Each client calls it from its own goroutine only.
func (t *turns) take(client int) int {
	k := t.next[client]
	t.next[client]++
	return ((client + k*t.clients) * t.n) % t.size
}

// modes are the rows, baselines first.
var modes = []Mode{
	{
		Key: "direct", Name: "(a) franz-go direct, batch", Group: "peers", Baseline: true,
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newDirect(e, e.Brokers, e.Batch, e.Framed, nil))
		},
	},
	{
		Key: "direct-validate", Name: "(a2) franz-go direct + jsonschema v6 in the client, batch", Group: "peers", Reference: true,
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newDirect(e, e.Brokers, e.Batch, e.Framed, validateInClient(e)))
		},
	},
	{
		Key: "kroxylicious", Name: "(k) Kroxylicious 0.12.0 RecordValidation (JSON Schema), batch", Group: "peers",
		Unavailable: kroxyUnavailable, Start: startKroxylicious,
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			// Unframed JSON: the filter reads a framed value's id as an
			// Apicurio 8-byte global id, which a Confluent 4-byte id is not.
			return oneAtATime(newDirect(e, []string{e.Peer}, e.Batch, e.Corpus, nil))
		},
	},
	{
		Key: "http-batch", Name: "(b) eventguard HTTP, batch", Group: "peers", Sidecar: &SidecarSpec{},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newHTTP(e, e.Batch, false))
		},
	},
	{
		Key: "grpc-unary", Name: "(d) eventguard gRPC unary, batch", Group: "peers", Sidecar: &SidecarSpec{},
		Records: func(e *Env) int { return e.Batch },
		New: func(ctx context.Context, e *Env) (Loop, func(), error) {
			return oneAtATime(newGRPCUnary(e, e.Batch))
		},
	},
	{
		Key: "grpc-stream", Name: "(e) eventguard gRPC stream, batch", Group: "peers", Sidecar: &SidecarSpec{},
		Records: func(e *Env) int { return e.Batch },
		New:     newGRPCStream,
	},
}

func init() {
	modes = append(modes, singleModes()...)
	modes = append(modes, consumeModes...)
	modes = append(modes, costModes...)
	modes = append(modes, formatModes...)
}

// newDirect is a franz-go producer with exactly the options eventguard's
// own producer gets from package kafka (acks=all, idempotent, snappy, no
// linger), writing values taken in turn from values with a key and no
// headers. Each request is ProduceSync of n records: the same shape as an
// HTTP batch. check, when not nil, runs on each value before it is
// produced (mode a2's validation), in the client.
func newDirect(e *Env, brokers []string, n int, values [][]byte, check func([]byte) error) (func(context.Context, int) error, func(), error) {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.ClientID = "kbench-direct"
	opts, err := kafka.Options(cfg.Kafka, nil)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	tn := newTurns(e, n)
	do := func(ctx context.Context, client int) error {
		first := tn.take(client)
		recs := make([]*kgo.Record, n)
		for i := range recs {
			v := values[(first+i)%len(values)]
			if check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			recs[i] = &kgo.Record{Topic: e.Topic, Key: fmt.Appendf(nil, "order-%d-%d", client, i), Value: v}
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}
	return do, cl.Close, nil
}

// httpClient returns a client of the sidecar's HTTP ingress, over TCP or
// its Unix socket, and the base URL to use with it.
func httpClient(e *Env) (*http.Client, *http.Transport, string) {
	n := max(2*e.Clients, 16)
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, IdleConnTimeout: time.Minute, DisableCompression: true}
	base := e.Sidecar.HTTP
	if e.HTTPSock != "" {
		sock := e.HTTPSock
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		base = "http://eventguard"
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, tr, base
}

// appendBody appends a request body of n records, the corpus events from
// first on; idPrefix, when not empty, gives record i the event id
// idPrefix + i.
func appendBody(b []byte, e *Env, first, n int, idPrefix string) []byte {
	b = append(b, `{"records":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"key":"order-%d-%d",`, first, i)
		if idPrefix != "" {
			b = fmt.Appendf(b, `"id":"%s%d",`, idPrefix, i)
		}
		b = append(b, `"value":`...)
		b = append(b, e.Corpus[(first+i)%len(e.Corpus)]...)
		b = append(b, '}')
	}
	return append(b, `]}`...)
}

// newHTTP posts n records per request to eventguard's HTTP ingress over
// kept-alive connections. The bodies are built before the round (keeping
// JSON encoding out of the client's CPU), request j holding the corpus
// events from j×n on. withIDs gives every record an event id never sent
// before (for the dedupe rows): those bodies are built per request.
func newHTTP(e *Env, n int, withIDs bool) (func(context.Context, int) error, func(), error) {
	hc, tr, base := httpClient(e)
	url := base + "/v1/topics/" + e.Topic + "/records"
	bodies := make([][]byte, max(1, len(e.Corpus)/n))
	for j := range bodies {
		bodies[j] = appendBody(nil, e, j*n, n, "")
	}
	tn := newTurns(e, n)
	bufs := make([][]byte, e.Clients)
	run := time.Now().UnixNano()
	do := func(ctx context.Context, client int) error {
		first := tn.take(client)
		body := bodies[first/n%len(bodies)]
		if withIDs {
			k := tn.next[client]
			bufs[client] = appendBody(bufs[client][:0], e, first, n, fmt.Sprintf("kbench-%x-%d-%d-", run, client, k))
			body = bufs[client]
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", resp.StatusCode, answer)
		}
		return nil
	}
	return do, tr.CloseIdleConnections, nil
}
