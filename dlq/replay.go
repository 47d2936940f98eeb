package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventguard/eventguard/kafka"
)

// Verdict is what a re-validation says about a dead-letter record's value.
type Verdict struct {
	// Pass is true when the value now passes a schema.
	Pass bool
	// Value is what to produce when it differs from the dead-letter
	// record's value (re-framed with another schema id); nil means the
	// value as it is.
	Value []byte
	// SchemaID, Subject and Version name the schema the value passes.
	SchemaID int
	Subject  string
	Version  int
	// Reason and Message say why the value still fails (Pass false).
	Reason  string
	Message string
}

// CheckFunc re-validates a dead-letter record's value (with its key and
// headers, for the contract's rules) as if it were to be produced to
// topic. It returns an error only when it cannot tell (the registry is
// unavailable).
type CheckFunc func(ctx context.Context, topic string, r *kgo.Record) (Verdict, error)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// From is the dead-letter topic read. Required.
	From string
	// To is the topic the records that now pass are produced to. Required.
	To string
	// Reason, when set, replays only records dead-lettered for this reason.
	Reason string
	// AllTopics replays records whose original topic is not To as well.
	// Default: false (a dead-letter topic shared by several topics gives
	// back only To's records).
	AllTopics bool
	// DryRun checks and reports but produces nothing.
	DryRun bool
	// Check re-validates each value. Required.
	Check CheckFunc
	// IdleTimeout stops reading when no record arrived for this long while
	// the end is not reached (a compacted or transactional topic can have
	// no record at its last offsets). Default: 10s.
	IdleTimeout time.Duration
	// Out receives one line per record read. Default: io.Discard.
	Out io.Writer
}

// Summary counts what a replay did.
type Summary struct {
	From, To string
	DryRun   bool
	// Read counts the records read from From.
	Read int
	// Replayed counts the records produced to To (or that would be, on a
	// dry run).
	Replayed int
	// Failing counts the records that still fail.
	Failing int
	// Skipped counts the records left alone by the filters (reason,
	// original topic) or not carrying dead-letter headers.
	Skipped int
	// Incomplete lists partitions not read to their end (IdleTimeout).
	Incomplete []int32
}

// String is the one-line report the replay command prints.
func (s *Summary) String() string {
	verb := "replayed"
	if s.DryRun {
		verb = "would replay"
	}
	out := fmt.Sprintf("replay %s -> %s: read %d, %s %d, still failing %d, skipped %d", s.From, s.To, s.Read, verb, s.Replayed, s.Failing, s.Skipped)
	if s.DryRun {
		out += " (dry run: nothing produced)"
	}
	if len(s.Incomplete) > 0 {
		out += fmt.Sprintf("; partitions %v not read to their end", s.Incomplete)
	}
	return out
}

// Replay reads the dead-letter topic From from its start to its end as of
// the call (a plain consumer: no group, nothing committed), re-validates each
// record with Check, and produces those that now pass to To with their
// original key, timestamp and headers, minus the eventguard.dlq.* headers,
// plus eventguard.replayed_from = "<from>/<partition>/<offset>". It never
// deletes or changes anything in From. Running it twice replays twice.
//
// opts are the Kafka client options (seed brokers, TLS, SASL, acks=all);
// Replay adds its own consume options to them.
func Replay(ctx context.Context, opts []kgo.Opt, o ReplayOptions) (*Summary, error) {
	if o.From == "" || o.To == "" || o.Check == nil {
		return nil, errors.New("replay: From, To and Check are required")
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 10 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumeTopics(o.From),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("replay: create kafka client: %w", err)
	}
	defer cl.Close()

	ends, err := endOffsets(ctx, cl, o.From)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	sum := &Summary{From: o.From, To: o.To, DryRun: o.DryRun}
	left := map[int32]bool{}
	for p, e := range ends {
		if e.end > e.start {
			left[p] = true
		}
	}

	var (
		mu      sync.Mutex
		prodErr error
		failed  int
	)
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, o.IdleTimeout)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return sum, fmt.Errorf("replay: %w", ctx.Err())
		}
		if fs.IsClientClosed() {
			return sum, errors.New("replay: kafka client closed")
		}
		if fs.Empty() && pctx.Err() != nil {
			for p := range left {
				sum.Incomplete = append(sum.Incomplete, p)
			}
			break
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return sum, fmt.Errorf("replay: read %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		var stop error
		fs.EachRecord(func(r *kgo.Record) {
			if stop != nil || !left[r.Partition] || r.Offset >= ends[r.Partition].end {
				return
			}
			if r.Offset+1 >= ends[r.Partition].end {
				delete(left, r.Partition)
			}
			sum.Read++
			out, err := replayOne(ctx, r, &o, sum)
			if err != nil {
				stop = err
				return
			}
			if out == nil || o.DryRun {
				return
			}
			cl.Produce(ctx, out, func(r *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed++
					if prodErr == nil {
						prodErr = err
					}
					mu.Unlock()
				}
			})
		})
		if stop != nil {
			return sum, stop
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return sum, fmt.Errorf("replay: flush produced records: %w", err)
	}
	if prodErr != nil {
		return sum, fmt.Errorf("replay: %d records could not be produced to %s, first: %w", failed, o.To, prodErr)
	}
	return sum, nil
}

// replayOne checks one dead-letter record, reports it, and returns the record
// to produce (nil for none).
func replayOne(ctx context.Context, r *kgo.Record, o *ReplayOptions, sum *Summary) (*kgo.Record, error) {
	at := fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)
	orig, ok := ReadOriginal(r)
	switch {
	case !ok:
		sum.Skipped++
		fmt.Fprintf(o.Out, "%s\tskipped: no %s header, not a dead-letter record\n", at, HeaderReason)
		return nil, nil
	case o.Reason != "" && orig.Reason != o.Reason:
		sum.Skipped++
		return nil, nil
	case !o.AllTopics && orig.Topic != o.To:
		sum.Skipped++
		fmt.Fprintf(o.Out, "%s\tskipped: from topic %s, not %s (--all-topics replays it)\n", at, orig.Topic, o.To)
		return nil, nil
	}
	v, err := o.Check(ctx, o.To, r)
	if err != nil {
		return nil, fmt.Errorf("replay: check %s: %w", at, err)
	}
	if !v.Pass {
		sum.Failing++
		fmt.Fprintf(o.Out, "%s\t%s\tstill fails (was %s): %s\n", at, v.Reason, orig.Reason, v.Message)
		return nil, nil
	}
	sum.Replayed++
	verb := "replayed"
	if o.DryRun {
		verb = "would replay"
	}
	how := "as it was"
	if v.Value != nil {
		how = "re-framed"
	}
	fmt.Fprintf(o.Out, "%s\t%s\t%s to %s (%s version %d, schema id %d, %s)\n", at, orig.Reason, verb, o.To, v.Subject, v.Version, v.SchemaID, how)

	value := r.Value
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	for _, h := range r.Headers {
		if IsHeader(h.Key) || h.Key == kafka.HeaderReplayedFrom {
			continue
		}
		if v.Value != nil {
			// The value now names another schema: the stamped labels follow it.
			switch h.Key {
			case kafka.HeaderSubject:
				h.Value = []byte(v.Subject)
			case kafka.HeaderSchemaVersion:
				h.Value = []byte(strconv.Itoa(v.Version))
			}
		}
		hs = append(hs, h)
	}
	if v.Value != nil {
		value = v.Value
	}
	hs = append(hs, kgo.RecordHeader{Key: kafka.HeaderReplayedFrom, Value: []byte(at)})
	return &kgo.Record{Topic: o.To, Key: r.Key, Value: value, Headers: hs, Timestamp: r.Timestamp}, nil
}

type span struct{ start, end int64 }

// endOffsets returns the log start and end offset of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]span, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("read metadata of %s: %d topics in the answer", topic, len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := map[int32]span{}
	for _, ts := range []int64{-2, -1} { // earliest, latest
		lreq := kmsg.NewPtrListOffsetsRequest()
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		for _, p := range mresp.Topics[0].Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition = p.Partition
			lp.Timestamp = ts
			lp.CurrentLeaderEpoch = -1
			lt.Partitions = append(lt.Partitions, lp)
		}
		lreq.Topics = append(lreq.Topics, lt)
		lresp, err := lreq.RequestWith(ctx, cl)
		if err != nil {
			return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
		}
		for _, t := range lresp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, p.Partition, err)
				}
				s := out[p.Partition]
				if ts == -2 {
					s.start = p.Offset
				} else {
					s.end = p.Offset
				}
				out[p.Partition] = s
			}
		}
	}
	return out, nil
}
