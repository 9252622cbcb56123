"""Admission: at most N at once, oldest first, aware of our own unseen writes."""

from __future__ import annotations

from coderun_operator.admission import Admission, RunRef


def ref(name: str, created: str) -> RunRef:
    return RunRef(created=created, namespace="runs", name=name, uid=f"uid-{name}")


def test_oldest_first_up_to_the_cap() -> None:
    adm = Admission(cap=2)
    queued = [
        ref("c", "2026-01-01T00:00:03Z"),
        ref("a", "2026-01-01T00:00:01Z"),
        ref("b", "2026-01-01T00:00:02Z"),
    ]
    admit, waiting = adm.plan(queued, active=[])
    assert [x.name for x in admit] == ["a", "b"]
    assert [x.name for x in waiting] == ["c"]
    # Until the index shows them active, our own starts still count.
    admit, waiting = adm.plan([queued[0]], active=[])
    assert admit == [] and [x.name for x in waiting] == ["c"]


def test_a_finished_run_frees_its_slot_before_the_index_catches_up() -> None:
    adm = Admission(cap=1)
    adm.plan([ref("a", "1")], active=[])
    adm.observe(ref("a", "1").key, "active")
    assert adm.plan([ref("b", "2")], active=[ref("a", "1").key])[0] == []
    adm.finished.add(ref("a", "1").key)
    admit, _ = adm.plan([ref("b", "2")], active=[ref("a", "1").key])
    assert [x.name for x in admit] == ["b"]
    adm.observe(ref("a", "1").key, "final")
    assert ref("a", "1").key not in adm.finished


def test_failed_start_is_retried() -> None:
    adm = Admission(cap=1)
    adm.plan([ref("a", "1")], active=[])
    adm.started.discard(ref("a", "1").key)
    assert [x.name for x in adm.plan([ref("a", "1")], active=[])[0]] == ["a"]
