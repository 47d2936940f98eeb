package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// NewClient returns a franz-go client for brokers with a short dial timeout,
// plus opts.
func NewClient(brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create kafka client: %w", err)
	}
	return cl, nil
}

// CreateTopic creates topic with the given partitions and one replica.
func CreateTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	cl, err := NewClient(brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	return nil
}

// EndOffsets returns the high watermark of each partition of topic.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	cl, err := NewClient(brokers)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	if len(out) == 0 {
		return nil, fmt.Errorf("list end offsets of %q: no partitions", topic)
	}
	return out, nil
}

// ConsumeGroup joins a new consumer group on topic, reads from the start
// until it has n records, and leaves the group. It fails when ctx ends
// first, saying how many records it had.
func ConsumeGroup(ctx context.Context, brokers []string, topic, group string, n int) ([]*kgo.Record, error) {
	cl, err := NewClient(brokers,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return recs, fmt.Errorf("consume %q as group %q: %d of %d records before %w", topic, group, len(recs), n, ctx.Err())
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) {
			errs = append(errs, fmt.Errorf("%s/%d: %w", t, p, err))
		})
		if err := errors.Join(errs...); err != nil {
			return recs, fmt.Errorf("consume %q as group %q: %w", topic, group, err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs, nil
}

// ReadToEnd reads every record of topic from the start of each partition up
// to its high watermark as of the call.
func ReadToEnd(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	ends, err := EndOffsets(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			start[p] = kgo.NewOffset().AtStart()
			left[p] = end
		}
	}
	if len(start) == 0 {
		return nil, nil
	}
	cl, err := NewClient(brokers, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return recs, fmt.Errorf("read %q to its end: %d records, partitions %v unfinished: %w", topic, len(recs), left, ctx.Err())
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) {
			errs = append(errs, fmt.Errorf("%s/%d: %w", t, p, err))
		})
		if err := errors.Join(errs...); err != nil {
			return recs, fmt.Errorf("read %q to its end: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return recs, nil
}

// Header returns the value of the last header called name and whether the
// record has one.
func Header(r *kgo.Record, name string) (string, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == name {
			return string(r.Headers[i].Value), true
		}
	}
	return "", false
}

// RegistryClient returns a schema registry client for url.
func RegistryClient(url string) (*sr.Client, error) {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		return nil, fmt.Errorf("create registry client for %s: %w", url, err)
	}
	return cl, nil
}

// CopySubject registers version (-1: the latest) of subject from, with its
// references, under subject to. Tests use it to give each unique topic its
// own "<topic>-value" subject with an example contract.
func CopySubject(ctx context.Context, registryURL, to, from string, version int) (sr.SubjectSchema, error) {
	cl, err := RegistryClient(registryURL)
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	src, err := cl.SchemaByVersion(ctx, from, version)
	if err != nil {
		return sr.SubjectSchema{}, fmt.Errorf("read %s version %d: %w", from, version, err)
	}
	ss, err := cl.CreateSchema(ctx, to, src.Schema)
	if err != nil {
		return sr.SubjectSchema{}, fmt.Errorf("register %s as a copy of %s version %d: %w", to, from, src.Version, err)
	}
	return ss, nil
}
