#!/usr/bin/env bash
# For developers with Docker and internet access (NOT usable on CodeRun's build machines,
# which cannot pull kind's node image): create a kind cluster and load CodeRun's images.
#
#   make kind-up                       # or: bash hack/cluster/kind-up.sh
#   KIND_CLUSTER_NAME=coderun KIND_NODE_IMAGE=kindest/node:v1.34.0 bash hack/cluster/kind-up.sh
#
# Builds every sandbox-images/*/Dockerfile as coderun-sandbox-<dir>:dev and the repo-root
# Dockerfile (if any) as coderun:dev with the Docker you already have (BASE_IMAGE left at
# each Dockerfile's public default), then `kind load docker-image`s them. Prints the
# KUBECONFIG to use. Needs: docker, kind (https://kind.sigs.k8s.io), kubectl.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME="${KIND_CLUSTER_NAME:-coderun}"
NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.34.0}"
KUBECONFIG_OUT="${KIND_KUBECONFIG:-$HOME/.kube/coderun-kind.yaml}"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-up: '$tool' not found on PATH" >&2; exit 1; }
done

if kind get clusters 2>/dev/null | grep -qxF "$NAME"; then
  echo "kind-up: cluster '$NAME' exists, reusing it"
else
  # kind's default CNI (kindnet) enforces NetworkPolicy since kind v0.24.
  kind create cluster --name "$NAME" --image "$NODE_IMAGE" --wait 120s
fi
mkdir -p "$(dirname "$KUBECONFIG_OUT")"
kind get kubeconfig --name "$NAME" >"$KUBECONFIG_OUT"

tags=()
for df in "$REPO_ROOT"/sandbox-images/*/Dockerfile; do
  [[ -f "$df" ]] || continue
  dir="$(basename "$(dirname "$df")")"
  docker build -f "$df" -t "coderun-sandbox-$dir:dev" "$REPO_ROOT"
  tags+=("coderun-sandbox-$dir:dev")
done
if [[ -f "$REPO_ROOT/Dockerfile" ]]; then
  docker build -f "$REPO_ROOT/Dockerfile" -t coderun:dev "$REPO_ROOT"
  tags+=(coderun:dev)
fi
if ((${#tags[@]})); then
  kind load docker-image --name "$NAME" "${tags[@]}"
fi
echo "export KUBECONFIG=$KUBECONFIG_OUT"
