"""The Controls panel: steps, sampler, guidance, truncation, temperature/top-k/top-p, seed (lock or
randomize), batch size; each family sees only the rows it uses.

Every widget holds its field's whole range (the seed is 64-bit wide: QSpinBox stops at 2^31 - 1), and
settings put back from a PNG or the gallery are checked against the widgets first: a value the
window would clamp or round is refused with a message, never silently changed."""
from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import QLocale, Signal
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
from superqt import QLargeIntSpinBox  # after PySide6: qtpy then uses the binding already imported

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import RequestError
from ..core.request import (
    DEFAULT_STEPS,
    MAX_BATCH,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    GenerationRequest,
)
from .canvas import ImageCanvas
from .qimage import to_qimage

DECIMALS = 6  # what a float field keeps: any value typed on the command line with up to 6 decimals


class DecimalSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that keeps ``DECIMALS`` decimals but shows a value as people write it (3, 0.05),
    not padded with zeros."""

    def __init__(self, *, minimum: float, maximum: float, singleStep: float, value: float) -> None:  # noqa: N803
        super().__init__(minimum=minimum, maximum=maximum, singleStep=singleStep, decimals=DECIMALS)
        self.setValue(value)
        # Qt sizes a spin box by the text of its bounds ("0", "1"): leave room for a few decimals too.
        self.setMinimumWidth(self.minimumSizeHint().width() + self.fontMetrics().horizontalAdvance("0.00"))

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt naming)
        text = self.locale().toString(value, "f", DECIMALS)
        point = self.locale().decimalPoint()
        return text.rstrip("0").rstrip(point) if point in text else text


def _fits(value: float) -> bool:
    """Whether a DecimalSpinBox holds ``value`` exactly (Qt keeps the nearest DECIMALS-decimal number)."""
    return float(QLocale.c().toString(value, "f", DECIMALS)) == value


class ControlsPanel(QWidget):
    # Each form row's control key (a family's CATALOG controls); "eta" shows with the DDIM sampler.
    ROWS = ("steps", "sampler", "eta", "guidance", "truncation", "temperature", "top_k", "top_p", "seed", "batch",
            "size", "img2img")
    generateClicked = Signal()
    cancelClicked = Signal()
    initCleared = Signal()  # × pressed: forget the input image

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Ranges live in the widgets, so out-of-range numbers can't be typed in the first place.
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=DEFAULT_STEPS)
        self.steps.setToolTip("Denoising steps: more steps, finer detail, slower")
        self.sampler = QComboBox()
        self.eta = DecimalSpinBox(minimum=0.0, maximum=1.0, singleStep=0.1, value=0.0)
        self.eta.setToolTip("DDIM stochasticity: 0 is deterministic, 1 has the DDPM variance")
        self.guidance = DecimalSpinBox(minimum=0.0, maximum=30.0, singleStep=0.5, value=3.0)
        self.guidance.setToolTip("Classifier-free guidance: 0 ignores the prompt, 1 is plain conditioning, "
                                 "higher follows the prompt more closely")
        self.truncation = DecimalSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=1.0)
        self.truncation.setToolTip("The truncation trick: the seed's latent vector is scaled by this. 1 keeps "
                                   "the full variety; lower values give more typical, cleaner images")
        self.temperature = DecimalSpinBox(minimum=0.0, maximum=MAX_TEMPERATURE, singleStep=0.05, value=1.0)
        self.temperature.setToolTip("Divides every position's logits: below 1 draws the likelier values more often "
                                    "(cleaner, less varied), above 1 flattens the distribution; 0 always takes "
                                    "the most likely value")
        self.top_k = QSpinBox(minimum=0, maximum=MAX_TOP_K, value=0)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("Draw only among the k most likely values at each position (off: all of them)")
        self.top_p = DecimalSpinBox(minimum=10.0**-DECIMALS, maximum=1.0, singleStep=0.05, value=1.0)
        self.top_p.setToolTip("Nucleus sampling: draw only among the most likely values that together hold this "
                              "much probability (1: all of them)")
        self.seed = QLargeIntSpinBox()  # QSpinBox is 32-bit signed; a seed goes to 2^32 - 1
        self.seed.setRange(0, MAX_SEED)
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setToolTip("Keep this seed; unlocked, every Generate draws a new one")
        self.randomize = QToolButton(text="New")
        self.randomize.setToolTip("Draw a new random seed")
        self.batch = QSpinBox(minimum=1, maximum=MAX_BATCH, value=1)
        # Families whose models draw at any size (a Stable Diffusion pipeline): width and height.
        self.image_width = QSpinBox(minimum=8, maximum=MAX_SIDE, value=512, singleStep=8, suffix=" px")
        self.image_height = QSpinBox(minimum=8, maximum=MAX_SIDE, value=512, singleStep=8, suffix=" px")
        self.image_width.setToolTip("Image width: a multiple of the model's latent factor (8 for Stable Diffusion)")
        self.image_height.setToolTip("Image height: a multiple of the model's latent factor (8 for Stable Diffusion)")
        self.sized = False  # the family's models take the size asked for
        # Image-to-image: the input (by hash in the inputs store; the session owns it), shown small, and
        # how far to noise it.
        self.init_image = ""
        self.init_view = ImageCanvas("none")
        self.init_view.setToolTip("The image-to-image input: drop an image file or a gallery item on the preview")
        self.init_view.setMinimumSize(44, 44)
        self.init_view.setMaximumSize(64, 64)
        self.strength = DecimalSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.6)
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
        size_row = QHBoxLayout()
        size_row.addWidget(self.image_width, 1)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.image_height, 1)
        form.addRow("Size", size_row)
        init_row = QHBoxLayout()
        init_row.addWidget(self.init_view)
        self.strength_label = QLabel("strength")
        init_row.addWidget(self.strength_label)
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
        self.seed.setValue(random.randint(0, MAX_SEED))

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
        self.sized = "size" in info.controls
        for w in (self.strength_label, self.strength):  # a clip's input is its first frame: nothing to weigh
            w.setVisible(not info.can("video"))

    def set_size(self, width: int, height: int, step: int = 8) -> None:
        """A model that draws at any size: its native size, and the multiple its sizes come in."""
        for box, value in ((self.image_width, width), (self.image_height, height)):
            box.setSingleStep(step)
            box.setValue(value)

    def new_seed(self) -> None:
        self.seed.setValue(random.randint(0, MAX_SEED))

    def next_seed(self) -> int:
        """The seed for the next Generate: kept when locked, else freshly drawn."""
        if not self.seed_lock.isChecked():
            self.new_seed()
        return self.seed.value()

    def _fields(self) -> dict[str, tuple[str, QSpinBox | QLargeIntSpinBox | QDoubleSpinBox]]:
        """Each request field a widget holds: its name for messages, and the widget."""
        return {"steps": ("Steps", self.steps), "eta": ("DDIM eta", self.eta), "guidance": ("Guidance", self.guidance),
                "seed": ("Seed", self.seed), "batch_size": ("Batch size", self.batch),
                "truncation": ("Truncation", self.truncation), "temperature": ("Temperature", self.temperature),
                "top_k": ("Top-k", self.top_k), "top_p": ("Top-p", self.top_p), "strength": ("Strength", self.strength)}

    def fill(self, request: GenerationRequest) -> GenerationRequest:
        values = {name: widget.value() for name, (_, widget) in self._fields().items()}
        if self.sized:  # other families' sizes are their models' own (resolve fills them)
            values |= {"width": self.image_width.value(), "height": self.image_height.value()}
        return request.with_(sampler=self.sampler.currentText() or request.sampler, **values)

    def check(self, request: GenerationRequest) -> None:
        """Raise RequestError, naming the field, unless ``apply`` would put every value of ``request`` in
        the widgets exactly as it is: valid, inside each widget's range, and with no more decimals than
        they keep. Nothing is changed."""
        request.validated()
        for name, (label, widget) in self._fields().items():
            value = getattr(request, name)
            low, high = widget.minimum(), widget.maximum()
            if not low <= value <= high:  # also refuses NaN
                raise RequestError(f"{label} {value!r} is outside what the window can set ({low!r} to {high!r}).")
            if isinstance(value, float) and not _fits(value):
                raise RequestError(f"{label} {value!r} has more than {DECIMALS} decimals; the window would round it.")

    def apply(self, request: GenerationRequest) -> None:
        """Put ``request``'s values in the widgets; RequestError (and nothing changed) if any would not fit."""
        self.check(request)
        if self.sampler.findText(request.sampler) >= 0:
            self.sampler.setCurrentText(request.sampler)
        for name, (_, widget) in self._fields().items():
            widget.setValue(getattr(request, name))
        if "size" in CATALOG[request.family].controls:
            self.image_width.setValue(request.width)
            self.image_height.setValue(request.height)

    def set_init_image(self, h: str, image: np.ndarray | None) -> None:
        """Use the stored input ``h``, shown from ``image`` (None: not shown yet, its pixels are being
        read off the GUI thread); '' for none."""
        self.init_image = h
        self.init_view.set_image(to_qimage(image) if h and image is not None else None)
        self.clear_init.setEnabled(bool(h))

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.generate_button.setText("Queue  (Ctrl+Enter)" if busy else "Generate  (Ctrl+Enter)")
