#!/usr/bin/env bash
# A real single-node Kubernetes cluster for CodeRun's tests, built from upstream Go modules
# and run as plain processes, in the spirit of kubernetes/hack/local-up-cluster.sh.
#
#   cluster.sh up       build (or reuse cached) binaries, start everything, wait for Ready
#   cluster.sh down     stop every process it started, unmount what it mounted
#   cluster.sh status   print what runs (exit 0 when the node is Ready)
#   cluster.sh restart COMPONENT   stop one of kube-apiserver, kubelet, containerd and start it
#                       again (pods keep running), waiting until it serves
#   cluster.sh env      print `export KUBECONFIG=...` and friends, for eval
#   cluster.sh volumes  make the default StorageClass's local volumes, wipe and free released ones
#   cluster.sh images   build sandbox-images/Dockerfile (per language) and ./Dockerfile,
#                       load them into the node
#   cluster.sh build    only build the binaries into the cache
#   cluster.sh base     only make the debootstrap base image (coderun-base:bookworm)
#   cluster.sh load-image TAG...   docker save TAG | ctr -n k8s.io images import
#
# Paths (override with the environment):
#   CODERUN_CLUSTER_CACHE  /var/cache/coderun-cluster   binaries (per version), debootstrap base
#   CODERUN_CLUSTER_STATE  /var/lib/coderun-cluster     certs, kubeconfig, data, logs/, run/
# Runs as root; needs the Debian packages containerd, runc, docker.io,
# containernetworking-plugins, debootstrap, iptables, ipset, openssl and Go >= 1.26.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=build.sh
source "$HERE/build.sh"

STATE="${CODERUN_CLUSTER_STATE:-/var/lib/coderun-cluster}"
RUN="$STATE/run"
LOGS="$STATE/logs"
PKI="$STATE/pki"
KUBECONFIG_PATH="$STATE/kubeconfig"
NODE_NAME="coderun-node"
CLUSTER_CIDR="10.244.0.0/16"
POD_CIDR="10.244.0.0/24"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"
APISERVER_PORT=6443
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
BRIDGE=coderun0
CONTAINERD_SOCK="$RUN/containerd/containerd.sock"
DOCKER_SOCK="$RUN/docker.sock"
PAUSE_IMAGE="docker.io/library/coderun-pause:1.0"
BASE_IMAGE="coderun-base:${DEBIAN_SUITE}"
BASE_TARBALL="$CACHE_ROOT/base/debian-${DEBIAN_SUITE}-minbase.tar"
export PATH="$CACHE_BIN:$PATH"
export DOCKER_HOST="unix://$DOCKER_SOCK"
export DOCKER_BUILDKIT=0

log() { _log "$@"; }
die() {
  _log "ERROR: $*"
  exit 1
}

node_ip() {
  if [[ -n "${CODERUN_NODE_IP:-}" ]]; then
    echo "$CODERUN_NODE_IP"
    return
  fi
  local dev
  dev="$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')"
  [[ -n "$dev" ]] || dev=eth0
  ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); print a[1]; exit}'
}

ctr_() { ctr --address "$CONTAINERD_SOCK" "$@"; }
kubectl_() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# ---------------------------------------------------------------- processes

pid_alive() {
  local f="$RUN/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# start NAME CMD...: run CMD in its own session, log to $LOGS/NAME.log, pid in $RUN/NAME.pid.
start() {
  local name="$1"
  shift
  if pid_alive "$name"; then
    log "$name already running (pid $(cat "$RUN/$name.pid"))"
    return 0
  fi
  log "starting $name"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 8>&- 9>&- &
  echo $! >"$RUN/$name.pid"
}

# stop NAME [GRACE_SECONDS]: SIGTERM, then SIGKILL after the grace period (default 30s).
stop() {
  local name="$1" grace="${2:-30}" pid i
  [[ -f "$RUN/$name.pid" ]] || return 0
  pid="$(cat "$RUN/$name.pid")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 5; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in ${grace}s, killing"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$RUN/$name.pid"
}

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "timed out after ${secs}s waiting for $what (logs in $LOGS)"
}

# ---------------------------------------------------------------- host setup

# Host sysctls that up changes (ip_forward, bridge netfilter) or the kubelet sets on start
# (it sets vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1, ...): saved on
# the first up, restored by down.
SYSCTLS=(net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables vm/overcommit_memory
  vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys
  kernel/keys/root_maxbytes)

save_sysctls() {
  [[ -f "$RUN/sysctl-before" ]] && return 0
  local k
  for k in "${SYSCTLS[@]}"; do
    if [[ -r "/proc/sys/$k" ]]; then echo "$k $(cat "/proc/sys/$k")"; fi
  done >"$RUN/sysctl-before.partial"
  mv "$RUN/sysctl-before.partial" "$RUN/sysctl-before"
}

restore_sysctls() {
  [[ -f "$RUN/sysctl-before" ]] || return 0
  local k v
  while read -r k v; do
    [[ "$(cat "/proc/sys/$k" 2>/dev/null)" == "$v" ]] || echo "$v" >"/proc/sys/$k" 2>/dev/null || true
  done <"$RUN/sysctl-before"
  rm -f "$RUN/sysctl-before"
}

host_setup() {
  mkdir -p "$RUN" "$LOGS" "$PKI" "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet"
  save_sysctls
  # Forwarding and bridge netfilter: pods reach the node and kube-router sees bridged traffic.
  echo 1 >/proc/sys/net/ipv4/ip_forward
  if [[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  else
    log "warning: br_netfilter is not available; pod-to-pod policy on the bridge is not enforced"
  fi
  [[ -d /sys/fs/cgroup/memory ]] || log "warning: no cgroup v1 memory controller at /sys/fs/cgroup/memory"
  # Network namespaces that exist before the cluster starts are not ours to remove on down.
  if [[ ! -f "$RUN/netns-before" ]]; then
    ls /run/netns 2>/dev/null >"$RUN/netns-before" || true
  fi
}

# ---------------------------------------------------------------- certificates

_cert() { # name cn org [sans]
  local name="$1" cn="$2" org="$3" sans="${4:-}" subj ext
  [[ -f "$PKI/$name.crt" ]] && return 0
  subj="/CN=$cn"
  [[ -n "$org" ]] && subj="/O=$org$subj"
  ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$sans" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" \
    -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

_kubeconfig() { # file user cert-name server
  local file="$1" user="$2" cert="$3" server="$4"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: coderun
  cluster:
    certificate-authority: $PKI/ca.crt
    server: $server
users:
- name: $user
  user:
    client-certificate: $PKI/$cert.crt
    client-key: $PKI/$cert.key
contexts:
- name: coderun
  context: {cluster: coderun, user: $user}
current-context: coderun
EOF
}

certs() {
  local ip="$1"
  # A changed node address invalidates the serving certificates.
  if [[ -f "$PKI/node-ip" && "$(cat "$PKI/node-ip")" != "$ip" ]]; then
    log "node IP changed; regenerating certificates"
    rm -f "$PKI"/*
  fi
  if [[ ! -f "$PKI/ca.crt" ]]; then
    log "generating CA and certificates in $PKI"
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -days 3650 \
      -subj "/CN=coderun-test-ca" -out "$PKI/ca.crt" 2>/dev/null
  fi
  echo "$ip" >"$PKI/node-ip"
  local api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  api_sans+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$ip,IP:$SERVICE_IP"
  _cert apiserver kube-apiserver "" "$api_sans"
  _cert kubelet-serving "$NODE_NAME" "system:nodes" "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$ip"
  _cert admin coderun-admin "system:masters"
  _cert apiserver-kubelet-client kube-apiserver-kubelet-client "system:masters"
  _cert controller-manager system:kube-controller-manager ""
  _cert scheduler system:kube-scheduler ""
  _cert kubelet "system:node:$NODE_NAME" "system:nodes"
  _cert kube-router coderun-kube-router "system:masters"
  if [[ ! -f "$PKI/sa.key" ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  local server="https://$ip:$APISERVER_PORT"
  _kubeconfig "$KUBECONFIG_PATH" coderun-admin admin "$server"
  _kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager controller-manager "$server"
  _kubeconfig "$STATE/scheduler.kubeconfig" scheduler scheduler "$server"
  _kubeconfig "$STATE/kubelet.kubeconfig" kubelet kubelet "$server"
  _kubeconfig "$STATE/kube-router.kubeconfig" kube-router kube-router "$server"
  chmod 600 "$PKI"/*.key
}

# ---------------------------------------------------------------- containerd and docker

# CAP_SYS_RESOURCE is bit 24 of the effective capability set.
has_sys_resource() {
  local eff
  eff="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
  (((0x$eff >> 24) & 1))
}

containerd_up() {
  mkdir -p "$RUN/containerd" "$STATE/containerd"
  local RESTRICT_OOM=false
  has_sys_resource || RESTRICT_OOM=true
  cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Some sandboxes (this one) lack CAP_SYS_RESOURCE: runc then cannot set the negative
  # oom_score_adj the kubelet asks for (pause -998, Guaranteed pods -997). Clamp to ours.
  restrict_oom_score_adj = $RESTRICT_OOM
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  cat >"$STATE/cni/net.d/10-coderun.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "coderun",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  start containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 60 ctr_ version
}

dockerd_up() {
  mkdir -p "$STATE/docker" "$RUN/docker-exec"
  if ! pid_alive dockerd; then
    # A stale socket from a killed dockerd would make it refuse to start.
    rm -f "$DOCKER_SOCK"
  fi
  start dockerd dockerd --host "unix://$DOCKER_SOCK" --data-root "$STATE/docker" \
    --exec-root "$RUN/docker-exec" --pidfile "$RUN/dockerd.own.pid" --storage-driver overlay2
  wait_for dockerd 90 docker version
}

# image_in_node REF: is the image in containerd's k8s.io namespace?
image_in_node() {
  ctr_ -n k8s.io images ls -q 2>/dev/null | grep -qxF "$1"
}

# normalized containerd reference of a docker tag (coderun:dev -> docker.io/library/coderun:dev)
node_ref() {
  local t="$1"
  [[ "${t##*/}" == *:* ]] || t="$t:latest"
  if [[ "$t" != */* ]]; then
    echo "docker.io/library/$t"
  elif [[ "${t%%/*}" == *.* || "${t%%/*}" == *:* || "${t%%/*}" == localhost ]]; then
    echo "$t"
  else
    echo "docker.io/$t"
  fi
}

# load_image TAG...: docker save | ctr import into the node's k8s.io namespace. Images whose
# docker ID was already loaded (recorded in $STATE/loaded-images) and are still there are
# skipped.
load_image() {
  local t id todo=()
  touch "$STATE/loaded-images"
  for t in "$@"; do
    id="$(docker image inspect -f '{{.Id}}' "$t")" || die "no docker image $t"
    if grep -qxF "$t $id" "$STATE/loaded-images" && image_in_node "$(node_ref "$t")"; then
      log "$t unchanged in the node"
    else
      log "loading $t into containerd (k8s.io)"
      todo+=("$t")
    fi
  done
  ((${#todo[@]})) || return 0
  local attempt
  for attempt in 1 2 3; do
    docker save "${todo[@]}" | ctr_ -n k8s.io images import - >/dev/null && break
    # containerd 1.6 can garbage-collect a shared parent layer's snapshot (the old tag's image
    # was just replaced) while this import, which found it present, unpacks a child onto it:
    # "parent snapshot ... does not exist". Importing again unpacks the parent too.
    ((attempt < 3)) || die "ctr images import failed $attempt times"
    log "ctr images import failed (attempt $attempt); importing again"
  done
  for t in "${todo[@]}"; do
    id="$(docker image inspect -f '{{.Id}}' "$t")"
    { grep -v "^$t " "$STATE/loaded-images" || true; } >"$STATE/loaded-images.new"
    echo "$t $id" >>"$STATE/loaded-images.new"
    mv "$STATE/loaded-images.new" "$STATE/loaded-images"
  done
}

base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  if [[ ! -f "$BASE_TARBALL" ]]; then
    local root="$CACHE_ROOT/base/rootfs.partial" t0
    t0=$(date +%s)
    log "debootstrap $DEBIAN_SUITE (minbase) into $root"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" http://deb.debian.org/debian \
      >"$LOGS/debootstrap.log" 2>&1 || die "debootstrap failed, see $LOGS/debootstrap.log"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" --numeric-owner -cf "$BASE_TARBALL.partial" .
    mv "$BASE_TARBALL.partial" "$BASE_TARBALL"
    rm -rf "$root"
    log "debootstrap done in $(($(date +%s) - t0))s"
  fi
  log "docker import $BASE_TARBALL as $BASE_IMAGE"
  docker import "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
}

pause_image() {
  if image_in_node "$PAUSE_IMAGE"; then return 0; fi
  local ctx="$STATE/build/pause"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$CACHE_BIN/pause" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
  docker build -q -t "${PAUSE_IMAGE#docker.io/library/}" "$ctx" >>"$LOGS/images.log" 2>&1 ||
    die "docker build of the pause image failed, see $LOGS/images.log"
  load_image "${PAUSE_IMAGE#docker.io/library/}"
  # Keep the kubelet's image GC away from it.
  ctr_ -n k8s.io images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null || true
}

# The image the cluster tests run their pods from: the debootstrap base (bash, coreutils).
test_image() {
  local ref="docker.io/library/$BASE_IMAGE"
  if image_in_node "$ref"; then return 0; fi
  base_image
  load_image "$BASE_IMAGE"
}

# ---------------------------------------------------------------- control plane

etcd_up() {
  mkdir -p "$STATE/etcd"
  start etcd etcd --name coderun --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "coderun=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --log-level warn --quota-backend-bytes 1073741824
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

apiserver_up() {
  local ip="$1"
  start kube-apiserver kube-apiserver \
    --advertise-address "$ip" --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --profiling=false --v=1
  wait_for kube-apiserver 120 curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
    --key "$PKI/admin.key" "https://127.0.0.1:$APISERVER_PORT/readyz"
}

controllers_up() {
  start kube-controller-manager kube-controller-manager \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --bind-address 127.0.0.1 --secure-port 10257 --profiling=false --v=1
  start kube-scheduler kube-scheduler \
    --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259 --profiling=false --v=1
}

kubelet_up() {
  local ip="$1"
  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
podCIDR: $POD_CIDR
maxPods: 110
# Every pod's process count is bounded (a fork bomb in a sandbox pod stops here too).
podPidsLimit: 1024
resolvConf: /etc/resolv.conf
serializeImagePulls: false
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
evictionPressureTransitionPeriod: 10s
nodeStatusReportFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 10s
staticPodPath: ""
EOF
  start kubelet kubelet --config "$STATE/kubelet.yaml" \
    --kubeconfig "$STATE/kubelet.kubeconfig" --root-dir "$STATE/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$ip" --v=1
}

kube_router_up() {
  start kube-router kube-router --kubeconfig "$STATE/kube-router.kubeconfig" \
    --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --enable-ipv4=true --enable-ipv6=false \
    --health-port 20244 --metrics-port 0 --v=1
}

# Remove kube-router's firewall: the jumps from INPUT/FORWARD/OUTPUT, its chains, its ipsets.
# (kube-router --cleanup-config v2.1.0 crashes in its proxy cleanup and flushes all of IPVS.)
kube_router_cleanup() {
  local chains c
  iptables-save -t filter 2>/dev/null | grep -E '^-A (INPUT|FORWARD|OUTPUT) .*kube-router netpol' |
    sed 's/^-A/-D/' | xargs -r -L1 iptables -t filter 2>/dev/null || true
  chains="$(iptables-save -t filter 2>/dev/null |
    sed -n 's/^:\(KUBE-ROUTER-[A-Z]*\|KUBE-POD-FW-[A-Z0-9]*\|KUBE-NWPLCY-[A-Z0-9]*\) .*/\1/p')"
  for c in $chains; do iptables -t filter -F "$c" 2>/dev/null || true; done
  for c in $chains; do iptables -t filter -X "$c" 2>/dev/null || true; done
  for c in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-(SRC|DST)-|inet6:KUBE-(SRC|DST)-)' || true); do
    ipset destroy "$c" 2>/dev/null || true
  done
}

# node_ready [SINCE]: the node is Ready (and, with SINCE=YYYY-MM-DDTHH:MM:SSZ, the kubelet has
# reported so at or after SINCE, so a stale status from before a down does not count).
# shellcheck disable=SC2120  # SINCE is passed through wait_for
node_ready() {
  local since="${1:-}" out status beat
  out="$(kubectl_ get node "$NODE_NAME" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}' 2>/dev/null)" || return 1
  read -r status beat <<<"$out"
  [[ "$status" == True ]] || return 1
  [[ -z "$since" || ! "$beat" < "$since" ]]
}

# ---------------------------------------------------------------- storage

# A default StorageClass, as real clusters have one: `local` PersistentVolumes on this node,
# made here (no provisioner runs: kubernetes.io/no-provisioner). WaitForFirstConsumer binds a
# claim when its pod is scheduled, as a topology-aware class does. The kubelet applies a pod's
# fsGroup to a local volume, so non-root pods can write. A claim's deletion leaves its volume
# Released (Retain); storage_up wipes those and makes them Available again, so every up (and
# `cluster.sh volumes`) starts with VOLUME_COUNT free volumes.
STORAGE_CLASS=coderun-local
VOLUMES="$STATE/volumes"
VOLUME_COUNT=24
VOLUME_LABEL=coderun.dev/test-volume

storage_up() {
  local i name manifest="" released
  mkdir -p "$VOLUMES"
  manifest+="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
"
  for ((i = 0; i < VOLUME_COUNT; i++)); do
    name="$(printf 'coderun-local-%02d' "$i")"
    mkdir -p "$VOLUMES/$name"
    manifest+="---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $name
  labels: {$VOLUME_LABEL: \"true\"}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: $STORAGE_CLASS
  volumeMode: Filesystem
  local: {path: $VOLUMES/$name}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
"
  done
  kubectl_ apply -f - <<<"$manifest" >/dev/null || die "cannot create the test StorageClass and volumes"
  released="$(kubectl_ get pv -l "$VOLUME_LABEL=true" \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}')"
  for name in $released; do
    log "wiping released volume $name"
    find "${VOLUMES:?}/$name" -mindepth 1 -delete
    kubectl_ patch pv "$name" --type json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >/dev/null
  done
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local t0 ip
  t0=$(date +%s)
  [[ $EUID -eq 0 ]] || die "run as root"
  build_binaries
  host_setup
  exec 9>"$RUN/lock"
  flock 9
  ip="$(node_ip)"
  [[ -n "$ip" ]] || die "cannot find the node IP"
  log "node IP $ip"
  certs "$ip"
  if ! pid_alive containerd; then
    # Processes killed without down (e.g. the end of a CI run) leave mounts and IPAM leases.
    runtime_leftovers_cleanup
    kube_router_cleanup
  fi
  containerd_up
  dockerd_up
  pause_image
  test_image
  etcd_up
  apiserver_up "$ip"
  controllers_up
  local since=""
  pid_alive kubelet || since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  kubelet_up "$ip"
  wait_for "kubelet healthz" 120 curl -fsS http://127.0.0.1:10248/healthz
  wait_for "node $NODE_NAME Ready" 180 node_ready "$since"
  # kube-router looks its node up at start, so it starts once the kubelet has registered it.
  kube_router_up
  # The default service account must exist before pods can be created in the namespace.
  wait_for "default service account" 60 kubectl_ -n default get serviceaccount default
  wait_for "kube-router health" 60 curl -fsS http://127.0.0.1:20244/healthz
  storage_up
  echo "$(($(date +%s) - t0))" >"$STATE/last-up-seconds"
  log "cluster up in $(($(date +%s) - t0))s; $(cmd_env | head -1)"
}

cmd_down() {
  [[ $EUID -eq 0 ]] || die "run as root"
  mkdir -p "$RUN"
  exec 9>"$RUN/lock"
  flock 9
  # Let the kubelet tear pods down properly (CNI teardown, volume unmounts) while it runs.
  if pid_alive kube-apiserver && pid_alive kubelet; then
    log "deleting pods"
    timeout 60 kubectl_ delete pods --all --all-namespaces --grace-period=1 --wait=true \
      >/dev/null 2>&1 || true
  fi
  stop kube-router
  kube_router_cleanup
  stop kubelet
  # Containers the kubelet left behind: kill their tasks while containerd still runs.
  if pid_alive containerd; then
    local c
    for c in $(ctr_ -n k8s.io tasks ls -q 2>/dev/null); do
      ctr_ -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    sleep 1
    for c in $(ctr_ -n k8s.io tasks ls -q 2>/dev/null); do
      ctr_ -n k8s.io tasks delete -f "$c" >/dev/null 2>&1 || true
    done
    for c in $(ctr_ -n k8s.io containers ls -q 2>/dev/null); do
      ctr_ -n k8s.io containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  stop kube-scheduler
  stop kube-controller-manager
  # Its graceful termination waits ~30s for watches; it keeps no state of its own.
  stop kube-apiserver 3
  stop etcd
  stop dockerd
  stop containerd
  runtime_leftovers_cleanup
  # The kubelet's cgroups (/kubepods/... in every v1 hierarchy); rmdir only removes empty ones.
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null || true
  rm -f "$RUN/netns-before"
  restore_sysctls
  log "cluster down"
}

# What containers leave behind once containerd is gone (after down, or after something
# killed every process, as at the end of a CI run): shims, mounts, pod network namespaces,
# IPAM leases, the bridge.
runtime_leftovers_cleanup() {
  local pid m
  # Shims of containers that survived (containerd-shim-runc-v2 ... -address <our socket>).
  for pid in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Unmount everything under the state dir, deepest first.
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^$STATE(/|$)" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # Pod network namespaces created while the cluster ran (containerd puts them in /run/netns).
  if [[ -f "$RUN/netns-before" ]]; then
    for m in /run/netns/cni-*; do
      [[ -e "$m" ]] || continue
      m="${m##*/}"
      if ! grep -qxF "$m" "$RUN/netns-before"; then
        umount "/run/netns/$m" 2>/dev/null || umount -l "/run/netns/$m" 2>/dev/null || true
        rm -f "/run/netns/$m"
      fi
    done
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" || true; fi
  rm -rf "${STATE:?}/cni/ipam"
}

# restart COMPONENT: the fault tests' "component restarted" (tests/reliability). Only that
# process is stopped (SIGTERM, as a supervisor would) and started again with the same flags;
# pods and their containerd shims keep running. Not through cmd_up: with containerd down it
# would clean up the runtime's leftovers, killing every pod.
cmd_restart() {
  local name="${1:-}" ip since
  [[ $EUID -eq 0 ]] || die "run as root"
  exec 9>"$RUN/lock"
  flock 9
  ip="$(cat "$PKI/node-ip" 2>/dev/null || node_ip)"
  case "$name" in
    kube-apiserver)
      # As in down: its graceful termination would wait ~30s for open watches.
      stop kube-apiserver 3
      apiserver_up "$ip"
      ;;
    kubelet | containerd)
      since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      stop "$name"
      if [[ "$name" == kubelet ]]; then kubelet_up "$ip"; else containerd_up; fi
      wait_for "kubelet healthz" 120 curl -fsS http://127.0.0.1:10248/healthz
      # A heartbeat from after the restart: the kubelet (again) reaches its runtime.
      wait_for "node $NODE_NAME Ready" 180 node_ready "$since"
      ;;
    *) die "usage: cluster.sh restart kube-apiserver|kubelet|containerd" ;;
  esac
  log "$name restarted"
}

cmd_status() {
  local name rc=0
  for name in containerd dockerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-router; do
    if pid_alive "$name"; then
      printf '%-24s running (pid %s)\n' "$name" "$(cat "$RUN/$name.pid")"
    else
      printf '%-24s stopped\n' "$name"
      rc=1
    fi
  done
  if [[ -f "$KUBECONFIG_PATH" ]] && node_ready ""; then
    echo "node $NODE_NAME Ready ($(cat "$PKI/node-ip" 2>/dev/null))"
  else
    echo "node $NODE_NAME not Ready"
    rc=1
  fi
  return "$rc"
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
  echo "export CODERUN_NODE_IP=$(cat "$PKI/node-ip" 2>/dev/null || node_ip)"
  echo "export CODERUN_NODE_NAME=$NODE_NAME"
  echo "export CODERUN_CONTAINERD_SOCK=$CONTAINERD_SOCK"
  echo "export DOCKER_HOST=unix://$DOCKER_SOCK"
  echo "export PATH=$CACHE_BIN:\$PATH"
}

# "language image" per line, from the language table (coderun_sandbox/languages.py).
sandbox_images() {
  PYTHONPATH="$1/sandbox-images/runner" python3 -m coderun_sandbox.languages
}

cmd_images() {
  [[ $EUID -eq 0 ]] || die "run as root"
  local root="${CODERUN_IMAGES_ROOT:-$REPO_ROOT}" tags=() language image tag
  host_setup
  containerd_up
  dockerd_up
  base_image
  # One image per language of the language table, all from sandbox-images/Dockerfile: the
  # table names each image, the Dockerfile's LANGUAGE argument picks its toolchain.
  if [[ -f "$root/sandbox-images/Dockerfile" ]]; then
    while read -r language image; do
      tags+=("$image|$root/sandbox-images/Dockerfile|$language")
    done < <(sandbox_images "$root")
  fi
  [[ -f "$root/Dockerfile" ]] && tags+=("coderun:dev|$root/Dockerfile|")
  if ((${#tags[@]} == 0)); then
    log "no sandbox-images/Dockerfile or Dockerfile under $root"
    return 0
  fi
  local built=() t0 args=(--build-arg "BASE_IMAGE=$BASE_IMAGE") extra_ca=""
  # Behind a TLS-intercepting proxy the host trusts extra CAs; pass them (PEM text) to the
  # Dockerfiles that take ARG EXTRA_CA_CERTS, so pip/npm in RUN can reach their registries.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    extra_ca="$(cat /usr/local/share/ca-certificates/*.crt)"
    args+=(--build-arg "EXTRA_CA_CERTS=$extra_ca")
  fi
  local name dockerfile language_arg
  for tag in "${tags[@]}"; do
    IFS='|' read -r name dockerfile language <<<"$tag"
    language_arg=()
    [[ -n "$language" ]] && language_arg=(--build-arg "LANGUAGE=$language")
    t0=$(date +%s)
    log "docker build $name from $dockerfile${language:+ (LANGUAGE=$language)}"
    docker build -q "${args[@]}" "${language_arg[@]}" -f "$dockerfile" -t "$name" "$root" \
      >>"$LOGS/images.log" 2>&1 || die "docker build $name failed, see $LOGS/images.log"
    log "built $name in $(($(date +%s) - t0))s"
    built+=("$name")
  done
  load_image "${built[@]}"
  log "images in the node: ${built[*]}"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart)
      shift
      cmd_restart "$@"
      ;;
    env) cmd_env ;;
    volumes) storage_up ;;
    images) cmd_images ;;
    build) build_binaries ;;
    base)
      host_setup
      containerd_up
      dockerd_up
      base_image
      ;;
    load-image)
      shift
      (($# > 0)) || die "usage: cluster.sh load-image TAG..."
      load_image "$@"
      ;;
    *)
      awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
      exit 2
      ;;
  esac
}

# On one line, so bash exits before reading on (safe even if this file is edited meanwhile).
main "$@"; exit $?
