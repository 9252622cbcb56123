"""Why the Kubernetes API server cannot be used, in words that name the setting to change.

Both the API's Kubernetes executor (its /readyz) and the operator (its log and readiness
endpoint) reach the API server with the same client configuration (kube.load_client_config)
and fail the same ways on a misconfigured cluster: an address that is not routed (no Service
proxy for the `kubernetes` ClusterIP), a server whose certificate the service account's CA
does not sign, missing RBAC, a CRD that is not installed. The client's own errors
(`MaxRetryError`, `SSLCertVerificationError` deep in a chain) say none of that.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from kubernetes.client.exceptions import ApiException

# The chart's values for the API server's address, and what they set in the pods.
ADDRESS_SETTING = (
    "the chart's kubernetesApi.host and kubernetesApi.port (KUBERNETES_SERVICE_HOST and "
    "KUBERNETES_SERVICE_PORT in the pods; outside a cluster, the kubeconfig's server)"
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, its causes, and urllib3's `reason`s, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        todo.extend(
            [current.__cause__, current.__context__]
            + ([reason] if isinstance(reason, BaseException) else [])
            + [arg for arg in current.args if isinstance(arg, BaseException)]
        )


def _detail(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def describe_failure(error: BaseException, server: str, action: str) -> str:
    """One sentence for a failed request: what failed, why, and what to change.

    `server` is the API server's URL as configured; `action` what was asked ("list CodeRuns
    in namespace x").
    """
    chain = list(_chain(error))
    api_error = next((e for e in chain if isinstance(e, ApiException)), None)
    if api_error is not None and api_error.status in (401, 403, 404):
        if api_error.status == 401:
            return (
                f"the Kubernetes API server at {server} refused the credentials "
                f"(401 Unauthorized) to {action}: the service account token is missing or "
                "not valid for this cluster"
            )
        if api_error.status == 403:
            return (
                f"the Kubernetes API server at {server} forbids this service account to "
                f"{action} (403 Forbidden): grant it the chart's RBAC (rbac.create=true, "
                "templates/rbac.yaml)"
            )
        pools = "CodeRunPool" in action
        return (
            f"the Kubernetes API server at {server} does not know the resource to {action} "
            f"(404 Not Found): install the {'CodeRunPool' if pools else 'CodeRun'} CRD "
            f"(kubectl apply -f crds/coderun.dev_{'coderunpools' if pools else 'coderuns'}.yaml)"
        )
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None or any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in chain):
        reason = _detail(verify) if verify is not None else "certificate verify failed"
        return (
            f"the server at {server} is not the cluster's Kubernetes API server as far as "
            f"the cluster CA can tell: its certificate does not verify ({reason}). Set "
            f"{ADDRESS_SETTING} to an address of the API server that its certificate names"
        )
    if any(isinstance(e, ssl.SSLError) for e in chain):
        tls = next(e for e in chain if isinstance(e, ssl.SSLError))
        return (
            f"no TLS connection to the Kubernetes API server at {server} ({_detail(tls)}): "
            f"check {ADDRESS_SETTING}"
        )
    network = next(
        (e for e in chain if isinstance(e, (ConnectionError, TimeoutError, socket.gaierror))),
        None,
    )
    if network is not None or any(
        type(e).__name__ in ("NewConnectionError", "ConnectTimeoutError", "MaxRetryError")
        for e in chain
    ):
        why = _detail(network) if network is not None else _detail(error)
        return (
            f"cannot connect to the Kubernetes API server at {server} ({why}). On clusters "
            "without a Service proxy (no kube-proxy or replacement) the `kubernetes` "
            f"Service address is not routed: set {ADDRESS_SETTING} to the API server's "
            "own address"
        )
    return f"could not {action} at the Kubernetes API server {server}: {_detail(error)}"
