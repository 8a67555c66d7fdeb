"""The Controls panel: steps, sampler, guidance, truncation, temperature/top-k/top-p, seed (lock or
randomize), batch size; each family sees only the rows it uses."""
from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import FamilyInfo
from ..core.request import MAX_BATCH, MAX_STEPS, MAX_TEMPERATURE, MAX_TOP_K, GenerationRequest
from .canvas import ImageCanvas
from .qimage import to_qimage


class ControlsPanel(QWidget):
    # Each form row's control key (a family's CATALOG controls); "eta" shows with the DDIM sampler.
    ROWS = ("steps", "sampler", "eta", "guidance", "truncation", "temperature", "top_k", "top_p", "seed", "batch",
            "img2img")
    generateClicked = Signal()
    cancelClicked = Signal()
    initCleared = Signal()  # × pressed: forget the input image

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Ranges live in the widgets, so out-of-range numbers can't be typed in the first place.
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=50)
        self.steps.setToolTip("Denoising steps: more steps, finer detail, slower")
        self.sampler = QComboBox()
        self.eta = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.1, value=0.0, decimals=2)
        self.eta.setToolTip("DDIM stochasticity: 0 is deterministic, 1 has the DDPM variance")
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=30.0, singleStep=0.5, value=3.0, decimals=2)
        self.guidance.setToolTip("Classifier-free guidance: 0 ignores the prompt, 1 is plain conditioning, "
                                 "higher follows the prompt more closely")
        self.truncation = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=1.0, decimals=2)
        self.truncation.setToolTip("The truncation trick: the seed's latent vector is scaled by this. 1 keeps "
                                   "the full variety; lower values give more typical, cleaner images")
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=MAX_TEMPERATURE, singleStep=0.05, value=1.0, decimals=2)
        self.temperature.setToolTip("Divides every position's logits: below 1 draws the likelier values more often "
                                    "(cleaner, less varied), above 1 flattens the distribution; 0 always takes "
                                    "the most likely value")
        self.top_k = QSpinBox(minimum=0, maximum=MAX_TOP_K, value=0)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("Draw only among the k most likely values at each position (off: all of them)")
        self.top_p = QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.05, value=1.0, decimals=2)
        self.top_p.setToolTip("Nucleus sampling: draw only among the most likely values that together hold this "
                              "much probability (1: all of them)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)  # QSpinBox is 32-bit signed
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setToolTip("Keep this seed; unlocked, every Generate draws a new one")
        self.randomize = QToolButton(text="New")
        self.randomize.setToolTip("Draw a new random seed")
        self.batch = QSpinBox(minimum=1, maximum=MAX_BATCH, value=1)
        # Image-to-image: the input (by hash in the inputs store; the session owns it), shown small, and
        # how far to noise it.
        self.init_image = ""
        self.init_view = ImageCanvas("none")
        self.init_view.setToolTip("The image-to-image input: drop an image file or a gallery item on the preview")
        self.init_view.setMinimumSize(44, 44)
        self.init_view.setMaximumSize(64, 64)
        self.strength = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.6, decimals=2)
        self.strength.setToolTip("0 keeps the input as it is, 1 ignores it. Diffusion noises it this far and "
                                 "denoises it under the prompt (SDEdit); an autoregressive model keeps its top "
                                 "rows and draws this share of the image anew (0.5: completes the top half)")
        self.clear_init = QToolButton(text="×")
        self.clear_init.setToolTip("Forget the input image: generate from noise")
        self.clear_init.clicked.connect(self.initCleared)
        self.clear_init.setEnabled(False)
        self.generate_button = QPushButton("Generate  (Ctrl+Enter)")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel  (Esc)")
        self.cancel_button.setEnabled(False)

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.randomize)
        seed_row.addWidget(self.seed_lock)
        form = QFormLayout()
        form.addRow("Steps", self.steps)
        form.addRow("Sampler", self.sampler)
        form.addRow("DDIM eta", self.eta)
        form.addRow("Guidance", self.guidance)
        form.addRow("Truncation", self.truncation)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Seed", seed_row)
        form.addRow("Batch", self.batch)
        init_row = QHBoxLayout()
        init_row.addWidget(self.init_view)
        init_row.addWidget(QLabel("strength"))
        init_row.addWidget(self.strength, 1)
        init_row.addWidget(self.clear_init)
        form.addRow("Input image", init_row)
        self.form = form
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.randomize.clicked.connect(self.new_seed)
        self.generate_button.clicked.connect(self.generateClicked)
        self.cancel_button.clicked.connect(self.cancelClicked)
        self.sampler.currentTextChanged.connect(lambda s: self.eta.setEnabled(s == "ddim"))
        self.seed.setValue(random.randint(0, 2**31 - 1))

    def set_family(self, info: FamilyInfo) -> None:
        """Show only the controls this family uses."""
        current = self.sampler.currentText()
        self.sampler.clear()
        self.sampler.addItems(list(info.samplers))
        if current in info.samplers:
            self.sampler.setCurrentText(current)
        for row, key in enumerate(self.ROWS):
            self.form.setRowVisible(row, key in info.controls or (key == "eta" and "ddim" in info.samplers)
                                    or (key == "img2img" and info.can("img2img")))

    def new_seed(self) -> None:
        self.seed.setValue(random.randint(0, 2**31 - 1))

    def next_seed(self) -> int:
        """The seed for the next Generate: kept when locked, else freshly drawn."""
        if not self.seed_lock.isChecked():
            self.new_seed()
        return self.seed.value()

    def fill(self, request: GenerationRequest) -> GenerationRequest:
        return request.with_(steps=self.steps.value(), sampler=self.sampler.currentText() or request.sampler,
                             eta=round(self.eta.value(), 4), guidance=round(self.guidance.value(), 4),
                             seed=self.seed.value(), batch_size=self.batch.value(),
                             truncation=round(self.truncation.value(), 4),
                             temperature=round(self.temperature.value(), 4), top_k=self.top_k.value(),
                             top_p=round(self.top_p.value(), 4), strength=round(self.strength.value(), 4))

    def apply(self, request: GenerationRequest) -> None:
        self.steps.setValue(request.steps)
        if self.sampler.findText(request.sampler) >= 0:
            self.sampler.setCurrentText(request.sampler)
        self.eta.setValue(request.eta)
        self.guidance.setValue(request.guidance)
        self.seed.setValue(min(request.seed, self.seed.maximum()))
        self.batch.setValue(request.batch_size)
        self.truncation.setValue(request.truncation)
        self.temperature.setValue(request.temperature)
        self.top_k.setValue(request.top_k)
        self.top_p.setValue(request.top_p)
        self.strength.setValue(request.strength)

    def set_init_image(self, h: str, image: np.ndarray | None) -> None:
        """Use the stored input ``h``, shown from ``image`` (None: not shown yet, its pixels are being
        read off the GUI thread); '' for none."""
        self.init_image = h
        self.init_view.set_image(to_qimage(image) if h and image is not None else None)
        self.clear_init.setEnabled(bool(h))

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.generate_button.setText("Queue  (Ctrl+Enter)" if busy else "Generate  (Ctrl+Enter)")
