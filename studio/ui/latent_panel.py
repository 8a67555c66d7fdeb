"""The Latent panel: one slider per latent axis (or per principal direction of the encoded data, for
large latents), with lock, randomize, zero, copy/paste and keep; and an encoder drop zone that
shows a dropped image beside its reconstruction and moves the sliders to its latent."""
from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..core.latent_space.basis import LatentBasis
from .canvas import ImageCanvas
from .qimage import to_qimage

RANGE = 3.0  # sliders span +-3 (standard deviations of the prior or of the data along the direction)
TICKS = 100  # slider steps per unit


def file_urls(mime) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


class DropCanvas(ImageCanvas):
    """An image canvas that takes a dropped image file (from the desktop or the gallery)."""

    fileDropped = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self.setAcceptDrops(True)
        self.setMinimumSize(96, 96)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(128, 128)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if file_urls(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = file_urls(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.fileDropped.emit(files[0])


class LatentPanel(QWidget):
    latentChanged = Signal(object, bool)  # z (D,), whether to decode it now
    encodeRequested = Signal(str)  # image path
    priorRequested = Signal()  # "from seed": the vector the seed draws from the prior
    keepRequested = Signal(object)  # z
    message = Signal(str, bool)  # text, is error

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.basis: LatentBasis | None = None
        self.coords = np.zeros(0, np.float32)
        self.residual = np.zeros(0, np.float32)
        self.sliders: list[QSlider] = []
        self.locks: list[QCheckBox] = []
        self.values: list[QLabel] = []
        self._rng = np.random.default_rng()

        self.info = QLabel("Pick a VAE checkpoint to explore its latent space.")
        self.info.setWordWrap(True)
        self.rows = QGridLayout()
        self.rows.setColumnStretch(2, 1)
        inner = QWidget()
        inner.setLayout(self.rows)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.randomize_button = QPushButton("Randomize")
        self.randomize_button.setToolTip("Draw the unlocked coordinates from a standard normal")
        self.zero_button = QPushButton("Zero")
        self.zero_button.setToolTip("Reset the unlocked coordinates to 0 (the centre of the latent space)")
        self.seed_button = QPushButton("From seed")
        self.seed_button.setToolTip("The vector that Generate draws from the prior for the current seed")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the latent vector as text")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Set the latent vector from numbers on the clipboard")
        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Add this image to the gallery, with its latent vector")
        buttons = QGridLayout()
        for k, b in enumerate((self.randomize_button, self.zero_button, self.seed_button,
                               self.copy_button, self.paste_button, self.keep_button)):
            buttons.addWidget(b, k // 3, k % 3)

        self.original = DropCanvas("drop an image\nor gallery item")
        self.reconstruction = ImageCanvas("reconstruction")
        self.reconstruction.setMinimumSize(96, 96)
        for canvas in (self.original, self.reconstruction):
            canvas.setMaximumHeight(100)  # the sliders need the room more
        self.encode_note = QLabel("Encode: drop an image on the left square.")
        self.encode_note.setWordWrap(True)
        pair = QHBoxLayout()
        pair.addWidget(self.original)
        pair.addWidget(self.reconstruction)

        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addLayout(pair)
        layout.addWidget(self.encode_note)
        self.setEnabled(False)

        self.randomize_button.clicked.connect(self.randomize)
        self.zero_button.clicked.connect(self.zero)
        self.seed_button.clicked.connect(self.priorRequested)
        self.copy_button.clicked.connect(self.copy)
        self.paste_button.clicked.connect(self.paste)
        self.keep_button.clicked.connect(lambda: self.keepRequested.emit(self.z()))
        self.original.fileDropped.connect(self.encodeRequested)

    # --- model ----------------------------------------------------------------------------------
    def set_model(self, basis: LatentBasis, description: str, details: str = "", can_encode: bool = True) -> None:
        self.basis = basis
        self.info.setText(description)
        self.info.setToolTip(details)
        for w in (self.original, self.reconstruction, self.encode_note):
            w.setVisible(can_encode)  # a GAN has no encoder
        while self.rows.count():
            w = self.rows.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.sliders, self.locks, self.values = [], [], []
        for k, name in enumerate(basis.names):
            lock = QCheckBox()
            lock.setToolTip("Lock: Randomize, Zero and Paste leave this coordinate alone")
            label = QLabel(name)
            if basis.explained is not None:
                label.setToolTip(f"Principal direction {k + 1} of the encoded training images: "
                                 f"{basis.explained[k]:.1%} of their variance; 1 unit = 1 standard deviation")
            slider = QSlider(Qt.Orientation.Horizontal, minimum=int(-RANGE * TICKS), maximum=int(RANGE * TICKS))
            slider.setObjectName(f"latent-slider-{k}")
            value = QLabel("0.00")
            value.setMinimumWidth(40)
            slider.valueChanged.connect(lambda v, k=k: self._slider_moved(k, v))
            for col, w in enumerate((lock, label, slider, value)):
                self.rows.addWidget(w, k, col)
            self.sliders.append(slider)
            self.locks.append(lock)
            self.values.append(value)
        self.setEnabled(True)
        self.set_latent(basis.origin.copy())

    def clear_model(self, message: str) -> None:
        self.basis = None
        self.info.setText(message)
        self.setEnabled(False)

    # --- the vector -------------------------------------------------------------------------------
    def z(self) -> np.ndarray:
        return self.basis.to_latent(self.coords, self.residual)

    def set_latent(self, z: np.ndarray, decode: bool = True) -> None:
        z = np.asarray(z, np.float32)
        self.coords, self.residual = self.basis.to_coords(z)
        self._sync_sliders()
        self.latentChanged.emit(self.z(), decode)

    def set_coords(self, changes: dict[int, float]) -> None:
        for k, v in changes.items():
            self.coords[k] = v
        self._sync_sliders()
        self.latentChanged.emit(self.z(), True)

    def _sync_sliders(self) -> None:
        for k, s in enumerate(self.sliders):
            s.blockSignals(True)
            s.setValue(int(round(float(np.clip(self.coords[k], -RANGE, RANGE)) * TICKS)))
            s.blockSignals(False)
            self.values[k].setText(f"{self.coords[k]:.2f}")

    def _slider_moved(self, k: int, value: int) -> None:
        self.coords[k] = value / TICKS
        self.values[k].setText(f"{self.coords[k]:.2f}")
        self.latentChanged.emit(self.z(), True)

    def _unlocked(self) -> np.ndarray:
        return np.array([not lock.isChecked() for lock in self.locks], bool)

    def randomize(self) -> None:
        free = self._unlocked()
        self.coords[free] = self._rng.standard_normal(int(free.sum())).astype(np.float32)
        self._sync_sliders()
        self.latentChanged.emit(self.z(), True)

    def zero(self) -> None:
        free = self._unlocked()
        self.coords[free] = 0.0
        if free.all():
            self.residual[:] = 0.0
        self._sync_sliders()
        self.latentChanged.emit(self.z(), True)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(" ".join(f"{v:.5g}" for v in self.z()))
        self.message.emit(f"Copied the {self.basis.dim}-D latent vector.", False)

    def paste(self, text: str | None = None) -> bool:
        text = QGuiApplication.clipboard().text() if text is None else text
        try:
            values = np.array([float(t) for t in re.split(r"[\s,;\[\]()]+", text.strip()) if t], np.float32)
        except ValueError:
            self.message.emit("The clipboard does not hold a latent vector (numbers separated by spaces "
                              "or commas).", True)
            return False
        if len(values) != self.basis.dim or not np.isfinite(values).all():
            self.message.emit(f"The clipboard holds {len(values)} numbers; this model's latent has "
                              f"{self.basis.dim}.", True)
            return False
        old = self.coords.copy()
        coords, residual = self.basis.to_coords(values)
        locked = ~self._unlocked()
        coords[locked] = old[locked]
        self.coords, self.residual = coords, residual
        self._sync_sliders()
        self.latentChanged.emit(self.z(), True)
        return True

    # --- encoding ---------------------------------------------------------------------------------
    def show_encoded(self, image: np.ndarray, reconstruction: np.ndarray, note: str) -> None:
        self.original.set_image(to_qimage(image))
        self.reconstruction.set_image(to_qimage(reconstruction))
        self.encode_note.setText(f"Encoded ({note}); the sliders now hold its latent mean.")
