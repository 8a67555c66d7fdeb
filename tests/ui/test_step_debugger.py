"""The step debugger in the real window: pause, step, rewind with the slider, change the settings from a
step on, resume; the image kept reproduces the debugged run from its stored request."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.store.pngmeta import read_settings
from studio.store.registry import load_model

from .jobs import LONG, run


@pytest.fixture
def window(studio_window, tiny_ckpt):
    return studio_window("diffusion", "tiny-diffusion", every_frame=True)


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def paused_at(window, position: int):
    """The bar says the run holds after ``position`` steps, and the preview (repainted at the screen's pace)
    shows that step."""
    bar = window.preview.debug
    return lambda: (bar.slider.isEnabled() and bar.slider.value() == position
                    and bar.position.text().startswith(f"{position}/")
                    and (position == 0 or window.preview.step_label.text().startswith(f"step {position}/")))


def test_pause_step_rewind_edit_and_resume(qtbot, window, tiny_ckpt):
    bar, controls = window.preview.debug, window.controls
    controls.steps.setValue(12)
    controls.guidance.setValue(3.0)
    controls.seed_lock.setChecked(True)
    window.prompt_panel.set_text("a red circle", "")
    assert not bar.pause_button.isEnabled(), "the bar works while a run is on"

    def start_paused():
        click(qtbot, controls.generate_button)
        click(qtbot, bar.pause_button)  # before its first step: the model is still loading

    paused: list = []
    window.controller.event.connect(lambda ev: paused.append(ev.result) if ev.kind == "paused" else None)
    state = {}
    window.controller.event.connect(lambda ev: state.update(result=ev.result) if ev.kind == "result" else None)
    start_paused()
    qtbot.waitUntil(paused_at(window, 0), timeout=LONG)
    assert not bar.apply_button.isEnabled(), "nothing to change mid-run before the first step"
    for k in (1, 2, 3):
        click(qtbot, bar.step_button)
        qtbot.waitUntil(paused_at(window, k), timeout=LONG)
    shown_at_3 = window.preview.canvas.image().copy()
    qtbot.keyClick(bar.slider, Qt.Key.Key_Left)  # rewind one step with the keyboard
    qtbot.waitUntil(paused_at(window, 2), timeout=LONG)
    assert bar.slider.maximum() == 3, "the steps after the rewind are still kept until an edit branches"
    assert window.preview.canvas.image() != shown_at_3
    controls.guidance.setValue(8.0)
    window.prompt_panel.set_text("a blue square", "")
    click(qtbot, bar.apply_button)
    qtbot.waitUntil(lambda: paused[-1].request.edits != (), timeout=LONG)
    assert paused[-1].kept == 2, "the edit branched: the old step 3 is dropped"
    click(qtbot, bar.pause_button)  # resume
    qtbot.waitUntil(lambda: "result" in state and not window.controller.busy, timeout=LONG)
    result = state["result"]
    assert result.request.edits == ((2, "guidance", 8.0), (2, "prompt", "a blue square"))
    assert result.request.prompt == "a red circle" and result.request.guidance == 3.0
    # The PNG the gallery keeps gives the debugged image back; without its edits the request gives another.
    model = load_model(str(tiny_ckpt))
    qtbot.waitUntil(lambda: window.gallery.list.count() == 1, timeout=LONG)
    item = window.store.items()[0]
    stored, _ = read_settings(item.path)
    assert stored == result.request
    assert np.array_equal(model.generate(stored)[0][..., 0], np.asarray(Image.open(item.path)))
    assert np.array_equal(model.generate(stored), result.images)
    assert not np.array_equal(model.generate(result.request.with_(edits=())), result.images)
    assert not bar.pause_button.isEnabled() and not bar.pause_button.isChecked()


def test_a_run_without_pausing_records_no_edits(qtbot, window):
    window.controls.steps.setValue(4)
    result = run(qtbot, window, lambda: qtbot.mouseClick(window.controls.generate_button, Qt.MouseButton.LeftButton))
    assert result.request.edits == () and len(result.frames) == 4
