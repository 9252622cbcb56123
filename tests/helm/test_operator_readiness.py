"""The operator Deployment's readiness probe asks the operator's own readiness endpoint
(coderun_operator.readiness), not kopf's liveness one, which answers whether or not
CodeRuns are served: an operator that is up but not yet serving CodeRuns is not Ready."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.helm.conftest import SAMPLE_VALUES, Helm, env_of, one


def test_the_operator_is_ready_only_by_its_readiness_endpoint(helm: Helm) -> None:
    for values in ((), (SAMPLE_VALUES,)):
        operator = one(helm.render(values=values), "Deployment", "-operator")
        container = operator["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe = container["readinessProbe"]["httpGet"]
        served = urlsplit(env_of(container)["CODERUN_OPERATOR_READINESS"]["value"])
        # The probe asks the path and port the operator serves its readiness on...
        assert probe["port"] == "ready" and served.port == ports["ready"]
        assert probe["path"] == served.path == "/readyz"
        # ...which is not kopf's liveness endpoint.
        assert ports["ready"] != ports["health"]
        assert container["livenessProbe"]["httpGet"]["port"] == "health"


def test_the_readiness_port_is_a_value(helm: Helm) -> None:
    operator = one(helm.render("--set", "operator.readinessPort=9191"), "Deployment", "-operator")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "ready", "containerPort": 9191, "protocol": "TCP"} in container["ports"]
    assert env_of(container)["CODERUN_OPERATOR_READINESS"]["value"] == (
        "http://0.0.0.0:9191/readyz"
    )
