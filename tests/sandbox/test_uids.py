"""A uid of its own for every run: per-user kernel limits are no longer shared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from coderun_sandbox.uids import NoFreeUid, UidLease, uid_range

from tests.utils.hostile_programs import INOTIFY_HOG_PY, INOTIFY_VICTIM_PY, SELF_VIEW_PY

from .conftest import RunFn


def test_concurrent_runs_have_different_uids_that_own_their_work_dirs(run: RunFn) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run("python", SELF_VIEW_PY), range(4)))
    views: list[dict[str, Any]] = [json.loads(r["stdout"]) for r in results]
    uids = [view["uid"] for view in views]
    assert len(set(uids)) == 4, uids
    assert all(uid in uid_range() for uid in uids)
    assert [view["workdir_uid"] for view in views] == uids


def test_a_run_that_takes_every_inotify_instance_leaves_a_concurrent_run_its_own(
    run: RunFn,
) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    with ThreadPoolExecutor(2) as pool:
        hog = pool.submit(run, "python", INOTIFY_HOG_PY)
        time.sleep(1.0)  # the hog holds its instances from ~0.1 s to ~2.6 s
        victim = pool.submit(run, "python", INOTIFY_VICTIM_PY)
        hogged, got = hog.result(), victim.result()
    assert hogged["status"] == "success", hogged
    assert hogged["stdout"].split()[:2] == ["held", str(limit)], hogged
    assert got["status"] == "success", got
    assert int(got["stdout"].split()[1]) >= 0, got


@pytest.fixture
def one_uid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A range of a single uid with a lock dir of this test's own."""
    env = {
        "CODERUN_SANDBOX_UID_BASE": str(uid_range().stop + 1000 + os.getpid() % 1000),
        "CODERUN_SANDBOX_UID_COUNT": "1",
        "CODERUN_SANDBOX_UID_LOCK_DIR": str(tmp_path / "uids"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


def test_a_lease_excludes_other_threads_and_processes_until_released(
    one_uid: dict[str, str],
) -> None:
    other_process = [
        sys.executable,
        "-c",
        "from coderun_sandbox.uids import UidLease, NoFreeUid\n"
        "try:\n    UidLease().__enter__(); print('leased')\n"
        "except NoFreeUid: print('busy')",
    ]
    with UidLease() as uid:
        assert uid == int(one_uid["CODERUN_SANDBOX_UID_BASE"])
        with pytest.raises(NoFreeUid):
            UidLease().__enter__()  # another thread's lease would be the same
        busy = subprocess.run(other_process, capture_output=True, text=True, check=True)
        assert busy.stdout == "busy\n"
    with UidLease() as again:
        assert again == uid
    free = subprocess.run(other_process, capture_output=True, text=True, check=True)
    assert free.stdout == "leased\n"


def test_a_lock_dir_others_can_write_is_refused(one_uid: dict[str, str], tmp_path: Path) -> None:
    lock_dir = Path(one_uid["CODERUN_SANDBOX_UID_LOCK_DIR"])
    lock_dir.mkdir(mode=0o700)
    lock_dir.chmod(0o777)
    with pytest.raises(PermissionError):
        UidLease().__enter__()


NOT_ROOT = """
import warnings
warnings.simplefilter("default")
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute
for _ in range(2):
    print(execute(RunRequest("python", "import os; print(os.getuid())")).stdout, end="")
"""


def test_without_root_programs_run_as_the_caller_and_a_warning_says_so() -> None:
    base = Path(os.environ["CODERUN_WORKDIR_BASE"]) / f"not-root-{os.getpid()}"
    base.mkdir()
    os.chown(base, 65534, 65534)
    try:
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable],
            input=NOT_ROOT,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "CODERUN_WORKDIR_BASE": str(base)},
            timeout=60,
            check=False,
        )
    finally:
        shutil.rmtree(base)
    assert done.stdout == "65534\n65534\n", done
    assert done.stderr.count("not running as root") == 1, done.stderr
