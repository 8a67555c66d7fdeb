"""The Compare view's columns and shared timeline: one column per model (its header, the image it shows at
the timeline's t, its status), the scrubber with Play and Export GIF, and the nearest training images
of the image under the pointer."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import CATALOG
from ..core.clips import frames_of
from ..core.compare.timeline import Track
from ..core.events import Frame
from ..core.images import grid
from ..store.registry import CheckpointInfo
from .canvas import ImageCanvas

PAINT_MS = 33
from .qimage import to_qimage

TICKS = 1000  # slider positions over 0..1
PLAY_MS = 3000  # Play runs the whole timeline in this long
TICK_MS = 33  # ~30 repaints a second while playing
IGNORES_PROMPT = "ignores the prompt"
READS_PROMPT = "reads the prompt"


class CompareColumn(QFrame):
    """One model: header (checkpoint id, family, whether it reads the prompt), its image at time t, status."""

    moveRequested = Signal(object, int)  # this column, -1 (left) or +1 (right)
    removeRequested = Signal(object)
    looked = Signal(object)  # the pointer is on this column's image (hover or click)

    def __init__(self, info: CheckpointInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.info = info
        family = CATALOG.get(info.family)
        self.family_label = family.label if family is not None else info.family
        # A family without a prompt box ignores prompts whatever its checkpoint; the others are known once
        # the model is loaded (its card is read then).
        self.conditional: bool | None = None if family is None or "prompt" in family.controls else False
        self.track = Track()
        self.job: str | None = None  # the running (or waiting) job of this column
        self.shown_index: int | None = None
        self.clip_frames = 1  # a clip's frames in each image (a filmstrip), shown wrapped in rows
        # No word wrap in a column: a wrapping label gives the row a height-for-width, and the scroll area
        # would then size the row to its preferred height instead of the space there is.
        self.header = QLabel()
        self.left, self.right, self.remove = QToolButton(text="◀"), QToolButton(text="▶"), QToolButton(text="✕")
        self.left.setToolTip("Move this column left")
        self.right.setToolTip("Move this column right")
        self.remove.setToolTip("Remove this column")
        self.canvas = ImageCanvas("Not run yet")
        self.canvas.setMinimumSize(112, 112)
        self.canvas.setToolTip("Point at the image to see its nearest training images")
        self.status = QLabel("")
        # Frames come faster than a screen shows them: the latest is painted at most 30 times a second
        # (every repaint is CPU taken from the sampling thread on a small machine), the final one at once.
        self._pending: tuple[float, str] | None = None
        self._paint_timer = QTimer(self, singleShot=True, interval=PAINT_MS)
        self._paint_timer.timeout.connect(self._paint_pending)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long errors: tooltip
        tools = QHBoxLayout()
        tools.addWidget(self.left)
        tools.addWidget(self.right)
        tools.addStretch(1)
        tools.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.header)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)
        self.left.clicked.connect(lambda: self.moveRequested.emit(self, -1))
        self.right.clicked.connect(lambda: self.moveRequested.emit(self, 1))
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        self.canvas.installEventFilter(self)
        self._update_header()

    @property
    def checkpoint(self) -> str:
        return self.info.id

    def labels(self) -> tuple[str, str, str]:
        """What an exported row writes above this column's image."""
        return self.info.id, self.family_label, IGNORES_PROMPT if self.conditional is False else ""

    def header_text(self) -> str:
        return self.header.text()

    def set_model(self, label: str, conditional: bool) -> None:
        """What the loaded model says of itself."""
        self.family_label, self.conditional = label, conditional
        self._update_header()

    def _update_header(self) -> None:
        prompt = {False: f"<i>{IGNORES_PROMPT}</i>", True: READS_PROMPT, None: "&nbsp;"}[self.conditional]
        self.header.setText(f"<b>{self.info.id}</b><br>{self.family_label}<br>{prompt}")  # three lines in every column
        self.header.setToolTip(self.info.title)

    def set_edges(self, first: bool, last: bool) -> None:
        self.left.setEnabled(not first)
        self.right.setEnabled(not last)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
        self.status.setStyleSheet("color: #c55" if error else "")

    def reset(self, placeholder: str) -> None:
        """A new run: its frames replace the last run's."""
        self.track = Track()
        self.shown_index = None
        self.canvas.clear(placeholder)

    def add_frame(self, frame: Frame, t: float, status: str = "") -> None:
        """Keep the frame for the timeline; show the latest (at ``t``) at the screen's pace."""
        self.track.add(frame)
        self.clip_frames = frame.frames
        self._pending = (t, status or self.status.text())
        if frame.final:
            self._paint_timer.stop()
            self._paint_pending()
        elif not self._paint_timer.isActive():
            self._paint_timer.start()

    def _paint_pending(self) -> None:
        if self._pending is not None:
            (t, status), self._pending = self._pending, None
            self.show_at(t)
            self.set_status(status)

    def show_at(self, t: float) -> None:
        """The latest frame at or before ``t``."""
        i = self.track.index_at(t)
        if i is not None and i == self.shown_index:
            return
        self.shown_index = i
        if i is None:
            self.canvas.clear(f"first frame at t = {self.track.times[0]:.2f}" if len(self.track) else None)
        else:
            self.canvas.set_image(to_qimage(self.shown_image(self.track.images[i])))

    def shown_image(self, image: np.ndarray) -> np.ndarray:
        """What the canvas shows of a track image: a clip's filmstrip (T frames side by side, far too
        thin for a column) wrapped into a near-square grid of its frames, in order; a still image as is."""
        return grid(frames_of(image, self.clip_frames), pad=1) if self.clip_frames > 1 else image

    def shown_raw(self) -> np.ndarray | None:
        """The shown image in the model's own format (for the neighbour search)."""
        return None if self.shown_index is None else self.track.raw[self.shown_index]

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.canvas and event.type() in (QEvent.Type.Enter, QEvent.Type.MouseButtonPress):
            self.looked.emit(self)
        return super().eventFilter(obj, event)


class TimelineBar(QWidget):
    """The shared time t in 0..1: a scrubber, Play (t from 0 to 1 in ``play_ms``) and Export GIF."""

    timeChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, TICKS)
        self.slider.setValue(TICKS)
        self.slider.setToolTip("Normalised time: each column shows its latest frame at or before step / total = t")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.label = QLabel()
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setToolTip("The whole row over the timeline as an animated GIF")
        self.gif_button.setEnabled(False)
        self.play_ms = PLAY_MS
        self._timer = QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._tick)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.gif_button)
        self.slider.valueChanged.connect(self._moved)
        self.play_button.toggled.connect(self._play)
        self._moved(self.slider.value())

    @property
    def t(self) -> float:
        return self.slider.value() / TICKS

    def set_t(self, t: float) -> None:
        self.slider.setValue(round(min(max(t, 0.0), 1.0) * TICKS))

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _moved(self, value: int) -> None:
        self.label.setText(f"t = {value / TICKS:.2f}")
        self.timeChanged.emit(value / TICKS)

    def _play(self, on: bool) -> None:
        if not on:
            self._timer.stop()
            return
        if self.slider.value() >= TICKS:
            self.slider.setValue(0)
        self._timer.start()

    def _tick(self) -> None:
        value = min(TICKS, self.slider.value() + max(1, round(TICKS * TICK_MS / self.play_ms)))
        self.slider.setValue(value)
        if value >= TICKS:
            self.play_button.setChecked(False)


class NeighboursView(QWidget):
    """The training images nearest the image under the pointer, with their distances."""

    def __init__(self, k: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Point at a column's image to see its nearest training images.")
        self.title.setWordWrap(True)
        self.canvases = [ImageCanvas() for _ in range(k)]
        self.distances = [QLabel() for _ in range(k)]
        self.images = QWidget()  # shown only with neighbours: the columns above get the room meanwhile
        self.images.hide()
        images = QHBoxLayout(self.images)
        images.setContentsMargins(0, 0, 0, 0)
        for canvas, label in zip(self.canvases, self.distances):
            canvas.setFixedSize(72, 72)
            box = QVBoxLayout()
            box.addWidget(canvas)
            box.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
            images.addLayout(box)
        images.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.images)

    def say(self, text: str, error: bool = False) -> None:
        """A message instead of neighbours (searching, nothing shown, the data set is missing)."""
        self.title.setText(text)
        self.title.setStyleSheet("color: #c55" if error else "")
        self.images.hide()
        for canvas, label in zip(self.canvases, self.distances):
            canvas.clear()
            label.setText("")

    def show_neighbours(self, about: str, images: np.ndarray, distances: np.ndarray, what: str) -> None:
        self.title.setText(f"Nearest training images to {about} (pixel RMS distance), among {what}")
        self.title.setStyleSheet("")
        self.images.show()
        for k, (canvas, label) in enumerate(zip(self.canvases, self.distances)):
            if k < len(images):
                canvas.set_image(to_qimage(images[k]))
                label.setText(f"{distances[k]:.3f}")
            else:
                canvas.clear()
                label.setText("")
