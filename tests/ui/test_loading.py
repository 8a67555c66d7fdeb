"""The preview says what is loading before the first step, and shows a rate only where it means something
(issue 11, item 17)."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSettings

from studio.store.gallery import GalleryStore
from studio.store.jobqueue import JobQueue
from studio.ui.main_window import MainWindow
from studio.workers.generation import GenerationController, _default_loader
from studio.workers.session import StudioSession
from tests.conftest import make_tiny_checkpoint

from .jobs import LONG, run


class SlowLoader:
    """The real loader, held until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, checkpoint: str):
        self.release.wait(LONG / 1000)
        return _default_loader(checkpoint)


@pytest.fixture
def slow_window(qtbot, data_dir):
    make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-uncond.safetensors", cond_dim=0)
    loader = SlowLoader()
    controller = GenerationController(JobQueue(data_dir / "queue.json"), loader=loader)
    settings = QSettings(str(data_dir / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(StudioSession(GalleryStore(data_dir / "gallery"), controller), settings)
    qtbot.addWidget(w)
    w.show()
    assert w.model_panel.select("diffusion", "tiny-uncond")
    yield w, loader
    loader.release.set()
    w.close()
    w.store.close()


def test_the_canvas_says_which_model_loads_until_the_first_step(qtbot, slow_window):
    w, loader = slow_window
    w.controls.steps.setValue(5)
    w.generate()
    qtbot.waitUntil(lambda: w.preview.canvas.placeholder == "Loading model tiny-uncond…", timeout=LONG)
    assert w.preview.canvas.image() is None and w.preview.progress.maximum() == 0, "a busy bar"
    assert w.preview.step_label.text() == "loading…" and w.preview.speed_label.text() == ""
    result = run(qtbot, w, loader.release.set)
    assert result.request.steps == 5 and w.preview.canvas.image() is not None
    assert w.preview.step_label.text() == "step 5/5"
    assert w.preview.speed_label.text().endswith(" steps/s"), "several steps: a rate"


def test_a_warm_up_shows_what_loads_and_then_the_idle_text(qtbot, slow_window):
    w, loader = slow_window
    idle = w.preview.canvas.placeholder
    job = w.controller.preload("tiny-uncond")
    qtbot.waitUntil(lambda: w.preview.canvas.placeholder == "Loading model tiny-uncond…", timeout=LONG)
    with qtbot.waitSignal(w.controller.event, check_params_cb=lambda ev: ev.kind == "loaded" and ev.job == job,
                          timeout=LONG):
        loader.release.set()
    assert w.preview.canvas.placeholder == idle and w.preview.step_label.text() == "idle"
    assert w.preview.progress.maximum() == 1


@pytest.mark.parametrize("family, fixture", [("vae", "tiny_vae"), ("gan", "tiny_gan")])
def test_one_step_families_show_no_rate(qtbot, request, studio_window, family, fixture):
    checkpoint = request.getfixturevalue(fixture)
    w = studio_window(family, checkpoint.stem)
    shown = []  # what the preview says as the (final) frame is painted; the window handles it first

    def on_event(ev):
        if ev.kind == "frame":
            shown.append((ev.rate, w.preview.step_label.text(), w.preview.speed_label.text()))
    w.controller.event.connect(on_event)
    run(qtbot, w, w.generate)
    assert shown == [(0.0, "step 1/1", "")]
