package main

import (
	"strings"
	"testing"
	"time"
)

// traces is `go tool pprof -traces` output in the shape Go 1.26 prints.
const traces = `File: eventguard
Type: cpu
Duration: 10s, Total samples = 100ms ( 1.00%)
-----------+-------------------------------------------------------
      40ms   runtime.mallocgc
             github.com/santhosh-tekuri/jsonschema/v6.(*validator).validate
             github.com/eventguard/eventguard/check.(*Checker).Check
-----------+-------------------------------------------------------
      30ms   runtime.memmove
             github.com/klauspost/compress/s2.encodeBlock
             github.com/twmb/franz-go/pkg/kgo.(*recBuf).bufferRecord
-----------+-------------------------------------------------------
      20ms   runtime.scanobject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   syscall.Syscall6 (inline)
             internal/poll.(*FD).Write
             net/http.(*response).finishRequest
-----------+-------------------------------------------------------
`

func TestBreakdown(t *testing.T) {
	by, total, err := breakdown(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"validate (schema)":          40 * time.Millisecond,
		"compression (snappy, …)":    30 * time.Millisecond,
		stageGC:                      20 * time.Millisecond,
		"system calls (network I/O)": 10 * time.Millisecond,
	}
	if total != 100*time.Millisecond || len(by) != len(want) {
		t.Fatalf("total %s, stages %v", total, by)
	}
	for k, v := range want {
		if by[k] != v {
			t.Errorf("%s: %s, want %s (all: %v)", k, by[k], v, by)
		}
	}
	var b strings.Builder
	writeBreakdownTable(&b, by, total, 1000)
	if !strings.Contains(b.String(), "| validate (schema) | 0.04 | 40.0% | 40.00 |") ||
		!strings.Contains(b.String(), "| total sampled | 0.10 | 100% | 100.00 |") {
		t.Errorf("table:\n%s", b.String())
	}
	if _, _, err := breakdown(strings.NewReader("File: x\n")); err == nil {
		t.Error("a profile without samples gave a breakdown")
	}
}
