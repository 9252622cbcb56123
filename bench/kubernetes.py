"""Kubernetes benchmark: the API with CODERUN_EXECUTOR=kubernetes and the operator, on the
real single-node test cluster, cold runs (a pod started for the run) and warm runs (a
pod of a warm pool claimed) side by side in one command, all through REST:

- latency: hello world submit → final, python and javascript, cold and warm in interleaved
  blocks (the language's pool scaled to 0 for a cold block, to 2 for a warm one), p50/p99
  and the ratio warm/cold; cpp and java the same, against their compile time + 300 ms;
- where a warm run's time goes, from the timestamps the API, operator and runner record;
- sustained: several accounts submitting for SUSTAINED_S, pools of at most 8 pods per
  language refilling, per-key rate limit raised: runs/s and runs lost;
- the cluster's cost per run: the API server's write requests, and the CPU seconds of the
  kubelet, containerd, kube-apiserver and the operator (bench/k8s_costs.py);
- the operator's CPU, memory and threads with 50 runs in flight (caps raised for it).

Before pools exist (no CodeRunPool CRD, or an operator that makes no pool pods) the warm
columns say "no pool" and the rest still runs. The CodeRun's own `status.start` says
which path each run took: a run is counted warm only if it was.

`main() -> str` returns the "## Kubernetes" section of docs/benchmarks.md (called by
bench/__main__.py). Run alone: `python -m bench.kubernetes`.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.k8s_breakdown import breakdown_table
from bench.k8s_costs import CostMeter, Costs, add, cluster_pid, cpu_seconds, status_of
from bench.k8s_floor import floor_table, measure_floor
from bench.k8s_report import (
    compiled_table,
    costs_table,
    inflight_table,
    latency_table,
    sustained_table,
)
from bench.k8s_run import Run
from tests.fixtures import warm_pools as pools
from tests.fixtures.cluster import K8sCluster, cluster_up
from tests.operator.harness import (
    ApiProcess,
    OperatorProcess,
    get_coderun,
    prepare_namespace,
    start_api,
    start_operator,
)

EXPECTED = "Hello, World!\n"
HELLO = {
    "python": "print('Hello, World!')\n",
    "javascript": "console.log('Hello, World!');\n",
    "cpp": '#include <cstdio>\nint main() { std::puts("Hello, World!"); }\n',
    "java": (
        "public class Main {\n  public static void main(String[] a) {\n"
        '    System.out.println("Hello, World!");\n  }\n}\n'
    ),
}
# The chart's default pools (helm/coderun/values.yaml), the state between measurements.
DEFAULT_POOLS = {"python": 2, "javascript": 2, "cpp": 1, "java": 1}
WARMUP = 2
# Interleaved blocks per language: cold, warm, cold, warm... (the order flips each block).
BLOCKS = int(os.environ.get("CODERUN_BENCH_BLOCKS", "3"))
BLOCK_RUNS = int(os.environ.get("CODERUN_BENCH_BLOCK_RUNS", "8"))
COMPILED_BLOCKS = 2
COMPILED_BLOCK_RUNS = 3
WARM_REPLICAS = 2
BREAKDOWN_LANGUAGES = ("python", "javascript")
# Finished Jobs go after this many seconds (the operator's default is 300): short, so that
# their deletion (writes too) falls inside the measured phase, which waits this long + 2 s.
JOB_TTL_S = 5
SUSTAINED_S = float(os.environ.get("CODERUN_BENCH_SUSTAINED_S", "60"))
SUSTAINED_POOL = 8
ACCOUNTS = 4
CLIENTS_PER_ACCOUNT = 3
INFLIGHT = int(os.environ.get("CODERUN_BENCH_INFLIGHT", "50"))
INFLIGHT_S = float(os.environ.get("CODERUN_BENCH_INFLIGHT_S", "40"))
INFLIGHT_SUBMITTERS = 8
# A run that stays in flight a while, within the default 3 s limit.
SLEEPER = "import time\ntime.sleep(2)\nprint('Hello, World!')\n"
# The operator's caps for the latency and sustained phases (12 clients at once), and for the
# in-flight measurement.
MAX_CONCURRENT = 16
MAX_PER_ACCOUNT = 8


def one_run(api: ApiProcess, key: str, language: str, code: str | None = None) -> Run:
    submitted = time.time()
    job_id = api.submit(key, code or HELLO[language], language)
    data = api.wait_final(key, job_id)
    finished = time.time()
    ok = data["status"] == "success" and (code is not None or data["stdout"] == EXPECTED)
    return Run(language, job_id, submitted, finished, ok, data)


def guarded_run(api: ApiProcess, key: str, language: str) -> Run:
    """one_run, where a run that never became final (or a refused request) is counted as
    lost instead of ending the benchmark."""
    started = time.time()
    try:
        return one_run(api, key, language)
    except Exception as error:  # any failure of the HTTP exchange or the wait is a lost run
        return Run(language, "", started, time.time(), False, {"error": repr(error)})


def log_stamps(cluster: K8sCluster, namespace: str, job_id: str) -> dict[str, float]:
    """key of each JSON line the runner printed -> when the container runtime logged it
    (`kubectl logs --timestamps`, nanoseconds; read right after the run, before its TTL)."""
    body = get_coderun(cluster, namespace, job_id) or {}
    pod = (body.get("status") or {}).get("podName")
    if not pod:
        return {}
    out = cluster.kubectl("logs", "--timestamps", "-n", namespace, pod, "-c", "run", check=False)
    stamps: dict[str, float] = {}
    for line in out.stdout.splitlines():
        stamp, _, text = line.partition(" ")
        with contextlib.suppress(ValueError):
            document = json.loads(text)
            # RFC 3339 with nanoseconds: fromisoformat takes at most microseconds.
            head, _, fraction = stamp.rstrip("Z").partition(".")
            when = datetime.fromisoformat(f"{head}.{fraction[:6] or '0'}+00:00").timestamp()
            if isinstance(document, dict):
                for key in document:
                    stamps.setdefault(key, when)
    return stamps


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


@dataclass
class Bench:
    cluster: K8sCluster
    namespace: str
    operator: OperatorProcess
    api: ApiProcess
    no_pool: str | None = None
    runs: list[Run] = field(default_factory=list)
    costs: dict[str, list[Costs]] = field(default_factory=dict)
    loads: dict[str, str] = field(default_factory=dict)

    def meter(self) -> CostMeter:
        assert self.operator.proc and self.api.proc
        return CostMeter(self.cluster, self.operator.proc.pid, self.api.proc.pid)

    def scale(self, language: str, replicas: int) -> None:
        if self.no_pool is None:
            pools.set_pool(self.cluster, self.namespace, language, replicas)
            self.refilled(language, replicas)

    def refilled(self, language: str, replicas: int) -> None:
        """Until the pool has `replicas` ready pods (reads only: no write is added)."""
        if self.no_pool is None:
            pools.wait_ready(self.cluster, self.namespace, language, replicas)

    def block(self, key: str, language: str, mode: str, count: int) -> None:
        """`count` runs one at a time; a warm one waits until the pool is full again first,
        so each claims a ready pod (the sustained phase is where refill speed shows)."""
        replicas = WARM_REPLICAS if mode == "warm" else 0
        self.scale(language, replicas)
        meter = self.meter()
        meter.start()
        for _ in range(count):
            if mode == "warm":
                self.refilled(language, replicas)
            run = guarded_run(self.api, key, language)
            run.mode = mode
            self.runs.append(run)
            if mode == "warm" and language in BREAKDOWN_LANGUAGES and run.job_id:
                run.log_stamps = log_stamps(self.cluster, self.namespace, run.job_id)
        if mode == "warm":
            self.refilled(language, replicas)  # the last claim's refill belongs to this block
        time.sleep(JOB_TTL_S + 2)
        self.costs.setdefault(f"{mode} {language}", []).append(meter.stop(count))

    def latency(self, key: str, language: str, blocks: int, block_runs: int) -> None:
        modes = ["cold"] if self.no_pool else ["cold", "warm"]
        for number in range(blocks):
            for mode in modes if number % 2 == 0 else modes[::-1]:
                self.block(key, language, mode, block_runs)
        self.scale(language, DEFAULT_POOLS[language])

    def sustained(self) -> tuple[list[Run], float, Costs]:
        """ACCOUNTS x CLIENTS_PER_ACCOUNT closed-loop clients, python and javascript in
        turn, for SUSTAINED_S; then every run they submitted is waited for."""
        for language in ("python", "javascript"):
            self.scale(language, SUSTAINED_POOL)
        keys = [self.api.new_key(credits=1_000_000) for _ in range(ACCOUNTS)]
        stop_at = time.monotonic() + SUSTAINED_S
        done: list[Run] = []
        lock = threading.Lock()

        def client(number: int) -> None:
            key = keys[number % ACCOUNTS]
            turn = number
            while time.monotonic() < stop_at:
                language = ("python", "javascript")[turn % 2]
                turn += 1
                run = guarded_run(self.api, key, language)
                run.mode = "sustained"
                with lock:
                    done.append(run)

        meter = self.meter()
        meter.start()
        started = time.monotonic()
        clients = ACCOUNTS * CLIENTS_PER_ACCOUNT
        with ThreadPoolExecutor(max_workers=clients) as executor:
            list(executor.map(client, range(clients)))
        elapsed = time.monotonic() - started
        time.sleep(JOB_TTL_S + 2)
        costs = meter.stop(len(done))
        for language in ("python", "javascript"):
            self.scale(language, DEFAULT_POOLS[language])
        return done, elapsed, costs


def _stamp_starts(bench: Bench) -> None:
    statuses = pools.starts(bench.cluster, bench.namespace)
    for run in bench.runs:
        run.status = statuses.get(run.job_id) or {}
        run.start = run.status.get("start") or "cold"


def inflight(
    cluster: K8sCluster, namespace: str, base: Path
) -> tuple[dict[str, float], dict[str, float], int]:
    """The operator's CPU (cores), RSS (MB) and threads idle and with INFLIGHT runs in
    flight, caps raised to let them all run; returns (idle, loaded, lost)."""
    operator = start_operator(
        cluster,
        namespace,
        base / "operator-inflight.log",
        max_concurrent_runs=str(INFLIGHT + 14),
        max_running_per_account=str(INFLIGHT + 14),
        job_ttl_seconds=str(JOB_TTL_S),
    )
    api = start_api(cluster, namespace, base / "data-inflight", base / "api-inflight.log")
    try:
        assert operator.proc is not None
        pid = operator.proc.pid
        key = api.new_key(credits=1_000_000)

        def sample(seconds: float) -> dict[str, float]:
            before, started = cpu_seconds(pid), time.monotonic()
            peak = {"VmRSS": 0, "Threads": 0}
            while time.monotonic() - started < seconds:
                for name, value in status_of(pid).items():
                    peak[name] = max(peak[name], value)
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            cores = (cpu_seconds(pid) - before) / elapsed
            return {
                "cpu": cores,
                "rss_mb": peak["VmRSS"] / 1024,
                "threads": peak["Threads"],
                "seconds": elapsed,
            }

        idle = sample(10)
        job_ids: list[str] = []
        stop = threading.Event()

        def in_flight() -> int:
            out = cluster.kubectl(
                "get", "crun", "-n", namespace, "-l", "!coderun.dev/verdict", "-o", "name"
            ).stdout
            return len(out.split())

        readings: list[int] = []
        measuring = threading.Event()

        def top_up() -> None:
            with ThreadPoolExecutor(max_workers=INFLIGHT_SUBMITTERS) as executor:
                while not stop.is_set():
                    now_in_flight = in_flight()
                    if measuring.is_set():
                        readings.append(now_in_flight)
                    missing = INFLIGHT - now_in_flight
                    if missing > 0:
                        job_ids.extend(
                            executor.map(
                                lambda _: api.submit(key, SLEEPER, "python"), range(missing)
                            )
                        )
                    time.sleep(0.5)

        feeder = threading.Thread(target=top_up, daemon=True)
        feeder.start()
        # Until the first INFLIGHT are accepted, then measure while the feeder keeps it so.
        deadline = time.monotonic() + 120
        while in_flight() < INFLIGHT and time.monotonic() < deadline:
            time.sleep(0.5)
        measuring.set()
        loaded = sample(INFLIGHT_S)
        measuring.clear()
        loaded["in_flight_median"] = statistics.median(readings or [0])
        loaded["in_flight_min"] = min(readings or [0])
        stop.set()
        feeder.join(timeout=120)
        lost = 0
        for job_id in job_ids:
            try:
                data = api.wait_final(key, job_id)
                lost += 0 if data["status"] == "success" else 1
            except AssertionError:
                lost += 1
        loaded["runs"] = len(job_ids)
        return idle, loaded, lost
    finally:
        api.stop()
        operator.stop()


def measure(bench: Bench, base: Path) -> str:
    key = bench.api.new_key(credits=1_000_000)
    for language in HELLO:
        for _ in range(WARMUP):
            one_run(bench.api, key, language)
    bench.loads["start"] = load()
    for language in ("python", "javascript"):
        bench.latency(key, language, BLOCKS, BLOCK_RUNS)
    for language in ("cpp", "java"):
        bench.latency(key, language, COMPILED_BLOCKS, COMPILED_BLOCK_RUNS)
    bench.loads["after latency"] = load()
    sustained_runs, sustained_s, sustained_costs = bench.sustained()
    bench.loads["after sustained"] = load()
    bench.runs.extend(sustained_runs)
    _stamp_starts(bench)
    bench.api.stop()
    bench.operator.stop()
    idle, loaded, inflight_lost = inflight(bench.cluster, bench.namespace, base)
    bench.loads["after in-flight"] = load()
    floor = measure_floor(bench.cluster)
    latency_runs = [run for run in bench.runs if run.mode in ("cold", "warm")]
    per_mode = {
        mode: add(
            [c for name, items in bench.costs.items() if name.startswith(mode) for c in items]
        )
        for mode in ("cold", "warm")
        if any(name.startswith(mode) for name in bench.costs)
    }
    per_mode["sustained"] = sustained_costs
    return "\n".join(
        [
            "## Kubernetes",
            "",
            "Reproduce: `make bench` (or `.venv/bin/python -m bench --only kubernetes "
            "--update`; the test cluster up and the images built, `CODERUN_SKIP_IMAGES=1` "
            "skips the rebuild). `bench/kubernetes.py` runs `coderun serve` "
            "(CODERUN_EXECUTOR=kubernetes, SQLite) and `coderun operator` as processes on the "
            "host against the single-node test cluster (`hack/cluster/`, containerd 1.6, "
            "kube-router enforcing the deny-all NetworkPolicy), everything through REST "
            "(`POST submit`, then `GET result?wait=30`). Operator caps raised to "
            f"{MAX_CONCURRENT} runs at once, {MAX_PER_ACCOUNT} per account; finished Jobs kept "
            f"{JOB_TTL_S} s. Load average (1/5/15 min) at the start of the measurements "
            f"{bench.loads['start']}, after the latency runs {bench.loads['after latency']}, "
            f"after the sustained phase {bench.loads['after sustained']}, after the in-flight "
            f"phase {bench.loads['after in-flight']}.",
            "",
            latency_table(latency_runs, ("python", "javascript"), bench.no_pool, BLOCK_RUNS),
            compiled_table(latency_runs, ("cpp", "java"), bench.no_pool),
            breakdown_table(
                [r for r in latency_runs if r.start == "warm" and r.language in BREAKDOWN_LANGUAGES]
            ),
            sustained_table(
                sustained_runs,
                sustained_s,
                SUSTAINED_S,
                ACCOUNTS,
                CLIENTS_PER_ACCOUNT,
                SUSTAINED_POOL,
            ),
            costs_table(per_mode),
            inflight_table(idle, loaded, inflight_lost, INFLIGHT),
            floor_table(floor, os.cpu_count() or 1),
        ]
    )


def main() -> str:
    cluster = cluster_up()
    if os.environ.get("CODERUN_SKIP_IMAGES") != "1":
        subprocess.run(
            ["bash", str(cluster.script), "images"], check=True, timeout=3600, env=cluster.env
        )
    namespace = prepare_namespace(cluster, "coderun-bench")
    base = Path(tempfile.mkdtemp(prefix="coderun-bench-k8s-"))
    if pools.crd_installed(cluster):
        # The namespace's pools before the operator starts: it finds them at once.
        for language, replicas in DEFAULT_POOLS.items():
            pools.set_pool(cluster, namespace, language, replicas)
    operator = start_operator(
        cluster,
        namespace,
        base / "operator.log",
        max_concurrent_runs=str(MAX_CONCURRENT),
        max_running_per_account=str(MAX_PER_ACCOUNT),
        job_ttl_seconds=str(JOB_TTL_S),
    )
    try:
        api = start_api(cluster, namespace, base / "data", base / "api.log")
        bench = Bench(cluster, namespace, operator, api)
        try:
            bench.no_pool = pools.pools_work(cluster, namespace, "python")
            if bench.no_pool is None:
                for language, replicas in DEFAULT_POOLS.items():
                    bench.scale(language, replicas)
            print(f"pools: {bench.no_pool or 'working'}", file=sys.stderr, flush=True)
            return measure(bench, base)
        finally:
            api.stop()
    finally:
        operator.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        print(
            f"logs in {base}; cluster pids: "
            f"{ {n: cluster_pid(n) for n in ('kubelet', 'containerd', 'kube-apiserver')} }",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.stdout.write(main())
