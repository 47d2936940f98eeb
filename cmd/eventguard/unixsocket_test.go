package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
)

// TestUnixSocketListeners: listen.http and listen.grpc may be Unix domain
// sockets (unix:///path), which an app in the same pod reaches through a
// shared volume; a stale socket file is replaced, a live one is not, and
// the sockets are removed when the sidecar stops.
func TestUnixSocketListeners(t *testing.T) {
	dir := t.TempDir()
	httpSock, grpcSock := filepath.Join(dir, "http.sock"), filepath.Join(dir, "grpc.sock")
	// A stale socket file, as a killed sidecar leaves it.
	stale, err := net.Listen("unix", httpSock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	startSidecar(t, nil, func(c *config.Config) {
		c.Listen.HTTP = config.UnixPrefix + httpSock
		c.Listen.GRPC = config.UnixPrefix + grpcSock
	})
	for _, p := range []string{httpSock, grpcSock} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o666 {
			t.Fatalf("%s: %v %v, want a socket with mode 0666", p, fi, err)
		}
	}

	// HTTP over the socket.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", httpSock)
	}}}
	resp, err := hc.Post("http://eventguard/v1/topics/pets/records", "application/json", strings.NewReader(`{"records":[{"value":`+petV2+`}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("produce over the HTTP socket: %d", resp.StatusCode)
	}

	// gRPC over the socket, dialled as gRPC clients dial it.
	conn, err := grpc.NewClient("unix://"+grpcSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := eventguardv1.NewEventguardClient(conn).Produce(ctx, &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(petV2)}}})
	if err != nil || !out.GetResults()[0].GetProduced() {
		t.Fatalf("produce over the gRPC socket: %v %v", out, err)
	}

	// A second sidecar on a socket in use is refused.
	if _, err := listenOn(config.UnixPrefix + httpSock); err == nil || !strings.Contains(err.Error(), "already serves") {
		t.Errorf("listening on a live socket: %v", err)
	}
}
