"""Prometheus metrics, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "coderun_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "coderun_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
SUBMISSIONS = Counter("coderun_submissions_total", "Accepted submissions", ["language"])
VERDICTS = Counter(
    "coderun_verdicts_total", "Final job verdicts", ["language", "status", "error_type"]
)
QUEUE_DEPTH = Gauge(
    "coderun_queue_depth",
    "Jobs accepted and not yet running (local executor: in the queue all replicas share)",
)
CREDITS_CHARGED = Counter("coderun_credits_charged_total", "Credits charged for successful runs")
