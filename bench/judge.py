"""Judge-mode benchmark: a cpp program with 20 test cases as ONE submission (compiled once,
the cases run one after another in one sandbox) against the same 20 inputs as 20 single
submissions (each compiled and run in its own sandbox), on both executors, through REST.

Wall time: from the first submit to the last final result, median over interleaved
repetitions; credits: what each way charged (18 of the 20 expected outputs are right).
The 20 singles are submitted at once, as a client that loops would, and wait in the fair
queue behind the account's cap on running runs (2 by default on both executors).

`main() -> str` returns the "## Judge mode" section of docs/benchmarks.md (called by
bench/__main__.py: `python -m bench --only judge --update`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures import warm_pools as pools
from tests.fixtures.cluster import K8sCluster, cluster_up
from tests.operator.harness import ApiProcess, prepare_namespace, start_api, start_operator

CASES = 20
REPS = 3
WRONG = (4, 13)
CPP = """#include <iostream>
int main() { long a, b; std::cin >> a >> b; std::cout << a * b + 1 << std::endl; return 0; }
"""


def cases() -> list[dict[str, Any]]:
    out = []
    for i in range(CASES):
        right = str(i * (i + 3) + 1)
        out.append({"input": f"{i} {i + 3}\n", "expectedOutput": "0" if i in WRONG else right})
    return out


def _post(api: ApiProcess, key: str, body: dict[str, Any]) -> str:
    response = httpx.post(
        f"{api.base_url}/api/v1/runner/submit", json=body, headers={"X-API-KEY": key}, timeout=60
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["data"]["jobId"]
    return job_id


def one_submission(api: ApiProcess, key: str) -> tuple[float, int, dict[str, Any]]:
    before = api.account_info(key)["credits"]
    start = time.monotonic()
    data = api.wait_final(
        key, _post(api, key, {"code": CPP, "language": "cpp", "testCases": cases()}), rounds=20
    )
    wall = time.monotonic() - start
    return wall, before - api.account_info(key)["credits"], data


def single_submissions(api: ApiProcess, key: str) -> tuple[float, int, list[dict[str, Any]]]:
    """The same 20 inputs as 20 plain submissions; the client compares each output itself
    (a plain run is charged on success, whatever it printed)."""
    before = api.account_info(key)["credits"]
    start = time.monotonic()
    ids = [
        _post(api, key, {"code": CPP, "language": "cpp", "input": case["input"]})
        for case in cases()
    ]
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        results = list(pool.map(lambda job_id: api.wait_final(key, job_id, rounds=40), ids))
    wall = time.monotonic() - start
    return wall, before - api.account_info(key)["credits"], results


def measure(api: ApiProcess, label: str) -> dict[str, Any]:
    key = api.new_key(credits=100_000)
    one_submission(api, key)  # warm-up: images, caches
    ones, singles, credits_one, credits_single, compile_ms, run_ms = [], [], 0, 0, [], []
    # Runs that did not succeed (on a loaded machine a compile can pass its 10 s limit).
    failed_one = failed_single = 0
    for rep in range(REPS):
        # Interleaved, alternating which goes first, so drift hits both alike.
        order = ("one", "single") if rep % 2 == 0 else ("single", "one")
        for way in order:
            if way == "one":
                wall, credits_one, data = one_submission(api, key)
                ones.append(wall)
                compile_ms.append(data["compileTimeMs"] or 0)
                run_ms.append(data["runTimeMs"] or 0)
                failed_one += data["testCasesPassed"] != CASES - len(WRONG)
            else:
                wall, credits_single, results = single_submissions(api, key)
                singles.append(wall)
                failed_single += sum(r["status"] != "success" for r in results)
        print(
            f"{label} rep {rep}: one {ones[-1]:.2f} s, singles {singles[-1]:.2f} s", file=sys.stderr
        )
    return {
        "one": statistics.median(ones),
        "single": statistics.median(singles),
        "credits_one": credits_one,
        "credits_single": credits_single,
        "compile_ms": statistics.median(compile_ms),
        "run_ms": statistics.median(run_ms),
        "failed": f"{failed_one} of {REPS} / {failed_single} of {REPS * CASES}",
    }


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| executor | 1 submission x 20 cases | 20 single submissions | ratio "
        "| credits (cases / singles) | compile, cases' run time (1 submission) "
        "| not as expected (submissions / singles) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in rows:
        lines.append(
            f"| {name} | {m['one']:.2f} s | {m['single']:.2f} s | {m['single'] / m['one']:.1f}x "
            f"| {m['credits_one']} / {m['credits_single']} | {m['compile_ms']:.0f} ms, "
            f"{m['run_ms']:.0f} ms | {m['failed']} |"
        )
    return "\n".join(lines)


def main() -> str:
    cluster: K8sCluster = cluster_up()
    if os.environ.get("CODERUN_SKIP_IMAGES") != "1":
        subprocess.run(
            ["bash", str(cluster.script), "images"], check=True, timeout=3600, env=cluster.env
        )
    namespace = prepare_namespace(cluster, "coderun-bench-judge")
    base = Path(tempfile.mkdtemp(prefix="coderun-bench-judge-"))
    warm = pools.crd_installed(cluster)
    if warm:
        pools.set_pool(cluster, namespace, "cpp", 2)
    operator = start_operator(cluster, namespace, base / "operator.log")
    rows = []
    load_before = os.getloadavg()[1]
    try:
        local = start_api(
            cluster,
            namespace,
            base / "data-local",
            base / "api-local.log",
            CODERUN_EXECUTOR="local",
        )
        try:
            rows.append(("embedded (bubblewrap)", measure(local, "local")))
        finally:
            local.stop()
        api = start_api(cluster, namespace, base / "data-k8s", base / "api-k8s.log")
        try:
            name = "Kubernetes" + (" (cpp pool of 2)" if warm else " (cold pods)")
            rows.append((name, measure(api, "kubernetes")))
        finally:
            api.stop()
    finally:
        operator.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    load_after = os.getloadavg()[1]
    return "\n".join(
        [
            "## Judge mode",
            "",
            f"`python -m bench --only judge --update` ({REPS} interleaved repetitions, "
            "medians; bench/judge.py). A cpp program with 20 test cases, 18 expected "
            "outputs right, as one submission (compiled once, 20 processes in one sandbox) "
            "against the same 20 inputs as 20 single submissions sent at once (20 compiles "
            "and 20 sandboxes, queued behind the account's cap of 2 running runs). Wall time "
            "from the first submit to the last final result. Credits: one per successful "
            "case (18) against one per successful run (20: a plain run cannot know its "
            "output was wrong, the client compares), from the last repetition. The last "
            "column counts submissions whose 18 right cases did not all pass and single runs "
            "that did not succeed: on a loaded machine a compile can pass its 10 s limit "
            "(CompilationError), which 20 compiles risk 20 times as often as one.",
            "",
            table(rows),
            "",
            f"The machine's 5-minute load average was {load_before:.0f} at the start and "
            f"{load_after:.0f} at the end, on {os.cpu_count()} cores. Single runs that did "
            "not succeed spent over 10 s compiling (CompilationError, free, so they lower "
            "the singles' credits); the one submission compiles once. The ratio is what "
            "judge mode saves a client: one compile and one sandbox (one pod) instead of "
            "twenty, and no wait behind the account's cap.",
            "",
        ]
    )


if __name__ == "__main__":
    sys.stdout.write(main())
