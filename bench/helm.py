"""The chart on the test cluster: install to first successful result, upgrade to first
successful result.

`python -m bench.helm [repetitions]` (default 3; the cluster is brought up, the images
built and loaded as the Helm tests do) prints a Markdown section for docs/benchmarks.md.
Each repetition is a fresh default install, as a user runs it:

- install: `helm install --wait` (its pre-install CRD hook, when the cluster's CRDs are not
  the chart's), an account made with
  `kubectl exec deploy/<release>-api -- coderun account create`, then a Python program
  submitted through the Service (`kubectl port-forward svc/...`) until its result is final;
- upgrade: `helm upgrade --reuse-values --set config.logLevel=...` (the API pod is replaced,
  its claim kept), then the same key runs a program again.

Besides the totals, `milestones` reads from Kubernetes when the CRD hook Job, the API pod and
the operator pod got where they did, so the section says which step dominates.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from tests.fixtures.cluster import cluster_up
from tests.helm.images import PROGRAMS
from tests.helm.install import (
    ApiClient,
    Release,
    create_account,
    installed,
    load_images,
    service_url,
    upgrade,
)


def _seconds(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def milestones(release: Release, since: float) -> dict[str, float]:
    """Seconds after `since` (wall clock) at which the steps Kubernetes recorded happened:
    the CRD hook Job (from its events; the Job itself is deleted once it succeeded) and the
    newest API and operator pods (created, Ready). Kubernetes records whole seconds."""
    found: dict[str, float] = {}
    events = json.loads(
        release.cluster.kubectl("-n", release.namespace, "get", "events", "-o", "json").stdout
    )["items"]
    for event in events:
        involved = event.get("involvedObject") or {}
        if involved.get("kind") != "Job" or not str(involved.get("name")).endswith("-crd-apply"):
            continue
        when = _seconds(event.get("firstTimestamp") or event.get("eventTime"))
        if when is None or when < since - 1:
            continue
        step = {"SuccessfulCreate": "CRD hook Job created", "Completed": "CRD hook Job done"}
        if event.get("reason") in step:
            found[step[event["reason"]]] = when - since
    for component in ("api", "operator"):
        pods = sorted(release.pods(component), key=lambda p: p["metadata"]["creationTimestamp"])
        if not pods:
            continue
        pod = pods[-1]
        created = _seconds(pod["metadata"]["creationTimestamp"])
        if created is not None and created >= since - 1:
            found[f"{component} pod created"] = created - since
        for condition in pod.get("status", {}).get("conditions", []):
            when = _seconds(condition.get("lastTransitionTime"))
            if condition["type"] == "Ready" and condition["status"] == "True" and when:
                found[f"{component} pod Ready"] = when - since
    return found


def _first_result(api: ApiClient) -> None:
    result = api.run("python", PROGRAMS["python"], "ab")
    assert result["status"] == "success", result


def measure(repetitions: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    cluster = cluster_up()
    load_images(cluster)
    samples: dict[str, list[float]] = {
        "helm install --wait": [],
        "install to first result": [],
        "helm upgrade --wait": [],
        "upgrade to first result": [],
    }
    steps: dict[str, list[float]] = {}

    def first_result(
        phase: str, release: Release, key: str, started: float, wall: float, found: dict[str, float]
    ) -> None:
        """Ask the release for a first result; record the phase's total and its steps."""
        with service_url(release) as base:
            _first_result(ApiClient(base=base, key=key))
        samples[f"{phase} to first result"].append(time.monotonic() - started)
        found["first result"] = time.time() - wall
        for name, value in found.items():
            steps.setdefault(f"{phase}: {name}", []).append(value)

    for repetition in range(repetitions):
        started, wall = time.monotonic(), time.time()
        with installed(cluster, f"coderun-bench{repetition}") as release:
            samples["helm install --wait"].append(time.monotonic() - started)
            found = milestones(release, wall)
            found["helm install returned"] = time.time() - wall
            key = create_account(release)
            found["account created"] = time.time() - wall
            first_result("install", release, key, started, wall, found)

            started, wall = time.monotonic(), time.time()
            upgrade(release, "--reuse-values", "--set", "config.logLevel=DEBUG")
            samples["helm upgrade --wait"].append(time.monotonic() - started)
            found = milestones(release, wall)
            found["helm upgrade returned"] = time.time() - wall
            first_result("upgrade", release, key, started, wall, found)
        print(
            f"repetition {repetition + 1}: "
            + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in samples.items()),
            file=sys.stderr,
            flush=True,
        )
    return samples, steps


def render(samples: dict[str, list[float]], steps: dict[str, list[float]], load: str) -> str:
    rows = "\n".join(
        f"| {name} | **{statistics.median(values):.1f} s** | "
        + ", ".join(f"{v:.1f}" for v in values)
        + " |"
        for name, values in samples.items()
    )
    repetitions = len(next(iter(samples.values())))
    # Each phase's milestones in the order they happened (by their medians).
    timeline = "\n".join(
        f"| {name} | {statistics.median(values):.0f} s | {len(values)} of {repetitions} |"
        for name, values in sorted(
            steps.items(), key=lambda kv: (kv[0].split(":")[0], statistics.median(kv[1]))
        )
    )
    measured = datetime.now(UTC)
    return f"""## Helm: install and upgrade to a first result

Reproduce: `make bench-helm` (or `.venv/bin/python -m bench --only helm --update`; the test
cluster up, the images built and loaded as the Helm tests do). Measured {measured:%Y-%m-%d %H:%M}
UTC, load average (1/5/15 min) {load} at the start. {repetitions} fresh default installs (SQLite
on a claim of the cluster's default StorageClass, the default warm pools), each then upgraded
once. "To first result" runs from the start of `helm install` (or `helm upgrade`) until a
Python program submitted through the Service (`kubectl port-forward svc/...`) has its final
result; the install's includes making the account with `kubectl exec deploy/<release>-api --
coderun account create`. The upgrade is `helm upgrade --reuse-values --set
config.logLevel=DEBUG`: the API and operator pods are replaced (Recreate, the same claim). The
CRD hook runs only when a cluster CRD is not the chart's (its checksum annotation): the
timeline says in how many installs and upgrades it ran.

| step | median | each (s) |
|---|---|---|
{rows}

Where the time goes: seconds after `helm install` (or `helm upgrade`) started, median over the
repetitions that had the step (Kubernetes records whole seconds; pods' Ready is their
condition's transition).

| milestone | median | seen in |
|---|---|---|
{timeline}
"""


def main(repetitions: int = 3) -> str:
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())
    samples, steps = measure(repetitions)
    return render(samples, steps, load)


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
