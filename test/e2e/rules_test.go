package e2e

// Contract rules (docs/rules.md, issue 11) through the built binary on the
// real broker: produce over HTTP and gRPC, consume through a subscription.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// petRulesYAML are the rules TestRulesOnBroker declares in the sidecar
// config for %[1]s-value (a copy of pets-value version 2): one of each
// type, onFailure, path and rollout stage, and a disabled one.
const petRulesYAML = `rules:
  subjects:
    - subject: %[1]s-value
      rules:
        - {name: key-is-pet, doc: A pet event is keyed by its pet id., kind: CONDITION, type: KEY, mode: WRITEREAD, expr: /pet_id}
        - {name: plausible-weight, kind: CONDITION, type: CEL, mode: WRITEREAD, expr: "message.net_weight_grams < 20000", params: {eventguard.mode: warn}}
        - {name: no-backfill, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.source != 'backfill'", onFailure: DLQ}
        - {name: light-bowl, kind: CONDITION, type: CEL, mode: READ, expr: "message.tare_weight_grams < 1000"}
        - {name: app-source-observed, kind: CONDITION, type: CEL, expr: "message.source != 'app'", params: {eventguard.mode: observe}}
        - {name: bowl-device-counted, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.device_id.startsWith('bowl-')", onFailure: NONE}
        - {name: retired, kind: CONDITION, type: CEL, expr: "false", disabled: true}
        - {name: odd-pet, kind: CONDITION, type: CEL, expr: "message.pet_id != 'pet-odd'", onFailure: "NONE,DLQ"}
`

// tableRuleYAML is tables-value's TRANSITION rule (its subject.yaml) in the
// config, for a registry that drops a schema's ruleSet (Apicurio).
const tableRuleYAML = `    - subject: %[1]s-value
      rules:
        - name: table-status-flow
          kind: CONDITION
          type: TRANSITION
          mode: READ
          expr: /new_status
          params:
            transitions: >-
              TABLE_STATUS_AVAILABLE -> TABLE_STATUS_RESERVED|TABLE_STATUS_OCCUPIED,
              TABLE_STATUS_RESERVED -> TABLE_STATUS_OCCUPIED|TABLE_STATUS_AVAILABLE,
              TABLE_STATUS_OCCUPIED -> TABLE_STATUS_AVAILABLE
`

// TestRulesOnBroker runs every rule type through the built binary on the
// real broker (issue 11: each rule type on produce over HTTP and gRPC and on
// consume; each onFailure and rollout stage; a disabled rule; rules from the
// config and from the registry's ruleSet).
//
// Where the rules come from depends on the registry. With the embedded
// registry (srfake, which keeps a schema's ruleSet), the pets rules come
// from the sidecar config, and the registry's ruleSet of the copied example
// subjects adds the rest: tables-value's TRANSITION rule and pets-value
// version 2's warn rule plausible-net-weight. Under TestApicurio the
// registry drops ruleSets (asserted), so the TRANSITION rule comes from the
// config too and plausible-net-weight does not run.
//
// Produce (pets, one partition), over HTTP and gRPC alike: an enforced KEY
// rule refuses (422 rule_violation naming the rule and its doc; gRPC
// INVALID_ARGUMENT with BadRequest naming records[0] and the RecordError);
// a warn rule produces and tells (Warning header; gRPC trailer warning and
// RecordResult.warnings); a DLQ rule writes the record to <topic>.dlq with
// eventguard.dlq.rule instead (dead_lettered in the answer); observe and
// onFailure NONE produce silently; the disabled rule is skipped.
//
// Consume: a READ rule (ERROR), the KEY rule on a record written around
// eventguard, and the read half of a "NONE,DLQ" pair dead-letter their
// records with eventguard.dlq.rule; a warn rule delivers and logs; the
// TRANSITION rule follows four tables keyed across three partitions and
// dead-letters exactly the three forbidden moves, each compared with the
// key's last delivered status. eventguard_rule_evaluations_total counts
// every outcome by direction, rule and rollout.
func TestRulesOnBroker(t *testing.T) {
	brokers := kafkaBrokers(t)
	onApicurio := registryOverride(t) != ""
	petsTopic := harness.UniqueName("e2e-rules-pets")
	tablesTopic := harness.UniqueName("e2e-rules-tables")
	createTopic(t, brokers, petsTopic, 1)
	createTopic(t, brokers, tablesTopic, 3)
	app := newSink(t, always200)
	subPets := newSubscription("rules-pets", petsTopic, app.url("/pets"))
	subTables := newSubscription("rules-tables", tablesTopic, app.url("/tables"))
	cfg := subPets.yaml() + strings.SplitN(subTables.yaml(), "subscriptions:\n", 2)[1] + fmt.Sprintf(petRulesYAML, petsTopic)
	if onApicurio {
		cfg += fmt.Sprintf(tableRuleYAML, tablesTopic)
	}
	e := start(t, cfg)
	pets := e.copySubject(petsTopic+"-value", "pets-value", 2)
	tables := e.copySubject(tablesTopic+"-value", "tables-value", 1)
	regcl, err := harness.RegistryClient(e.sc.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, ss := range []sr.SubjectSchema{pets, tables} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		held, err := regcl.SchemaByVersion(ctx, ss.Subject, ss.Version)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		// CEL rules travel in the ruleSet, eventguard's own types (the
		// TRANSITION rule of tables) in the metadata property
		// eventguard.rules: srfake keeps both, Apicurio drops both.
		n := 0
		if held.SchemaRuleSet != nil {
			n = len(held.SchemaRuleSet.DomainRules)
		}
		if held.SchemaMetadata != nil && held.SchemaMetadata.Properties[rules.MetadataProperty] != "" {
			n++
		}
		if (n == 0) != onApicurio {
			t.Fatalf("%s holds %d rule sources in the registry; want them kept by srfake and dropped by Apicurio (on Apicurio: %v)", ss.Subject, n, onApicurio)
		}
	}
	t.Logf("registry %s; TRANSITION rule from the %s", e.sc.Registry, map[bool]string{true: "config (Apicurio dropped the metadata)", false: "registry's metadata"}[onApicurio])

	conn, err := grpc.NewClient(e.sc.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gc := eventguardv1.NewEventguardClient(conn)

	pet := func(id string, net, tare int, device, source string) []byte {
		return fmt.Appendf(nil, `{"event_type": "pet.weight.updated.v2", "pet_id": %q, "device_id": %q, "net_weight_grams": %d, "tare_weight_grams": %d, "measured_at": "2026-11-02T08:15:00Z", "source": %q}`,
			id, device, net, tare, source)
	}
	// httpPost posts one record and returns the answer and its first result.
	httpPost := func(key string, value []byte, want int) (answer, map[string]any) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := e.post(ctx, petsTopic, []rec{{Key: key, Value: value}}, map[string]string{"Eventguard-Feature": "scale"})
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Results []map[string]any }
		if a.Status != want || json.Unmarshal(a.Raw, &body) != nil || len(body.Results) != 1 {
			t.Fatalf("POST %s: %d %s, want %d with one result", key, a.Status, a.Raw, want)
		}
		return a, body.Results[0]
	}
	// grpcProduce produces one record and returns the response, trailer
	// and status.
	grpcProduce := func(key string, value []byte) (*eventguardv1.ProduceResponse, metadata.MD, *status.Status) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var trailer metadata.MD
		resp, err := gc.Produce(ctx, &eventguardv1.ProduceRequest{Topic: petsTopic, Feature: "scale",
			Records: []*eventguardv1.Record{{Key: []byte(key), Value: value}}}, grpc.Trailer(&trailer))
		return resp, trailer, status.Convert(err)
	}

	// 1. KEY, enforced, ERROR: refused on both ingresses, nothing produced.
	_, res := httpPost("pet-7", pet("pet-42", 4000, 380, "bowl-1", "sensor"), http.StatusUnprocessableEntity)
	if e, _ := res["error"].(map[string]any); e["code"] != "rule_violation" || e["rule"] != "key-is-pet" || e["doc"] != "A pet event is keyed by its pet id." ||
		!strings.Contains(fmt.Sprint(e["message"]), `"pet-7"`) || !strings.Contains(fmt.Sprint(e["message"]), `"pet-42"`) {
		t.Errorf("HTTP KEY refusal: %v, want rule_violation naming key-is-pet, its doc and both values", res)
	}
	_, _, st := grpcProduce("pet-7", pet("pet-42", 4000, 380, "bowl-1", "sensor"))
	if st.Code() != codes.InvalidArgument || !grpcNamesRule(st, "key-is-pet") {
		t.Errorf("gRPC KEY refusal: %s %q %v, want INVALID_ARGUMENT with BadRequest on records[0] and RecordError rule key-is-pet", st.Code(), st.Message(), st.Details())
	}

	// 2. warn: produced, the producer told.
	a, res := httpPost("pet-1", pet("pet-1", 25000, 380, "bowl-1", "sensor"), http.StatusOK)
	if w := strings.Join(a.Header.Values("Warning"), "\n"); !strings.HasPrefix(w, "299 eventguard ") || !strings.Contains(w, `\"plausible-weight\"`) || res["offset"] == nil {
		t.Errorf("HTTP warn rule: Warning %q, result %v; want produced and a 299 warning naming plausible-weight", w, res)
	}
	resp, trailer, st := grpcProduce("pet-2", pet("pet-2", 25000, 380, "bowl-1", "sensor"))
	if st.Code() != codes.OK || !resp.GetResults()[0].GetProduced() || !strings.Contains(strings.Join(trailer.Get("warning"), "\n"), `\"plausible-weight\"`) ||
		!strings.Contains(strings.Join(resp.GetResults()[0].GetWarnings(), "\n"), "plausible-weight") {
		t.Errorf("gRPC warn rule: %s %v trailer %v; want produced, trailer warning and RecordResult.warnings naming plausible-weight", st.Code(), resp, trailer)
	}

	// 3. DLQ on produce: diverted to <topic>.dlq, the answer says where.
	_, res = httpPost("pet-3", pet("pet-3", 4000, 380, "bowl-1", "backfill"), http.StatusOK)
	if dl, _ := res["dead_lettered"].(map[string]any); dl["topic"] != petsTopic+".dlq" || dl["rule"] != "no-backfill" || res["offset"] != nil {
		t.Errorf("HTTP DLQ rule: %v, want dead_lettered to %s.dlq by no-backfill and no offset", res, petsTopic)
	}
	resp, _, st = grpcProduce("pet-4", pet("pet-4", 4000, 380, "bowl-1", "backfill"))
	if r := resp.GetResults(); st.Code() != codes.OK || len(r) != 1 || r[0].GetProduced() || r[0].GetDeadLettered().GetRule() != "no-backfill" || r[0].GetDeadLettered().GetTopic() != petsTopic+".dlq" {
		t.Errorf("gRPC DLQ rule: %s %v, want RecordResult.dead_lettered by no-backfill", st.Code(), resp)
	}

	// 4. observe, onFailure NONE, the write half of NONE,DLQ: produced
	// without a word; the disabled rule never fails anything.
	for _, c := range []struct{ key, device, source string }{{"pet-5", "bowl-1", "app"}, {"pet-6", "scale-9", "sensor"}, {"pet-odd", "bowl-1", "sensor"}} {
		a, res := httpPost(c.key, pet(c.key, 4000, 380, c.device, c.source), http.StatusOK)
		if len(a.Header.Values("Warning")) != 0 || res["offset"] == nil || res["warnings"] != nil {
			t.Errorf("%s: Warning %q, result %v; want produced silently", c.key, a.Header.Values("Warning"), res)
		}
	}
	// 5. READ rule: produced, dead-lettered on consume.
	httpPost("pet-8", pet("pet-8", 4000, 1500, "bowl-1", "sensor"), http.StatusOK)
	// 6. The registry's ruleSet on produce: pets-value version 2's warn
	// rule plausible-net-weight (over 30 kg), kept by srfake only.
	a, _ = httpPost("pet-10", pet("pet-10", 42000, 380, "bowl-1", "sensor"), http.StatusOK)
	if got := strings.Contains(strings.Join(a.Header.Values("Warning"), "\n"), "plausible-net-weight"); got == onApicurio {
		t.Errorf("Warning %q: the registry's rule plausible-net-weight ran %v, want %v", a.Header.Values("Warning"), got, !onApicurio)
	}
	// 7. KEY on consume: a record keyed by someone else, around eventguard.
	prod := newProducer(t, brokers)
	produceSync(t, prod, &kgo.Record{Topic: petsTopic, Partition: 0, Key: []byte("someone-else"), Value: wire(pets.ID, pet("pet-9", 4000, 380, "bowl-1", "sensor"))})
	httpPost("pet-0", pet("pet-0", 4000, 380, "bowl-1", "sensor"), http.StatusOK) // the last one, delivered

	// TRANSITION: four tables keyed across three partitions, interleaved.
	moves := map[string][]string{
		"table-1": {"AVAILABLE", "OCCUPIED", "RESERVED", "AVAILABLE"}, // occupied -> reserved refused; then occupied -> available
		"table-2": {"RESERVED", "OCCUPIED", "AVAILABLE", "OCCUPIED"},
		"table-3": {"OCCUPIED", "RESERVED", "OCCUPIED"},               // refused; then a self-move
		"table-4": {"AVAILABLE", "AVAILABLE", "OCCUPIED", "RESERVED"}, // a self-move; the last refused
	}
	forbidden := map[string]bool{"table-1/2": true, "table-3/1": true, "table-4/3": true}
	var trecs []rec
	for step := range 4 {
		for _, k := range []string{"table-1", "table-2", "table-3", "table-4"} {
			if step < len(moves[k]) {
				trecs = append(trecs, rec{Key: k, ID: fmt.Sprintf("%s/%d", k, step), Value: tableEvent(k, step, moves[k][step])})
			}
		}
	}
	tres := e.mustPost(tablesTopic, trecs, nil, http.StatusOK)
	parts := map[int32]bool{}
	for _, r := range tres.Results {
		parts[*r.Partition] = true
	}
	if len(parts) < 2 {
		t.Fatalf("the four tables landed on partitions %v: pick keys that spread", parts)
	}

	// What the app got, and what was dead-lettered.
	wantPets := []string{"pet-1", "pet-2", "pet-5", "pet-6", "pet-10", "pet-0"}
	app.waitOK(len(wantPets)+len(trecs)-len(forbidden), 60*time.Second)
	waitCount(t, brokers, petsTopic+".dlq", 5, 30*time.Second)
	waitCount(t, brokers, tablesTopic+".dlq", int64(len(forbidden)), 30*time.Second)
	time.Sleep(300 * time.Millisecond) // nothing more may arrive
	var gotPets []string
	gotTables := map[string][]string{}
	for _, d := range app.delivered() {
		switch d.Path {
		case "/pets":
			gotPets = append(gotPets, d.Key)
		case "/tables":
			var ev struct {
				NewStatus string `json:"new_status"`
			}
			if err := json.Unmarshal(d.Body, &ev); err != nil {
				t.Errorf("tables delivery %s: %v: %s", d, err, d.Body)
			}
			gotTables[d.Key] = append(gotTables[d.Key], strings.TrimPrefix(ev.NewStatus, "TABLE_STATUS_"))
		}
	}
	if !slices.Equal(gotPets, wantPets) {
		t.Errorf("pets delivered %q, want %q; %s", gotPets, wantPets, app.summary())
	}
	for k, seq := range moves {
		var want []string
		for i, s := range seq {
			if !forbidden[fmt.Sprintf("%s/%d", k, i)] {
				want = append(want, s)
			}
		}
		if !slices.Equal(gotTables[k], want) {
			t.Errorf("%s: delivered %v, want %v", k, gotTables[k], want)
		}
	}

	dlqRules := func(topic string) map[string]string {
		out := map[string]string{}
		for _, r := range readList(t, brokers, topic) {
			if reason := headerOf(r, "eventguard.dlq.reason"); reason != "rule_violation" {
				t.Errorf("%s: %s/%d/%d reason %q, want rule_violation", topic, r.Topic, r.Partition, r.Offset, reason)
			}
			out[string(r.Key)+"/"+headerOf(r, "eventguard.event_id")] = headerOf(r, "eventguard.dlq.rule")
		}
		return out
	}
	petDLQ := map[string]string{}
	for k, rule := range dlqRules(petsTopic + ".dlq") {
		petDLQ[strings.Split(k, "/")[0]] = rule
	}
	if want := map[string]string{"pet-3": "no-backfill", "pet-4": "no-backfill", "pet-8": "light-bowl", "someone-else": "key-is-pet", "pet-odd": "odd-pet"}; fmt.Sprint(petDLQ) != fmt.Sprint(want) {
		t.Errorf("%s.dlq holds %v (key: rule), want %v", petsTopic, petDLQ, want)
	}
	tableDLQ := dlqRules(tablesTopic + ".dlq")
	for k := range forbidden {
		if tableDLQ[strings.Split(k, "/")[0]+"/"+k] != "table-status-flow" {
			t.Errorf("%s.dlq: no record of %s by table-status-flow: %v", tablesTopic, k, tableDLQ)
		}
	}

	// Counted: every outcome by direction, rule and rollout.
	m := scrapeMetrics(t, e.sc.Admin)
	for _, c := range []struct {
		labels string
		want   float64
	}{
		{`direction="produce",rule="key-is-pet",mode="enforce",outcome="fail",feature="scale"`, 2},
		{`direction="produce",rule="plausible-weight",mode="warn",outcome="fail"`, 3},
		{`direction="consume",rule="plausible-weight",mode="warn",outcome="fail",group="` + subPets.Group + `"`, 3},
		{`direction="produce",rule="no-backfill",mode="enforce",outcome="fail"`, 2},
		{`direction="produce",rule="app-source-observed",mode="observe",outcome="fail"`, 1},
		{`direction="consume",rule="app-source-observed",mode="observe",outcome="fail"`, 1},
		{`direction="produce",rule="bowl-device-counted",mode="enforce",outcome="fail"`, 1},
		{`direction="produce",rule="retired",outcome="skipped"`, 12},
		{`direction="consume",rule="retired",outcome="skipped"`, 9},
		{`direction="produce",rule="odd-pet",outcome="fail"`, 1},
		{`direction="consume",rule="odd-pet",outcome="fail"`, 1},
		{`direction="consume",rule="light-bowl",outcome="fail"`, 1},
		{`direction="consume",rule="key-is-pet",outcome="fail"`, 1},
		{`direction="consume",rule="table-status-flow",outcome="fail",group="` + subTables.Group + `"`, float64(len(forbidden))},
		{`direction="consume",rule="table-status-flow",outcome="pass"`, float64(len(trecs) - len(forbidden))},
	} {
		if got := m.sum("eventguard_rule_evaluations_total", c.labels); got != c.want {
			t.Errorf("eventguard_rule_evaluations_total{%s} = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := m.sum("eventguard_rule_evaluations_total", `rule="retired",outcome="fail"`); got != 0 {
		t.Errorf("the disabled rule failed %v records", got)
	}
	// The warn rule on consume: delivered, one log line each.
	if n := strings.Count(readLog(t, e.sc.LogPath), "record broke a warn-mode rule; delivered"); n != 3 {
		t.Errorf("the log has %d lines about warn-mode failures on consume, want 3 (pet-1, pet-2, pet-10)", n)
	}
}

// tableEvent is a tables-value (Protobuf) event, as JSON, moving table to
// TABLE_STATUS_<to>.
func tableEvent(table string, step int, to string) []byte {
	return fmt.Appendf(nil, `{"event_id": "0193a5d2-7c1e-7b3a-9f00-1c2d3e4f%04x", "tenant_id": "cafe-12", "occurred_at": "2026-11-02T19:%02d:00Z",
 "version": 1, "table_id": %q, "previous_status": "TABLE_STATUS_AVAILABLE", "new_status": "TABLE_STATUS_%s"}`, step, step, table, to)
}

// grpcNamesRule reports whether st carries a BadRequest naming records[0]
// and a ProduceResponse whose record 0 was refused by rule.
func grpcNamesRule(st *status.Status, rule string) bool {
	var field, refused bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				field = field || strings.HasPrefix(v.GetField(), "records[0]")
			}
		case *eventguardv1.ProduceResponse:
			r := d.GetResults()
			refused = len(r) == 1 && r[0].GetError().GetCode() == "rule_violation" && r[0].GetError().GetRule() == rule
		}
	}
	return field && refused
}

// metricLines is a Prometheus text exposition, one sample per line.
type metricLines []string

// scrapeMetrics reads the sidecar's /metrics.
func scrapeMetrics(t *testing.T, admin string) metricLines {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out metricLines
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// sum adds the values of name's samples whose labels include every
// `k="v"` of labels (comma-separated).
func (m metricLines) sum(name, labels string) float64 {
	var total float64
	for _, l := range m {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		end := strings.LastIndexByte(l, '}')
		if end < 0 {
			continue
		}
		set := "," + l[len(name)+1:end] + ","
		ok := true
		for _, kv := range strings.Split(labels, ",") {
			ok = ok && strings.Contains(set, ","+kv+",")
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(l[end+1:]), 64); ok && err == nil {
			total += v
		}
	}
	return total
}

// readLog returns a sidecar's log.
func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
