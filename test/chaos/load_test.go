package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
)

// loadConfig shapes the combined load.
type loadConfig struct {
	Topic string
	// HTTPClients post Batch records each, one request at a time, at most
	// one every Pace.
	HTTPClients int
	// StreamClients each hold one ProduceStream with up to 2 requests of
	// Batch records unanswered, at most one request every Pace.
	StreamClients int
	Batch         int
	Pace          time.Duration
}

// outcome is the answer to one produce request.
type outcome struct {
	// Label is "http 200", "http 503", "grpc UNAVAILABLE", "transport
	// error", ...
	Label string
	// RetryAfter is whether a failure carried Retry-After (HTTP) or
	// retry_delay (gRPC).
	RetryAfter bool
	Latency    time.Duration
	Sent       time.Time
	// OK is whether every record was reported produced.
	OK bool
	// Why is the error code and the start of the message of a failed
	// answer ("kafka_unavailable: Kafka did not take the record: ...").
	Why string
}

// ledger is everything the load sent and what each request was answered.
type ledger struct {
	mu sync.Mutex
	// sent holds every event id sent, with its key and sequence number
	// (the order its client sent it in, per key).
	sent map[string]sentRecord
	// acked holds the event ids reported produced (200, or produced in a
	// partial answer).
	acked    map[string]bool
	outcomes []outcome
}

// sentRecord is one record the load sent.
type sentRecord struct {
	Key string
	Seq int
}

func newLedger() *ledger {
	return &ledger{sent: map[string]sentRecord{}, acked: map[string]bool{}}
}

func (l *ledger) record(o outcome, ids []string, produced []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes = append(l.outcomes, o)
	for i, id := range ids {
		if i < len(produced) && produced[i] {
			l.acked[id] = true
		}
	}
}

func (l *ledger) sending(ids, keys []string, seqs []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, id := range ids {
		l.sent[id] = sentRecord{Key: keys[i], Seq: seqs[i]}
	}
}

// outcomesBetween returns the outcomes of requests sent in [from, to).
func (l *ledger) outcomesBetween(from, to time.Time) []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []outcome
	for _, o := range l.outcomes {
		if !o.Sent.Before(from) && o.Sent.Before(to) {
			out = append(out, o)
		}
	}
	return out
}

// lastOK returns when the last request answered all-produced was sent.
func (l *ledger) lastOK() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t time.Time
	for _, o := range l.outcomes {
		if o.OK && o.Sent.After(t) {
			t = o.Sent
		}
	}
	return t
}

// load is the combined produce load on one sidecar.
type load struct {
	cfg    loadConfig
	ledger *ledger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hc     *http.Client
	conn   *grpc.ClientConn
}

// startLoad starts the HTTP clients and gRPC streams against the sidecar
// at httpURL and grpcAddr. value builds a valid event for a key and a
// sequence number.
func startLoad(cfg loadConfig, httpURL, grpcAddr string, value func(key string, seq int) []byte) (*load, error) {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial gRPC %s: %w", grpcAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{
		cfg:    cfg,
		ledger: newLedger(),
		cancel: cancel,
		hc:     &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.HTTPClients}},
		conn:   conn,
	}
	for c := range cfg.HTTPClients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.httpClient(ctx, c, httpURL, value)
		}()
	}
	gc := eventguardv1.NewEventguardClient(conn)
	for c := range cfg.StreamClients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.streamClient(ctx, gc, c, value)
		}()
	}
	return l, nil
}

// stop ends the load, waits for every request to be answered, and closes
// the connections.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
	l.hc.CloseIdleConnections()
	_ = l.conn.Close()
}

// keysPerClient is how many keys each client cycles through: records of
// one key are sent in order by one client, one request at a time (or, on a
// stream, in the stream's order).
const keysPerClient = 4

// batch returns the next request's ids, keys and per-key sequence numbers
// for client name, advancing n.
func batch(name string, n *int, size int) (ids, keys []string, seqs []int) {
	for range size {
		i := *n
		*n++
		ids = append(ids, fmt.Sprintf("%s-%06d", name, i))
		keys = append(keys, fmt.Sprintf("%s-k%d", name, i%keysPerClient))
		seqs = append(seqs, i/keysPerClient)
	}
	return ids, keys, seqs
}

// pace waits until next, or ctx's end; it reports whether to go on.
func pace(ctx context.Context, next time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(next)):
		return true
	}
}

func (l *load) httpClient(ctx context.Context, c int, base string, value func(string, int) []byte) {
	name := fmt.Sprintf("h%d", c)
	n := 0
	url := base + "/v1/topics/" + l.cfg.Topic + "/records"
	for next := time.Now(); pace(ctx, next); {
		next = time.Now().Add(l.cfg.Pace)
		ids, keys, seqs := batch(name, &n, l.cfg.Batch)
		var body bytes.Buffer
		body.WriteString(`{"records":[`)
		for i := range ids {
			if i > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"key":%q,"id":%q,"value":%s}`, keys[i], ids[i], value(keys[i], seqs[i]))
		}
		body.WriteString(`]}`)
		l.ledger.sending(ids, keys, seqs)
		sent := time.Now()
		// The request is not tied to ctx: a request in flight when the
		// load stops gets its answer, so the ledger knows its fate.
		req, _ := http.NewRequest(http.MethodPost, url, &body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.hc.Do(req)
		o := outcome{Sent: sent, Latency: time.Since(sent)}
		produced := make([]bool, len(ids))
		if err != nil {
			o.Label = "transport error"
			l.ledger.record(o, ids, produced)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		o.Latency = time.Since(sent)
		o.Label = "http " + strconv.Itoa(resp.StatusCode)
		o.RetryAfter = resp.Header.Get("Retry-After") != ""
		var pr struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
			Results []struct {
				Index     int    `json:"index"`
				Partition *int32 `json:"partition"`
			} `json:"results"`
		}
		if err := json.Unmarshal(raw, &pr); err == nil {
			for _, r := range pr.Results {
				if r.Index >= 0 && r.Index < len(produced) && r.Partition != nil {
					produced[r.Index] = true
				}
			}
			if pr.Error != nil {
				o.Why = why(pr.Error.Code, pr.Error.Message)
			}
		}
		o.OK = resp.StatusCode == http.StatusOK
		if o.OK {
			for i := range produced {
				produced[i] = true
			}
		}
		l.ledger.record(o, ids, produced)
	}
}

// streamClient keeps one ProduceStream open, reopening it when it fails,
// with up to two requests unanswered.
func (l *load) streamClient(ctx context.Context, gc eventguardv1.EventguardClient, c int, value func(string, int) []byte) {
	name := fmt.Sprintf("g%d", c)
	n := 0
	for ctx.Err() == nil {
		if err := l.streamTurn(ctx, gc, name, &n, value); err != nil {
			pace(ctx, time.Now().Add(100*time.Millisecond))
		}
	}
}

type streamSent struct {
	id   string
	ids  []string
	sent time.Time
}

func (l *load) streamTurn(ctx context.Context, gc eventguardv1.EventguardClient, name string, n *int, value func(string, int) []byte) error {
	// The stream outlives ctx by the produce timeout and some, so the
	// requests sent before the end are answered.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := gc.ProduceStream(sctx)
	if err != nil {
		l.ledger.record(outcome{Label: "grpc " + status.Code(err).String(), Sent: time.Now()}, nil, nil)
		return err
	}
	const window = 2
	slots := make(chan struct{}, window)
	fifo := make(chan streamSent, window)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		defer close(fifo)
		defer func() { _ = st.CloseSend() }()
		for next, req := time.Now(), 0; ; req++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			case <-sctx.Done():
				return
			}
			if !pace(ctx, next) {
				return
			}
			next = time.Now().Add(l.cfg.Pace)
			ids, keys, seqs := batch(name, n, l.cfg.Batch)
			recs := make([]*eventguardv1.Record, len(ids))
			for i := range ids {
				recs[i] = &eventguardv1.Record{Key: []byte(keys[i]), Id: ids[i], Value: value(keys[i], seqs[i])}
			}
			l.ledger.sending(ids, keys, seqs)
			s := streamSent{id: strconv.Itoa(req), ids: ids, sent: time.Now()}
			fifo <- s
			if err := st.Send(&eventguardv1.ProduceRequest{Topic: l.cfg.Topic, Records: recs, RequestId: s.id}); err != nil {
				return
			}
		}
	}()
	// Cut the stream off if it is still open long after the load ended.
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(45 * time.Second):
				cancel()
			case <-stopWatch:
			}
		case <-stopWatch:
		}
	}()

	var failed error
	for {
		resp, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				failed = err
			}
			break
		}
		s, ok := <-fifo
		if !ok {
			failed = fmt.Errorf("answer %q to no request", resp.GetRequestId())
			break
		}
		o := outcome{Sent: s.sent, Latency: time.Since(s.sent)}
		produced := make([]bool, len(s.ids))
		for _, r := range resp.GetResults() {
			if i := int(r.GetIndex()); i < len(produced) && r.GetProduced() {
				produced[i] = true
			}
		}
		if e := resp.GetError(); e != nil {
			o.Label = "grpc " + codes.Code(e.GetStatusCode()).String()
			o.RetryAfter = e.GetRetryDelay() != nil
			o.Why = why(e.GetCode(), e.GetMessage())
		} else {
			o.Label = "grpc OK"
			o.OK = true
			for _, p := range produced {
				o.OK = o.OK && p
			}
		}
		if resp.GetRequestId() != s.id {
			o.Label = "grpc out of order"
		}
		l.ledger.record(o, s.ids, produced)
		<-slots
	}
	cancel()
	<-senderDone
	for s := range fifo {
		label := "grpc stream ended"
		if failed != nil {
			label = "grpc " + status.Code(failed).String()
		}
		l.ledger.record(outcome{Label: label, Sent: s.sent, Latency: time.Since(s.sent)}, s.ids, nil)
	}
	return failed
}

// why renders an error code and the start of its message: enough to tell
// apart the causes of one status.
func why(code, msg string) string {
	// "record 3: " prefixes differ per request; the cause follows.
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "record ") {
		msg = msg[i+2:]
	}
	if len(msg) > 60 {
		msg = msg[:60] + "…"
	}
	return code + ": " + msg
}

// summary is the tally of a ledger's outcomes.
type summary struct {
	Requests   int            `json:"requests"`
	OK         int            `json:"ok"`
	ByLabel    map[string]int `json:"by_answer"`
	NoRetry    int            `json:"unavailable_without_retry_after"`
	RecordsOK  int            `json:"records_acknowledged"`
	RecordsOut int            `json:"records_sent"`
	// Why counts the failed answers by label, code and the start of the
	// message.
	Why map[string]int `json:"failures"`
	// LatencyP50 and LatencyMax per label, in milliseconds.
	LatencyP50 map[string]float64 `json:"latency_p50_ms"`
	LatencyMax map[string]float64 `json:"latency_max_ms"`
}

func summarize(l *ledger, outcomes []outcome) summary {
	l.mu.Lock()
	s := summary{ByLabel: map[string]int{}, Why: map[string]int{}, LatencyP50: map[string]float64{}, LatencyMax: map[string]float64{}, RecordsOK: len(l.acked), RecordsOut: len(l.sent)}
	l.mu.Unlock()
	lat := map[string][]time.Duration{}
	for _, o := range outcomes {
		s.Requests++
		if o.OK {
			s.OK++
		}
		s.ByLabel[o.Label]++
		if o.Why != "" {
			s.Why[o.Label+" "+o.Why]++
		}
		if (o.Label == "http 503" || o.Label == "grpc Unavailable") && !o.RetryAfter {
			s.NoRetry++
		}
		lat[o.Label] = append(lat[o.Label], o.Latency)
	}
	for label, ds := range lat {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		s.LatencyP50[label] = ms(ds[len(ds)/2])
		s.LatencyMax[label] = ms(ds[len(ds)-1])
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
