"""CodeRun → the locked-down Job that runs it. Pure: a dict in, a dict out, no I/O.

The pod follows the restricted Pod Security Standard and more:

- non-root per-run uid/gid (also the fsGroup of the work dir), no privilege escalation,
  every capability dropped, seccomp RuntimeDefault, read-only root filesystem;
- no service-account token, no service links, no DNS (`dnsPolicy: None`, nameserver
  127.0.0.1), labels that the deny-all NetworkPolicy selects, and a gate in front of the
  runner in each container that waits until that policy is enforced (gate.py);
- `/work` and `/tmp` are size-limited tmpfs emptyDirs: bytes written there are charged to
  the writing container's memory, so filling "the disk" ends as MLE, never a full node disk;
- for compiled languages an init container writes the source and compiles it under the
  compile limits, sharing /work; the run container gets the run limits, so a compile step
  never loosens what the program gets (interpreted languages: no init container);
- the request reaches the runner as container env vars (the runner removes them from its
  environment before the program starts), so the trusted side writes nothing into a place
  the program controls;
- `backoffLimit: 0`, `restartPolicy: Never`, an `activeDeadlineSeconds` backstop well above
  the runner's own limits, and a TTL for the finished Job.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    InvalidRequest,
    Limits,
    RunRequest,
)
from coderun_sandbox.languages import Language, languages

from coderun_operator import resources as r
from coderun_operator.gate import CONNECT_TIMEOUT_S, gate_settings, gated_command
from coderun_operator.settings import OperatorSettings

WORKDIR = "/work"
ENTRYPOINT = ["python3", "-m", "coderun_sandbox"]


def request_of(coderun: Mapping[str, Any]) -> RunRequest:
    """The contract's request for a CodeRun's spec (not validated)."""
    spec = coderun.get("spec") or {}
    return RunRequest(
        language=str(spec.get("language", "")),
        code=str(spec.get("code", "")),
        input=str(spec.get("input") or ""),
        limits=Limits(
            time_limit_ms=int(spec.get("timeLimitMs") or DEFAULT_TIME_LIMIT_MS),
            memory_limit_mb=int(spec.get("memoryLimitMb") or DEFAULT_MEMORY_LIMIT_MB),
        ),
    )


def validate(coderun: Mapping[str, Any]) -> RunRequest:
    """The request, checked against the contract; raises InvalidRequest with what to fix.

    The CRD schema already bounds every field; this adds what a schema cannot say exactly
    (sizes in UTF-8 bytes rather than characters, no NUL bytes).
    """
    request = request_of(coderun)
    request.validate(list(languages()))
    return request


def run_uid(coderun: Mapping[str, Any], settings: OperatorSettings) -> int:
    """A uid of its own for each run, so per-uid kernel counts never mix two runs."""
    uid = str((coderun.get("metadata") or {}).get("uid") or "")
    digest = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big")
    return settings.uid_base + digest % settings.uid_count


def image_for(language: Language, settings: OperatorSettings) -> str:
    return settings.images.get(language.key) or settings.image_prefix + language.image


def deadline_seconds(request: RunRequest, settings: OperatorSettings) -> int:
    """The pod's activeDeadlineSeconds: a backstop, well above what the runner allows.

    The runner itself ends the compile and the run at their limits (each bounds CPU and wall
    time, with no grace), so this only catches a runner that hangs: the limits, plus each
    phase's gate at its longest (its deadline and one last connect), plus a margin for the
    runtime's start-up and the result line.
    """
    compiled = languages()[request.language].compiled
    budget_ms = (settings.compile_time_limit_ms if compiled else 0) + request.limits.time_limit_ms
    phases = 2 if compiled else 1
    gate_s = (
        math.ceil(settings.network_gate_timeout_seconds + CONNECT_TIMEOUT_S)
        if settings.network_gate
        else 0
    )
    return math.ceil(budget_ms / 1000) + gate_s * phases + settings.deadline_margin_seconds


def run_memory_limit_mb(request: RunRequest, settings: OperatorSettings) -> int:
    """The run container's memory limit: the program's limit plus the runner's allowance.

    The runner (PID 1) needs a little memory of its own next to the program. A program that
    goes beyond its own limit by more than the allowance is killed by the kernel (OOMKilled,
    MLE); one whose measured peak exceeds its limit by less is still classified MLE from the
    runner's measurement (classify.py), so the promised limit holds either way.
    """
    return request.limits.memory_limit_mb + settings.runner_memory_mb


def _security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _resources(memory_mb: int, settings: OperatorSettings) -> dict[str, Any]:
    return {
        "limits": {
            "cpu": settings.cpu_limit,
            "memory": f"{memory_mb}Mi",
            "ephemeral-storage": settings.ephemeral_storage_limit,
        },
        "requests": {
            "cpu": settings.cpu_request,
            "memory": f"{min(memory_mb, settings.memory_request_mb)}Mi",
            "ephemeral-storage": "1Mi",
        },
    }


def _env(pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _container(
    name: str,
    phase: str,
    image: str,
    env: Mapping[str, str],
    memory_mb: int,
    settings: OperatorSettings,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": gated_command(phase) if settings.network_gate else [*ENTRYPOINT, phase],
        "workingDir": WORKDIR,
        "env": _env(env) + (_gate_env(settings) if settings.network_gate else []),
        "resources": _resources(memory_mb, settings),
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "work", "mountPath": WORKDIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # The result is the log's one JSON line; if the runner dies before writing it, the
        # log's tail becomes the termination message we report.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _gate_env(settings: OperatorSettings) -> list[dict[str, Any]]:
    """What the network gate (gate.py) probes, the kubelet port of the pod's own node, and
    how long it tries."""
    return [
        {"name": "CODERUN_GATE_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "CODERUN_GATE_PORT", "value": str(settings.network_gate_port)},
        *_env(gate_settings(settings.network_gate_timeout_seconds)),
    ]


def sandbox_labels(coderun: Mapping[str, Any], language: str) -> dict[str, str]:
    name = str(coderun["metadata"]["name"])
    return {
        r.LABEL_SANDBOX: "true",
        r.LABEL_RUN: r.job_name(name),
        r.LABEL_LANGUAGE: language,
        r.LABEL_MANAGED_BY: r.MANAGED_BY,
        r.LABEL_COMPONENT: "sandbox",
    }


def build_job(
    coderun: Mapping[str, Any], settings: OperatorSettings | None = None
) -> dict[str, Any]:
    """The Job manifest for a CodeRun. Raises InvalidRequest for a spec that cannot run."""
    settings = settings or OperatorSettings()
    request = validate(coderun)
    meta = coderun["metadata"]
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "default")
    language = languages()[request.language]
    image = image_for(language, settings)
    uid = run_uid(coderun, settings)
    common = {
        "CODERUN_LANGUAGE": request.language,
        "CODERUN_CODE": request.code,
        "CODERUN_TIME_LIMIT_MS": str(request.limits.time_limit_ms),
        "CODERUN_MEMORY_LIMIT_MB": str(request.limits.memory_limit_mb),
        "CODERUN_COMPILE_TIME_LIMIT_MS": str(settings.compile_time_limit_ms),
    }
    # Compiled languages: the init container writes the source into /work and compiles it
    # under the compile limits. Interpreted ones: the run container writes it itself.
    init_containers = []
    if language.compiled:
        init_containers.append(
            _container(
                r.COMPILE_CONTAINER,
                "compile",
                image,
                common,
                settings.compile_memory_limit_mb + settings.runner_memory_mb,
                settings,
            )
        )
    run_container = _container(
        r.RUN_CONTAINER,
        "run",
        image,
        {**common, "CODERUN_INPUT": request.input},
        run_memory_limit_mb(request, settings),
        settings,
    )
    labels = sandbox_labels(coderun, request.language)
    deadline = deadline_seconds(request, settings)
    annotations = {r.ANNOTATION_CODERUN: name, r.ANNOTATION_CODERUN_UID: str(meta["uid"])}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": deadline,
        "terminationGracePeriodSeconds": 1,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "shareProcessNamespace": False,
        "dnsPolicy": "None",
        "dnsConfig": {"nameservers": ["127.0.0.1"], "searches": [], "options": []},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "supplementalGroups": [],
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": init_containers,
        "containers": [run_container],
        "volumes": [
            {
                "name": "work",
                "emptyDir": {"medium": "Memory", "sizeLimit": f"{settings.workdir_size_mb}Mi"},
            },
            {
                "name": "tmp",
                "emptyDir": {"medium": "Memory", "sizeLimit": f"{settings.tmp_size_mb}Mi"},
            },
        ],
    }
    if settings.runtime_class_name:
        pod_spec["runtimeClassName"] = settings.runtime_class_name
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in settings.tolerations]
    if settings.priority_class_name:
        pod_spec["priorityClassName"] = settings.priority_class_name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": r.job_name(name),
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": r.API_VERSION,
                    "kind": r.KIND,
                    "name": name,
                    "uid": str(meta["uid"]),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            # Deadline on the Job too, a little later than the pod's, so that even a pod
            # that never starts cannot keep the Job alive forever.
            "activeDeadlineSeconds": deadline + settings.start_grace_seconds + 30,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": dict(annotations),
                },
                "spec": pod_spec,
            },
        },
    }


__all__ = ["InvalidRequest", "build_job", "request_of", "validate"]
