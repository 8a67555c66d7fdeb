"""JobRunner, the one worker style: plain generators on one long-lived thread, one JobEvent signal."""
from __future__ import annotations

import threading

import pytest

from studio.core.errors import StudioError
from studio.workers.runner import JobCancelled, JobRunner

from .conftest import WAIT, kinds


@pytest.fixture
def runner(qtbot):
    r = JobRunner("test-runner")
    yield r
    r.shutdown()


def steps(n: int, gate: threading.Event | None = None, at: int = -1):
    """A job of ``n`` progress steps; step ``at`` waits for ``gate``."""
    def work(job):
        for i in range(1, n + 1):
            if i == at and gate is not None:
                gate.wait(WAIT / 1000)
            yield job.event("progress", step=i, total=n)
    return work


def once(kind: str, **fields):
    """A job that yields one event."""
    def work(job):
        yield job.event(kind, **fields)
    return work


def test_every_job_ends_exactly_once_in_order(qtbot, runner, collect):
    events = collect(runner.event)

    def failing(job):
        yield job.event("progress", step=1)
        raise StudioError("it broke")

    def crashing(job):
        return 1 / 0  # not even a generator: the runner still reports it

    ids = [runner.post(steps(2)), runner.post(failing), runner.post(crashing)]
    qtbot.waitUntil(lambda: sum(e.ends for e in events) == 3, timeout=WAIT)
    assert kinds(events, ids[0]) == ["progress", "progress", "done"]
    assert kinds(events, ids[1]) == ["progress", "error"]
    assert [e.message for e in events if e.kind == "error"] == ["it broke", "ZeroDivisionError: division by zero"]
    assert [e.job for e in events if e.ends] == ids, "jobs of one priority run in the order posted"


def test_a_job_posted_with_its_own_callback_reports_there_only(qtbot, runner, collect):
    events, own = collect(runner.event), []
    mine = runner.post(steps(2), on_event=own.append)
    other = runner.post(steps(1))
    qtbot.waitUntil(lambda: runner.idle and len(own) == 3 and any(e.ends for e in events), timeout=WAIT)
    assert [e.kind for e in own] == ["progress", "progress", "done"] and {e.job for e in own} == {mine}
    assert kinds(events, other) == ["progress", "done"] and not kinds(events, mine)
    assert mine not in runner._handlers, "the callback is forgotten once its job ends"


def test_newer_request_with_the_same_key_replaces_one_not_started(qtbot, runner, collect):
    gate = threading.Event()
    events = collect(runner.event)
    blocker = runner.post(steps(1, gate, at=1))  # holds the thread while the requests pile up
    for value in range(5):
        runner.post(once("decoded", result=value), key=("decode", ""))
    gate.set()
    qtbot.waitUntil(lambda: runner.idle and sum(e.ends for e in events) == 2, timeout=WAIT)
    assert [e.result for e in events if e.kind == "decoded"] == [4], "latest wins"
    assert kinds(events, blocker) == ["progress", "done"]


def test_urgent_work_runs_between_the_steps_of_a_long_job(qtbot, runner, collect):
    gate = threading.Event()
    events = collect(runner.event)
    long = runner.post(steps(4, gate, at=2), priority=10)
    qtbot.waitUntil(lambda: len(events) == 1, timeout=WAIT)  # step 1 shown; step 2 waits
    urgent = runner.post(once("result", result="urgent"), priority=0)
    gate.set()
    qtbot.waitUntil(lambda: sum(e.ends for e in events) == 2, timeout=WAIT)
    order = [(e.job, e.kind, e.step) for e in events]
    assert order[:4] == [(long, "progress", 1), (long, "progress", 2), (urgent, "result", 0), (urgent, "done", 0)]
    assert order[-1] == (long, "done", 0)


def test_cancel_is_thrown_into_the_job_which_may_clean_up(qtbot, runner, collect):
    cleaned = []

    def work(job):
        try:
            for i in range(1000):
                yield job.event("progress", step=i)
        except JobCancelled:
            cleaned.append(True)
            yield job.event("cancelled", message="stopped, state saved")
            yield job.event("progress", step=-1)  # never reached: the job has ended

    events = collect(runner.event)
    runner.event.connect(lambda ev: runner.cancel(ev.job) if ev.step == 3 else None)
    runner.post(work)
    qtbot.waitUntil(lambda: any(e.ends for e in events), timeout=WAIT)
    assert cleaned == [True]
    assert [e for e in events if e.ends][0].message == "stopped, state saved"
    assert sum(e.ends for e in events) == 1 and max(e.step for e in events) < 999, "stopped early"


def test_a_job_cancelled_before_it_starts_ends_without_running(qtbot, runner, collect):
    gate, ran = threading.Event(), []
    events = collect(runner.event)
    runner.post(steps(1, gate, at=1))
    def work(job):
        ran.append(1)
        yield job.event("progress")

    later = runner.post(work)
    runner.cancel(later)
    gate.set()
    qtbot.waitUntil(lambda: kinds(events, later) == ["cancelled"], timeout=WAIT)
    assert ran == []


def test_after_shutdown_posts_are_ignored(qtbot, runner, collect):
    events = collect(runner.event)
    runner.shutdown()
    runner.post(steps(1))
    assert runner.idle and events == []
