package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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

// TestHealthcheckFindsTheAdminAddress: without --url, healthcheck asks
// listen.admin as run finds it: the config file (--config or
// EVENTGUARD_CONFIG), EVENTGUARD_LISTEN_ADMIN over it, an address on every
// interface asked on loopback (issue 10, item 14).
func TestHealthcheckFindsTheAdminAddress(t *testing.T) {
	asked := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		_, _ = w.Write([]byte(`{"ready":true}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dir := t.TempDir()
	write := func(name, admin string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("listen: {admin: \""+admin+"\"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	right := write("right.yaml", "0.0.0.0:"+port)
	wrong := write("wrong.yaml", "127.0.0.1:1")
	off := write("off.yaml", "off")
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"--config", nil, []string{"--config", right}, 0},
		{"EVENTGUARD_CONFIG", map[string]string{"EVENTGUARD_CONFIG": right}, nil, 0},
		{"EVENTGUARD_LISTEN_ADMIN over the file", map[string]string{"EVENTGUARD_CONFIG": wrong, "EVENTGUARD_LISTEN_ADMIN": "127.0.0.1:" + port}, nil, 0},
		{"the file's wrong address is asked", map[string]string{"EVENTGUARD_CONFIG": wrong}, nil, 1},
		{"listen.admin off", nil, []string{"--config", off}, 1},
		{"--url over everything", map[string]string{"EVENTGUARD_CONFIG": wrong}, []string{"--url", srv.URL + "/healthz"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"EVENTGUARD_CONFIG", "EVENTGUARD_LISTEN_ADMIN"} {
				t.Setenv(k, c.env[k])
				if c.env[k] == "" {
					os.Unsetenv(k)
				}
			}
			var out, errb bytes.Buffer
			if got := Main(append([]string{"healthcheck", "--timeout", "2s"}, c.args...), &out, &errb); got != c.want {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", got, c.want, out.String(), errb.String())
			}
			if c.want == 0 {
				if p := <-asked; p != "/readyz" && !strings.HasSuffix(p, "healthz") {
					t.Errorf("asked %s", p)
				}
			}
		})
	}
}

// TestHealthcheckOverTLS: with listen.tls set, healthcheck asks /readyz
// over HTTPS, without verifying the sidecar's own certificate.
func TestHealthcheckOverTLS(t *testing.T) {
	asked := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		_, _ = w.Write([]byte(`{"ready":true}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	p := filepath.Join(t.TempDir(), "tls.yaml")
	if err := os.WriteFile(p, []byte("listen: {admin: \"0.0.0.0:"+port+"\", tls: {cert_file: /tls/tls.crt, key_file: /tls/tls.key}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u, err := readyzURL(p, nil); err != nil || u != "https://127.0.0.1:"+port+"/readyz" {
		t.Fatalf("readyzURL: %q %v", u, err)
	}
	var out, errb bytes.Buffer
	if got := Main([]string{"healthcheck", "--timeout", "2s", "--config", p}, &out, &errb); got != 0 {
		t.Fatalf("exit %d (stdout %q, stderr %q)", got, out.String(), errb.String())
	}
	if got := <-asked; got != "/readyz" {
		t.Errorf("asked %s", got)
	}
	// Given as --url, the certificate is verified.
	if got := Main([]string{"healthcheck", "--timeout", "2s", "--url", srv.URL + "/readyz"}, &out, &errb); got != 1 {
		t.Errorf("--url with an unknown certificate: exit %d", got)
	}
}
