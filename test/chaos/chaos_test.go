package chaos

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

// TestChaosKillLeader kills (SIGKILL) the leader of the busiest partition
// and restarts it, EVENTGUARD_CHAOS_KILLS times in a row (5; 20 in make
// chaos), waiting for full replication between kills.
func TestChaosKillLeader(t *testing.T) {
	kills := envInt(t, "EVENTGUARD_CHAOS_KILLS", 5)
	runScenario(t, scenario{name: "kill-leader", app: healthy, fault: func(r *run) {
		for i := range kills {
			p := r.c.busiestPartition(r.topic)
			leader := r.c.leaderOf(r.topic, p)
			r.note("kill %d of %d: partition %d, leader broker %d", i+1, kills, p, leader)
			r.c.fault("kill-node", leader)
			r.c.fault("start-node", leader)
			r.c.waitFullISR(120*time.Second, "")
		}
	}})
}

// TestChaosPauseBroker stops the leader of the busiest partition with
// SIGSTOP for longer than the produce timeout (a hang, not a death: its
// connections stay open and answer nothing), then resumes it.
func TestChaosPauseBroker(t *testing.T) {
	rounds := envInt(t, "EVENTGUARD_CHAOS_ROUNDS", 1)
	runScenario(t, scenario{name: "pause-broker", app: healthy, fault: func(r *run) {
		for range rounds {
			p := r.c.busiestPartition(r.topic)
			leader := r.c.leaderOf(r.topic, p)
			pause := produceTimeout + 2*time.Second
			r.note("pause: partition %d, leader broker %d, paused %s", p, leader, pause)
			r.c.fault("pause-node", leader)
			time.Sleep(pause)
			r.c.fault("resume-node", leader)
			r.c.waitFullISR(120*time.Second, "")
		}
	}})
}

// TestChaosRollingRestart stops (SIGTERM: a controlled shutdown) and
// restarts each broker in turn, as an upgrade does.
func TestChaosRollingRestart(t *testing.T) {
	rounds := envInt(t, "EVENTGUARD_CHAOS_ROUNDS", 1)
	runScenario(t, scenario{name: "rolling-restart", app: healthy, fault: func(r *run) {
		for range rounds {
			for _, n := range []int32{1, 2, 3} {
				r.c.fault("stop-node", n)
				r.c.fault("start-node", n)
				r.c.waitFullISR(120*time.Second, "")
			}
		}
	}})
}

// TestChaosBelowMinISR kills two of the three brokers: every partition is
// left with one in-sync replica, below min.insync.replicas=2, and Kafka
// refuses acks=all writes with NOT_ENOUGH_REPLICAS. Produce must answer 503
// with Retry-After (gRPC UNAVAILABLE with retry_delay) and answer it fast
// (within half the produce timeout: a 503 at the deadline is a timeout in
// disguise), and must recover by itself once a second broker is back.
func TestChaosBelowMinISR(t *testing.T) {
	runScenario(t, scenario{name: "below-min-isr", app: healthy, fault: func(r *run) {
		r.c.fault("kill-node", 2)
		r.c.fault("kill-node", 3)
		// The controller fences the two after broker.session.timeout.ms
		// (3 s) and shrinks every ISR to broker 1.
		shrunk := waitUntil(30*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ps, err := r.c.partitions(ctx, r.topic)
			if err != nil {
				return false
			}
			for _, st := range ps[r.topic] {
				if len(st.ISR) >= 2 {
					return false
				}
			}
			return true
		})
		if !shrunk {
			r.t.Errorf("the ISRs of %s did not shrink below 2 within 30 s of killing two brokers", r.topic)
		}
		from := time.Now()
		time.Sleep(produceTimeout + 5*time.Second)
		to := time.Now()
		// The outage's answers: requests sent once every ISR was below
		// the minimum and answered before a broker came back. (Requests
		// sent before, whose records Kafka may have appended, can wait
		// for their deadline: their outcome is unknown.) The outage
		// outlasts the produce timeout, so a request that waited for its
		// deadline is among them.
		var outs []outcome
		for _, o := range r.load.ledger.outcomesBetween(from, to) {
			if !o.Sent.Add(o.Latency).After(to) {
				outs = append(outs, o)
			}
		}
		s := summarize(r.load.ledger, outs)
		r.note("below min ISR (requests sent in the %.0f s after every ISR shrank, answered before a broker returned): %d requests, answers %v, p50 %v ms, max %v ms", to.Sub(from).Seconds(), s.Requests, s.ByLabel, s.LatencyP50, s.LatencyMax)
		checkBelowMinISR(r.t, outs)

		r.c.fault("start-node", 2)
		back := time.Now()
		if waitUntil(60*time.Second, func() bool { return r.load.ledger.lastOK().After(back) }) {
			r.note("recovered by itself: first request answered 200 sent %.1f s after broker 2 was registered again", r.load.ledger.lastOK().Sub(back).Seconds())
		} else {
			r.t.Errorf("produce did not recover within 60 s of broker 2's return")
		}
		r.c.fault("start-node", 3)
		r.c.waitFullISR(120*time.Second, "")
	}})
}

// checkBelowMinISR checks the answers given while the cluster had too few
// in-sync replicas: every one a 503 (gRPC UNAVAILABLE) with Retry-After, in
// less than half the produce timeout.
func checkBelowMinISR(t *testing.T, outs []outcome) {
	t.Helper()
	if len(outs) == 0 {
		t.Errorf("no request was answered while below min.insync.replicas")
		return
	}
	bad := map[string]int{}
	var slow []time.Duration
	for _, o := range outs {
		switch {
		case o.Label == "http 503" && o.RetryAfter, o.Label == "grpc Unavailable" && o.RetryAfter:
		default:
			label := o.Label
			if (o.Label == "http 503" || o.Label == "grpc Unavailable") && !o.RetryAfter {
				label += " without Retry-After"
			}
			bad[label]++
		}
		if o.Latency > produceTimeout/2 {
			slow = append(slow, o.Latency)
		}
	}
	if len(bad) > 0 {
		t.Errorf("below min.insync.replicas: %d of %d answers were not 503/UNAVAILABLE with Retry-After: %v (Kafka answers NOT_ENOUGH_REPLICAS; the producer retries it until the deadline)", total(bad), len(outs), bad)
	}
	if len(slow) > 0 {
		sort.Slice(slow, func(i, j int) bool { return slow[i] < slow[j] })
		t.Errorf("below min.insync.replicas: %d of %d answers took longer than %s (median of those %s): the refusal must come fast", len(slow), len(outs), produceTimeout/2, slow[len(slow)/2].Round(time.Millisecond))
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestChaosRebalanceSlowApp has the app slow and failing (503 twice for
// every 7th record, 150 ms for every 11th) while a second sidecar joins the
// group and, a while later, leaves it (SIGTERM): two rebalances with
// deliveries in flight and records being retried.
func TestChaosRebalanceSlowApp(t *testing.T) {
	rounds := envInt(t, "EVENTGUARD_CHAOS_ROUNDS", 1)
	runScenario(t, scenario{name: "rebalance-slow-app", app: slowAndFailing, fault: func(r *run) {
		for i := range rounds {
			label := "b"
			if i > 0 {
				label = fmt.Sprintf("b%d", i+1)
			}
			before := r.app.stats().PerSidecar["/"+label]
			r.startSidecar(label)
			if !waitUntil(30*time.Second, func() bool { return r.app.stats().PerSidecar["/"+label] > before+50 }) {
				r.t.Errorf("sidecar %s got no share of the partitions within 30 s of joining: %v", label, r.app.stats().PerSidecar)
			}
			time.Sleep(4 * time.Second)
			r.stopSidecar(label)
			r.note("sidecar %s joined and left the group; deliveries per sidecar so far: %v", label, r.app.stats().PerSidecar)
			time.Sleep(2 * time.Second)
		}
	}})
}
