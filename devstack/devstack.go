// Package devstack runs an embedded Kafka (franz-go's kfake) and an embedded
// Confluent-compatible schema registry (franz-go's srfake) for `eventguard
// dev` and for tests. Both live in memory and vanish on Close.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Options configure a Stack. The zero value picks random free ports.
type Options struct {
	// KafkaPort is the embedded broker's port on 127.0.0.1; 0 picks one.
	KafkaPort int
	// RegistryAddr is the registry's listen address; "" picks
	// 127.0.0.1 and a free port.
	RegistryAddr string
	// Partitions is the default partition count of created topics.
	// Default: 3.
	Partitions int
	// Logger receives the stack's own log lines. Default: slog.Default().
	Logger *slog.Logger
}

// Stack is a running embedded Kafka and registry.
type Stack struct {
	Cluster  *kfake.Cluster
	Registry *srfake.Registry
	// Brokers are the broker addresses.
	Brokers []string
	// RegistryURL is the registry's base URL.
	RegistryURL string

	srv *http.Server
}

// Start starts a Stack.
func Start(o Options) (*Stack, error) {
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	if o.RegistryAddr == "" {
		o.RegistryAddr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	kopts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(o.Partitions)}
	if o.KafkaPort != 0 {
		kopts = append(kopts, kfake.Ports(o.KafkaPort))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, &StartError{Part: "kafka", Addr: fmt.Sprintf("127.0.0.1:%d", o.KafkaPort), Err: err}
	}
	ln, err := net.Listen("tcp", o.RegistryAddr)
	if err != nil {
		cluster.Close()
		return nil, &StartError{Part: "registry", Addr: o.RegistryAddr, Err: err}
	}
	reg := srfake.NewRegistry()
	srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("embedded registry stopped", "error", err)
		}
	}()
	return &Stack{
		Cluster:     cluster,
		Registry:    reg,
		Brokers:     cluster.ListenAddrs(),
		RegistryURL: "http://" + ln.Addr().String(),
		srv:         srv,
	}, nil
}

// StartError is a part of the stack that could not start, most often
// because its address is in use.
type StartError struct {
	// Part is "kafka" or "registry".
	Part string
	// Addr is the address it was to listen on (port 0: any free port).
	Addr string
	Err  error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("start embedded %s on %s: %v", e.Part, e.Addr, e.Err)
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// Close stops the registry and the broker.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.Cluster.Close()
}
