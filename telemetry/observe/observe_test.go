package observe

import (
	"testing"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/produce"
)

// TestProduceRejectionsListed: rejected records and refused requests enter
// the latest rejections with their reason, path and message; accepted and
// failed records, and the valid records of a refused all-or-nothing
// request, do not. Nil metrics and catalog are fine.
func TestProduceRejectionsListed(t *testing.T) {
	r := catalog.NewRecent(catalog.RecentOptions{})
	o := Produce{Recent: r}
	o.Record(produce.Event{Topic: "pets", Subject: "pets-value", Version: 2, Feature: "weight-sync", Outcome: "accepted", Count: 3})
	o.Record(produce.Event{Topic: "pets", Subject: "pets-value", Version: 2, Feature: "weight-sync", Outcome: "rejected", Code: produce.ReasonBatchRejected, Count: 2})
	o.Record(produce.Event{Topic: "pets", Feature: "weight-sync", Outcome: "failed", Code: produce.CodeKafkaDown, Count: 2, Message: "kafka down"})
	o.Record(produce.Event{Topic: "pets", Subject: "pets-value", Version: 2, Feature: "weight-sync", Outcome: "rejected", Code: "schema_violation",
		Path: "/net_weight_grams", Message: "got string, want integer"})
	o.Record(produce.Event{Topic: "secret", Feature: "x", Outcome: "rejected", Code: produce.CodeTopicNotAllowed, Count: 5, Message: `topic "secret" is not allowed`})

	s := r.Snapshot()
	if len(s.Rejections) != 2 {
		t.Fatalf("rows: %+v", s.Rejections)
	}
	req, rec := s.Rejections[0], s.Rejections[1]
	if req.Topic != "secret" || req.Reason != produce.CodeTopicNotAllowed || req.Records != 5 || req.Message != `topic "secret" is not allowed` || req.Outcome != catalog.OutcomeRejected {
		t.Errorf("refused request: %+v", req)
	}
	if rec.Subject != "pets-value" || rec.Version != 2 || rec.Feature != "weight-sync" || rec.Path != "/net_weight_grams" || rec.Records != 1 {
		t.Errorf("rejected record: %+v", rec)
	}
	if len(s.Counts) != 2 || s.Counts[1].Count != 5 {
		t.Errorf("counts: %+v", s.Counts)
	}
}
