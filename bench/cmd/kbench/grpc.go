package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
)

// callTimeout bounds one unary call, as the HTTP client's timeout bounds
// one POST; a stream gets it on top of the round's end.
const callTimeout = 30 * time.Second

// dialGRPC returns a client of eventguard's gRPC ingress (plaintext, as a
// container of the same pod reaches it), over TCP or the sidecar's Unix
// socket. All clients of a mode share the connection: gRPC multiplexes
// their calls over it.
func dialGRPC(e *Env) (eventguardv1.EventguardClient, func(), error) {
	target := e.Sidecar.GRPC
	if e.GRPCSock != "" {
		target = "unix://" + e.GRPCSock
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return eventguardv1.NewEventguardClient(conn), func() { _ = conn.Close() }, nil
}

// grpcRequests returns requests of n records each, request j holding the
// corpus events from j×n on (keys as the HTTP bodies'), built before the
// round; clients take them in turn. Records are shared, read only.
func grpcRequests(e *Env, n int) [][]*eventguardv1.Record {
	out := make([][]*eventguardv1.Record, max(1, len(e.Corpus)/n))
	for j := range out {
		recs := make([]*eventguardv1.Record, n)
		for i := range recs {
			recs[i] = &eventguardv1.Record{Key: fmt.Appendf(nil, "order-%d-%d", j*n, i), Value: e.Corpus[(j*n+i)%len(e.Corpus)]}
		}
		out[j] = recs
	}
	return out
}

// checkAnswer returns nil when resp reports every one of n records
// produced.
func checkAnswer(resp *eventguardv1.ProduceResponse, n int) error {
	if e := resp.GetError(); e != nil {
		return fmt.Errorf("%s: %s", e.GetCode(), e.GetMessage())
	}
	if len(resp.GetResults()) != n {
		return fmt.Errorf("%d results for %d records", len(resp.GetResults()), n)
	}
	for _, r := range resp.GetResults() {
		if !r.GetProduced() {
			return fmt.Errorf("record %d not produced", r.GetIndex())
		}
	}
	return nil
}

// newGRPCUnary calls Produce with n records per call.
func newGRPCUnary(e *Env, n int) (func(context.Context, int) error, func(), error) {
	cl, closeFn, err := dialGRPC(e)
	if err != nil {
		return nil, nil, err
	}
	reqs := grpcRequests(e, n)
	tn := newTurns(e, n)
	do := func(ctx context.Context, client int) error {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		recs := reqs[tn.take(client)/n%len(reqs)]
		resp, err := cl.Produce(ctx, &eventguardv1.ProduceRequest{Topic: e.Topic, Records: recs})
		if err != nil {
			return err
		}
		return checkAnswer(resp, n)
	}
	return do, closeFn, nil
}

// newGRPCStream gives each client its own ProduceStream per round: it
// sends requests of Batch records while at most InFlight are unanswered,
// and measures each from its Send to its answer, which comes in request
// order (checked with request_id). At the round's end the client closes
// its side and takes the remaining answers. A stream that fails counts
// its unanswered requests as errors; the client opens a new one.
func newGRPCStream(ctx context.Context, e *Env) (Loop, func(), error) {
	cl, closeFn, err := dialGRPC(e)
	if err != nil {
		return nil, nil, err
	}
	reqs := grpcRequests(e, e.Batch)
	tn := newTurns(e, e.Batch)
	loop := func(ctx context.Context, client int, done func(time.Time, error)) {
		next := func() []*eventguardv1.Record { return reqs[tn.take(client)/e.Batch%len(reqs)] }
		for ctx.Err() == nil {
			if err := streamTurn(ctx, cl, e.Topic, next, e.InFlight, done); err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	return loop, closeFn, nil
}

// streamTurn runs one stream until ctx is done (then ends it cleanly) or
// the stream fails (its error is returned). Every request sent is
// reported to done exactly once.
func streamTurn(ctx context.Context, cl eventguardv1.EventguardClient, topic string, next func() []*eventguardv1.Record, k int, done func(time.Time, error)) error {
	// The stream is not cut off at the round's end (ctx), only if it is
	// still open callTimeout after it.
	var (
		sctx   context.Context
		cancel context.CancelFunc
	)
	if dl, ok := ctx.Deadline(); ok {
		sctx, cancel = context.WithDeadline(context.Background(), dl.Add(callTimeout))
	} else {
		sctx, cancel = context.WithCancel(context.Background())
	}
	defer cancel()
	st, err := cl.ProduceStream(sctx)
	if err != nil {
		done(time.Now(), err)
		return err
	}

	type sent struct {
		id string
		n  int
		at time.Time
	}
	// slots holds a token per unanswered request: the window of k. fifo
	// holds the unanswered requests in the order sent; the sender closes
	// it when it stops.
	slots := make(chan struct{}, k)
	fifo := make(chan sent, k)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		defer close(fifo)
		for n := 0; ; n++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
			case <-sctx.Done():
			}
			if ctx.Err() != nil || sctx.Err() != nil {
				// The round is over (or the stream failed): no more
				// requests. A token taken just now has no request.
				_ = st.CloseSend()
				return
			}
			// A new message per Send: gRPC may read a message after Send
			// returns, so none is modified once sent. The records are
			// shared, read only.
			req := &eventguardv1.ProduceRequest{Topic: topic, Records: next(), RequestId: strconv.Itoa(n)}
			fifo <- sent{id: req.RequestId, n: len(req.Records), at: time.Now()}
			if err := st.Send(req); err != nil {
				// The stream ended; Recv returns why.
				return
			}
		}
	}()

	var failed error
	for {
		resp, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				failed = err
			}
			break
		}
		s, ok := <-fifo
		if !ok {
			failed = fmt.Errorf("answer %q to no request", resp.GetRequestId())
			break
		}
		err = checkAnswer(resp, s.n)
		if err == nil && resp.GetRequestId() != s.id {
			err = fmt.Errorf("answer %q where %q was due: out of order", resp.GetRequestId(), s.id)
		}
		done(s.at, err)
		<-slots
	}
	cancel()
	<-senderDone
	for s := range fifo {
		if failed == nil {
			failed = errors.New("stream ended without answering every request")
		}
		done(s.at, failed)
	}
	return failed
}
