"""Clips in the real window (pytest-qt, offscreen, the tiny video model: 4 frames of 8x8): the Preview shows
every step's filmstrip and a player under it, which plays, pauses and scrubs with the mouse, and exports
GIF and MP4 files that restore their settings when dropped; a still image dropped on the preview is the
clip's first frame; the gallery plays clip thumbnails on one timer; still-image models hide the player."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QContextMenuEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QStyle, QStyleOptionSlider

from studio.core.clips import contact_sheet, filmstrip, frames_of, sheet_rows
from studio.core.request import GenerationRequest
from studio.store.gallery import GalleryStore
from studio.store.inputs import load_input
from studio.store.video_files import read_video, write_gif
from studio.ui.clip_player import ClipPlayer, clip_frames
from studio.ui.gallery_panel import CLIP_ROLE, GalleryPanel
from studio.ui.preview import SHEET_GAP

from .jobs import LONG, run
from .jobs import frames_of as frames_seen

T, SIDE = 4, 8  # the tiny video model's clips


@pytest.fixture
def window(studio_window, tiny_video, tiny_ckpt):
    return studio_window("video", "tiny-video", every_frame=True)


def drop_file(widget, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    widget.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def save_to(monkeypatch, path) -> None:
    """The next save dialog answers ``path``."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def pixels(image: QImage) -> np.ndarray:
    im = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, line = im.height(), im.width(), im.bytesPerLine()
    return np.frombuffer(im.constBits(), np.uint8, count=line * h).reshape(h, line)[:, :w * 3].reshape(h, w, 3).copy()


def handle_center(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    return slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle,
                                         slider).center()


def clip_strip(frames: int = T, side: int = SIDE) -> np.ndarray:
    """A filmstrip whose frame k is a flat colour of its own."""
    clip = np.stack([np.full((side, side, 3), (40 * k + 20, 200 - 40 * k, 90), np.uint8) for k in range(frames)])
    return filmstrip(clip)


def test_the_preview_shows_every_steps_filmstrip_and_the_player_plays_the_chosen_clip(qtbot, window, monkeypatch,
                                                                                      tmp_path):
    player = window.preview.player
    assert player.isVisible() and player.frame_count == 0, "a video model: the player shows, empty"
    seen = frames_seen(window)
    in_player: list[np.ndarray] = []
    player.frameChanged.connect(lambda _i: in_player.append(player.clip().copy()))
    window.controls.steps.setValue(4)
    window.controls.batch.setValue(2)
    window.prompt_panel.set_text("a red square moving right")
    result = run(qtbot, window, window.controls.generate_button.click)

    assert [f.step for f in seen] == [1, 2, 3, 4] and all(f.frames == T for f in seen)
    assert seen[0].preview.shape == (2, SIDE, T * SIDE, 3), "each step: a filmstrip per clip of the batch"
    assert len({f.preview.tobytes() for f in seen[:-1]}) >= 2, "several distinct filmstrips before the end"
    canvas = window.preview.canvas.image()
    size = window.preview.canvas.size()
    rows = sheet_rows(2, T, SIDE, SIDE, size.width(), size.height(), gap=SHEET_GAP)
    sheet_w, sheet_h = T // rows * (SIDE + SHEET_GAP) - SHEET_GAP, rows * (SIDE + SHEET_GAP) - SHEET_GAP
    assert (canvas.width(), canvas.height()) == (2 * (sheet_w + 2) + 2, sheet_h + 4), "the batch's clips, in a grid"
    assert pixels(canvas)[2:2 + sheet_h, 2:2 + sheet_w].tolist() == \
        contact_sheet(result.images[:1], T, rows, gap=SHEET_GAP)[0].tolist(), "the first clip's frames, wrapped into rows"
    steps = [frames_of(f.preview[0], T) for f in seen[:-1]]
    if not any(np.array_equal(c, s) for c in in_player for s in steps):
        # Repaints are coalesced to the screen's pace, so a fast run may paint only its last step: show
        # a mid-run step as the preview receives it, and the player takes that step's clip.
        in_player.clear()
        window.preview.show_frame(seen[1], 0.0)
        qtbot.waitUntil(lambda: any(np.array_equal(c, steps[1]) for c in in_player), timeout=5000)
        window.preview.show_frame(seen[-1], 0.0)
        window.preview.finish([], result.request)
    assert np.array_equal(player.clip(), frames_of(result.images[0], T)) and player.request == result.request
    qtbot.waitUntil(lambda: player.playing and player.frame_index > 0, timeout=5000)  # the final clip plays

    # A click on the second clip of the batch: the player shows that one.
    target = window.preview.canvas._target
    x, y = 2 + (sheet_w + 2) + sheet_w // 2, 2 + sheet_h // 2  # the middle of clip 2 in the grid image
    at = QPoint(target.left() + int((x + 0.5) * target.width() / canvas.width()),
                target.top() + int((y + 0.5) * target.height() / canvas.height()))
    qtbot.mouseClick(window.preview.canvas, Qt.MouseButton.LeftButton, pos=at)
    assert window.preview.clip_index == 1 and player.batch_index == 1
    assert np.array_equal(player.clip(), frames_of(result.images[1], T))

    # Export it as GIF and MP4 (real clicks; the dialog answers a path): both read back as clips of 4 frames
    # that carry the run's settings and the clip's place in the batch.
    for kind, button in (("gif", player.gif_button), ("mp4", player.mp4_button)):
        save_to(monkeypatch, tmp_path / f"clip.{kind}")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        clip = read_video(tmp_path / f"clip.{kind}")
        assert clip.frames.shape == (T, SIDE, SIDE, 3) and clip.fps == 8.0, kind
        assert clip.request == result.request and clip.batch_index == 1, kind
        assert "Exported the clip (4 frames at 8 fps)" in window.last_message
    assert np.array_equal(read_video(tmp_path / "clip.gif").frames, frames_of(result.images[1], T)), "GIF: exact"
    (tmp_path / "a-file").write_text("not a folder")
    save_to(monkeypatch, tmp_path / "a-file" / "clip.gif")
    qtbot.mouseClick(player.gif_button, Qt.MouseButton.LeftButton)
    assert "The clip was not exported" in window.last_message, "said in the status bar, nothing raised"

    # Each file dropped on the window restores the settings (scrambled first); so does the gallery's PNG.
    for path in (tmp_path / "clip.gif", tmp_path / "clip.mp4", window.store.items()[0].path):
        window.prompt_panel.set_text("something else")
        window.controls.steps.setValue(9)
        window.controls.seed.setValue(1234)
        drop_file(window, path)
        assert window.prompt_panel.text() == "a red square moving right", path.name
        assert window.controls.steps.value() == 4 and window.controls.seed.value() == result.request.seed
        assert f"Settings restored from {path.name}" in window.last_message


def test_clip_files_without_settings_or_damaged_say_so(qtbot, window, tmp_path):
    plain = write_gif(tmp_path / "plain.gif", frames_of(clip_strip(), T))  # a clip, but no request in it
    drop_file(window, plain)
    assert "plain.gif carries no generation settings" in window.last_message
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(40))
    drop_file(window.preview, broken)  # on the preview too: a clip restores settings, it is no input image
    assert "broken.mp4" in window.last_message and "damaged" in window.last_message
    assert window.controls.init_image == ""


def test_a_still_image_dropped_with_a_video_model_is_the_clips_first_frame(qtbot, window, tmp_path):
    src = tmp_path / "still.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (20, 30, 3), np.uint8)).save(src)
    with qtbot.waitSignal(window.session.inputChanged, timeout=LONG):
        drop_file(window.preview, src)
    h = window.controls.init_image
    assert h and load_input(h).shape == (SIDE, SIDE, 3), "fitted to one frame, not to the whole filmstrip"
    assert "first frame" in window.last_message
    window.controls.steps.setValue(3)
    result = run(qtbot, window, window.generate)
    assert result.request.init_image == h
    assert np.array_equal(frames_of(result.images[0], T)[0], load_input(h)), "the clip starts from the image"


def test_the_player_plays_pauses_loops_and_scrubs_with_the_mouse(qtbot):
    player = ClipPlayer()
    qtbot.addWidget(player)
    player.resize(480, 320)
    player.show()
    qtbot.waitExposed(player)
    assert not player.play_button.isEnabled() and player.label.text() == "frame – / –"
    strip = clip_strip(frames=6)
    clip = frames_of(strip, 6)
    player.set_clip(strip, 6)
    assert player.frame_index == 0 and player.label.text() == "frame 1 / 6" and not player.playing
    assert np.array_equal(pixels(player.view.image()), clip[0])

    player.fps.setValue(60)
    qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
    assert player.playing and player.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: player.frame_index >= 3, timeout=5000)  # the timer moves it on
    qtbot.waitUntil(lambda: player.frame_index == 0, timeout=5000)  # looped back to the start
    qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
    assert not player.playing and player.play_button.text() == "Play"

    player.loop.setChecked(False)
    player.play()
    qtbot.waitUntil(lambda: not player.playing, timeout=5000)  # once through, then it stops
    assert player.frame_index == 5 and not player.play_button.isChecked()

    # Drag the scrubber's handle to the start with the mouse: that frame shows; a click left of it steps back.
    slider = player.slider
    start = handle_center(slider)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(slider, QPoint(start.x() - slider.width() // 3, start.y()))
    qtbot.mouseMove(slider, QPoint(2, start.y()))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(2, start.y()))
    assert player.frame_index == 0 and player.label.text() == "frame 1 / 6"
    assert np.array_equal(pixels(player.view.image()), clip[0])
    slider.setValue(4)
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(4, handle_center(slider).y()))
    assert player.frame_index == 3 and np.array_equal(pixels(player.view.image()), clip[3])
    player.clear()
    assert player.clip() is None and not player.playing and not player.gif_button.isEnabled()


def test_gallery_clips_play_in_their_thumbnails_on_one_timer_and_export(qtbot, tmp_path, monkeypatch):
    store = GalleryStore(tmp_path / "gallery")
    video = GenerationRequest(family="video", checkpoint="tiny-video", prompt="a bouncing ball", seed=5,
                              width=T * SIDE, height=SIDE)
    assert clip_frames(video) == T
    store.add(np.full((12, 12, 1), 90, np.uint8), GenerationRequest(checkpoint="tiny-diffusion", width=12, height=12))
    for k in range(2):
        store.add(clip_strip(), video.with_(seed=5 + k), k)
    panel = GalleryPanel(store)
    qtbot.addWidget(panel)
    panel.resize(420, 300)
    panel.show()
    qtbot.waitExposed(panel)
    messages: list[tuple[str, bool]] = []
    panel.message.connect(lambda text, error: messages.append((text, error)))

    rows = [panel.list.item(i) for i in range(3)]
    clips = [w for w in rows if w.data(CLIP_ROLE)]
    assert len(clips) == 2 and all(len(w.data(CLIP_ROLE)) == T for w in clips), "one icon per frame"
    timers = [t for t in panel.findChildren(QTimer, options=Qt.FindChildOption.FindDirectChildrenOnly)
              if t.isActive()]
    assert len(timers) == 1, "one shared timer plays every clip thumbnail"

    def colour(w) -> tuple[int, ...]:
        im = w.icon().pixmap(84, 84).toImage()
        return tuple(pixels(im)[im.height() // 2, im.width() // 2])
    shown = {colour(clips[0])}
    qtbot.waitUntil(lambda: shown.add(colour(clips[0])) or len(shown) >= 3, timeout=5000)
    assert shown <= {tuple(clip_strip()[0, k * SIDE]) for k in range(T)}, "each one of the clip's frames"
    panel.hide()
    assert not timers[0].isActive(), "a hidden gallery plays nothing"
    panel.show()

    # The context menu of a clip offers its exports; of a still image, not. (QTest's clicks do not make
    # the context menu event a window system sends after a right click: it is sent here as it would be.)
    def right_click(w) -> list[str]:
        at = panel.list.visualItemRect(w).center()
        view = panel.list.viewport()
        QApplication.sendEvent(view, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, view.mapToGlobal(at)))
        qtbot.waitUntil(lambda: panel.context_menu is not None and panel.context_menu.isVisible(), timeout=5000)
        return [a.text() for a in panel.context_menu.actions()]
    assert right_click(next(w for w in rows if not w.data(CLIP_ROLE))) == ["Open", "Use settings"]
    panel.context_menu.close()
    assert right_click(clips[0])[-2:] == ["Export GIF…", "Export MP4…"]
    item = clips[0].data(Qt.ItemDataRole.UserRole)
    for kind in ("GIF", "MP4"):
        path = tmp_path / f"item.{kind.lower()}"
        save_to(monkeypatch, path)
        next(a for a in panel.context_menu.actions() if a.text() == f"Export {kind}…").trigger()
        clip = read_video(path)
        assert clip.frames.shape == (T, SIDE, SIDE, 3) and clip.request == item.request, kind
        assert messages[-1] == (f"Exported gallery item {item.id} to {path}.", False)
    panel.context_menu.close()
    panel.open_item(item)  # opened large, a clip plays under its filmstrip
    player = panel._dialogs[-1].player
    assert player is not None and player.playing and np.array_equal(player.clip(), frames_of(clip_strip(), T))
    panel._dialogs[-1].close()
    store.close()


def test_a_still_image_model_hides_the_player(qtbot, studio_window, tiny_ckpt, tiny_video):
    window = studio_window("diffusion", "tiny-diffusion")
    assert not window.preview.player.isVisible() and not window.preview.makes_clips
    assert window.model_panel.select("video", "tiny-video")
    assert window.preview.player.isVisible()
    assert window.model_panel.select("diffusion", "tiny-diffusion")
    assert not window.preview.player.isVisible()
    window.controls.steps.setValue(2)
    run(qtbot, window, window.generate)
    assert window.preview.player.clip() is None, "a still image never reaches the player"


def test_a_video_column_in_compare_shows_its_clip_as_a_grid_of_frames(qtbot, tiny_video, tmp_path):
    from studio.ui.compare_panel import ComparePanel

    p = ComparePanel(columns=["tiny-video"])
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    try:
        qtbot.mouseClick(p.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not p.running, timeout=LONG)
        column = p.columns[0]
        assert column.track.final and column.clip_frames == T, column.status.text()
        frames = frames_of(column.track.images[-1], T)
        shown = pixels(column.canvas.image())
        assert shown.shape == (2 * SIDE + 3, 2 * SIDE + 3, 3), "4 frames in 2 rows, not a strip 4 times as wide"
        assert np.array_equal(shown[1:1 + SIDE, 1:1 + SIDE], frames[0])
        assert np.array_equal(shown[2 + SIDE:2 + 2 * SIDE, 2 + SIDE:2 + 2 * SIDE], frames[3])
        p.timeline.set_t(0.3)  # scrubbing back shows an earlier step's clip, the same way
        assert column.shown_index < len(column.track) - 1 and column.canvas.image().width() == 2 * SIDE + 3
        assert p.export_gif(str(tmp_path / "row.gif")).is_file()
    finally:
        p.shutdown()
