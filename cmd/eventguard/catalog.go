package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/telemetry"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

const catalogUsage = `usage: eventguard catalog graph --from URL [--from URL ...] [--format mermaid|dot|html]

Fetches the usage catalogs of several sidecars (GET /v1/catalog on their admin
listeners) and prints one producer-feature → event version → consumer-group
graph. --from takes an admin base URL (http://pod-ip:9464), a full catalog URL,
a saved catalog JSON file, or - for standard input. A URL ending in /metrics is
read as a Prometheus scrape instead: the counts come from
eventguard_records_total (no first/last seen), so the graph also works from a
sidecar's metrics alone, or from a Prometheus federation endpoint.

--format html writes the admin page (GET /ui) for the whole fleet as one
self-contained file: the merged usage map, and, for each --from that is a
sidecar's admin URL, its latest rejections (GET /v1/recent) and readiness
(GET /readyz).
`

func cmdCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "graph" {
		fmt.Fprint(stderr, catalogUsage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("catalog graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var from stringList
	fs.Var(&from, "from", "a sidecar's admin URL, a /v1/catalog URL, a catalog JSON file or - (repeatable)")
	format := fs.String("format", catalog.FormatMermaid, "output format: mermaid, dot or html")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout for each fetch")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if len(from) == 0 || fs.NArg() > 0 {
		fmt.Fprint(stderr, catalogUsage)
		return exitCode(2)
	}
	if *format != catalog.FormatMermaid && *format != catalog.FormatDOT && *format != formatHTML {
		return fmt.Errorf("--format %q: want mermaid, dot or html", *format)
	}
	snaps := make([]*catalog.Snapshot, 0, len(from))
	for _, src := range from {
		s, err := fetchCatalog(ctx, src, *timeout)
		if err != nil {
			return err
		}
		snaps = append(snaps, s)
	}
	if *format == formatHTML {
		return writeFleetPage(ctx, stdout, from, snaps, *timeout)
	}
	return catalog.WriteGraph(stdout, catalog.Merge(snaps...), *format)
}

// catalogFromMetrics builds a snapshot from a Prometheus text scrape of
// eventguard's metrics: accepted produced records by feature and finished
// (delivered or dead-lettered) consumed records by group, per topic,
// subject and version; versions with deprecated use are marked.
func catalogFromMetrics(r io.Reader, src string) (*catalog.Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("parse metrics from %s: %w", src, err)
	}
	type key struct {
		topic, subject string
		version        int
	}
	type acc struct {
		producers, consumers map[string]uint64
		deprecated           bool
	}
	by := map[key]*acc{}
	get := func(k key) *acc {
		a := by[k]
		if a == nil {
			a = &acc{producers: map[string]uint64{}, consumers: map[string]uint64{}}
			by[k] = a
		}
		return a
	}
	deprecated := map[[2]string]bool{} // subject, version
	if f := fams[telemetry.MetricDeprecated]; f != nil {
		for _, m := range f.GetMetric() {
			l := metricLabels(m)
			if m.GetCounter().GetValue() > 0 {
				deprecated[[2]string{l["subject"], l["version"]}] = true
			}
		}
	}
	if f := fams[telemetry.MetricRecords]; f != nil {
		for _, m := range f.GetMetric() {
			l := metricLabels(m)
			v, err := strconv.Atoi(l["version"])
			n := uint64(m.GetCounter().GetValue())
			if err != nil || n == 0 || l["subject"] == telemetry.UnknownLabel || l["subject"] == telemetry.OtherLabel {
				continue
			}
			k := key{l["topic"], l["subject"], v}
			switch {
			case l["direction"] == telemetry.DirectionProduce && l["outcome"] == "accepted":
				a := get(k)
				a.producers[l["feature"]] += n
			case l["direction"] == telemetry.DirectionConsume && (l["outcome"] == "delivered" || l["outcome"] == "dead_lettered"):
				a := get(k)
				a.consumers[l["group"]] += n
			default:
				continue
			}
			if deprecated[[2]string{l["subject"], l["version"]}] {
				by[k].deprecated = true
			}
		}
	}
	s := &catalog.Snapshot{Instance: src, Entries: []catalog.Entry{}}
	usages := func(m map[string]uint64) []catalog.Usage {
		out := []catalog.Usage{}
		for name, n := range m {
			out = append(out, catalog.Usage{Name: name, Count: n})
		}
		return out
	}
	for k, a := range by {
		s.Entries = append(s.Entries, catalog.Entry{Topic: k.topic, Subject: k.subject, Version: k.version, Deprecated: a.deprecated,
			Producers: usages(a.producers), Consumers: usages(a.consumers)})
	}
	// Merge sorts entries and usages.
	return catalog.Merge(s), nil
}

func metricLabels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// fetchCatalog reads one catalog snapshot from an admin URL, a catalog URL,
// a file or standard input ("-").
func fetchCatalog(ctx context.Context, src string, timeout time.Duration) (*catalog.Snapshot, error) {
	var r io.Reader
	switch {
	case src == "-":
		r = os.Stdin
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		u := strings.TrimRight(src, "/")
		metrics := strings.HasSuffix(u, "/metrics") || strings.Contains(u, "/federate")
		if !metrics && !strings.HasSuffix(u, "/v1/catalog") {
			u += "/v1/catalog"
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch catalog %s: %w", u, err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch catalog %s: %w", u, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("fetch catalog %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(b)))
		}
		if metrics {
			return catalogFromMetrics(resp.Body, u)
		}
		r = resp.Body
		src = u
	default:
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		defer f.Close()
		r = f
	}
	var s catalog.Snapshot
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty")
		}
		return nil, fmt.Errorf("decode catalog from %s: %w", src, err)
	}
	return &s, nil
}
