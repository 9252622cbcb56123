#!/usr/bin/env bash
# The whole pytest suite in the least wall time a 2-core machine allows:
#   1. the test cluster is brought up first (a cold build is tens of minutes; the local half
#      needs its helm binary too), so neither half pays for it inside a test timeout;
#   2. the local half (runner, API, browser: `not cluster`) and the cluster half run at once,
#      as two pytest sessions: one mostly waits on pods, the other on local sandboxes;
#   3. the reliability tests (they restart kube-apiserver, the kubelet and containerd) run
#      last, alone, so no other test sees those faults.
# Each half's output is kept whole and printed when it ends. Exit status: non-zero if any
# part failed. Extra arguments go to every pytest run (e.g. -x, -k).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=".venv/bin/pytest"
LOGS="$(mktemp -d -t coderun-suites.XXXXXX)"

bash hack/cluster/cluster.sh up || { echo "cluster.sh up failed" >&2; exit 1; }

"$PYTEST" -q -ra -m 'not cluster' "$@" >"$LOGS/local.log" 2>&1 &
local_pid=$!
"$PYTEST" -q -ra -m 'cluster and not reliability' "$@" >"$LOGS/cluster.log" 2>&1 &
cluster_pid=$!

wait "$local_pid"; local_rc=$?
echo "=== local half (not cluster): exit $local_rc"
cat "$LOGS/local.log"
wait "$cluster_pid"; cluster_rc=$?
echo "=== cluster half: exit $cluster_rc"
cat "$LOGS/cluster.log"

echo "=== reliability (alone, last)"
"$PYTEST" -q -ra -m reliability "$@"; reliability_rc=$?

echo "=== exits: local $local_rc, cluster $cluster_rc, reliability $reliability_rc"
# 5 is pytest's "no tests collected": a part that arguments such as -k left empty.
ok() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }
ok "$local_rc" && ok "$cluster_rc" && ok "$reliability_rc"
