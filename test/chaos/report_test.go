package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// result is one scenario's figures.
type result struct {
	Scenario string  `json:"scenario"`
	Passed   bool    `json:"passed"`
	Load     summary `json:"load"`
	// Sent and Acked count records: sent by the load, reported produced.
	Sent  int `json:"records_sent"`
	Acked int `json:"records_acknowledged"`
	// InTopic is the records read back; UnackedInTopic those among them
	// whose request was not answered as produced (a 504 whose record
	// landed after all).
	InTopic        int `json:"records_in_topic"`
	UnackedInTopic int `json:"unacknowledged_in_topic"`
	// Lost: acknowledged, not in the topic. Must be 0.
	Lost       int `json:"lost"`
	Duplicates int `json:"duplicates_in_topic"`
	Reordered  int `json:"reordered_per_key"`
	// Undelivered: in the topic, never delivered to the app. Must be 0.
	Undelivered int      `json:"undelivered"`
	Skips       []string `json:"skips"`
	DLQ         int64    `json:"dead_lettered"`
	App         appStats `json:"app"`
	// CommitSamples is how often the committed offsets were compared with
	// what the app had; CommitViolations how often one was ahead.
	CommitSamples    int `json:"commit_samples"`
	CommitViolations int `json:"commit_violations"`
	// NotCommitted counts records past the final committed offsets.
	NotCommitted      int64              `json:"not_committed_after_stop"`
	SidecarGoroutines [2]int             `json:"sidecar_goroutines_before_after"`
	Faults            []string           `json:"faults"`
	Notes             []string           `json:"notes"`
	Seconds           map[string]float64 `json:"seconds"`
}

// others renders the answers that were not all-produced, by label.
func (r result) others() string {
	var labels []string
	for l, n := range r.Load.ByLabel {
		if l != "http 200" && l != "grpc OK" {
			labels = append(labels, fmt.Sprintf("%s ×%d", l, n))
		}
	}
	sort.Strings(labels)
	if len(labels) == 0 {
		return "none"
	}
	return strings.Join(labels, ", ")
}

// table is the one-scenario summary logged by the test.
func (r result) table() string {
	return fmt.Sprintf("%s: requests %d, all produced %d (http 200 %d, grpc OK %d), other answers: %s; records sent %d, acknowledged %d, in topic %d (unacknowledged but written %d), LOST %d, duplicates %d, reordered %d; app: delivered %d, redeliveries %d, undelivered %d, skips %d, dead-lettered %d; commits checked %d times, ahead of delivery %d; %.0fs",
		r.Scenario, r.Load.Requests, r.Load.OK, r.Load.ByLabel["http 200"], r.Load.ByLabel["grpc OK"], r.others(),
		r.Sent, r.Acked, r.InTopic, r.UnackedInTopic, r.Lost, r.Duplicates, r.Reordered,
		r.App.Delivered, r.App.Redeliveries, r.Undelivered, len(r.Skips), r.DLQ,
		r.CommitSamples, r.CommitViolations, r.Seconds["total"])
}

var (
	resultsMu sync.Mutex
	results   []result
)

func addResult(r result) {
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
}

// markdown renders every scenario as a table, then each one's faults and
// notes.
func markdown(rs []result) string {
	var b strings.Builder
	b.WriteString("| scenario | passed | requests | all produced | other answers | records acked | in topic | lost | duplicates | delivered | redeliveries | undelivered | skips | commits ahead | seconds |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %v | %d | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.0f |\n",
			r.Scenario, r.Passed, r.Load.Requests, r.Load.OK, r.others(), r.Acked, r.InTopic, r.Lost, r.Duplicates,
			r.App.Delivered, r.App.Redeliveries, r.Undelivered, len(r.Skips), r.CommitViolations, r.Seconds["total"])
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n**%s**", r.Scenario)
		var lat []string
		for l, v := range r.Load.LatencyP50 {
			lat = append(lat, fmt.Sprintf("%s p50 %.0f ms, max %.0f ms", l, v, r.Load.LatencyMax[l]))
		}
		sort.Strings(lat)
		fmt.Fprintf(&b, " — latency: %s; sidecar goroutines before/after the load: %d/%d\n\n", strings.Join(lat, "; "), r.SidecarGoroutines[0], r.SidecarGoroutines[1])
		var whys []string
		for w, n := range r.Load.Why {
			whys = append(whys, fmt.Sprintf("- %d × %s", n, w))
		}
		sort.Strings(whys)
		for _, w := range whys {
			b.WriteString(w + "\n")
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
	}
	return b.String()
}

// writeReport prints every scenario's figures and, when dir is set, writes
// them to dir/chaos-<date>-<commit>.json and .md.
func writeReport(dir string) error {
	resultsMu.Lock()
	rs := append([]result(nil), results...)
	resultsMu.Unlock()
	if len(rs) == 0 {
		return nil
	}
	md := markdown(rs)
	fmt.Println("\nchaos scenarios:")
	fmt.Println(md)
	if dir == "" {
		return nil
	}
	commit := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	base := filepath.Join(dir, fmt.Sprintf("chaos-%s-%s", time.Now().UTC().Format("2006-01-02"), commit))
	load, _ := os.ReadFile("/proc/loadavg")
	doc := struct {
		Commit  string   `json:"commit"`
		Date    string   `json:"date"`
		LoadAvg string   `json:"loadavg_at_end"`
		Results []result `json:"results"`
	}{commit, time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(string(load)), rs}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	head := fmt.Sprintf("# Chaos run %s (commit %s)\n\nLoad average at the end: %s. Produced by `make chaos` (test/run-chaos.sh); see docs/chaos.md.\n\n", doc.Date, commit, doc.LoadAvg)
	if err := os.WriteFile(base+".md", []byte(head+md), 0o644); err != nil {
		return err
	}
	fmt.Printf("chaos: wrote %s.json and %s.md\n", base, base)
	return nil
}
