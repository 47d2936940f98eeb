# syntax=docker/dockerfile:1.7
#
# eventguard container image: one static binary on distroless, non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t eventguard .
#
# The `go build` line below uses exactly the flags of the Makefile's
# GOBUILD_FLAGS (deploy/dockerfile_test.go fails when they differ), and
# GO_VERSION is go.mod's go line (checked by the same test).

ARG GO_VERSION=1.26.8

# ---- build ------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/eventguard ./cmd/eventguard

# ---- run --------------------------------------------------------------------
# distroless/static: CA certificates, /etc/passwd with nonroot (65532), tzdata;
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="eventguard" \
      org.opencontainers.image.description="Kafka sidecar that validates event contracts in flight" \
      org.opencontainers.image.source="https://github.com/eventguard/eventguard" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

COPY --from=build /out/eventguard /eventguard

# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532

# 8080 HTTP ingress, 9090 gRPC ingress, 9464 admin (/metrics, /healthz,
# /readyz). The ingress listeners default to loopback: in a pod only the app
# container reaches them; the compose stack sets them to 0.0.0.0.
EXPOSE 8080 9090 9464

# Nothing is written to disk: the root filesystem may be read-only.
ENTRYPOINT ["/eventguard", "run"]
