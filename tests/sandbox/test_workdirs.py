"""A program owns its work dir's contents; removing them must survive whatever it built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from coderun_sandbox.workdirs import remove_tree, sweep_dead_owners

from .conftest import RunFn, leftovers

DEEP = """
import os
for _ in range(3000):
    os.mkdir('d')
    os.chdir('d')
print('deep')
"""

WIDE = """
import os
for i in range(300):
    os.mkdir(f'/work/dir{i}')
    for j in range(20):
        open(f'/work/dir{i}/f{j}', 'w').close()
os.mkfifo('/work/fifo')
os.link('/work/dir0/f0', '/work/hardlink')
print('wide')
"""


def test_deeply_nested_dirs_are_removed_and_the_result_stands(run: RunFn) -> None:
    # 3000 levels is past Python's recursion limit: a recursive rmtree turned this
    # success into an InternalError and left the directory behind.
    result = run("python", DEEP)
    assert (result["status"], result["stdout"]) == ("success", "deep\n"), result
    assert leftovers()["workdirs"] == []


def test_wide_trees_and_special_files_are_removed(run: RunFn) -> None:
    result = run("python", WIDE)
    assert (result["status"], result["stdout"]) == ("success", "wide\n"), result
    assert leftovers()["workdirs"] == []


def test_links_planted_by_the_program_are_removed_not_followed(run: RunFn, tmp_path: Path) -> None:
    """The trusted side deletes the link itself; the host files it points at stay."""
    canary_dir = tmp_path / "canary"
    canary_dir.mkdir()
    (canary_dir / "keep").write_text("host data")
    code = (
        "import os\n"
        f"os.symlink({str(canary_dir)!r}, '/work/to-dir')\n"
        f"os.symlink({str(canary_dir / 'keep')!r}, '/work/to-file')\n"
        "os.mkdir('/work/sub')\n"
        f"os.symlink({str(canary_dir)!r}, '/work/sub/nested')\n"
        "print('planted')\n"
    )
    result = run("python", code)
    assert result["stdout"] == "planted\n", result
    assert (canary_dir / "keep").read_text() == "host data"
    assert leftovers()["workdirs"] == []


def test_remove_tree_refuses_a_link_as_the_top(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError):
        remove_tree(str(link))
    assert (target / "keep").exists()


def test_sweep_leaves_live_owners_and_foreign_names_alone(tmp_path: Path) -> None:
    mine = tmp_path / f"coderun-{os.getpid()}-{_start_ticks()}-abc"
    foreign = tmp_path / "coderun-notapid-x"
    other = tmp_path / "something-else"
    for path in (mine, foreign, other):
        path.mkdir()
    assert sweep_dead_owners(str(tmp_path), (os.geteuid(),)) == 0
    assert mine.exists() and foreign.exists() and other.exists()


def _start_ticks() -> str:
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[19]
