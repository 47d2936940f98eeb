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
	"strings"
	"time"

	"github.com/eventguard/eventguard/catalog"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

const catalogUsage = `usage: eventguard catalog graph --from URL [--from URL ...] [--format mermaid|dot]

Fetches the usage catalogs of several sidecars (GET /v1/catalog on their admin
listeners) and prints one producer-feature → event version → consumer-group
graph. --from takes an admin base URL (http://pod-ip:9464), a full catalog URL,
a saved catalog JSON file, or - for standard input.
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
	format := fs.String("format", catalog.FormatMermaid, "output format: mermaid or dot")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout for each fetch")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if len(from) == 0 || fs.NArg() > 0 {
		fmt.Fprint(stderr, catalogUsage)
		return exitCode(2)
	}
	if *format != catalog.FormatMermaid && *format != catalog.FormatDOT {
		return fmt.Errorf("--format %q: want mermaid or dot", *format)
	}
	snaps := make([]*catalog.Snapshot, 0, len(from))
	for _, src := range from {
		s, err := fetchCatalog(ctx, src, *timeout)
		if err != nil {
			return err
		}
		snaps = append(snaps, s)
	}
	return catalog.WriteGraph(stdout, catalog.Merge(snaps...), *format)
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
		if !strings.HasSuffix(u, "/v1/catalog") {
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
