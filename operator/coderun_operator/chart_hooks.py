"""What the Helm chart's hook Jobs do, with the service image's Python (it has no kubectl).

python -m coderun_operator.chart_hooks apply-crd FILE [CHECKSUM] [FILE CHECKSUM]...
    Server-side apply of the CRD in each FILE (pre-install and pre-upgrade): Helm installs a
    chart's crds/ only when a CRD is missing and never upgrades it, so without this a
    new field would be pruned by the API server after `helm upgrade`, and a CRD new in a
    later chart never installed by one. CHECKSUM (the chart's sha256 of its crds/ file) is
    recorded in the CRD's annotation CHECKSUM_KEY: the chart renders the hook only while
    one of the cluster's CRDs carries another one.

python -m coderun_operator.chart_hooks cleanup NAMESPACE
    Delete the warm pools, every CodeRun in the sandbox namespace and every sandbox Job left there
    (pre-delete): once the operator is gone, nothing would delete them any more. Waits
    until they and their pods are gone.
"""

from __future__ import annotations

import sys
import time
from typing import Any, cast

import yaml
from kubernetes import client

from coderun_operator import resources as r
from coderun_operator.api_server import describe_failure
from coderun_operator.kube import load_client_config

FIELD_MANAGER = "coderun-chart"
# Read by templates/hooks-crd-apply.yaml (lookup): the same key there.
CHECKSUM_KEY = f"{r.GROUP}/chart-crd-sha256"
CLEANUP_TIMEOUT_S = 120
# The Job controller labels every pod of a Job with it (Kubernetes 1.27+).
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def apply_crd(api: client.ApiClient, path: str, checksum: str = "") -> None:
    with open(path, encoding="utf-8") as file:
        crd: dict[str, Any] = yaml.safe_load(file)
    name = crd["metadata"]["name"]
    if checksum:
        crd["metadata"].setdefault("annotations", {})[CHECKSUM_KEY] = checksum
    client.ApiextensionsV1Api(api).patch_custom_resource_definition(
        name,
        crd,
        field_manager=FIELD_MANAGER,
        # Helm's own install of crds/ owns the same fields: take them over.
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    print(f"applied {name} (server-side, field manager {FIELD_MANAGER})")


def _remaining(api: client.ApiClient, namespace: str) -> dict[str, int]:
    sandbox = f"{r.LABEL_SANDBOX}=true"
    custom = client.CustomObjectsApi(api)
    coderuns = cast(
        dict[str, Any],
        custom.list_namespaced_custom_object(r.GROUP, r.VERSION, namespace, r.PLURAL),
    )
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace, label_selector=sandbox)
    # The pods of those Jobs (the garbage collector deletes them); a pod someone made by hand
    # with the sandbox label is not ours to wait for.
    pods = client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"{sandbox},{JOB_NAME_LABEL}"
    )
    return {
        "coderuns": len(coderuns["items"]),
        "jobs": len(jobs.items),
        "pods": len(pods.items),
    }


def cleanup(api: client.ApiClient, namespace: str) -> None:
    # Background: the garbage collector takes each CodeRun's Job and pod with it.
    options = client.V1DeleteOptions(propagation_policy="Background")
    custom = client.CustomObjectsApi(api)
    # The warm pools first (their idle Jobs go with them): the operator still runs during
    # this hook and would otherwise refill every pool Job deleted below, for ever.
    try:
        custom.delete_collection_namespaced_custom_object(
            r.GROUP, r.VERSION, namespace, r.POOL_PLURAL, body=options
        )
    except client.ApiException as error:
        if error.status != 404:  # 404: no CodeRunPool CRD in this cluster, so no pools
            raise
    custom.delete_collection_namespaced_custom_object(
        r.GROUP, r.VERSION, namespace, r.PLURAL, body=options
    )
    client.BatchV1Api(api).delete_collection_namespaced_job(
        namespace, label_selector=f"{r.LABEL_SANDBOX}=true", body=options
    )
    deadline = time.monotonic() + CLEANUP_TIMEOUT_S
    while (left := _remaining(api, namespace)) != {"coderuns": 0, "jobs": 0, "pods": 0}:
        if time.monotonic() > deadline:
            raise SystemExit(f"still in {namespace} after {CLEANUP_TIMEOUT_S}s: {left}")
        time.sleep(1)
    print(f"deleted every CodeRun, sandbox Job and sandbox pod in {namespace}")


def main(argv: list[str]) -> int:
    usage = (
        "usage: python -m coderun_operator.chart_hooks apply-crd FILE [CHECKSUM] [FILE CHECKSUM]..."
        " | cleanup NAMESPACE"
    )
    arguments = {"apply-crd": (2, 129), "cleanup": (2, 2)}
    low, high = arguments.get(argv[0] if argv else "", (1, 0))
    pairs_cut = argv[:1] == ["apply-crd"] and len(argv) > 3 and len(argv) % 2 == 0
    if not low <= len(argv) <= high or pairs_cut:
        print(usage, file=sys.stderr)
        return 2
    api = client.ApiClient(load_client_config())
    action = "apply the CRD" if argv[0] == "apply-crd" else f"clean up namespace {argv[1]}"
    try:
        if argv[0] == "apply-crd":
            files = argv[1::2]
            checksums = [*argv[2::2], ""][: len(files)]
            for path, checksum in zip(files, checksums, strict=True):
                apply_crd(api, path, checksum)
        else:
            cleanup(api, argv[1])
    except Exception as error:
        # The hook's log is what `helm install` points to when it fails: name the API
        # server it tried and the setting to change, not only a traceback's last line.
        print(describe_failure(error, api.configuration.host, action), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
