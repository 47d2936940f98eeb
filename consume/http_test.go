package consume

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHTTPDelivererAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string // "ok", "retry" or "reject"
	}{
		{200, "ok"}, {201, "ok"}, {204, "ok"},
		{400, "reject"}, {404, "reject"}, {409, "reject"}, {422, "reject"},
		{408, "retry"}, {429, "retry"}, {500, "retry"}, {502, "retry"}, {503, "retry"},
		{302, "retry"}, // redirects are not followed: a misconfigured URL
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte("  the app says why \n"))
		}))
		err := NewHTTPDeliverer(srv.URL, nil).Deliver(context.Background(), &Delivery{Value: []byte(`{}`)})
		srv.Close()
		got := "retry"
		switch {
		case err == nil:
			got = "ok"
		case errors.Is(err, ErrRejected):
			got = "reject"
		}
		if got != tc.want {
			t.Errorf("HTTP %d: %s (%v), want %s", tc.status, got, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "the app says why") {
			t.Errorf("HTTP %d: error %q leaves out the app's answer", tc.status, err)
		}
	}
}

func TestHTTPDelivererConnectionErrorsAndTimeoutsRetry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := NewHTTPDeliverer(srv.URL, nil).Deliver(ctx, &Delivery{}); err == nil || errors.Is(err, ErrRejected) {
		t.Errorf("timeout: %v, want a retryable error", err)
	}
	if err := NewHTTPDeliverer("http://127.0.0.1:1", nil).Deliver(context.Background(), &Delivery{}); err == nil || errors.Is(err, ErrRejected) {
		t.Errorf("connection refused: %v, want a retryable error", err)
	}
}

func TestHeaderKey(t *testing.T) {
	for _, tc := range []struct {
		key, value, enc string
	}{
		{"pet-42", "pet-42", ""},
		{"", "", ""},
		{"a b", "a b", ""},
		{" lead", "IGxlYWQ=", "base64"},
		{"trail ", "dHJhaWwg", "base64"},
		{"pét", "cMOpdA==", "base64"},
		{"line\nbreak", "bGluZQpicmVhaw==", "base64"},
		{"\xff\x00", "/wA=", "base64"},
	} {
		v, enc := headerKey([]byte(tc.key))
		if v != tc.value || enc != tc.enc {
			t.Errorf("headerKey(%q) = %q, %q; want %q, %q", tc.key, v, enc, tc.value, tc.enc)
		}
	}
}

// TestRetryAfter: the app's Retry-After, in seconds or as an HTTP date, is
// carried on the retried error; anything unreadable or past is none.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999999", 0}, // beyond 32 bits of seconds: unreadable
	} {
		if got := parseRetryAfter(tc.value, now); got != tc.want {
			t.Errorf("Retry-After %q = %s, want %s", tc.value, got, tc.want)
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	err := NewHTTPDeliverer(srv.URL, nil).Deliver(context.Background(), &Delivery{Value: []byte(`{}`)})
	if d := retryDelay(err); d != 3*time.Second || !strings.Contains(err.Error(), "Retry-After 3s") {
		t.Errorf("429 with Retry-After 3: delay %s, error %v", d, err)
	}
	if d := retryDelay(errors.New("plain")); d != 0 {
		t.Errorf("an error without a delay asks for %s", d)
	}
}

// TestHTTPDelivererEncodesUnsafeHeaders: a record written by another
// client with CR/LF, NUL or invalid UTF-8 in its event id, feature or
// subject is still delivered, those values base64-encoded with an
// *-Encoding header (issue 10, item 1: it was dead-lettered as
// delivery_exhausted, net/http refusing the header value).
func TestHTTPDelivererEncodesUnsafeHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	d := &Delivery{Value: []byte(`{}`), EventID: "evil\r\nX-Injected: 3", Feature: "bad\x00feature", Subject: "ok-value"}
	if err := NewHTTPDeliverer(srv.URL, nil).Deliver(context.Background(), d); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	h := <-got
	for _, tc := range []struct{ name, enc, want string }{
		{HeaderEventID, HeaderEventIDEncoding, d.EventID},
		{HeaderFeature, HeaderFeatureEncoding, d.Feature},
	} {
		if h.Get(tc.enc) != "base64" {
			t.Errorf("%s = %q, want base64", tc.enc, h.Get(tc.enc))
		}
		b, err := base64.StdEncoding.DecodeString(h.Get(tc.name))
		if err != nil || string(b) != tc.want {
			t.Errorf("%s = %q, decodes to %q (%v), want %q", tc.name, h.Get(tc.name), b, err, tc.want)
		}
	}
	if h.Get(HeaderSubject) != "ok-value" || h.Get(HeaderSubjectEncoding) != "" {
		t.Errorf("a safe subject was encoded: %q %q", h.Get(HeaderSubject), h.Get(HeaderSubjectEncoding))
	}
	if h.Get("X-Injected") != "" {
		t.Error("the id injected a header")
	}
}
