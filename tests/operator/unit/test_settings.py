"""The operator's settings: every `CODERUN_OPERATOR_*` name the chart and the docs use is one
the settings class reads, values parse from the environment, and a bad value is refused
with pydantic's message, as the API's settings are."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from coderun_operator.settings import OperatorSettings
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[3]
# Read by main.py as command-line defaults, before the settings class is imported.
COMMAND_LINE = {"NAMESPACES", "LIVENESS", "READINESS"}
FIELDS = {name.upper() for name in OperatorSettings.model_fields}


def _chart_names() -> set[str]:
    text = "".join(p.read_text() for p in (ROOT / "helm/coderun/templates").glob("*"))
    return set(re.findall(r"CODERUN_OPERATOR_([A-Z_]+)", text))


def _documented_names() -> set[str]:
    section = (ROOT / "docs/operator.md").read_text().split("## Settings (`CODERUN_OPERATOR_*`)")
    table = section[1].split("\n\n", 2)[1]
    return {name for row in table.splitlines()[2:] for name in re.findall(r"`([A-Z_]+)`", row)}


def test_every_name_the_chart_sets_is_a_setting() -> None:
    names = _chart_names()
    assert {"MAX_CONCURRENT_RUNS", "IMAGES", "TOLERATIONS"} <= names
    assert names - COMMAND_LINE <= FIELDS


def test_the_docs_list_every_setting_and_no_other() -> None:
    assert _documented_names() == FIELDS | COMMAND_LINE


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODERUN_OPERATOR_MAX_CONCURRENT_RUNS", "16")
    monkeypatch.setenv("CODERUN_OPERATOR_NODE_SELECTOR", '{"coderun.dev/sandbox-node":"true"}')
    monkeypatch.setenv("CODERUN_OPERATOR_TOLERATIONS", '[{"effect":"NoSchedule"}]')
    monkeypatch.setenv("CODERUN_OPERATOR_NETWORK_GATE", "false")
    monkeypatch.setenv("CODERUN_OPERATOR_SWEEP_INTERVAL_SECONDS", "0.2")
    # The chart passes empty strings for settings left unset: the default applies.
    monkeypatch.setenv("CODERUN_OPERATOR_IMAGES", "")
    monkeypatch.setenv("CODERUN_OPERATOR_CPU_LIMIT", "")
    settings = OperatorSettings()
    assert settings.max_concurrent_runs == 16
    assert settings.node_selector == {"coderun.dev/sandbox-node": "true"}
    assert settings.tolerations == [{"effect": "NoSchedule"}]
    assert settings.network_gate is False
    assert settings.sweep_interval_seconds == 0.2
    assert settings.images == {}
    assert settings.cpu_limit == "1"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MAX_CONCURRENT_RUNS", "0", "greater than or equal to 1"),
        ("UID_BASE", "0", "greater than or equal to 1000"),
        ("DEADLINE_MARGIN_SECONDS", "four", "valid integer"),
        ("SWEEP_INTERVAL_SECONDS", "0", "greater than 0"),
        ("NETWORK_GATE", "maybe", "valid boolean"),
        ("IMAGES", "python=img", "error parsing value"),
    ],
)
def test_a_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(f"CODERUN_OPERATOR_{name}", value)
    with pytest.raises((ValidationError, ValueError)) as refused:
        OperatorSettings()
    assert name.lower() in str(refused.value)
    assert says in str(refused.value)


def test_the_operator_stops_at_start_on_a_bad_setting() -> None:
    """Before kopf starts (and before it reaches a cluster): the process exits and says why."""
    env = {**os.environ, "CODERUN_OPERATOR_MAX_CONCURRENT_RUNS": "0"}
    env.pop("KUBECONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "coderun_api.cli", "operator", "-n", "nowhere"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "max_concurrent_runs" in done.stderr
    assert "greater than or equal to 1" in done.stderr
