package proxy_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
)

// ordersBody is 100 records of the ~1 KB OrderPlaced example (the payload
// of the real-broker benchmark) for topic orders.
func ordersBody(b *testing.B, n int) []byte {
	b.Helper()
	v, err := os.ReadFile("../examples/contracts/orders-OrderPlaced/1/valid/large-13-items.json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"key":"order-%d","value":%s}`, i, bytes.TrimSpace(v))
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkHTTPOrdersBatchNoBroker: 100 OrderPlaced records (~1 KB each,
// the real-broker benchmark's payload) per request, broker taken out.
func BenchmarkHTTPOrdersBatchNoBroker(b *testing.B) {
	st := testutil.Start(b)
	cfg := st.Config(b, func(c *config.Config) {
		c.Topics = []config.Topic{{Name: "orders", SubjectStrategy: "topic_record", TypePointer: "/event_type"}}
	})
	pl := st.Pipeline(b, cfg, produce.Options{Producer: instantAck{}})
	h := proxy.NewHTTP(pl, cfg.Limits.MaxBodyBytes, cfg.Registry.URL, testutil.Discard()).Handler()
	runHTTPPath(b, h, "/v1/topics/orders/records", ordersBody(b, 100), 100)
}
