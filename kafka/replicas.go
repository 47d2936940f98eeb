package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is what ReplicaGuard wraps; *kgo.Client implements it.
type Producer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// ReplicaSource tells ReplicaGuard how many replicas are in sync and how
// many a topic needs; AdminReplicas asks the cluster.
type ReplicaSource interface {
	// InSync returns the size of the ISR of every partition of topics.
	InSync(ctx context.Context, topics ...string) (map[string]map[int32]int, error)
	// MinInSync returns the topic's min.insync.replicas.
	MinInSync(ctx context.Context, topic string) (int, error)
}

// ErrNotEnoughReplicas is returned for records ReplicaGuard refuses; it
// wraps kerr.NotEnoughReplicas.
var ErrNotEnoughReplicas = fmt.Errorf("%w: fewer in-sync replicas than min.insync.replicas", kerr.NotEnoughReplicas)

// MaxGuardedTopics bounds the topics ReplicaGuard watches: the least
// recently produced one with nothing in flight is forgotten past it.
const MaxGuardedTopics = 1024

// guardForget is how long a topic nobody produced to stays watched;
// guardMinISRTTL how long a topic's min.insync.replicas is trusted.
const (
	guardForget    = 5 * time.Minute
	guardMinISRTTL = 5 * time.Minute
)

// ReplicaGuard makes a write that Kafka cannot take fail at once. With
// acks=all, a partition whose ISR is below its topic's min.insync.replicas
// answers NOT_ENOUGH_REPLICAS, which franz-go retries (it is retriable)
// until the record's deadline: the caller would wait the whole produce
// timeout for a timeout. The guard watches the ISRs of the topics produced
// to (one Metadata request per interval, min.insync.replicas from
// DescribeConfigs every 5 minutes); while every partition of a topic is
// short, records for it fail at once with ErrNotEnoughReplicas, and the
// records of that topic already waiting are cancelled (franz-go fails only
// those it may fail without risking a duplicate: the broker answered
// NOT_ENOUGH_REPLICAS, so they were not written). A topic with some
// partitions in sync is left to franz-go, as the guard cannot know which
// partition a record will go to. It is safe for concurrent use.
type ReplicaGuard struct {
	p        Producer
	src      ReplicaSource
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu     sync.Mutex
	topics map[string]*guardTopic
}

// guardTopic is what the guard knows of one topic.
type guardTopic struct {
	minISR   int
	minISRAt time.Time
	// short is true while every partition has fewer than minISR in sync.
	short    bool
	why      error
	used     time.Time
	inflight map[*guardRecord]struct{}
}

// guardRecord is one record handed to the producer and not yet answered.
type guardRecord struct {
	cancel context.CancelCauseFunc
}

// NewReplicaGuard returns a guard in front of p, refreshed every interval
// once Run is called.
func NewReplicaGuard(p Producer, src ReplicaSource, interval time.Duration, log *slog.Logger) *ReplicaGuard {
	if log == nil {
		log = slog.Default()
	}
	return &ReplicaGuard{p: p, src: src, interval: interval, log: log, now: time.Now, topics: map[string]*guardTopic{}}
}

// TryProduce hands r to the producer's TryProduce, or fails it at once
// while its topic has no partition with enough replicas in sync.
func (g *ReplicaGuard) TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	g.mu.Lock()
	t := g.topic(r.Topic)
	t.used = g.now()
	if t.short {
		why := t.why
		g.mu.Unlock()
		promise(r, why)
		return
	}
	rctx, cancel := context.WithCancelCause(ctx)
	gr := &guardRecord{cancel: cancel}
	t.inflight[gr] = struct{}{}
	g.mu.Unlock()
	g.p.TryProduce(rctx, r, func(r *kgo.Record, err error) {
		g.mu.Lock()
		delete(t.inflight, gr)
		g.mu.Unlock()
		if err != nil && errors.Is(err, context.Canceled) {
			if cause := context.Cause(rctx); errors.Is(cause, ErrNotEnoughReplicas) {
				err = cause
			}
		}
		cancel(nil)
		promise(r, err)
	})
}

// topic returns the state of name, making it (and forgetting the least
// recently used idle topic past MaxGuardedTopics). g.mu is held.
func (g *ReplicaGuard) topic(name string) *guardTopic {
	if t, ok := g.topics[name]; ok {
		return t
	}
	if len(g.topics) >= MaxGuardedTopics {
		var oldest string
		var at time.Time
		for n, t := range g.topics {
			if len(t.inflight) == 0 && (oldest == "" || t.used.Before(at)) {
				oldest, at = n, t.used
			}
		}
		if oldest != "" {
			delete(g.topics, oldest)
		}
	}
	t := &guardTopic{inflight: map[*guardRecord]struct{}{}}
	g.topics[name] = t
	return t
}

// Run refreshes the ISRs every interval until ctx is done.
func (g *ReplicaGuard) Run(ctx context.Context) {
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		g.Refresh(ctx)
	}
}

// Refresh asks the source once for the ISRs of the topics produced to in
// the last 5 minutes and updates which are short. When the cluster cannot
// say, nothing is refused: the producer's own errors and deadline apply.
func (g *ReplicaGuard) Refresh(ctx context.Context) {
	now := g.now()
	g.mu.Lock()
	var names []string
	var stale []string
	for n, t := range g.topics {
		if now.Sub(t.used) > guardForget && len(t.inflight) == 0 {
			delete(g.topics, n)
			continue
		}
		names = append(names, n)
		if t.minISR == 0 || now.Sub(t.minISRAt) > guardMinISRTTL {
			stale = append(stale, n)
		}
	}
	g.mu.Unlock()
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max(g.interval, time.Second))
	defer cancel()
	mins := map[string]int{}
	for _, n := range stale {
		m, err := g.src.MinInSync(ctx, n)
		if err != nil {
			g.log.Debug("replica guard: read min.insync.replicas", "topic", n, "error", err)
			continue
		}
		mins[n] = m
	}
	isr, err := g.src.InSync(ctx, names...)
	if err != nil {
		g.log.Debug("replica guard: read the ISRs", "error", err)
		isr = nil
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range names {
		t, ok := g.topics[n]
		if !ok {
			continue
		}
		if m, ok := mins[n]; ok {
			t.minISR, t.minISRAt = m, now
		}
		parts := isr[n]
		short := t.minISR > 1 && len(parts) > 0
		for _, inSync := range parts {
			short = short && inSync < t.minISR
		}
		if short && !t.short {
			t.why = fmt.Errorf("%w: every partition of topic %q has fewer than %d replicas in sync; Kafka refuses acks=all writes until one catches up", ErrNotEnoughReplicas, n, t.minISR)
			g.log.Warn("every partition short of in-sync replicas: refusing writes", "topic", n, "min_insync_replicas", t.minISR, "isr", parts)
			for gr := range t.inflight {
				gr.cancel(t.why)
			}
		}
		if !short && t.short {
			g.log.Info("in-sync replicas back: accepting writes", "topic", n, "isr", parts)
		}
		t.short = short
	}
}

// AdminReplicas is the ReplicaSource of a cluster, through the admin API.
type AdminReplicas struct {
	Admin *kadm.Client
}

// InSync returns the ISR size of every partition of topics (a topic the
// metadata reports an error for is left out).
func (a AdminReplicas) InSync(ctx context.Context, topics ...string) (map[string]map[int32]int, error) {
	md, err := a.Admin.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	out := map[string]map[int32]int{}
	for _, td := range md.Topics {
		if td.Err != nil {
			continue
		}
		m := map[int32]int{}
		for _, pd := range td.Partitions {
			m[pd.Partition] = len(pd.ISR)
		}
		out[td.Topic] = m
	}
	return out, nil
}

// MinInSync returns the topic's min.insync.replicas (its own, or the
// broker's default).
func (a AdminReplicas) MinInSync(ctx context.Context, topic string) (int, error) {
	rcs, err := a.Admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe configs of %q: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return 0, fmt.Errorf("describe configs of %q: %w", topic, err)
	}
	if rc.Err != nil {
		return 0, fmt.Errorf("describe configs of %q: %w", topic, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "min.insync.replicas" && c.Value != nil {
			n, err := strconv.Atoi(*c.Value)
			if err != nil {
				return 0, fmt.Errorf("min.insync.replicas of %q is %q: %w", topic, *c.Value, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("describe configs of %q: no min.insync.replicas", topic)
}
