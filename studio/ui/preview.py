"""The Preview panel: the live canvas, progress, speed, and GIF export of the last run. While a model
loads, the canvas says what is loading and the progress bar is busy; a rate is shown only for runs of
more than one step (a one-step decode has none worth reading). For a family that makes clips, the canvas
shows every step's clips, each filmstrip wrapped into the rows that show its frames largest, and a
player under it shows one clip (the first, or the one clicked in a batch): the frame its scrubber is
on while sampling, playing once the run is done."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.clips import contact_sheet, sheet_rows
from ..core.events import Frame
from ..core.images import grid_cell, save_gif
from ..core.request import GenerationRequest
from .canvas import ImageCanvas
from .clip_player import ClipPlayer
from .debug_bar import DebugBar
from .preview_mode import PreviewModeBox
from .qimage import batch_qimage

IDLE_TEXT = "Type a prompt and press Generate (Ctrl+Enter)"
SHEET_GAP = 1  # pixels between a clip's frames on the canvas, so each frame reads as one
REPAINT_MS = 16  # at most ~60 canvas repaints a second, whatever the step rate
BAR_MS = 100  # QProgressBar repaints synchronously on every change: ten times a second is smooth enough


class PreviewPanel(QWidget):
    noisyToggled = Signal(bool)
    pixelClicked = Signal(int, int, int)  # image index in the batch, row, column
    imageDropped = Signal(str)  # an image file (or gallery item) dropped here: the image-to-image input

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = ImageCanvas(IDLE_TEXT)
        self.noisy_canvas = ImageCanvas("x_t")
        self.noisy_canvas.hide()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.step_label = QLabel("idle")
        self.speed_label = QLabel("")
        self.show_noisy = QCheckBox("Show x_t")
        self.show_noisy.setToolTip("Also show the noisy sample x_t beside the predicted clean image")
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setEnabled(False)
        self.gif_button.setToolTip("Every step of the last run as an animated GIF (how the image came about)")
        self.mode_box = PreviewModeBox()  # for models that make their step previews more than one way
        self.frames: list[np.ndarray] = []
        self.frames_painted = 0
        self._shown_shape: tuple[int, int, int] = (0, 0, 0)  # batch, height, width on the canvas
        self._pending: tuple[Frame, float] | None = None
        self._bar_time = 0.0
        self._idle_text: str | None = None  # the placeholder a loading or starting run said something over
        self._timer = QTimer(self, singleShot=True, interval=REPAINT_MS)
        self._timer.timeout.connect(self._paint_pending)
        self.player = ClipPlayer()  # shown for families that make clips
        self.player.hide()
        self.makes_clips = False
        self.clip_index = 0  # the clip of a batch the player shows
        self._strips: tuple[np.ndarray, int] | None = None  # the latest filmstrips (B, H, T*W, C), T
        self._request: GenerationRequest | None = None  # what made the finished clips shown

        canvases = QHBoxLayout()
        canvases.addWidget(self.canvas, 1)
        canvases.addWidget(self.noisy_canvas, 1)
        info = QHBoxLayout()
        info.addWidget(self.step_label)
        info.addStretch(1)
        info.addWidget(self.speed_label)
        tools = QHBoxLayout()
        tools.addWidget(self.show_noisy)
        tools.addWidget(self.mode_box)
        tools.addStretch(1)
        tools.addWidget(self.gif_button)
        layout = QVBoxLayout(self)
        layout.addLayout(canvases, 1)
        layout.addWidget(self.player, 1)
        layout.addWidget(self.progress)
        layout.addLayout(info)
        layout.addLayout(tools)
        self.debug = DebugBar()  # the step debugger: pause, step, rewind the run shown, edits mid-run
        layout.addWidget(self.debug)

        self.show_noisy.toggled.connect(self.noisy_canvas.setVisible)
        self.show_noisy.toggled.connect(self.noisyToggled)
        self.gif_button.clicked.connect(self.ask_export_gif)
        self.canvas.clicked.connect(self._clicked)
        self.setAcceptDrops(True)
        self.setToolTip("Drop an image here to start from it (image-to-image)")

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.imageDropped.emit(files[0])

    def set_clickable(self, hint: str) -> None:
        """Offer clicks on the shown image (``hint`` says what they do; empty: none)."""
        self.canvas.setCursor(Qt.CursorShape.CrossCursor if hint else Qt.CursorShape.ArrowCursor)
        self.canvas.setToolTip(hint)

    def _clicked(self, x: int, y: int) -> None:
        cell = grid_cell(*self._shown_shape, x, y)
        if cell is not None and self.makes_clips and self._strips is not None and cell[0] != self.clip_index:
            self.clip_index = cell[0]  # a clip of the batch clicked: the player shows that one
            self._show_clip(play=self.player.playing)
        if cell is not None and self.canvas.toolTip():
            self.pixelClicked.emit(*cell)

    # --- clips ------------------------------------------------------------------------------------
    def set_makes_clips(self, on: bool) -> None:
        """The family shown makes clips (filmstrips): the player shows under the canvas; else hidden."""
        self.makes_clips = on
        self.player.setVisible(on)

    def clear_clips(self) -> None:
        """No clip: the player is empty until the next run's first step."""
        self._strips, self._request, self.clip_index = None, None, 0
        self.player.clear()

    def _show_clip(self, play: bool = False) -> None:
        """The chosen clip of the latest filmstrips in the player (the run's request once it is done)."""
        if self._strips is None:
            return
        strips, frames = self._strips
        self.clip_index = min(self.clip_index, len(strips) - 1)
        self.player.set_clip(strips[self.clip_index], frames, self._request, batch_index=self.clip_index, play=play)

    def _sheet(self, strips: np.ndarray, frames: int) -> np.ndarray:
        """Clips' filmstrips wrapped into the rows that show their frames largest on the canvas."""
        if frames <= 1:
            return strips
        n, h, width, _ = strips.shape
        size = self.canvas.size()
        rows = sheet_rows(n, frames, h, width // frames, size.width(), size.height(), gap=SHEET_GAP)
        return contact_sheet(strips, frames, rows, gap=SHEET_GAP)

    def _set(self, images: np.ndarray) -> None:
        self._shown_shape = images.shape[:3]
        self.canvas.set_image(batch_qimage(images))

    def _say(self, text: str) -> None:
        """What the canvas says, while it has no image, about a model loading or a run starting."""
        if self._idle_text is None:
            self._idle_text = self.canvas.placeholder
        self.canvas.placeholder = text
        self.canvas.update()

    def _unsay(self) -> None:
        """Back to the placeholder that was there before (the window's own, for its family)."""
        if self._idle_text is not None:
            self.canvas.placeholder, self._idle_text = self._idle_text, None
            self.canvas.update()

    def loading(self, what: str, for_run: bool = True) -> None:
        """A model (or its text encoder) is loading: say which on the canvas, with a busy bar. ``for_run``:
        a run waits for it, so the previous run's image (another model's, other settings) is taken
        down; a warm-up in the background leaves what is shown (a latent decode) in place."""
        self._timer.stop()
        self._pending = None
        if for_run:
            self._shown_shape = (0, 0, 0)
            self.canvas.set_image(None)
            self.noisy_canvas.set_image(None)
            self.clear_clips()
        self._say(what)
        self.progress.setRange(0, 0)  # no count is known: Qt draws a busy bar
        self.step_label.setText(what if self.canvas.image() is not None else "loading…")
        self.speed_label.setText("")

    def loaded(self, waiting: bool = False) -> None:
        """Loading is over without a run starting yet (``waiting``: one is about to)."""
        if waiting:
            self._say("Starting…")
        else:
            self._unsay()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.step_label.setText("starting…" if waiting else "idle")

    def start(self, total: int, unit: str = "step", status: str = "") -> None:
        """A new job; ``total`` of ``unit`` if the family counts them up front (0: learnt from its first
        frame). ``status``: what the speed label says until the first frame."""
        self._say("Generating…")
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.step_label.setText(f"{unit} 0/{total}" if total else "starting…")
        self.speed_label.setText(status)
        self.gif_button.setEnabled(False)
        self.frames_painted = 0
        self._request = None  # the clips shown from now on are unfinished: an export carries no settings
        self.player.pause()

    def show_frame(self, frame: Frame, rate: float) -> None:
        """Called for every step; repaints are coalesced to the screen's pace."""
        self._pending = (frame, rate)
        if frame.final:
            self._timer.stop()
            self._paint_pending()
        elif not self._timer.isActive():
            self._timer.start()

    def _paint_pending(self) -> None:
        if self._pending is None:
            return
        frame, rate = self._pending
        self._pending = None
        shown = frame.shown()
        self._set(self._sheet(shown, frame.frames))
        if self.makes_clips:
            self._strips = (shown, frame.frames)
            self._show_clip()
        self._unsay()  # an image is shown: what the canvas says while empty is its usual text again
        if frame.noisy is not None:
            self.noisy_canvas.set_image(batch_qimage(self._sheet(frame.noisy, frame.frames)))
        self.frames_painted += 1
        now = time.perf_counter()
        if frame.final or now - self._bar_time >= BAR_MS / 1000:
            self._bar_time = now
            self.progress.setRange(0, frame.total)
            self.progress.setValue(frame.step)
        self.step_label.setText(f"{frame.unit} {frame.step}/{frame.total}")
        self.speed_label.setText(speed_text(frame, rate))

    def finish(self, frames: list[np.ndarray], request: GenerationRequest | None = None) -> None:
        """The run is done (``frames``: its steps, for the GIF); a clip plays, carrying ``request``."""
        self.frames = frames
        self.gif_button.setEnabled(bool(frames))
        if self.makes_clips and request is not None:
            self._request = request
            self._show_clip(play=True)

    def stopped(self, message: str) -> None:
        self._timer.stop()
        self._pending = None
        self._unsay()
        if self.progress.maximum() == 0:  # stopped while loading: the busy bar stops too
            self.progress.setRange(0, 1)
        self.step_label.setText(message)
        self.speed_label.setText("")
        self.player.pause()

    def show_images(self, images: np.ndarray) -> None:
        self._set(images)

    def export_gif(self, path: str) -> str:
        return str(save_gif(self.frames, path))

    def ask_export_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the run as an animated GIF", "run.gif", "GIF (*.gif)")
        if path:
            self.export_gif(path)


def speed_text(frame: Frame, rate: float) -> str:
    """"12.3 steps/s · ETA 4.0 s" for a run of several steps once its rate is known; "" otherwise."""
    if frame.total <= 1 or rate <= 0:
        return ""
    per = f"{rate:.1f} {frame.unit}s/s"
    return per if frame.final else f"{per} · ETA {(frame.total - frame.step) / rate:.1f} s"
