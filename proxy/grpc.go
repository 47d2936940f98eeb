package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry/span"
)

// Metadata keys the gRPC ingress reads from a call (gRPC metadata keys are
// lower case).
const (
	// FeatureMetadata names the producing feature when the request's feature
	// field is empty; the counterpart of the HTTP Eventguard-Feature header.
	FeatureMetadata = "eventguard-feature"
)

// ServiceName is the fully qualified gRPC service name, as registered with
// the health service next to the overall status ("").
const ServiceName = "eventguard.v1.Eventguard"

// GRPCOptions configure the gRPC ingress.
type GRPCOptions struct {
	// Config is the sidecar configuration: Registry.URL (Link trailers),
	// GRPC (keepalive, message size, stream bound) and Subscriptions (the
	// ones with deliver.grpc: true can be subscribed to). Required, with
	// defaults applied and validated.
	Config *config.Config
	// Ready reports whether the sidecar can serve: nil while Kafka and the
	// registry are reachable and it is not stopping, else why not. The
	// health service reports SERVING exactly while it returns nil. Default:
	// nil, always ready.
	Ready func() error
	// HealthInterval is how often Ready is asked. Default: 1s.
	HealthInterval time.Duration
	// Logger logs panics, health changes and subscriber streams. Default:
	// slog.Default().
	Logger *slog.Logger
	// ServerOptions are added after the ones built from Config (tests and
	// benchmarks add credentials or buffer sizes). Default: none.
	ServerOptions []grpc.ServerOption
}

// GRPC serves the gRPC ingress: the eventguard.v1.Eventguard service, the
// standard health service (grpc.health.v1) and server reflection. Produce
// calls go to the same Producer the HTTP ingress calls; Subscribe streams
// are fed by the Hub, which the consume loops use as their Deliverer.
type GRPC struct {
	eventguardv1.UnimplementedEventguardServer

	p      Producer
	cfg    *config.Config
	o      GRPCOptions
	log    *slog.Logger
	srv    *grpc.Server
	health *health.Server
	hub    *Hub

	// stopping is closed when Stop begins: ProduceStream handlers answer
	// what they accepted and end their streams.
	stopping chan struct{}
	stopOnce sync.Once
	// watch stops the health watcher.
	watchCtx  context.Context
	watchStop context.CancelFunc
	watchWG   sync.WaitGroup
	watchOnce sync.Once

	// Panics counts handler panics recovered (a bug, answered with Internal).
	Panics atomic.Int64
}

// NewGRPC returns the gRPC ingress for p. Serve it with Serve; stop it with
// Stop.
func NewGRPC(p Producer, o GRPCOptions) *GRPC {
	if o.Config == nil {
		o.Config = config.Default()
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	g := &GRPC{
		p:        p,
		cfg:      o.Config,
		o:        o,
		log:      o.Logger,
		health:   health.NewServer(),
		hub:      NewHub(o.Config, o.Logger),
		stopping: make(chan struct{}),
	}
	g.watchCtx, g.watchStop = context.WithCancel(context.Background())
	gc := o.Config.GRPC
	opts := []grpc.ServerOption{
		// Messages that do not decode are INVALID_ARGUMENT (codec.go).
		grpc.ForceServerCodecV2(newMessageCodec()),
		grpc.MaxRecvMsgSize(gc.MaxRecvBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: gc.KeepaliveTime, Timeout: gc.KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: gc.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(checkedUnary, g.recoverUnary),
		grpc.ChainStreamInterceptor(checkedStreams, g.recoverStream),
	}
	g.srv = grpc.NewServer(append(opts, o.ServerOptions...)...)
	eventguardv1.RegisterEventguardServer(g.srv, g)
	healthpb.RegisterHealthServer(g.srv, stoppingHealth{Server: g.health, stopping: g.stopping})
	reflection.Register(g.srv)
	// Not serving until the first readiness check passes.
	g.setServing(false)
	return g
}

// Server returns the underlying grpc.Server, for registering more services.
func (g *GRPC) Server() *grpc.Server { return g.srv }

// Hub returns the hub that delivers records of subscriptions with
// deliver.grpc: true to Subscribe streams; hand it to the consume loops as
// their consume.Deliverer.
func (g *GRPC) Hub() *Hub { return g.hub }

// Serve checks readiness once, starts the health watcher and serves on ln
// until Stop. It returns nil after Stop, else the listener's error.
func (g *GRPC) Serve(ln net.Listener) error {
	g.watchOnce.Do(func() {
		g.checkHealth(nil)
		g.watchWG.Add(1)
		go g.watchHealth()
	})
	if err := g.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve grpc on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Stop stops gracefully: health turns NOT_SERVING and health Watch
// streams end, ProduceStream streams answer the requests they accepted and
// end with UNAVAILABLE, Subscribe streams end (deliveries not yet
// acknowledged are redelivered later, as their offsets are not committed),
// new calls are refused and the calls in flight finish. When ctx is done
// first the remaining calls are cut off and Stop returns ctx's error.
func (g *GRPC) Stop(ctx context.Context) error {
	g.watchStop()
	g.watchWG.Wait()
	g.health.Shutdown()
	g.stopOnce.Do(func() { close(g.stopping) })
	g.hub.Close()
	done := make(chan struct{})
	go func() { g.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.srv.Stop()
		<-done
		return fmt.Errorf("drain grpc calls: %w", ctx.Err())
	}
}

// watchHealth asks Ready every HealthInterval and updates the health
// service on every change.
func (g *GRPC) watchHealth() {
	defer g.watchWG.Done()
	t := time.NewTicker(g.o.HealthInterval)
	defer t.Stop()
	last := g.readyErr()
	for {
		select {
		case <-g.watchCtx.Done():
			return
		case <-t.C:
			last = g.checkHealth(last)
		}
	}
}

func (g *GRPC) readyErr() error {
	if g.o.Ready == nil {
		return nil
	}
	return g.o.Ready()
}

// checkHealth sets the health status from Ready and logs a change from
// last; it returns the new error.
func (g *GRPC) checkHealth(last error) error {
	err := g.readyErr()
	g.setServing(err == nil)
	switch {
	case err == nil && last != nil:
		g.log.Info("grpc health: serving")
	case err != nil && (last == nil || last.Error() != err.Error()):
		g.log.Warn("grpc health: not serving", "reason", err.Error())
	}
	return err
}

func (g *GRPC) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	// The service first, the overall status last: whoever sees the
	// overall status change (a Watch on "") then finds the service in the
	// same state.
	g.health.SetServingStatus(ServiceName, st)
	g.health.SetServingStatus("", st)
}

// stoppingHealth is the standard health service whose Watch streams end
// when the server stops, so they do not hold up the graceful stop.
type stoppingHealth struct {
	*health.Server
	stopping <-chan struct{}
}

// Watch is health.Server's Watch, ended by Stop.
func (h stoppingHealth) Watch(req *healthpb.HealthCheckRequest, ss healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return h.Server.Watch(req, watchStream{Health_WatchServer: ss, ctx: ctx})
}

// watchStream is a Watch stream with the context Stop cancels.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

// Context returns the stream's context, done at Stop.
func (w watchStream) Context() context.Context { return w.ctx }

// Produce answers one produce request; see the service documentation in
// api/eventguard/v1/eventguard.proto and docs/grpc.md.
func (g *GRPC) Produce(ctx context.Context, in *eventguardv1.ProduceRequest) (*eventguardv1.ProduceResponse, error) {
	ctx, feature, bad := callContext(ctx)
	if bad != nil {
		return nil, bad.Err()
	}
	req, bad := decodeProduce(in, feature)
	if bad != nil {
		return nil, bad.Err()
	}
	resp := g.p.Produce(ctx, req)
	if md := g.deprecationMD(resp); md != nil {
		_ = grpc.SetTrailer(ctx, md)
	}
	out := encodeResponse(resp, in.GetRequestId())
	if resp.Err != nil {
		return nil, responseStatus(resp, out).Err()
	}
	return out, nil
}

// callContext continues the caller's W3C trace context from the incoming
// metadata, exactly as the HTTP ingress does from the request headers, and
// returns the eventguard-feature metadata value; sent more than once, it is
// an InvalidArgument status (a list of features, not the first of them).
func callContext(ctx context.Context) (context.Context, string, *status.Status) {
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = span.Propagator.Extract(ctx, span.MetadataCarrier(md))
	feature := ""
	switch v := md.Get(FeatureMetadata); len(v) {
	case 0:
	case 1:
		feature = v[0]
	default:
		return ctx, "", badField(produce.CodeInvalidFeature, "feature", fmt.Sprintf("metadata %s is sent %d times; name one producing feature", FeatureMetadata, len(v)))
	}
	return ctx, feature, nil
}

// streamCall is one ProduceStream request on its way through the pipeline.
type streamCall struct {
	out  *eventguardv1.ProduceResponse
	md   metadata.MD
	err  error // ends the stream (a recovered panic)
	done chan struct{}
}

// ProduceStream answers each request of the stream in order once its
// records are acknowledged. At most MaxStreamRequestsInFlight requests are
// between Recv and Send at once: while at the bound it does not read, so
// gRPC flow control pushes back on the client.
func (g *GRPC) ProduceStream(stream eventguardv1.Eventguard_ProduceStreamServer) error {
	ctx, feature, bad := callContext(stream.Context())
	if bad != nil {
		return bad.Err()
	}
	// Workers run under wctx: when the handler returns, they are cancelled
	// and waited for. ended (under mu) stops the reader from starting a
	// worker once the handler is on its way out.
	wctx, cancel := context.WithCancel(ctx)
	var (
		workers sync.WaitGroup
		mu      sync.Mutex
		ended   bool
	)
	defer func() {
		mu.Lock()
		ended = true
		mu.Unlock()
		cancel()
		workers.Wait()
	}()

	bound := g.cfg.GRPC.MaxStreamRequestsInFlight
	slots := make(chan struct{}, bound)
	queue := make(chan *streamCall, bound)
	recvErr := make(chan error, 1)

	// The reader takes a slot before each Recv, so it stops reading while
	// bound requests are unanswered. It ends on the first Recv error (io.EOF
	// when the client closed its side); it is blocked in Recv at most until
	// the handler returns.
	go func() {
		defer close(queue)
		// Requests are validated concurrently but handed to Kafka in
		// stream order: each waits for its predecessor's turn.
		prev := make(chan struct{})
		close(prev)
		for {
			select {
			case slots <- struct{}{}:
			case <-wctx.Done():
				recvErr <- nil
				return
			}
			in, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			c := &streamCall{done: make(chan struct{})}
			t := &turn{prev: prev, mine: make(chan struct{})}
			prev = t.mine
			mu.Lock()
			if ended {
				mu.Unlock()
				recvErr <- nil
				return
			}
			workers.Add(1)
			mu.Unlock()
			go func() {
				defer workers.Done()
				defer close(c.done)
				// The recovery interceptor guards the handler's goroutine
				// only: a panic here ends the stream with Internal.
				defer func() {
					if v := recover(); v != nil {
						c.err = g.panicked("/eventguard.v1.Eventguard/ProduceStream", v)
					}
				}()
				defer t.pass(wctx)
				msg := in
				in = nil // the message is produceOne's alone, to let go of early
				c.out, c.md = g.produceOne(wctx, msg, feature, t.order)
			}()
			queue <- c
		}
	}()

	var trailer metadata.MD
	defer func() {
		if trailer != nil {
			stream.SetTrailer(trailer)
		}
	}()
	answer := func(c *streamCall) error {
		select {
		case <-c.done:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
		if c.err != nil {
			return c.err
		}
		if trailer == nil && c.md != nil {
			trailer = c.md
		}
		if err := stream.Send(c.out); err != nil {
			return err
		}
		<-slots
		return nil
	}
	finish := func() error {
		err := <-recvErr
		if err == nil || errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for {
		select {
		case c, ok := <-queue:
			if !ok {
				return finish()
			}
			if err := answer(c); err != nil {
				return err
			}
		case <-g.stopping:
			// Answer what was accepted, then end the stream.
			for {
				select {
				case c, ok := <-queue:
					if !ok {
						return finish()
					}
					if err := answer(c); err != nil {
						return err
					}
				default:
					return status.Error(codes.Unavailable, "eventguard is shutting down; reopen the stream against the next instance (requests without a response were not produced)")
				}
			}
		}
	}
}

// turn orders one ProduceStream request's hand-over to Kafka after its
// predecessor's.
type turn struct {
	prev <-chan struct{} // closed once the predecessor handed over
	mine chan struct{}   // closed once this request handed over (or never will)
	once sync.Once
}

// order is the produce.Request Order hook.
func (t *turn) order(ctx context.Context) (func(), error) {
	select {
	case <-t.prev:
		return t.done, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *turn) done() { t.once.Do(func() { close(t.mine) }) }

// pass ends the turn of a request that handed nothing over (it failed
// before, or its wait was cut off), once its predecessor has, so the
// order holds down the stream.
func (t *turn) pass(ctx context.Context) {
	select {
	case <-t.prev:
	case <-ctx.Done():
	}
	t.done()
}

// produceOne runs one ProduceStream request: a failure is carried in the
// response's error, not as the stream's status.
func (g *GRPC) produceOne(ctx context.Context, in *eventguardv1.ProduceRequest, feature string, order func(context.Context) (func(), error)) (*eventguardv1.ProduceResponse, metadata.MD) {
	id := in.GetRequestId()
	req, bad := decodeProduce(in, feature)
	if bad != nil {
		return &eventguardv1.ProduceResponse{RequestId: id, Error: statusError(bad)}, nil
	}
	// Nothing here refers to in any more: once the pipeline has framed the
	// values and dropped them, the message's buffers can be collected while
	// Kafka acknowledges.
	req.Order = order
	resp := g.p.Produce(ctx, req)
	out := encodeResponse(resp, id)
	if resp.Err != nil {
		out.Error = streamError(resp.Err)
	}
	return out, g.deprecationMD(resp)
}

// recoverUnary turns a handler panic into codes.Internal and counts it.
func (g *GRPC) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = g.panicked(info.FullMethod, v)
		}
	}()
	return handler(ctx, req)
}

// recoverStream turns a stream handler panic into codes.Internal and
// counts it.
func (g *GRPC) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = g.panicked(info.FullMethod, v)
		}
	}()
	return handler(srv, ss)
}

func (g *GRPC) panicked(method string, v any) error {
	g.Panics.Add(1)
	g.log.Error("grpc handler panic", "method", method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "eventguard failed on this request (a bug; it was logged)")
}

// deprecationMD renders the deprecation notices and the rule warnings as
// trailers with the same names and values as the HTTP ingress's headers
// (lower-cased, as gRPC metadata keys are): deprecation, sunset, link,
// eventguard-deprecated, warning.
func (g *GRPC) deprecationMD(resp *produce.Response) metadata.MD {
	if len(resp.Deprecations) == 0 && len(resp.Warnings) == 0 && !anyDeadLettered(resp) {
		return nil
	}
	hdr := make(map[string][]string)
	(&HTTP{registryURL: g.cfg.Registry.URL}).deprecationHeaders(hdr, resp.Deprecations)
	warningHeaders(hdr, resp)
	md := metadata.MD{}
	for k, vs := range hdr {
		md[strings.ToLower(k)] = vs
	}
	return md
}

// anyDeadLettered reports whether a contract rule diverted a record of
// resp to the dead-letter topic.
func anyDeadLettered(resp *produce.Response) bool {
	for i := range resp.Results {
		if resp.Results[i].DeadLettered != nil {
			return true
		}
	}
	return false
}
