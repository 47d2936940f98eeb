package ingressauth_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
	"github.com/eventguard/eventguard/internal/testcerts"
)

// pingDesc is a one-method service to call: /test.Ping/Ping echoes Empty.
var pingDesc = grpc.ServiceDesc{
	ServiceName: "test.Ping",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Ping", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		m := new(emptypb.Empty)
		if err := dec(m); err != nil {
			return nil, err
		}
		if in == nil {
			return m, nil
		}
		return in(ctx, m, &grpc.UnaryServerInfo{FullMethod: "/test.Ping/Ping"}, func(ctx context.Context, req any) (any, error) { return req, nil })
	}}},
}

// serveGRPC serves the ping, health and reflection services with a's
// options (a chained interceptor too, which must run after a's) and
// returns the address.
func serveGRPC(t *testing.T, a *ingressauth.Auth, chainedSaw *int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/test.Ping/Ping" {
			*chainedSaw++
		}
		return next(ctx, req)
	})}
	srv := grpc.NewServer(append(opts, a.GRPCServerOptions("grpc")...)...)
	srv.RegisterService(&pingDesc, struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// calls makes a unary call, a health check and a reflection stream, and
// returns their codes.
func calls(ctx context.Context, cc *grpc.ClientConn) (ping, healthCheck, refl codes.Code, pingErr error) {
	pingErr = cc.Invoke(ctx, "/test.Ping/Ping", &emptypb.Empty{}, &emptypb.Empty{})
	_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	healthCheck = status.Code(err)
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err == nil {
		err = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		if err == nil {
			_, err = stream.Recv()
		}
	}
	return status.Code(pingErr), healthCheck, status.Code(err), pingErr
}

func TestGRPCToken(t *testing.T) {
	t.Parallel()
	var ref refusals
	a := tokenAuth(t, config.ListenAuth{Tokens: config.StringList{tokenA}}, ingressauth.Options{Refused: ref.add})
	saw := 0
	cc := dial(t, serveGRPC(t, a, &saw), insecure.NewCredentials())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name string
		md   []string
		want codes.Code
	}{
		{"no token", nil, codes.Unauthenticated},
		{"wrong token", []string{"authorization", "Bearer " + tokenB}, codes.Unauthenticated},
		{"token without a scheme", []string{"authorization", tokenA}, codes.Unauthenticated},
		{"token", []string{"authorization", "Bearer " + tokenA}, codes.OK},
		{"basic", []string{"authorization", basic("app", tokenA)}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := saw
			ctx := metadata.AppendToOutgoingContext(ctx, tt.md...)
			ping, hc, refl, err := calls(ctx, cc)
			if ping != tt.want || refl != tt.want {
				t.Errorf("ping %s, reflection %s; want %s", ping, refl, tt.want)
			}
			if hc != codes.OK {
				t.Errorf("health %s: it stays open", hc)
			}
			if tt.want != codes.OK {
				if saw != before {
					t.Error("a chained interceptor ran before authentication refused the call")
				}
				st := status.Convert(err)
				var info *errdetails.ErrorInfo
				for _, d := range st.Details() {
					if i, ok := d.(*errdetails.ErrorInfo); ok {
						info = i
					}
				}
				if info == nil || info.Reason != "UNAUTHENTICATED" || info.Domain != "eventguard" || info.Metadata["code"] != "unauthenticated" {
					t.Errorf("details %v", st.Details())
				}
			}
		})
	}
	if ref.get("grpc/missing") != 2 || ref.get("grpc/invalid") != 4 {
		t.Errorf("refusals %v", ref.n)
	}
}

func TestGRPCMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := testcerts.NewCA(t, "server CA"), testcerts.NewCA(t, "client CA")
	a, err := ingressauth.New(config.Listen{Auth: config.ListenAuth{Mode: config.AuthMTLS}, TLS: mtlsFiles(t, t.TempDir(), serverCA, clientCA)}, ingressauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	saw := 0
	addr := serveGRPC(t, a, &saw)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	withCert := dial(t, addr, credentials.NewTLS(&tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCA.ClientCert(t, "app")}}))
	if ping, hc, refl, err := calls(ctx, withCert); ping != codes.OK || hc != codes.OK || refl != codes.OK {
		t.Errorf("with a client certificate: ping %s health %s reflection %s (%v)", ping, hc, refl, err)
	}
	noCert := dial(t, addr, credentials.NewTLS(&tls.Config{RootCAs: serverCA.Pool()}))
	ping, hc, refl, err := calls(ctx, noCert)
	if ping != codes.Unauthenticated || refl != codes.Unauthenticated || hc != codes.OK {
		t.Errorf("without a client certificate: ping %s health %s reflection %s (%v)", ping, hc, refl, err)
	}
	plain := dial(t, addr, insecure.NewCredentials())
	if ping, _, _, _ := calls(ctx, plain); ping != codes.Unavailable {
		t.Errorf("plain text to a TLS listener: %s", ping)
	}
}
