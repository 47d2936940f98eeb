package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/eventguard/eventguard/adminpage"
	"github.com/eventguard/eventguard/catalog"
)

// formatHTML is `catalog graph --format html`: the admin page for a fleet.
const formatHTML = "html"

// maxFleetRejections bounds the rejection rows of a fleet page (the
// newest of all sidecars').
const maxFleetRejections = 500

// writeFleetPage writes the admin page for the sidecars in from as one
// self-contained HTML file: their catalogs merged, and for each admin URL
// its latest rejections and readiness (a sidecar that does not answer
// them is named in a note; the map is drawn all the same).
func writeFleetPage(ctx context.Context, w io.Writer, from []string, snaps []*catalog.Snapshot, timeout time.Duration) error {
	merged := catalog.Merge(snaps...)
	p := adminpage.Page{Title: "eventguard fleet", At: time.Now().UTC(), Catalog: merged}
	var recents []*catalog.RecentSnapshot
	for i, src := range from {
		base, ok := adminBase(src)
		if !ok {
			continue
		}
		name := snaps[i].Instance
		if name == "" {
			name = base
		}
		var rs catalog.RecentSnapshot
		if err := getJSON(ctx, base+"/v1/recent", timeout, &rs, http.StatusOK); err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("rejections of %s: %v", name, err))
		} else {
			if rs.Instance == "" {
				rs.Instance = name
			}
			recents = append(recents, &rs)
		}
		var ready struct {
			Ready  bool              `json:"ready"`
			Checks map[string]string `json:"checks"`
		}
		if err := getJSON(ctx, base+"/readyz", timeout, &ready, http.StatusOK, http.StatusServiceUnavailable); err != nil {
			p.Readiness = append(p.Readiness, adminpage.Readiness{Instance: name, Err: err.Error()})
		} else {
			p.Readiness = append(p.Readiness, adminpage.ReadinessOf(name, ready.Checks, ready.Ready))
		}
	}
	if len(recents) > 0 {
		p.Recent = catalog.MergeRecent(maxFleetRejections, recents...)
	}
	p.Scope = fmt.Sprintf("%d sources", len(from))
	if len(from) == 1 {
		p.Scope = "1 source"
	}
	return adminpage.WriteStandalone(w, p)
}

// adminBase returns a sidecar's admin base URL for a --from source that
// names one (an admin URL or its /v1/catalog), and false for files,
// standard input and metrics scrapes.
func adminBase(src string) (string, bool) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return "", false
	}
	u := strings.TrimRight(src, "/")
	if strings.HasSuffix(u, "/metrics") || strings.Contains(u, "/federate") {
		return "", false
	}
	return strings.TrimSuffix(u, "/v1/catalog"), true
}

// getJSON decodes the JSON body of GET url (at most 16 MiB) into v when
// the status is one of ok.
func getJSON(ctx context.Context, url string, timeout time.Duration, v any, ok ...int) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	good := false
	for _, s := range ok {
		good = good || resp.StatusCode == s
	}
	if !good {
		return fmt.Errorf("get %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	return nil
}
