"""`coderun operator`: run the kopf operator in this process.

    coderun operator                     # every namespace (needs cluster-wide RBAC)
    coderun operator -n coderun-runs     # one namespace (repeat -n for more)

Settings come from CODERUN_OPERATOR_* variables (docs/operator.md); the Kubernetes
credentials from the pod's service account, or KUBECONFIG outside a cluster.
"""

from __future__ import annotations

import argparse
import logging
import os
import re

# Parsing the command line imports nothing heavy: kopf and the kubernetes client load in
# main() only.
DEFAULT_READINESS_URL = "http://0.0.0.0:8081/readyz"
NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: all namespaces "
        "(or CODERUN_OPERATOR_NAMESPACES, comma-separated)",
    )
    parser.add_argument(
        "--liveness",
        default=os.environ.get("CODERUN_OPERATOR_LIVENESS", "http://0.0.0.0:8080/healthz"),
        help="kopf's liveness endpoint (empty to disable); default %(default)s",
    )
    parser.add_argument(
        "--readiness",
        default=os.environ.get("CODERUN_OPERATOR_READINESS", DEFAULT_READINESS_URL),
        help="the operator's readiness endpoint (empty to disable): 200 once it serves "
        "CodeRuns, else 503 with the reason; default %(default)s",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")


def main(args: argparse.Namespace) -> int:
    import kopf

    # Registers the handlers with kopf's default registry.
    from coderun_operator import handlers  # noqa: F401
    from coderun_operator.readiness import Readiness
    from coderun_operator.settings import OperatorSettings

    # Read before kopf starts: a bad value stops the operator here, with pydantic's message
    # naming the setting (as the API's settings do), instead of a startup handler retrying.
    config = OperatorSettings()

    namespaces = list(args.namespace)
    if not namespaces:
        env = os.environ.get("CODERUN_OPERATOR_NAMESPACES", "")
        namespaces = [n.strip() for n in env.split(",") if n.strip()]
    kopf.configure(verbose=bool(args.verbose), log_prefix=True)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    settings = kopf.OperatorSettings()
    # Given namespaces by name, kopf would still list and watch all namespaces to follow
    # them (and patterns) as they come and go. The chart grants no such cluster-wide right,
    # so kopf would retry the forbidden list 9 times with backoff (about a minute of ERROR
    # lines, docs/operator.md) before falling back to the names. Names need no discovery.
    # (This also turns off kopf's CRD watch: the CRD must exist when the operator starts,
    # which the startup check makes sure of, and the chart installs it first.)
    settings.scanning.disabled = bool(namespaces) and all(map(is_exact_namespace, namespaces))
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness or None,
        standalone=True,
        settings=settings,
        memo=kopf.Memo(
            config=config,
            readiness=Readiness(namespaces=namespaces),
            readiness_url=args.readiness,
        ),
    )
    return 0


def is_exact_namespace(name: str) -> bool:
    """A plain namespace name (DNS-1123 label), not one of kopf's patterns ("ns-*", "!ns")."""
    return bool(NAMESPACE_NAME.fullmatch(name))
