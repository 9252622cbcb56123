"""Judge mode through REST on the Kubernetes executor (the operator, sandbox pods on the
test cluster), and the same submissions on the embedded executor for comparison.

The pod gets only the cases' inputs (on its stdin); the API judges their outputs when the
CodeRun is final. No timing is asserted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures import warm_pools as pools
from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    ApiProcess,
    get_coderun,
    prepare_namespace,
    start_api,
    start_operator,
)
from tests.utils.judge_programs import (
    CPP_SUM,
    PY_ACTIONS,
    PY_ECHO,
    SECRET_HUNTER,
    SECRET_PREFIX,
    hunter_cases,
    ten_sum_cases,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def judged(api: ApiProcess, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{api.base_url}/api/v1/runner/submit", json=body, headers={"X-API-KEY": key}, timeout=30
    )
    assert response.status_code == 200, response.text
    return api.wait_final(key, response.json()["data"]["jobId"], rounds=16)


def verdicts(data: dict[str, Any]) -> list[tuple[str, str | None, bool | None]]:
    return [(c["status"], c["sandboxErrorType"], c["passed"]) for c in data["testCases"]]


def test_cpp_ten_cases_eight_right_two_wrong_on_both_executors(
    api: ApiProcess, local_api: ApiProcess, k8s_cluster: K8sCluster, op_namespace: str
) -> None:
    body = {"code": CPP_SUM, "language": "cpp", "testCases": ten_sum_cases()}
    results = {}
    for where, process in (("kubernetes", api), ("local", local_api)):
        key = process.new_key(credits=20)
        data = judged(process, key, body)
        assert (data["testCasesPassed"], data["testCasesTotal"]) == (8, 10), (where, data)
        assert data["sandboxErrorType"] == "WrongAnswer", where
        assert isinstance(data["compileTimeMs"], int), where  # compiled once, one compile time
        ran = data["testCases"]
        assert data["runTimeMs"] == sum(c["executionTimeMs"] for c in ran), where
        assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"], where
        assert process.account_info(key)["credits"] == 12, where  # 8 successful cases
        results[where] = data
    assert verdicts(results["kubernetes"]) == verdicts(results["local"])
    assert [c["stdout"] for c in results["kubernetes"]["testCases"]] == [
        c["stdout"] for c in results["local"]["testCases"]
    ]
    coderun = get_coderun(k8s_cluster, op_namespace, results["kubernetes"]["jobId"])
    assert coderun is not None
    # The CodeRun carries the inputs only; the sandbox's own verdict knows no wrong answer.
    assert all(set(case) == {"input"} for case in coderun["spec"]["testCases"])
    cases = coderun["status"]["result"]["testCases"]
    assert len(cases) == 10 and all(c.get("passed") is None for c in cases)


def test_a_tle_case_does_not_stop_the_others_and_stop_skips_after_a_wrong_answer(
    api: ApiProcess, api_key: str
) -> None:
    cases = [{"input": "spin"}, {"input": "x", "expectedOutput": "clean"}, {"input": "y"}]
    data = judged(api, api_key, {"code": PY_ACTIONS, "language": "python", "testCases": cases})
    assert verdicts(data) == [
        ("failed", "TLE", None),
        ("success", None, True),
        ("success", None, None),
    ]
    echo = [
        {"input": "a", "expectedOutput": "a"},
        {"input": "b", "expectedOutput": "not b"},
        {"input": "c", "expectedOutput": "c"},
    ]
    stopped = judged(
        api,
        api_key,
        {"code": PY_ECHO, "language": "python", "testCases": echo, "stopOnFirstFailure": True},
    )
    # The pod cannot know a wrong answer: it ran case 2, which the API reports skipped.
    assert [c["status"] for c in stopped["testCases"]] == ["success", "failed", "skipped"]
    assert stopped["testCases"][2]["stdout"] == ""


def test_an_mle_case_does_not_affect_the_next_and_cases_start_clean(
    api: ApiProcess, api_key: str
) -> None:
    cases = [{"input": "big"}, {"input": "medium"}, {"input": "write"}, {"input": "check"}]
    data = judged(api, api_key, {"code": PY_ACTIONS, "language": "python", "testCases": cases})
    big, medium, wrote, checked = data["testCases"]
    assert big["sandboxErrorType"] == "MLE", data
    assert medium["status"] == "success" and medium["memoryKb"] < 256 * 1024, medium
    assert wrote["stdout"].startswith("saw left.txt /tmp/left.txt"), wrote
    assert checked["stdout"] == "clean\n", checked


def test_float_tolerance_on_kubernetes(api: ApiProcess, api_key: str) -> None:
    data = judged(
        api,
        api_key,
        {
            "code": PY_ECHO,
            "language": "python",
            "compare": "float",
            "tolerance": {"absolute": 0.01},
            "testCases": [
                {"input": "3.14159", "expectedOutput": "3.14"},
                {"input": "3.2", "expectedOutput": "3.14"},
            ],
        },
    )
    assert [c["passed"] for c in data["testCases"]] == [True, False]


def test_expected_outputs_never_reach_the_pod(
    api: ApiProcess, k8s_cluster: K8sCluster, op_namespace: str
) -> None:
    """The hostile search of tests/api/test_judge.py, in a sandbox pod: it finds the secret
    in its own stdin and nothing of an expected output. Neither the CodeRun (etcd) nor the
    pod's spec nor its logs hold one."""
    key = api.new_key(credits=10)
    cases, visible, hidden = hunter_cases()
    data = judged(api, key, {"code": SECRET_HUNTER, "language": "python", "testCases": cases})
    found, searched = data["testCases"]
    assert found["passed"] is True and found["stdout"] == visible + "\n", found
    assert searched["sandboxErrorType"] == "WrongAnswer", searched
    assert SECRET_PREFIX not in searched["stdout"], searched
    report = dict(item.split("=") for item in searched["stderr"].split())
    assert int(report["files"]) > 20, report
    coderun = get_coderun(k8s_cluster, op_namespace, data["jobId"])
    assert coderun is not None
    assert hidden not in json.dumps(coderun)
    pod = k8s_cluster.kubectl(
        "-n", op_namespace, "get", "pod", coderun["status"]["podName"], "-o", "json", check=False
    ).stdout
    assert hidden not in pod
    logs = k8s_cluster.kubectl(
        "-n", op_namespace, "logs", coderun["status"]["podName"], "--all-containers", check=False
    ).stdout
    assert hidden not in logs


@pytest.fixture(scope="module")
def warm(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ApiProcess, str]]:
    """A namespace of its own with a cpp and a python pool of one pod each."""
    if not pools.crd_installed(k8s_cluster):
        pytest.skip(f"no warm pools: the CRD {pools.POOL_CRD} is not installed")
    namespace = prepare_namespace(k8s_cluster, prefix="coderun-judge-warm")
    base = tmp_path_factory.mktemp("judge-warm")
    # Torn down in reverse even when a start fails (CI once saw the operator's start fail
    # and this namespace, with its pool pods, outlive the session).
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(
            k8s_cluster.kubectl, "delete", "namespace", namespace, "--wait=false", check=False
        )
        for language in ("cpp", "python"):
            pools.set_pool(k8s_cluster, namespace, language, 1)
        operator = start_operator(k8s_cluster, namespace, base / "operator.log")
        cleanup.callback(operator.stop)
        api = start_api(k8s_cluster, namespace, base / "data", base / "api.log")
        cleanup.callback(api.stop)
        for language in ("cpp", "python"):
            pools.wait_ready(k8s_cluster, namespace, language, 1)
        yield namespace, api, api.new_key(credits=100)


def test_cases_on_a_warm_pool_pod(
    warm: tuple[str, ApiProcess, str], k8s_cluster: K8sCluster
) -> None:
    """The whole submission is one sandbox, a warm one when the pool has one: the request,
    cases included, reaches the pod that was already waiting."""
    namespace, api, key = warm
    data = judged(api, key, {"code": CPP_SUM, "language": "cpp", "testCases": ten_sum_cases()})
    assert (data["testCasesPassed"], data["testCasesTotal"]) == (8, 10), data
    coderun = get_coderun(k8s_cluster, namespace, data["jobId"])
    assert coderun is not None
    assert coderun["status"]["start"] == "warm", coderun["status"]
    pools.wait_ready(k8s_cluster, namespace, "python", 1)
    cases, visible, hidden = hunter_cases()
    hunted = judged(api, key, {"code": SECRET_HUNTER, "language": "python", "testCases": cases})
    found, searched = hunted["testCases"]
    assert found["stdout"] == visible + "\n" and searched["sandboxErrorType"] == "WrongAnswer"
    assert SECRET_PREFIX not in searched["stdout"], searched
    assert hidden not in json.dumps(get_coderun(k8s_cluster, namespace, hunted["jobId"]))
    coderun = get_coderun(k8s_cluster, namespace, hunted["jobId"])
    assert coderun is not None
    assert coderun["status"]["start"] == "warm", coderun["status"]
