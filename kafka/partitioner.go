package kafka

import (
	"context"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioner is the producer's partitioner (Options installs it):
// franz-go's default, UniformBytesPartitioner(64 KiB, adaptive, keys
// hashed with murmur2 as Kafka's Java client does), except for records
// whose Context is a *PartitionChoice: those go to the partition in their
// Record.Partition, as REST Proxy's partition_id asks.
func Partitioner() kgo.Partitioner {
	return choicePartitioner{def: kgo.UniformBytesPartitioner(64<<10, true, true, nil)}
}

// PartitionChoice marks a record whose partition the caller chose: set it
// as the record's Context (wrapping the produce context) and the partition
// in Record.Partition. A partition the topic does not have fails the
// record; OutOfRange then says how many partitions the topic has.
type PartitionChoice struct {
	context.Context
	// partitions is the topic's partition count, set when the chosen
	// partition was not one of them.
	partitions atomic.Int32
}

// OutOfRange reports whether the chosen partition was beyond the topic's,
// and how many partitions the topic has.
func (c *PartitionChoice) OutOfRange() (partitions int, ok bool) {
	n := c.partitions.Load()
	return int(n), n > 0
}

type choicePartitioner struct{ def kgo.Partitioner }

func (p choicePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &choiceTopicPartitioner{def: p.def.ForTopic(topic)}
}

// choiceTopicPartitioner partitions records with a PartitionChoice itself
// and hands the others to the default.
type choiceTopicPartitioner struct{ def kgo.TopicPartitioner }

var _ kgo.TopicBackupPartitioner = (*choiceTopicPartitioner)(nil)

// RequiresConsistency is true for a chosen partition: franz-go then picks
// among all partitions (indexed by their number), not only the writable
// ones, so that the index is the partition.
func (p *choiceTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := r.Context.(*PartitionChoice); ok {
		return true
	}
	return p.def.RequiresConsistency(r)
}

func (p *choiceTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if c, ok := r.Context.(*PartitionChoice); ok {
		return chosen(c, r, n)
	}
	return p.def.Partition(r, n)
}

func (p *choiceTopicPartitioner) PartitionByBackup(r *kgo.Record, n int, backup kgo.TopicBackupIter) int {
	if c, ok := r.Context.(*PartitionChoice); ok {
		return chosen(c, r, n)
	}
	if b, ok := p.def.(kgo.TopicBackupPartitioner); ok {
		return b.PartitionByBackup(r, n, backup)
	}
	return p.def.Partition(r, n)
}

// chosen returns r's chosen partition; out of range it notes the topic's
// partition count on c, and franz-go fails the record.
func chosen(c *PartitionChoice, r *kgo.Record, n int) int {
	if int(r.Partition) >= n || r.Partition < 0 {
		c.partitions.Store(int32(n))
	}
	return int(r.Partition)
}
