package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/devstack"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/validate"
)

func TestDLQReplayCommand(t *testing.T) {
	stack, err := devstack.Start(devstack.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	if err := stack.Cluster.CreateTopic("pets", 1, nil); err != nil {
		t.Fatal(err)
	}
	stack.Registry.SeedSchema("pets-value", 1, 1, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","required":["pet_id"]}`})

	cl, err := kgo.NewClient(kgo.SeedBrokers(stack.Brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := []*kgo.Record{
		{Topic: "pets", Partition: 0, Offset: 3, Key: []byte("ok"), Value: validate.Frame(1, []byte(`{"pet_id":"p"}`))},
		{Topic: "pets", Partition: 0, Offset: 4, Key: []byte("bad"), Value: validate.Frame(1, []byte(`{"weight":1}`))},
	}
	reasons := []string{dlq.ReasonRejectedByApp, dlq.ReasonSchemaViolation}
	for i, r := range src {
		if err := cl.ProduceSync(ctx, dlq.Build(r, "pets.dlq", &dlq.Info{Reason: reasons[i], Message: "m", SchemaID: 1})).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		base := []string{"dlq", "replay", "--brokers", strings.Join(stack.Brokers, ","), "--registry", stack.RegistryURL}
		code := Main(append(base, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, stderr := run("--from", "pets.dlq"); code != 2 || !strings.Contains(stderr, "--from and --to are required") {
		t.Errorf("missing --to: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run("--from", "pets.dlq", "--to", "pets", "--reason", "nope"); code != 2 || !strings.Contains(stderr, "not one of") {
		t.Errorf("bad reason: exit %d, %s", code, stderr)
	}

	code, stdout, stderr := run("--from", "pets.dlq", "--to", "pets", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "read 2, would replay 1, still failing 1, skipped 0 (dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run("--from", "pets.dlq", "--to", "pets")
	if code != 0 || !strings.Contains(stdout, "read 2, replayed 1, still failing 1") || !strings.Contains(stdout, "pets.dlq/0/1\tschema_violation\tstill fails") {
		t.Fatalf("replay: exit %d\n%s%s", code, stdout, stderr)
	}

	rd, err := kgo.NewClient(kgo.SeedBrokers(stack.Brokers...), kgo.ConsumeTopics("pets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	fs := rd.PollFetches(ctx)
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != "ok" {
		t.Fatalf("pets holds %d records: %v", len(recs), fs.Errors())
	}
	if from, _ := kafka.Header(recs[0].Headers, kafka.HeaderReplayedFrom); from != "pets.dlq/0/0" {
		t.Errorf("replayed_from %q", from)
	}
}
