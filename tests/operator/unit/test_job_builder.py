"""The Job builder: a locked-down pod, honest limits, deterministic names. No cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from coderun_operator import resources as r
from coderun_operator.job_builder import build_job, run_uid
from coderun_operator.settings import OperatorSettings
from coderun_sandbox.contract import MAX_REQUEST_WIRE_BYTES, InvalidRequest, RunRequest
from coderun_sandbox.languages import languages

from .factories import coderun


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def all_containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(job)
    assert "initContainers" not in spec
    containers: list[dict[str, Any]] = spec["containers"]
    return containers


def container(job: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in pod_spec(job)["containers"] if c["name"] == name]
    (one,) = found
    return one


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_job_is_owned_by_its_coderun_and_named_after_it() -> None:
    job = build_job(coderun("abc123"))
    assert job["metadata"]["name"] == "crun-abc123"
    assert build_job(coderun("abc123"))["metadata"]["name"] == job["metadata"]["name"]
    (owner,) = job["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "coderun.dev/v1alpha1",
        "kind": "CodeRun",
        "name": "abc123",
        "uid": "uid-abc123",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert job["metadata"]["namespace"] == "runs"


def test_a_redelivered_run_gets_a_new_job_that_names_its_attempt() -> None:
    body = coderun("abc123")
    first = build_job(body)
    body["status"] = {"redeliveries": 1}
    second = build_job(body)
    # Another name (the first Job may still be being deleted), the same owner, and the
    # attempt on the pod so events of the first pod cannot decide the run.
    assert second["metadata"]["name"] == "crun-abc123-r1" != first["metadata"]["name"]
    assert second["metadata"]["ownerReferences"] == first["metadata"]["ownerReferences"]
    pod_meta = second["spec"]["template"]["metadata"]
    assert pod_meta["annotations"][r.ANNOTATION_ATTEMPT] == "1"
    assert first["spec"]["template"]["metadata"]["annotations"][r.ANNOTATION_ATTEMPT] == "0"
    assert pod_meta["labels"][r.LABEL_RUN] == "crun-abc123-r1"
    assert len(r.job_name("a" * 200, 2)) <= r.MAX_JOB_NAME


def test_long_or_dotted_names_still_give_valid_job_names() -> None:
    long_name = "a" * 200
    name = r.job_name(long_name)
    assert len(name) <= r.MAX_JOB_NAME
    assert name != r.job_name("a" * 199)
    assert "." not in r.job_name("my.run.1")


def test_pod_follows_the_restricted_pod_security_standard() -> None:
    job = build_job(coderun())
    spec = pod_spec(job)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] >= 1000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in all_containers(job):
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "privileged" not in sc or sc["privileged"] is False


def test_pod_has_no_token_no_service_links_no_dns_no_host_namespaces() -> None:
    spec = pod_spec(build_job(coderun()))
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"]["nameservers"] == ["127.0.0.1"]
    assert not spec["hostNetwork"] and not spec["hostPID"] and not spec["hostIPC"]


def test_job_never_retries_and_has_backstops() -> None:
    job = build_job(coderun(language="cpp", code="int main(){}", timeLimitMs=3000))
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == OperatorSettings().job_ttl_seconds
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    # Well above compile (10 s) + run (3 s) + both gates at their longest (30 s + a connect).
    assert spec["activeDeadlineSeconds"] >= 10 + 3 + 2 * 32 + 5
    assert job["spec"]["activeDeadlineSeconds"] > spec["activeDeadlineSeconds"]


def test_run_limits_are_the_programs_plus_a_fixed_runner_allowance() -> None:
    settings = OperatorSettings(runner_memory_mb=32, compile_memory_limit_mb=1024)
    job = build_job(coderun(language="cpp", code="int main(){}", memoryLimitMb=256), settings)
    compile_c, run_c = container(job, "compile"), container(job, "run")
    assert run_c["resources"]["limits"]["memory"] == "288Mi"
    assert compile_c["resources"]["limits"]["memory"] == "1056Mi"
    for one in (compile_c, run_c):
        limits = one["resources"]["limits"]
        assert limits["cpu"] == "1"
        assert "ephemeral-storage" in limits
    custom = build_job(coderun(memoryLimitMb=100), settings)
    assert container(custom, "run")["resources"]["limits"]["memory"] == "132Mi"


def test_compiled_languages_compile_in_their_own_container_sharing_only_the_work_dir() -> None:
    for key, language in languages().items():
        code = "public class Main { public static void main(String[] a) {} }"
        job = build_job(coderun(language=key, code=code))
        names = [c["name"] for c in all_containers(job)]
        run_c = container(job, "run")
        assert run_c["command"][-1] == "run"
        assert run_c["image"] == language.image
        mounts = {m["mountPath"]: m["name"] for m in run_c["volumeMounts"]}
        assert mounts == {"/work": "work", "/tmp": "tmp"}
        if not language.compiled:
            assert names == ["run"]
            continue
        assert names == ["compile", "run"]
        compile_c = container(job, "compile")
        assert compile_c["command"][-1] == "compile"
        assert compile_c["image"] == run_c["image"]
        assert compile_c["volumeMounts"] == run_c["volumeMounts"]


def test_work_dir_is_a_size_limited_tmpfs() -> None:
    volumes = {v["name"]: v for v in pod_spec(build_job(coderun()))["volumes"]}
    assert volumes["work"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert volumes["tmp"]["emptyDir"]["medium"] == "Memory"
    assert set(volumes) == {"work", "tmp"}


def test_no_request_is_in_the_pod_spec_each_container_waits_on_stdin() -> None:
    secret = "int main(){ return 4242; }"
    job = build_job(coderun(language="cpp", code=secret, input="input-4242\n"))
    assert "4242" not in json.dumps(job)
    for one in all_containers(job):
        assert one["stdin"] is True and one["stdinOnce"] is True and one["tty"] is False
        assert not any(e["name"] in ("CODERUN_CODE", "CODERUN_INPUT") for e in one["env"])
        ready = {e["name"]: e.get("value") for e in one["env"]}["CODERUN_READY_FILE"]
        assert ready == f"/tmp/.coderun-ready-{one['name']}"


def test_a_request_too_large_for_the_wire_is_refused_before_any_job() -> None:
    body = coderun()
    body["spec"]["code"] = "x" * 60_000
    body["spec"]["input"] = "y" * 60_000
    build_job(body)  # both within their own bounds, and the wire's
    with pytest.raises(InvalidRequest):
        validate_wire = RunRequest("python", "x", "z" * (MAX_REQUEST_WIRE_BYTES + 1))
        validate_wire.to_wire()


def test_labels_select_the_pod_for_network_policy() -> None:
    job = build_job(coderun())
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels[r.LABEL_SANDBOX] == "true"
    assert labels[r.LABEL_LANGUAGE] == "python"
    assert labels[r.LABEL_MANAGED_BY] == r.MANAGED_BY
    assert job["spec"]["template"]["metadata"]["annotations"][r.ANNOTATION_CODERUN] == "abc123"


def test_each_run_gets_its_own_uid_in_the_configured_range() -> None:
    settings = OperatorSettings(uid_base=100_000, uid_count=1000)
    uids = {run_uid(coderun(f"run{i}"), settings) for i in range(50)}
    assert len(uids) > 40
    assert all(100_000 <= uid < 101_000 for uid in uids)
    spec = pod_spec(build_job(coderun("run1"), settings))
    assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsUser"]


def test_optional_settings_reach_the_pod() -> None:
    settings = OperatorSettings(
        runtime_class_name="gvisor",
        node_selector={"coderun.dev/sandbox-node": "true"},
        tolerations=[{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
        images={"python": "registry.local/py:1"},
    )
    spec = pod_spec(build_job(coderun(), settings))
    assert spec["runtimeClassName"] == "gvisor"
    assert spec["nodeSelector"] == {"coderun.dev/sandbox-node": "true"}
    assert spec["tolerations"][0]["key"] == "sandbox"
    assert spec["containers"][0]["image"] == "registry.local/py:1"
    assert "runtimeClassName" not in pod_spec(build_job(coderun()))


@pytest.mark.parametrize(
    "spec",
    [
        {"language": "cobol"},
        {"code": ""},
        {"code": "é" * 40_000},  # 80 000 bytes of UTF-8: over 64 KiB though under in characters
        {"input": "\x00"},
        {"timeLimitMs": 10},
        {"memoryLimitMb": 100_000},
    ],
)
def test_invalid_specs_are_refused_with_a_reason(spec: dict[str, Any]) -> None:
    body = coderun()
    body["spec"].update(spec)
    with pytest.raises(InvalidRequest):
        build_job(body)


def test_every_container_starts_behind_the_network_gate() -> None:
    job = build_job(coderun(language="cpp", code="int main(){}"))
    for container in all_containers(job):
        assert container["command"][:4] == ["python3", "-I", "-S", "-c"]
        assert container["command"][-1] in ("compile", "run")
        host = {e["name"]: e for e in container["env"]}["CODERUN_GATE_HOST"]
        assert host["valueFrom"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    ungated = build_job(coderun(), OperatorSettings(network_gate=False))
    (run_c,) = pod_spec(ungated)["containers"]
    assert run_c["command"] == ["python3", "-m", "coderun_sandbox", "run"]
