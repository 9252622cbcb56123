"""The environment between the Job builder and a sandbox container, pinned from both ends:
what `build_job` writes is what the entrypoint's `SandboxEnv.from_env` reads, and the
variables the network gate's script (shipped as text, importing nothing) reads are exactly
the ones the builder sets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from coderun_operator.gate import GATE_SCRIPT
from coderun_operator.job_builder import build_job, build_pool_job, ready_file
from coderun_operator.settings import OperatorSettings
from coderun_sandbox.contract import SANDBOX_ENV_NAMES, SandboxEnv

from .factories import coderun
from .test_pools import pool


def _containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    return containers


def _values(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_a_sandbox_env_survives_the_trip() -> None:
    env = SandboxEnv(ready_file="/tmp/.ready", workdir="/w", scratch_dir="/s")
    assert SandboxEnv.from_env(env.to_env()) == env
    assert SandboxEnv().to_env() == {}  # the defaults travel as no variable at all
    assert SandboxEnv.from_env({"CODERUN_WORKDIR": ""}) == SandboxEnv()


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_the_entrypoint_reads_what_the_builder_writes(language: str) -> None:
    for container in _containers(build_job(coderun(language=language))):
        env = SandboxEnv.from_env(_values(container))
        assert env.ready_file == ready_file(container["name"])
        assert env.workdir == container["workingDir"]
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert {env.workdir, env.scratch_dir} <= mounts  # both are the pod's tmpfs


def test_a_pool_pods_probe_looks_for_the_file_its_runner_is_told_to_make() -> None:
    settings = OperatorSettings()
    for container in _containers(build_pool_job(pool("cpp"), "crpool-x", settings)):
        probed = container["startupProbe"]["exec"]["command"][-1]
        assert SandboxEnv.from_env(_values(container)).ready_file == probed


def test_the_gate_script_reads_exactly_the_variables_the_builder_sets() -> None:
    read = set(re.findall(r"os\.environ\[['\"](\w+)['\"]\]", GATE_SCRIPT))
    assert len(read) == 6, GATE_SCRIPT
    for container in _containers(build_job(coderun(language="java"))):
        given = {e["name"] for e in container["env"]} - set(SANDBOX_ENV_NAMES.values())
        assert given == read
    ungated = build_job(coderun(), OperatorSettings(network_gate=False))
    assert not {e["name"] for e in _containers(ungated)[0]["env"]} & read
