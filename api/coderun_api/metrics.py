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
WEBHOOK_ATTEMPTS = Counter(
    "coderun_webhook_attempts_total",
    "Webhook delivery attempts by what followed: delivered, retry (later) or failed (gave up)",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "coderun_webhook_delivered_seconds",
    "From a job becoming final to the 2xx of its webhook (retries included)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)
EVENT_STREAMS = Gauge("coderun_event_streams", "Event streams (SSE) open on this process")
