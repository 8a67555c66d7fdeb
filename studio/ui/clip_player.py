"""A player for one clip cut from a filmstrip (studio.core.clips): play/pause, loop, a scrubber over the
frames, the speed in frames a second, and export of the clip as a GIF or MP4 that carries its settings
(studio.store.video_files), so the file restores them when dropped on the window."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import CATALOG
from ..core.clips import frames_of
from ..core.errors import StudioError
from ..core.request import GenerationRequest
from .canvas import ImageCanvas
from .qimage import to_qimage

DEFAULT_FPS = 8
EXPORTS = {"gif": ("GIF", "GIF (*.gif)"), "mp4": ("MP4", "MP4 video (*.mp4)")}


def makes_clips(request: GenerationRequest | None) -> bool:
    info = CATALOG.get(request.family) if request is not None else None
    return info is not None and info.can("video")


def clip_frames(request: GenerationRequest) -> int:
    """How many frames a clip request's filmstrip holds: its frames are square, side by side (the
    resolved request's width is the strip's); 1 for a still image."""
    w, h = request.width, request.height
    return w // h if makes_clips(request) and h > 0 and w % h == 0 and w >= h else 1


def export_clip(path: str | Path, clip: np.ndarray, fps: float, request: GenerationRequest | None = None,
                batch_index: int = 0) -> Path:
    """Write ``clip`` (T, H, W, C) as a GIF or MP4 (by the suffix), carrying ``request``."""
    from ..store import video_files  # not at start-up: the window comes up without the video writers

    clip = np.asarray(clip)
    if clip.shape[-1] == 1:  # grey clips are written as RGB, as the players expect
        clip = np.repeat(clip, 3, axis=-1)
    return video_files.write_video(Path(path), clip, fps=fps, request=request, batch_index=batch_index)


def ask_clip_path(parent: QWidget, title: str, name: str, kind: str) -> str | None:
    """Where to export a clip as ``kind`` ("gif" or "mp4"), the suffix added if left out; None: cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, f"{name}.{kind}", EXPORTS[kind][1])
    if path and Path(path).suffix.lower() != f".{kind}":
        path += f".{kind}"
    return path or None


class FrameView(ImageCanvas):
    """The frame shown, as large as fits (sharp pixels), asking for little room: the filmstrip above it
    in the Preview has the first claim on a short screen."""

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, 160)


class ClipPlayer(QWidget):
    """Plays one clip in a loop (or once) on a QTimer at ``fps``; the scrubber shows any frame."""

    frameChanged = Signal(int)
    message = Signal(str, bool)  # text, whether it is an error: what an export did (for the status bar)

    def __init__(self, parent: QWidget | None = None, *, exports: bool = True) -> None:
        super().__init__(parent)
        self.view = FrameView("No clip yet")
        self.view.setMinimumSize(96, 96)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the clip (again: pause)")
        self.loop = QCheckBox("Loop", checked=True)
        self.loop.setToolTip("Start again from the first frame after the last")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The clip's frames: drag to show one")
        self.slider.setPageStep(1)
        self.fps = QSpinBox(minimum=1, maximum=60, value=DEFAULT_FPS, suffix=" fps")
        self.fps.setToolTip("Frames a second, when playing and in an exported file")
        self.label = QLabel()
        self.gif_button = QPushButton("GIF…")
        self.gif_button.setToolTip("Export this clip as an animated GIF that carries its settings")
        self.mp4_button = QPushButton("MP4…")
        self.mp4_button.setToolTip("Export this clip as an MP4 video that carries its settings")
        self.request: GenerationRequest | None = None  # what made the clip: the exported file carries it
        self.batch_index = 0
        self._clip: np.ndarray | None = None  # (T, H, W, C) uint8
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

        scrub = QHBoxLayout()  # the scrubber on a row of its own: wide enough to drag through the frames
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.label)
        tools = QHBoxLayout()
        for w in (self.play_button, self.loop, self.fps):
            tools.addWidget(w)
        tools.addStretch(1)
        if exports:
            tools.addWidget(self.gif_button)
            tools.addWidget(self.mp4_button)
        else:
            self.gif_button.hide()
            self.mp4_button.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(scrub)
        layout.addLayout(tools)

        self.play_button.toggled.connect(self._play)
        self.slider.valueChanged.connect(self._show)
        self.fps.valueChanged.connect(self._set_interval)
        self.gif_button.clicked.connect(lambda: self.ask_export("gif"))
        self.mp4_button.clicked.connect(lambda: self.ask_export("mp4"))
        self._set_interval(self.fps.value())
        self.clear()

    # --- what it shows ---------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return 0 if self._clip is None else len(self._clip)

    @property
    def frame_index(self) -> int:
        return self.slider.value()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def clip(self) -> np.ndarray | None:
        """The clip shown, (T, H, W, C) uint8."""
        return self._clip

    def set_clip(self, strip: np.ndarray, frames: int, request: GenerationRequest | None = None, *,
                 batch_index: int = 0, play: bool = False) -> None:
        """Show the clip of filmstrip ``strip`` (H, T*W, C) of ``frames`` frames; the scrubber stays on
        its frame (a new step of the same run), and ``play`` starts it."""
        self._clip = frames_of(strip, frames)
        self.request, self.batch_index = request, batch_index
        at = min(self.slider.value(), frames - 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, frames - 1)
        self.slider.setValue(at)
        self.slider.blockSignals(False)
        for w in (self.play_button, self.slider, self.gif_button, self.mp4_button):
            w.setEnabled(True)
        self._show(at)
        if play:
            self.play()

    def clear(self, placeholder: str | None = None) -> None:
        self.pause()
        self._clip, self.request = None, None
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.view.clear(placeholder)
        self.label.setText("frame – / –")
        for w in (self.play_button, self.slider, self.gif_button, self.mp4_button):
            w.setEnabled(False)

    def _show(self, index: int) -> None:
        if self._clip is None:
            return
        self.view.set_image(to_qimage(self._clip[index]))
        self.label.setText(f"frame {index + 1} / {len(self._clip)}")
        self.frameChanged.emit(index)

    # --- playing ---------------------------------------------------------------------------------
    def play(self) -> None:
        if self._clip is not None:
            self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def _play(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if not on or self._clip is None:
            self._timer.stop()
            return
        if self.slider.value() >= self.slider.maximum() and not self.loop.isChecked():
            self.slider.setValue(0)  # played to the end once: Play starts it again
        self._timer.start()

    def _set_interval(self, fps: int) -> None:
        self._timer.setInterval(round(1000 / fps))

    def _tick(self) -> None:
        last = self.slider.maximum()
        if self.slider.value() < last:
            self.slider.setValue(self.slider.value() + 1)
        elif self.loop.isChecked():
            self.slider.setValue(0)
        else:
            self.pause()

    # --- export ----------------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """The clip as a GIF or MP4 (by the suffix) at the speed set, carrying its settings."""
        if self._clip is None:
            raise StudioError("There is no clip to export yet: generate one first.")
        return export_clip(path, self._clip, float(self.fps.value()), self.request, self.batch_index)

    def ask_export(self, kind: str) -> Path | None:
        """Ask where, then export; what happened is said through ``message``, never raised."""
        path = ask_clip_path(self, f"Export the clip as {EXPORTS[kind][0]}", "clip", kind)
        if path is None:
            return None
        try:
            written = self.export(path)
        except (StudioError, OSError, ValueError) as e:
            self.message.emit(f"The clip was not exported: {e}", True)
            return None
        self.message.emit(f"Exported the clip ({self.frame_count} frames at {self.fps.value()} fps) to {written}.",
                          False)
        return written
