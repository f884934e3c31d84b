#!/usr/bin/env bash
# Builds the real helm CLI (v3) from its Go module with the machine's Go toolchain, once, into a
# cache outside the repository keyed by version:
#   ${LLMROUTE_CACHE:-~/.cache/llmroute}/helm-<version>/bin/helm
# Prints the path of the helm binary. Idempotent: returns at once when it exists.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.22.0}
cache=${LLMROUTE_CACHE:-$HOME/.cache/llmroute}
bin="$cache/helm-$HELM_VERSION/bin"
if [ -x "$bin/helm" ]; then echo "$bin/helm"; exit 0; fi
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The link-time values helm's Makefile sets: without them `helm version` says "v3.22" and
# `helm template` assumes Kubernetes v1.20 (the default .Capabilities.KubeVersion comes from the
# client-go minor version helm is built with).
gomod=$(cd "$work" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
k8s_minor=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod" | head -1)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
echo "build-helm: building helm $HELM_VERSION (a few minutes, once)" >&2
# Build into a temporary GOBIN and move the binary in place last, so an interrupted build never
# leaves a half-written helm that the check above would take for a finished one.
(cd "$work" && GOBIN="$work/bin" go install -trimpath -ldflags="$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2)
mv "$work/bin/helm" "$bin/helm"
echo "$bin/helm"
