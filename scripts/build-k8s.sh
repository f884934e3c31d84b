#!/usr/bin/env bash
# Builds the Kubernetes test harness binaries (kube-apiserver and etcd) from their Go modules with
# the machine's Go toolchain, once, into a cache outside the repository keyed by version:
#   ${LLMROUTE_CACHE:-~/.cache/llmroute}/k8s-<k8s version>-etcd-<etcd version>/bin/{kube-apiserver,etcd}
# Prints that bin directory. Idempotent: returns at once when both binaries exist.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.35.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.6}
cache=${LLMROUTE_CACHE:-$HOME/.cache/llmroute}
out="$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
bin="$out/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

if [ ! -x "$bin/kube-apiserver" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  staging="v0.${K8S_VERSION#v1.}"
  # k8s.io/kubernetes replaces its k8s.io/* staging modules with local paths; pin them to the
  # published versions of the same release instead.
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module llmroute.dev/harness/apiserver"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } > "$work/go.mod"
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > "$work/tools.go"
  echo "build-k8s: building kube-apiserver $K8S_VERSION (several minutes, once)" >&2
  (cd "$work" && go mod tidy >&2 && go build -trimpath -ldflags="-s -w" -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
fi

if [ ! -x "$bin/etcd" ]; then
  work=$(mktemp -d)
  printf 'module llmroute.dev/harness/etcd\n\ngo 1.24\n' > "$work/go.mod"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > "$work/main.go"
  echo "build-k8s: building etcd $ETCD_VERSION" >&2
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2 && go build -trimpath -ldflags="-s -w" -o "$bin/etcd" .)
  rm -rf "$work"
fi
echo "$bin"
