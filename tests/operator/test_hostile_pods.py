"""Hostile programs through the REST API with the Kubernetes executor, on the real cluster.

Each test is a program that attacks one wall of the sandbox pod: CPU burnt by re-parented
processes, memory spread over several processes, output that could break the result line's
framing, io_uring under containerd's RuntimeDefault profile, and sleeping past the limit.
tests/sandbox/test_pod_entrypoint.py runs the same programs against the entrypoint alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from coderun_sandbox.contract import DEFAULT_TIME_LIMIT_MS

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import ApiProcess, prepare_namespace, start_api, start_operator
from tests.utils.hostile_programs import IO_URING_PY, children_holding, grandchildren_spinning

pytestmark = pytest.mark.cluster

# Main sleeps inside the limit while its grandchildren spin (two of them, for a pod allowed
# two CPUs: together they can pass 3 s of CPU in under 3 s).
GRANDCHILD_SPINS = grandchildren_spinning(1, main_sleep_s=2)
TWO_GRANDCHILDREN_SPIN = grandchildren_spinning(2, main_sleep_s=2.8)


def test_cpu_of_a_reparented_grandchild_is_counted(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, GRANDCHILD_SPINS)
    assert data["stdout"] == "main done\n", data
    # It spun while main slept 2 s (as much as a loaded node let it); wait4 said ~25 ms.
    assert data["cpuTimeMs"] >= 300, data


@pytest.fixture(scope="module")
def two_cpu_api(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """An operator whose sandbox pods may use two CPUs, and an API on it: there the CPU
    time of a run can pass its limit before its wall time does."""
    namespace = prepare_namespace(k8s_cluster, prefix="coderun-2cpu")
    base = tmp_path_factory.mktemp("two-cpu")
    operator = start_operator(k8s_cluster, namespace, base / "operator.log", cpu_limit="2")
    api = start_api(k8s_cluster, namespace, base / "data", base / "api.log")
    yield api
    api.stop()
    operator.stop()
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_cpu_of_reparented_grandchildren_is_held_to_the_limit(two_cpu_api: ApiProcess) -> None:
    data = two_cpu_api.run(two_cpu_api.new_key(), TWO_GRANDCHILDREN_SPIN)
    # Main sleeps 2.8 s, inside the wall limit; its grandchildren burn two CPUs meanwhile.
    # When the node gave them more than the limit in total, that is TLE; a success must
    # never have used more CPU than the limit (wait4 of main alone would show ~25 ms).
    if data["status"] == "success":
        assert 1000 <= data["cpuTimeMs"] <= DEFAULT_TIME_LIMIT_MS, data
    else:
        assert data["sandboxErrorType"] == "TLE", data
        assert data["cpuTimeMs"] > DEFAULT_TIME_LIMIT_MS, data


def test_four_children_over_the_limit_together_are_mle(api: ApiProcess, api_key: str) -> None:
    # 4 x 66 MiB: no process is near 256 MB, and the runner's 32 MiB allowance keeps the
    # kernel from killing any; the runner judges them together.
    data = api.run(api_key, children_holding(4, 66))
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "MLE"), data
    assert data["stdout"] == ""


def test_memory_kb_counts_all_processes_together(api: ApiProcess, api_key: str) -> None:
    # 160 MiB together, inside the limit; the largest process alone is ~50 MiB.
    data = api.run(api_key, children_holding(4, 40))
    assert data["status"] == "success", data
    assert data["memoryKb"] >= 160 * 1024, data


def test_line_separators_in_output_keep_the_verdict(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, 'print("name:\\u2028Ada")\nprint("\\u2029\\x85end")\n')
    assert data["status"] == "success", data
    assert data["stdout"] == "name:\u2028Ada\n\u2029\x85end\n"


def test_io_uring_is_refused_by_the_runners_syscall_filter(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, IO_URING_PY)
    assert data["status"] == "success", data
    setup, seccomp_mode = data["stdout"].splitlines()
    assert setup == "io_uring_setup -1 1", data  # EPERM, under the pod's RuntimeDefault too
    assert seccomp_mode == "2"


def test_compiled_programs_run_under_the_syscall_filter_too(api: ApiProcess, api_key: str) -> None:
    code = (
        "#include <cstdio>\n#include <unistd.h>\n#include <sys/syscall.h>\n#include <cerrno>\n"
        "int main() { char p[120] = {0}; long fd = syscall(425, 8, p);\n"
        '  std::printf("%ld %d\\n", fd, errno); }\n'
    )
    data = api.run(api_key, code, "cpp")
    assert data["status"] == "success", data
    assert data["stdout"] == "-1 1\n", data


def test_sleeping_past_the_time_limit_is_tle(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, "import time\ntime.sleep(3.3)\nprint('woke')\n")
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "TLE"), data
    assert data["stdout"] == ""
    assert data["cpuTimeMs"] < DEFAULT_TIME_LIMIT_MS


def test_sleeping_inside_the_time_limit_succeeds(api: ApiProcess, api_key: str) -> None:
    data = api.run(api_key, "import time\ntime.sleep(2.5)\nprint('woke')\n")
    assert data["status"] == "success", data
    assert data["stdout"] == "woke\n"
    # runTimeMs is the program's own wall time (docs/api.md): the limit bounds it.
    assert 2500 <= data["runTimeMs"] <= DEFAULT_TIME_LIMIT_MS, data
