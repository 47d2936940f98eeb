package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// cluster drives the three-broker cluster: kafka.sh for the faults, an
// admin client for leaders, ISRs and committed offsets.
type cluster struct {
	t       *testing.T
	brokers []string
	script  string
	adm     *kadm.Client
	// faults logs every fault injected, with the time since the scenario
	// began, for the report.
	faults []string
	start  time.Time
}

// newCluster returns the cluster of KAFKA_CLUSTER_BROKERS, or skips. It
// checks that all three brokers are up and every partition of the cluster is
// fully replicated, so a scenario never starts on the wreck of the last one.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	brokers, script := clusterEnv(t)
	cl, err := harness.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	c := &cluster{t: t, brokers: brokers, script: script, adm: kadm.NewClient(cl), start: time.Now()}
	for _, n := range []int{1, 2, 3} {
		c.ensureUp(n)
	}
	c.waitFullISR(90*time.Second, "")
	return c
}

// kafkaSh runs kafka.sh cluster args and returns its stderr (progress),
// failing the test if it fails.
func (c *cluster) kafkaSh(args ...string) string {
	c.t.Helper()
	out, err := c.tryKafkaSh(args...)
	if err != nil {
		c.t.Fatalf("kafka.sh cluster %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// tryKafkaSh runs kafka.sh cluster args and returns its output and error.
func (c *cluster) tryKafkaSh(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.script, append([]string{"cluster"}, args...)...)
	var out strings.Builder
	cmd.Stderr = &out
	cmd.Stdout = &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// fault runs a kafka.sh node command (kill-node, stop-node, start-node,
// pause-node, resume-node) on broker n and logs it.
func (c *cluster) fault(cmd string, n int32) {
	c.t.Helper()
	t0 := time.Now()
	out := c.kafkaSh(cmd, fmt.Sprint(n))
	line := fmt.Sprintf("%6.1fs %s %d (%s): %s", time.Since(c.start).Seconds(), cmd, n, time.Since(t0).Round(10*time.Millisecond), lastLine(out))
	c.faults = append(c.faults, line)
	c.t.Log(line)
}

// ensureUp starts broker n if it is not running (a previous test may have
// failed half-way through a fault) and resumes it if it is paused.
func (c *cluster) ensureUp(n int) {
	c.t.Helper()
	_, _ = c.tryKafkaSh("resume-node", fmt.Sprint(n)) // fails when it is not running
	c.kafkaSh("start-node", fmt.Sprint(n))
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// createTopic creates topic with the given partitions and the cluster's
// defaults (three replicas, min.insync.replicas=2) and waits until every
// partition has a leader and three in-sync replicas.
func (c *cluster) createTopic(topic string, partitions int32) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.t.Fatalf("create topic %q: %v", topic, err)
	}
	c.waitFullISR(60*time.Second, topic)
}

// partitionState is one partition's leader, replicas and ISR.
type partitionState struct {
	Leader   int32
	Replicas []int32
	ISR      []int32
}

// partitions returns the leader and ISR of every partition of topics (every
// topic of the cluster when none is given).
func (c *cluster) partitions(ctx context.Context, topics ...string) (map[string]map[int32]partitionState, error) {
	md, err := c.adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]partitionState{}
	for _, td := range md.Topics {
		if td.Err != nil {
			return nil, fmt.Errorf("topic %s: %w", td.Topic, td.Err)
		}
		m := map[int32]partitionState{}
		for _, pd := range td.Partitions {
			m[pd.Partition] = partitionState{Leader: pd.Leader, Replicas: slices.Clone(pd.Replicas), ISR: slices.Clone(pd.ISR)}
		}
		out[td.Topic] = m
	}
	return out, nil
}

// waitFullISR waits until every partition of topic (of the whole cluster
// when topic is empty: __consumer_offsets matters as much) has a leader and
// all its replicas in sync.
func (c *cluster) waitFullISR(timeout time.Duration, topic string) {
	c.t.Helper()
	var topics []string
	if topic != "" {
		topics = []string{topic}
	}
	deadline := time.Now().Add(timeout)
	last := "no metadata yet"
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ps, err := c.partitions(ctx, topics...)
		cancel()
		if err == nil {
			last = ""
			for tp, parts := range ps {
				for p, st := range parts {
					if st.Leader < 0 || len(st.ISR) < len(st.Replicas) {
						last += fmt.Sprintf(" %s/%d leader %d isr %v;", tp, p, st.Leader, st.ISR)
					}
				}
			}
			if last == "" {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("partitions not fully replicated after %s:%s", timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leaderOf returns the leader of topic/partition.
func (c *cluster) leaderOf(topic string, partition int32) int32 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := c.partitions(ctx, topic)
	if err != nil {
		c.t.Fatalf("metadata of %s: %v", topic, err)
	}
	st, ok := ps[topic][partition]
	if !ok || st.Leader < 0 {
		c.t.Fatalf("%s/%d has no leader: %+v", topic, partition, ps[topic])
	}
	return st.Leader
}

// endOffsets returns the high watermark of each partition of topic.
func (c *cluster) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	listed, err := c.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// busiestPartition returns the partition of topic whose end offset grew
// the most over one second.
func (c *cluster) busiestPartition(topic string) int32 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before, err := c.endOffsets(ctx, topic)
	if err != nil {
		c.t.Fatalf("end offsets of %s: %v", topic, err)
	}
	time.Sleep(time.Second)
	after, err := c.endOffsets(ctx, topic)
	if err != nil {
		c.t.Fatalf("end offsets of %s: %v", topic, err)
	}
	best, most := int32(0), int64(-1)
	for p, end := range after {
		if d := end - before[p]; d > most || d == most && p < best {
			best, most = p, d
		}
	}
	return best
}

// committed returns the group's committed offsets on topic.
func (c *cluster) committed(ctx context.Context, group, topic string) (map[int32]int64, error) {
	resps, err := c.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Topic == topic && r.Err == nil && r.At >= 0 {
			out[r.Partition] = r.At
		}
	})
	return out, nil
}

// dlqRecords returns how many records the dead-letter topic holds (0 if it
// does not exist).
func (c *cluster) dlqRecords(topic string) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := c.endOffsets(ctx, topic)
	if err != nil {
		if isUnknownTopic(err) {
			return 0
		}
		c.t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

func isUnknownTopic(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") || errors.Is(err, kadm.ErrEmpty))
}
