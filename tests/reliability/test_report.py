"""The report is made from the figures the fault tests write, and only when asked (no cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.figures import RESULTS_ENV, FaultFigures, load, record
from tests.reliability.report import main, render


def figures(fault: str, title: str) -> FaultFigures:
    return FaultFigures(
        fault=fault,
        title=title,
        how="did it.",
        accepted=16,
        final=16,
        lost=0,
        double_charges=0,
        uncharged_successes=0,
        successes=15,
        wrong_output=0,
        failed={"SandboxError": 1},
        refused={"503": 3},
        in_flight_at_fault=4,
        seconds=61.5,
    )


def test_without_the_env_var_nothing_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert record(figures("kubelet", "kubelet restarted")) is None


def test_the_report_lists_each_fault_in_the_issues_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    record(figures("redis-down", "Redis down and back"))
    record(figures("kube-apiserver", "kube-apiserver restarted"))
    assert [f.fault for f in load(tmp_path / "results")] == ["kube-apiserver", "redis-down"]

    out = tmp_path / "reliability.md"
    assert main([str(tmp_path / "results"), str(out)]) == 0
    text = out.read_text()
    assert text == render(load(tmp_path / "results"))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "restarted" in line]
    assert rows == [
        "| kube-apiserver restarted | 16 | 16 | **0** | **0** | 0 | 15 | SandboxError: 1 "
        "| 503: 3 | 0 | 4 | 61.5 |"
    ]
    assert text.index("kube-apiserver restarted") < text.index("Redis down and back")


def test_no_figures_is_an_error(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 1
