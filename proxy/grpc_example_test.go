package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
)

// Example_grpcClient is the Go client of docs/grpc.md: produce one event,
// read the per-record details of a refusal, then receive a subscription and
// acknowledge each delivery. It needs a running sidecar, so it is compiled
// but not run.
func Example_grpcClient() {
	conn, err := grpc.NewClient("127.0.0.1:9090", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	eg := eventguardv1.NewEventguardClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The feature (and a W3C traceparent, if you have one) go in metadata.
	ctx = metadata.AppendToOutgoingContext(ctx, "eventguard-feature", "weight-sync")

	resp, err := eg.Produce(ctx, &eventguardv1.ProduceRequest{
		Topic: "pets",
		Records: []*eventguardv1.Record{{
			Key:   []byte("pet-42"),
			Value: []byte(`{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`),
		}},
	})
	if err != nil {
		st := status.Convert(err)
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.BadRequest:
				for _, v := range d.GetFieldViolations() {
					fmt.Printf("%s: %s\n", v.GetField(), v.GetDescription())
				}
			case *errdetails.RetryInfo:
				fmt.Println("retry after", d.GetRetryDelay().AsDuration())
			case *eventguardv1.ProduceResponse:
				for _, r := range d.GetResults() {
					fmt.Println("record", r.GetIndex(), r.GetError().GetCode())
				}
			}
		}
		log.Fatalf("produce: %s: %s", st.Code(), st.Message())
	}
	r := resp.GetResults()[0]
	fmt.Printf("written to %s[%d]@%d as %s v%d\n", "pets", r.GetPartition(), r.GetOffset(), r.GetSubject(), r.GetSchemaVersion())

	// Receive a subscription (deliver: {grpc: true}) and acknowledge.
	sub, err := eg.Subscribe(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	if err := sub.Send(&eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Subscription{
		Subscription: &eventguardv1.Subscription{Name: "weight-analytics"},
	}}); err != nil {
		log.Fatal(err)
	}
	for {
		d, err := sub.Recv()
		if err != nil {
			log.Fatal(err) // UNAVAILABLE when the sidecar stops: reconnect
		}
		answer := &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Ack{Ack: &eventguardv1.Ack{DeliveryId: d.GetDeliveryId()}}}
		if err := handle(d.GetValue()); err != nil {
			answer = &eventguardv1.SubscribeRequest{Kind: &eventguardv1.SubscribeRequest_Nack{Nack: &eventguardv1.Nack{
				DeliveryId: d.GetDeliveryId(), Retry: !errors.Is(err, errPermanent), Reason: err.Error(),
			}}}
		}
		if err := sub.Send(answer); err != nil {
			log.Fatal(err)
		}
	}
}

var errPermanent = errors.New("permanent")

func handle(event []byte) error { fmt.Printf("%s\n", event); return nil }
