"""The chart on the test cluster: install to first successful result, upgrade to first
successful result.

`python -m tests.bench.helm [repetitions]` (default 3; the cluster is brought up, the images
built and loaded as the Helm tests do) prints a Markdown section for docs/benchmarks.md.
Each repetition is a fresh default install, as a user runs it:

- install: `helm install --wait` (its pre-install CRD hook included), an account made with
  `kubectl exec deploy/<release>-api -- coderun account create`, then a Python program
  submitted through the Service (`kubectl port-forward svc/...`) until its result is final;
- upgrade: `helm upgrade --reuse-values --set config.logLevel=...` (the API pod is replaced,
  its claim kept; the pre-upgrade CRD hook runs), then the same key runs a program again.
"""

from __future__ import annotations

import statistics
import sys
import time

from tests.fixtures.cluster import cluster_up
from tests.helm.images import PROGRAMS
from tests.helm.install import (
    ApiClient,
    create_account,
    installed,
    load_images,
    service_url,
    upgrade,
)


def _first_result(api: ApiClient) -> None:
    result = api.run("python", PROGRAMS["python"], "ab")
    assert result["status"] == "success", result


def measure(repetitions: int) -> dict[str, list[float]]:
    cluster = cluster_up()
    load_images(cluster)
    samples: dict[str, list[float]] = {
        "helm install --wait": [],
        "install to first result": [],
        "helm upgrade --wait": [],
        "upgrade to first result": [],
    }
    for repetition in range(repetitions):
        started = time.monotonic()
        with installed(cluster, f"coderun-bench{repetition}") as release:
            samples["helm install --wait"].append(time.monotonic() - started)
            key = create_account(release)
            with service_url(release) as base:
                _first_result(ApiClient(base=base, key=key))
            samples["install to first result"].append(time.monotonic() - started)

            started = time.monotonic()
            upgrade(release, "--reuse-values", "--set", "config.logLevel=DEBUG")
            samples["helm upgrade --wait"].append(time.monotonic() - started)
            with service_url(release) as base:
                _first_result(ApiClient(base=base, key=key))
            samples["upgrade to first result"].append(time.monotonic() - started)
        print(
            f"repetition {repetition + 1}: "
            + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in samples.items()),
            file=sys.stderr,
            flush=True,
        )
    return samples


def render(samples: dict[str, list[float]]) -> str:
    rows = "\n".join(
        f"| {name} | **{statistics.median(values):.1f} s** | "
        + ", ".join(f"{v:.1f}" for v in values)
        + " |"
        for name, values in samples.items()
    )
    repetitions = len(next(iter(samples.values())))
    return f"""## Helm: install and upgrade to a first result

`python -m tests.bench.helm` on the test cluster: {repetitions} fresh default installs (SQLite on
a claim of the cluster's default StorageClass), each then upgraded once. "To first result"
runs from the start of `helm install` (or `helm upgrade`) until a Python program submitted
through the Service has its final result; the install's includes making the account with
`kubectl exec deploy/<release>-api -- coderun account create`. The upgrade changes
`config.logLevel`, so the API pod is replaced (Recreate, the same claim) and the pre-upgrade
CRD hook runs.

| step | median | each (s) |
|---|---|---|
{rows}
"""


def main(repetitions: int = 3) -> str:
    return render(measure(repetitions))


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
