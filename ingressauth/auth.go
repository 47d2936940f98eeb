// Package ingressauth authenticates the clients of eventguard's listeners,
// for when loopback is not enough: a bearer token on every request or a
// client certificate on every connection (listen.auth), and the TLS server
// side of the listeners (listen.tls). It wraps HTTP handlers and gives a
// gRPC server its options; what it refuses is answered 401 with
// WWW-Authenticate (HTTP) or UNAUTHENTICATED (gRPC) before any route or
// method runs.
//
// Tokens are kept only as SHA-256 digests and compared in constant time;
// neither a token nor a digest is ever logged or put in an answer. Token
// files and the TLS files are read again when they change (checked at most
// every Options.CheckEvery, on the next request or handshake), so a rotated
// Kubernetes Secret takes effect without a restart.
package ingressauth

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/eventguard/eventguard/config"
)

// Reason says why a request was refused; it labels the refusal counter.
type Reason string

// Why a request was refused.
const (
	// ReasonMissing: no credentials (no Authorization, no client certificate).
	ReasonMissing Reason = "missing"
	// ReasonInvalid: credentials that are not accepted (an unknown token, a
	// malformed Authorization header, another scheme).
	ReasonInvalid Reason = "invalid"
)

// DefaultCheckEvery is how often, at most, the token and TLS files are
// looked at for changes.
const DefaultCheckEvery = 10 * time.Second

// Options tune an Auth beyond its configuration.
type Options struct {
	// Logger logs file reloads and failed reloads (never a token). Default:
	// slog.Default().
	Logger *slog.Logger
	// Refused is called for each refused request or call, with the
	// listener's name and the reason (to count them). Default: none.
	Refused func(listener string, why Reason)
	// CheckEvery is how often, at most, the files are looked at for
	// changes. Default: DefaultCheckEvery.
	CheckEvery time.Duration
}

// Auth is the authentication of a sidecar's listeners. Its methods are safe
// for concurrent use.
type Auth struct {
	mode    string
	tokens  *tokenSource // mode token
	tls     *tlsSource   // nil without listen.tls
	refused func(string, Reason)
}

// New reads the token and TLS files of l and returns the listeners'
// authentication. An error names the config key of the file or value at
// fault, never a token. l must be validated (config.Validate).
func New(l config.Listen, o Options) (*Auth, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = DefaultCheckEvery
	}
	a := &Auth{mode: l.Auth.Mode, refused: o.Refused}
	if a.mode == "" {
		a.mode = config.AuthNone
	}
	if a.refused == nil {
		a.refused = func(string, Reason) {}
	}
	switch a.mode {
	case config.AuthNone, config.AuthMTLS:
	case config.AuthToken:
		ts, err := newTokenSource(l.Auth, o)
		if err != nil {
			return nil, err
		}
		a.tokens = ts
	default:
		return nil, fmt.Errorf("listen.auth.mode: unknown mode %q", a.mode)
	}
	if l.TLS.CertFile != "" || l.TLS.KeyFile != "" {
		ca := ""
		if a.mode == config.AuthMTLS {
			ca = l.TLS.ClientCAFile
		}
		src, err := newTLSSource(l.TLS.CertFile, l.TLS.KeyFile, ca, o)
		if err != nil {
			return nil, err
		}
		a.tls = src
	}
	if a.mode == config.AuthMTLS && (a.tls == nil || l.TLS.ClientCAFile == "") {
		return nil, fmt.Errorf("listen.auth.mode mtls: needs listen.tls.cert_file, key_file and client_ca_file")
	}
	return a, nil
}

// Mode is the authentication mode: config.AuthNone, AuthToken or AuthMTLS.
func (a *Auth) Mode() string { return a.mode }

// TLS reports whether the listeners serve TLS.
func (a *Auth) TLS() bool { return a.tls != nil }

// Protocols a listener speaks over TLS, offered by ALPN.
var (
	// ProtosHTTP are an HTTP server's: HTTP/2, then HTTP/1.1.
	ProtosHTTP = []string{"h2", "http/1.1"}
	// ProtosGRPC are a gRPC server's: HTTP/2 only.
	ProtosGRPC = []string{"h2"}
)

// ServerTLS returns the TLS server configuration offering protos by ALPN,
// whose certificate, key and client CAs follow their files; nil when TLS
// is off. With mode mtls a client certificate is verified when one is sent
// (a bad one fails the handshake) and required by the handlers, so a
// client without one is told why in an answer rather than a failed
// handshake, and probes of the open endpoints need none.
func (a *Auth) ServerTLS(protos []string) *tls.Config {
	if a.tls == nil {
		return nil
	}
	return a.tls.serverConfig(protos)
}

// Listener returns ln serving TLS for an HTTP server (HTTP/2 and
// HTTP/1.1 by ALPN), or ln itself when TLS is off. The handshake runs in
// the server's connection goroutine, under its read timeout.
func (a *Auth) Listener(ln net.Listener) net.Listener {
	if a.tls == nil {
		return ln
	}
	return tls.NewListener(ln, a.ServerTLS(ProtosHTTP))
}
