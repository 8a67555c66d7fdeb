"""The Interpolate panel: a strip of decoded frames between two latents (the current vector, the
prior vector of a seed, or a dropped image's encoding), linear or spherical, played in the preview
and exported as an animated GIF."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.images import grid, save_gif
from ..core.latent_space.basis import interpolate
from .canvas import ImageCanvas
from .latent_panel import DropCanvas
from .qimage import to_qimage


class InterpolatePanel(QWidget):
    priorWanted = Signal(str, int)  # endpoint "A"/"B", seed
    encodeWanted = Signal(str, str)  # endpoint, image path
    stripWanted = Signal(object)  # (F, D) latents to decode
    playFrame = Signal(object)  # (1, H, W, C) frame for the preview
    message = Signal(str, bool)

    def __init__(self, current_latent, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current = current_latent  # () -> the latent panel's vector, or None
        self.ends: dict[str, np.ndarray | None] = {"A": None, "B": None}
        self.frames_images: np.ndarray | None = None
        self._play_index = 0
        self.end_canvas: dict[str, DropCanvas] = {}
        self.end_label: dict[str, QLabel] = {}
        self.seed: dict[str, QSpinBox] = {}
        ends = QGridLayout()
        for col, name in enumerate(("A", "B")):
            canvas = DropCanvas(f"{name}: drop an image")
            canvas.setMinimumSize(72, 72)
            label = QLabel(f"{name}: not set")
            use = QPushButton("Current")
            use.setToolTip(f"Set {name} to the latent panel's vector")
            seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=col)
            seed_button = QPushButton("Seed")
            seed_button.setToolTip(f"Set {name} to the prior vector of this seed")
            row = QHBoxLayout()
            row.addWidget(use)
            row.addWidget(seed, 1)
            row.addWidget(seed_button)
            ends.addWidget(canvas, 0, col)
            ends.addWidget(label, 1, col)
            ends.addLayout(row, 2, col)
            use.clicked.connect(lambda _c=False, n=name: self._use_current(n))
            seed_button.clicked.connect(lambda _c=False, n=name: self.priorWanted.emit(n, self.seed[n].value()))
            canvas.fileDropped.connect(lambda path, n=name: self.encodeWanted.emit(n, path))
            self.end_canvas[name], self.end_label[name], self.seed[name] = canvas, label, seed
        self.frames = QSpinBox(minimum=2, maximum=64, value=10)
        self.mode = QComboBox()
        self.mode.addItem("spherical (slerp)", "slerp")
        self.mode.addItem("linear (lerp)", "lerp")
        self.mode.setToolTip("Spherical keeps the vectors' length typical of the prior all the way; a "
                             "straight line passes closer to the origin")
        self.strip = ImageCanvas("the strip appears when A and B are set")
        self.strip.setMinimumSize(160, 60)
        self.play_button = QPushButton("Play in preview")
        self.play_button.setCheckable(True)
        self.gif_button = QPushButton("Export GIF…")
        opts = QHBoxLayout()
        opts.addWidget(QLabel("frames"))
        opts.addWidget(self.frames)
        opts.addWidget(self.mode, 1)
        tools = QHBoxLayout()
        tools.addWidget(self.play_button)
        tools.addWidget(self.gif_button)
        layout = QVBoxLayout(self)
        layout.addLayout(ends)
        layout.addLayout(opts)
        layout.addWidget(self.strip, 1)
        layout.addLayout(tools)
        self._timer = QTimer(self, interval=120)
        self._timer.timeout.connect(self._next_frame)
        self.frames.valueChanged.connect(lambda _v: self.request_strip())
        self.mode.currentIndexChanged.connect(lambda _i: self.request_strip())
        self.play_button.toggled.connect(self._toggle_play)
        self.gif_button.clicked.connect(self.ask_export_gif)
        self._set_buttons()

    def reset(self) -> None:
        """A new model: latents of the old one mean nothing now."""
        self.play_button.setChecked(False)
        self.ends = {"A": None, "B": None}
        self.frames_images = None
        for name in self.ends:
            self.end_canvas[name].set_image(None)
            self.end_label[name].setText(f"{name}: not set")
        self.strip.set_image(None)
        self._set_buttons()

    def _set_buttons(self) -> None:
        ready = self.frames_images is not None
        self.play_button.setEnabled(ready)
        self.gif_button.setEnabled(ready)

    def _use_current(self, name: str) -> None:
        z = self._current()
        if z is None:
            self.message.emit("Load a VAE first: there is no current vector.", True)
            return
        self.set_end(name, z, "current vector")

    def set_end(self, name: str, z: np.ndarray, source: str, image: np.ndarray | None = None) -> None:
        self.ends[name] = np.asarray(z, np.float32)
        self.end_label[name].setText(f"{name}: {source}")
        if image is not None:
            self.end_canvas[name].set_image(to_qimage(image))
        self.request_strip()

    def latents(self) -> np.ndarray | None:
        a, b = self.ends["A"], self.ends["B"]
        if a is None or b is None or a.shape != b.shape:
            return None
        return interpolate(a, b, self.frames.value(), self.mode.currentData())

    def request_strip(self) -> None:
        zs = self.latents()
        if zs is not None:
            self.stripWanted.emit(zs)

    def show_strip(self, zs: np.ndarray, images: np.ndarray) -> None:
        current = self.latents()
        if current is None or current.shape != zs.shape or not np.allclose(current, zs):
            return  # an out-of-date strip
        self.frames_images = images
        self.strip.set_image(to_qimage(grid(images, cols=len(images))))
        for name, img in (("A", images[0]), ("B", images[-1])):
            self.end_canvas[name].set_image(to_qimage(img))
        self._set_buttons()

    def _toggle_play(self, on: bool) -> None:
        if on and self.frames_images is not None:
            self._play_index = 0
            self._timer.start()
        else:
            self._timer.stop()

    def _next_frame(self) -> None:
        imgs = self.frames_images
        if imgs is None:
            self._timer.stop()
            return
        n = len(imgs)
        cycle = list(range(n)) + list(range(n - 2, 0, -1))  # there and back
        self.playFrame.emit(imgs[cycle[self._play_index % len(cycle)]][None])
        self._play_index += 1

    def export_gif(self, path: str) -> str:
        if self.frames_images is None:
            raise ValueError("there is no strip to export")
        imgs = list(self.frames_images)
        there_and_back = imgs + imgs[-2:0:-1]
        return str(save_gif([im[None] for im in there_and_back], path, seconds=0.12 * len(there_and_back),
                            hold_last=0.12))

    def ask_export_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the interpolation as an animated GIF",
                                              "interpolation.gif", "GIF (*.gif)")
        if path:
            self.message.emit(f"Wrote {self.export_gif(path)}.", False)
