package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
)

// TestSlowBodyCut: a client sending its body a byte at a time is answered
// 408 request_timeout and cut off at listen.read_timeout, not held for as
// long as it keeps sending (slowloris on the body; issue 10, item 10).
func TestSlowBodyCut(t *testing.T) {
	st := testutil.Start(t)
	cfg := st.Config(t, func(c *config.Config) {
		c.Topics = []config.Topic{{Name: "pets"}}
		c.Listen.ReadTimeout = time.Second
	})
	l := startLifecycle(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(l.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 1000 bytes announced, one sent per 200 ms: 200 s to finish.
	if _, err := io.WriteString(conn, "POST /v1/topics/pets/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			resp = nil
		}
		answered <- resp
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for sent := 0; ; sent++ {
		select {
		case resp := <-answered:
			if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("after %d body bytes: answer %v, want 408", sent, resp)
			}
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), `"request_timeout"`) {
				t.Errorf("408 body %s, want code request_timeout", b)
			}
			if sent >= 100 {
				t.Errorf("the slow body was read for %d bytes (%d s) with a 1 s read timeout", sent, sent/5)
			}
			return
		case <-tick.C:
			if _, err := conn.Write([]byte(" ")); err != nil {
				return // cut off: the answer may still be in flight, or lost
			}
		case <-deadline:
			t.Fatal("a body sent a byte at a time was never cut off")
		}
	}
}

// TestConnectionBoundAndIdle: with listen.max_connections 3, three idle
// connections fill the ingress: a fourth is not served until the server
// cuts the idle ones (no request within the read timeout), then it is; a
// keep-alive connection idle for listen.idle_timeout is closed (issue 10,
// item 10).
func TestConnectionBoundAndIdle(t *testing.T) {
	st := testutil.Start(t)
	cfg := st.Config(t, func(c *config.Config) {
		c.Listen.ReadTimeout = time.Second
		c.Listen.IdleTimeout = time.Second
		c.Listen.MaxConnections = 3
	})
	l := startLifecycle(t, cfg)
	addr := strings.TrimPrefix(l.http, "http://")
	get := func(timeout time.Duration) (int, error) {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(l.http + "/nowhere")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(5 * time.Second); err != nil || code != http.StatusNotFound {
		t.Fatalf("before: %d %v", code, err)
	}

	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	if code, err := get(300 * time.Millisecond); err == nil {
		t.Errorf("a fourth connection was served (%d) while 3 of max_connections 3 were open", code)
	}
	for i, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("idle connection %d: %v, want closed by the server", i, err)
		}
	}
	if code, err := get(5 * time.Second); err != nil || code != http.StatusNotFound {
		t.Errorf("after the idle connections were cut: %d %v", code, err)
	}

	// A keep-alive connection idle after its request is closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("keep-alive connection idle past idle_timeout: %v, want closed by the server", err)
	}
}
