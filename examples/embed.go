// Package examples embeds the example contracts, so `eventguard dev` and the
// tests have them wherever the binary runs.
package examples

import "embed"

// Contracts holds contracts/: one folder per registry subject, one folder
// per version with schema.json, optional references.json, and golden
// payloads under valid/ and invalid/.
//
//go:embed all:contracts
var Contracts embed.FS

// DevConfig is the configuration `eventguard dev` starts from.
//
//go:embed dev.yaml
var DevConfig []byte
