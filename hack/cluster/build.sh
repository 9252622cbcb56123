#!/usr/bin/env bash
# Builds the test cluster's binaries from their Go modules at the versions pinned in
# versions.env, into $CACHE_BIN (outside the clone). Sourced by cluster.sh; callable alone:
#   bash hack/cluster/build.sh            # build if the cache is missing
set -euo pipefail

_build_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$_build_here/versions.env"

CACHE_ROOT="${CODERUN_CLUSTER_CACHE:-/var/cache/coderun-cluster}"
CACHE_KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_kr-${KUBE_ROUTER_VERSION}"
CACHE_DIR="$CACHE_ROOT/$CACHE_KEY"
CACHE_BIN="$CACHE_DIR/bin"
ALL_BINS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl helm kube-router pause)

_log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

binaries_cached() {
  local b
  for b in "${ALL_BINS[@]}"; do [[ -x "$CACHE_BIN/$b" ]] || return 1; done
}

# _pinned NAME DIR REQUIRED-LINE...: use the go.mod/go.sum committed in gomod/NAME (resolved
# once by `go mod tidy`, so every machine builds the same dependency versions) when they
# still require the versions in versions.env.
_pinned() {
  local name="$1" dir="$2" line
  shift 2
  [[ -f "$_build_here/gomod/$name/go.mod" && -f "$_build_here/gomod/$name/go.sum" ]] || return 1
  for line in "$@"; do
    grep -qF -e "	$line" -e " $line" "$_build_here/gomod/$name/go.mod" || return 1
  done
  mkdir -p "$dir"
  cp "$_build_here/gomod/$name/go.mod" "$_build_here/gomod/$name/go.sum" "$dir/"
  _log "using pinned $name go.mod/go.sum from hack/cluster/gomod/$name"
}

# Module 1: Kubernetes server + client binaries, etcd and helm, one go.mod so the shared
# dependencies (client-go, grpc, protobuf, ...) compile once.
_write_k8s_module() {
  local dir="$1" kmod minor
  _pinned k8s "$dir" "k8s.io/kubernetes $K8S_VERSION" "go.etcd.io/etcd/server/v3 $ETCD_VERSION" \
    "helm.sh/helm/v3 $HELM_VERSION" && return 0
  mkdir -p "$dir"
  (cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
  kmod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  minor="v0.${K8S_VERSION#v1.}"
  {
    echo "module coderun.local/testcluster"
    echo
    echo "go 1.26"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo "	helm.sh/helm/v3 $HELM_VERSION"
    echo ")"
    echo
    echo "// k8s.io/kubernetes requires its staging modules as v0.0.0 and replaces them with"
    echo "// ./staging/src/...; outside its tree they must point at the published tags."
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$kmod" |
      while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$minor"; done
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  if ! (cd "$dir" && go mod tidy >/dev/null 2>"$dir/tidy.log"); then
    cat "$dir/tidy.log" >&2
    return 1
  fi
}

# Module 2: kube-router (it pins an older client-go, so it gets its own go.mod).
_write_kr_module() {
  local dir="$1"
  _pinned kube-router "$dir" "github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION" &&
    return 0
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<GOMOD
module coderun.local/kuberouter

go 1.26

require github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION
GOMOD
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
GO
  if ! (cd "$dir" && go mod tidy >/dev/null 2>"$dir/tidy.log"); then
    cat "$dir/tidy.log" >&2
    return 1
  fi
}

# The pause container: a static program that sleeps until SIGINT/SIGTERM, reaps zombies.
_write_pause() {
  local dir="$1"
  mkdir -p "$dir"
  printf 'module coderun.local/pause\n\ngo 1.26\n' >"$dir/go.mod"
  cat >"$dir/main.go" <<'GO'
// Command pause is the infra container of every pod: it holds the namespaces and waits.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
GO
}

build_binaries() {
  if binaries_cached; then
    _log "binaries cached in $CACHE_BIN"
    return 0
  fi
  local src="$CACHE_DIR/src" out="$CACHE_DIR/bin.partial" t0 ldk ldh
  mkdir -p "$CACHE_DIR"
  # One build at a time per version (the fixture, CI and a developer may race).
  exec 8>"$CACHE_DIR/build.lock"
  flock 8
  if binaries_cached; then
    _log "binaries cached in $CACHE_BIN (built by a concurrent run)"
    return 0
  fi
  if ! command -v go >/dev/null; then
    export PATH="/usr/local/go/bin:$PATH"
    command -v go >/dev/null || { _log "ERROR: Go (>= 1.26) is not on PATH"; return 1; }
  fi
  _log "building binaries into $CACHE_BIN (cold build: tens of minutes on 2 cores)"
  t0=$(date +%s)
  rm -rf "$out"
  mkdir -p "$src" "$out"
  export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  _log "writing build modules under $src"
  _write_k8s_module "$src/k8s"
  _write_kr_module "$src/kube-router"
  _write_pause "$src/pause"

  local pkg="k8s.io/component-base/version" cpkg="k8s.io/client-go/pkg/version"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local bdate; bdate="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ldk="-s -w"
  for p in "$pkg" "$cpkg"; do
    ldk+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldk+=" -X $p.gitTreeState=clean -X $p.buildDate=$bdate"
  done
  ldh="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"

  _log "building pause"
  (cd "$src/pause" && go build -trimpath -ldflags "-s -w" -o "$out/pause" .)
  _log "building kube-router $KUBE_ROUTER_VERSION"
  local krv="github.com/cloudnativelabs/kube-router/v2/pkg/version"
  (cd "$src/kube-router" && go build -trimpath \
    -ldflags "-s -w -X $krv.Version=$KUBE_ROUTER_VERSION -X $krv.BuildDate=$bdate" -o "$out/kube-router" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
  _log "building etcd $ETCD_VERSION, helm $HELM_VERSION"
  (cd "$src/k8s" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  (cd "$src/k8s" && go build -trimpath -ldflags "$ldh" -o "$out/helm" helm.sh/helm/v3/cmd/helm)
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    _log "building $c $K8S_VERSION"
    (cd "$src/k8s" && go build -trimpath -ldflags "$ldk" -o "$out/$c" "k8s.io/kubernetes/cmd/$c")
  done
  rm -rf "$CACHE_BIN"
  mv "$out" "$CACHE_BIN"
  echo "$(($(date +%s) - t0))" >"$CACHE_DIR/build-seconds"
  _log "built everything in $(($(date +%s) - t0))s into $CACHE_BIN"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  build_binaries
  exit $?
fi
