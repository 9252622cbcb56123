"""Executors run accepted jobs. `CODERUN_EXECUTOR` picks one: local (default) or kubernetes."""

from __future__ import annotations

import importlib

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import JobStore


def make_executor(settings: Settings, jobs: JobStore) -> Executor:
    if settings.executor == "local":
        from coderun_api.executors.local import LocalExecutor

        return LocalExecutor(jobs, settings)
    # Written by the operator engineer: coderun_api/executors/kubernetes.py must define
    # KubernetesExecutor(jobs: JobStore, settings: Settings) implementing Executor.
    module = importlib.import_module("coderun_api.executors.kubernetes")
    executor: Executor = module.KubernetesExecutor(jobs, settings)
    return executor
