package proxy

import (
	"net/http"
	"testing"

	"github.com/eventguard/eventguard/produce"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	want := map[produce.Kind]int{
		produce.KindBadRequest: http.StatusBadRequest, produce.KindForbidden: http.StatusForbidden, produce.KindNotFound: http.StatusNotFound,
		produce.KindTooLarge: http.StatusRequestEntityTooLarge, produce.KindInvalid: http.StatusUnprocessableEntity,
		produce.KindOverloaded: http.StatusTooManyRequests, produce.KindUnavailable: http.StatusServiceUnavailable,
		produce.KindTimeout: http.StatusGatewayTimeout, produce.KindInternal: http.StatusInternalServerError, produce.Kind(0): http.StatusInternalServerError,
	}
	for k, s := range want {
		if got := httpStatus(k); got != s {
			t.Errorf("httpStatus(%d) = %d, want %d", k, got, s)
		}
	}
}
