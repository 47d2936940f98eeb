package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestConfigDocUpToDate fails when docs/config.md differs from what the
// config package's doc comments generate. Run `make docs` to fix it.
func TestConfigDocUpToDate(t *testing.T) {
	var got bytes.Buffer
	if err := run(&got, filepath.Join("..", "..", "..", "config")); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatalf("read docs/config.md: %v (run make docs)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("docs/config.md is stale: run `make docs` and commit it")
	}
}

// TestEveryKeyStatesItsDefault keeps the promise that every key's doc
// comment states its default (or says the key is required).
func TestEveryKeyStatesItsDefault(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, filepath.Join("..", "..", "..", "config")); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("| `")) || bytes.Contains(line, []byte("| object |")) {
			continue
		}
		if !bytes.Contains(line, []byte("Default")) && !bytes.Contains(line, []byte("Required")) {
			t.Errorf("config key without a stated default: %s", line)
		}
	}
}
