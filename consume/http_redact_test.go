package consume

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPDelivererKeepsTheURLPasswordOut: the app's URL may carry basic
// auth credentials; they are sent to the app, never put in an error (which
// reaches logs and dead-letter headers).
func TestHTTPDelivererKeepsTheURLPasswordOut(t *testing.T) {
	const pass = "app-password-in-the-url"
	status := http.StatusBadRequest
	var gotUser, gotPass string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		w.WriteHeader(status)
	}))
	defer app.Close()
	withPass := strings.Replace(app.URL, "http://", "http://app:"+pass+"@", 1)
	for _, tt := range []struct {
		name   string
		url    string
		status int
	}{
		{"rejected", withPass + "/events", http.StatusBadRequest},
		{"retried", withPass + "/events", http.StatusServiceUnavailable},
		{"unreachable", "http://app:" + pass + "@127.0.0.1:1/events", 0},
	} {
		status = tt.status
		err := NewHTTPDeliverer(tt.url, nil).Deliver(context.Background(), &Delivery{Value: []byte(`{}`)})
		if err == nil {
			t.Fatalf("%s: delivered", tt.name)
		}
		if strings.Contains(err.Error(), pass) {
			t.Errorf("%s: the error quotes the password: %v", tt.name, err)
		}
		if !strings.Contains(err.Error(), "app:xxxxx@") && !strings.Contains(err.Error(), "app:***@") {
			t.Errorf("%s: the error does not name the URL: %v", tt.name, err)
		}
		var se *StatusError
		if errors.As(err, &se) && strings.Contains(se.URL, pass) {
			t.Errorf("%s: StatusError.URL holds the password", tt.name)
		}
	}
	if gotUser != "app" || gotPass != pass {
		t.Errorf("the app got user %q password %q", gotUser, gotPass)
	}
}
