#!/usr/bin/env bash
# For developers with Docker and internet access (NOT usable on CodeRun's build machines,
# which cannot pull kind's node image): create a kind cluster and load CodeRun's images.
#
#   make kind-up                       # or: bash hack/cluster/kind-up.sh
#   KIND_CLUSTER_NAME=coderun KIND_NODE_IMAGE=kindest/node:v1.34.0 bash hack/cluster/kind-up.sh
#
# Builds sandbox-images/Dockerfile once per language of the language table (as the image the
# table names, coderun-sandbox-<language>:dev) and the repo-root Dockerfile (if any) as
# coderun:dev with the Docker you already have (BASE_IMAGE left at each Dockerfile's public
# default), then `kind load docker-image`s them. Prints the
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
# One sandbox image per language of the language table, from sandbox-images/Dockerfile.
while read -r language image; do
  docker build -f "$REPO_ROOT/sandbox-images/Dockerfile" --build-arg "LANGUAGE=$language" \
    -t "$image" "$REPO_ROOT"
  tags+=("$image")
done < <(PYTHONPATH="$REPO_ROOT/sandbox-images/runner" python3 -m coderun_sandbox.languages)
if [[ -f "$REPO_ROOT/Dockerfile" ]]; then
  docker build -f "$REPO_ROOT/Dockerfile" -t coderun:dev "$REPO_ROOT"
  tags+=(coderun:dev)
fi
if ((${#tags[@]})); then
  kind load docker-image --name "$NAME" "${tags[@]}"
fi
echo "export KUBECONFIG=$KUBECONFIG_OUT"
