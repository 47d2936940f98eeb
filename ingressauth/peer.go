package ingressauth

import "crypto/tls"

// verifiedPeer authenticates a TLS connection by its client certificate:
// "" when one was sent and verified against listen.tls.client_ca_file (a
// certificate that does not verify fails the handshake before this).
func verifiedPeer(cs *tls.ConnectionState) (Reason, string) {
	switch {
	case cs == nil:
		return ReasonMissing, "authentication required: connect over TLS with a client certificate"
	case len(cs.VerifiedChains) == 0:
		return ReasonMissing, "authentication required: present a client certificate signed by the CA in listen.tls.client_ca_file"
	}
	return "", ""
}
