package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/eventguard/eventguard/adminpage"
	"github.com/eventguard/eventguard/catalog"
)

// mountAdminPage adds the admin page (GET /ui) and the latest rejections
// as JSON (GET /v1/recent) to the admin listener.
func (s *sidecar) mountAdminPage(mux *http.ServeMux) {
	page := adminpage.Handler(adminpage.Options{
		Title:     "eventguard",
		Catalog:   adminpage.CatalogFunc(s.catalogSnapshot),
		Recent:    adminpage.RecentFunc(s.recent.Snapshot),
		Readiness: adminpage.ReadinessFunc(s.readiness),
	})
	mux.Handle("GET /ui", page)
	mux.Handle("GET /ui/", page)
	mux.HandleFunc("GET /v1/recent", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.recent.Snapshot())
	})
}

// catalogSnapshot is the usage catalog with each deprecated version's
// sunset and replacement, from the config or the registry's metadata.
func (s *sidecar) catalogSnapshot() *catalog.Snapshot {
	snap := s.catalog.Snapshot()
	for i := range snap.Entries {
		e := &snap.Entries[i]
		d := s.deprecations.LookupVersion(e.Subject, e.Version)
		if d == nil {
			continue
		}
		e.Deprecated = true
		if !d.Sunset.IsZero() {
			e.Sunset = d.Sunset.UTC().Format(time.DateOnly)
		}
		if d.Replacement != nil {
			e.Replacement = fmt.Sprintf("%s v%d", d.Replacement.Subject, d.Replacement.Version)
		}
	}
	return snap
}
