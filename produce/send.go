package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/kafka"
)

// The send stage: hand the stamped records to the producer, in the
// request's turn, and wait for the broker's acknowledgements or the
// deadline.

// pending tracks one request's outstanding acknowledgements.
type pending struct {
	mu        sync.Mutex
	left      int
	abandoned bool
	done      chan struct{}
}

// send stamps and produces the valid records and waits for their
// acknowledgements or the deadline.
func (p *Pipeline) send(ctx context.Context, req *Request, valid []prepared, resp *Response, start time.Time) {
	pd := &pending{left: len(valid), done: make(chan struct{})}
	toSend := valid
	var handedOff func()
	if req.Order != nil {
		var err error
		if handedOff, err = req.Order(ctx); err != nil {
			// ctx is done before this request's turn: nothing is handed
			// over and every record is answered as timed out below.
			toSend = nil
		}
	}
	recs := stamp(ctx, req, toSend, p.cfg.Instance)
	sizes := make([]int, len(recs))
	total := 0
	for n := range recs {
		sizes[n] = recordSize(&recs[n])
		total += sizes[n]
	}
	if len(toSend) > 0 && !p.buffered.reserve(len(toSend), total) {
		// No room in the producer's buffer: refuse the request whole, at
		// once, rather than wait for room until the deadline.
		inRec, inBytes := p.buffered.inUse()
		for _, v := range toSend {
			resp.Results[v.index].Err = &RecordError{Kind: KindOverloaded, Code: CodeOverloaded, Message: fmt.Sprintf(
				"the producer buffer is full (%d records, %d bytes waiting for Kafka; kafka.max_buffered_records %d, kafka.max_buffered_bytes %d): nothing was produced; retry later",
				inRec, inBytes, p.cfg.Kafka.MaxBufferedRecords, p.cfg.Kafka.MaxBufferedBytes)}
		}
		pd.left = 0
		close(pd.done)
		toSend, recs = nil, nil
	}
	for n, v := range toSend {
		res := &resp.Results[v.index]
		size := sizes[n]
		dl := v.deadLetter
		var choice *kafka.PartitionChoice
		if req.Records[v.index].PartitionSet && dl == nil {
			choice = &kafka.PartitionChoice{Context: ctx}
			recs[n].Context = choice
		}
		p.o.Producer.TryProduce(ctx, &recs[n], func(rec *kgo.Record, err error) {
			p.buffered.release(1, size)
			pd.mu.Lock()
			defer pd.mu.Unlock()
			if pd.abandoned {
				return
			}
			switch {
			case err != nil:
				k, code, msg := kafkaError(rec.Topic, err)
				if choice != nil {
					if n, ok := choice.OutOfRange(); ok {
						k, code, msg = KindNotFound, CodePartitionNotFound, fmt.Sprintf("topic %q has no partition %d (it has %d)", rec.Topic, rec.Partition, n)
					}
				}
				res.Err = &RecordError{Kind: k, Code: code, Message: msg}
			case dl != nil:
				res.DeadLettered = &DeadLetter{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Rule: dl.Rule.Name, Message: dl.String()}
			default:
				res.Produced, res.Partition, res.Offset, res.Timestamp = true, rec.Partition, rec.Offset, rec.Timestamp
			}
			pd.left--
			if pd.left == 0 {
				close(pd.done)
			}
		})
	}
	if handedOff != nil {
		handedOff()
	}
	for i := range req.Records {
		req.Records[i].Value = nil
	}
	if req.Release != nil {
		req.Release()
	}

	select {
	case <-pd.done:
		acked := true
		for _, v := range valid {
			r := &resp.Results[v.index]
			acked = acked && (r.Produced || r.DeadLettered != nil)
		}
		if acked {
			p.o.Observer.Acked(req.Topic, time.Since(start))
		}
	case <-ctx.Done():
		pd.mu.Lock()
		pd.abandoned = true
		for _, v := range valid {
			res := &resp.Results[v.index]
			if !res.Produced && res.DeadLettered == nil && res.Err == nil {
				res.Err = &RecordError{Kind: KindTimeout, Code: CodeTimeout, Message: fmt.Sprintf("no acknowledgement from Kafka within %s; the record may or may not have been written", p.cfg.Limits.ProduceTimeout)}
			}
		}
		pd.mu.Unlock()
	}
	p.observeSent(req, valid, resp)

	// Request-level error from Kafka failures: the first failure's kind.
	for _, v := range valid {
		if e := resp.Results[v.index].Err; e != nil && !req.Partial {
			produced := 0
			for _, w := range valid {
				if resp.Results[w.index].Produced {
					produced++
				}
			}
			resp.Err = &Error{Kind: e.Kind, Code: e.Code, Message: fmt.Sprintf("record %d: %s (%d of %d records were written; see results)", v.index, e.Message, produced, len(req.Records))}
			switch e.Kind {
			case KindUnavailable:
				resp.Err.RetryAfter = 5 * time.Second
			case KindOverloaded:
				resp.Err.RetryAfter = time.Second
			}
			p.o.Logger.LogAttrs(ctx, slog.LevelWarn, "produce failed", slog.String("topic", req.Topic), slog.String("code", e.Code), slog.String("error", e.Message))
			return
		}
	}
}

// kafkaError classifies a produce failure.
func kafkaError(topic string, err error) (Kind, string, string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return KindTimeout, CodeTimeout, "no acknowledgement from Kafka in time: " + err.Error()
	case errors.Is(err, context.Canceled):
		return KindUnavailable, CodeKafkaDown, "the request was cancelled before Kafka acknowledged: " + err.Error()
	case errors.Is(err, kgo.ErrClientClosed):
		return KindUnavailable, CodeShuttingDown, "eventguard is shutting down"
	case errors.Is(err, kgo.ErrMaxBuffered):
		return KindOverloaded, CodeOverloaded, "too many records buffered for Kafka; slow down"
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return KindTooLarge, CodeValueTooLarge, "Kafka refused the record as too large: " + err.Error()
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return KindForbidden, CodeKafkaRejected, fmt.Sprintf("Kafka does not let eventguard write to topic %q: %v", topic, err)
	case errors.Is(err, kerr.PolicyViolation):
		return KindForbidden, CodeKafkaRejected, fmt.Sprintf("a Kafka policy refuses the write to topic %q: %v", topic, err)
	case errors.Is(err, kerr.InvalidTopicException):
		return KindBadRequest, CodeInvalidTopic, fmt.Sprintf("Kafka refuses %q as a topic name: %v", topic, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return KindNotFound, CodeTopicNotFound, fmt.Sprintf("topic %q does not exist in Kafka", topic)
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage), errors.Is(err, kerr.InvalidTimestamp):
		return KindBadRequest, CodeKafkaRejected, "Kafka refused the record: " + err.Error()
	default:
		return KindUnavailable, CodeKafkaDown, "Kafka did not take the record: " + err.Error()
	}
}
