"""Names shared by the CRD, the operator and the API's Kubernetes executor.

The CodeRun resource, its labels and annotations, condition types and reasons, and the
deterministic names of the objects the operator creates for a CodeRun. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from coderun_sandbox.contract import ErrorType, Status

GROUP = "coderun.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "CodeRun"
PLURAL = "coderuns"
SINGULAR = "coderun"
SHORT_NAME = "crun"
# `kubectl get coderun-all` lists CodeRuns and CodeRunPools. A category must not equal a
# resource's name: with two kinds in category "coderun", `kubectl get coderun NAME` expanded
# to both and failed with "you must specify only one resource".
CATEGORY = "coderun-all"

# Labels on CodeRun objects, so `kubectl get crun -l coderun.dev/verdict=TLE` filters.
LABEL_LANGUAGE = f"{GROUP}/language"
LABEL_ACCOUNT = f"{GROUP}/account"  # a hash of the API account id, set by the API
LABEL_JOB_ID = f"{GROUP}/job-id"  # the API's jobId, set by the API (equals the name)
LABEL_VERDICT = f"{GROUP}/verdict"  # set by the operator when the run is final
LABEL_CREATED_BY = "app.kubernetes.io/created-by"
# Labels on the Job and its pod: what NetworkPolicies and admission policies select.
LABEL_SANDBOX = f"{GROUP}/sandbox"
LABEL_RUN = f"{GROUP}/run"  # the Job's name: a CodeRun name may be longer than a label value
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
MANAGED_BY = "coderun-operator"
# The pod's annotations naming its CodeRun in full (names may exceed 63 characters), and
# which CodeRun of that name (a deleted and re-created one is another run).
ANNOTATION_CODERUN = f"{GROUP}/coderun"
ANNOTATION_CODERUN_UID = f"{GROUP}/coderun-uid"
# Which delivery attempt of its CodeRun a sandbox pod serves (status.redeliveries when it was
# made or claimed): a request cut short on its way is delivered again on a new pod, and the
# events of the pods of earlier attempts must not decide the run.
ANNOTATION_ATTEMPT = f"{GROUP}/attempt"

# Warm pools (pool_controller.py): the CodeRunPool resource, in the namespace of the
# CodeRuns it serves (an ownerReference cannot cross namespaces).
POOL_KIND = "CodeRunPool"
POOL_PLURAL = "coderunpools"
POOL_SINGULAR = "coderunpool"
POOL_SHORT_NAME = "crpool"
# On a pool's Jobs and pods: which pool, and idle or claimed. An idle pod that is claimed
# changes `warm` to `claimed` and gains `claimed-by` (the CodeRun's uid) in one patch
# guarded by its resourceVersion, so two claims of one pod cannot both succeed.
LABEL_POOL = f"{GROUP}/pool"
LABEL_WARM = f"{GROUP}/warm"
LABEL_CLAIMED_BY = f"{GROUP}/claimed-by"
WARM_IDLE = "idle"
WARM_CLAIMED = "claimed"
# Set by the Job controller on the pods of a Job.
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
# The pool pod's template (settings, image, language) as a hash: a pod built from an older
# one is recycled rather than claimed.
ANNOTATION_TEMPLATE = f"{GROUP}/template-hash"
POOL_JOB_PREFIX = "crpool-"
# How a CodeRun started (status.start): on a claimed pool pod, or a Job made for it.
START_WARM = "warm"
START_COLD = "cold"

# Container names in the sandbox pod. Compiled languages have two containers that start
# together, each waiting for its request on stdin: compile (under the compile limits) gets
# it first; run (under the run limits) once compile reported success. INIT_CONTAINERS names
# the steps before run, in order.
COMPILE_CONTAINER = "compile"
RUN_CONTAINER = "run"
INIT_CONTAINERS = (COMPILE_CONTAINER,)

# Condition types (Kubernetes API conventions: a list keyed by type).
COND_SCHEDULED = "Scheduled"
COND_RUNNING = "Running"
COND_SUCCEEDED = "Succeeded"

# Phases, derived from the conditions, for `kubectl get` readability.
PHASE_QUEUED = "Queued"
PHASE_SCHEDULED = "Scheduled"
PHASE_RUNNING = "Running"
PHASE_SUCCEEDED = "Succeeded"
PHASE_FAILED = "Failed"
FINAL_PHASES = (PHASE_SUCCEEDED, PHASE_FAILED)
PHASES = (PHASE_QUEUED, PHASE_SCHEDULED, PHASE_RUNNING, PHASE_SUCCEEDED, PHASE_FAILED)

# The verdict of a final run: "Success" or the contract's error type.
VERDICT_SUCCESS = "Success"
VERDICTS = (VERDICT_SUCCESS, *(str(e) for e in ErrorType))

# CamelCase reasons of the Succeeded condition, one per verdict.
VERDICT_REASONS: dict[str, str] = {
    VERDICT_SUCCESS: "Success",
    ErrorType.TLE: "TimeLimitExceeded",
    ErrorType.MLE: "MemoryLimitExceeded",
    ErrorType.COMPILATION_ERROR: "CompilationError",
    ErrorType.RUNTIME_ERROR: "RuntimeError",
    ErrorType.SANDBOX_ERROR: "SandboxError",
    ErrorType.INTERNAL_ERROR: "InternalError",
    # Judge mode: set by the API, which alone holds expected outputs (never by a sandbox).
    ErrorType.WRONG_ANSWER: "WrongAnswer",
}

MAX_NAME = 63
JOB_PREFIX = "crun-"
# The Job controller appends "-" and 5 characters to pod names, and puts the Job's name in
# a label value (at most 63 characters).
MAX_JOB_NAME = 52


def pool_job_name(pool_name: str, token: str) -> str:
    """A pool Job's name: the pool's, shortened if need be, and a random token (pool pods
    are interchangeable, and a retried create that made one anyway is trimmed as surplus)."""
    room = MAX_JOB_NAME - len(POOL_JOB_PREFIX) - len(token) - 1
    head = pool_name if len(pool_name) <= room else pool_name[:room]
    return f"{POOL_JOB_PREFIX}{head.replace('.', '-').rstrip('-')}-{token}"


def job_of(body: Mapping[str, Any]) -> str:
    """The name of the Job that runs a CodeRun: a pool's Job once claimed, else its own."""
    named = (body.get("status") or {}).get("jobName")
    if named:
        return str(named)
    return job_name(str((body.get("metadata") or {}).get("name")), attempt_of(body))


def attempt_of(body: Mapping[str, Any]) -> int:
    """How many times this CodeRun's request was delivered again (status.redeliveries)."""
    return int((body.get("status") or {}).get("redeliveries") or 0)


def pod_attempt(pod: Mapping[str, Any]) -> int:
    """The attempt a sandbox pod (or Job) serves; pods made before attempts existed serve 0."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations.get(ANNOTATION_ATTEMPT) or 0)
    except ValueError:
        return -1  # not ours to trust: matches no attempt


def verdict_of(status: Status, error_type: ErrorType | None) -> str:
    if status is Status.SUCCESS:
        return VERDICT_SUCCESS
    return str(error_type or ErrorType.INTERNAL_ERROR)


def job_name(coderun_name: str, attempt: int = 0) -> str:
    """The Job's name for a CodeRun: deterministic, unique per name and attempt (a new
    attempt must not meet its predecessor's Job while that is still being deleted), a valid
    label value."""
    if attempt:
        coderun_name = f"{coderun_name}-r{attempt}"
    name = JOB_PREFIX + coderun_name
    if len(name) <= MAX_JOB_NAME and "." not in coderun_name:
        return name
    digest = hashlib.sha256(coderun_name.encode()).hexdigest()[:10]
    head = coderun_name[: MAX_JOB_NAME - len(JOB_PREFIX) - len(digest) - 1].replace(".", "-")
    return f"{JOB_PREFIX}{head.rstrip('-')}-{digest}"


def account_label(account_id: int | str) -> str:
    """The account label value: a hash, so object listings do not reveal account ids."""
    return hashlib.sha256(f"coderun-account:{account_id}".encode()).hexdigest()[:16]


def key_of(namespace: str, name: str, uid: str) -> str:
    """The operator's identity of one CodeRun: a re-created name is a different run."""
    return f"{namespace}/{name}/{uid}"


def split_key(key: str) -> tuple[str, str, str]:
    namespace, name, uid = key.split("/", 2)
    return namespace, name, uid


def conditions_of(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = body.get("status") or {}
    return {c.get("type", ""): c for c in status.get("conditions") or []}


def is_final(body: Mapping[str, Any]) -> bool:
    """Final once the Succeeded condition is True or False (phase is only for display)."""
    succeeded = conditions_of(body).get(COND_SUCCEEDED)
    return succeeded is not None and succeeded.get("status") in ("True", "False")


def is_admitted(body: Mapping[str, Any]) -> bool:
    scheduled = conditions_of(body).get(COND_SCHEDULED)
    return scheduled is not None and scheduled.get("status") == "True"


def is_running(body: Mapping[str, Any]) -> bool:
    running = conditions_of(body).get(COND_RUNNING)
    return running is not None and running.get("status") == "True"


def lifecycle(body: Mapping[str, Any]) -> str:
    """`queued`, `active` or `final`: the operator's admission view of a CodeRun."""
    if is_final(body):
        return "final"
    if is_admitted(body):
        return "active"
    return "queued"
