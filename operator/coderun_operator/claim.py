"""Claiming a pool pod for a CodeRun: the patches, built purely. The Reconciler sends them.

The claim is one merge patch of the pod guarded by the resourceVersion the operator saw it
at, so of two claims of one pod exactly one succeeds (the other gets 409 Conflict and
takes another pod or goes cold). The same patch, atomically:

- relabels it `coderun.dev/warm=claimed`, `coderun.dev/claimed-by=<CodeRun uid>`, so the
  pool stops counting it and refills at once, and an operator restarted at any later
  moment finds the pod of a CodeRun by its uid (handlers.claimed_pods, a kopf index);
- annotates it with the CodeRun (as a cold pod is from birth), so its events reach the run;
- lowers its `activeDeadlineSeconds` (counted from the pod's start, which is minutes ago
  for a pool pod) to its age plus the run's own deadline: an idle pod never dies of it,
  and a claimed one is held to the same backstop as a cold one.

Then the Job is handed over (`job_handover`): the CodeRun becomes its only owner, so that
deleting the CodeRun removes it and deleting the pool does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coderun_sandbox.contract import RunRequest, parse_iso_utc

from coderun_operator import resources as r
from coderun_operator.job_builder import coderun_annotations, coderun_owner, deadline_seconds
from coderun_operator.settings import OperatorSettings


def pod_age_seconds(pod: Mapping[str, Any], now: datetime) -> float:
    """Since the pod's status.startTime: what activeDeadlineSeconds counts from."""
    status = pod.get("status") or {}
    started = status.get("startTime") or (pod.get("metadata") or {}).get("creationTimestamp")
    return max(0.0, (now - parse_iso_utc(str(started))).total_seconds()) if started else 0.0


def claimed_deadline(
    pod: Mapping[str, Any], request: RunRequest, settings: OperatorSettings, now: datetime
) -> int:
    """The claimed pod's activeDeadlineSeconds: its age now plus the run's own deadline
    (as a cold pod's), never above what it had (Kubernetes only lets it be lowered)."""
    wanted = math.ceil(pod_age_seconds(pod, now)) + deadline_seconds(request, settings)
    current = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return min(wanted, int(current)) if current else wanted


def claim_patch(coderun: Mapping[str, Any], deadline: int) -> dict[str, Any]:
    uid = str(coderun["metadata"]["uid"])
    return {
        "metadata": {
            "labels": {r.LABEL_WARM: r.WARM_CLAIMED, r.LABEL_CLAIMED_BY: uid},
            "annotations": coderun_annotations(coderun),
        },
        "spec": {"activeDeadlineSeconds": deadline},
    }


def job_handover(coderun: Mapping[str, Any]) -> dict[str, Any]:
    """The claimed Job's new metadata: owned by the CodeRun alone (a merge patch replaces
    the list), labelled claimed, annotated with its CodeRun."""
    uid = str(coderun["metadata"]["uid"])
    return {
        "metadata": {
            "ownerReferences": [coderun_owner(coderun)],
            "labels": {r.LABEL_WARM: r.WARM_CLAIMED, r.LABEL_CLAIMED_BY: uid},
            "annotations": coderun_annotations(coderun),
        }
    }


def claimed_by(pod: Mapping[str, Any]) -> str:
    """The uid of the CodeRun that claimed this pool pod, or ""."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get(r.LABEL_WARM) != r.WARM_CLAIMED:
        return ""
    return str(labels.get(r.LABEL_CLAIMED_BY) or "")
