package consume

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/validate"
)

// TestReplay: records dead-lettered for a schema violation that a newer
// schema version accepts, and records the app rejected before it was fixed,
// go back to the topic; the rest stay where they are. A dry run produces
// nothing and the dead-letter topic is never changed.
func TestReplay(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	var appFixed atomic.Bool
	e.sink.setAnswer(func(d delivery) int {
		if d.Key == "reject-me" && !appFixed.Load() {
			return http.StatusUnprocessableEntity
		}
		return http.StatusOK
	})

	const v2Shaped = `{"pet_id":"p1","weight":4.5}` // breaks v1, passes v2
	hs := []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}, {Key: kafka.HeaderSubject, Value: []byte("pets-value")}, {Key: kafka.HeaderSchemaVersion, Value: []byte("1")}}
	e.produce(
		rec("pets", 0, "ok", framed(1, valid(0)), hs...),             // 0 delivered
		rec("pets", 0, "new-shape", framed(1, v2Shaped), hs...),      // 1 schema_violation; passes v2
		rec("pets", 0, "reject-me", framed(1, valid(2)), hs...),      // 2 rejected_by_app; the app is fixed later
		rec("pets", 0, "hopeless", framed(1, `{"pet_id":7}`), hs...), // 3 schema_violation under v1 and v2
		rec("pets", 0, "no-schema", framed(77, valid(4)), hs...),     // 4 unknown_schema, still unknown
	)
	e.start(e.sub("replay", "pets"))
	e.sink.waitN(1, 10*time.Second)
	dead := e.readTopic("pets.dlq", 4, 10*time.Second)
	eventually(t, 5*time.Second, "commit", func() bool { return e.committed("replay", "pets", 1)[0] == 5 })

	// The fix: pets-value version 2, and the app accepts what it refused.
	e.reg.SeedSchema("pets-value", 2, 2, sr.Schema{Type: sr.TypeJSON, Schema: petsV2})
	appFixed.Store(true)

	replay := func(o dlq.ReplayOptions) (*dlq.Summary, string) {
		t.Helper()
		var out bytes.Buffer
		o.From, o.To, o.Out = "pets.dlq", "pets", &out
		o.Check = check.New(check.Options{Resolver: e.newResolver()}).ReplayCheck(check.ReplayOptions{TryLatest: true})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sum, err := dlq.Replay(ctx, []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, o)
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, out.String())
		}
		t.Logf("%s\n%s", out.String(), sum)
		return sum, out.String()
	}

	// A dry run reports and produces nothing.
	sum, out := replay(dlq.ReplayOptions{DryRun: true})
	if sum.Read != 4 || sum.Replayed != 2 || sum.Failing != 2 || sum.Skipped != 0 {
		t.Errorf("dry run: %+v", sum)
	}
	if !strings.Contains(out, "would replay") || !strings.Contains(out, "still fails") {
		t.Errorf("dry run output:\n%s", out)
	}
	if n := e.endOffset("pets", 0); n != 5 {
		t.Fatalf("dry run produced: pets ends at %d, want 5", n)
	}

	// A reason filter leaves the others alone.
	sum, _ = replay(dlq.ReplayOptions{DryRun: true, Reason: dlq.ReasonRejectedByApp})
	if sum.Replayed != 1 || sum.Skipped != 3 {
		t.Errorf("filtered dry run: %+v", sum)
	}

	// The replay moves the fixed ones back; the loop delivers them.
	sum, _ = replay(dlq.ReplayOptions{})
	if sum.Replayed != 2 || sum.Failing != 2 {
		t.Fatalf("replay: %+v", sum)
	}
	ds := e.sink.waitN(3, 10*time.Second)
	if ds[1].Key != "new-shape" || ds[1].Header.Get(HeaderSchemaVersion) != "2" || ds[1].Header.Get(HeaderSchemaID) != "2" || ds[1].Body != v2Shaped {
		t.Errorf("replayed new-shape arrived as %+v", ds[1])
	}
	ds = e.sink.waitN(3, 10*time.Second)
	if ds[2].Key != "reject-me" || ds[2].Header.Get(HeaderSchemaVersion) != "1" {
		t.Errorf("replayed reject-me arrived as %+v", ds[2])
	}

	// What went back: original key and headers minus eventguard.dlq.*, the
	// replay marker, stamped labels following a re-framed value.
	back := e.readTopic("pets", 7, 10*time.Second)[5:]
	for _, r := range back {
		orig := dead[0]
		for _, d := range dead {
			if bytes.Equal(d.Key, r.Key) {
				orig = d
			}
		}
		if !bytes.Equal(r.Key, orig.Key) || !r.Timestamp.Equal(orig.Timestamp) {
			t.Errorf("replayed %q: key or timestamp changed", r.Key)
		}
		for _, h := range r.Headers {
			if dlq.IsHeader(h.Key) {
				t.Errorf("replayed %q still carries %s", r.Key, h.Key)
			}
		}
		from, _ := kafka.Header(r.Headers, kafka.HeaderReplayedFrom)
		if want := "pets.dlq/0/" + strconv.FormatInt(orig.Offset, 10); from != want {
			t.Errorf("replayed %q: %s = %q, want %q", r.Key, kafka.HeaderReplayedFrom, from, want)
		}
		if origin, _ := kafka.Header(r.Headers, "origin"); origin != "test" {
			t.Errorf("replayed %q lost its header", r.Key)
		}
		ver, _ := kafka.Header(r.Headers, kafka.HeaderSchemaVersion)
		switch string(r.Key) {
		case "new-shape":
			if !bytes.Equal(r.Value, validate.Frame(2, []byte(v2Shaped))) || ver != "2" {
				t.Errorf("new-shape: value %q version %q, want re-framed with id 2", r.Value, ver)
			}
		case "reject-me":
			if !bytes.Equal(r.Value, orig.Value) || ver != "1" {
				t.Errorf("reject-me: value or version changed: %q %q", r.Value, ver)
			}
		default:
			t.Errorf("replayed %q, which still fails", r.Key)
		}
	}
	if n := e.endOffset("pets.dlq", 0); n != 4 {
		t.Errorf("the DLQ now ends at %d: replay must not write to it (nor delete)", n)
	}
}
