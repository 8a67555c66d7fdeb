"""The Blend panel: two prompts mixed in embedding space, a slider between them, and a sweep from
one to the other with the seed fixed, played in the preview and saved as a GIF.

The mix is written into the prompt itself ("a sneaker::0.7 | a sandal::0.3", see core.blend), so
every image of a sweep is an ordinary request that the gallery keeps and reproduces.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.images import save_gif
from ..core.prompt.blend import blend_text


class BlendPanel(QWidget):
    usePrompt = Signal(str)  # put this (blended) prompt in the Prompt panel
    generateWanted = Signal(str)  # generate this prompt now, with the current seed
    sweepWanted = Signal(list)  # generate these prompts in order, with one seed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.a = QLineEdit("a sneaker")
        self.b = QLineEdit("a sandal")
        self.mix = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.mix.setToolTip("0: prompt A alone, 100: prompt B alone; in between, their embeddings are mixed")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use in prompt")
        self.generate_button = QPushButton("Generate this mix")
        self.frames = QSpinBox(minimum=2, maximum=32, value=9)
        self.frames.setToolTip("Images in the sweep, from A alone to B alone")
        self.sweep_button = QPushButton("Sweep A → B")
        self.gif_button = QPushButton("Save sweep GIF…")
        self.gif_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Prompt A", self.a)
        form.addRow("Prompt B", self.b)
        form.addRow("Mix", self.mix)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.generate_button)
        sweep = QHBoxLayout()
        sweep.addWidget(self.frames)
        sweep.addWidget(self.sweep_button, 1)
        sweep.addWidget(self.gif_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        layout.addLayout(sweep)
        layout.addWidget(self.status)
        layout.addStretch(1)

        for w in (self.a, self.b):
            w.textChanged.connect(self._update)
        self.mix.valueChanged.connect(self._update)
        self.use_button.clicked.connect(lambda: self.usePrompt.emit(self.prompt()))
        self.generate_button.clicked.connect(lambda: self.generateWanted.emit(self.prompt()))
        self.sweep_button.clicked.connect(lambda: self.sweepWanted.emit(self.sweep_prompts()))
        self.gif_button.clicked.connect(self._ask_gif)
        self._sweep_images: list[np.ndarray] = []
        self._update()

    def prompt(self) -> str:
        return blend_text(self.a.text().strip(), self.b.text().strip(), self.mix.value() / 100)

    def sweep_prompts(self) -> list[str]:
        n = self.frames.value()
        a, b = self.a.text().strip(), self.b.text().strip()
        return [blend_text(a, b, k / (n - 1)) for k in range(n)]

    def _update(self) -> None:
        self.text.setText(f"<code>{self.prompt()}</code>")

    # --- the sweep's results (the window routes the finished jobs here) -------------------------
    def sweep_started(self, total: int) -> None:
        self._sweep_images = []
        self.gif_button.setEnabled(False)
        self.status.setText(f"sweeping: 0/{total}")

    def sweep_progress(self, done: int, total: int) -> None:
        self.status.setText(f"sweeping: {done}/{total}")

    def sweep_finished(self, images: list[np.ndarray]) -> None:
        """``images``: one (B, H, W, C) batch per prompt, in sweep order."""
        self._sweep_images = images
        self.gif_button.setEnabled(True)
        self.status.setText(f"sweep of {len(images)} images done: play it with Save sweep GIF")

    def save_gif(self, path: str) -> str:
        return str(save_gif(self._sweep_images, path, hold_last=0.5))

    def _ask_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the sweep as an animated GIF", "sweep.gif", "GIF (*.gif)")
        if path:
            self.save_gif(path)
