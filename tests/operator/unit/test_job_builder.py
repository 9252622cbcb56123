"""The Job builder: a locked-down pod, honest limits, deterministic names. No cluster."""

from __future__ import annotations

from typing import Any

import pytest
from coderun_operator import resources as r
from coderun_operator.job_builder import build_job, run_uid
from coderun_operator.settings import OperatorSettings
from coderun_sandbox.contract import InvalidRequest
from coderun_sandbox.languages import languages

from .factories import coderun


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def all_containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(job)
    return [*spec["initContainers"], *spec["containers"]]


def init(job: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in pod_spec(job)["initContainers"] if c["name"] == name]
    (container,) = found
    return container


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
    spec = pod_spec(job)
    compile_c = init(job, "compile")
    (run_c,) = spec["containers"]
    assert run_c["resources"]["limits"]["memory"] == "288Mi"
    assert compile_c["resources"]["limits"]["memory"] == "1056Mi"
    for container in (compile_c, run_c):
        limits = container["resources"]["limits"]
        assert limits["cpu"] == "1"
        assert "ephemeral-storage" in limits
    assert env_of(run_c)["CODERUN_MEMORY_LIMIT_MB"] == "256"
    assert env_of(run_c)["CODERUN_TIME_LIMIT_MS"] == "3000"


def test_compiled_languages_compile_in_an_init_container_sharing_only_the_work_dir() -> None:
    for key, language in languages().items():
        code = "public class Main { public static void main(String[] a) {} }"
        job = build_job(coderun(language=key, code=code))
        spec = pod_spec(job)
        (run_c,) = spec["containers"]
        assert run_c["command"][-1] == "run"
        assert run_c["image"] == language.image
        mounts = {m["mountPath"]: m["name"] for m in run_c["volumeMounts"]}
        assert mounts == {"/work": "work", "/tmp": "tmp"}
        names = [c["name"] for c in spec["initContainers"]]
        if not language.compiled:
            assert names == []
            continue
        assert names == ["compile"]
        compile_c = init(job, "compile")
        assert compile_c["command"][-1] == "compile"
        assert compile_c["image"] == run_c["image"]
        assert compile_c["volumeMounts"] == run_c["volumeMounts"]


def test_work_dir_is_a_size_limited_tmpfs() -> None:
    volumes = {v["name"]: v for v in pod_spec(build_job(coderun()))["volumes"]}
    assert volumes["work"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert volumes["tmp"]["emptyDir"]["medium"] == "Memory"
    assert set(volumes) == {"work", "tmp"}


def test_code_and_input_travel_as_env_and_input_only_to_the_run_step() -> None:
    job = build_job(coderun(language="cpp", code="int main(){}", input="42\n"))
    compile_c = init(job, "compile")
    (run_c,) = pod_spec(job)["containers"]
    assert env_of(compile_c)["CODERUN_CODE"] == "int main(){}"
    assert "CODERUN_INPUT" not in env_of(compile_c)
    assert env_of(run_c)["CODERUN_INPUT"] == "42\n"
    assert env_of(run_c)["CODERUN_CODE"] == "int main(){}"
    assert env_of(run_c)["CODERUN_LANGUAGE"] == "cpp"


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
