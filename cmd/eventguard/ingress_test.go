package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventguard/eventguard/config"
)

// TestSidecarServesRESTProxyAndCloudEvents: the wired sidecar (ingress
// instrumentation included) answers REST Proxy's v2 and v3 calls, a v3
// stream, GET /v3/clusters and a CloudEvent on the HTTP ingress, and a
// subscription with deliver.format: cloudevents delivers every record to
// the app with ce-* headers: the CloudEvent's own id, the event id for the
// others.
func TestSidecarServesRESTProxyAndCloudEvents(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("Ce-Id")] = r.Header.Clone()
		mu.Unlock()
	}))
	defer app.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{Name: "ce-app", Topics: []string{"pets"}, Deliver: config.Deliver{URL: app.URL, Format: config.FormatCloudEvents}}}
	})
	post := func(path, ct string, hdr map[string]string, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, r.http+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	pet := petV2For("pet-7")

	resp, err := http.Get(r.http + "/v3/clusters")
	if err != nil {
		t.Fatal(err)
	}
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&clusters)
	resp.Body.Close()
	if len(clusters.Data) != 1 || clusters.Data[0].ClusterID == "" {
		t.Fatalf("GET /v3/clusters: %+v", clusters)
	}
	cluster := clusters.Data[0].ClusterID

	// A v3 stream through the instrumented handler: answers as records go.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, r.http+"/v3/clusters/"+cluster+"/topics/pets/records", pr)
	req.Header.Set("Content-Type", "application/json")
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("stream: %v", err)
			close(respc)
			return
		}
		respc <- resp
	}()
	fmt.Fprintf(pw, `{"key":{"type":"STRING","data":"v3-0"},"value":{"data":%s}}`, pet)
	sresp := <-respc
	if sresp == nil {
		t.FailNow()
	}
	dec := json.NewDecoder(bufio.NewReader(sresp.Body))
	for i := range 2 {
		if i == 1 {
			fmt.Fprintf(pw, `{"key":{"type":"STRING","data":"v3-1"},"value":{"data":%s}}`, pet)
		}
		var a map[string]any
		if err := dec.Decode(&a); err != nil || a["error_code"] != float64(200) {
			t.Fatalf("stream answer %d: %v %v", i, a, err)
		}
	}
	pw.Close()
	sresp.Body.Close()

	if code, body := post("/topics/pets", "application/vnd.kafka.jsonschema.v2+json", nil, `{"records":[{"value":`+pet+`}]}`); code != 200 {
		t.Fatalf("v2: %d %s", code, body)
	}
	if code, body := post("/v1/topics/pets/cloudevents", "application/json", map[string]string{
		"ce-specversion": "1.0", "ce-id": "ce-sidecar-1", "ce-source": "/bowls/7", "ce-type": "pet.weight.updated.v2"}, pet); code != 200 {
		t.Fatalf("CloudEvent: %d %s", code, body)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app got %d deliveries, want 4: %v", n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	ce := got["ce-sidecar-1"]
	if ce == nil || ce.Get("Ce-Source") != "/bowls/7" || ce.Get("Ce-Type") != "pet.weight.updated.v2" || ce.Get("Eventguard-Event-Id") != "ce-sidecar-1" {
		t.Errorf("the CloudEvent's delivery: %v", ce)
	}
	for id, h := range got {
		if id == "ce-sidecar-1" {
			continue
		}
		if h.Get("Ce-Specversion") != "1.0" || h.Get("Ce-Type") != "pets-value" || h.Get("Ce-Source") != "eventguard/checkout" || id != h.Get("Eventguard-Event-Id") {
			t.Errorf("a REST Proxy record's delivery: %v", h)
		}
	}
}
