# eventguard — make help lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
# Pinned so that a new staticcheck release cannot fail CI on unchanged code.
STATICCHECK_VERSION ?= 0.8.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The build line the Dockerfile uses too (a test keeps them the same).
GOBUILD_FLAGS := -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)"

.PHONY: help build test test-unit test-e2e test-browser screenshot lint fmt vet bench bench-go test-chaos chaos soak \
        kafka-up kafka-down registry-up registry-down dev proto docs clean kafka-cluster-up kafka-cluster-down

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/eventguard (static, version stamped)
	CGO_ENABLED=0 $(GO) build $(GOBUILD_FLAGS) -o bin/eventguard ./cmd/eventguard

dev: ## run eventguard dev (embedded Kafka and registry)
	$(GO) run ./cmd/eventguard dev

test: vet test-unit test-e2e test-browser test-chaos ## vet, unit tests with -race, the e2e and interop suites (real Kafka, real registry), the admin page in Chromium, the chaos suite on a three-broker cluster
	@echo "make test: all suites passed"

test-unit: ## unit and package tests (kfake, srfake) with -race
	$(GO) test -race -shuffle=on -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /test/chaos)

test-e2e: ## end-to-end tests against a real Kafka broker and a real schema registry (KAFKA_BROKERS, APICURIO_URL, or started here)
	test/run-e2e.sh

test-browser: ## the admin page in a real browser (Debian's chromium, node, playwright-core from test/browser)
	test/run-browser.sh

screenshot: ## refresh docs/admin-page.png (the browser test's screenshot)
	EVENTGUARD_SCREENSHOT=docs/admin-page.png test/run-browser.sh

test-chaos: ## chaos suite: brokers killed, paused, restarted, below min ISR, under load on a three-broker cluster (about 5 min)
	test/run-chaos.sh

chaos: ## the longer chaos run (20 leader kills, every fault 3 times), not in CI; writes docs/chaos/
	EVENTGUARD_CHAOS_KILLS=20 EVENTGUARD_CHAOS_ROUNDS=3 EVENTGUARD_CHAOS_OUT=docs/chaos test/run-chaos.sh

soak: ## one-hour soak at half capacity, RSS/goroutines/files/p99 sampled each minute, not in CI; writes docs/soak/
	test/run-soak.sh

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@PATH="$$($(GO) env GOPATH)/bin:$$PATH"; staticcheck -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION))' || $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" staticcheck ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet ./...

bench: ## side-by-side benchmark on a real broker: eventguard vs franz-go direct, validating franz-go, Kroxylicious (writes bench/results/)
	test/run-bench.sh

bench-go: ## Go benchmarks of the hot paths (validation and the Avro/Protobuf engines: BenchmarkFormats, HTTP batch, consume, rules, dedupe)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./validate/... ./proxy/... ./produce/... ./internal/... ./consume/... ./rules/... ./dedupe/...

kafka-up: ## start a real Kafka broker on 127.0.0.1:19092 (KAFKA_PORT overrides)
	test/kafka/kafka.sh up

kafka-down: ## stop the broker and remove its data
	test/kafka/kafka.sh down

registry-up: ## start a real schema registry (Apicurio, Java 21+) on 127.0.0.1:18081 (APICURIO_PORT overrides)
	test/registry/apicurio.sh up

registry-down: ## stop the registry and remove its data
	test/registry/apicurio.sh down

kafka-cluster-up: ## start a three-broker Kafka cluster on 127.0.0.1:19192-19194 (controller :19195; RF 3, min ISR 2)
	test/kafka/kafka.sh cluster up

kafka-cluster-down: ## stop the three-broker cluster and remove its data
	test/kafka/kafka.sh cluster down

proto: ## regenerate api/eventguard/v1 Go code (pinned buf, protoc-gen-go, protoc-gen-go-grpc via go install)
	scripts/gen-proto.sh

docs: ## regenerate docs/config.md from the config doc comments
	$(GO) run ./internal/cmd/configdoc > docs/config.md

clean: ## remove build output
	rm -rf bin
