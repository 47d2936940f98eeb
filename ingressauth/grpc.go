package ingressauth

import (
	"context"
	"crypto/tls"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/eventguard/eventguard/config"
)

// HealthPrefix starts the methods of the standard gRPC health service,
// which stay open for probes (a Kubernetes gRPC probe sends no
// credentials).
const HealthPrefix = "/grpc.health.v1.Health/"

// HandshakeTimeout bounds a gRPC connection's TLS handshake.
const HandshakeTimeout = 10 * time.Second

// GRPCServerOptions returns what a gRPC server needs for the listeners'
// authentication: TLS credentials when listen.tls is set, and with a mode
// other than none an interceptor for unary calls and one for streams,
// set with grpc.UnaryInterceptor and grpc.StreamInterceptor so that they
// run before every chained interceptor: an unauthenticated call is
// answered UNAUTHENTICATED before anything else looks at it. Every method
// but the health service's is covered (reflection included). listener
// names the listener to Options.Refused. The options may be given to one
// server only once (grpc-go refuses a second unary interceptor).
func (a *Auth) GRPCServerOptions(listener string) []grpc.ServerOption {
	var opts []grpc.ServerOption
	if a.tls != nil {
		// A connection that has not finished its handshake within
		// HandshakeTimeout is closed (grpc-go's default is 120s), as the
		// HTTP listeners' handshakes are bounded by their header timeout.
		opts = append(opts, grpc.Creds(credentials.NewTLS(a.ServerTLS(ProtosGRPC))), grpc.ConnectionTimeout(HandshakeTimeout))
	}
	if a.mode == config.AuthNone {
		return opts
	}
	return append(opts,
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if err := a.checkGRPC(ctx, listener, info.FullMethod); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			if err := a.checkGRPC(ss.Context(), listener, info.FullMethod); err != nil {
				return err
			}
			return next(srv, ss)
		}),
	)
}

// checkGRPC authenticates a call: nil when it may go on, else its
// UNAUTHENTICATED status.
func (a *Auth) checkGRPC(ctx context.Context, listener, method string) error {
	if strings.HasPrefix(method, HealthPrefix) {
		return nil
	}
	var why Reason
	var msg string
	switch a.mode {
	case config.AuthToken:
		md, _ := metadata.FromIncomingContext(ctx)
		why, msg = a.tokens.check(md.Get("authorization"))
		if why == ReasonMissing {
			msg = "authentication required: send the token as authorization metadata, Bearer <token>"
		}
	case config.AuthMTLS:
		var cs *tls.ConnectionState
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
				cs = &ti.State
			}
		}
		why, msg = verifiedPeer(cs)
	}
	if why == "" {
		return nil
	}
	a.refused(listener, why)
	st, err := status.New(codes.Unauthenticated, msg).WithDetails(&errdetails.ErrorInfo{
		Reason:   strings.ToUpper(CodeUnauthenticated),
		Domain:   Realm,
		Metadata: map[string]string{"code": CodeUnauthenticated, "reason": string(why)},
	})
	if err != nil {
		return status.Error(codes.Unauthenticated, msg)
	}
	return st.Err()
}
