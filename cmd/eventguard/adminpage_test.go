package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
)

// TestAdminPageAfterTraffic runs the wired sidecar on kfake and srfake
// with a subscription whose app refuses one record, sends valid, deprecated,
// invalid and unroutable records, and checks what the admin listener shows:
// GET /v1/recent (the rejection with its path and feature, the dead-letter
// with its group, counts per reason), GET /v1/catalog (the deprecated
// version's sunset and replacement) and GET /ui (the drawn nodes, the
// deprecated version marked, the rows, the readiness checks); then
// `catalog graph --format html` over this sidecar and one that serves only
// its catalog.
func TestAdminPageAfterTraffic(t *testing.T) {
	app := &appServer{}
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Deprecations = []config.Deprecation{{Subject: "pets-value", Version: 1, Sunset: date(t, "2099-03-31"),
			Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}}}
		retry := config.Retry{Attempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
		c.Subscriptions = []config.Subscription{{Name: "analytics", Topics: []string{"pets"}, Group: "weight-analytics", Deliver: config.Deliver{URL: appSrv.URL}, Retry: retry}}
	})
	ws := map[string]string{"Eventguard-Feature": "weight-sync"}
	for _, body := range []string{records(petV2For("pet-1")), records(petV2For("pet-reject"))} {
		if resp, b := r.produce(t, "pets", ws, body); resp.StatusCode != 200 {
			t.Fatalf("produce: %d %s", resp.StatusCode, b)
		}
	}
	if resp, b := r.produce(t, "pets", map[string]string{"Eventguard-Feature": "legacy-import"}, `{"records":[{"key":"pet-42","schema_version":1,"value":`+petV1+`}]}`); resp.StatusCode != 200 {
		t.Fatalf("produce v1: %d %s", resp.StatusCode, b)
	}
	if resp, _ := r.produce(t, "pets", ws, records(petV2Bad)); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid record: %d", resp.StatusCode)
	}
	if resp, _ := r.produce(t, "ghost-topic", ws, records(petV2, petV2)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unroutable records: %d", resp.StatusCode)
	}

	var rs catalog.RecentSnapshot
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs = catalog.RecentSnapshot{}
		if err := json.Unmarshal(r.get(t, "/v1/recent"), &rs); err != nil {
			t.Fatal(err)
		}
		if len(rs.Rejections) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejections: %+v", rs.Rejections)
		}
		time.Sleep(50 * time.Millisecond)
	}
	find := func(reason string) (catalog.Rejection, int) {
		var found catalog.Rejection
		n := 0
		for _, x := range rs.Rejections {
			if x.Reason == reason {
				found, n = x, n+1
			}
		}
		return found, n
	}
	dead, _ := find(dlq.ReasonRejectedByApp)
	invalid, _ := find("schema_violation")
	unroutable, n := find("schema_not_found")
	if n != 2 {
		t.Errorf("%d unroutable rows, want one per record", n)
	}
	for i := 1; i < len(rs.Rejections); i++ {
		if rs.Rejections[i].Time.After(rs.Rejections[i-1].Time) {
			t.Errorf("rows not newest first: %+v", rs.Rejections)
		}
	}
	if dead.Outcome != catalog.OutcomeDeadLettered || dead.Reason != dlq.ReasonRejectedByApp || dead.Group != "weight-analytics" || dead.Subject != "pets-value" || dead.Version != 2 {
		t.Errorf("dead-letter row: %+v", dead)
	}
	if unroutable.Outcome != catalog.OutcomeRejected || unroutable.Topic != "ghost-topic" || unroutable.Records != 1 || unroutable.Feature != "weight-sync" ||
		!strings.Contains(unroutable.Message, "ghost-topic-value") {
		t.Errorf("unroutable row: %+v", unroutable)
	}
	if invalid.Reason != "schema_violation" || invalid.Path != "/net_weight_grams" || invalid.Feature != "weight-sync" || invalid.Version != 2 ||
		!strings.Contains(invalid.Message, "pets-value version 2") || invalid.Time.IsZero() {
		t.Errorf("invalid row: %+v", invalid)
	}
	if rs.Instance != "test-pod" || rs.Size != catalog.DefaultRecentSize || len(rs.Counts) != 3 {
		t.Errorf("recent: %+v", rs)
	}

	var snap catalog.Snapshot
	if err := json.Unmarshal(r.get(t, "/v1/catalog"), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Entries) != 2 || !snap.Entries[0].Deprecated || snap.Entries[0].Sunset != "2099-03-31" || snap.Entries[0].Replacement != "pets-value v2" ||
		snap.Entries[1].Deprecated || snap.Entries[1].Sunset != "" {
		t.Errorf("catalog: %+v", snap.Entries)
	}

	resp, err := http.Get(r.admin + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET /ui: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`data-key="weight-sync"`, `data-key="legacy-import"`, `data-key="pets"`, `data-key="ghost-topic"`, `data-key="weight-analytics"`,
		`<g class="node version deprecated" id="version-1" data-kind="version" data-key="pets-value v1 (topic pets)">`,
		"deprecated · sunset 2099-03-31", "→ pets-value v2", "✗ schema_violation: 1", "✗ DLQ rejected_by_app: 1",
		`<g class="edge route deprecated"`, `<tr class="dead_lettered">`, "/net_weight_grams", `data-check="subscriptions"`, "sidecar test-pod",
	} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("GET /ui lacks %q", want)
		}
	}

	// A fleet: this sidecar, and one that answers only /v1/catalog.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/catalog" {
			http.NotFound(w, req)
			return
		}
		b, _ := os.ReadFile("testdata/catalog-analytics.json")
		_, _ = w.Write(b)
	}))
	defer other.Close()
	var out, errb bytes.Buffer
	if code := Main([]string{"catalog", "graph", "--format", "html", "--from", r.admin, "--from", other.URL + "/v1/catalog"}, &out, &errb); code != 0 {
		t.Fatalf("catalog graph --format html: exit %d: %s", code, errb.String())
	}
	html := out.String()
	for _, want := range []string{"eventguard fleet", "2 sources", `data-key="pets-value v1 (topic pets)"`, "deprecated · sunset 2099-03-31",
		"<td>test-pod</td>", "<td>analytics-5f2c</td>", "rejected_by_app", "rejections of analytics-5f2c: get " + other.URL + "/v1/recent: HTTP 404",
		"get " + other.URL + "/readyz: HTTP 404", "<style>"} {
		if !strings.Contains(html, want) {
			t.Errorf("fleet page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "<link") {
		t.Error("the fleet page is not self-contained")
	}
}
