"""Prometheus metrics on /metrics (`CODERUN_OPERATOR_METRICS_PORT`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# Runs are short: most of a run's time is the pod's start, so buckets span 50 ms to 2 min.
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60, 120)

RUNS = Counter(
    "coderun_operator_runs_total",
    "CodeRuns finished, by language and verdict",
    ["language", "verdict"],
)
QUEUE_SECONDS = Histogram(
    "coderun_operator_queue_seconds",
    "From CodeRun creation to its Job's creation",
    ["language"],
    buckets=SECONDS_BUCKETS,
)
EXECUTION_SECONDS = Histogram(
    "coderun_operator_execution_seconds",
    "The program's execution time as the runner measured it",
    ["language"],
    buckets=SECONDS_BUCKETS,
)
TOTAL_SECONDS = Histogram(
    "coderun_operator_total_seconds",
    "From CodeRun creation to its final status",
    ["language"],
    buckets=SECONDS_BUCKETS,
)
QUEUED = Gauge("coderun_operator_queued_runs", "CodeRuns waiting for a free slot")
ACTIVE = Gauge("coderun_operator_active_runs", "CodeRuns with a Job that is not finished")
API_WRITES = Counter(
    "coderun_operator_api_writes_total",
    "Writes this operator made to the Kubernetes API",
    ["verb", "resource"],
)
REDELIVERIES = Counter(
    "coderun_operator_redeliveries_total",
    "Run requests delivered again on a new pod because the first delivery was cut short",
)
ERRORS = Counter("coderun_operator_errors_total", "Failed reconcile steps (retried)", ["step"])


def serve(port: int) -> None:
    if port:
        start_http_server(port)


# Warm pools (pool_controller.py, the claim in reconciler.py).
POOL_CLAIMS = Counter(
    "coderun_pool_claims_total",
    "Runs that looked for a pool pod: hit (claimed one) or miss (started cold)",
    ["language", "result"],
)
POOL_CLAIM_SECONDS = Histogram(
    "coderun_pool_claim_seconds",
    "From a run's admission to its pool pod claimed (the guarded patch included)",
    ["language"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
POOL_PODS = Gauge(
    "coderun_pool_pods",
    "Idle pool pods by language and state (ready: waiting for a run; starting)",
    ["language", "state"],
)
DELIVERIES = Counter(
    "coderun_operator_deliveries_total",
    "Run requests written to a container's stdin: on a session opened before the claim "
    "(primed) or on one opened for the delivery (attached)",
    ["path"],
)
