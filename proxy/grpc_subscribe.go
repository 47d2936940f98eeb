package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry/span"
)

// ErrNoSubscriber is returned (wrapped) by Hub.Deliver when no Subscribe
// stream connected for the subscription before the delivery attempt's
// deadline. It is a retryable delivery failure: the consume loop backs off
// and keeps the offset.
var ErrNoSubscriber = fmt.Errorf("no subscriber connected: %w", consume.ErrAppUnavailable)

// ErrSubscriberGone is returned (wrapped) by Hub.Deliver when the stream a
// record was sent to ended before answering. It is retryable.
var ErrSubscriberGone = errors.New("subscriber stream ended before acknowledging")

// SubscriptionMetadata is the response header a Subscribe stream receives
// once it is registered with the hub; its value is the subscription name.
// A client may wait for it (stream.Header()) before relying on deliveries.
const SubscriptionMetadata = "eventguard-subscription"

// Hub hands the records of subscriptions with deliver.grpc: true to the
// Subscribe streams connected for them. It implements consume.Deliverer
// for all of them, keyed by Delivery.Subscription.
//
// With several streams connected for one subscription, deliveries go
// round-robin across them. Per-partition order is kept all the same,
// because the consume loop hands over a partition's next record only after
// the previous one is finished.
type Hub struct {
	log    *slog.Logger
	subs   map[string]*hubSub
	known  map[string]bool // every configured subscription: true when gRPC
	nextID atomic.Uint64

	closeOnce sync.Once
	closed    chan struct{}
}

var _ consume.Deliverer = (*Hub)(nil)

// hubSub is one gRPC subscription and its connected streams.
type hubSub struct {
	name    string
	mu      sync.Mutex
	streams []*subStream
	next    int
	// joined is closed (and replaced) whenever a stream connects.
	joined chan struct{}
}

// subStream is one connected Subscribe stream.
type subStream struct {
	out  chan *eventguardv1.Delivery
	done chan struct{}

	mu      sync.Mutex
	waiting map[uint64]chan error
}

// NewHub returns a hub for cfg's subscriptions with deliver.grpc: true.
func NewHub(cfg *config.Config, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{log: log, subs: map[string]*hubSub{}, known: map[string]bool{}, closed: make(chan struct{})}
	for _, s := range cfg.Subscriptions {
		h.known[s.Name] = s.Deliver.GRPC
		if s.Deliver.GRPC {
			h.subs[s.Name] = &hubSub{name: s.Name, joined: make(chan struct{})}
		}
	}
	return h
}

// Close ends every Subscribe stream with UNAVAILABLE and makes every later
// Deliver fail with ErrNoSubscriber.
func (h *Hub) Close() { h.closeOnce.Do(func() { close(h.closed) }) }

func (h *Hub) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

// Subscribers returns the number of streams connected for subscription.
func (h *Hub) Subscribers(subscription string) int {
	s, ok := h.subs[subscription]
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Deliver sends d to a stream connected for d.Subscription and waits for
// its Ack (nil), Nack with retry (a retryable error), Nack without retry
// (an error wrapping consume.ErrRejected), the stream's end
// (ErrSubscriberGone) or ctx. With no stream connected it waits for one
// until ctx is done (the attempt's deliver.timeout), then returns
// ErrNoSubscriber, so an app that connects shortly after the sidecar
// starts loses no attempt.
func (h *Hub) Deliver(ctx context.Context, d *consume.Delivery) error {
	s, ok := h.subs[d.Subscription]
	if !ok {
		return fmt.Errorf("deliver to subscription %q: not a gRPC subscription (deliver.grpc)", d.Subscription)
	}
	var ss *subStream
	for {
		var joined chan struct{}
		ss, joined = s.pick()
		if ss != nil {
			break
		}
		select {
		case <-joined:
		case <-h.closed:
			return fmt.Errorf("deliver to subscription %q: %w (shutting down)", d.Subscription, ErrNoSubscriber)
		case <-ctx.Done():
			return fmt.Errorf("deliver to subscription %q: %w", d.Subscription, ErrNoSubscriber)
		}
	}
	id := h.nextID.Add(1)
	res := make(chan error, 1)
	if !ss.await(id, res) {
		return fmt.Errorf("deliver to subscription %q: %w", d.Subscription, ErrSubscriberGone)
	}
	msg := toDelivery(ctx, d, id)
	select {
	case ss.out <- msg:
	case <-ss.done:
		return fmt.Errorf("deliver %s[%d]@%d to subscription %q: %w", d.Topic, d.Partition, d.Offset, d.Subscription, ErrSubscriberGone)
	case <-ctx.Done():
		ss.forget(id)
		return fmt.Errorf("deliver %s[%d]@%d to subscription %q: sending: %w", d.Topic, d.Partition, d.Offset, d.Subscription, ctx.Err())
	}
	select {
	case err := <-res:
		return err
	case <-ss.done:
		select {
		case err := <-res: // answered just before the stream ended
			return err
		default:
		}
		return fmt.Errorf("deliver %s[%d]@%d to subscription %q (delivery %d): %w", d.Topic, d.Partition, d.Offset, d.Subscription, id, ErrSubscriberGone)
	case <-ctx.Done():
		ss.forget(id)
		return fmt.Errorf("deliver %s[%d]@%d to subscription %q: no ack for delivery %d: %w", d.Topic, d.Partition, d.Offset, d.Subscription, id, ctx.Err())
	}
}

// pick returns the next stream round-robin, or nil and a channel closed
// when one connects.
func (s *hubSub) pick() (*subStream, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.streams) == 0 {
		return nil, s.joined
	}
	s.next = (s.next + 1) % len(s.streams)
	return s.streams[s.next], nil
}

func (s *hubSub) add(ss *subStream) {
	s.mu.Lock()
	s.streams = append(s.streams, ss)
	close(s.joined)
	s.joined = make(chan struct{})
	s.mu.Unlock()
}

func (s *hubSub) remove(ss *subStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.streams {
		if x == ss {
			s.streams = append(s.streams[:i], s.streams[i+1:]...)
			return
		}
	}
}

// await registers a delivery id; false when the stream has ended.
func (ss *subStream) await(id uint64, res chan error) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.waiting == nil {
		return false
	}
	ss.waiting[id] = res
	return true
}

func (ss *subStream) forget(id uint64) {
	ss.mu.Lock()
	if ss.waiting != nil {
		delete(ss.waiting, id)
	}
	ss.mu.Unlock()
}

// answer resolves a delivery id; false when nobody waits for it (answered
// already, timed out, or never sent).
func (ss *subStream) answer(id uint64, err error) bool {
	ss.mu.Lock()
	res, ok := ss.waiting[id]
	delete(ss.waiting, id)
	ss.mu.Unlock()
	if ok {
		res <- err
	}
	return ok
}

// end marks the stream finished: waiting deliveries see done.
func (ss *subStream) end() {
	ss.mu.Lock()
	ss.waiting = nil
	ss.mu.Unlock()
	close(ss.done)
}

// toDelivery renders d for the stream. The traceparent is the consume
// loop's span in ctx (the record's trace continued) when there is one,
// else the record's own.
func toDelivery(ctx context.Context, d *consume.Delivery, id uint64) *eventguardv1.Delivery {
	out := &eventguardv1.Delivery{
		DeliveryId:    id,
		Subscription:  d.Subscription,
		Topic:         d.Topic,
		Partition:     d.Partition,
		Offset:        d.Offset,
		Key:           d.Key,
		Value:         d.Value,
		Subject:       validUTF8(d.Subject),
		SchemaId:      uint32(d.SchemaID),
		SchemaVersion: uint32(d.Version),
		EventId:       validUTF8(d.EventID),
		Feature:       validUTF8(d.Feature),
		Attempt:       uint32(d.Attempt),
	}
	if !d.Timestamp.IsZero() {
		out.Timestamp = timestamppb.New(d.Timestamp)
	}
	if len(d.Headers) > 0 {
		out.Headers = make([]*eventguardv1.Header, len(d.Headers))
		for i, h := range d.Headers {
			out.Headers[i] = &eventguardv1.Header{Key: validUTF8(h.Key), Value: h.Value}
		}
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		c := span.MetadataCarrier{}
		span.Propagator.Inject(ctx, c)
		out.Traceparent, out.Tracestate = c.Get(kafka.HeaderTraceparent), c.Get(kafka.HeaderTracestate)
	} else {
		out.Traceparent, _ = kafka.Header(d.Headers, kafka.HeaderTraceparent)
		out.Tracestate, _ = kafka.Header(d.Headers, kafka.HeaderTracestate)
	}
	return out
}

// Subscribe serves one subscriber stream: the first request names the
// subscription, later ones ack or nack deliveries.
func (g *GRPC) Subscribe(stream eventguardv1.Eventguard_SubscribeServer) error {
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "the stream closed before naming a subscription")
		}
		return err
	}
	name := first.GetSubscription().GetName()
	if first.GetSubscription() == nil {
		return status.Error(codes.InvalidArgument, "the first Subscribe message must be a subscription naming a configured subscription")
	}
	h := g.hub
	grpcSub, known := h.known[name]
	switch {
	case h.isClosed():
		return status.Error(codes.Unavailable, "eventguard is shutting down; subscribe against the next instance")
	case !known:
		return status.Errorf(codes.NotFound, "subscription %s is not configured (subscriptions[].name)", quote.String(name))
	case !grpcSub:
		return status.Errorf(codes.FailedPrecondition, "subscription %s delivers over HTTP (deliver.url); set deliver.grpc: true to receive it over Subscribe", quote.String(name))
	}
	sub := h.subs[name]
	ss := &subStream{out: make(chan *eventguardv1.Delivery), done: make(chan struct{}), waiting: map[uint64]chan error{}}
	sub.add(ss)
	defer func() {
		sub.remove(ss)
		ss.end()
	}()
	if err := stream.SendHeader(metadata.Pairs(SubscriptionMetadata, name)); err != nil {
		return err
	}
	g.log.Info("subscriber connected", "subscription", name, "subscribers", h.Subscribers(name))
	defer g.log.Info("subscriber disconnected", "subscription", name)

	ctx := stream.Context()
	recvErr := make(chan error, 1)
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			switch k := in.GetKind().(type) {
			case *eventguardv1.SubscribeRequest_Ack:
				if !ss.answer(k.Ack.GetDeliveryId(), nil) {
					g.log.Debug("ack for a delivery nobody waits for (late or repeated)", "subscription", name, "delivery_id", k.Ack.GetDeliveryId())
				}
			case *eventguardv1.SubscribeRequest_Nack:
				n := k.Nack
				// The reason travels in the dead-letter headers and logs.
				why := bounded(n.GetReason(), maxStatusMessageBytes)
				if why == "" {
					why = "no reason given"
				}
				var err error
				if n.GetRetry() {
					err = fmt.Errorf("subscriber nacked delivery %d for a retry: %s", n.GetDeliveryId(), why)
				} else {
					err = consume.Rejected("subscriber nacked delivery %d: %s", n.GetDeliveryId(), why)
				}
				if !ss.answer(n.GetDeliveryId(), err) {
					g.log.Debug("nack for a delivery nobody waits for (late or repeated)", "subscription", name, "delivery_id", n.GetDeliveryId())
				}
			default:
				recvErr <- status.Error(codes.InvalidArgument, "after the first message, Subscribe messages must be ack or nack")
				return
			}
		}
	}()

	for {
		select {
		case d := <-ss.out:
			if err := stream.Send(d); err != nil {
				return err
			}
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-h.closed:
			return status.Error(codes.Unavailable, "eventguard is shutting down; resubscribe against the next instance (unacknowledged deliveries will be delivered again)")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// validUTF8 makes s fit a protobuf string field: a record written by
// another client may carry an event id, feature or header name that is not
// UTF-8, and a message with such a string cannot be marshalled, so the
// record could never be delivered. Invalid bytes become U+FFFD; the exact
// bytes stay in Delivery.headers (eventguard.event_id, eventguard.feature).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
