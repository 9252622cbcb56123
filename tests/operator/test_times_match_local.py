"""The same program on both executors reports the same time fields with the same meaning: on
Kubernetes too compileTimeMs is set for compiled languages, the compile time is not counted
in queueTimeMs, and startedAt has milliseconds (whole seconds would put executionTimeMs up
to a second over).

Two real APIs: `coderun serve` on the embedded executor (bubblewrap sandboxes on this
machine) and on the Kubernetes executor (the operator, sandbox pods on the test cluster).
No timing is asserted: only which fields are set and the arithmetic docs/api.md defines.
"""

from __future__ import annotations

from typing import Any

import pytest
from coderun_operator import resources as r
from coderun_operator import time_fields as t
from coderun_operator.pod_verdict import parse_result_line
from coderun_sandbox.contract import RUNNER_STARTED_AT, ms_between, parse_iso_utc
from coderun_sandbox.languages import languages

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import ApiProcess, get_coderun

pytestmark = pytest.mark.cluster

# Each value is rounded to a millisecond on its own: sums may differ by that much per term.
ROUNDING_MS = 3
PROGRAMS = {
    "cpp": '#include <iostream>\nint main(){long s=0;for(long i=0;i<3000000;i++)s+=i;std::cout<<s<<"\\n";}\n',
    "python": "print(sum(range(3000000)))\n",
}
TIMES = ("queuedAt", "startedAt", "finishedAt", *t.RESULT_TIME_FIELDS)


def _check_arithmetic(data: dict[str, Any], where: str) -> None:
    queued, started, finished = (parse_iso_utc(data[k]) for k in TIMES[:3])
    assert queued <= started <= finished, (where, data)
    assert data["queueTimeMs"] == ms_between(queued, started), where
    assert data["executionTimeMs"] == ms_between(started, finished), where
    assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"], where
    compile_ms = data["compileTimeMs"] or 0
    assert data["executionTimeMs"] >= compile_ms + data["runTimeMs"] - ROUNDING_MS, (where, data)


def _first_runner_start(cluster: K8sCluster, namespace: str, job_id: str, language: str) -> str:
    """runnerStartedAt of the pod's first container's result line, from its log."""
    coderun = get_coderun(cluster, namespace, job_id)
    assert coderun is not None
    first = r.COMPILE_CONTAINER if languages()[language].compiled else r.RUN_CONTAINER
    log = cluster.kubectl("-n", namespace, "logs", coderun["status"]["podName"], "-c", first).stdout
    line = parse_result_line(log)
    assert line is not None, log
    return str(line[RUNNER_STARTED_AT])


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_both_executors_report_the_same_fields(
    language: str,
    k8s_cluster: K8sCluster,
    op_namespace: str,
    api: ApiProcess,
    api_key: str,
    local_api: ApiProcess,
) -> None:
    on_kubernetes = api.run(api_key, PROGRAMS[language], language)
    on_local = local_api.run(local_api.new_key(), PROGRAMS[language], language)
    for where, data in (("kubernetes", on_kubernetes), ("local", on_local)):
        assert data["status"] == "success", (where, data)
        _check_arithmetic(data, where)
    assert on_kubernetes["stdout"] == on_local["stdout"]
    for where, data in (("kubernetes", on_kubernetes), ("local", on_local)):
        print(f"\n{language} {where}: " + " ".join(f"{k}={data[k]}" for k in t.RESULT_TIME_FIELDS))
    # Field by field: the same ones are set on both.
    set_on = {
        where: {field for field, value in data.items() if value is not None}
        for where, data in (("kubernetes", on_kubernetes), ("local", on_local))
    }
    assert set_on["kubernetes"] == set_on["local"], set_on
    compiled = language == "cpp"
    for data in (on_kubernetes, on_local):
        assert (data["compileTimeMs"] is not None) is compiled, data
        if compiled:
            assert data["compileTimeMs"] > 0
        # Compilation is the sandbox's work, not waiting: it is inside executionTimeMs.
        assert data["executionTimeMs"] >= (data["compileTimeMs"] or 0)
    # On Kubernetes the job started when the pod's first runner did, by its own clock (to
    # the millisecond), not at the container's start, which Kubernetes keeps in seconds.
    runner_started = _first_runner_start(
        k8s_cluster, op_namespace, on_kubernetes["jobId"], language
    )
    expected = max(parse_iso_utc(runner_started), parse_iso_utc(on_kubernetes["queuedAt"]))
    assert parse_iso_utc(on_kubernetes["startedAt"]) == expected, (runner_started, on_kubernetes)
