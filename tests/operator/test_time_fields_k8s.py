"""The time fields on the Kubernetes executor mean what docs/api.md says: a compiled run
through the API, its times against its own timestamps and its CodeRun's."""

from __future__ import annotations

import pytest
from coderun_sandbox.contract import DEFAULT_TIME_LIMIT_MS, ms_between, parse_iso_utc

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import ApiProcess, get_coderun

pytestmark = pytest.mark.cluster


def test_a_compiled_run_keeps_the_arithmetic_on_kubernetes(
    k8s_cluster: K8sCluster, op_namespace: str, api: ApiProcess, api_key: str
) -> None:
    code = '#include <iostream>\nint main(){std::cout<<"timed"<<std::endl;}\n'
    data = api.run(api_key, code, "cpp")
    assert data["status"] == "success", data
    queued, started, finished = (
        parse_iso_utc(data[k]) for k in ("queuedAt", "startedAt", "finishedAt")
    )
    assert queued <= started <= finished
    assert data["queueTimeMs"] == ms_between(queued, started)
    assert data["executionTimeMs"] == ms_between(started, finished)
    assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"]
    # The job started with the pod's first container, the compile step: the run is inside.
    coderun = get_coderun(k8s_cluster, op_namespace, data["jobId"])
    assert coderun is not None
    pod_started = parse_iso_utc(coderun["status"]["startedAt"])
    assert started == max(pod_started, queued)
    assert coderun["status"]["result"]["executionTimeMs"] == data["runTimeMs"]
    assert 0 < data["runTimeMs"] <= min(data["executionTimeMs"], DEFAULT_TIME_LIMIT_MS)
