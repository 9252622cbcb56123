"""The shared contract: limits, statuses, verdicts and the result format.

The field names are those of the v1 API in docs/api.md (`jobId`, `executionTimeMs`,
`sandboxErrorType`, ...); the runner emits them, the operator copies them into CodeRun
status, and the API serves them. What crosses the sandbox's trust boundary is defined here
once and imported by both sides: the request on stdin, the marks and the result line on the
log, and the environment a sandbox container reads (`SandboxEnv`).
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime

from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    class KnownLanguage(Protocol):
        """What validate needs of an entry of the language table (languages.Language),
        named here so that the contract does not import the table it is checked against."""

        def check_compiler_options(self, options: tuple[str, ...]) -> None: ...


# Limits the v1 API promises (docs/api.md): 3 s, 256 MB, no network.
DEFAULT_TIME_LIMIT_MS = 3_000
DEFAULT_MEMORY_LIMIT_MB = 256
# Bounds for callers that choose their own limits (CLI, CodeRun objects applied by hand).
MIN_TIME_LIMIT_MS = 100
MAX_TIME_LIMIT_MS = 30_000
MIN_MEMORY_LIMIT_MB = 32
MAX_MEMORY_LIMIT_MB = 4_096
# Compilation has its own, looser budget; it never loosens the run's limits.
DEFAULT_COMPILE_TIME_LIMIT_MS = 10_000
DEFAULT_COMPILE_MEMORY_LIMIT_MB = 1_024
# Sizes of what a client may send.
MAX_CODE_BYTES = 64 * 1024
MAX_INPUT_BYTES = 64 * 1024
# Each of stdout and stderr is kept up to this many bytes; the rest is drained and dropped.
OUTPUT_CAP_BYTES = 64 * 1024
# Largest file the program may write (RLIMIT_FSIZE) and size of its writable work dir.
MAX_FILE_BYTES = 16 * 1024 * 1024
WORKDIR_SIZE_BYTES = 64 * 1024 * 1024
# Judge mode (docs/api.md, "Test cases"). Up to 64 cases, compiled once, each run in a fresh
# process under the full limits.
MAX_TEST_CASES = 64
# What the cases of one submission may print, shared between them: each case keeps up to
# budget / cases bytes (at most OUTPUT_CAP_BYTES) of stdout and of stderr. Chosen so that
# the worst case still fits where a result travels on Kubernetes: the runner's result line
# escapes a control byte as \u00XX (6 bytes), and the operator reads at most 1 MiB of log;
# (96 + 32) KiB x 6 = 768 KiB, leaving room for the other fields of 64 cases. The CodeRun
# status that carries it stays well inside etcd's 1.5 MiB object limit beside a spec that
# the request body cap (256 KiB) bounds.
CASES_STDOUT_BUDGET_BYTES = 96 * 1024
CASES_STDERR_BUDGET_BYTES = 32 * 1024
# The program's argv after its own name, and the compiler options a request may add.
MAX_ARGUMENTS = 32
MAX_ARGUMENT_BYTES = 1024
MAX_COMPILER_OPTIONS = 16


def case_output_caps(cases: int) -> tuple[int, int]:
    """(stdout cap, stderr cap) in bytes for each case of a submission with `cases` cases."""
    count = max(1, cases)
    return (
        min(OUTPUT_CAP_BYTES, CASES_STDOUT_BUDGET_BYTES // count),
        min(OUTPUT_CAP_BYTES, CASES_STDERR_BUDGET_BYTES // count),
    )


# The cases of one submission share at most this much wall time, whatever their number:
# 64 cases that each time out would otherwise hold a sandbox (and a pool pod, whose
# deadline a claim can only lower) for over four minutes.
MAX_CASES_WALL_MS = 60_000


def cases_wall_budget_ms(cases: int, time_limit_ms: int) -> int:
    """The wall time all cases of a submission get together: each its own time limit plus a
    second for starting and cleaning up its sandbox, at most MAX_CASES_WALL_MS. Cases not
    started when it is spent fail unrun with TLE. The whole submission's wall time is then
    at most the compile limit plus this plus one time limit (the case running when it ran
    out) and its clean-up (docs/api.md)."""
    return min(MAX_CASES_WALL_MS, cases * (time_limit_ms + 1000))


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (Status.SUCCESS, Status.FAILED)


class ErrorType(enum.StrEnum):
    TLE = "TLE"
    MLE = "MLE"
    COMPILATION_ERROR = "CompilationError"
    RUNTIME_ERROR = "RuntimeError"
    SANDBOX_ERROR = "SandboxError"
    INTERNAL_ERROR = "InternalError"
    # Judge mode: the case ran within its limits and exited 0, but its output did not match
    # the expected output (judged on the trusted side, never in the sandbox).
    WRONG_ANSWER = "WrongAnswer"


class InvalidRequest(ValueError):
    """The request cannot be run as given; the message says what to fix."""


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, as in docs/api.md (`2026-01-05T15:26:30.796Z`)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def ms_between(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


# Records are named tuples (records.Record) rather than dataclasses: `coderun run` imports
# this module on every run, and dataclasses (inspect, code generated per class) or typing
# cost it ~10-20 ms each.


class RunLimits(Record):
    """The limits of one run as the API states them (milliseconds and megabytes); the OS
    limits of each process it starts follow from them (process.ProcessLimits)."""

    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    compile_time_limit_ms: int = DEFAULT_COMPILE_TIME_LIMIT_MS
    compile_memory_limit_mb: int = DEFAULT_COMPILE_MEMORY_LIMIT_MB
    output_cap_bytes: int = OUTPUT_CAP_BYTES

    def validate(self) -> None:
        if not MIN_TIME_LIMIT_MS <= self.time_limit_ms <= MAX_TIME_LIMIT_MS:
            raise InvalidRequest(
                f"time limit must be between {MIN_TIME_LIMIT_MS} and {MAX_TIME_LIMIT_MS} ms"
            )
        if not MIN_MEMORY_LIMIT_MB <= self.memory_limit_mb <= MAX_MEMORY_LIMIT_MB:
            raise InvalidRequest(
                f"memory limit must be between {MIN_MEMORY_LIMIT_MB} and {MAX_MEMORY_LIMIT_MB} MB"
            )


def _check_text(name: str, text: str, cap: int) -> None:
    """Refuse a text field over `cap` bytes in UTF-8, or one holding a NUL byte."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > cap:
        raise InvalidRequest(f"{name} is {size} bytes; the limit is {cap} bytes")
    if "\x00" in text:
        raise InvalidRequest(f"{name} contains a NUL byte; remove it")


class RunRequest(Record):
    language: str
    code: str
    input: str = ""
    limits: RunLimits = RunLimits()  # immutable, so one shared default is safe
    # Judge mode: the inputs of the test cases, one process each. Only the inputs: expected
    # outputs never reach a sandbox (they are compared on the trusted side, coderun_api).
    cases: tuple[str, ...] = ()
    # Stop at the first case that fails (the rest are skipped).
    stop_on_failure: bool = False
    # argv after the program (every case, or the single run), and allowed compiler options.
    arguments: tuple[str, ...] = ()
    compiler_options: tuple[str, ...] = ()

    def validate(self, known_languages: Mapping[str, KnownLanguage]) -> None:
        """Refuse what cannot be run on `known_languages` (languages.languages()), with a
        message that says what to fix."""
        if self.language not in known_languages:
            raise InvalidRequest(
                f"unsupported language {self.language!r}; supported: {', '.join(known_languages)}"
            )
        if not self.code.strip():
            raise InvalidRequest("code is empty; send the program's source in `code`")
        _check_text("code", self.code, MAX_CODE_BYTES)
        _check_text("input", self.input, MAX_INPUT_BYTES)
        self.limits.validate()
        self._validate_judge_fields()
        if self.compiler_options:
            known_languages[self.language].check_compiler_options(self.compiler_options)

    def _validate_judge_fields(self) -> None:
        if len(self.cases) > MAX_TEST_CASES:
            raise InvalidRequest(
                f"testCases has {len(self.cases)} cases; at most {MAX_TEST_CASES} are allowed"
            )
        for index, text in enumerate(self.cases):
            _check_text(f"testCases[{index}].input", text, MAX_INPUT_BYTES)
        if len(self.arguments) > MAX_ARGUMENTS:
            raise InvalidRequest(
                f"commandLineArguments has {len(self.arguments)} items; at most {MAX_ARGUMENTS}"
            )
        for index, argument in enumerate(self.arguments):
            _check_text(f"commandLineArguments[{index}]", argument, MAX_ARGUMENT_BYTES)

    def to_wire(self) -> bytes:
        """The request as the sandbox runner reads it from its stdin (see `frame_request`).

        Every field travels, nested records and tuples of records included (named in
        `WIRE_RECORDS`), so a field added to RunRequest reaches the pod with no change here.
        Raises InvalidRequest when the encoding is larger than `MAX_REQUEST_WIRE_BYTES`.
        """
        document = {"v": WIRE_VERSION, **_wire_value(self)}
        payload = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        data = payload.encode("utf-8", "surrogatepass")
        if len(data) > MAX_REQUEST_WIRE_BYTES:
            raise InvalidRequest(
                f"the request is {len(data)} bytes encoded; the limit is "
                f"{MAX_REQUEST_WIRE_BYTES} bytes (send less code, input or test cases)"
            )
        return data

    @classmethod
    def from_wire(cls, data: bytes) -> RunRequest:
        """The request `to_wire` encoded; InvalidRequest for anything else (not validated:
        call `validate` as for any request)."""
        if len(data) > MAX_REQUEST_WIRE_BYTES:
            raise InvalidRequest(f"the request is over {MAX_REQUEST_WIRE_BYTES} bytes")
        try:
            document = json.loads(data.decode("utf-8", "surrogatepass"))
        except ValueError as error:
            raise InvalidRequest(f"the request is not JSON: {error}") from None
        if not isinstance(document, dict) or document.pop("v", None) != WIRE_VERSION:
            raise InvalidRequest(f"the request is not a version {WIRE_VERSION} request")
        request: RunRequest = _record_from_wire(cls, document)
        return request


# The run request on the wire: what the operator writes to a sandbox container's stdin.
# A header line `coderun-request/<version> <length>\n`, then exactly <length> bytes of
# RunRequest.to_wire(). The length frames it: the runner needs no end-of-file, and a
# request cut short (the writer died mid-way) is told apart from a whole one.
WIRE_VERSION = 1
WIRE_MAGIC = b"coderun-request/"
# Far above the largest request the API accepts (judge mode: ~256 KiB), far below what
# could crowd the program: the runner holds the request in its 32 MiB allowance.
MAX_REQUEST_WIRE_BYTES = 1024 * 1024
MAX_WIRE_HEADER_BYTES = 64


def frame_request(request: RunRequest) -> bytes:
    """Header and payload, as written to the runner's stdin."""
    payload = request.to_wire()
    return WIRE_MAGIC + f"{WIRE_VERSION} {len(payload)}\n".encode("ascii") + payload


class IncompleteRequest(Exception):
    """The stream ended before a whole request arrived: nothing may run from it."""


def read_framed_request(read: Callable[[int], bytes]) -> RunRequest:
    """Read one framed request with `read(n)` (a blocking read of at most n bytes, b"" at
    the end). Raises IncompleteRequest if the stream ends first, InvalidRequest for a
    header or payload that is not a request."""
    header = b""
    while not header.endswith(b"\n"):
        byte = read(1)
        if not byte:
            raise IncompleteRequest(f"the stream ended after {len(header)} header bytes")
        header += byte
        if len(header) > MAX_WIRE_HEADER_BYTES:
            raise InvalidRequest("the request header is too long")
    version, _, length_text = header[len(WIRE_MAGIC) : -1].partition(b" ")
    if not header.startswith(WIRE_MAGIC) or version != str(WIRE_VERSION).encode():
        raise InvalidRequest(f"not a version {WIRE_VERSION} request header: {header[:40]!r}")
    if not length_text.isdigit() or int(length_text) > MAX_REQUEST_WIRE_BYTES:
        raise InvalidRequest(f"bad request length in the header: {header[:40]!r}")
    wanted = int(length_text)
    chunks: list[bytes] = []
    got = 0
    while got < wanted:
        chunk = read(min(65536, wanted - got))
        if not chunk:
            raise IncompleteRequest(f"the stream ended after {got} of {wanted} request bytes")
        chunks.append(chunk)
        got += len(chunk)
    return RunRequest.from_wire(b"".join(chunks))


# Fields of wire records whose values are records themselves (or tuples/lists of them):
# field name -> record class. A new nested record field (judge mode's test cases) is
# added here; plain values (str, int, bool, None, lists of those) need no entry.
WIRE_RECORDS: dict[str, type[Any]] = {"limits": RunLimits}


def _wire_value(value: object) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: _wire_value(item) for key, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_wire_value(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"not a wire value: {type(value).__name__}")


def _record_from_wire(cls: type[Any], document: dict[str, Any]) -> Any:
    fields: tuple[str, ...] = cls._fields
    unknown = set(document) - set(fields)
    if unknown:
        raise InvalidRequest(f"unknown request fields: {', '.join(sorted(unknown))}")
    defaults: dict[str, Any] = cls._field_defaults
    values: dict[str, Any] = {}
    for name, raw in document.items():
        nested = WIRE_RECORDS.get(name)
        if nested is not None and isinstance(raw, dict):
            values[name] = _record_from_wire(nested, raw)
        elif nested is not None and isinstance(raw, list):
            items = [_record_from_wire(nested, item) for item in raw if isinstance(item, dict)]
            if len(items) != len(raw):
                raise InvalidRequest(f"{name} must be a list of objects")
            values[name] = tuple(items) if isinstance(defaults.get(name), tuple) else items
        elif isinstance(raw, list) and isinstance(defaults.get(name), tuple):
            values[name] = tuple(raw)  # a tuple field stays a tuple (records are immutable)
        else:
            values[name] = raw
    try:
        return cls(**values)
    except TypeError as error:
        raise InvalidRequest(f"the request is incomplete: {error}") from None


# What a sandbox runner prints on its stdout (the container log), one JSON object a line,
# each under one of these keys (`log_line`). RESULT: the result, a RunResult's JSON (the
# last such line is the verdict; the network gate prints one when it fails closed, and the
# compile container one with COMPILED when it compiled). Marks beside it: READY once it
# waits for its request (the network gate passed), RECEIVED once a whole request arrived
# (the run has begun: an operator restarted after this must not deliver again), INCOMPLETE
# when its stdin ended before a whole request (nothing ran).
RESULT_KEY = "coderunResult"
READY_KEY = "coderunReady"
RECEIVED_KEY = "coderunReceived"
INCOMPLETE_KEY = "coderunIncomplete"
# In the compile container's result line when the compile succeeded (with compileTimeMs).
COMPILED = "compiled"


def log_line(key: str, payload: Mapping[str, object]) -> str:
    """One line of a runner's log, newline included. ASCII only: a program's output travels
    inside the result line, and characters such as U+2028, U+2029 or U+0085 count as line
    breaks to some readers (str.splitlines), which would cut the line in two. Escaped,
    nothing a program prints can frame it."""
    return json.dumps({key: dict(payload)}, ensure_ascii=True) + "\n"


# Beside the RunResult fields on a sandbox container's result line (and on the compile
# container's line that reports a successful compile): when that container's runner began,
# on its own millisecond clock. The operator takes the job's startedAt from the first of
# them, since pod statuses count container starts in whole seconds.
RUNNER_STARTED_AT = "runnerStartedAt"


# A sandbox container's file system as its program sees it (the pod's two tmpfs mounts).
SANDBOX_WORKDIR = "/work"
SANDBOX_SCRATCH_DIR = "/tmp"
# SandboxEnv's fields and the variables that carry them.
SANDBOX_ENV_NAMES = {
    "ready_file": "CODERUN_READY_FILE",
    "workdir": "CODERUN_WORKDIR",
    "scratch_dir": "CODERUN_SCRATCH_DIR",
}


class SandboxEnv(Record):
    """The environment a sandbox container's runner reads: the Job builder writes it
    (`to_env`), the entrypoint reads it once (`from_env`) and then removes every CODERUN_*
    variable before anything untrusted starts. The request never travels here: it comes
    framed on stdin (`frame_request`)."""

    # Where the runner marks that it waits for its request (a pool pod's startupProbe).
    ready_file: str | None = None
    workdir: str = SANDBOX_WORKDIR
    # What the cases of a judge-mode run empty besides the work dir.
    scratch_dir: str = SANDBOX_SCRATCH_DIR

    def to_env(self) -> dict[str, str]:
        """The variables for the fields that differ from the defaults."""
        defaults = SandboxEnv()
        return {
            SANDBOX_ENV_NAMES[name]: str(value)
            for name, value in self._asdict().items()
            if value is not None and value != getattr(defaults, name)
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SandboxEnv:
        values = {
            name: environ[variable]
            for name, variable in SANDBOX_ENV_NAMES.items()
            if environ.get(variable)
        }
        return cls(**values)


class CaseStatus(enum.StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class CaseResult(Record):
    """One test case's run (judge mode). `passed` is set only on the trusted side, where
    the expected output is: True/False when one was given, else None."""

    case_index: int
    status: CaseStatus
    error_type: ErrorType | None = None
    error_message: str = ""
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    exit_code: int | None = None
    execution_time_ms: int | None = None
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    passed: bool | None = None

    @classmethod
    def skipped(cls, index: int, message: str) -> CaseResult:
        return cls(case_index=index, status=CaseStatus.SKIPPED, error_message=message)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "index": self.case_index,
            "status": str(self.status),
            "sandboxErrorType": str(self.error_type) if self.error_type else None,
            "sandboxErrorMessage": self.error_message,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdoutTruncated": self.stdout_truncated,
            "stderrTruncated": self.stderr_truncated,
            "exitCode": self.exit_code,
            "executionTimeMs": self.execution_time_ms,
            "cpuTimeMs": self.cpu_time_ms,
            "memoryKb": self.memory_kb,
            "passed": self.passed,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CaseResult:
        err = data.get("sandboxErrorType")
        passed = data.get("passed")
        return cls(
            case_index=int(data["index"]),
            status=CaseStatus(data["status"]),
            error_type=ErrorType(err) if err else None,
            error_message=str(data.get("sandboxErrorMessage") or ""),
            stdout=str(data.get("stdout") or ""),
            stderr=str(data.get("stderr") or ""),
            stdout_truncated=bool(data.get("stdoutTruncated")),
            stderr_truncated=bool(data.get("stderrTruncated")),
            exit_code=_int_or_none(data.get("exitCode")),
            execution_time_ms=_int_or_none(data.get("executionTimeMs")),
            cpu_time_ms=_int_or_none(data.get("cpuTimeMs")),
            memory_kb=_int_or_none(data.get("memoryKb")),
            passed=passed if isinstance(passed, bool) else None,
        )

    def replace(self, **changes: Any) -> CaseResult:
        return self._replace(**changes)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class RunResult(Record):
    """What one execution produced. JSON names follow the `data` object of docs/api.md."""

    status: Status
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    error_type: ErrorType | None = None
    error_message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    execution_time_ms: int = 0
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    compile_time_ms: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    # Judge mode: one item per test case, in order (None for a run without cases).
    test_cases: tuple[CaseResult, ...] | None = None

    @classmethod
    def failure(cls, error_type: ErrorType, message: str, **extra: Any) -> RunResult:
        return cls(status=Status.FAILED, error_type=error_type, error_message=message, **extra)

    def to_json_dict(self) -> dict[str, Any]:
        cases = {} if self.test_cases is None else {"testCases": self._cases_json()}
        return {
            "status": str(self.status),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "exitCode": self.exit_code,
            "sandboxErrorType": str(self.error_type) if self.error_type else None,
            "sandboxErrorMessage": self.error_message,
            "startedAt": iso_utc(self.started_at) if self.started_at else None,
            "finishedAt": iso_utc(self.finished_at) if self.finished_at else None,
            "executionTimeMs": self.execution_time_ms,
            "cpuTimeMs": self.cpu_time_ms,
            "memoryKb": self.memory_kb,
            "compileTimeMs": self.compile_time_ms,
            "stdoutTruncated": self.stdout_truncated,
            "stderrTruncated": self.stderr_truncated,
            **cases,
        }

    def _cases_json(self) -> list[dict[str, Any]]:
        return [case.to_json_dict() for case in self.test_cases or ()]

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> RunResult:
        started = data.get("startedAt")
        finished = data.get("finishedAt")
        err = data.get("sandboxErrorType")
        return cls(
            status=Status(data["status"]),
            stdout=str(data.get("stdout") or ""),
            stderr=str(data.get("stderr") or ""),
            exit_code=data.get("exitCode"),
            error_type=ErrorType(err) if err else None,
            error_message=str(data.get("sandboxErrorMessage") or ""),
            started_at=parse_iso_utc(started) if started else None,
            finished_at=parse_iso_utc(finished) if finished else None,
            execution_time_ms=int(data.get("executionTimeMs") or 0),
            cpu_time_ms=data.get("cpuTimeMs"),
            memory_kb=data.get("memoryKb"),
            compile_time_ms=data.get("compileTimeMs"),
            stdout_truncated=bool(data.get("stdoutTruncated")),
            stderr_truncated=bool(data.get("stderrTruncated")),
            test_cases=_cases_from_json(data.get("testCases")),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_json_dict(), ensure_ascii=False, indent=indent)

    def replace(self, **changes: Any) -> RunResult:
        return self._replace(**changes)


def _cases_from_json(items: object) -> tuple[CaseResult, ...] | None:
    if not isinstance(items, list):
        return None
    return tuple(CaseResult.from_json_dict(dict(item)) for item in items if isinstance(item, dict))
