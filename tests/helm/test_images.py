"""The sandbox and service images, run the way the cluster runs them: non-root, read-only
root filesystem, no network, /work the only writable place, compile and run as two
containers sharing /work (the compile and run containers of a sandbox pod), each given its
request on stdin as the operator writes it through pods/attach (contract.frame_request)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from coderun_sandbox.contract import RESULT_KEY, RUNNER_STARTED_AT, RunRequest, frame_request
from coderun_sandbox.languages import languages

from tests.fixtures.cluster import K8sCluster
from tests.helm.images import (
    LANGUAGES,
    PROGRAMS,
    SERVICE_IMAGE,
    docker,
    ensure_sandbox_images,
    ensure_service_image,
    sandbox_image,
)

# The module fixture builds the four images (minutes on a cold layer cache), which counts
# against the first test's pytest-timeout.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]

# Each image holds its own toolchain and no other language's.
TOOLS = {"python": "python3", "javascript": "node", "cpp": "g++", "java": "javac"}
IMAGE_USER = "10001:10001"


@pytest.fixture(scope="module")
def images(k8s_cluster: K8sCluster) -> Iterator[K8sCluster]:
    ensure_sandbox_images(k8s_cluster)
    yield k8s_cluster


def run_with_request(
    cluster: K8sCluster,
    user: str,
    *args: str,
    language: str,
    program_input: str,
    frames: int = 1,
) -> subprocess.CompletedProcess[str]:
    """`docker run` of a container with a read-only root and no network, as USER, with the
    framed request on stdin, as the runner gets it in a pod. args: more options, the image
    and its arguments."""
    framed = frame_request(RunRequest(language, PROGRAMS[language], program_input))
    return subprocess.run(
        ["docker", "run", "-i", "--rm", "--read-only", "--network", "none", "--user", user, *args],
        input=framed.decode("utf-8") * frames,
        capture_output=True,
        text=True,
        timeout=300,
        env={**cluster.env, "DOCKER_BUILDKIT": "0"},
    )


def _phase(
    cluster: K8sCluster, language: str, phase: str, work: str, user: str = IMAGE_USER
) -> dict[str, Any]:
    """One container of a sandbox pod: the request on stdin, the result on stdout."""
    result = run_with_request(
        cluster,
        user,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--memory",
        "1g",
        "-v",
        work,
        sandbox_image(language),
        phase,
        language=language,
        program_input="ab",
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{language} {phase}: no result line\n{result.stdout}\n{result.stderr}"
    payload: dict[str, Any] = json.loads(lines[-1])[RESULT_KEY]
    return payload


@pytest.mark.parametrize("language", LANGUAGES)
def test_compile_then_run_on_a_read_only_root(images: K8sCluster, language: str) -> None:
    """Compiled languages: the compile container, then the run container on the same /work.
    Interpreted ones have no compile container: the run phase writes the source itself."""
    volume = f"coderun-test-work-{uuid.uuid4().hex[:10]}"
    docker(images, "volume", "create", volume)
    try:
        if languages()[language].compiled:
            compiled = _phase(images, language, "compile", f"{volume}:/work")
            # The runner's own clock (contract.RUNNER_STARTED_AT): the job's startedAt and
            # compileTimeMs on Kubernetes, where pod statuses count whole seconds.
            assert compiled["compiled"] is True
            assert set(compiled) == {"compiled", "compileTimeMs", RUNNER_STARTED_AT}
            assert compiled["compileTimeMs"] > 0
        result = _phase(images, language, "run", f"{volume}:/work")
    finally:
        docker(images, "volume", "rm", "-f", volume, check=False)
    assert result["status"] == "success", result
    assert result["stdout"] == "abab\n"
    assert result["exitCode"] == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_any_non_root_uid_works_with_a_tmpfs_work_dir(images: K8sCluster, language: str) -> None:
    """Kubernetes picks the uid (the operator uses one per run): nothing in the image may
    assume the image's own user. One container, both phases, /work a plain tmpfs."""
    uid = 2_000_123
    script = "exec python3 -m coderun_sandbox run"
    compiled = languages()[language].compiled
    if compiled:
        # Each phase reads exactly one framed request from the shared stdin.
        script = f"python3 -m coderun_sandbox compile >/dev/null && {script}"
    result = run_with_request(
        images,
        f"{uid}:{uid}",
        "--tmpfs",
        "/work:exec",
        "--entrypoint",
        "sh",
        sandbox_image(language),
        "-c",
        script,
        language=language,
        program_input="xy",
        frames=2 if compiled else 1,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.splitlines()[-1])[RESULT_KEY]
    assert payload["status"] == "success" and payload["stdout"] == "xyxy\n", payload


@pytest.mark.parametrize("language", LANGUAGES)
def test_image_config_is_non_root_with_the_runner_entrypoint(
    images: K8sCluster, language: str
) -> None:
    config = json.loads(
        docker(
            images, "image", "inspect", "--format", "{{json .Config}}", sandbox_image(language)
        ).stdout
    )
    assert config["User"] == IMAGE_USER
    assert config["WorkingDir"] == "/work"
    assert config["Entrypoint"] == ["python3", "-m", "coderun_sandbox"]
    assert config["Cmd"] == ["run"]
    assert language in languages()
    assert languages()[language].image == sandbox_image(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_only_the_languages_own_toolchain_is_installed(images: K8sCluster, language: str) -> None:
    spec = languages()[language]
    wanted = {spec.run[0], *(spec.compile[:1])} - {"./main"}
    others = {tool for lang, tool in TOOLS.items() if lang not in (language, "python")}
    script = " ; ".join(f"echo {tool}=$(command -v {tool})" for tool in sorted(wanted | others))
    out = docker(
        images,
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        sandbox_image(language),
        "-c",
        script,
    ).stdout
    found = dict(line.split("=", 1) for line in out.splitlines())
    for tool in wanted:
        assert found[tool] == f"/usr/bin/{tool}", f"{tool} missing from {language}'s image"
    for tool in others - wanted:
        assert found[tool] == "", f"{tool} should not be in {language}'s image"


def test_service_image_runs_coderun_as_non_root_on_a_read_only_root(
    k8s_cluster: K8sCluster,
) -> None:
    ensure_service_image(k8s_cluster)
    config = json.loads(
        docker(
            k8s_cluster, "image", "inspect", "--format", "{{json .Config}}", SERVICE_IMAGE
        ).stdout
    )
    assert config["User"] == IMAGE_USER
    assert config["Entrypoint"] == ["coderun"]
    # kopf names itself after getpass.getuser(): it must work for whatever uid a pod runs as.
    for user in ("10001:10001", "12345:12345"):
        who = docker(
            k8s_cluster,
            "run",
            "--rm",
            "--user",
            user,
            "--entrypoint",
            "python3",
            SERVICE_IMAGE,
            "-c",
            "import getpass; print(getpass.getuser())",
        )
        assert who.stdout.strip() == "coderun"
    for command in (["--help"], ["operator", "--help"], ["db", "--help"]):
        result = docker(
            k8s_cluster,
            "run",
            "--rm",
            "--read-only",
            "--network",
            "none",
            "--tmpfs",
            "/tmp",
            SERVICE_IMAGE,
            *command,
            check=False,
        )
        assert result.returncode == 0, f"coderun {' '.join(command)}: {result.stderr[-2000:]}"
    # `coderun submit` goes through the Python client, which the image carries: with no
    # network it gets as far as the connection (refused on loopback), not an ImportError.
    submitted = docker(
        k8s_cluster,
        "run",
        "--rm",
        "-i",
        "--read-only",
        "--network",
        "none",
        "--tmpfs",
        "/tmp",
        "-e",
        "CODERUN_API_KEY=nr_live_image_test",
        SERVICE_IMAGE,
        "submit",
        "-",
        "--language",
        "python",
        "--url",
        "http://127.0.0.1:9",
        check=False,
        input="print(1)\n",
    )
    assert submitted.returncode == 1, submitted.stderr[-2000:]
    assert "cannot reach http://127.0.0.1:9" in submitted.stderr
