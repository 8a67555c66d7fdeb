"""The generation bridge: one JobEvent stream per job, in order, from a scripted model on the model thread."""
from __future__ import annotations

import threading

import numpy as np

from studio.store.jobqueue import JobQueue
from studio.workers.generation import JobResult

from .conftest import WAIT, FakeFamily, Loader, kinds, make_request


def is_(kind: str, step: int | None = None):
    return lambda ev: ev.kind == kind and (step is None or ev.step == step)


def test_events_arrive_in_order_and_the_result_carries_the_resolved_request(qtbot, controller, collect):
    model = FakeFamily(sha="0123456789abcdef", size=4)
    c = controller(Loader(fake=model))
    events = collect(c.event)
    expected = [is_("loading"), is_("started"), is_("frame", 1), is_("frame", 2), is_("frame", 3),
                is_("result"), is_("done")]
    with qtbot.waitSignals([c.event] * len(expected), order="strict", check_params_cbs=expected, timeout=WAIT):
        job_id = c.submit(make_request(steps=3))
    assert len(events) == len(expected) and all(e.job == job_id for e in events)
    started, result = events[1].result, events[5].result
    assert isinstance(result, JobResult)
    # What the window submitted had no hash and the default size; what comes back is resolved.
    for req in (started, result.request):
        assert (req.checkpoint_hash, req.width, req.height) == ("0123456789abcdef", 4, 4)
    assert result.images.shape == (1, 4, 4, 1) and int(result.images.max()) == 3
    assert len(result.frames) == 3, "every step is kept for the GIF"
    assert [e.step for e in events[2:5]] == [1, 2, 3] and events[4].total == 3 and events[4].frame.final
    assert threading.get_ident() not in model.sample_threads, "no model code on the GUI thread"
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)


def test_a_loaded_model_is_not_loaded_again_and_says_no_loading(qtbot, controller, collect):
    loader = Loader(fake=FakeFamily())
    c = controller(loader)
    events = collect(c.event)
    first = c.submit(make_request(steps=1))
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    second = c.submit(make_request(steps=1))
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    assert kinds(events, first) == ["loading", "started", "frame", "result", "done"]
    assert kinds(events, second) == ["started", "frame", "result", "done"]
    assert len(loader.threads) == 1 and threading.get_ident() not in loader.threads


def test_cancel_stops_at_the_next_step(qtbot, controller, collect):
    model = FakeFamily(gate_at=4)  # step 4 waits until the test has cancelled
    c = controller(Loader(fake=model))
    events = collect(c.event)

    def on_event(ev):
        if ev.kind == "frame" and ev.step == 3:
            c.cancel()
            model.gate.set()

    c.event.connect(on_event)
    with qtbot.waitSignal(c.event, check_params_cb=is_("cancelled"), timeout=WAIT):
        c.submit(make_request(steps=100))
    assert [e.step for e in events if e.kind == "frame"] == [1, 2, 3], "nothing is shown after the cancel"
    assert model.steps_run == 4, "the step under way finishes; no further one starts"
    assert kinds(events)[-1] == "cancelled" and "result" not in kinds(events)
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)


def test_an_error_arrives_as_an_error_event_and_the_next_job_runs(qtbot, controller, collect):
    c = controller(Loader(fake=FakeFamily(fail_at=2), good=FakeFamily("good")))
    events = collect(c.event)
    with qtbot.waitSignal(c.event, check_params_cb=is_("error"), timeout=WAIT) as blocker:
        failing = c.submit(make_request(steps=5))
    assert blocker.args[0].message == "scripted failure at step 2"
    assert kinds(events, failing) == ["loading", "started", "frame", "error"]
    with qtbot.waitSignal(c.event, check_params_cb=is_("error"), timeout=WAIT) as blocker:
        c.submit(make_request("missing"))
    assert "No checkpoint named 'missing'" in blocker.args[0].message
    with qtbot.waitSignal(c.event, check_params_cb=is_("result"), timeout=WAIT):
        c.submit(make_request("good", steps=2))


def test_a_request_the_family_refuses_fails_with_the_catalogs_message(qtbot, controller):
    c = controller(Loader(fake=FakeFamily()))
    with qtbot.waitSignal(c.event, check_params_cb=is_("error"), timeout=WAIT) as blocker:
        c.submit(make_request(latent=(0.5, 0.5)))  # the diffusion entry declares no "decode"
    assert blocker.args[0].message.startswith("The Diffusion family has no latent vector")


def test_a_changed_checkpoint_is_noted(qtbot, controller):
    c = controller(Loader(fake=FakeFamily(sha="1111111111111111")))
    with qtbot.waitSignal(c.event, check_params_cb=is_("note"), timeout=WAIT) as blocker:
        c.submit(make_request(checkpoint_hash="2222222222222222"))
    assert "has changed since these settings were saved" in blocker.args[0].message
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)


def test_previews_are_throttled_but_every_step_is_kept(qtbot, controller, collect):
    c = controller(Loader(fake=FakeFamily()))
    c.preview_interval = 60.0  # far slower than the run: only the first and the final frame
    events = collect(c.event)
    with qtbot.waitSignal(c.event, check_params_cb=is_("result"), timeout=WAIT) as blocker:
        c.submit(make_request(steps=20))
    assert [e.step for e in events if e.kind == "frame"] == [1, 20]
    assert len(blocker.args[0].result.frames) == 20


def test_jobs_submitted_while_busy_are_queued_resolved_between_steps_and_persisted(qtbot, controller, tmp_path,
                                                                                    collect):
    model = FakeFamily(gate_at=3, sha="00000000000000aa")  # step 3 waits until the second job is queued
    c = controller(Loader(fake=model), JobQueue(tmp_path / "queue.json"))
    events = collect(c.event)
    saved = {}  # the saved queue as the "queued" event arrives (the job may start right after)
    c.event.connect(lambda ev: saved.update(dict(JobQueue(tmp_path / "queue.json").jobs()))
                    if ev.kind == "queued" else None)
    with qtbot.waitSignal(c.event, check_params_cb=is_("frame", 1), timeout=WAIT):
        first = c.submit(make_request(steps=4))
    queued = c.submit(make_request(steps=2, prompt="next"))
    assert c.busy and len(c.queue) == 1, "queued at once, and saved"
    with qtbot.waitSignal(c.event, check_params_cb=is_("queued"), timeout=WAIT):
        model.gate.set()
    resolved = saved[queued]
    assert (resolved.checkpoint_hash, resolved.width, resolved.prompt) == ("00000000000000aa", 4, "next")
    qtbot.waitUntil(lambda: kinds(events, queued)[-1:] == ["done"], timeout=WAIT)
    # Resolved on the model thread between the running job's steps (at the latest after step 3).
    order = [(e.job, e.kind, e.step) for e in events]
    assert order.index((queued, "queued", 0)) < order.index((first, "frame", 4))
    assert len(c.queue) == 0 and kinds(events, first)[-2:] == ["result", "done"]
    assert [e.result.request for e in events if e.job == queued and e.kind == "result"] == [resolved]


def test_restored_queue_waits_for_resume(qtbot, controller, tmp_path, collect):
    q = JobQueue(tmp_path / "queue.json")
    q.push(make_request(steps=1))
    c = controller(Loader(fake=FakeFamily()), q)
    events = collect(c.event)
    assert c.queue_paused and not c.busy
    c.submit(make_request(steps=1))  # paused: queued behind it
    assert len(c.queue) == 2 and not c.busy
    c.resume_queue()
    qtbot.waitUntil(lambda: len(c.queue) == 0 and not c.busy, timeout=WAIT)
    assert kinds(events).count("result") == 2


def test_the_model_thread_is_the_controllers_own(qtbot, controller):
    from PySide6.QtCore import QThreadPool

    before = QThreadPool.globalInstance().maxThreadCount()
    model = FakeFamily()
    c = controller(Loader(fake=model))
    for _ in range(2):
        with qtbot.waitSignal(c.event, check_params_cb=is_("done"), timeout=WAIT):
            c.submit(make_request(steps=1))
    assert QThreadPool.globalInstance().maxThreadCount() == before, "no global thread-pool change"
    assert len(model.sample_threads) == 1, "every job runs on the same long-lived thread"


def test_results_are_new_arrays_each_run(qtbot, controller):
    c = controller(Loader(fake=FakeFamily()))
    results = []
    for steps in (2, 3):
        with qtbot.waitSignal(c.event, check_params_cb=is_("result"), timeout=WAIT) as blocker:
            c.submit(make_request(steps=steps))
        results.append(blocker.args[0].result)
        qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    assert [int(np.max(r.images)) for r in results] == [2, 3]
