package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// delivery is one HTTP request eventguard's consume loop made to the sink
// app, and what the sink answered.
type delivery struct {
	Path      string
	Topic     string
	Partition int32
	Offset    int64
	// Key is the record key, decoded from base64 when
	// Eventguard-Key-Encoding says so.
	Key     string
	Attempt int
	Body    []byte
	Header  http.Header
	// Status is what the sink answered; 0 when the request ended (the
	// sidecar went away) before the sink answered.
	Status int
	// At is when the request arrived.
	At time.Time
}

// ok reports whether the sink answered 2xx.
func (d delivery) ok() bool { return d.Status >= 200 && d.Status < 300 }

// String is a short description for failure messages.
func (d delivery) String() string {
	return fmt.Sprintf("%s %s/%d/%d key=%q attempt=%d -> %d", d.Path, d.Topic, d.Partition, d.Offset, d.Key, d.Attempt, d.Status)
}

// answerFunc decides the sink's answer to a delivery: the HTTP status, and
// a body for a non-2xx one. It may block; ctx ends when the request does.
type answerFunc func(ctx context.Context, d *delivery) (status int, body string)

// sink is the app next to eventguard: a real HTTP server in the test
// process that records every delivery request in arrival order.
type sink struct {
	t   *testing.T
	srv *httptest.Server

	answer answerFunc

	mu   sync.Mutex
	reqs []delivery
}

// always200 accepts everything.
func always200(context.Context, *delivery) (int, string) { return http.StatusOK, "" }

// newSink starts a sink answering with answer; it is closed when the test
// ends (after the sidecars, which are stopped in cleanups registered later).
func newSink(t *testing.T, answer answerFunc) *sink {
	t.Helper()
	s := &sink{t: t, answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// url returns the sink's URL for path (e.g. "/events").
func (s *sink) url(path string) string { return s.srv.URL + path }

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	d := delivery{Path: r.URL.Path, At: time.Now(), Header: r.Header.Clone()}
	var err error
	if d.Body, err = io.ReadAll(r.Body); err != nil {
		s.t.Errorf("sink: read a delivery body: %v", err)
	}
	d.Topic = r.Header.Get("Eventguard-Topic")
	p, _ := strconv.ParseInt(r.Header.Get("Eventguard-Partition"), 10, 32)
	d.Partition = int32(p)
	d.Offset, _ = strconv.ParseInt(r.Header.Get("Eventguard-Offset"), 10, 64)
	d.Attempt, _ = strconv.Atoi(r.Header.Get("Eventguard-Attempt"))
	d.Key = r.Header.Get("Eventguard-Key")
	if r.Header.Get("Eventguard-Key-Encoding") == "base64" {
		k, err := base64.StdEncoding.DecodeString(d.Key)
		if err != nil {
			s.t.Errorf("sink: key %q is not base64: %v", d.Key, err)
		}
		d.Key = string(k)
	}
	status, body := s.answer(r.Context(), &d)
	if r.Context().Err() != nil {
		status = 0 // the sidecar is gone: no answer reached it
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	d.Status = status
	s.mu.Lock()
	s.reqs = append(s.reqs, d)
	s.mu.Unlock()
}

// all returns every request answered (or cut off) so far, in order.
func (s *sink) all() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.reqs...)
}

// delivered returns the requests answered 2xx, in order.
func (s *sink) delivered() []delivery {
	var out []delivery
	for _, d := range s.all() {
		if d.ok() {
			out = append(out, d)
		}
	}
	return out
}

// countOK returns how many requests were answered 2xx.
func (s *sink) countOK() int { return len(s.delivered()) }

// summary describes what the sink got, for failure messages.
func (s *sink) summary() string {
	all := s.all()
	var b strings.Builder
	fmt.Fprintf(&b, "the sink got %d requests", len(all))
	for i, d := range all {
		if i == 30 {
			fmt.Fprintf(&b, "\n  ... %d more", len(all)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// waitOK waits until the sink has answered at least n requests with 2xx.
func (s *sink) waitOK(n int, timeout time.Duration) {
	s.t.Helper()
	waitFor(s.t, timeout, fmt.Sprintf("%d deliveries answered 2xx", n), func() bool { return s.countOK() >= n }, s.summary)
}
