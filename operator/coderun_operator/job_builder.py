"""CodeRun → the locked-down Job that runs it. Pure: a dict in, a dict out, no I/O.

The pod follows the restricted Pod Security Standard and more:

- non-root per-run uid/gid (also the fsGroup of the work dir), no privilege escalation,
  every capability dropped, seccomp RuntimeDefault, read-only root filesystem;
- no service-account token, no service links, no DNS (`dnsPolicy: None`, nameserver
  127.0.0.1), labels that the deny-all NetworkPolicy selects, and a gate in front of the
  runner in each container that waits until that policy is enforced (gate.py);
- `/work` and `/tmp` are size-limited tmpfs emptyDirs: bytes written there are charged to
  the writing container's memory, so filling "the disk" ends as MLE, never a full node disk;
- for compiled languages a compile container writes the source and compiles it under the
  compile limits, sharing /work with the run container, which has the run limits: a compile
  step never loosens what the program gets (interpreted languages: the run container only).
  Both start together; the operator gives compile its request first and run its request
  once compile reported success (a pool pod so has both past their gates before a claim);
- no request in the pod spec at all: each container waits for it on stdin (`stdin`,
  `stdinOnce`), written by the operator through pods/attach (the runner's __main__), so
  the trusted side writes nothing into a place the program controls, for a pool pod made
  minutes before its run as for a cold one;
- `backoffLimit: 0`, `restartPolicy: Never`, an `activeDeadlineSeconds` backstop well above
  the runner's own limits, and a TTL for the finished Job.

`build_job` makes a CodeRun's own (cold) Job; `build_pool_job` a pool's warm one: the same
pod, labelled for its pool, with a startupProbe that turns true once every container is
past its gate and waits for its request, spread across nodes, and a deadline long enough
to sit idle (lowered to the run's at the claim, claim.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    SANDBOX_SCRATCH_DIR,
    SANDBOX_WORKDIR,
    InvalidRequest,
    RunLimits,
    RunRequest,
    SandboxEnv,
    cases_wall_budget_ms,
)
from coderun_sandbox.languages import Language, languages

from coderun_operator import resources as r
from coderun_operator.gate import CONNECT_TIMEOUT_S, gate_env, gated_command
from coderun_operator.settings import OperatorSettings

ENTRYPOINT = ["python3", "-m", "coderun_sandbox"]


def request_of(coderun: Mapping[str, Any]) -> RunRequest:
    """The contract's request for a CodeRun's spec (not validated)."""
    spec = coderun.get("spec") or {}
    return RunRequest(
        language=str(spec.get("language", "")),
        code=str(spec.get("code", "")),
        input=str(spec.get("input") or ""),
        limits=RunLimits(
            time_limit_ms=int(spec.get("timeLimitMs") or DEFAULT_TIME_LIMIT_MS),
            memory_limit_mb=int(spec.get("memoryLimitMb") or DEFAULT_MEMORY_LIMIT_MB),
        ),
        # Judge mode: the cases' inputs (a CodeRun never holds an expected output).
        cases=tuple(str((case or {}).get("input") or "") for case in spec.get("testCases") or ()),
        stop_on_failure=bool(spec.get("stopOnFirstFailure")),
        arguments=tuple(str(a) for a in spec.get("commandLineArguments") or ()),
        compiler_options=tuple(str(o) for o in spec.get("compilerOptions") or ()),
    )


def request_for_pod(coderun: Mapping[str, Any], settings: OperatorSettings) -> RunRequest:
    """What the runner gets on stdin: the spec's request with this operator's compile limits
    (the compile container's memory limit is built from the same settings)."""
    request = request_of(coderun)
    return request._replace(
        limits=request.limits._replace(
            compile_time_limit_ms=settings.compile_time_limit_ms,
            compile_memory_limit_mb=settings.compile_memory_limit_mb,
        )
    )


def has_default_limits(request: RunRequest) -> bool:
    """Whether a pool pod (built for the promised limits) may serve this request."""
    return (
        request.limits.time_limit_ms == DEFAULT_TIME_LIMIT_MS
        and request.limits.memory_limit_mb == DEFAULT_MEMORY_LIMIT_MB
    )


def validate(coderun: Mapping[str, Any]) -> RunRequest:
    """The request, checked against the contract; raises InvalidRequest with what to fix.

    The CRD schema already bounds every field; this adds what a schema cannot say exactly
    (sizes in UTF-8 bytes rather than characters, no NUL bytes).
    """
    request = request_of(coderun)
    request.validate(languages())
    request.to_wire()  # raises InvalidRequest if it cannot travel to the pod
    return request


def run_uid(coderun: Mapping[str, Any], settings: OperatorSettings) -> int:
    """A uid of its own for each run, so per-uid kernel counts never mix two runs."""
    return uid_for(str((coderun.get("metadata") or {}).get("uid") or ""), settings)


def uid_for(token: str, settings: OperatorSettings) -> int:
    """A uid from `token` (a CodeRun's uid; a pool Job's own random name: one run per pod)."""
    digest = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big")
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
    run_ms = request.limits.time_limit_ms
    if request.cases:  # judge mode: the cases' shared budget, and the one that overran it
        run_ms += cases_wall_budget_ms(len(request.cases), request.limits.time_limit_ms)
    budget_ms = (settings.compile_time_limit_ms if compiled else 0) + run_ms
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
    runner's measurement (pod_verdict.py), so the promised limit holds either way.
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


def ready_file(container: str) -> str:
    """Where a container's runner marks that it waits for its request (the startupProbe's
    file). One per container: the containers of a pod share /tmp."""
    return f"{SANDBOX_SCRATCH_DIR}/.coderun-ready-{container}"


def _container(
    name: str,
    phase: str,
    image: str,
    memory_mb: int,
    settings: OperatorSettings,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": gated_command(phase) if settings.network_gate else [*ENTRYPOINT, phase],
        "workingDir": SANDBOX_WORKDIR,
        # The request arrives here, written once by the operator (pods/attach); the runner
        # reads exactly one framed request, then lets go of the stream.
        "stdin": True,
        "stdinOnce": True,
        "tty": False,
        "env": _env(SandboxEnv(ready_file=ready_file(name)).to_env())
        + (
            gate_env(settings.network_gate_port, settings.network_gate_timeout_seconds)
            if settings.network_gate
            else []
        ),
        "resources": _resources(memory_mb, settings),
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "work", "mountPath": SANDBOX_WORKDIR},
            {"name": "tmp", "mountPath": SANDBOX_SCRATCH_DIR},
        ],
        # The result is the log's one JSON line; if the runner dies before writing it, the
        # log's tail becomes the termination message we report.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def sandbox_labels(coderun: Mapping[str, Any], language: str) -> dict[str, str]:
    name = str(coderun["metadata"]["name"])
    return _labels(r.job_name(name, r.attempt_of(coderun)), language)


def _labels(job_name: str, language: str) -> dict[str, str]:
    return {
        r.LABEL_SANDBOX: "true",
        r.LABEL_RUN: job_name,
        r.LABEL_LANGUAGE: language,
        r.LABEL_MANAGED_BY: r.MANAGED_BY,
        r.LABEL_COMPONENT: "sandbox",
    }


def _containers(language: Language, settings: OperatorSettings) -> list[dict[str, Any]]:
    """Compiled languages: compile (compile limits) and run (run limits), sharing /work."""
    image = image_for(language, settings)
    containers = []
    if language.compiled:
        containers.append(
            _container(
                r.COMPILE_CONTAINER,
                "compile",
                image,
                settings.compile_memory_limit_mb + settings.runner_memory_mb,
                settings,
            )
        )
    run_memory = DEFAULT_MEMORY_LIMIT_MB + settings.runner_memory_mb
    containers.append(_container(r.RUN_CONTAINER, "run", image, run_memory, settings))
    return containers


def _pod_spec(
    language: Language,
    request: RunRequest | None,
    uid: int,
    deadline: int,
    settings: OperatorSettings,
) -> dict[str, Any]:
    containers = _containers(language, settings)
    if request is not None:
        memory_mb = run_memory_limit_mb(request, settings)
        containers[-1]["resources"] = _resources(memory_mb, settings)
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
        "containers": containers,
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
    return pod_spec


def _job(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner: Mapping[str, Any],
    pod_spec: Mapping[str, Any],
    job_deadline: int,
    settings: OperatorSettings,
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [dict(owner)],
        },
        "spec": {
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            # Deadline on the Job too, a little later than the pod's, so that even a pod
            # that never starts cannot keep the Job alive forever.
            "activeDeadlineSeconds": job_deadline,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "template": {
                "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
                "spec": dict(pod_spec),
            },
        },
    }


def coderun_owner(coderun: Mapping[str, Any]) -> dict[str, Any]:
    meta = coderun["metadata"]
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "name": str(meta["name"]),
        "uid": str(meta["uid"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def coderun_annotations(coderun: Mapping[str, Any]) -> dict[str, str]:
    """The annotations naming the CodeRun a sandbox pod runs (on its Job and pod), and which
    delivery attempt of it."""
    meta = coderun["metadata"]
    return {
        r.ANNOTATION_CODERUN: str(meta["name"]),
        r.ANNOTATION_CODERUN_UID: str(meta["uid"]),
        r.ANNOTATION_ATTEMPT: str(r.attempt_of(coderun)),
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
    deadline = deadline_seconds(request, settings)
    pod_spec = _pod_spec(language, request, run_uid(coderun, settings), deadline, settings)
    return _job(
        r.job_name(name, r.attempt_of(coderun)),
        namespace,
        sandbox_labels(coderun, request.language),
        coderun_annotations(coderun),
        coderun_owner(coderun),
        pod_spec,
        deadline + settings.start_grace_seconds + 30,
        settings,
    )


# A pool pod idles at most maxIdleSeconds before it is recycled; the sweep that recycles it
# may come this much later, and a claim at the last moment still needs its run's deadline.
POOL_IDLE_SLACK_SECONDS = 120


def pool_deadline_seconds(language: str, max_idle_seconds: int, settings: OperatorSettings) -> int:
    """A pool pod's activeDeadlineSeconds while idle: it must never be the reason an idle
    pod dies (recycling at maxIdleSeconds is), yet bound a pod the operator forgot. A claim
    lowers it to the pod's age plus the run's own deadline (claim.py)."""
    run = deadline_seconds(RunRequest(language=language, code="x"), settings)
    return max_idle_seconds + POOL_IDLE_SLACK_SECONDS + run


def template_hash(language: str, settings: OperatorSettings) -> str:
    """What a pool pod is made of: the settings (images, limits, gate) and its language."""
    document = json.dumps([language, repr(settings)], sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def pool_startup_probe(container: str, settings: OperatorSettings) -> dict[str, Any]:
    """True once the container's runner waits for its request (past the network gate): the
    kubelet's own check, so pool readiness needs no log stream. It stops probing then."""
    gate_s = settings.network_gate_timeout_seconds if settings.network_gate else 0
    return {
        "exec": {"command": ["test", "-e", ready_file(container)]},
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        # Past the gate's own deadline the gate has failed closed (the container ended).
        "failureThreshold": gate_s + settings.start_grace_seconds,
    }


def build_pool_job(
    pool: Mapping[str, Any], job_name: str, settings: OperatorSettings
) -> dict[str, Any]:
    """A warm Job of a CodeRunPool: today's sandbox pod with no request yet, owned by the
    pool until a claim hands it to a CodeRun."""
    meta = pool["metadata"]
    spec = pool.get("spec") or {}
    language_key = str(spec.get("language") or "")
    language = languages()[language_key]
    max_idle = int(spec.get("maxIdleSeconds") or DEFAULT_MAX_IDLE_SECONDS)
    deadline = pool_deadline_seconds(language_key, max_idle, settings)
    pod_spec = _pod_spec(language, None, uid_for(job_name, settings), deadline, settings)
    for container in pod_spec["containers"]:
        container["startupProbe"] = pool_startup_probe(str(container["name"]), settings)
    pool_name = str(meta["name"])
    pod_spec["topologySpreadConstraints"] = [
        {
            # One pool's pods across nodes, so that one node's loss empties no pool. Soft:
            # a single node still takes them all.
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {r.LABEL_POOL: pool_name}},
        }
    ]
    labels = {
        **_labels(job_name, language_key),
        r.LABEL_POOL: pool_name,
        r.LABEL_WARM: r.WARM_IDLE,
    }
    owner = {
        "apiVersion": r.API_VERSION,
        "kind": r.POOL_KIND,
        "name": pool_name,
        "uid": str(meta["uid"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    annotations = {r.ANNOTATION_TEMPLATE: template_hash(language_key, settings)}
    return _job(
        job_name,
        str(meta.get("namespace") or "default"),
        labels,
        annotations,
        owner,
        pod_spec,
        deadline + settings.start_grace_seconds + 30,
        settings,
    )


DEFAULT_MAX_IDLE_SECONDS = 600


__all__ = ["InvalidRequest", "build_job", "build_pool_job", "request_of", "validate"]
