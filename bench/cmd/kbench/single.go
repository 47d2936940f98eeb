package main

import (
	"context"
	"fmt"
)

// singleClients are the concurrent clients of the one-event-per-request
// rows (issue 14 part 3): one app thread, a small pool, a busy service.
var singleClients = []int{1, 8, 64}

// singleModes are the one-event-per-request rows: for each client count,
// franz-go direct with one record per ProduceSync (the broker's cost of a
// produce request per record, which no sidecar can avoid), then eventguard
// HTTP and gRPC unary, each over TCP loopback and over a Unix domain
// socket. Their base is direct with the same clients.
func singleModes() []Mode {
	var out []Mode
	for _, c := range singleClients {
		base := fmt.Sprintf("direct-single-c%d", c)
		clients := fmt.Sprintf("%d clients", c)
		if c == 1 {
			clients = "1 client"
		}
		out = append(out, Mode{
			Key: base, Name: "franz-go direct, 1/request, " + clients, Group: "single", Clients: c,
			Records: func(*Env) int { return 1 },
			New: func(ctx context.Context, e *Env) (Loop, func(), error) {
				return oneAtATime(newDirect(e, e.Brokers, 1, e.Framed, nil))
			},
		})
		for _, unix := range []bool{false, true} {
			over, suffix := "TCP", ""
			if unix {
				over, suffix = "Unix socket", "-uds"
			}
			out = append(out,
				Mode{
					Key: fmt.Sprintf("http-single%s-c%d", suffix, c), Name: fmt.Sprintf("eventguard HTTP, 1/request, %s, %s", over, clients),
					Group: "single", Base: base, Clients: c, Sidecar: &SidecarSpec{Unix: unix},
					Records: func(*Env) int { return 1 },
					New: func(ctx context.Context, e *Env) (Loop, func(), error) {
						return oneAtATime(newHTTP(e, 1, false))
					},
				},
				Mode{
					Key: fmt.Sprintf("grpc-single%s-c%d", suffix, c), Name: fmt.Sprintf("eventguard gRPC unary, 1/request, %s, %s", over, clients),
					Group: "single", Base: base, Clients: c, Sidecar: &SidecarSpec{Unix: unix},
					Records: func(*Env) int { return 1 },
					New: func(ctx context.Context, e *Env) (Loop, func(), error) {
						return oneAtATime(newGRPCUnary(e, 1))
					},
				})
		}
	}
	return out
}
