"""The Model panel: family and checkpoint, listed from the registry, with the model card."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from ..core.card_text import render_card
from ..core.catalog import CATALOG, FamilyInfo
from ..store.registry import BrokenCheckpoint, CheckpointInfo, scan


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
        self._broken: list[BrokenCheckpoint] = []
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
        self._infos, self._broken = scan()
        self.problems.setText("\n".join(self._broken))
        self._family_changed()

    def family_info(self) -> FamilyInfo:
        return CATALOG[self.family.currentData()]

    def current(self) -> CheckpointInfo | None:
        i = self.checkpoint.currentIndex()
        data = self.checkpoint.itemData(i) if i >= 0 else None
        return data if isinstance(data, CheckpointInfo) else None  # a broken entry is only shown

    def select(self, family: str, checkpoint: str) -> bool:
        """Select a checkpoint by family and id; False if it is not registered."""
        fi = self.family.findData(family)
        if fi < 0:
            return False
        self.family.setCurrentIndex(fi)
        for i in range(self.checkpoint.count()):
            data = self.checkpoint.itemData(i)
            if isinstance(data, CheckpointInfo) and data.id == checkpoint:
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
        # This family's broken files, after the good ones: listed (greyed, the reason as tooltip) so
        # the user sees why a checkpoint they put there is missing, but never selectable.
        model = self.checkpoint.model()
        for broken in self._broken:
            if broken.family == info.name:
                self.checkpoint.addItem(f"{broken.id} (broken)", broken)
                i = self.checkpoint.count() - 1
                self.checkpoint.setItemData(i, str(broken), Qt.ItemDataRole.ToolTipRole)
                model.item(i).setEnabled(False)
        self.checkpoint.blockSignals(False)
        self.familyChanged.emit(info)
        self._checkpoint_changed()

    def _checkpoint_changed(self) -> None:
        ck = self.current()
        if ck is not None:
            self.card.setHtml(card_html(ck))
        else:
            broken = [str(b) for b in self._broken if b.family == self.family_info().name]
            self.card.setHtml("No usable checkpoint of this family is installed. Train one with "
                              "<code>genstudio train</code>." + "".join(f"<br><small>Broken: {html.escape(b)}</small>"
                                                                         for b in broken))
        self.checkpointChanged.emit(ck)
