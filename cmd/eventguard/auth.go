package main

import (
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
)

// adminOpenPaths are the admin listener's paths that stay open with
// listen.auth on: probes and scrapers send no credentials. Every other
// path (/v1/catalog, /v1/recent, /ui and its assets, /debug/pprof/, and
// any route added later) needs them.
var adminOpenPaths = []string{"/metrics", "/healthz", "/readyz"}

// setupAuth reads listen.auth and listen.tls (docs/deploy.md,
// "Authenticating the ingress"), counts refusals in
// eventguard_auth_refusals_total and warns about an ingress reachable
// beyond loopback without authentication.
func (s *sidecar) setupAuth() error {
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventguard_auth_refusals_total",
		Help: "Requests and gRPC calls refused by listen.auth (401, UNAUTHENTICATED), by listener (http, grpc, admin) and reason (missing, invalid).",
	}, []string{"listener", "reason"})
	if err := s.prom.Register(refusals); err != nil {
		return err
	}
	a, err := ingressauth.New(s.cfg.Listen, ingressauth.Options{
		Logger:  s.log,
		Refused: func(listener string, why ingressauth.Reason) { refusals.WithLabelValues(listener, string(why)).Inc() },
	})
	if err != nil {
		return err
	}
	s.auth = a
	if a.Mode() == config.AuthNone {
		for _, l := range []struct{ name, addr string }{{"http", s.cfg.Listen.HTTP}, {"grpc", s.cfg.Listen.GRPC}} {
			if beyondLoopback(l.addr) {
				s.log.Warn("the ingress is reachable beyond loopback and listen.auth is off: whoever reaches it can produce; set listen.auth (docs/deploy.md)", "listener", l.name, "addr", l.addr)
			}
		}
	}
	return nil
}

// authenticate puts a listener's handler behind listen.auth: every route of
// the HTTP ingress, the admin listener's but adminOpenPaths.
func (s *sidecar) authenticate(name string, h http.Handler) http.Handler {
	if name == "admin" {
		return s.auth.HTTP(name, h, adminOpenPaths...)
	}
	return s.auth.HTTP(name, h)
}

// beyondLoopback reports whether a listen address accepts connections from
// other hosts: a TCP address whose host is not a loopback address or
// localhost.
func beyondLoopback(addr string) bool {
	if addr == config.ListenerOff || strings.HasPrefix(addr, config.UnixPrefix) {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
