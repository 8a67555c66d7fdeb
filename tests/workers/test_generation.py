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
    with qtbot.waitSignal(c.event, check_params_cb=is_("cancelled"), timeout=WAIT):
        c.submit(make_request(steps=100))
        qtbot.waitUntil(model.at_gate.is_set, timeout=WAIT)  # step 4 is under way: cancel it there
        c.cancel()
        model.gate.set()
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


# --- loading, rates, closing and late cancels (issue 11: items 13, 17, 19) --------------------------------

class FakeEncoder:
    """A text encoder that is not loaded until ``load``; it records the loads."""

    def __init__(self) -> None:
        self.loaded = False
        self.loads = 0

    def load(self) -> None:
        self.loads += 1
        self.loaded = True


class EncodedFamily(FakeFamily):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._text_encoder = FakeEncoder()

    @property
    def encoder(self) -> FakeEncoder:
        return self._text_encoder


class SlowLoader(Loader):
    """A loader that blocks until the test releases it."""

    def __init__(self, **models: FakeFamily) -> None:
        super().__init__(**models)
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, checkpoint: str) -> FakeFamily:
        self.entered.set()
        self.release.wait(WAIT / 1000)
        return super().__call__(checkpoint)


def test_a_generation_announces_each_loading_stage(qtbot, controller, collect):
    model = EncodedFamily()
    c = controller(Loader(fake=model))
    events = collect(c.event)
    job = c.submit(make_request(steps=2))
    qtbot.waitUntil(lambda: kinds(events, job)[-1:] == ["done"], timeout=WAIT)
    assert kinds(events, job) == ["loading", "loading", "started", "frame", "frame", "result", "done"]
    assert [e.message for e in events[:2]] == ["Loading model fake…", "Loading text encoder…"]
    assert model.encoder.loads == 1
    again = c.submit(make_request(steps=1))
    qtbot.waitUntil(lambda: kinds(events, again)[-1:] == ["done"], timeout=WAIT)
    assert "loading" not in kinds(events, again), "nothing left to load"


def test_a_preload_reports_its_stages_and_a_cancel_between_them_skips_the_encoder(qtbot, controller, collect):
    model = EncodedFamily()
    loader = SlowLoader(fake=model)
    c = controller(loader)
    events = collect(c.event)
    preload = c.preload("fake")
    qtbot.waitUntil(lambda: "loading" in kinds(events, preload), timeout=WAIT)
    assert events[0].message == "Loading model fake…" and loader.entered.is_set()
    c.runner.cancel(preload)  # as closing the window does: the model's load is under way
    loader.release.set()
    qtbot.waitUntil(lambda: "loaded" in kinds(events, preload), timeout=WAIT)
    assert kinds(events, preload) == ["loading", "loaded"] and model.encoder.loads == 0


class FakeClock:
    """Time that moves only when the scripted loader and model say so: rates without timing anything."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TickingFamily(FakeFamily):
    def __init__(self, clock: FakeClock, **kw) -> None:
        super().__init__(**kw)
        self.clock = clock

    def frames(self, request, init, want_noisy):
        for frame in super().frames(request, init, want_noisy):
            self.clock.now += 1.0  # every step takes one second
            yield frame


def test_the_rate_counts_from_the_first_step_and_a_one_step_run_has_none(qtbot, controller, collect):
    clock = FakeClock()
    model = TickingFamily(clock)

    def slow_loader(checkpoint: str) -> FakeFamily:
        clock.now += 100.0  # loading takes far longer than sampling
        return model

    c = controller(slow_loader)
    c.clock = clock
    events = collect(c.event)
    with qtbot.waitSignal(c.event, check_params_cb=is_("result"), timeout=WAIT) as blocker:
        c.submit(make_request(steps=5))
    rates = [e.rate for e in events if e.kind == "frame"]
    assert rates == [0.0, 1.0, 1.0, 1.0, 1.0], "one step a second; unknown at the first step"
    assert blocker.args[0].result.seconds == 5.0, "the loading is not counted"
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    one = c.submit(make_request(steps=1))
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    assert [e.rate for e in events if e.job == one and e.kind == "frame"] == [0.0], "a one-step run has no rate"


def test_closing_puts_the_running_job_back_at_the_head_of_the_saved_queue(qtbot, controller, tmp_path, collect):
    model = FakeFamily(gate_at=2, sha="00000000000000bb")
    c = controller(Loader(fake=model), JobQueue(tmp_path / "queue.json"))
    events = collect(c.event)
    with qtbot.waitSignal(c.event, check_params_cb=is_("frame", 1), timeout=WAIT):
        running = c.submit(make_request(steps=1000, seed=11))
    c.submit(make_request(steps=3, seed=12))
    model.gate.set()
    c.shutdown()  # stops the running job within a step and joins the model thread
    assert not c.runner.alive and not c.busy
    assert "result" not in kinds(events, running)
    saved = JobQueue(tmp_path / "queue.json").jobs()
    assert [req.seed for _, req in saved] == [11, 12], "the interrupted job first, then the waiting one"
    assert saved[0][1].checkpoint_hash == "00000000000000bb" and saved[0][1].steps == 1000, "as it was resolved"


def test_closing_after_the_result_came_back_does_not_queue_the_job_again(qtbot, controller, tmp_path):
    c = controller(Loader(fake=FakeFamily()), JobQueue(tmp_path / "queue.json"))
    got = []

    def on_event(ev):
        if ev.kind == "result":  # the images are here (the gallery write follows): the job is not lost
            got.append(ev)
            c.shutdown()
    c.event.connect(on_event)
    c.submit(make_request(steps=2))
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    assert len(c.queue) == 0 and not c.runner.alive


def test_a_cancel_that_comes_as_a_job_finishes_cancels_the_next_queued_one(qtbot, controller, collect):
    c = controller(Loader(fake=FakeFamily()))
    events = collect(c.event)
    ids: list[str] = []

    def on_event(ev):
        if ev.kind == "result" and ev.job == ids[0]:
            c.cancel()  # Esc: the first job's images are already made
    c.event.connect(on_event)
    c.pause_queue()  # queue three jobs, then let them run
    ids += [c.submit(make_request(steps=2, seed=s)) for s in (1, 2, 3)]
    first, second, third = ids
    c.resume_queue()
    qtbot.waitUntil(lambda: kinds(events, third)[-1:] == ["done"], timeout=WAIT)
    assert kinds(events, first)[-2:] == ["result", "done"]
    assert [k for k in kinds(events, second) if k != "queued"] == ["note", "cancelled"], "it never started"
    assert "result" in kinds(events, third), "one Esc cancels one job"
