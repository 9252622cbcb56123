"""Executors run accepted jobs. `CODERUN_EXECUTOR` picks one: local (default) or kubernetes."""

from __future__ import annotations

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import JobStore


def make_executor(settings: Settings, jobs: JobStore) -> Executor:
    # Each imported only when chosen: the Kubernetes one loads the operator's modules and
    # the kubernetes client, which an embedded install never needs.
    if settings.executor == "local":
        from coderun_api.executors.local import LocalExecutor

        return LocalExecutor(jobs, settings)
    from coderun_api.executors.kubernetes import KubernetesExecutor

    return KubernetesExecutor(jobs, settings)
