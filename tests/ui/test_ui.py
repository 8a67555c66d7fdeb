"""The real main window, driven offscreen with pytest-qt against a tiny checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.store.gallery import GalleryStore
from studio.ui.app import build_window

from .jobs import LONG, frames_of, is_kind, run


@pytest.fixture
def window(qtbot, tiny_ckpt):
    w = build_window(preload=False)
    qtbot.addWidget(w)
    w.show()
    assert w.model_panel.select("diffusion", "tiny-diffusion")  # tiny and fast; the shipped one is tested apart
    w.controller.preview_interval = 0  # the tiny model outruns the screen: see every step in these tests
    yield w
    w.controller.cancel()
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=LONG)
    w.latent.shutdown()
    w.store.close()


def generate(qtbot, window, *, steps: int, prompt: str | None = None):
    window.controls.steps.setValue(steps)
    if prompt is not None:
        window.prompt_panel.prompt.clear()
        qtbot.keyClicks(window.prompt_panel.prompt, prompt)
    return run(qtbot, window, lambda: qtbot.mouseClick(window.controls.generate_button, Qt.MouseButton.LeftButton))


def test_generate_streams_frames_then_lists_the_result(qtbot, window, data_dir):
    frames = frames_of(window)
    result = generate(qtbot, window, steps=8, prompt="a sneaker")
    assert [f.step for f in frames] == list(range(1, 9))
    assert frames[-1].final and not any(f.final for f in frames[:-1])
    assert len({f.preview.tobytes() for f in frames[:-1]}) >= 3, "several distinct previews before the end"
    assert np.array_equal(result.images, frames[-1].preview)
    assert result.request.prompt == "a sneaker" and result.request.checkpoint_hash
    assert window.preview.step_label.text() == "step 8/8"
    assert window.preview.canvas.image() is not None
    assert window.gallery.list.count() == 1
    window.store.close()
    reopened = GalleryStore(data_dir / "gallery")
    items = reopened.items("sneaker")
    assert len(items) == 1 and items[0].request == result.request
    reopened.close()


def test_cancel_mid_run_stops_and_the_next_job_runs(qtbot, window):
    generate(qtbot, window, steps=2)  # warm up: load the model
    seen = []

    def on_frame(ev):
        if ev.kind != "frame":
            return
        seen.append(ev.step)
        if ev.step == 3:
            qtbot.keyClick(window, Qt.Key.Key_Escape)

    window.controller.event.connect(on_frame)
    window.controls.steps.setValue(1000)
    with qtbot.waitSignal(window.controller.event, check_params_cb=is_kind("cancelled"), timeout=LONG):
        window.generate()
    assert 3 <= max(seen) <= 5, "cancel takes effect within a step or two"
    assert not window.controller.busy and window.preview.step_label.text() == "cancelled"
    window.controller.event.disconnect(on_frame)
    result = generate(qtbot, window, steps=3)
    assert result.images.shape[0] == 1


def test_generate_while_busy_queues_and_the_queue_persists(qtbot, window, data_dir):
    generate(qtbot, window, steps=2)
    window.controls.steps.setValue(400)
    window.generate()
    window.controls.steps.setValue(2)
    window.generate()
    assert len(window.controller.queue) == 1 and window.queue_panel.list.count() == 1
    from studio.store.jobqueue import JobQueue

    assert len(JobQueue(data_dir / "queue.json")) == 1, "the queue is saved as it changes"
    # editing: the queued job comes back into the panels and leaves the queue; queue it again
    window.queue_panel.list.setCurrentRow(0)
    window.queue_panel.edit_selected()
    assert len(window.controller.queue) == 0 and window.controls.steps.value() == 2
    window.generate()
    assert len(window.controller.queue) == 1
    run(qtbot, window, window.controller.cancel)  # the running job stops; the queued one then runs to the end
    assert len(window.controller.queue) == 0


def test_a_queued_job_the_panels_cannot_hold_stays_queued(qtbot, window):
    """A hand-edited queue entry out of the widgets' range is refused with a message, not lost."""
    window.controller.pause_queue()
    req = window.current_request().with_(guidance=3.1234567)  # valid, but finer than the guidance box
    job = window.controller.queue.push(req)
    window.queue_panel.refresh()
    window.queue_panel.list.setCurrentRow(0)
    window.queue_panel.edit_selected()
    assert "not restored" in window.last_message
    assert window.controller.queue.jobs() == [(job, req)]


def test_dropping_a_result_restores_settings_and_reproduces_pixels(qtbot, window):
    window.controls.batch.setValue(2)
    window.controls.guidance.setValue(4.5)
    first = generate(qtbot, window, steps=5, prompt="a bag")
    item = window.store.items()[0]
    # scramble the panels, then drop the PNG onto the window
    window.prompt_panel.set_text("something else")
    window.controls.steps.setValue(77)
    window.controls.seed_lock.setChecked(False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(item.path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.prompt_panel.text() == "a bag" and window.controls.steps.value() == 5
    assert window.controls.seed_lock.isChecked() and window.controls.guidance.value() == 4.5
    again = run(qtbot, window, window.generate)
    assert again.request == first.request
    assert np.array_equal(again.images, first.images)


def test_bad_drops_give_messages_and_lose_nothing(qtbot, window, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not window.load_png(text)
    assert "not an image" in window.last_message
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert not window.load_png(plain)
    assert "no generation settings" in window.last_message


def test_layout_and_settings_persist(qtbot, window, data_dir):
    window.prompt_panel.set_text("an ankle boot", "a sandal")
    window.controls.steps.setValue(33)
    window.controls.seed_lock.setChecked(True)
    window.save_settings()
    second = build_window(preload=False)
    qtbot.addWidget(second)
    assert second.prompt_panel.text() == "an ankle boot" and second.prompt_panel.negative_text() == "a sandal"
    assert second.controls.steps.value() == 33 and second.controls.seed_lock.isChecked()
    second.store.close()


def test_widgets_refuse_out_of_range_values(qtbot, window):
    window.controls.steps.setValue(5000)
    window.controls.batch.setValue(99)
    assert window.controls.steps.value() == 1000 and window.controls.batch.value() == 16


def test_gif_export_and_gallery_delete_restore_search(qtbot, window, tmp_path):
    generate(qtbot, window, steps=6, prompt="a dress")
    generate(qtbot, window, steps=3, prompt="a coat")
    gif = window.preview.export_gif(str(tmp_path / "run.gif"))
    from PIL import Image

    assert len(window.preview.frames) == 3, "the last run's three steps"
    with Image.open(gif) as im:
        # PIL folds a frame identical to the one before into it (adding its duration), so a tiny
        # model's near-converged last steps may share a GIF frame: count time, not frames.
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        last = np.asarray(im.convert("L"))
    assert 2 <= len(durations) <= 3 and sum(durations) == 3000
    final = window.preview.frames[-1][0, ..., 0]
    assert np.abs(last[::4, ::4].astype(int) - final.astype(int)).max() <= 8, "the GIF ends on the final image"
    g = window.gallery
    assert g.list.count() == 2
    g.search.setText("dress")
    assert g.list.count() == 1
    g.list.item(0).setSelected(True)
    g.delete_button.click()
    assert g.list.count() == 0 and len(window.store.items()) == 1
    g.show_deleted.setChecked(True)
    assert g.list.count() == 1
    g.list.item(0).setSelected(True)
    g.restore_button.click()
    g.show_deleted.setChecked(False)
    assert g.list.count() == 1 and len(window.store.items()) == 2
    g.list.item(0).setSelected(True)
    g.use_button.click()
    assert window.prompt_panel.text() == "a dress" and window.controls.steps.value() == 6


def test_frames_are_throttled_to_the_screen_but_the_gif_keeps_every_step(qtbot, window):
    window.controller.preview_interval = 10.0  # far slower than the run: only the first and final frames
    frames = frames_of(window)
    result = generate(qtbot, window, steps=12)
    assert [f.step for f in frames] == [1, 12]
    assert len(result.frames) == 12 and np.array_equal(result.frames[-1], result.images)


def test_broken_checkpoints_get_messages_and_the_studio_goes_on(qtbot, window, tiny_ckpt):
    folder = tiny_ckpt.parent
    (folder / "garbage.safetensors").write_bytes(b"not a model")
    data = tiny_ckpt.read_bytes()
    (folder / "halved.safetensors").write_bytes(data)
    window.model_panel.rescan()
    assert "garbage.safetensors" in window.model_panel.problems.text()
    assert window.model_panel.select("diffusion", "halved")
    (folder / "halved.safetensors").write_bytes(data[: len(data) // 2])  # cut short after it was listed
    with qtbot.waitSignal(window.controller.event, check_params_cb=is_kind("error"), timeout=LONG) as blocker:
        window.generate()
    assert "truncated" in blocker.args[0].message and "truncated" in window.last_message
    assert window.preview.step_label.text() == "failed" and not window.controller.busy
    window.model_panel.rescan()  # listed again: broken, with its reason
    assert "halved" in window.model_panel.problems.text() and "truncated" in window.model_panel.problems.text()
    assert window.model_panel.select("diffusion", "tiny-diffusion")
    assert generate(qtbot, window, steps=2).images.shape[0] == 1
