#!/usr/bin/env bash
# Regenerates api/eventguard/v1/*.pb.go from api/eventguard/v1/*.proto.
#
# Reproducible: buf, protoc-gen-go and protoc-gen-go-grpc are built from
# pinned versions through the Go module proxy (go install ...@vX) into
# .tmp/tools/<version>/, so every machine generates byte-identical code and
# nothing from the system (no Debian protoc, whose version and well-known
# type files drift with the distribution) takes part. buf compiles the
# protos itself and carries the google/protobuf well-known types.
#
# Usage: scripts/gen-proto.sh          lint and generate
#        scripts/gen-proto.sh --check  also fail if the committed code differs
set -euo pipefail

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12     # keep equal to google.golang.org/protobuf in go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
GO="${GO:-go}"

tools="$repo/.tmp/tools/buf-$BUF_VERSION-go-$PROTOC_GEN_GO_VERSION-grpc-$PROTOC_GEN_GO_GRPC_VERSION"
if [[ ! -x "$tools/buf" || ! -x "$tools/protoc-gen-go" || ! -x "$tools/protoc-gen-go-grpc" ]]; then
	echo "gen-proto: installing pinned tools into ${tools#"$repo"/} (first run builds buf: a few minutes)" >&2
	mkdir -p "$tools"
	# GOFLAGS from the environment (such as -mod=vendor) must not reach
	# these installs: they build outside this module.
	GOFLAGS=-trimpath GOBIN="$tools" "$GO" install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
	GOFLAGS=-trimpath GOBIN="$tools" "$GO" install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
	GOFLAGS=-trimpath GOBIN="$tools" "$GO" install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi
export PATH="$tools:$PATH"

cd "$repo/api"
buf format --diff --exit-code
buf lint
buf generate

if [[ "${1:-}" == "--check" ]]; then
	cd "$repo"
	if ! git diff --exit-code -- api/; then
		echo "gen-proto: the committed generated code is stale; run make proto and commit" >&2
		exit 1
	fi
fi
echo "gen-proto: api/eventguard/v1 generated"
