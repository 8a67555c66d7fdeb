"""The Model panel: family and checkpoint, listed from the registry, with the model card."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from ..core.card_text import render_card
from ..core.catalog import CATALOG, FamilyInfo
from ..store.registry import CheckpointInfo, scan


def card_html(info: CheckpointInfo) -> str:
    """The model card as the panel shows it (the same renderer as ``genstudio models --card``)."""
    return render_card(info.card, title=info.title, family=info.family, dataset=info.dataset).to_html()


class ModelPanel(QWidget):
    familyChanged = Signal(object)  # FamilyInfo
    checkpointChanged = Signal(object)  # CheckpointInfo | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.family = QComboBox()
        self.checkpoint = QComboBox()
        self.refresh_button = QPushButton("Rescan")
        self.card = QTextBrowser()
        self.card.setMaximumHeight(140)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #c55")
        self._infos: list[CheckpointInfo] = []
        form = QFormLayout()
        form.addRow("Family", self.family)
        form.addRow("Checkpoint", self.checkpoint)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.card)
        layout.addWidget(self.problems)
        layout.addWidget(self.refresh_button)
        for info in CATALOG.values():
            self.family.addItem(info.label, info.name)
        self.family.currentIndexChanged.connect(self._family_changed)
        self.checkpoint.currentIndexChanged.connect(self._checkpoint_changed)
        self.refresh_button.clicked.connect(self.rescan)

    def rescan(self) -> None:
        self._infos, problems = scan()
        self.problems.setText("\n".join(problems))
        self._family_changed()

    def family_info(self) -> FamilyInfo:
        return CATALOG[self.family.currentData()]

    def current(self) -> CheckpointInfo | None:
        i = self.checkpoint.currentIndex()
        return self.checkpoint.itemData(i) if i >= 0 else None

    def select(self, family: str, checkpoint: str) -> bool:
        """Select a checkpoint by family and id; False if it is not registered."""
        fi = self.family.findData(family)
        if fi < 0:
            return False
        self.family.setCurrentIndex(fi)
        for i in range(self.checkpoint.count()):
            if self.checkpoint.itemData(i).id == checkpoint:
                self.checkpoint.setCurrentIndex(i)
                return True
        return False

    def _family_changed(self) -> None:
        info = self.family_info()
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        for ck in self._infos:
            if ck.family == info.name:
                self.checkpoint.addItem(ck.title, ck)
        self.checkpoint.blockSignals(False)
        self.familyChanged.emit(info)
        self._checkpoint_changed()

    def _checkpoint_changed(self) -> None:
        ck = self.current()
        self.card.setHtml(card_html(ck) if ck else "No checkpoint of this family is installed. "
                          "Train one with <code>genstudio train</code>.")
        self.checkpointChanged.emit(ck)
