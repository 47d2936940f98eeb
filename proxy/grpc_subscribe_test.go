package proxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/proxy"
)

// subscribe opens a Subscribe stream for name and waits until the hub has
// registered it.
func subscribe(t *testing.T, e *grpcEnv, ctx context.Context, name string) grpc.BidiStreamingClient[eventguardv1.SubscribeRequest, eventguardv1.Delivery] {
	t.Helper()
	s, err := e.client.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: name}}}); err != nil {
		t.Fatal(err)
	}
	md, err := s.Header()
	if err != nil {
		t.Fatalf("subscribe %s: %v", name, err)
	}
	if got := md.Get(proxy.SubscriptionMetadata); len(got) != 1 || got[0] != name {
		t.Fatalf("subscribe %s: header %v", name, md)
	}
	return s
}

func ack(id uint64) *eventguardv1.SubscribeRequest {
	return &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Ack{Ack: &eventguardv1.Ack{DeliveryId: id}}}
}

func nack(id uint64, retry bool, reason string) *eventguardv1.SubscribeRequest {
	return &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Nack{Nack: &eventguardv1.Nack{DeliveryId: id, Retry: retry, Reason: reason}}}
}

func subEnv(t *testing.T) *grpcEnv {
	return newGRPCEnv(t, envOpts{mutate: func(c *config.Config) {
		c.Subscriptions = []config.Subscription{
			{Name: "weights", Topics: []string{testTopic}, Deliver: config.Deliver{GRPC: true}},
			{Name: "webhook", Topics: []string{testTopic}, Deliver: config.Deliver{URL: "http://127.0.0.1:9/events"}},
		}
	}})
}

// TestGRPCSubscribeRefusals: only configured gRPC subscriptions can be
// subscribed to, and the protocol is checked.
func TestGRPCSubscribeRefusals(t *testing.T) {
	e := subEnv(t)
	cases := []struct {
		name  string
		first *eventguardv1.SubscribeRequest
		code  codes.Code
	}{
		{"unknown subscription", &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: "nope"}}}, codes.NotFound},
		{"HTTP subscription", &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: "webhook"}}}, codes.FailedPrecondition},
		{"ack first", ack(1), codes.InvalidArgument},
		{"empty first", &eventguardv1.SubscribeRequest{}, codes.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := e.client.Subscribe(ctxTimeout(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(c.first); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); status.Code(err) != c.code {
				t.Fatalf("err = %v, want %v", err, c.code)
			}
		})
	}
	t.Run("second subscription message", func(t *testing.T) {
		s := subscribe(t, e, ctxTimeout(t, 10*time.Second), "weights")
		if err := s.Send(&eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{Subscription: &eventguardv1.Subscription{Name: "weights"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("err = %v, want InvalidArgument", err)
		}
	})
}

// deliverAsync runs hub.Deliver in the background.
func deliverAsync(ctx context.Context, h *proxy.Hub, d *consume.Delivery) chan error {
	c := make(chan error, 1)
	go func() { c <- h.Deliver(ctx, d) }()
	return c
}

func waitErr(t *testing.T, c chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return")
		return nil
	}
}

// TestGRPCHubDeliver drives the hub the way the consume loop does: every
// answer of the app maps to the Deliverer contract.
func TestGRPCHubDeliver(t *testing.T) {
	e := subEnv(t)
	hub := e.g.Hub()
	ctx := ctxTimeout(t, 30*time.Second)
	d := &consume.Delivery{
		Subscription: "weights", Topic: testTopic, Partition: 2, Offset: 41, Timestamp: time.UnixMilli(1_790_000_000_000),
		Key: []byte("pet-42"), Value: []byte(petV2), Subject: "pets-value", SchemaID: 7, Version: 2, EventID: "evt-1", Feature: "weight-sync", Attempt: 1,
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "traceparent", Value: []byte(tracePar)}},
	}

	t.Run("no subscriber", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := hub.Deliver(short, d); !errors.Is(err, proxy.ErrNoSubscriber) || errors.Is(err, consume.ErrRejected) {
			t.Fatalf("err = %v, want a retryable ErrNoSubscriber", err)
		}
	})

	// A delivery waiting for a subscriber goes out when one connects.
	res := deliverAsync(ctx, hub, d)
	time.Sleep(50 * time.Millisecond)
	s := subscribe(t, e, ctx, "weights")
	got, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	want := &eventguardv1.Delivery{
		DeliveryId: got.GetDeliveryId(), Subscription: "weights", Topic: testTopic, Partition: 2, Offset: 41, Timestamp: got.GetTimestamp(),
		Key: []byte("pet-42"), Value: []byte(petV2), Subject: "pets-value", SchemaId: 7, SchemaVersion: 2, EventId: "evt-1", Feature: "weight-sync",
		Traceparent: tracePar, Attempt: 1,
		Headers: []*eventguardv1.Header{{Key: "a", Value: []byte("1")}, {Key: "traceparent", Value: []byte(tracePar)}},
	}
	if !proto.Equal(got, want) || !got.GetTimestamp().AsTime().Equal(d.Timestamp) {
		t.Fatalf("delivery =\n%v\nwant\n%v", got, want)
	}
	if err := s.Send(ack(got.GetDeliveryId())); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, res); err != nil {
		t.Fatalf("Deliver after Ack = %v, want nil", err)
	}

	answer := func(t *testing.T, dctx context.Context, reply func(id uint64) *eventguardv1.SubscribeRequest) error {
		t.Helper()
		res := deliverAsync(dctx, hub, d)
		got, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if reply != nil {
			if err := s.Send(reply(got.GetDeliveryId())); err != nil {
				t.Fatal(err)
			}
		}
		return waitErr(t, res)
	}
	t.Run("nack retry", func(t *testing.T) {
		err := answer(t, ctx, func(id uint64) *eventguardv1.SubscribeRequest { return nack(id, true, "db busy") })
		if err == nil || errors.Is(err, consume.ErrRejected) || !strings.Contains(err.Error(), "db busy") {
			t.Fatalf("err = %v, want a retryable error with the reason", err)
		}
	})
	t.Run("nack reject", func(t *testing.T) {
		err := answer(t, ctx, func(id uint64) *eventguardv1.SubscribeRequest { return nack(id, false, "unknown pet") })
		if !errors.Is(err, consume.ErrRejected) || !strings.Contains(err.Error(), "unknown pet") {
			t.Fatalf("err = %v, want ErrRejected with the reason", err)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := answer(t, short, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the attempt's deadline", err)
		}
		// A late ack is ignored; the stream goes on.
		if err := s.Send(ack(999999)); err != nil {
			t.Fatal(err)
		}
		if err := answer(t, ctx, ack); err != nil {
			t.Fatalf("after a late ack: %v", err)
		}
	})
	t.Run("trace from the consume span", func(t *testing.T) {
		tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
		sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
		sctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
		res := deliverAsync(sctx, hub, d)
		got, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got.GetTraceparent() != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			t.Errorf("traceparent = %q, want the consume span's", got.GetTraceparent())
		}
		_ = s.Send(ack(got.GetDeliveryId()))
		if err := waitErr(t, res); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("subscriber gone", func(t *testing.T) {
		sctx, cancel := context.WithCancel(ctx)
		s2 := subscribe(t, e, sctx, "weights")
		// Round-robin: with two streams, one of the next two deliveries
		// goes to s2; cancel s2 while it holds it.
		r1 := deliverAsync(ctx, hub, d)
		r2 := deliverAsync(ctx, hub, d)
		if _, err := s2.Recv(); err != nil {
			t.Fatal(err)
		}
		first, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := s.Send(ack(first.GetDeliveryId())); err != nil {
			t.Fatal(err)
		}
		e1, e2 := waitErr(t, r1), waitErr(t, r2)
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("errors %v and %v: want one acked and one ErrSubscriberGone", e1, e2)
		}
		if err := errors.Join(e1, e2); !errors.Is(err, proxy.ErrSubscriberGone) || errors.Is(err, consume.ErrRejected) {
			t.Fatalf("err = %v, want a retryable ErrSubscriberGone", err)
		}
		waitFor(t, "the cancelled stream to leave the hub", func() bool { return hub.Subscribers("weights") == 1 })
	})
}
