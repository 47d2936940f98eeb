package proxy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/validate"
)

// TestGRPCSubscribeEndToEnd runs the whole loop: events produced over
// gRPC Produce, poison records written around them straight to Kafka, the
// consume loop with the hub as its Deliverer, and an app on a Subscribe
// stream. Valid records arrive in partition order; a Nack with retry is
// delivered again; a Nack without retry and every poison record land in
// the dead-letter topic and are never delivered; the group's committed
// offset moves past everything only once it is acked or dead-lettered.
func TestGRPCSubscribeEndToEnd(t *testing.T) {
	e := newGRPCEnv(t, envOpts{mutate: func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{
			Name: "weights", Topics: []string{testTopic}, Group: "weights",
			Deliver: config.Deliver{GRPC: true, Timeout: 5 * time.Second},
			Retry:   config.Retry{Attempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		}}
	}})
	e.st.CreateTopic(t, "pets.dlq", 1)
	ctx := ctxTimeout(t, time.Minute)
	id := e.st.ID(t, "pets-value", 2)

	// The partition, in offset order: what is written and what becomes of it.
	raw := e.st.KafkaClient(t, e.cfg)
	produceRaw := func(value []byte) {
		t.Helper()
		if err := raw.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Key: []byte("pet-42"), Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceGRPC := func(eventID string) {
		t.Helper()
		req := petsRequest(1)
		req.Records[0].Id = eventID
		if _, err := e.client.Produce(ctx, req); err != nil {
			t.Fatalf("produce %s: %v", eventID, err)
		}
	}
	produceGRPC("evt-0")                                 // offset 0: acked
	produceRaw([]byte(petV2))                            // 1: not in wire format
	produceGRPC("evt-1")                                 // 2: acked
	produceGRPC("evt-2")                                 // 3: nacked with retry, then acked
	produceGRPC("evt-3")                                 // 4: nacked without retry: dead-lettered
	produceRaw(validate.Frame(id, []byte(`{"pet_id":`))) // 5: malformed JSON
	produceRaw(validate.Frame(id, []byte(petV2Bad)))     // 6: schema violation
	produceRaw(validate.Frame(999999, []byte(petV2)))    // 7: unknown schema id
	produceGRPC("evt-4")                                 // 8: acked
	poison := map[int64]string{1: dlq.ReasonNotWireFormat, 5: dlq.ReasonMalformedJSON, 6: dlq.ReasonSchemaViolation, 7: dlq.ReasonUnknownSchema}

	sub := subscribe(t, e, ctx, "weights")
	sc := e.cfg.Subscriptions[0]
	loop, err := consume.Start(consume.Options{
		Subscription:   sc,
		Kafka:          e.cfg.Kafka,
		Instance:       "test",
		Checker:        e.st.Checker(t, validate.Options{}, nil),
		Deliverer:      e.g.Hub(),
		Logger:         testutil.Discard(),
		CommitInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = loop.Close(cctx)
	}()

	type seen struct {
		event   string
		offset  int64
		attempt uint32
	}
	var got []seen
	for len(got) < 6 {
		d, err := sub.Recv()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, seen{d.GetEventId(), d.GetOffset(), d.GetAttempt()})
		if _, bad := poison[d.GetOffset()]; bad {
			t.Fatalf("poison record at offset %d delivered: %v", d.GetOffset(), d)
		}
		if d.GetSubject() != "pets-value" || d.GetSchemaId() != uint32(id) || string(d.GetValue()) != petV2 || d.GetTraceparent() == "" {
			t.Errorf("delivery %v", d)
		}
		reply := ack(d.GetDeliveryId())
		switch {
		case d.GetEventId() == "evt-2" && d.GetAttempt() == 1:
			reply = nack(d.GetDeliveryId(), true, "db busy")
		case d.GetEventId() == "evt-3":
			reply = nack(d.GetDeliveryId(), false, "unknown pet")
		}
		if err := sub.Send(reply); err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{{"evt-0", 0, 1}, {"evt-1", 2, 1}, {"evt-2", 3, 1}, {"evt-2", 3, 2}, {"evt-3", 4, 1}, {"evt-4", 8, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries\n%v\nwant\n%v", got, want)
	}

	// Dead letters: the poison records and the rejected one, byte for byte.
	waitFor(t, "five dead letters", func() bool { return e.st.Count("pets.dlq") == 5 })
	orig := map[int64][]byte{}
	for _, r := range e.st.Records(t, testTopic) {
		orig[r.Offset] = r.Value
	}
	reasons := map[int64]string{}
	for _, r := range e.st.Records(t, "pets.dlq") {
		off, _ := kafka.Header(r.Headers, dlq.HeaderOffset)
		var o int64
		fmt.Sscan(off, &o)
		reasons[o], _ = kafka.Header(r.Headers, dlq.HeaderReason)
		if string(r.Value) != string(orig[o]) {
			t.Errorf("dead letter of offset %d changed the value", o)
		}
		if o == 4 {
			if msg, _ := kafka.Header(r.Headers, dlq.HeaderMessage); msg == "" || !strings.Contains(msg, "unknown pet") {
				t.Errorf("rejected record's message = %q, want the app's reason", msg)
			}
		}
	}
	wantReasons := map[int64]string{1: dlq.ReasonNotWireFormat, 4: dlq.ReasonRejectedByApp, 5: dlq.ReasonMalformedJSON, 6: dlq.ReasonSchemaViolation, 7: dlq.ReasonUnknownSchema}
	if fmt.Sprint(reasons) != fmt.Sprint(wantReasons) {
		t.Errorf("dead-letter reasons %v, want %v", reasons, wantReasons)
	}

	// Everything is finished: the committed offset reaches the end.
	adm := kadm.NewClient(raw)
	waitFor(t, "the group to commit offset 9", func() bool {
		offs, err := adm.FetchOffsets(ctx, "weights")
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(testTopic, 0)
		return ok && o.At == 9
	})
}
