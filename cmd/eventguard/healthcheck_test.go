package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ready":true}`))
	}))
	defer srv.Close()
	for _, c := range []struct {
		name   string
		status int
		url    string
		want   int
	}{
		{"ready", http.StatusOK, srv.URL + "/readyz", 0},
		{"not ready", http.StatusServiceUnavailable, srv.URL + "/readyz", 1},
		{"nothing listening", http.StatusOK, "http://127.0.0.1:1/readyz", 1},
	} {
		status = c.status
		var out, errb bytes.Buffer
		if got := Main([]string{"healthcheck", "--url", c.url}, &out, &errb); got != c.want {
			t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", c.name, got, c.want, out.String(), errb.String())
		}
	}
}
