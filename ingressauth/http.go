package ingressauth

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/eventguard/eventguard/config"
)

// Realm is the realm of the WWW-Authenticate challenges.
const Realm = "eventguard"

// CodeUnauthenticated is the error code of a 401 answer (and the
// google.rpc.ErrorInfo metadata code of an UNAUTHENTICATED status).
const CodeUnauthenticated = "unauthenticated"

// HTTP returns next behind the listeners' authentication: a request
// without accepted credentials is answered 401, with WWW-Authenticate
// challenges and a JSON error body ({"error":{"code":"unauthenticated",
// "message":...}}), and never reaches next. Requests for the paths in open
// (exact paths, such as "/readyz") pass without credentials. listener names
// the listener to Options.Refused. With mode none, next is returned as it
// is.
func (a *Auth) HTTP(listener string, next http.Handler, open ...string) http.Handler {
	if a.mode == config.AuthNone {
		return next
	}
	open = slices.Clone(open)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(open, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		why, msg := a.checkHTTP(r)
		if why == "" {
			next.ServeHTTP(w, r)
			return
		}
		a.refused(listener, why)
		a.challenge(w.Header(), why)
		w.Header().Set("Cache-Control", "no-store")
		writeError(w, msg)
	})
}

// checkHTTP authenticates r: "" when it may pass.
func (a *Auth) checkHTTP(r *http.Request) (Reason, string) {
	switch a.mode {
	case config.AuthToken:
		return a.tokens.check(r.Header.Values("Authorization"))
	case config.AuthMTLS:
		return verifiedPeer(r.TLS)
	}
	return "", ""
}

// challenge sets the WWW-Authenticate challenges of a 401: for tokens
// Bearer (RFC 6750; error="invalid_token" when one was sent and refused)
// and Basic (so a browser asks for the token as a password); for client
// certificates an informational Mutual-TLS challenge, as HTTP has no
// scheme for them.
func (a *Auth) challenge(h http.Header, why Reason) {
	switch a.mode {
	case config.AuthToken:
		bearer := `Bearer realm="` + Realm + `"`
		if why == ReasonInvalid {
			bearer += `, error="invalid_token"`
		}
		h.Add("WWW-Authenticate", bearer)
		h.Add("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
	case config.AuthMTLS:
		h.Add("WWW-Authenticate", `Mutual-TLS realm="`+Realm+`"`)
	}
}

func writeError(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": CodeUnauthenticated, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(append(b, '\n'))
}
