"""The autoregressive family in the real window: its controls, the image written row by row with the
undrawn area marked, and a click on a pixel that redraws everything after it. pytest-qt, offscreen."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from studio.store.registry import load_model

from .jobs import frames_of
from .jobs import run as run_job


@pytest.fixture
def window(studio_window, tiny_pixelcnn):
    return studio_window("autoregressive", "tiny-pixelcnn", every_frame=True)


def run(qtbot, window, trigger):
    return run_job(qtbot, window, trigger)


def click_pixel(qtbot, canvas, row: int, col: int, size: int = 12) -> None:
    t = canvas._target
    x = t.left() + int((col + 0.5) * t.width() / size)
    y = t.top() + int((row + 0.5) * t.height() / size)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, y))


def test_the_family_shows_its_own_controls(window):
    c = window.controls
    assert all(w.isVisible() for w in (c.temperature, c.top_k, c.top_p, c.sampler, c.seed, c.batch))
    assert not any(w.isVisible() for w in (c.steps, c.guidance, c.eta, c.truncation))
    assert [c.sampler.itemText(i) for i in range(c.sampler.count())] == ["cached", "naive"]
    assert c.top_k.text() == "off", "top-k 0 reads as off"
    assert window.prompt_panel.isEnabled()


def test_generate_writes_row_by_row_then_keeps_the_settings(qtbot, window):
    frames = frames_of(window)
    window.controls.temperature.setValue(0.8)
    window.controls.top_k.setValue(1)
    window.prompt_panel.prompt.setPlainText("a sandal")
    result = run(qtbot, window, window.controls.generate_button.click)
    assert [f.step for f in frames] == list(range(1, 13)) and frames[-1].final
    assert window.preview.step_label.text() == "row 12/12"
    kept = window.preview.frames
    assert len(kept) == 12 and kept[0].shape == (1, 12, 12, 3), "the kept frames show the undrawn area"
    assert set(np.unique(kept[0][0, 1:])) == {64, 92}, "rows not drawn yet are a checkerboard, not black"
    req = result.request
    assert (req.family, req.sampler, req.temperature, req.top_k, req.prompt) == \
        ("autoregressive", "cached", 0.8, 1, "a sandal")
    assert np.array_equal(result.images, load_model("tiny-pixelcnn").generate(req))
    assert window.store.items()[0].request == req


def test_clicking_a_pixel_redraws_everything_after_it_and_use_settings_reproduces_it(qtbot, window):
    window.controls.seed_lock.setChecked(True)
    first = run(qtbot, window, window.controls.generate_button.click)
    assert window.preview.canvas.cursor().shape() == Qt.CursorShape.CrossCursor
    second = run(qtbot, window, lambda: click_pixel(qtbot, window.preview.canvas, 6, 3))
    assert second.request.redraws and second.request.redraws[0][0] == 6 * 12 + 3
    a, b = first.images.reshape(-1), second.images.reshape(-1)
    assert np.array_equal(a[:75], b[:75]), "every pixel before the clicked one is kept"
    third = run(qtbot, window, lambda: click_pixel(qtbot, window.preview.canvas, 9, 0))
    assert [p for p, _ in third.request.redraws] == [75, 108], "a later click adds a redraw"
    assert np.array_equal(third.images.reshape(-1)[:108], b[:108])

    window.gallery.useSettings.emit(window.store.items()[0])  # newest first: the twice-redrawn image
    again = run(qtbot, window, window.controls.generate_button.click)
    assert again.request.redraws == third.request.redraws
    assert np.array_equal(again.images, third.images)
    window.controls.seed_lock.setChecked(False)
    fresh = run(qtbot, window, window.controls.generate_button.click)
    assert fresh.request.redraws == (), "a new seed starts a new image"


def test_clicks_do_nothing_for_other_families(qtbot, window, tiny_ckpt):
    window.model_panel.rescan()  # the diffusion checkpoint was written after the window opened
    assert window.model_panel.select("diffusion", "tiny-diffusion")
    window.controls.steps.setValue(2)
    run(qtbot, window, window.controls.generate_button.click)
    assert window.preview.canvas.toolTip() == ""
    click_pixel(qtbot, window.preview.canvas, 3, 3)
    assert not window.controller.busy and window.redraw_after(0, 3, 3) is None
