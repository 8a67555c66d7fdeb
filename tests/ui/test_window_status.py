"""What the window says and shows around a family switch and an error (issue 11, item 19): an error
is said once and only it is red; a family switch clears the last family's image; an input image is
fitted to a newly chosen checkpoint at once, not refused at Generate. Real window, offscreen."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from tests.conftest import make_tiny_checkpoint

from .jobs import LONG, is_kind, run


def red_pixels(widget) -> int:
    """How many pixels of the widget, as drawn, are the error red."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    bgra = a[:, : image.width() * 4].reshape(image.height(), image.width(), 4).astype(int)
    b, g, r = bgra[..., 0], bgra[..., 1], bgra[..., 2]
    return int(((r > 170) & (r - g > 70) & (r - b > 70)).sum())


def drop_file(widget, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    widget.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_an_error_is_said_once_and_what_follows_is_not_red(qtbot, studio_window, tiny_toy, tiny_ckpt):
    window = studio_window("toy", "toy-pattern")
    data = tiny_ckpt.read_bytes()
    (tiny_ckpt.parent / "halved.safetensors").write_bytes(data)
    window.model_panel.rescan()
    assert window.model_panel.select("diffusion", "halved")
    (tiny_ckpt.parent / "halved.safetensors").write_bytes(data[: len(data) // 2])  # cut short once listed
    bar = window.statusBar()
    assert red_pixels(bar) == 0
    with qtbot.waitSignal(window.controller.event, check_params_cb=is_kind("error"), timeout=LONG) as blocker:
        window.generate()
    error = blocker.args[0].message
    assert "truncated" in error
    qtbot.waitUntil(lambda: bar.currentMessage() == error)
    assert error not in window.status_label.text(), "the error is said once, not also on the right"
    assert red_pixels(bar) > 20, "the error is red"
    # A job's status on the right while the error still shows: not red.
    window.status_label.setText("step 3/50")
    assert red_pixels(window.status_label) == 0
    # The next message is not red, nor is anything after the error has gone.
    window.notify("Settings restored from gallery item 3.")
    assert bar.currentMessage() == "Settings restored from gallery item 3." and red_pixels(bar) == 0
    window.notify(error, error=True)
    assert red_pixels(bar) > 20
    bar.clearMessage()  # as when its time is up
    window.status_label.setText("Cancelled.")
    assert red_pixels(bar) == 0
    # A real job after the error: its status and messages are not red either.
    assert window.model_panel.select("toy", "toy-pattern")
    window.notify(error, error=True)
    run(qtbot, window, window.generate)
    window.notify("Done.")
    assert red_pixels(bar) == 0


def test_a_family_switch_clears_the_last_familys_image(qtbot, studio_window, tiny_toy, tiny_ckpt, tiny_pixelcnn):
    window = studio_window("toy", "toy-pattern")
    run(qtbot, window, window.generate)
    preview = window.preview
    assert preview.canvas.image() is not None and preview.gif_button.isEnabled()
    assert window.model_panel.select("diffusion", "tiny-diffusion")
    assert preview.canvas.image() is None, "the toy's image is gone"
    assert preview.canvas.placeholder == "Diffusion: type a prompt and press Generate (Ctrl+Enter)"
    assert not preview.gif_button.isEnabled() and preview.frames == [] and preview.step_label.text() == "idle"
    assert preview.canvas.toolTip() == "", "no clicks offered on an image that is not there"
    assert window.model_panel.select("autoregressive", "tiny-pixelcnn")
    assert preview.canvas.placeholder.startswith("Autoregressive: type a prompt")
    assert window.model_panel.select("toy", "toy-pattern")
    assert preview.canvas.placeholder.startswith("Toy: press Generate")
    # Another checkpoint of the same family keeps what it shows.
    window.preview.show_images(np.zeros((1, 8, 8, 1), np.uint8))
    window.model_panel.rescan()
    assert window.model_panel.select("toy", "toy-pattern") and preview.canvas.image() is not None


@pytest.fixture
def rgb16(tiny_ckpt):
    """A second diffusion checkpoint of another image format: 16x16 RGB (the first is 12x12 grey)."""
    return make_tiny_checkpoint(tiny_ckpt.parent / "tiny-rgb16.safetensors", image_size=16, channels=3)


def test_an_input_image_is_fitted_to_a_newly_chosen_checkpoint(qtbot, studio_window, tiny_ckpt, rgb16, tmp_path):
    window = studio_window("diffusion", "tiny-diffusion")
    session = window.session
    src = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(3).random((20, 30, 3)) * 200).astype(np.uint8)).save(src)
    with qtbot.waitSignal(session.inputChanged, timeout=LONG):
        drop_file(window.preview, src)
    first = session.input.hash
    assert session.input.image.shape == (12, 12, 1)

    assert window.model_panel.select("diffusion", "tiny-rgb16")
    # At the switch, not at Generate: fitted again from the dropped file, and said so.
    qtbot.waitUntil(lambda: session.input.image is not None and session.input.image.shape == (16, 16, 3),
                    timeout=LONG)
    assert "converted for tiny-rgb16" in window.last_message and "resized from 30x20 to 16x16" in window.last_message
    assert window.controls.init_image == session.input.hash != first
    window.controls.strength.setValue(0.0)
    window.controls.steps.setValue(2)
    result = run(qtbot, window, window.generate)  # generates from it: no refusal
    assert result.request.init_image == session.input.hash and result.images.shape[1:] == (16, 16, 3)

    # The dropped file is gone (or the input came with restored settings): fitted from the stored pixels.
    src.unlink()
    assert window.model_panel.select("diffusion", "tiny-diffusion")
    qtbot.waitUntil(lambda: session.input.image is not None and session.input.image.shape == (12, 12, 1),
                    timeout=LONG)
    assert "converted for tiny-diffusion" in window.last_message


def test_problems_opening_the_gallery_are_shown_at_start_up(qtbot, studio_window, data_dir, tiny_ckpt):
    images = data_dir / "gallery" / "images"
    images.mkdir(parents=True)
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image after all")
    window = studio_window("diffusion", "tiny-diffusion")
    problems = window.store.problems
    assert problems and "broken.png" in " ".join(problems)
    assert all(p in window.last_message for p in problems), "said in the status bar"
    notice = window.startup_notice
    qtbot.waitUntil(lambda: notice.isVisible())
    assert not notice.isModal() and window.isEnabled(), "the window stays usable"
    assert all(p in notice.informativeText() for p in problems)


def test_no_notice_when_the_gallery_opened_cleanly(qtbot, studio_window, tiny_ckpt):
    window = studio_window("diffusion", "tiny-diffusion")
    assert window.store.problems == [] and window.startup_notice is None
