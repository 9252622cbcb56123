"""The operator's settings: one pydantic-settings class read from `CODERUN_OPERATOR_*`
variables (as the API's `coderun_api.config.Settings` reads `CODERUN_*`), and kopf's own
settings, applied in the one `@kopf.on.startup` handler.

Every setting is documented in docs/operator.md. `NAMESPACES`, `LIVENESS` and `READINESS`
are command-line defaults, read by main.py before anything heavy is imported.
"""

from __future__ import annotations

from typing import Any

import kopf
from coderun_sandbox.contract import DEFAULT_COMPILE_MEMORY_LIMIT_MB, DEFAULT_COMPILE_TIME_LIMIT_MS
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from coderun_operator.resources import GROUP


class OperatorSettings(BaseSettings):
    # An empty variable means the default (the chart passes empty strings and `{}` for
    # settings left unset); JSON-valued settings (dicts, lists) are parsed as JSON.
    model_config = SettingsConfigDict(
        env_prefix="CODERUN_OPERATOR_", extra="ignore", env_ignore_empty=True, frozen=True
    )

    # Admission: at most this many CodeRuns have a Job at once; the rest wait, oldest first.
    max_concurrent_runs: int = Field(default=4, ge=1)
    # Of those, at most this many for one account (spec.account; CodeRuns without one share
    # one per namespace), the slots shared in turn between accounts (fair_share.py). Half
    # the default cap: one account's backlog always leaves two slots to the others.
    max_running_per_account: int = Field(default=2, ge=1)
    # Finished CodeRuns are deleted this long after they finished (the API keeps the history).
    retention_seconds: int = Field(default=3600, ge=0)
    # A pod that cannot pull its image or be scheduled for this long ends as SandboxError.
    start_grace_seconds: int = Field(default=60, ge=1)
    # The finished Job (and its pod and log) is kept this long for inspection.
    job_ttl_seconds: int = Field(default=300, ge=0)
    # activeDeadlineSeconds = compile + run + the gates + this margin (a backstop only: the
    # runner enforces the real limits, with no grace, and reports TLE itself).
    deadline_margin_seconds: int = Field(default=30, ge=5)
    # Memory the runner itself needs next to the program, added to the run container's limit.
    runner_memory_mb: int = Field(default=32, ge=16)
    # Compile step (init container) limits: looser than the run's, never applied to it.
    compile_time_limit_ms: int = Field(default=DEFAULT_COMPILE_TIME_LIMIT_MS, ge=1000)
    compile_memory_limit_mb: int = Field(default=DEFAULT_COMPILE_MEMORY_LIMIT_MB, ge=64)
    # CPU: the limit holds a program to one core; the request is small so that many short
    # runs fit on a small node (the concurrency cap is what bounds the load).
    cpu_limit: str = "1"
    cpu_request: str = "50m"
    memory_request_mb: int = Field(default=64, ge=1)
    # Size of the tmpfs work dir (/work) and /tmp; both count against the memory limit.
    workdir_size_mb: int = Field(default=64, ge=1)
    tmp_size_mb: int = Field(default=16, ge=1)
    # Writable-layer cap (the root filesystem is read-only; logs count here).
    ephemeral_storage_limit: str = "64Mi"
    # Programs run as a per-run uid in [uid_base, uid_base + uid_count).
    uid_base: int = Field(default=2_000_000, ge=1000)
    uid_count: int = Field(default=1_000_000, ge=1)
    image_pull_policy: str = "IfNotPresent"
    # Image per language, overriding the language table (JSON object), and a registry prefix.
    images: dict[str, str] = Field(default_factory=dict)
    image_prefix: str = ""
    runtime_class_name: str = ""
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    priority_class_name: str = ""
    # Hold each sandbox pod until the deny-all NetworkPolicy visibly holds (gate.py), by
    # probing the kubelet port of its node; fail closed after the timeout.
    network_gate: bool = True
    network_gate_port: int = Field(default=10250, ge=1)
    network_gate_timeout_seconds: int = Field(default=30, ge=1)
    # How often the operator re-checks pending pods, queued runs and retention.
    sweep_interval_seconds: float = Field(default=2.0, gt=0)
    metrics_port: int = Field(default=9090, ge=0)
    liveness_port: int = Field(default=8080, ge=0)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf's own settings: state stored on our API group, quick reaction, no Events of its own."""
    # Should kopf ever need them (changing handlers), its finalizer and progress/diff-base
    # annotations live on our group, not kopf.zalando.org. Our handlers are level-based
    # (events, indexes and a sweep), so kopf itself writes nothing on CodeRuns.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # kopf posts no Events (nothing calls kopf.event, and no log line becomes one): the few
    # a CodeRun or pool gets go through Kube.post_event, the operator's own client, which
    # counts every write (the benchmark reports writes per run).
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30.0
    # Only sandbox pods are of interest: filter them on the server, not in the operator.
    settings.watching.label_selectors["v1", "pods"] = f"{GROUP}/sandbox=true"
    # One replica (Deployment strategy Recreate): no peering objects needed.
    settings.peering.standalone = True
