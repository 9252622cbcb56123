"""The operator's settings: read once from `CODERUN_OPERATOR_*` variables, applied to kopf in
the one `@kopf.on.startup` handler.

Every setting is documented in docs/operator.md.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import kopf
from coderun_sandbox.contract import DEFAULT_COMPILE_MEMORY_LIMIT_MB, DEFAULT_COMPILE_TIME_LIMIT_MS

from coderun_operator.resources import GROUP

PREFIX = "CODERUN_OPERATOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, default)


def _int(name: str, default: int, low: int = 0) -> int:
    value = int(_env(name, str(default)))
    if value < low:
        raise ValueError(f"{PREFIX}{name} must be at least {low}, not {value}")
    return value


def _json(name: str, default: Any) -> Any:
    raw = _env(name, "")
    return json.loads(raw) if raw.strip() else default


@dataclass(frozen=True)
class OperatorSettings:
    # Admission: at most this many CodeRuns have a Job at once; the rest wait, oldest first.
    max_concurrent_runs: int = 4
    # Of those, at most this many for one account (spec.account; CodeRuns without one share
    # one per namespace), the slots shared in turn between accounts (fair_share.py). Half
    # the default cap: one account's backlog always leaves two slots to the others.
    max_running_per_account: int = 2
    # Finished CodeRuns are deleted this long after they finished (the API keeps the history).
    retention_seconds: int = 3600
    # A pod that cannot pull its image or be scheduled for this long ends as SandboxError.
    start_grace_seconds: int = 60
    # The finished Job (and its pod and log) is kept this long for inspection.
    job_ttl_seconds: int = 300
    # activeDeadlineSeconds = compile + run + the gates + this margin (a backstop only: the
    # runner enforces the real limits, with no grace, and reports TLE itself).
    deadline_margin_seconds: int = 30
    # Memory the runner itself needs next to the program, added to the run container's limit.
    runner_memory_mb: int = 32
    # Compile step (init container) limits: looser than the run's, never applied to it.
    compile_time_limit_ms: int = DEFAULT_COMPILE_TIME_LIMIT_MS
    compile_memory_limit_mb: int = DEFAULT_COMPILE_MEMORY_LIMIT_MB
    # CPU: the limit holds a program to one core; the request is small so that many short
    # runs fit on a small node (the concurrency cap is what bounds the load).
    cpu_limit: str = "1"
    cpu_request: str = "50m"
    memory_request_mb: int = 64
    # Size of the tmpfs work dir (/work) and /tmp; both count against the memory limit.
    workdir_size_mb: int = 64
    tmp_size_mb: int = 16
    # Writable-layer cap (the root filesystem is read-only; logs count here).
    ephemeral_storage_limit: str = "64Mi"
    # Programs run as a per-run uid in [uid_base, uid_base + uid_count).
    uid_base: int = 2_000_000
    uid_count: int = 1_000_000
    image_pull_policy: str = "IfNotPresent"
    # Image per language, overriding the language table (JSON object), and a registry prefix.
    images: dict[str, str] = field(default_factory=dict)
    image_prefix: str = ""
    runtime_class_name: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    priority_class_name: str = ""
    # Hold each sandbox pod until the deny-all NetworkPolicy visibly holds (gate.py), by
    # probing the kubelet port of its node; fail closed after the timeout.
    network_gate: bool = True
    network_gate_port: int = 10250
    network_gate_timeout_seconds: int = 30
    # How often the operator re-checks pending pods, queued runs and retention.
    sweep_interval_seconds: float = 2.0
    metrics_port: int = 9090
    liveness_port: int = 8080

    @classmethod
    def from_env(cls) -> OperatorSettings:
        return cls(
            max_concurrent_runs=_int("MAX_CONCURRENT_RUNS", cls.max_concurrent_runs, 1),
            max_running_per_account=_int("MAX_RUNNING_PER_ACCOUNT", cls.max_running_per_account, 1),
            retention_seconds=_int("RETENTION_SECONDS", cls.retention_seconds, 0),
            start_grace_seconds=_int("START_GRACE_SECONDS", cls.start_grace_seconds, 1),
            job_ttl_seconds=_int("JOB_TTL_SECONDS", cls.job_ttl_seconds, 0),
            deadline_margin_seconds=_int("DEADLINE_MARGIN_SECONDS", cls.deadline_margin_seconds, 5),
            runner_memory_mb=_int("RUNNER_MEMORY_MB", cls.runner_memory_mb, 16),
            compile_time_limit_ms=_int("COMPILE_TIME_LIMIT_MS", cls.compile_time_limit_ms, 1000),
            compile_memory_limit_mb=_int(
                "COMPILE_MEMORY_LIMIT_MB", cls.compile_memory_limit_mb, 64
            ),
            cpu_limit=_env("CPU_LIMIT", cls.cpu_limit),
            cpu_request=_env("CPU_REQUEST", cls.cpu_request),
            memory_request_mb=_int("MEMORY_REQUEST_MB", cls.memory_request_mb, 1),
            workdir_size_mb=_int("WORKDIR_SIZE_MB", cls.workdir_size_mb, 1),
            tmp_size_mb=_int("TMP_SIZE_MB", cls.tmp_size_mb, 1),
            ephemeral_storage_limit=_env("EPHEMERAL_STORAGE_LIMIT", cls.ephemeral_storage_limit),
            uid_base=_int("UID_BASE", cls.uid_base, 1000),
            uid_count=_int("UID_COUNT", cls.uid_count, 1),
            image_pull_policy=_env("IMAGE_PULL_POLICY", cls.image_pull_policy),
            images=dict(_json("IMAGES", {})),
            image_prefix=_env("IMAGE_PREFIX", ""),
            runtime_class_name=_env("RUNTIME_CLASS_NAME", ""),
            node_selector=dict(_json("NODE_SELECTOR", {})),
            tolerations=list(_json("TOLERATIONS", [])),
            priority_class_name=_env("PRIORITY_CLASS_NAME", ""),
            network_gate=_env("NETWORK_GATE", "true").lower() in ("1", "true", "yes"),
            network_gate_port=_int("NETWORK_GATE_PORT", cls.network_gate_port, 1),
            network_gate_timeout_seconds=_int(
                "NETWORK_GATE_TIMEOUT_SECONDS", cls.network_gate_timeout_seconds, 1
            ),
            sweep_interval_seconds=float(_env("SWEEP_INTERVAL_SECONDS", "2")),
            metrics_port=_int("METRICS_PORT", cls.metrics_port, 0),
            liveness_port=_int("LIVENESS_PORT", cls.liveness_port, 0),
        )


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf's own settings: state stored on our API group, quick reaction, quiet events."""
    # Should kopf ever need them (changing handlers), its finalizer and progress/diff-base
    # annotations live on our group, not kopf.zalando.org. Our handlers are level-based
    # (events, indexes and a sweep), so kopf itself writes nothing on CodeRuns.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Only the Events we post explicitly (kopf.event), not one per log line.
    settings.posting.enabled = True
    settings.posting.loggers = False
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "coderun-operator"
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30.0
    # Only sandbox pods are of interest: filter them on the server, not in the operator.
    settings.watching.label_selectors["v1", "pods"] = f"{GROUP}/sandbox=true"
    # One replica (Deployment strategy Recreate): no peering objects needed.
    settings.peering.standalone = True
