"""Building the images with the test cluster's dockerd, for the image and install tests.

The same commands as `cluster.sh images`: context = repo root, BASE_IMAGE = the cluster's
debootstrap image (the test cluster pulls from no registry).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.cluster import REPO_ROOT, K8sCluster

BASE_IMAGE = "coderun-base:bookworm"
SERVICE_IMAGE = "coderun:dev"
LANGUAGES = ("python", "javascript", "cpp", "java")
# One program per language: read a word, print it twice ("ab" -> "abab\n").
PROGRAMS = {
    "python": "print(input() * 2)\n",
    "javascript": "const s = require('fs').readFileSync(0, 'utf8').trim();\nconsole.log(s + s);\n",
    "cpp": "#include <iostream>\n#include <string>\nint main() { std::string s; std::cin >> s; std::cout << s << s << std::endl; }\n",
    "java": "import java.util.Scanner;\npublic class Echo {\n  public static void main(String[] a) {\n    String s = new Scanner(System.in).next();\n    System.out.println(s + s);\n  }\n}\n",
}
# CA certificates the machine trusts beyond Debian's (a TLS-intercepting proxy in front of
# PyPI); the service image's build stage trusts them too, see the Dockerfile.
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


def sandbox_image(language: str) -> str:
    return f"coderun-sandbox-{language}:dev"


def docker(
    cluster: K8sCluster,
    *args: str,
    check: bool = True,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        input=input,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        env={**cluster.env, "DOCKER_BUILDKIT": "0"},
    )


def extra_ca_certs() -> str:
    """The same text as cluster.sh's "$(cat .../*.crt)" (trailing newlines stripped), so that
    both builds share the daemon's layer cache."""
    return "".join(p.read_text() for p in sorted(EXTRA_CA_DIR.glob("*.crt"))).rstrip("\n")


def build(cluster: K8sCluster, tag: str, dockerfile: Path, language: str | None = None) -> None:
    """docker build (layers cached by the daemon, so a rebuild of unchanged files is quick)."""
    args = ["build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-f", str(dockerfile)]
    if dockerfile == REPO_ROOT / "Dockerfile":
        args += ["--build-arg", f"EXTRA_CA_CERTS={extra_ca_certs()}"]
    if language is not None:
        args += ["--build-arg", f"LANGUAGE={language}"]
    result = docker(cluster, *args, "-t", tag, str(REPO_ROOT), check=False, timeout=1800)
    assert result.returncode == 0, f"docker build {tag} failed:\n{result.stderr[-4000:]}"


def ensure_sandbox_images(cluster: K8sCluster) -> None:
    for language in LANGUAGES:
        build(
            cluster, sandbox_image(language), REPO_ROOT / "sandbox-images" / "Dockerfile", language
        )


def ensure_service_image(cluster: K8sCluster) -> None:
    build(cluster, SERVICE_IMAGE, REPO_ROOT / "Dockerfile")
