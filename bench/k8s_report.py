"""Markdown tables of the Kubernetes benchmark (bench/kubernetes.py) for
docs/benchmarks.md: medians and percentiles of the same run, and the ratios between them."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.k8s_costs import NODE_PROCESSES, OTHER_PROCESSES, Costs, issue_total

if TYPE_CHECKING:
    from bench.k8s_run import Run


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def _p99(values: Sequence[float]) -> str:
    return f"{percentile(values, 0.99):.0f}" if values else "-"


def _ratio(top: Sequence[float], bottom: Sequence[float], fraction: float = 0.5) -> str:
    if not top or not bottom:
        return "-"
    return f"{percentile(top, fraction) / percentile(bottom, fraction):.2f}"


def outcomes(runs: Sequence[Run]) -> tuple[int, int, str]:
    """(lost: never final, final but not the expected success, what those were)."""
    lost = [r for r in runs if not r.ok and "error" in r.data]
    wrong = [r for r in runs if not r.ok and "error" not in r.data]
    kinds = Counter(
        f"{r.data.get('status')} {r.data.get('sandboxErrorType') or ''}".strip() for r in wrong
    )
    kinds.update(str(r.data["error"]).splitlines()[0][:80] for r in lost)
    return len(lost), len(wrong), ", ".join(f"{k} x{n}" for k, n in kinds.most_common())


def split(runs: Sequence[Run], language: str) -> tuple[list[Run], list[Run], list[Run]]:
    """(cold-block runs, warm runs, warm-block runs that went cold) of a language."""
    mine = [r for r in runs if r.language == language]
    cold = [r for r in mine if r.mode == "cold"]
    warm = [r for r in mine if r.mode == "warm" and r.start == "warm"]
    missed = [r for r in mine if r.mode == "warm" and r.start != "warm"]
    return cold, warm, missed


def latency_table(
    runs: Sequence[Run], languages: Sequence[str], no_pool: str | None, block_runs: int
) -> str:
    lines = [
        "### Hello world, submit → final, cold and warm",
        "",
        f"Blocks of {block_runs} runs one at a time, cold (the language's pool scaled to 0) "
        "and warm (scaled to 2) in turn; before each warm run the pool is full again, so "
        "each one claims a ready pod. Warm counts the runs whose CodeRun says `start: warm`.",
        "",
        "| language | cold p50 (ms) | cold p99 (ms) | warm p50 (ms) | warm p99 (ms) "
        "| warm/cold p50 | warm/cold p99 | runs cold / warm | warm block, went cold "
        "| not success |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for language in languages:
        cold, warm, missed = split(runs, language)
        cold_ms, warm_ms = [r.ms for r in cold], [r.ms for r in warm]
        lost = sum(1 for r in runs if r.language == language and not r.ok)
        if lost:
            notes.append(f"{language}: {outcomes([r for r in runs if r.language == language])[2]}")
        if no_pool:
            warm_cells = "no pool | no pool | - | -"
        else:
            warm_cells = (
                f"{_ms(warm_ms)} | {_p99(warm_ms)} | {_ratio(warm_ms, cold_ms)} | "
                f"{_ratio(warm_ms, cold_ms, 0.99)}"
            )
        lines.append(
            f"| {language} | {_ms(cold_ms)} | {_p99(cold_ms)} | {warm_cells} | "
            f"{len(cold)} / {len(warm)} | {len(missed)} | {lost} |"
        )
    if no_pool:
        lines += ["", f"Warm: {no_pool}."]
    if notes:
        lines += ["", "Not successful: " + "; ".join(notes) + "."]
    return "\n".join([*lines, ""])


def compiled_table(runs: Sequence[Run], languages: Sequence[str], no_pool: str | None) -> str:
    lines = [
        "### Compiled languages: warm against compile time + 300 ms",
        "",
        "The same blocks (fewer runs). `compileTimeMs` is the runner's own figure for the "
        "compile step; target: warm p50 ≤ p50 compile + 300 ms.",
        "",
        "| language | path | runs | p50 submit → final (ms) | p50 compileTimeMs "
        "| p50 (final - compile) (ms) | p50 ≤ compile + 300 ms |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for language in languages:
        cold, warm, _ = split(runs, language)
        for path, chosen in (("cold", cold), ("warm", warm)):
            if path == "warm" and no_pool:
                lines.append(f"| {language} | warm | 0 | no pool | - | - | - |")
                continue
            if not chosen:
                lines.append(f"| {language} | {path} | 0 | - | - | - | - |")
                continue
            total = [r.ms for r in chosen]
            compile_ms = [float(r.data.get("compileTimeMs") or 0) for r in chosen]
            rest = [t - c for t, c in zip(total, compile_ms, strict=True)]
            met = statistics.median(total) <= statistics.median(compile_ms) + 300
            verdict = ("met" if met else "not met") if path == "warm" else "(baseline)"
            lines.append(
                f"| {language} | {path} | {len(chosen)} | {_ms(total)} | {_ms(compile_ms)} | "
                f"{_ms(rest)} | {verdict} |"
            )
    return "\n".join([*lines, ""])


def sustained_table(
    runs: Sequence[Run], seconds: float, window: float, accounts: int, clients: int, pool: int
) -> str:
    warm = sum(1 for r in runs if r.start == "warm")
    lost, wrong, what = outcomes(runs)
    ms = [r.ms for r in runs if r.ok]
    return "\n".join(
        [
            "### Sustained",
            "",
            f"{accounts} accounts x {clients} closed-loop clients (submit, wait for final, "
            f"again), python and javascript hello world in turn, for {window:.0f} s; pools of "
            f"{pool} per language refilling; per-key rate limit raised. runs/s counts the "
            "runs submitted in the window, from the first submit to the last final result.",
            "",
            "| runs | seconds | runs/s | warm | cold | lost (never final) "
            "| final, not success | p50 (ms) | p99 (ms) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {len(runs)} | {seconds:.1f} | {len(runs) / seconds:.2f} | {warm} | "
            f"{len(runs) - warm} | {lost} | {wrong} | {_ms(ms)} | {_p99(ms)} |",
            "",
            *([f"Not successful: {what}.", ""] if what else []),
        ]
    )


def costs_table(phases: dict[str, Costs]) -> str:
    names = {
        "cold": "cold runs (latency blocks)",
        "warm": "warm runs (latency blocks, refill included)",
        "sustained": "sustained (mixed)",
    }
    lines = [
        "### What a run costs the cluster",
        "",
        "Per run, over each phase (finished Jobs kept 5 s, so their deletion is inside it). "
        "Writes: `apiserver_request_total`, verbs POST/PUT/PATCH/DELETE, delta over the phase "
        "(every client's: another session's tests on the cluster would add theirs). CPU: "
        "/proc/<pid>/stat of the processes (bench/k8s_costs.py); the issue's sum is "
        "kubelet + containerd + kube-apiserver + operator; the containerd shims (one per pod, "
        "they also reap the pods' own processes) apart.",
        "",
        "| phase | runs | writes/run | top writes/run (resource) | kubelet | containerd "
        "| kube-apiserver | operator | **sum (CPU-s/run)** | shims | etcd | API |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, costs in phases.items():
        runs = max(1, costs.runs)
        top = ", ".join(
            f"{resource} {count / runs:.1f}" for resource, count in costs.writes.most_common(4)
        )
        cells = [f"{costs.cpu_per_run(name):.3f}" for name in (*NODE_PROCESSES, "operator")]
        lines.append(
            f"| {names.get(key, key)} | {costs.runs} | {costs.writes_per_run:.1f} | {top} | "
            + " | ".join(cells)
            + f" | **{issue_total(costs.cpu) / runs:.3f}** | {costs.shims / runs:.3f} | "
            f"{costs.cpu_per_run(OTHER_PROCESSES[0]):.3f} | "
            f"{costs.cpu_per_run('API (coderun serve)'):.3f} |"
        )
    return "\n".join([*lines, ""])


def inflight_table(idle: dict[str, float], loaded: dict[str, float], lost: int, target: int) -> str:
    def ratio(name: str) -> str:
        return f"{loaded[name] / idle[name]:.1f}x" if idle[name] else "-"

    return "\n".join(
        [
            f"### The operator with {target} runs in flight",
            "",
            f"A fresh operator with its caps raised ({target + 14} at once, per account too); "
            f"{target} python runs of 2 s kept in flight (accepted, not final: CodeRuns without "
            f"a verdict, topped up every 0.5 s) for {loaded['seconds']:.0f} s, against the "
            "same operator idle for "
            f"10 s before. {int(loaded['runs'])} runs in all, {lost} not successful; in "
            f"flight during the window (read every 0.5 s): median "
            f"{loaded['in_flight_median']:.0f}, lowest {loaded['in_flight_min']:.0f}.",
            "",
            "| operator | CPU (cores) | RSS, peak (MB) | threads, peak |",
            "|---|---:|---:|---:|",
            f"| idle | {idle['cpu']:.3f} | {idle['rss_mb']:.0f} | {idle['threads']:.0f} |",
            f"| {target} in flight | {loaded['cpu']:.3f} | {loaded['rss_mb']:.0f} | "
            f"{loaded['threads']:.0f} |",
            f"| ratio | {ratio('cpu')} | {ratio('rss_mb')} | {ratio('threads')} |",
            "",
        ]
    )
