package ingressauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tlsSource holds the listeners' certificate and client CAs, read again
// when their files change.
type tlsSource struct {
	certFile, keyFile, caFile string
	log                       *slog.Logger
	cur                       atomic.Pointer[tlsMaterial]
	watch                     *watched
}

// tlsMaterial is one load of the files, with the server configurations
// built from it (one per ALPN protocol list), so that sessions resume
// within one load.
type tlsMaterial struct {
	cert    tls.Certificate
	clients *x509.CertPool // nil without mtls
	configs sync.Map       // ALPN list → *tls.Config
}

func newTLSSource(certFile, keyFile, caFile string, o Options) (*tlsSource, error) {
	s := &tlsSource{certFile: certFile, keyFile: keyFile, caFile: caFile, log: o.Logger}
	paths := []string{certFile, keyFile}
	if caFile != "" {
		paths = append(paths, caFile)
	}
	w, err := newWatched("TLS files", paths, o, s.load)
	if err != nil {
		return nil, err
	}
	s.watch = w
	return s, nil
}

// load reads the certificate, key and client CAs; on an error nothing
// changes.
func (s *tlsSource) load() error {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("listen.tls.cert_file and key_file (%s, %s): %w", s.certFile, s.keyFile, err)
	}
	m := &tlsMaterial{cert: cert}
	if s.caFile != "" {
		b, err := os.ReadFile(s.caFile)
		if err != nil {
			return fmt.Errorf("listen.tls.client_ca_file: %w", err)
		}
		m.clients = x509.NewCertPool()
		if !m.clients.AppendCertsFromPEM(b) {
			return fmt.Errorf("listen.tls.client_ca_file (%s): no PEM certificate in it", s.caFile)
		}
	}
	if leaf := cert.Leaf; leaf != nil {
		now := time.Now()
		if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			s.log.Warn("listen.tls.cert_file: the certificate is not valid now", "file", s.certFile, "not_before", leaf.NotBefore, "not_after", leaf.NotAfter)
		}
	}
	s.cur.Store(m)
	return nil
}

// serverConfig is the configuration a listener serves TLS with: each
// handshake takes the current load's.
func (s *tlsSource) serverConfig(protos []string) *tls.Config {
	key := strings.Join(protos, ",")
	protos = append([]string(nil), protos...)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: protos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s.watch.check()
			m := s.cur.Load()
			if m == nil {
				return nil, errors.New("no certificate loaded")
			}
			return m.config(key, protos), nil
		},
	}
}

// config returns the load's configuration for protos, built once.
func (m *tlsMaterial) config(key string, protos []string) *tls.Config {
	if c, ok := m.configs.Load(key); ok {
		return c.(*tls.Config)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   protos,
		Certificates: []tls.Certificate{m.cert},
	}
	if m.clients != nil {
		c.ClientCAs = m.clients
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	got, _ := m.configs.LoadOrStore(key, c)
	return got.(*tls.Config)
}
