"""The committed CRD is the generator's output, and agrees with the shared contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from coderun_operator import crd
from coderun_operator import resources as r
from coderun_sandbox import contract
from coderun_sandbox.languages import supported

CRD_PATH = Path(__file__).resolve().parents[3] / crd.CRD_FILE


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return data


def test_committed_crd_is_generated_from_the_contract() -> None:
    assert CRD_PATH.read_text() == crd.render(), (
        "regenerate: python -m coderun_operator.crd > crds/coderun.dev_coderuns.yaml"
    )


def test_crd_names() -> None:
    spec = load()["spec"]
    assert spec["group"] == "coderun.dev"
    assert spec["names"]["kind"] == "CodeRun"
    assert spec["names"]["plural"] == "coderuns"
    assert spec["names"]["shortNames"] == ["crun"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}


def test_the_category_is_no_resource_name() -> None:
    # kubectl resolves a category before a singular name: `kubectl get coderun NAME` failed
    # with "you must specify only one resource" once the category held two kinds.
    docs = [yaml.safe_load(crd.render()), yaml.safe_load(crd.render_pools())]
    names = {
        name
        for doc in docs
        for key in ("plural", "singular", "kind")
        for name in [doc["spec"]["names"][key].lower()]
    } | {short for doc in docs for short in doc["spec"]["names"]["shortNames"]}
    for doc in docs:
        assert doc["spec"]["names"]["categories"] == [r.CATEGORY]
    assert r.CATEGORY not in names, names


def test_schema_bounds_match_the_contract() -> None:
    (version,) = load()["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    spec = schema["spec"]["properties"]
    assert spec["language"]["enum"] == supported()
    assert spec["code"]["maxLength"] == contract.MAX_CODE_BYTES
    assert spec["input"]["maxLength"] == contract.MAX_INPUT_BYTES
    assert spec["timeLimitMs"]["minimum"] == contract.MIN_TIME_LIMIT_MS
    assert spec["timeLimitMs"]["maximum"] == contract.MAX_TIME_LIMIT_MS
    assert spec["timeLimitMs"]["default"] == contract.DEFAULT_TIME_LIMIT_MS
    assert spec["memoryLimitMb"]["minimum"] == contract.MIN_MEMORY_LIMIT_MB
    assert spec["memoryLimitMb"]["maximum"] == contract.MAX_MEMORY_LIMIT_MB
    assert spec["memoryLimitMb"]["default"] == contract.DEFAULT_MEMORY_LIMIT_MB
    status = schema["status"]["properties"]
    assert status["verdict"]["enum"] == ["Success", *[str(e) for e in contract.ErrorType]]
    result = status["result"]["properties"]
    assert result["sandboxErrorType"]["enum"] == [str(e) for e in contract.ErrorType]
    # Every field the runner reports has a place in status.result.
    sample = contract.RunResult(status=contract.Status.SUCCESS, test_cases=()).to_json_dict()
    assert set(sample) == set(result)
    # Judge mode: every field of a case's run too, and the cases' bounds.
    case = contract.CaseResult(case_index=0, status=contract.CaseStatus.SUCCESS)
    assert set(case.to_json_dict()) == set(result["testCases"]["items"]["properties"])
    assert spec["testCases"]["maxItems"] == result["testCases"]["maxItems"] == 64
    assert spec["testCases"]["items"]["properties"]["input"]["maxLength"] == (
        contract.MAX_INPUT_BYTES
    )
    assert "expectedOutput" not in spec["testCases"]["items"]["properties"]
    assert set(r.VERDICT_REASONS) == set(r.VERDICTS)


def test_printer_columns_answer_the_admins_first_question() -> None:
    (version,) = load()["spec"]["versions"]
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    assert names[:7] == ["Language", "Status", "Verdict", "Exit", "Time(ms)", "Start", "Age"]
    start = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["start"]
    assert start["enum"] == ["warm", "cold"]


def test_spec_account_is_immutable_and_written_by_the_api() -> None:
    from coderun_api.executors.kubernetes import coderun_manifest
    from coderun_api.models import Job

    (version,) = load()["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    account = spec["properties"]["account"]
    assert account["type"] == "string" and account["description"]
    assert {"rule": "self == oldSelf", "message": "spec.account is immutable"} in account[
        "x-kubernetes-validations"
    ]
    # The whole spec is immutable too, which also refuses adding or removing an account.
    assert spec["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"

    job = Job(id="a" * 24, account_id=42, language="python", code="print(1)")
    manifest = coderun_manifest(job, "runs")
    assert manifest["spec"]["account"] == r.account_label(42)
    assert set(manifest["spec"]) <= set(spec["properties"])


POOL_CRD_PATH = Path(__file__).resolve().parents[3] / crd.POOL_CRD_FILE


def test_committed_pool_crd_is_generated() -> None:
    assert POOL_CRD_PATH.read_text() == crd.render_pools(), "regenerate: make crds"


def test_pool_crd_scales_like_a_workload_and_answers_kubectl_get() -> None:
    spec = yaml.safe_load(POOL_CRD_PATH.read_text())["spec"]
    assert spec["names"]["kind"] == "CodeRunPool"
    assert spec["names"]["shortNames"] == ["crpool"]
    assert spec["scope"] == "Namespaced"
    (version,) = spec["versions"]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    assert names[:6] == ["Language", "Desired", "Ready", "Starting", "Claimed", "Age"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    pool_spec = schema["spec"]["properties"]
    assert pool_spec["language"]["enum"] == supported()
    assert (pool_spec["replicas"]["minimum"], pool_spec["replicas"]["maximum"]) == (0, 64)
    assert pool_spec["maxIdleSeconds"]["default"] == 600
    assert set(schema["status"]["properties"]) >= {
        "replicas",
        "ready",
        "starting",
        "claimed",
        "selector",
        "conditions",
        "observedGeneration",
    }
