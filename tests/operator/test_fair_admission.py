"""Fair admission on the real cluster, through the REST API on the Kubernetes executor.

An operator of its own (3 slots, at most 2 per account) and an API in a namespace of its own:
account A submits six slow programs, then account B hello world. A never has more than 2
runs with a Job at once, although a third slot is free, and B takes that slot: it is
admitted ahead of A's runs still waiting (first come, first served would put it seventh).
The account the operator shares by is the CodeRun's `spec.account`, which cannot be changed.
Order is read from each CodeRun's own status (scheduledAt: when its Job was created;
finishedAt), never from durations. The order under full slots is unit-tested
(tests/operator/unit/test_admission.py, test_fair_share.py).
"""

from __future__ import annotations

import json

import pytest
from coderun_operator import resources as r

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import Stack, get_coderun, wait_until
from tests.operator.stacks import stack_fixture

pytestmark = pytest.mark.cluster

SLOTS = 3
PER_ACCOUNT = 2
SLOW = "import time\ntime.sleep(2.0)\nprint('slow {}')\n"
BACKLOG = 6


fair = stack_fixture(
    "coderun-fair", max_concurrent_runs=str(SLOTS), max_running_per_account=str(PER_ACCOUNT)
)


def test_a_backlog_keeps_to_its_cap_and_another_account_takes_the_free_slot(
    k8s_cluster: K8sCluster, fair: Stack
) -> None:
    api = fair.api
    key_a, key_b = api.new_key(credits=20), api.new_key(credits=5)
    backlog = [api.submit(key_a, SLOW.format(number)) for number in range(BACKLOG)]

    def scheduled() -> dict[str, bool]:
        """Which of A's CodeRuns have a Job, from one listing of the namespace."""
        listed = json.loads(
            k8s_cluster.kubectl("get", "crun", "-n", fair.namespace, "-o", "json").stdout
        )
        found = {
            item["metadata"]["name"]: bool((item.get("status") or {}).get("scheduledAt"))
            for item in listed["items"]
        }
        return {job_id: found.get(job_id, False) for job_id in backlog}

    wait_until(
        lambda: sum(scheduled().values()) >= PER_ACCOUNT,
        "A's first runs admitted",
        rounds=1200,
        pause=0.2,
    )
    # A's runs still waiting when B arrives (the listing just before B's submission).
    waiting = [job_id for job_id, has_job in scheduled().items() if not has_job]
    assert len(waiting) >= BACKLOG - PER_ACCOUNT - 1, waiting
    hello = api.submit(key_b, "print('hello from B')\n")
    assert api.wait_final(key_b, hello)["stdout"] == "hello from B\n"
    for job_id in backlog:
        assert api.wait_final(key_a, job_id)["status"] in ("success", "failed")

    bodies = {job_id: get_coderun(k8s_cluster, fair.namespace, job_id) for job_id in backlog}
    b_body = get_coderun(k8s_cluster, fair.namespace, hello)
    assert b_body is not None and all(bodies.values())
    windows = sorted(
        (body["status"]["scheduledAt"], body["status"]["finishedAt"])
        for body in bodies.values()
        if body is not None
    )
    for start, _ in windows:
        # Never more than the per-account cap of A's runs had a Job at once.
        overlapping = sum(1 for s, f in windows if s <= start < f)
        assert overlapping <= PER_ACCOUNT, json.dumps(windows)
    # B took the free slot at once, ahead of A's waiting runs. At most PER_ACCOUNT of them
    # can have gone first, if both of A's running runs ended between the listing and B's
    # admission; first come, first served would have put every one of them ahead of B.
    b_scheduled = b_body["status"]["scheduledAt"]
    ahead_of_b = [
        job_id
        for job_id in waiting
        if bodies[job_id]["status"]["scheduledAt"] < b_scheduled  # type: ignore[index]
    ]
    assert len(ahead_of_b) <= PER_ACCOUNT < len(waiting), (b_scheduled, windows)

    # The account is the spec's, the same hash the label shows, and it is immutable.
    account_a = bodies[backlog[0]]["spec"]["account"]  # type: ignore[index]
    assert account_a == bodies[backlog[0]]["metadata"]["labels"][r.LABEL_ACCOUNT]  # type: ignore[index]
    assert b_body["spec"]["account"] != account_a
    patched = k8s_cluster.kubectl(
        "patch",
        "crun",
        "-n",
        fair.namespace,
        hello,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"account": account_a}}),
        check=False,
    )
    assert patched.returncode != 0 and "immutable" in patched.stderr, patched.stderr
