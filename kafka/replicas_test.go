package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fakeReplicas is a ReplicaSource the test sets.
type fakeReplicas struct {
	mu     sync.Mutex
	isr    map[string]map[int32]int
	min    map[string]int
	err    error
	minAsk int
}

func (f *fakeReplicas) InSync(_ context.Context, topics ...string) (map[string]map[int32]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]map[int32]int{}
	for _, t := range topics {
		if m, ok := f.isr[t]; ok {
			out[t] = m
		}
	}
	return out, nil
}

func (f *fakeReplicas) MinInSync(_ context.Context, topic string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minAsk++
	if f.err != nil {
		return 0, f.err
	}
	return f.min[topic], nil
}

func (f *fakeReplicas) set(topic string, isr ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[int32]int{}
	for p, n := range isr {
		m[int32(p)] = n
	}
	f.isr[topic] = m
}

// holdingProducer keeps every record until its ctx ends or release is
// called, like a producer retrying NOT_ENOUGH_REPLICAS.
type holdingProducer struct {
	mu   sync.Mutex
	held []func(error)
}

func (h *holdingProducer) TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	done := make(chan error, 1)
	h.mu.Lock()
	h.held = append(h.held, func(err error) { done <- err })
	h.mu.Unlock()
	go func() {
		select {
		case err := <-done:
			promise(r, err)
		case <-ctx.Done():
			promise(r, ctx.Err())
		}
	}()
}

func (h *holdingProducer) releaseAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.held {
		f(err)
	}
	h.held = nil
}

// produce sends one record through g and returns a channel with its
// result.
func produce(g *ReplicaGuard, topic string) <-chan error {
	ch := make(chan error, 1)
	g.TryProduce(context.Background(), &kgo.Record{Topic: topic}, func(_ *kgo.Record, err error) { ch <- err })
	return ch
}

func wait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5 s")
		return nil
	}
}

func newGuardTest() (*ReplicaGuard, *fakeReplicas, *holdingProducer) {
	src := &fakeReplicas{isr: map[string]map[int32]int{}, min: map[string]int{"pets": 2, "solo": 1}}
	src.set("pets", 3, 3, 3)
	src.set("solo", 1, 1)
	p := &holdingProducer{}
	return NewReplicaGuard(p, src, time.Second, nil), src, p
}

func TestReplicaGuard(t *testing.T) {
	tests := []struct {
		name string
		// isr is set after a first record made the guard watch the topic.
		topic   string
		isr     []int
		srcErr  error
		refused bool
	}{
		{"fully in sync", "pets", []int{3, 3, 3}, nil, false},
		{"one broker down", "pets", []int{2, 2, 2}, nil, false},
		{"some partitions short", "pets", []int{1, 2, 1}, nil, false},
		{"every partition short", "pets", []int{1, 1, 1}, nil, true},
		{"no replica in sync", "pets", []int{0, 0, 0}, nil, true},
		{"min.insync.replicas 1", "solo", []int{1, 1}, nil, false},
		{"cluster cannot say", "pets", []int{1, 1, 1}, errors.New("dial tcp: connection refused"), false},
		{"unknown topic", "nope", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, src, p := newGuardTest()
			first := produce(g, tt.topic) // the guard now watches the topic
			if tt.isr != nil {
				src.set(tt.topic, tt.isr...)
			}
			src.err = tt.srcErr
			g.Refresh(context.Background())
			second := produce(g, tt.topic)
			if tt.refused {
				for i, ch := range []<-chan error{first, second} {
					err := wait(t, ch)
					if !errors.Is(err, ErrNotEnoughReplicas) || !errors.Is(err, kerr.NotEnoughReplicas) {
						t.Errorf("record %d: err = %v, want ErrNotEnoughReplicas wrapping kerr.NotEnoughReplicas", i, err)
					}
				}
				return
			}
			p.releaseAll(nil)
			for i, ch := range []<-chan error{first, second} {
				if err := wait(t, ch); err != nil {
					t.Errorf("record %d: err = %v, want the producer's nil", i, err)
				}
			}
		})
	}
}

func TestReplicaGuardRecovers(t *testing.T) {
	g, src, p := newGuardTest()
	p.releaseAll(nil)
	_ = produce(g, "pets")
	src.set("pets", 1, 1, 1)
	g.Refresh(context.Background())
	if err := wait(t, produce(g, "pets")); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("short: err = %v", err)
	}
	src.set("pets", 2, 1, 1)
	g.Refresh(context.Background())
	ch := produce(g, "pets")
	p.releaseAll(nil)
	if err := wait(t, ch); err != nil {
		t.Fatalf("after a partition is back in sync: err = %v, want nil", err)
	}
}

func TestReplicaGuardKeepsProducerErrors(t *testing.T) {
	g, _, p := newGuardTest()
	ch := produce(g, "pets")
	p.releaseAll(kerr.MessageTooLarge)
	if err := wait(t, ch); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("err = %v, want the producer's MESSAGE_TOO_LARGE", err)
	}
	// A record cancelled by its caller keeps the caller's error.
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	g.TryProduce(ctx, &kgo.Record{Topic: "pets"}, func(_ *kgo.Record, err error) { res <- err })
	cancel()
	if err := wait(t, res); !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("err = %v, want the caller's context.Canceled", err)
	}
}

func TestReplicaGuardBoundsTopics(t *testing.T) {
	g, _, p := newGuardTest()
	p.releaseAll(nil)
	for i := range MaxGuardedTopics + 10 {
		ch := produce(g, fmt.Sprintf("t%d", i))
		p.releaseAll(nil)
		if err := wait(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	n := len(g.topics)
	g.mu.Unlock()
	if n > MaxGuardedTopics {
		t.Fatalf("%d topics watched, bound %d", n, MaxGuardedTopics)
	}
}

func TestReplicaGuardForgetsIdleTopics(t *testing.T) {
	g, src, p := newGuardTest()
	now := time.Unix(1_700_000_000, 0)
	g.now = func() time.Time { return now }
	ch := produce(g, "pets")
	p.releaseAll(nil)
	if err := wait(t, ch); err != nil {
		t.Fatal(err)
	}
	g.Refresh(context.Background())
	asked := src.minAsk
	g.Refresh(context.Background())
	if src.minAsk != asked {
		t.Errorf("min.insync.replicas asked again within its TTL")
	}
	now = now.Add(guardForget + time.Second)
	g.Refresh(context.Background())
	g.mu.Lock()
	_, watched := g.topics["pets"]
	g.mu.Unlock()
	if watched {
		t.Errorf("a topic idle for %s is still watched", guardForget+time.Second)
	}
}
