// Package deploy holds eventguard's Kubernetes manifests (a kustomize base
// under base/ and example overlays under overlays/) and no code. Its tests
// keep every deployment artefact of the repository honest without a cluster
// or a Docker engine:
//
//   - manifests_test.go renders the base and each overlay in-process with
//     kustomize, decodes every object into the Kubernetes API types with
//     unknown fields rejected, and checks the sidecar, probes, security
//     context, credentials and the mounted config (with eventguard's own
//     validation);
//   - compose_test.go checks docker-compose.yml against the config it
//     mounts, the example contracts and the example apps;
//   - dockerfile_test.go checks the Dockerfile builds with the Makefile's
//     flags, that .dockerignore keeps what the build needs, and builds the
//     binary with those flags to prove it is static and version-stamped.
package deploy
