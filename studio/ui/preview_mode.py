"""How a model that can make its step previews more than one way makes them (the "preview_modes"
capability): a mode, and for an expensive one how many steps apart it is made. A view setting, not
part of the request: the final image is the same whichever is chosen."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

# What the modes a catalog entry names are called here; "linear" costs nothing, so it is made every step.
MODE_LABELS = {"linear": "latent colours (fast)", "decode": "decoder"}
EVERY_STEP = frozenset({"linear"})


class PreviewModeBox(QWidget):
    changed = Signal(str, int)  # mode, every k steps

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.setToolTip("How each step's preview is made: latent colours map the predicted latent to "
                             "colours at no cost; the decoder shows the real picture but costs time")
        self.every = QSpinBox(minimum=1, maximum=100, prefix="every ", suffix=" steps")
        self.every.setToolTip("The decoder preview is made only this often; the last one stays up between")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Preview"))
        layout.addWidget(self.mode)
        layout.addWidget(self.every)
        self.mode.currentIndexChanged.connect(self._changed)
        self.every.valueChanged.connect(self._changed)
        self.set_modes(())

    def set_modes(self, modes: tuple[str, ...]) -> None:
        """The modes the family shown offers (the first its default); hidden when it offers none."""
        if tuple(self.mode.itemData(i) for i in range(self.mode.count())) != tuple(modes):
            self.mode.blockSignals(True)
            self.mode.clear()
            for m in modes:
                self.mode.addItem(MODE_LABELS.get(m, m), m)
            self.mode.blockSignals(False)
            self._changed()
        self.setVisible(bool(modes))

    def value(self) -> tuple[str, int] | None:
        mode = self.mode.currentData()
        return None if mode is None else (mode, self.every.value())

    def _changed(self) -> None:
        mode = self.mode.currentData()
        self.every.setEnabled(mode is not None and mode not in EVERY_STEP)
        if mode is not None:
            self.changed.emit(mode, self.every.value())
