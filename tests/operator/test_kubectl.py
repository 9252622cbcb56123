"""A CodeRun applied with kubectl runs with no API involved; an admin can see, filter and
audit it: printer columns, labels, conditions, Events, and the locked-down Job it owns."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    OperatorProcess,
    apply_json,
    create_json,
    get_coderun,
    wait_coderun_final,
    wait_until,
)

pytestmark = pytest.mark.cluster


def manifest(namespace: str, name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "coderun.dev/v1alpha1",
        "kind": "CodeRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def test_kubectl_coderun_runs_and_is_auditable(
    k8s_cluster: K8sCluster, op_namespace: str, operator: OperatorProcess
) -> None:
    name = f"kubectl-{uuid.uuid4().hex[:8]}"
    code = "import sys\nname = sys.stdin.read().strip()\nprint(f'hello {name}')\n"
    apply_json(
        k8s_cluster, manifest(op_namespace, name, language="python", code=code, input="admin\n")
    )
    body = wait_coderun_final(k8s_cluster, op_namespace, name)

    status = body["status"]
    assert status["phase"] == "Succeeded"
    assert status["verdict"] == "Success"
    assert status["result"]["stdout"] == "hello admin\n"
    assert status["result"]["exitCode"] == 0
    assert status["observedGeneration"] == body["metadata"]["generation"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (
        conditions["Scheduled"]["status"] == "True"
        and conditions["Scheduled"]["reason"] == "JobCreated"
    )
    assert (
        conditions["Succeeded"]["status"] == "True"
        and conditions["Succeeded"]["reason"] == "Success"
    )
    assert conditions["Running"]["status"] == "False"
    # Defaults from the schema.
    assert body["spec"]["timeLimitMs"] == 3000 and body["spec"]["memoryLimitMb"] == 256

    # Labels the operator set, so that `kubectl get crun -l ...` filters. The verdict label
    # is a metadata write right after the final status write (a separate subresource), so
    # it can trail the status by a moment: wait for it rather than read it once.
    def labelled() -> dict[str, str] | None:
        found = get_coderun(k8s_cluster, op_namespace, name) or {}
        labels: dict[str, str] = (found.get("metadata") or {}).get("labels") or {}
        return labels if "coderun.dev/verdict" in labels else None

    labels = wait_until(labelled, "verdict label", rounds=200, pause=0.05)
    assert labels["coderun.dev/verdict"] == "Success"
    assert labels["coderun.dev/language"] == "python"
    listed = k8s_cluster.kubectl(
        "get",
        "crun",
        "-n",
        op_namespace,
        "-l",
        "coderun.dev/verdict=Success,coderun.dev/language=python",
        "-o",
        "name",
    ).stdout
    assert f"coderun.coderun.dev/{name}" in listed.split()

    # Printer columns: language, status, verdict, exit code, execution time, start, age.
    table = k8s_cluster.kubectl("get", "coderuns", "-n", op_namespace, name).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "LANGUAGE",
        "STATUS",
        "VERDICT",
        "EXIT",
        "TIME(MS)",
        "START",
        "AGE",
    ]
    assert table[1].split()[:5] == [name, "python", "Succeeded", "Success", "0"]
    assert (
        k8s_cluster.kubectl("get", "crun", "-n", op_namespace, name, "-o", "name").returncode == 0
    )

    # Events on the CodeRun.
    events = json.loads(
        k8s_cluster.kubectl(
            "get",
            "events",
            "-n",
            op_namespace,
            "--field-selector",
            f"involvedObject.name={name}",
            "-o",
            "json",
        ).stdout
    )["items"]
    reasons = {e["reason"] for e in events if e["involvedObject"]["kind"] == "CodeRun"}
    assert {"Scheduled", "Succeeded"} <= reasons

    # The Job: deterministic name, owned by the CodeRun, locked down.
    job = json.loads(
        k8s_cluster.kubectl("get", "job", "-n", op_namespace, f"crun-{name}", "-o", "json").stdout
    )
    (owner,) = job["metadata"]["ownerReferences"]
    assert (
        owner["kind"] == "CodeRun"
        and owner["uid"] == body["metadata"]["uid"]
        and owner["controller"]
    )
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["dnsPolicy"] == "None"
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod.get("initContainers", []) + pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert set(container["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}


def test_schema_refuses_what_cannot_run(k8s_cluster: K8sCluster, op_namespace: str) -> None:
    for spec in (
        {"language": "cobol", "code": "x"},
        {"language": "python", "code": ""},
        {"language": "python", "code": "x", "timeLimitMs": 10},
        {"language": "python", "code": "x", "memoryLimitMb": 100000},
        {"language": "python", "code": "x" * 70000},
        {"language": "python"},
    ):
        result = create_json(
            k8s_cluster, manifest(op_namespace, f"bad-{uuid.uuid4().hex[:6]}", **spec)
        )
        assert result.returncode != 0, spec
        assert "Invalid" in result.stderr or "invalid" in result.stderr, result.stderr


def test_spec_is_immutable(
    k8s_cluster: K8sCluster, op_namespace: str, operator: OperatorProcess
) -> None:
    name = f"immutable-{uuid.uuid4().hex[:6]}"
    apply_json(k8s_cluster, manifest(op_namespace, name, language="python", code="print(1)"))
    patched = k8s_cluster.kubectl(
        "patch",
        "crun",
        "-n",
        op_namespace,
        name,
        "--type=merge",
        "-p",
        '{"spec":{"code":"print(2)"}}',
        check=False,
    )
    assert patched.returncode != 0
    assert "immutable" in patched.stderr
    wait_coderun_final(k8s_cluster, op_namespace, name)
