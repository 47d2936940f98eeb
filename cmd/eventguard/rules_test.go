package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry"
)

// petRules are the rules TestSidecarRules gives pets-value in the config.
const petRules = `
- {name: key-is-pet, doc: the key is the pet id, kind: CONDITION, type: KEY, mode: WRITE, expr: /pet_id}
- {name: plausible-weight, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.net_weight_grams < 20000", params: {eventguard.mode: warn}}
- {name: no-backfill, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.source != 'backfill'", onFailure: DLQ}
- {name: light-bowl, kind: CONDITION, type: CEL, mode: READ, expr: "message.tare_weight_grams < 1000"}
`

// TestSidecarRules: rules from the sidecar config run on produce and on
// consume as `eventguard run` wires them: a KEY rule refuses (422 naming the
// rule and its doc), a warn-mode rule answers 200 with a Warning header, a
// DLQ rule diverts the record to pets.dlq (200, dead_lettered), a READ rule
// dead-letters on consume with eventguard.dlq.rule; every evaluation is
// counted in eventguard_rule_evaluations_total and failures in the catalog.
func TestSidecarRules(t *testing.T) {
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(petRules), &node); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var delivered []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		delivered = append(delivered, string(b))
		mu.Unlock()
	}))
	defer app.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Rules.Subjects = []config.SubjectRules{{Subject: "pets-value", Rules: *node.Content[0]}}
		c.Subscriptions = []config.Subscription{{Name: "bowls", Topics: []string{"pets"}, Deliver: config.Deliver{URL: app.URL}}}
	})
	pet := func(id string, net, tare int, source string) string {
		return `{"event_type":"pet.weight.updated.v2","pet_id":"` + id + `","device_id":"bowl-7f3a","net_weight_grams":` + itoa(net) +
			`,"tare_weight_grams":` + itoa(tare) + `,"measured_at":"2026-11-02T08:15:00Z","source":"` + source + `"}`
	}
	post := func(key, value string) (*http.Response, map[string]any) {
		t.Helper()
		resp, body := r.produce(t, "pets", nil, `{"records":[{"key":"`+key+`","value":`+value+`}]}`)
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
		return resp, out
	}

	// KEY rule: refused, the rule and its doc named.
	resp, out := post("pet-7", pet("pet-42", 4210, 380, "sensor"))
	rec := out["results"].([]any)[0].(map[string]any)["error"].(map[string]any)
	if resp.StatusCode != http.StatusUnprocessableEntity || rec["code"] != "rule_violation" || rec["rule"] != "key-is-pet" || rec["doc"] != "the key is the pet id" {
		t.Fatalf("key mismatch: %d %v", resp.StatusCode, out)
	}
	// Warn mode: produced, the producer told.
	resp, out = post("pet-42", pet("pet-42", 42000, 380, "sensor"))
	if warnings := strings.Join(resp.Header.Values("Warning"), "\n"); resp.StatusCode != http.StatusOK || !strings.Contains(warnings, `\"plausible-weight\"`) {
		t.Fatalf("warn rule: %d Warning %q %v", resp.StatusCode, warnings, out)
	}
	// DLQ: diverted, not in pets.
	resp, out = post("pet-42", pet("pet-42", 4210, 380, "backfill"))
	res := out["results"].([]any)[0].(map[string]any)
	dl, _ := res["dead_lettered"].(map[string]any)
	if resp.StatusCode != http.StatusOK || dl == nil || dl["topic"] != "pets.dlq" || dl["rule"] != "no-backfill" || res["partition"] != nil {
		t.Fatalf("DLQ rule: %d %v", resp.StatusCode, out)
	}
	// READ rule: this one is produced, then dead-lettered by the subscription.
	if resp, _ := post("pet-42", pet("pet-42", 4210, 5000, "sensor")); resp.StatusCode != http.StatusOK {
		t.Fatalf("heavy bowl produce: %d", resp.StatusCode)
	}
	if resp, _ := post("pet-42", pet("pet-42", 4210, 380, "sensor")); resp.StatusCode != http.StatusOK {
		t.Fatalf("plain produce: %d", resp.StatusCode)
	}

	// pets.dlq holds the DLQ rule's record (produce) and the READ rule's
	// (consume), each with its rule named.
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.stack.Brokers...), kgo.ConsumeTopics("pets.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rulesSeen := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for len(rulesSeen) < 2 && time.Now().Before(deadline) {
		fs := cl.PollRecords(pollCtx(t, 2*time.Second), 10)
		fs.EachRecord(func(rec *kgo.Record) {
			reason, _ := kafka.Header(rec.Headers, dlq.HeaderReason)
			rule, _ := kafka.Header(rec.Headers, dlq.HeaderRule)
			rulesSeen[rule] = reason
		})
	}
	if rulesSeen["no-backfill"] != dlq.ReasonRuleViolation || rulesSeen["light-bowl"] != dlq.ReasonRuleViolation {
		t.Fatalf("pets.dlq rules: %v", rulesSeen)
	}
	// The app got the two records that broke no READ rule.
	for deadline := time.Now().Add(10 * time.Second); ; {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	for _, d := range delivered {
		if strings.Contains(d, `"tare_weight_grams":5000`) {
			t.Errorf("a record the READ rule refused was delivered: %s", d)
		}
	}
	mu.Unlock()

	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []map[string]string{
		{"direction": "produce", "rule": "key-is-pet", "mode": "enforce", "outcome": "fail", "feature": "checkout"},
		{"direction": "produce", "rule": "plausible-weight", "mode": "warn", "outcome": "fail"},
		{"direction": "produce", "rule": "no-backfill", "outcome": "fail"},
		{"direction": "consume", "rule": "light-bowl", "outcome": "fail", "group": "bowls"},
		{"direction": "consume", "rule": "light-bowl", "outcome": "pass", "group": "bowls"},
	} {
		if v, ok := metricValue(t, fams, telemetry.MetricRuleEvaluations, want); !ok || v < 1 {
			t.Errorf("%s%v = %v (%v)", telemetry.MetricRuleEvaluations, want, v, ok)
		}
	}
	var snap struct {
		Rules []struct {
			Rule, Direction, By string
			Failures            int
		} `json:"rules"`
	}
	if err := json.Unmarshal(r.get(t, "/v1/catalog"), &snap); err != nil {
		t.Fatal(err)
	}
	byRule := map[string]string{}
	for _, u := range snap.Rules {
		byRule[u.Rule] = u.Direction + "/" + u.By
	}
	if byRule["key-is-pet"] != "produce/checkout" || byRule["light-bowl"] != "consume/bowls" {
		t.Errorf("catalog rules: %+v", snap.Rules)
	}
}

// pollCtx bounds one poll of the test's consumer.
func pollCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
