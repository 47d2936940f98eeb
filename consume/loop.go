package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/telemetry/span"
)

// Options wire a Loop.
type Options struct {
	// Subscription is the subscription to run, defaults applied and
	// validated. Required.
	Subscription config.Subscription
	// Kafka configures the loop's own Kafka client, which both consumes
	// and writes dead-letter records (acks=all). Required.
	Kafka config.Kafka
	// Instance names this sidecar in dead-letter headers.
	Instance string
	// Checker is the contract check every consumed record goes through.
	// Required.
	Checker *check.Checker
	// Policy returns the policy records of a consumed topic are checked
	// against: the subject strategy their schema ids must be registered
	// under, and whether any subject is allowed. The sidecar gives
	// config.Config.ConsumePolicy (the subscription's subject_strategy,
	// else the topic's entry in topics). Default: the subscription's
	// subject_strategy, else the topic strategy.
	Policy func(topic string) (t config.Topic, anySubject bool)
	// Deliverer hands valid records to the app. Default: an
	// HTTPDeliverer posting to Subscription.Deliver.URL; required when the
	// subscription delivers over gRPC.
	Deliverer Deliverer
	// Tracer starts the consume spans. Default: tracing off (trace
	// context is still continued).
	Tracer *span.Tracer
	// Observer is told every outcome. Default: NopObserver.
	Observer Observer
	// Logger logs dead-lettered records, waits and rebalances. Default:
	// slog.Default().
	Logger *slog.Logger
	// CommitInterval is how often finished offsets are committed; they are
	// also committed when partitions are revoked and at Close.
	// Default: 1s.
	CommitInterval time.Duration
	// RevokeGrace bounds how long a revoked partition's in-flight delivery
	// may run before it is abandoned uncommitted. Default: the
	// subscription's deliver.timeout.
	RevokeGrace time.Duration
	// ClientOpts are added to the Kafka client's options (tests tune
	// session timeouts or dialers with them). Default: none.
	ClientOpts []kgo.Opt
	// TransitionKeys bounds the subscription's TRANSITION rule memory
	// (rules.State): the keys whose last value is remembered, per rule,
	// topic and partition, least recently used first out. Default:
	// rules.DefaultMaxStateEntries.
	TransitionKeys int
}

// fetchMaxWait bounds how long the broker holds a fetch waiting for data.
const fetchMaxWait = 500 * time.Millisecond

// fetchMaxPartitionBytes bounds the records one fetch brings per partition:
// a partition over its share of MaxInFlight holds at most about this much
// more.
const fetchMaxPartitionBytes = 256 << 10

type tp struct {
	topic string
	part  int32
}

// Loop is one subscription's consume loop: a consumer group client, a
// worker per assigned partition, and a committer. Create it with Start and
// stop it with Close.
//
// Records flow: one poll goroutine fetches at most MaxInFlight records ahead
// and appends each partition's records to that partition's queue (never
// blocking); each partition's worker validates, delivers and dead-letters
// its records in offset order; a partition whose queue is full is paused
// (PauseFetchPartitions) until its worker catches up, so a slow partition
// holds only its own share of MaxInFlight and never blocks the others.
// A record's offset is committed only once it is finished: delivered, or its
// dead-letter copy acknowledged by the broker.
type Loop struct {
	o     Options
	sub   *config.Subscription
	cl    *kgo.Client
	check *check.Checker
	// state is the subscription's TRANSITION rule memory; partitions the
	// loop gives up are forgotten (a new owner starts from a baseline).
	state *rules.State
	dlq   *dlq.Writer
	log   *slog.Logger

	wired      chan struct{} // closed once Start has set every field
	pollCtx    context.Context
	stopPoll   context.CancelFunc
	polled     chan struct{} // closed when the poll goroutine exits
	committed  chan struct{} // closed when the commit goroutine exits
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu    sync.Mutex
	parts map[tp]*partition
	// partCap is each partition's share of MaxInFlight: a partition with
	// that many records queued is paused until half of them are done, and
	// it has at most that many records started and not finished.
	partCap atomic.Int64

	commitMu  sync.Mutex // one commit at a time, and none across a revoke
	joined    atomic.Bool
	closing   atomic.Bool
	crashed   atomic.Bool // tests: behave like a killed process (no more commits)
	closeOnce sync.Once
	closeErr  error

	fetchLogMu sync.Mutex
	fetchLog   map[string]time.Time
}

// Start creates the subscription's Kafka client (which joins the group) and
// starts consuming.
func Start(o Options) (*Loop, error) {
	sub := &o.Subscription
	if o.Checker == nil {
		return nil, fmt.Errorf("subscription %q: no contract check", sub.Name)
	}
	if o.Deliverer == nil {
		if sub.Deliver.URL == "" {
			return nil, fmt.Errorf("subscription %q delivers over gRPC, but no gRPC Subscribe transport is wired", sub.Name)
		}
		o.Deliverer = HTTPDelivererFor(sub.Deliver)
	}
	if o.Policy == nil {
		bare := &config.Config{}
		o.Policy = func(topic string) (config.Topic, bool) { return bare.ConsumePolicy(sub, topic) }
	}
	if o.Tracer == nil {
		o.Tracer = span.NewTracer(nil)
	}
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = time.Second
	}
	if o.RevokeGrace <= 0 {
		o.RevokeGrace = sub.Deliver.Timeout
	}
	l := &Loop{
		o:         o,
		sub:       sub,
		check:     o.Checker,
		state:     rules.NewState(o.TransitionKeys),
		log:       o.Logger.With("subscription", sub.Name, "group", sub.Group),
		wired:     make(chan struct{}),
		polled:    make(chan struct{}),
		committed: make(chan struct{}),
		parts:     map[tp]*partition{},
		fetchLog:  map[string]time.Time{},
	}
	l.partCap.Store(int64(sub.MaxInFlight))
	start := kgo.NewOffset().AtStart()
	if sub.StartFrom == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(sub.Group),
		kgo.SessionTimeout(sub.SessionTimeout),
		kgo.ConsumeTopics(sub.Topics...),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A partition resumed after backpressure is fetched again only
		// when the fetch in flight returns: bound that wait (kgo's default
		// is 5s; the Java client's is this).
		kgo.FetchMaxWait(fetchMaxWait),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.OnPartitionsAssigned(l.assigned),
		kgo.OnPartitionsRevoked(l.revoked),
		kgo.OnPartitionsLost(l.lost),
	}
	l.pollCtx, l.stopPoll = context.WithCancel(context.Background())
	l.baseCtx, l.cancelBase = context.WithCancel(context.Background())
	// The client joins the group at once; its callbacks wait for the wiring.
	cl, err := kafka.NewClient(o.Kafka, o.Logger, append(opts, o.ClientOpts...)...)
	if err != nil {
		l.stopPoll()
		l.cancelBase()
		return nil, fmt.Errorf("subscription %q: %w", sub.Name, err)
	}
	l.cl = cl
	l.dlq = dlq.NewWriter(cl)
	close(l.wired)
	go l.poll()
	go l.commitLoop()
	l.log.Info("subscription started", "topics", sub.Topics, "max_in_flight", sub.MaxInFlight)
	return l, nil
}

// Joined reports whether the loop has joined its consumer group and received
// its first assignment (possibly empty: more members than partitions).
func (l *Loop) Joined() bool { return l.joined.Load() }

// Close stops the loop: it stops fetching, lets in-flight deliveries and
// dead-letter writes finish until shortly before ctx's deadline (abandoning
// the rest uncommitted: they are delivered again later), commits what is
// finished, leaves the group and closes the client. Queued records not yet
// started are abandoned at once. Close is safe to call more than once.
func (l *Loop) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Loop) close(ctx context.Context) error {
	l.closing.Store(true)
	l.stopPoll()
	<-l.polled
	<-l.committed
	l.cl.PauseFetchTopics(l.sub.Topics...)

	hardAt := time.Now().Add(l.sub.Deliver.Timeout)
	if d, ok := ctx.Deadline(); ok {
		// Keep a little of the grace period for the commit and the leave.
		reserve := min(2*time.Second, time.Until(d)/4)
		hardAt = d.Add(-reserve)
	}
	parts := l.detach(nil)
	l.stop(parts, hardAt)

	cctx := ctx
	if ctx.Err() != nil { // the grace period is spent: commit anyway, briefly
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
	}
	err := l.commit(cctx, parts)
	if lerr := l.cl.LeaveGroupContext(cctx); lerr != nil {
		err = errors.Join(err, fmt.Errorf("leave group %q: %w", l.sub.Group, lerr))
	}
	l.cl.CloseAllowingRebalance()
	l.cancelBase()
	l.log.Info("subscription stopped")
	if err != nil {
		return fmt.Errorf("close subscription %q: %w", l.sub.Name, err)
	}
	return nil
}

// crash stops the loop the way a killed process stops: in-flight work is cut
// off and nothing more is committed. The group is still left at once so that
// tests do not wait out the session timeout.
func (l *Loop) crash() {
	l.closeOnce.Do(func() {
		l.crashed.Store(true)
		l.closing.Store(true)
		l.stopPoll()
		<-l.polled
		<-l.committed
		l.stop(l.detach(nil), time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.cl.LeaveGroupContext(ctx)
		l.cl.CloseAllowingRebalance()
		l.cancelBase()
	})
}

// poll fetches and hands records to the partition workers until Close. It
// takes everything the client has buffered at once, so that no partition's
// records wait behind another's, and a pause never makes the client drop
// fetched records only to fetch them again.
func (l *Loop) poll() {
	defer close(l.polled)
	for {
		fs := l.cl.PollFetches(l.pollCtx)
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(l.fetchError)
		fs.EachPartition(l.dispatch)
		l.cl.AllowRebalance()
		if l.pollCtx.Err() != nil {
			return
		}
	}
}

// dispatch hands one partition's polled records to its worker.
func (l *Loop) dispatch(fp kgo.FetchTopicPartition) {
	if len(fp.Records) == 0 {
		return
	}
	l.mu.Lock()
	p := l.parts[tp{fp.Topic, fp.Partition}]
	l.mu.Unlock()
	if p == nil {
		return // not ours: whoever owns it fetches from the committed offset
	}
	p.enqueue(fp.Records)
}

func (l *Loop) fetchError(topic string, part int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	// The client retries on its own; say so once a minute per partition.
	key := fmt.Sprintf("%s/%d/%v", topic, part, err)
	l.fetchLogMu.Lock()
	last, seen := l.fetchLog[key]
	if !seen || time.Since(last) > time.Minute {
		if len(l.fetchLog) > 1000 {
			clear(l.fetchLog)
		}
		l.fetchLog[key] = time.Now()
	}
	l.fetchLogMu.Unlock()
	if !seen || time.Since(last) > time.Minute {
		l.log.Warn("fetch failed; the client retries", "topic", topic, "partition", part, "error", err)
	}
}

// assigned starts a worker for each new partition.
func (l *Loop) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	<-l.wired
	if l.closing.Load() {
		return
	}
	l.mu.Lock()
	n := 0
	for topic, ps := range assigned {
		for _, part := range ps {
			k := tp{topic, part}
			if _, ok := l.parts[k]; !ok {
				p := newPartition(l, topic, part)
				l.parts[k] = p
				go p.run()
				n++
			}
		}
	}
	l.setCapLocked()
	total := len(l.parts)
	l.mu.Unlock()
	// A partition paused when it was last revoked starts unpaused.
	cl.ResumeFetchPartitions(assigned)
	l.joined.Store(true)
	l.log.Info("partitions assigned", "added", n, "total", total, "partitions", assigned)
}

// revoked stops the revoked partitions' workers and commits their finished
// work before the partitions are released.
func (l *Loop) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	<-l.wired
	parts := l.detach(revoked)
	if len(parts) == 0 {
		return
	}
	l.stop(parts, time.Now().Add(l.o.RevokeGrace))
	if err := l.commit(ctx, parts); err != nil {
		l.log.Warn("commit on revoke failed: their records will be delivered again by the next owner", "error", err)
	}
	l.log.Info("partitions revoked", "partitions", revoked)
}

// lost abandons partitions the group took away without a revoke (session
// expired): they may already be someone else's, so nothing is committed.
func (l *Loop) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	<-l.wired
	parts := l.detach(lost)
	l.stop(parts, time.Now())
	if len(parts) > 0 {
		l.log.Warn("partitions lost; their uncommitted records will be delivered again", "partitions", lost)
	}
}

// detach removes the partitions in which (all when nil) from the loop and
// returns them.
func (l *Loop) detach(which map[string][]int32) []*partition {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*partition
	if which == nil {
		for k, p := range l.parts {
			out = append(out, p)
			delete(l.parts, k)
		}
	} else {
		for topic, ps := range which {
			for _, part := range ps {
				if p, ok := l.parts[tp{topic, part}]; ok {
					out = append(out, p)
					delete(l.parts, tp{topic, part})
				}
			}
		}
	}
	for _, p := range out {
		// What this process remembers of a partition it no longer owns
		// would be stale by the time it owned it again.
		l.state.Forget(p.topic, p.part)
	}
	l.setCapLocked()
	return out
}

// setCapLocked gives each assigned partition an equal share of MaxInFlight.
func (l *Loop) setCapLocked() {
	n := int64(max(len(l.parts), 1))
	l.partCap.Store(max(int64(l.sub.MaxInFlight)/n, 1))
}

// stop stops partitions: no new record is started; in-flight deliveries and
// dead-letter writes may finish until hardAt, then they are cut off.
func (l *Loop) stop(parts []*partition, hardAt time.Time) {
	if len(parts) == 0 {
		return
	}
	for _, p := range parts {
		p.cancelSoft()
	}
	t := time.AfterFunc(time.Until(hardAt), func() {
		for _, p := range parts {
			p.cancelHard()
		}
	})
	defer t.Stop()
	for _, p := range parts {
		<-p.done
	}
	for _, p := range parts {
		p.drain()
	}
}

// commitLoop commits finished offsets every CommitInterval.
func (l *Loop) commitLoop() {
	defer close(l.committed)
	t := time.NewTicker(l.o.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-l.pollCtx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		parts := make([]*partition, 0, len(l.parts))
		for _, p := range l.parts {
			parts = append(parts, p)
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(l.baseCtx, 10*time.Second)
		if err := l.commit(ctx, parts); err != nil && l.pollCtx.Err() == nil {
			l.log.Warn("commit failed; retrying at the next interval", "error", err)
		}
		cancel()
	}
}

// commit commits the finished offsets of parts that moved since their last
// commit. A partition detached by a revoke meanwhile is committed by the
// revoke, which waits for this commit.
func (l *Loop) commit(ctx context.Context, parts []*partition) error {
	if l.crashed.Load() {
		return nil
	}
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	offsets := map[string]map[int32]kgo.EpochOffset{}
	var moved []*partition
	var marks []int64
	for _, p := range parts {
		eo, ok := p.uncommitted()
		if !ok {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.part] = eo
		moved = append(moved, p)
		marks = append(marks, eo.Offset)
	}
	if len(moved) == 0 {
		return nil
	}
	var cerr error
	l.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = errors.Join(cerr, fmt.Errorf("%s partition %d: %w", t.Topic, p.Partition, err))
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("commit offsets of group %q: %w", l.sub.Group, cerr)
	}
	for i, p := range moved {
		p.committedTo(marks[i])
	}
	return nil
}

// backoff is the retry policy's wait before retry n (1 for the first):
// initial_backoff doubled each time, at most max_backoff.
func (l *Loop) backoff(n int) time.Duration {
	d := l.sub.Retry.InitialBackoff
	for i := 1; i < n && d < l.sub.Retry.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, l.sub.Retry.MaxBackoff)
}

// sleep waits d or until ctx is done; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
