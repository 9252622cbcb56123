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
    parser.add_argument("--verbose", action="store_true", help="debug logging")


def main(args: argparse.Namespace) -> int:
    import kopf

    # Registers the handlers with kopf's default registry.
    from coderun_operator import handlers  # noqa: F401

    namespaces = list(args.namespace)
    if not namespaces:
        env = os.environ.get("CODERUN_OPERATOR_NAMESPACES", "")
        namespaces = [n.strip() for n in env.split(",") if n.strip()]
    kopf.configure(verbose=bool(args.verbose), log_prefix=True)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness or None,
        standalone=True,
    )
    return 0
