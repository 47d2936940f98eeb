package ingressauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
	"github.com/eventguard/eventguard/internal/testcerts"
)

// mtlsFiles writes a server certificate signed by serverCA and the client
// CA bundle, and returns listen.tls naming them.
func mtlsFiles(t *testing.T, dir string, serverCA, clientCA *testcerts.CA) config.ListenTLS {
	t.Helper()
	c, k := serverCA.Issue(t, "eventguard", false)
	return config.ListenTLS{
		CertFile:     testcerts.WriteFile(t, dir, "tls.crt", c),
		KeyFile:      testcerts.WriteFile(t, dir, "tls.key", k),
		ClientCAFile: testcerts.WriteFile(t, dir, "ca.crt", clientCA.PEM),
	}
}

// serveHTTP serves h on loopback through a's TLS listener and returns its
// https base URL.
func serveHTTP(t *testing.T, a *ingressauth.Auth, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	go func() { _ = srv.Serve(a.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

func client(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs},
		ForceAttemptHTTP2: true,
	}}
}

func TestHTTPMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA, otherCA := testcerts.NewCA(t, "server CA"), testcerts.NewCA(t, "client CA"), testcerts.NewCA(t, "another CA")
	var ref refusals
	a, err := ingressauth.New(config.Listen{Auth: config.ListenAuth{Mode: config.AuthMTLS}, TLS: mtlsFiles(t, t.TempDir(), serverCA, clientCA)}, ingressauth.Options{Refused: ref.add})
	if err != nil {
		t.Fatal(err)
	}
	base := serveHTTP(t, a, a.HTTP("admin", ok, "/healthz"))
	get := func(c *http.Client, path string) (int, string, string, error) {
		resp, err := c.Get(base + path)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Proto, resp.Header.Get("WWW-Authenticate") + " " + string(b), nil
	}

	good := client(serverCA.Pool(), clientCA.ClientCert(t, "app"))
	if code, proto, body, err := get(good, "/v1/catalog"); err != nil || code != 200 || proto != "HTTP/2.0" {
		t.Errorf("with a client certificate: %d %s %s %v", code, proto, body, err)
	}
	none := client(serverCA.Pool())
	code, _, body, err := get(none, "/v1/catalog")
	if err != nil || code != 401 || !strings.Contains(body, `Mutual-TLS realm="eventguard"`) || !strings.Contains(body, "present a client certificate") {
		t.Errorf("without a client certificate: %d %s %v", code, body, err)
	}
	if ref.get("admin/missing") != 1 {
		t.Errorf("refusals: %v", ref.n)
	}
	if code, _, body, err := get(none, "/healthz"); err != nil || code != 200 {
		t.Errorf("an open path without a client certificate: %d %s %v", code, body, err)
	}
	// A Go client sends no certificate the server's CAs did not sign: the
	// request is then one without a certificate.
	if code, _, _, err := get(client(serverCA.Pool(), otherCA.ClientCert(t, "intruder")), "/v1/catalog"); err != nil || code != 401 {
		t.Errorf("a client holding a certificate of another CA: %d %v", code, err)
	}
	// A certificate of another CA, sent anyway, fails the handshake, even
	// for an open path.
	intruder := otherCA.ClientCert(t, "intruder")
	forced := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:              serverCA.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &intruder, nil },
	}}}
	if code, _, _, err := get(forced, "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client certificate of another CA: %d %v", code, err)
	}
	// An HTTP/1.1 client is served too.
	h1 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCA.ClientCert(t, "app")}, NextProtos: []string{"http/1.1"}}}}
	if code, proto, _, err := get(h1, "/v1/catalog"); err != nil || code != 200 || proto != "HTTP/1.1" {
		t.Errorf("HTTP/1.1: %d %s %v", code, proto, err)
	}
}

// TestCertificateReload: a renewed certificate replaced in its files is
// served from the next handshake after a check, without a restart; the
// listener keeps serving the old one while the new files do not load.
func TestCertificateReload(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "server CA")
	dir := t.TempDir()
	c1, k1 := ca.Issue(t, "first", false)
	lt := config.ListenTLS{CertFile: testcerts.WriteFile(t, dir, "tls.crt", c1), KeyFile: testcerts.WriteFile(t, dir, "tls.key", k1)}
	a, err := ingressauth.New(config.Listen{TLS: lt}, ingressauth.Options{CheckEvery: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	base := serveHTTP(t, a, a.HTTP("http", ok))
	served := func() string {
		t.Helper()
		// A new connection each time: a new handshake.
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}}
		resp, err := c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("serves %q", got)
	}
	// Half a renewal (a new certificate, the old key) does not load.
	c2, k2 := ca.Issue(t, "second", false)
	testcerts.ReplaceFile(t, lt.CertFile, c2)
	time.Sleep(60 * time.Millisecond)
	if got := served(); got != "first" {
		t.Fatalf("with a certificate and a key that do not match: serves %q", got)
	}
	testcerts.ReplaceFile(t, lt.KeyFile, k2)
	deadline := time.Now().Add(2 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate is not served")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
