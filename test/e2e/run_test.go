package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// TestRunProductionConfig runs the production command, `eventguard run
// --config FILE`, as a Deployment would: brokers, registry, the topic
// allow-list with the topic_record strategy and a subscription all come
// from the file, and the contracts are registered beforehand by `eventguard
// contracts register`, the CI tool, into a registry of its own (srfake,
// in-process). An OrderPlaced (whose schema references another subject) is
// produced and read back with its subject header, delivered to the app by
// the subscription, a topic outside the allow-list is refused with 403
// and nothing is written, and SIGTERM ends it with status 0.
func TestRunProductionConfig(t *testing.T) {
	brokers := kafkaBrokers(t)
	if buildErr != nil {
		t.Fatalf("eventguard binary: %v", buildErr)
	}
	registry := sharedRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The CI tool registers the example contracts, references first.
	reg := exec.CommandContext(ctx, binPath, "contracts", "register", "--registry", registry, filepath.Join(rootDir, "examples", "contracts"))
	if out, err := reg.CombinedOutput(); err != nil {
		t.Fatalf("eventguard contracts register: %v\n%s", err, out)
	}

	topic := harness.UniqueName("e2e-run-orders")
	createTopic(t, brokers, topic, 2)
	if _, err := harness.CopySubject(ctx, registry, topic+"-OrderPlaced", "orders-OrderPlaced", 1); err != nil {
		t.Fatal(err)
	}
	app := newSink(t, always200)
	cfg := fmt.Sprintf(`instance: run-e2e
feature: checkout
kafka:
  brokers: [%s]
registry:
  url: %s
topics:
  - name: %s
    subject_strategy: topic_record
    type_pointer: /event_type
    key_required: true
subscriptions:
  - name: orders-to-app
    topics: [%s]
    group: %s
    deliver: {url: %q, timeout: 5s}
    retry: {attempts: 3, initial_backoff: 50ms, max_backoff: 200ms}
`, strings.Join(brokers, ", "), registry, topic, topic, harness.UniqueName("e2e-run-group"), app.url("/orders"))
	e := launch(t, "eventguard run", cfg, harness.Options{Registry: registry, Run: true}, true)

	order := golden(t, "orders-OrderPlaced/1/valid/typical.json")
	resp := e.mustPost(topic, []rec{{Key: "order-1", Value: order}}, map[string]string{"Eventguard-Feature": "web-checkout"}, http.StatusOK)
	if r := resp.Results[0]; r.Subject != topic+"-OrderPlaced" || r.SchemaVersion != 1 {
		t.Errorf("produced under %s version %d, want %s-OrderPlaced version 1", r.Subject, r.SchemaVersion, topic)
	}
	got, err := harness.ConsumeGroup(ctx, brokers, topic, harness.UniqueName("e2e-run-read"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := harness.Header(got[0], "eventguard.subject"); s != topic+"-OrderPlaced" {
		t.Errorf("eventguard.subject header %q", s)
	}
	if f, _ := harness.Header(got[0], "eventguard.feature"); f != "web-checkout" {
		t.Errorf("eventguard.feature header %q, want web-checkout", f)
	}
	if string(got[0].Value[5:]) != string(order) {
		t.Errorf("value after the wire header %q, want the event as sent", got[0].Value[5:])
	}

	// The subscription delivers it to the app.
	deadline := time.Now().Add(30 * time.Second)
	for app.countOK() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the subscription delivered nothing: %v", app.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := app.delivered()[0]; string(d.Body) != string(order) || d.Path != "/orders" {
		t.Errorf("delivered %s %q, want the event", d.Path, d.Body)
	}

	// Outside the allow-list: refused, nothing written.
	other := harness.UniqueName("e2e-run-other")
	a, err := e.post(ctx, other, []rec{{Key: "k", Value: order}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusForbidden {
		t.Errorf("produce to %s: %d %s, want 403", other, a.Status, a.Raw)
	}
	// A record without a key, on a topic that requires one: 400.
	if a, err := e.post(ctx, topic, []rec{{Value: order}}, nil); err != nil || a.Status != http.StatusBadRequest {
		t.Errorf("produce without a key: %d %s %v, want 400", a.Status, a.Raw, err)
	}

	if err := e.sc.Stop(30 * time.Second); err != nil {
		t.Errorf("SIGTERM must end eventguard run with status 0: %v", err)
	}
}
