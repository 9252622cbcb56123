"""The one definition of each time a run reports, and of the limit that bounds it.

Read by the API's response model (so the OpenAPI document carries them), by the CRD
(crd.py) and, word for word, by docs/api.md; tests/api/test_time_fields.py keeps the three
in step. It lives next to resources.py because, like it, both the API and the operator
import it, and neither needs the other's dependencies for it.

How the times add up (the v1 API's arithmetic, docs/api.md, exact in milliseconds of the
timestamps the client sees):

    queuedAt --queueTimeMs--> startedAt --executionTimeMs--> finishedAt
    totalTimeMs = queueTimeMs + executionTimeMs
    executionTimeMs >= compileTimeMs + runTimeMs   (plus the sandbox's own set-up)
"""

from __future__ import annotations

QUEUE_TIME_MS = (
    "Milliseconds from queuedAt to startedAt: how long the job waited for a sandbox. "
    "Null until the job starts."
)
EXECUTION_TIME_MS = (
    "Milliseconds from startedAt to finishedAt: the sandbox's whole work on the job, "
    "compilation and the sandbox's set-up included. Null until final."
)
TOTAL_TIME_MS = "queueTimeMs + executionTimeMs, which is finishedAt - queuedAt. Null until final."
RUN_TIME_MS = (
    "Wall-clock milliseconds of the program's own run, from its start to its exit, "
    "compilation excluded. The time limit bounds it: a success never ran longer."
)
COMPILE_TIME_MS = (
    "Wall-clock milliseconds of the compile step, for compiled languages (null for "
    "interpreted ones). It has its own limit, separate from the run's."
)
CPU_TIME_MS = (
    "CPU milliseconds (user + system) used by all of the program's processes during its "
    "run, compilation excluded. The time limit bounds it."
)
TIME_LIMIT_MS = (
    "The run's time limit in milliseconds. It bounds both the CPU time (cpuTimeMs) and the "
    "wall time (runTimeMs) of the program's run, with no grace; compilation has its own limit."
)

# The API's field name -> its definition, in the order docs/api.md lists them.
RESULT_TIME_FIELDS: dict[str, str] = {
    "queueTimeMs": QUEUE_TIME_MS,
    "executionTimeMs": EXECUTION_TIME_MS,
    "totalTimeMs": TOTAL_TIME_MS,
    "runTimeMs": RUN_TIME_MS,
    "compileTimeMs": COMPILE_TIME_MS,
    "cpuTimeMs": CPU_TIME_MS,
}
