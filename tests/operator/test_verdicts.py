"""Through the REST API with the Kubernetes executor: every verdict, on the real cluster.

One Java run in this file (the JVM is the slowest start on a 2-core node).
"""

from __future__ import annotations

import pytest

from tests.operator.harness import ApiProcess

pytestmark = pytest.mark.cluster

HELLO = {
    "python": "print('Hello, World!')\n",
    "javascript": "console.log('Hello, World!');\n",
    "cpp": '#include <iostream>\nint main() { std::cout << "Hello, World!" << std::endl; }\n',
    "java": 'public class Main {\n  public static void main(String[] a) {\n    System.out.println("Hello, World!");\n  }\n}\n',
}


@pytest.mark.parametrize("language", list(HELLO))
def test_hello_world(api: ApiProcess, api_key: str, language: str) -> None:
    data = api.run(api_key, HELLO[language], language)
    assert data["status"] == "success", data
    assert data["stdout"] == "Hello, World!\n"
    assert data["exitCode"] == 0
    assert data["sandboxErrorType"] is None
    assert data["language"] == language
    assert data["startedAt"] and data["finishedAt"]


def test_stdin_reaches_the_program(api: ApiProcess, api_key: str) -> None:
    data = api.run(
        api_key,
        "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n",
        stdin="1 2 3\n",
    )
    assert data["status"] == "success" and data["stdout"] == "6\n"


def test_time_limit_exceeded(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, "while True:\n    pass\n")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "TLE", data
    assert "time limit" in data["sandboxErrorMessage"]


def test_memory_limit_exceeded(api: ApiProcess, api_key: str) -> None:
    # 400 MiB of written bytes, well over the 256 MB limit and the runner's allowance.
    data = api.run(api_key, "x = b'x' * (400 << 20)\nprint(len(x))\n")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "MLE", data
    assert data["stdout"] == ""


def test_memory_just_over_the_limit_is_still_mle(api: ApiProcess, api_key: str) -> None:
    # Inside the runner's allowance, so the kernel does not kill it: the measured peak does.
    data = api.run(api_key, "x = b'x' * (272 << 20)\nprint(len(x))\n")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "MLE", data


def test_compilation_error(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, "int main() { return undefined_name; }\n", "cpp")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "CompilationError", data
    assert "undefined_name" in data["sandboxErrorMessage"] + data["stderr"]


def test_runtime_error(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, "import sys\nprint('before')\nsys.exit(3)\n")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "RuntimeError", data
    assert data["exitCode"] == 3
    assert data["stdout"] == "before\n"


def test_only_successes_are_charged(api: ApiProcess) -> None:
    key = api.new_key(credits=10)
    api.run(key, "print(1)\n")
    api.run(key, "raise SystemExit(1)\n")
    me = api.account_info(key)
    assert me["credits"] == 9, me


def test_compiled_program_gets_the_run_limit_not_the_compile_limit(
    api: ApiProcess, api_key: str
) -> None:
    # The compiler may use 1 GiB; the program it built still gets 256 MB.
    code = '#include <cstdio>\n#include <vector>\nint main() {\n  std::vector<char> v(400u << 20, 1);\n  std::printf("%d\\n", v[12345]);\n}\n'
    data = api.run(api_key, code, "cpp")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "MLE", data
