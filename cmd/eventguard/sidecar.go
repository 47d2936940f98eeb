package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/net/netutil"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/ingressauth"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/telemetry/observe"
	"github.com/eventguard/eventguard/validate"
)

// sidecar is the wired process: clients, pipeline, listeners.
type sidecar struct {
	cfg      *config.Config
	log      *slog.Logger
	kcl      *kgo.Client
	reg      *sr.Client
	resolver *validate.Resolver
	monitor  *kafka.Monitor
	replicas *kafka.ReplicaGuard
	pipeline *produce.Pipeline
	prom     *prometheus.Registry
	// metrics, catalog and tracing are the observability wired into the
	// pipelines (telemetry.go in this folder documents the wiring).
	metrics *telemetry.Metrics
	catalog *catalog.Catalog
	// recent keeps the latest rejected and dead-lettered records for the
	// admin page and GET /v1/recent.
	recent  *catalog.Recent
	tracing *telemetry.Tracing
	// deprecations are checked on produce and counted on consume.
	deprecations *check.Deprecations
	// checker is the contract check of every path (produce, consume).
	checker *check.Checker
	// grpc is the gRPC ingress; its Hub is the consume.Deliverer of the
	// subscriptions with deliver.grpc: true.
	grpc *proxy.GRPC
	// auth is listen.auth and listen.tls: it wraps the listeners'
	// handlers and gives the gRPC server its credentials (auth.go).
	auth *ingressauth.Auth
	// subs are the running subscriptions, once started.
	subs atomic.Pointer[consume.Set]

	stopping    atomic.Bool
	registryErr atomic.Pointer[error]

	// addrs are the bound listener addresses, by name, once serving.
	mu    sync.Mutex
	addrs map[string]string
	// listenSetting names how a listener's address is set, for the error
	// when it cannot listen: by listener name, the flag or config key.
	// Default: listenKey.
	listenSetting func(name string) string
}

// listenKey names a listener's config key and environment variable.
func listenKey(name string) string {
	return fmt.Sprintf("listen.%s (%sLISTEN_%s)", name, config.EnvPrefix, strings.ToUpper(name))
}

// sidecarHooks replace parts of the sidecar in tests.
type sidecarHooks struct {
	// spanExporter, when set, receives the spans (tracing must be on).
	spanExporter sdktrace.SpanExporter
}

func newSidecar(cfg *config.Config, log *slog.Logger, hooks ...sidecarHooks) (*sidecar, error) {
	kcl, err := kafka.NewClient(cfg.Kafka, log)
	if err != nil {
		return nil, err
	}
	reg, err := validate.NewRegistryClient(cfg.Registry)
	if err != nil {
		kcl.Close()
		return nil, err
	}
	s := &sidecar{cfg: cfg, log: log, kcl: kcl, reg: reg, addrs: map[string]string{}}
	s.prom = prometheus.NewRegistry()
	s.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.setupTelemetry(hooks...); err != nil {
		kcl.Close()
		return nil, err
	}
	if err := s.setupAuth(); err != nil {
		kcl.Close()
		return nil, err
	}
	s.resolver = validate.NewResolver(reg, validate.Options{LatestTTL: cfg.Registry.LatestTTL, Timeout: cfg.Registry.Timeout, Observer: s.metrics})
	s.monitor = kafka.NewMonitor(kcl, 2*time.Second)
	s.replicas = kafka.NewReplicaGuard(kcl, kafka.AdminReplicas{Admin: kadm.NewClient(kcl)}, time.Second, log)
	notChecked := error(errors.New("registry not reached yet"))
	s.registryErr.Store(&notChecked)
	subjectRules, ruleOpts, err := configRules(cfg)
	if err != nil {
		kcl.Close()
		return nil, err
	}
	s.checker = check.New(check.Options{Resolver: s.resolver, Deprecations: s.deprecations, Logger: log, Rules: subjectRules, RuleOptions: ruleOpts})
	s.pipeline = produce.New(cfg, produce.Options{
		Checker:  s.checker,
		Producer: s.replicas,
		KafkaErr: s.monitor.Err,
		Logger:   log,
		Tracer:   s.tracing.Tracer,
		Observer: observe.Produce{Metrics: s.metrics, Catalog: s.catalog, Recent: s.recent},
	})
	s.grpc = proxy.NewGRPC(s.pipeline, proxy.GRPCOptions{
		Config:        cfg,
		Ready:         s.readyErr,
		Logger:        log,
		ServerOptions: append(telemetry.GRPCServerOptions(s.metrics, s.tracing.Tracer), s.auth.GRPCServerOptions("grpc")...),
	})
	return s, nil
}

// listen binds every configured listener first, so a bad address fails
// startup at once. Each holds at most listen.max_connections connections.
func (s *sidecar) listen() (map[string]net.Listener, error) {
	lns := map[string]net.Listener{}
	for name, addr := range map[string]string{"http": s.cfg.Listen.HTTP, "grpc": s.cfg.Listen.GRPC, "admin": s.cfg.Listen.Admin} {
		if addr == config.ListenerOff {
			continue
		}
		ln, err := listenOn(addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			setting := listenKey
			if s.listenSetting != nil {
				setting = s.listenSetting
			}
			return nil, fmt.Errorf("%s listener on %s: %w; set another address with %s", name, addr, err, setting(name))
		}
		lns[name] = netutil.LimitListener(ln, s.cfg.Listen.MaxConnections)
		if name != "grpc" {
			lns[name] = s.auth.Listener(lns[name]) // TLS with listen.tls; gRPC has its credentials
		}
		s.mu.Lock()
		s.addrs[name] = ln.Addr().String()
		s.mu.Unlock()
	}
	return lns, nil
}

// run serves until ctx is cancelled, then stops gracefully: readiness fails,
// the drain delay passes, listeners stop accepting, in-flight produces are
// answered, the producer is flushed, and the clients close.
func (s *sidecar) run(ctx context.Context, lns map[string]net.Listener) error {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.monitor.Run(bg) }()
	go func() { defer wg.Done(); s.replicas.Run(bg) }()
	go func() { defer wg.Done(); s.watchRegistry(bg) }()

	servers := map[string]*http.Server{}
	errc := make(chan error, len(lns))
	for name, ln := range lns {
		if name == "grpc" {
			s.registerPanics("grpc", s.grpc.Panics.Load)
			go func() {
				if err := s.grpc.Serve(ln); err != nil {
					errc <- err
				}
			}()
			s.log.Info("listening", "listener", name, "addr", ln.Addr().String())
			continue
		}
		var h http.Handler
		switch name {
		case "http":
			ing := proxy.NewHTTP(s.pipeline, s.cfg.Limits.MaxBodyBytes, s.cfg.Registry.URL, s.log)
			s.registerPanics("http", ing.Panics.Load)
			// Confluent REST Proxy's produce APIs beside eventguard's own.
			rp := proxy.NewRESTProxy(s.pipeline, proxy.RESTProxyOptions{
				Config:  s.cfg,
				Cluster: kafka.ClusterInfo{Client: s.kcl},
				Schemas: validate.SchemaLookup{Client: s.reg, Timeout: s.cfg.Registry.Timeout},
				Logger:  s.log,
			})
			s.registerPanics("restproxy", rp.Panics.Load)
			h = telemetry.InstrumentHTTP(proxy.Routes(ing, rp), s.metrics, s.tracing.Tracer)
		case "admin":
			h = s.adminHandler()
		}
		h = s.authenticate(name, h)
		// A request's headers and body must arrive within ReadTimeout
		// (slowloris); an idle keep-alive connection closes after
		// IdleTimeout. No WriteTimeout: an answer waits for Kafka up to
		// limits.produce_timeout, and /debug/pprof/profile for its seconds.
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: min(10*time.Second, s.cfg.Listen.ReadTimeout),
			ReadTimeout:       s.cfg.Listen.ReadTimeout,
			IdleTimeout:       s.cfg.Listen.IdleTimeout,
			// net/http's own complaints (TLS handshakes that fail, a
			// client that sends garbage) in the sidecar's log, as warnings.
			ErrorLog: slog.NewLogLogger(s.log.With("listener", name).Handler(), slog.LevelWarn),
		}
		servers[name] = srv
		go func(name string, ln net.Listener) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s on %s: %w", name, ln.Addr(), err)
			}
		}(name, ln)
		s.log.Info("listening", "listener", name, "addr", ln.Addr().String())
	}

	// Subscriptions start once the listeners serve (an app may take its
	// deliveries on the gRPC Subscribe stream).
	runErr := s.startSubscriptions()
	if runErr == nil {
		select {
		case <-ctx.Done():
		case runErr = <-errc:
		}
	}
	s.log.Info("stopping", "drain_delay", s.cfg.Shutdown.DrainDelay.String(), "grace_period", s.cfg.Shutdown.GracePeriod.String())
	s.stopping.Store(true)
	if d := s.cfg.Shutdown.DrainDelay; d > 0 && runErr == nil {
		time.Sleep(d)
	}
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.GracePeriod)
	defer cancel()
	// The gRPC ingress drains alongside HTTP: health NOT_SERVING, streams
	// answer what they accepted and end, GracefulStop within the grace.
	// Subscriptions stop alongside: no more fetching, in-flight deliveries
	// finish or are abandoned uncommitted, offsets committed, groups left.
	// The gRPC ingress waits for them: its Subscribe streams may carry their
	// last deliveries.
	subsStopped := make(chan struct{})
	go func() { defer close(subsStopped); s.stopSubscriptions(grace) }()
	grpcStopped := make(chan struct{})
	go func() {
		defer close(grpcStopped)
		<-subsStopped
		if err := s.grpc.Stop(grace); err != nil {
			s.log.Warn("grpc ingress did not drain in time", "error", err)
		}
	}()
	if srv := servers["http"]; srv != nil {
		if err := srv.Shutdown(grace); err != nil {
			s.log.Warn("http ingress did not drain in time", "error", err)
		}
	}
	<-grpcStopped
	if err := s.pipeline.Close(grace); err != nil {
		s.log.Warn("produce requests still in flight at the deadline", "error", err)
	}
	if err := s.kcl.Flush(grace); err != nil {
		s.log.Warn("producer flush incomplete", "error", err)
	}
	s.kcl.Close()
	if err := s.tracing.Shutdown(grace); err != nil {
		s.log.Warn("spans not all exported", "error", err)
	}
	if srv := servers["admin"]; srv != nil {
		_ = srv.Shutdown(grace)
	}
	stopBG()
	wg.Wait()
	s.log.Info("stopped")
	return runErr
}

// startSubscriptions starts a consume loop for each configured subscription,
// observed like the rest of the sidecar.
func (s *sidecar) startSubscriptions() error {
	opts := make([]consume.Options, 0, len(s.cfg.Subscriptions))
	for _, sub := range s.cfg.Subscriptions {
		o := consume.Options{Subscription: sub, Kafka: s.cfg.Kafka, Instance: s.cfg.Instance, Checker: s.checker, Policy: s.consumePolicy(sub), Logger: s.log, TransitionKeys: s.cfg.Rules.TransitionKeys}
		if sub.Deliver.GRPC {
			o.Deliverer = s.grpc.Hub()
		}
		opts = append(opts, s.observeConsume(o))
	}
	set, err := consume.StartAll(context.Background(), opts)
	if err != nil {
		return fmt.Errorf("start subscriptions: %w", err)
	}
	s.subs.Store(set)
	return nil
}

// consumePolicy returns the policy sub's records are checked against
// (config.Config.ConsumePolicy).
func (s *sidecar) consumePolicy(sub config.Subscription) func(string) (config.Topic, bool) {
	return func(topic string) (config.Topic, bool) { return s.cfg.ConsumePolicy(&sub, topic) }
}

// stopSubscriptions closes the subscriptions within ctx's deadline.
func (s *sidecar) stopSubscriptions(ctx context.Context) {
	if set := s.subs.Load(); set != nil {
		if err := set.Close(ctx); err != nil {
			s.log.Warn("subscriptions did not stop cleanly; uncommitted records will be delivered again", "error", err)
		}
	}
}

// subscriptionsErr is nil once every subscription has joined its group.
func (s *sidecar) subscriptionsErr() error {
	if len(s.cfg.Subscriptions) == 0 {
		return nil
	}
	set := s.subs.Load()
	if set == nil {
		return errors.New("subscriptions not started")
	}
	return set.Ready()
}

// watchRegistry checks the registry answers, for readiness.
func (s *sidecar) watchRegistry(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Registry.Timeout)
		// GET /config (the global compatibility level) is cheap and
		// answered by every Confluent-compatible registry.
		var global map[string]any
		err := s.reg.Do(cctx, "GET", "/config", nil, &global)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			err = fmt.Errorf("registry %s: %w", s.cfg.Registry.URL, err)
		}
		s.registryErr.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyErr is readiness as one error (nil when ready), for the gRPC
// health service.
func (s *sidecar) readyErr() error {
	checks, ok := s.readiness()
	if ok {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if c := checks[name]; c != "ok" {
			errs = append(errs, fmt.Errorf("%s: %s", name, c))
		}
	}
	if len(errs) == 0 {
		return errors.New("not ready")
	}
	return errors.Join(errs...)
}

// readiness returns the checks and whether all pass.
func (s *sidecar) readiness() (map[string]string, bool) {
	checks := map[string]string{"kafka": "ok", "registry": "ok", "subscriptions": "ok", "lifecycle": "ok"}
	ok := true
	if err := s.monitor.Err(); err != nil {
		checks["kafka"], ok = err.Error(), false
	}
	if err := *s.registryErr.Load(); err != nil {
		checks["registry"], ok = err.Error(), false
	}
	if err := s.subscriptionsErr(); err != nil {
		checks["subscriptions"], ok = err.Error(), false
	}
	if s.stopping.Load() {
		checks["lifecycle"], ok = "shutting down", false
	}
	return checks, ok
}

func (s *sidecar) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.prom, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/catalog", s.serveCatalog)
	s.mountAdminPage(mux)
	if s.cfg.Listen.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		checks, ok := s.readiness()
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// listenOn listens on a listen address: host:port over TCP, or
// unix:///path as a Unix domain socket. A socket file left by a process
// that is gone is removed first (one that still answers is not: the
// address is in use); the new socket is made readable and writable by all,
// so the directory shared with the app is what restricts it, and is
// removed when the listener closes.
func listenOn(addr string) (net.Listener, error) {
	network, address := config.ListenNetwork(addr)
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.DialTimeout("unix", address, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("listen unix %s: a process already serves this socket", address)
			}
			_ = os.Remove(address)
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := os.Chmod(address, 0o666); err != nil {
			ln.Close()
			return nil, fmt.Errorf("make socket %s writable by the app: %w", address, err)
		}
	}
	return ln, nil
}
