"""Quitting keeps every job that has not finished, takes effect within a step, and leaves no thread behind;
Esc pressed between two queued jobs is not lost (issue 11, items 13 and 19)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from studio.store.jobqueue import JobQueue
from studio.ui.app import build_window
from tests.conftest import make_tiny_checkpoint

from .jobs import LONG


@pytest.fixture
def uncond_ckpt(data_dir):
    """A tiny diffusion model that reads no prompt: no sentence encoder to load, so jobs start at once."""
    return make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-uncond.safetensors", cond_dim=0)


def open_window(qtbot):
    w = build_window(preload=False)
    qtbot.addWidget(w)
    w.show()
    assert w.model_panel.select("diffusion", "tiny-uncond")
    return w


def runners(w) -> dict:
    return {"model": w.controller.runner, "gallery writer": w.session.writer, "latent": w.latent.controller.runner,
            "training": w.training.runner}


def test_closing_while_a_job_runs_keeps_it_and_the_queue_for_the_next_start(qtbot, uncond_ckpt, data_dir, recwarn):
    w = open_window(qtbot)
    w.controls.steps.setValue(1000)  # far more than the test lets it run
    started, stepping = {}, set()

    def on_event(ev):
        if ev.kind == "started":
            started[ev.job] = ev.result
        elif ev.kind == "frame":
            stepping.add(ev.job)
    w.controller.event.connect(on_event)
    ids = [w.generate() for _ in range(4)]
    seeds = [req.seed for _, req in w.controller.queue.jobs()]
    assert len(ids) == 4 and len(seeds) == 3, "one runs, three wait"
    qtbot.waitUntil(lambda: ids[0] in stepping, timeout=LONG)
    first_seed = started[ids[0]].seed
    w.close()
    assert not any(r.alive for r in runners(w).values()), "closing joined every thread"
    assert w.store.items() == [], "the interrupted job made no image"
    w.store.close()
    saved = JobQueue(data_dir / "queue.json").jobs()
    assert [req.seed for _, req in saved] == [first_seed, *seeds], "all four, the interrupted one first"
    assert all(req.steps == 1000 for _, req in saved)
    reopened = open_window(qtbot)
    assert len(reopened.controller.queue) == 4 and reopened.controller.queue_paused
    assert reopened.queue_panel.header.text() == "4 queued — paused"
    reopened.close()
    reopened.store.close()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in recwarn]


def test_closing_an_idle_window_stops_every_thread(qtbot, uncond_ckpt):
    w = open_window(qtbot)
    w.controls.steps.setValue(2)
    with qtbot.waitSignal(w.session.saved, timeout=LONG):
        w.generate()
    qtbot.waitUntil(lambda: w.controller.runner.idle and w.session.writer.idle, timeout=LONG)
    w.close()
    assert {name: r.alive for name, r in runners(w).items()} == dict.fromkeys(runners(w), False)
    w.store.close()


def test_esc_as_a_queued_job_finishes_cancels_the_next_one(qtbot, uncond_ckpt):
    w = open_window(qtbot)
    w.activateWindow()
    w.controls.steps.setValue(3)
    events = []
    ids: list[str] = []

    def on_event(ev):
        events.append((ev.job, ev.kind))
        if ev.kind == "result" and ev.job == ids[0]:
            qtbot.keyClick(w, Qt.Key.Key_Escape)  # the first image is made; the next job is about to start
    w.controller.event.connect(on_event)
    w.controller.pause_queue()
    ids += [w.generate() for _ in range(3)]
    w.controller.resume_queue()
    qtbot.waitUntil(lambda: (ids[2], "done") in events, timeout=LONG)
    kinds = {job: [k for j, k in events if j == job] for job in ids}
    assert kinds[ids[0]][-2:] == ["result", "done"]
    assert "started" not in kinds[ids[1]] and kinds[ids[1]][-1] == "cancelled", "Esc was not dropped"
    assert "result" in kinds[ids[2]], "one Esc cancels one job"
    assert "Cancelled the next queued job" in w.last_message
    qtbot.waitUntil(lambda: len(w.store.items()) == 2, timeout=LONG)
    w.close()
    w.store.close()
