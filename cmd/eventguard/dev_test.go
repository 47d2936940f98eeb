package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// String returns what was written (syncBuffer is in observability_test.go).
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeFiles writes files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// shipmentsContracts is a contracts folder whose first subject no topic
// can take (alpha-Thing: no topic alpha uses topic_record) and whose
// second is shipments-value, with pretty-printed golden payloads.
func shipmentsContracts(t *testing.T) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"alpha-Thing/1/schema.json":           `{"type":"object"}`,
		"shipments-value/1/schema.json":       `{"type":"object","properties":{"parcel_id":{"type":"string"},"weight_g":{"type":"integer","minimum":1}},"required":["parcel_id","weight_g"]}`,
		"shipments-value/2/schema.json":       `{"type":"object","properties":{"parcel_id":{"type":"string"},"grams":{"type":"integer","minimum":1}},"required":["parcel_id","grams"],"additionalProperties":false}`,
		"shipments-value/2/valid/b-typ.json":  "{\n  \"parcel_id\": \"p-1\",\n  \"grams\": 120\n}\n",
		"shipments-value/2/valid/a-it's.json": "{\"parcel_id\": \"it's\", \"grams\": 1}",
		"shipments-value/2/invalid/zero.json": "{\"parcel_id\": \"p-2\", \"grams\": 0}",
	})
	return dir
}

// startDev runs eventguard dev with args on free ports until the test
// ends, and returns its banner once printed.
func startDev(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"dev", "--kafka-port", "0", "--registry-addr", "127.0.0.1:0", "--grpc", "off"}, args...)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- mainContext(ctx, args, &out, &errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("eventguard dev did not stop")
		}
	})
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops.") {
		select {
		case code := <-done:
			t.Fatalf("eventguard dev exited %d:\n%s\n%s", code, out.String(), errb.String())
		case <-deadline:
			t.Fatalf("no banner:\n%s\n%s", out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return out.String()
}

// bannerCurls returns the URL and request bodies of the banner's curls.
func bannerCurls(t *testing.T, banner string) (url string, bodies []string) {
	t.Helper()
	m := regexp.MustCompile(`curl -sS -X POST (\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no curl in the banner:\n%s", banner)
	}
	for _, q := range regexp.MustCompile(`-d '((?:[^']|'\\'')*)'`).FindAllStringSubmatch(banner, -1) {
		bodies = append(bodies, strings.ReplaceAll(q[1], `'\''`, "'"))
	}
	return m[1], bodies
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDevContractsBanner: with --contracts DIR the banner's curls are built
// from DIR's first subject a topic can take (shipments-value: topic
// shipments), its latest version's first valid golden payload and an
// invalid one, and they work as printed; --http and --admin are honoured
// (issue 10, items 13 and 15).
func TestDevContractsBanner(t *testing.T) {
	banner := startDev(t, "--contracts", shipmentsContracts(t), "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	url, bodies := bannerCurls(t, banner)
	if !strings.HasSuffix(url, "/v1/topics/shipments/records") || strings.Contains(banner, "pets") {
		t.Fatalf("banner not built from shipments-value:\n%s", banner)
	}
	if len(bodies) != 2 || bodies[0] != `{"records":[{"value":{"parcel_id":"it's","grams":1}}]}` || !strings.Contains(bodies[1], `"grams":0`) {
		t.Fatalf("curl bodies %q, want the first valid golden compacted and the invalid one", bodies)
	}
	if code, body := post(t, url, bodies[0]); code != http.StatusOK || !strings.Contains(body, `"schema_version":2`) {
		t.Errorf("the banner's valid curl: %d %s", code, body)
	}
	if code, body := post(t, url, bodies[1]); code != http.StatusUnprocessableEntity {
		t.Errorf("the banner's invalid curl: %d %s", code, body)
	}
	admin := regexp.MustCompile(`admin\s+http://(\S+)`).FindStringSubmatch(banner)
	if admin == nil || !strings.HasPrefix(admin[1], "127.0.0.1:") {
		t.Errorf("admin not on the --admin loopback address:\n%s", banner)
	} else if resp, err := http.Get("http://" + admin[1] + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("admin /healthz: %v %v", resp, err)
	}
}

// TestDevNoSubjectToProduce: a contracts folder whose subjects no topic can
// take gets a note saying so, not a curl that fails.
func TestDevNoSubjectToProduce(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"alpha-Thing/1/schema.json": `{"type":"object"}`})
	banner := startDev(t, "--contracts", dir, "--http", "127.0.0.1:0", "--admin", "off")
	if strings.Contains(banner, "curl") || !strings.Contains(banner, "no subject of "+dir+" can be produced to") {
		t.Errorf("banner:\n%s", banner)
	}
}

// TestDevAdminOnLoopback: in dev the admin listener defaults to loopback,
// with or without --config (eventguard run keeps 0.0.0.0 for the pod's
// probes); the environment still overrides it.
func TestDevAdminOnLoopback(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dev.yaml")
	writeFiles(t, filepath.Dir(file), map[string]string{"dev.yaml": "topics: [{name: shipments}]\n"})
	for _, path := range []string{"", file} {
		cfg, err := devConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen.Admin != "127.0.0.1:9464" {
			t.Errorf("devConfig(%q): admin %s, want 127.0.0.1:9464", path, cfg.Listen.Admin)
		}
	}
	t.Setenv("EVENTGUARD_LISTEN_ADMIN", "127.0.0.1:20042")
	if cfg, err := devConfig(file); err != nil || cfg.Listen.Admin != "127.0.0.1:20042" {
		t.Errorf("with EVENTGUARD_LISTEN_ADMIN: %v %v", cfg.Listen.Admin, err)
	}
}

// TestAddressInUseNamesTheSetting: an address in use fails at once with
// an error naming the flag (dev) or the config key and environment
// variable (run) that moves it (issue 10, item 13).
func TestAddressInUseNamesTheSetting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	cfgFile := filepath.Join(t.TempDir(), "run.yaml")
	writeFiles(t, filepath.Dir(cfgFile), map[string]string{"run.yaml": "listen: {http: " + addr + ", grpc: off, admin: off}\n"})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"dev --http", []string{"dev", "--kafka-port", "0", "--registry-addr", "127.0.0.1:0", "--http", addr, "--grpc", "off", "--admin", "off"}, "set another address with --http"},
		{"dev --grpc", []string{"dev", "--kafka-port", "0", "--registry-addr", "127.0.0.1:0", "--http", "off", "--grpc", addr, "--admin", "off"}, "set another address with --grpc"},
		{"dev --admin", []string{"dev", "--kafka-port", "0", "--registry-addr", "127.0.0.1:0", "--http", "off", "--grpc", "off", "--admin", addr}, "set another address with --admin"},
		{"dev --registry-addr", []string{"dev", "--kafka-port", "0", "--registry-addr", addr}, "set another address with --registry-addr"},
		{"dev --kafka-port", []string{"dev", "--kafka-port", port, "--registry-addr", "127.0.0.1:0"}, "set another address with --kafka-port"},
		{"run", []string{"run", "--config", cfgFile}, "set another address with listen.http (EVENTGUARD_LISTEN_HTTP)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errb syncBuffer
			code := mainContext(ctx, c.args, &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "address already in use") {
				t.Errorf("exit %d, stderr:\n%s\nwant it to say %q", code, errb.String(), c.want)
			}
		})
	}
}
