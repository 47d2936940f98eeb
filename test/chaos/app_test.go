package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"
)

// delivery is one delivery request from a sidecar to the app.
type delivery struct {
	Path      string // which sidecar: each delivers to its own path
	Partition int32
	Offset    int64
	Attempt   int
	EventID   string
}

// behaviour decides the app's answer to a delivery: a status and how long
// to take before answering.
type behaviour func(d delivery) (status int, delay time.Duration)

// healthy answers 200 at once.
func healthy(delivery) (int, time.Duration) { return http.StatusOK, 0 }

// slowAndFailing is an app in trouble: it answers 503 to the first two
// attempts of every 7th record and takes 150 ms over every 11th; the
// subscription's retry policy (attempts well above 3) gets every record
// through, so nothing is dead-lettered.
func slowAndFailing(d delivery) (int, time.Duration) {
	if d.Offset%7 == 3 && d.Attempt <= 2 {
		return http.StatusServiceUnavailable, 0
	}
	if d.Offset%11 == 5 {
		return http.StatusOK, 150 * time.Millisecond
	}
	return http.StatusOK, 0
}

// app is the service next to the sidecars: a real HTTP server in the test
// process. It checks, as each delivery arrives, that no record of its
// partition before it is still undelivered (nothing skipped, order kept),
// and keeps what it accepted for the checks against the topic.
type app struct {
	srv *httptest.Server

	mu        sync.Mutex
	behaviour behaviour
	requests  int
	byStatus  map[int]int
	// delivered counts the 2xx answers per partition and offset; next is
	// the offset below which every record of the partition was delivered.
	delivered map[int32]map[int64]int
	next      map[int32]int64
	ids       map[int32]map[int64]string
	// skips are deliveries that arrived while an earlier record of their
	// partition had never been delivered: a skip or a reorder.
	skips []string
	// deliveredTo counts 2xx answers per sidecar path.
	deliveredTo map[string]int
}

func newApp(b behaviour) *app {
	a := &app{
		behaviour:   b,
		byStatus:    map[int]int{},
		delivered:   map[int32]map[int64]int{},
		next:        map[int32]int64{},
		ids:         map[int32]map[int64]string{},
		deliveredTo: map[string]int{},
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

// url is the delivery URL for one sidecar.
func (a *app) url(path string) string { return a.srv.URL + path }

func (a *app) close() { a.srv.Close() }

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	d := delivery{Path: r.URL.Path, EventID: r.Header.Get("Eventguard-Event-Id")}
	p, err1 := strconv.ParseInt(r.Header.Get("Eventguard-Partition"), 10, 32)
	o, err2 := strconv.ParseInt(r.Header.Get("Eventguard-Offset"), 10, 64)
	at, err3 := strconv.Atoi(r.Header.Get("Eventguard-Attempt"))
	if err1 != nil || err2 != nil || err3 != nil {
		http.Error(w, "missing Eventguard-Partition, -Offset or -Attempt", http.StatusBadRequest)
		return
	}
	d.Partition, d.Offset, d.Attempt = int32(p), o, at

	a.mu.Lock()
	a.requests++
	if next := a.next[d.Partition]; d.Offset > next && len(a.skips) < 100 {
		a.skips = append(a.skips, fmt.Sprintf("%s: %d/%d (attempt %d) arrived while %d/%d was never delivered", d.Path, d.Partition, d.Offset, d.Attempt, d.Partition, next))
	}
	b := a.behaviour
	a.mu.Unlock()

	status, delay := b(d)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.Context().Err() != nil {
		return // the sidecar gave up: no answer reached it
	}
	a.mu.Lock()
	a.byStatus[status]++
	if status/100 == 2 {
		m := a.delivered[d.Partition]
		if m == nil {
			m = map[int64]int{}
			a.delivered[d.Partition] = m
			a.ids[d.Partition] = map[int64]string{}
		}
		m[d.Offset]++
		a.ids[d.Partition][d.Offset] = d.EventID
		a.deliveredTo[d.Path]++
		for m[a.next[d.Partition]] > 0 {
			a.next[d.Partition]++
		}
	}
	a.mu.Unlock()
	w.WriteHeader(status)
}

// prefix returns, per partition, the offset below which every record was
// delivered.
func (a *app) prefix() map[int32]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int32]int64, len(a.next))
	for p, n := range a.next {
		out[p] = n
	}
	return out
}

// caughtUp reports whether every record below ends has been delivered.
func (a *app) caughtUp(ends map[int32]int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, end := range ends {
		if a.next[p] < end {
			return false
		}
	}
	return true
}

// lag describes how far the app is behind ends, for failure messages.
func (a *app) lag(ends map[int32]int64) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := make([]int32, 0, len(ends))
	for p := range ends {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf(" %d: delivered below %d of %d;", p, a.next[p], ends[p])
	}
	return s
}

// appStats is what the app saw.
type appStats struct {
	Requests     int            `json:"requests"`
	ByStatus     map[string]int `json:"by_status"`
	Delivered    int            `json:"delivered"`
	Redeliveries int            `json:"redeliveries"`
	PerSidecar   map[string]int `json:"per_sidecar"`
}

func (a *app) stats() appStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := appStats{Requests: a.requests, ByStatus: map[string]int{}, PerSidecar: map[string]int{}}
	for st, n := range a.byStatus {
		s.ByStatus[strconv.Itoa(st)] = n
	}
	for _, m := range a.delivered {
		for _, n := range m {
			s.Delivered++
			s.Redeliveries += n - 1
		}
	}
	for p, n := range a.deliveredTo {
		s.PerSidecar[p] = n
	}
	return s
}

// eventIDAt returns the event id the app got with partition/offset, and
// whether it got that record at all.
func (a *app) eventIDAt(p int32, o int64) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.ids[p][o]
	return id, ok
}

// skipped returns the skip violations seen.
func (a *app) skipped() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.skips...)
}

// watchCommits samples the group's committed offsets every interval until
// ctx ends and records every sample where a committed offset is past a
// record the app never got: the commit must never run ahead of delivery.
func watchCommits(ctx context.Context, c *cluster, a *app, group, topic string, interval time.Duration) func() (samples int, violations []string) {
	var (
		mu    sync.Mutex
		n     int
		viols []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			com, err := c.committed(qctx, group, topic)
			cancel()
			if err != nil {
				continue // the coordinator may be on a broker that is down
			}
			// Read the app's state after the commits: a record delivered
			// between the two reads only makes the check laxer by one
			// record, never wrong.
			pre := a.prefix()
			mu.Lock()
			n++
			for p, off := range com {
				if off > pre[p] && len(viols) < 50 {
					viols = append(viols, fmt.Sprintf("partition %d committed at %d while the app had every record only below %d", p, off, pre[p]))
				}
			}
			mu.Unlock()
		}
	}()
	return func() (int, []string) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return n, viols
	}
}
