"""What the running app holds: built once in the lifespan, reached through app.state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import JobStore
from coderun_api.notify import JobNotifier
from coderun_api.ratelimit import RateLimits
from coderun_api.webhooks.delivery import WebhookSender
from coderun_api.webhooks.store import WebhookStore


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    notifier: JobNotifier
    jobs: JobStore
    executor: Executor
    limits: RateLimits
    webhooks: WebhookStore
    sender: WebhookSender
