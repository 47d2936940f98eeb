package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
)

// TestSidecarRunsSubscriptions: the sidecar starts the configured
// subscriptions, is ready only once they joined their groups, delivers what
// its own ingress produced, and commits it.
func TestSidecarRunsSubscriptions(t *testing.T) {
	var mu sync.Mutex
	var got []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get(consume.HeaderSubscription)+" "+string(b))
		mu.Unlock()
	}))
	defer app.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{Name: "sidecar-sub", Topics: []string{"pets"}, Deliver: config.Deliver{URL: app.URL}}}
	})

	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(r.get(t, "/readyz"), &ready); err != nil {
		t.Fatal(err)
	}
	if !ready.Ready || ready.Checks["subscriptions"] != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}

	if resp, body := r.produce(t, "pets", nil, records(petV2For("pet-1"), petV2For("pet-2"))); resp.StatusCode != http.StatusOK {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app got %d deliveries, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got[0] != "sidecar-sub "+petV2For("pet-1") || got[1] != "sidecar-sub "+petV2For("pet-2") {
		t.Errorf("the app got %q", got)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(r.stack.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = "sidecar-sub"
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "pets", []int32{0}
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := req.RequestWith(ctx, cl)
		cancel()
		if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 && resp.Topics[0].Partitions[0].Offset == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group sidecar-sub never committed offset 2: %v %+v", err, resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
