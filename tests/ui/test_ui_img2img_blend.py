"""Image-to-image and prompt blending in the real window: an image dropped on the preview becomes the
input (strength 0 gives it back), families without the path say so, and the Blend dock's sweep makes
one image per mix with the seed fixed and saves them as a GIF. pytest-qt, offscreen, tiny models."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.core.prompt.blend import parse_blend
from studio.store.inputs import load_input

from .jobs import LONG
from .jobs import run as run_job


@pytest.fixture
def window(studio_window, tiny_ckpt, tiny_vae):
    return studio_window("diffusion", "tiny-diffusion")


def drop_file(widget, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    widget.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def run(qtbot, window, trigger):
    return run_job(qtbot, window, trigger)


def test_an_image_dropped_on_the_preview_is_the_input_and_strength_zero_returns_it(qtbot, window, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(1).random((20, 30, 3)) * 80).astype(np.uint8)).save(src)
    assert window.controls.init_view.isVisible() and not window.controls.clear_init.isEnabled()
    with qtbot.waitSignal(window.session.inputChanged, timeout=LONG):  # fitted to the model off the GUI thread
        drop_file(window.preview, src)
    h = window.controls.init_image
    assert h and window.controls.init_view.image() is not None and "padded to a square" in window.last_message
    stored = load_input(h)
    assert stored.shape == (12, 12, 1), "fitted to the model: 12x12 grey"
    window.controls.strength.setValue(0.0)
    result = run(qtbot, window, window.controls.generate_button.click)
    assert result.request.init_image == h and result.request.strength == 0.0
    assert np.array_equal(result.images[0], stored)
    window.controls.strength.setValue(0.5)
    window.controls.steps.setValue(4)
    assert len(run(qtbot, window, window.controls.generate_button.click).frames) == 2, "half of the 4 steps"
    window.controls.clear_init.click()
    assert window.controls.init_image == "" and window.current_request().init_image == ""


def test_families_without_img2img_say_so_and_do_not_carry_the_input(qtbot, window, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(src)
    with qtbot.waitSignal(window.session.inputChanged, timeout=LONG):
        drop_file(window.preview, src)
    assert window.controls.init_image
    assert window.model_panel.select("vae", "tiny-vae")
    assert not window.controls.init_view.isVisible()
    assert window.current_request().init_image == "", "the VAE's requests never carry the diffusion input"
    assert not window.set_input_image(str(src))
    assert "The VAE family has no image-to-image path" in window.last_message


def test_blend_sweep_makes_one_image_per_mix_with_one_seed_and_saves_a_gif(qtbot, window, tmp_path):
    blend = window.blend
    blend.a.setText("a sneaker")
    blend.b.setText("a sandal")
    blend.mix.setValue(25)
    blend.use_button.click()
    assert window.prompt_panel.text() == "a sneaker::0.75 | a sandal::0.25"
    window.controls.steps.setValue(2)
    window.controls.seed.setValue(77)
    blend.frames.setValue(3)
    results = []
    window.controller.event.connect(lambda ev: results.append(ev.result) if ev.kind == "result" else None)
    blend.sweep_button.click()
    qtbot.waitUntil(lambda: blend.gif_button.isEnabled(), timeout=LONG)
    assert [r.request.prompt for r in results] == ["a sneaker", "a sneaker::0.5 | a sandal::0.5", "a sandal"]
    assert {r.request.seed for r in results} == {77}
    assert parse_blend(results[1].request.prompt) == [("a sneaker", 0.5), ("a sandal", 0.5)]
    assert not np.array_equal(results[0].images, results[2].images)
    gif = blend.save_gif(str(tmp_path / "sweep.gif"))
    with Image.open(gif) as im:
        assert im.n_frames >= 2 and im.size == (48, 48)
    assert "3 images" in blend.status.text()


def test_the_input_image_comes_back_with_the_saved_settings(qtbot, window, tmp_path):
    from studio.ui.app import build_window

    src = tmp_path / "in.png"
    Image.fromarray(np.full((12, 12), 90, np.uint8)).save(src)
    with qtbot.waitSignal(window.session.inputChanged, timeout=LONG):
        drop_file(window.preview, src)
    h = window.controls.init_image
    window.save_settings()
    second = build_window(preload=False)
    qtbot.addWidget(second)
    assert second.controls.init_image == h and second.current_request().init_image == h
    qtbot.waitUntil(lambda: second.controls.init_view.image() is not None, timeout=LONG)  # pixels read off-thread
    second.store.close()
