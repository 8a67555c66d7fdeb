"""The VAE in the real window: latent sliders, the latent map, encoding a dropped image,
interpolation, and keeping/restoring a hand-set latent. Driven offscreen with pytest-qt."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from studio.core.families.vae.family import VAEFamily, prior_latents

from .jobs import is_kind, run

LONG = 60_000


@pytest.fixture
def window(latent_window, tiny_vae, tiny_ckpt):
    return latent_window("vae", "tiny-vae")


@pytest.fixture
def family(tiny_vae) -> VAEFamily:
    return VAEFamily.from_checkpoint(tiny_vae)


def decoded(qtbot, window, action, expect):
    """Run ``action`` and return the (z, image) the worker decodes for it: the first decode of a
    vector close to ``expect`` (an earlier, still-queued decode may arrive first)."""
    with qtbot.waitSignal(window.latent.controller.event, timeout=LONG,
                          check_params_cb=lambda ev: ev.kind == "decoded" and np.allclose(ev.result.z, expect,
                                                                                          atol=0.1)) as blocker:
        action()
    z, image = blocker.args[0].result.z, blocker.args[0].result.image
    # The window's own slot for this signal runs on the GUI thread, possibly after the blocker's.
    qtbot.waitUntil(lambda: window.latent.last_z is not None and np.array_equal(window.latent.last_z, z),
                    timeout=LONG)
    return z, image


def drop_file(widget, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted(), "the drop target accepts files"
    widget.dropEvent(QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_vae_shows_its_panels_and_only_its_controls(qtbot, window):
    assert all(window.docks[t].isVisible() for t in window.LATENT_DOCKS)
    assert not window.controls.steps.isVisible() and window.controls.seed.isVisible()
    assert len(window.latent.panel.sliders) == 2 and "2-D latent" in window.latent.panel.info.text()
    assert "unconditional" in window.latent.panel.info.text()
    assert "prompt is ignored" in window.latent.panel.info.toolTip()
    assert not window.prompt_panel.isEnabled(), "an unconditional model does not read prompts"
    window.model_panel.select("diffusion", "tiny-diffusion")
    assert not any(window.docks[t].isVisible() for t in window.LATENT_DOCKS)
    assert window.controls.steps.isVisible() and window.prompt_panel.isEnabled()


def test_slider_moves_decode_live_off_the_gui_thread(qtbot, window, family):
    slider = window.latent.panel.sliders[0]
    z, image = decoded(qtbot, window, lambda: slider.setValue(150), [1.5, 0.0])
    assert np.allclose(z, [1.5, 0.0])
    assert np.array_equal(image, family.decode(z)[0])
    assert window.preview.canvas.image() is not None
    assert window.latent.panel.values[0].text() == "1.50"
    # A burst of moves: only the newest is guaranteed, and it is what ends up shown.
    for v in range(-100, 101, 10):
        slider.setValue(v)
    qtbot.waitUntil(lambda: window.latent.last_z is not None and np.isclose(window.latent.last_z[0], 1.0),
                    timeout=LONG)


def test_randomize_respects_locks_zero_and_copy_paste(qtbot, window):
    panel = window.latent.panel
    decoded(qtbot, window, lambda: panel.set_coords({0: 0.7, 1: -0.4}), [0.7, -0.4])
    panel.locks[0].setChecked(True)
    panel.randomize()
    assert panel.coords[0] == pytest.approx(0.7) and panel.coords[1] != pytest.approx(-0.4)
    panel.zero()
    assert panel.coords[0] == pytest.approx(0.7) and panel.coords[1] == 0.0
    panel.locks[0].setChecked(False)
    panel.set_coords({0: 1.25, 1: -2.5})
    panel.copy()
    panel.zero()
    assert panel.paste()
    assert np.allclose(panel.z(), [1.25, -2.5], atol=1e-4)
    messages = []
    panel.message.connect(lambda text, error: messages.append((text, error)))
    assert not panel.paste("1 2 3")
    assert not panel.paste("not numbers")
    assert np.allclose(panel.z(), [1.25, -2.5], atol=1e-4), "a bad paste changes nothing"
    assert all(error for _, error in messages) and "this model's latent has 2" in messages[0][0]


def test_latent_map_tiles_the_plane_and_a_click_decodes_that_point(qtbot, window, family):
    lmap = window.latent.map
    qtbot.waitUntil(lambda: lmap.image.image is not None, timeout=LONG)
    n = lmap.tiles.value()
    assert lmap.image.image.shape == (n * 12, n * 12)
    assert len(lmap.scatter.data) == 30, "the encoded points are scattered"
    # The top-left tile of the mosaic (drawn flipped: row 0 is the bottom) is the decode of (-3, +3).
    top_left = np.flipud(lmap.image.image)[:12, :12]
    assert np.array_equal(top_left, family.decode(np.array([-3.0, 3.0]))[0, ..., 0])
    # Click the plot where (1, -2) is.
    scene = lmap.view.mapViewToScene(QPointF(1.0, -2.0))
    pos = lmap.plot.mapFromScene(scene)
    z, _ = decoded(qtbot, window, lambda: qtbot.mouseClick(lmap.plot.viewport(), Qt.MouseButton.LeftButton,
                                                              pos=QPoint(pos.x(), pos.y())), [1.0, -2.0])
    assert np.allclose(z, [1.0, -2.0], atol=0.1)
    assert np.allclose(lmap.marker.data["x"][0], z[0]) and np.allclose(lmap.marker.data["y"][0], z[1])


def test_dropped_image_is_encoded_reconstructed_and_sets_the_sliders(qtbot, window, family, tmp_path):
    path = tmp_path / "photo.png"
    rgb = np.full((40, 30, 3), 255, np.uint8)  # a dark blob on white, not square, RGB
    rgb[10:30, 8:22] = 20
    Image.fromarray(rgb).save(path)
    with qtbot.waitSignal(window.latent.controller.event, check_params_cb=is_kind("encoded"), timeout=LONG) as blocker:
        drop_file(window.latent.panel.original, path)
    enc, tag = blocker.args[0].result, blocker.args[0].tag
    z, image, recon, note = enc.z, enc.image, enc.reconstruction, enc.note
    assert tag == "panel" and image.shape == (12, 12, 1) and recon.shape == (12, 12, 1)
    assert "inverted" in note and "resized" in note
    assert np.allclose(z, family.encode(image[None])[0], atol=1e-5)
    qtbot.waitUntil(lambda: window.latent.panel.reconstruction.image() is not None, timeout=LONG)
    qtbot.waitUntil(lambda: window.latent.last_z is not None and np.allclose(window.latent.last_z, z, atol=1e-4),
                    timeout=LONG)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with qtbot.waitSignal(window.latent.controller.event, check_params_cb=is_kind("error"), timeout=LONG) as blocker:
        drop_file(window.latent.panel.original, bad)
    assert "notes.png" in blocker.args[0].message


def test_interpolation_strip_between_two_seeds_and_its_gif(qtbot, window, family, tmp_path):
    it = window.latent.interpolate
    it.seed["A"].setValue(3)
    it.seed["B"].setValue(4)
    it.frames.setValue(6)
    with qtbot.waitSignal(window.latent.controller.event, check_params_cb=is_kind("strip"), timeout=LONG):
        it.priorWanted.emit("A", 3)
        it.priorWanted.emit("B", 4)
        qtbot.waitUntil(lambda: it.ends["B"] is not None and it.ends["A"] is not None, timeout=LONG)
    qtbot.waitUntil(lambda: it.frames_images is not None, timeout=LONG)
    za, zb = prior_latents(3, 1, 2)[0], prior_latents(4, 1, 2)[0]
    assert len(it.frames_images) == 6
    assert np.array_equal(it.frames_images[0], family.decode(za)[0])
    assert np.array_equal(it.frames_images[-1], family.decode(zb)[0])
    mid = it.latents()[3]
    assert np.linalg.norm(mid) > np.linalg.norm((za + zb) / 2), "slerp does not cut through the origin"
    gif = Image.open(it.export_gif(str(tmp_path / "walk.gif")))
    assert gif.n_frames == 6 + 4  # there and back
    it.play_button.setChecked(True)
    with qtbot.waitSignal(it.playFrame, timeout=LONG):
        pass
    it.play_button.setChecked(False)


def test_keep_stores_the_latent_and_restoring_it_reproduces_the_pixels(qtbot, window):
    panel = window.latent.panel
    z, image = decoded(qtbot, window, lambda: panel.set_coords({0: -1.3, 1: 0.8}), [-1.3, 0.8])
    with qtbot.waitSignal(window.session.saved, timeout=LONG):  # written off the GUI thread
        panel.keep_button.click()
    assert window.gallery.list.count() == 1, window.last_message
    assert "Kept as gallery item" in window.last_message
    item = window.store.items()[0]
    assert np.allclose(item.request.latent, z) and item.request.family == "vae"
    decoded(qtbot, window, panel.zero, [0.0, 0.0])
    z2, image2 = decoded(qtbot, window, lambda: window.use_item_settings(item), z)
    assert np.array_equal(z2, z) and np.array_equal(image2, image)
    kept = np.asarray(Image.open(item.path))
    assert np.array_equal(kept, image[..., 0])


def test_generate_draws_from_the_prior_and_the_sliders_follow(qtbot, window, family):
    window.controls.seed_lock.setChecked(True)
    window.controls.seed.setValue(11)
    window.controls.batch.setValue(2)
    result = run(qtbot, window, window.controls.generate_button.click, LONG)
    assert result.images.shape == (2, 12, 12, 1)
    assert np.array_equal(result.images, family.decode(prior_latents(11, 2, 2)))
    qtbot.waitUntil(lambda: np.allclose(window.latent.panel.z(), prior_latents(11, 1, 2)[0], atol=1e-2),
                    timeout=LONG)
