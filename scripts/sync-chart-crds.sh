#!/usr/bin/env bash
# Copies the CRDs (crds/*.yaml, the source of truth) into the Helm chart (charts/llmroute/crds/),
# which must hold byte-identical copies: test/k8s/chart.test.ts fails when they drift. Run it after
# any change to crds/. Copies rather than links, so `helm package` and chart repositories see files.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=charts/llmroute/crds
mkdir -p "$dest"
# Drop copies whose source is gone, then copy every CRD.
for f in "$dest"/*.yaml; do
  [ -e "$f" ] || continue
  [ -e "crds/$(basename "$f")" ] || rm -v "$f"
done
cp -v crds/*.yaml "$dest/"
