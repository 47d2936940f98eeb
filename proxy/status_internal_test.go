package proxy

import (
	"context"
	"net/http"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/produce"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	want := map[produce.Kind]int{
		produce.KindBadRequest: http.StatusBadRequest, produce.KindForbidden: http.StatusForbidden, produce.KindNotFound: http.StatusNotFound,
		produce.KindTooLarge: http.StatusRequestEntityTooLarge, produce.KindInvalid: http.StatusUnprocessableEntity,
		produce.KindOverloaded: http.StatusTooManyRequests, produce.KindUnavailable: http.StatusServiceUnavailable,
		produce.KindTimeout: http.StatusGatewayTimeout, produce.KindInternal: http.StatusInternalServerError, produce.Kind(0): http.StatusInternalServerError,
	}
	for k, s := range want {
		if got := httpStatus(k); got != s {
			t.Errorf("httpStatus(%d) = %d, want %d", k, got, s)
		}
	}
}

// TestDeliveryMarshalsInvalidUTF8: a record written by another client with
// an event id, feature or header name that is not UTF-8 still makes a
// Delivery message that marshals (issue 10, item 1).
func TestDeliveryMarshalsInvalidUTF8(t *testing.T) {
	t.Parallel()
	d := &consume.Delivery{EventID: "id\xff", Feature: "f\xfe", Subject: "s", Headers: []kgo.RecordHeader{{Key: "k\xff", Value: []byte("v")}}}
	out := toDelivery(context.Background(), d, 1)
	if _, err := proto.Marshal(out); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if out.EventId != "id\uFFFD" {
		t.Errorf("event_id = %q", out.EventId)
	}
}
