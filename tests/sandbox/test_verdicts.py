"""Every verdict in every language, each caused by a real program."""

from __future__ import annotations

import pytest
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.isolation import BubblewrapIsolation
from coderun_sandbox.runner import execute

from .conftest import RunFn

HELLO = {
    "python": "print('Hello, ' + input())",
    "javascript": "const s=require('fs').readFileSync(0,'utf8').trim(); console.log('Hello, ' + s);",
    "cpp": "#include <iostream>\n#include <string>\nint main(){std::string s; std::cin>>s;"
    ' std::cout<<"Hello, "<<s<<std::endl;}',
    "java": "import java.util.Scanner;\npublic class Main { public static void main(String[] a)"
    ' { System.out.println("Hello, " + new Scanner(System.in).next()); } }',
}
SPIN = {
    "python": "while True: pass",
    "javascript": "while (true) {}",
    "cpp": "int main(){ volatile unsigned long x=0; for(;;) x++; }",
    "java": "public class Main { public static void main(String[] a) { long x=0; while (true) x++; } }",
}
SLEEP = {
    "python": "import time; time.sleep(30)",
    "javascript": "setTimeout(() => {}, 30000);",
    "cpp": "#include <unistd.h>\nint main(){ sleep(30); }",
    "java": "public class Main { public static void main(String[] a) throws Exception"
    " { Thread.sleep(30000); } }",
}
HOG = {
    "python": "x = []\nwhile True: x.append(bytearray(16 * 1024 * 1024))",
    "javascript": "const a=[]; while (true) a.push(new Array(1e6).fill(1.5));",
    "cpp": "#include <cstring>\n#include <cstdlib>\nint main(){ for(;;){ char*p=(char*)malloc(1<<24);"
    " memset(p,1,1<<24);} }",
    "java": "import java.util.*;\npublic class Main { public static void main(String[] a)"
    " { List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 20]); } }",
}
CRASH = {
    "python": "raise SystemExit(3)",
    "javascript": "process.exit(3)",
    "cpp": "int main(){ return 3; }",
    "java": "public class Main { public static void main(String[] a) { System.exit(3); } }",
}
LANGUAGES = list(HELLO)


@pytest.mark.parametrize("language", LANGUAGES)
def test_success_reads_stdin_and_prints(run: RunFn, language: str) -> None:
    result = run(language, HELLO[language], "World\n")
    assert result["status"] == "success", result
    assert result["stdout"].strip() == "Hello, World"
    assert result["exitCode"] == 0
    assert result["sandboxErrorType"] is None
    assert result["executionTimeMs"] > 0
    assert result["memoryKb"] > 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_busy_loop_is_tle(run: RunFn, language: str) -> None:
    result = run(language, SPIN[language], time_limit_ms=1000)
    assert (result["status"], result["sandboxErrorType"]) == ("failed", "TLE"), result
    # Stopped by its CPU limit, or by the wall limit (the same) when the machine starved it.
    assert result["cpuTimeMs"] >= 1000 or result["executionTimeMs"] >= 1000


@pytest.mark.parametrize("language", LANGUAGES)
def test_sleeping_is_tle_too(run: RunFn, language: str) -> None:
    result = run(language, SLEEP[language], time_limit_ms=1000)
    assert (result["status"], result["sandboxErrorType"]) == ("failed", "TLE"), result
    assert result["cpuTimeMs"] < 1000  # wall, not CPU, ended it


@pytest.mark.parametrize("language", LANGUAGES)
def test_memory_hog_is_mle(run: RunFn, language: str) -> None:
    result = run(language, HOG[language], memory_limit_mb=128)
    assert (result["status"], result["sandboxErrorType"]) == ("failed", "MLE"), result


@pytest.mark.parametrize("language", LANGUAGES)
def test_nonzero_exit_is_runtime_error(run: RunFn, language: str) -> None:
    result = run(language, CRASH[language])
    assert (result["sandboxErrorType"], result["exitCode"]) == ("RuntimeError", 3), result


def test_uncaught_exception_is_runtime_error_with_traceback(run: RunFn) -> None:
    result = run("python", "print('before')\nraise ValueError('boom')")
    assert result["sandboxErrorType"] == "RuntimeError"
    assert result["stdout"] == "before\n"
    assert "ValueError: boom" in result["stderr"]


def test_segfault_reports_128_plus_signal(run: RunFn) -> None:
    result = run("cpp", "int main(){ volatile int *p = 0; *p = 1; }")
    assert result["sandboxErrorType"] == "RuntimeError"
    assert result["exitCode"] == 139
    assert "SIGSEGV" in result["sandboxErrorMessage"]


@pytest.mark.parametrize(
    "language,code",
    [
        ("cpp", "int main() { return undefined_name; }"),
        ("java", 'public class Main { public static void main(String[] a) { int x = "s"; } }'),
    ],
)
def test_compile_failure_carries_compiler_message(run: RunFn, language: str, code: str) -> None:
    result = run(language, code)
    assert (result["status"], result["sandboxErrorType"]) == ("failed", "CompilationError")
    assert "error" in result["sandboxErrorMessage"]
    assert "error" in result["stderr"]
    assert result["compileTimeMs"] is not None


def test_compiler_reading_forever_hits_its_limit(run: RunFn) -> None:
    # The classic hostile include: g++ reads /dev/zero until its own limit stops it.
    result = run("cpp", '#include "/dev/zero"\nint main(){}', compile_time_limit_ms=1500)
    assert result["sandboxErrorType"] == "CompilationError", result
    assert result["compileTimeMs"] < 10_000


def test_compiler_cannot_include_host_secrets(run: RunFn) -> None:
    result = run("cpp", '#include "/etc/shadow"\nint main(){}')
    assert result["sandboxErrorType"] == "CompilationError"
    assert "No such file" in result["stderr"]


def test_java_any_public_class_name(run: RunFn) -> None:
    code = (
        "public class Greeter { public static void main(String[] a) { System.out.println(42); } }"
    )
    result = run("java", code)
    assert result["status"] == "success", result
    assert result["stdout"] == "42\n"


def test_missing_sandbox_tool_is_sandbox_error() -> None:
    result = execute(
        RunRequest("python", "print(1)"), isolation=BubblewrapIsolation(bwrap="/nonexistent/bwrap")
    )
    assert result.to_json_dict()["sandboxErrorType"] == "SandboxError"
    assert "bubblewrap" in result.error_message


def test_timestamps_and_durations_follow_the_v1_api(run: RunFn) -> None:
    result = run("python", "print(1)")
    for key in ("startedAt", "finishedAt"):
        value = result[key]
        assert value.endswith("Z") and len(value.split(".")[1]) == 4, value  # ".mmmZ"
    assert result["finishedAt"] >= result["startedAt"]
