package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadBody: the body is read whole whatever Content-Length claims,
// the limit holds, and a reused buffer never shows an earlier body.
func TestReadBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		length  int64 // Content-Length sent; -1: unknown (chunked)
		limit   int64
		tooBig  bool
		wantLen int
	}{
		{"exact length", strings.Repeat("a", 1000), 1000, 4096, false, 1000},
		{"unknown length", strings.Repeat("b", 70000), -1, 1 << 20, false, 70000},
		{"length smaller than the body", strings.Repeat("c", 5000), 10, 1 << 20, false, 5000},
		{"length larger than the limit", strings.Repeat("d", 100), 1 << 30, 4096, false, 100},
		{"over the limit", strings.Repeat("e", 5000), -1, 4096, true, 0},
		{"empty", "", 0, 4096, false, 0},
	}
	for range 2 { // the second pass reuses pooled buffers
		for _, tt := range tests {
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(tt.body)))
			r.ContentLength = tt.length
			body, release, err := readBody(httptest.NewRecorder(), r, tt.limit)
			var mbe *http.MaxBytesError
			switch {
			case tt.tooBig:
				if !errors.As(err, &mbe) {
					t.Errorf("%s: err = %v, want *http.MaxBytesError", tt.name, err)
				}
			case err != nil:
				t.Errorf("%s: %v", tt.name, err)
			case string(body) != tt.body:
				t.Errorf("%s: read %d bytes (%.10q...), want %d", tt.name, len(body), body, tt.wantLen)
			}
			release()
		}
	}
}
