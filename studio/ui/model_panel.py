"""The Model panel: family and checkpoint, listed from the registry, with the model card; "Add model…"
adds a Stable Diffusion model the user already has (a diffusers folder or a single .safetensors file,
left where it is) through the same store function as ``genstudio models add``."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.card_text import render_card
from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.families.pipeline.sources import is_pipeline_path
from ..core.training.recipes import recipes_for
from ..store.registry import BrokenCheckpoint, CheckpointInfo, add_pipeline, scan


def card_html(info: CheckpointInfo) -> str:
    """The model card as the panel shows it (the same renderer as ``genstudio models --card``)."""
    return render_card(info.card, title=info.title, family=info.family, dataset=info.dataset).to_html()


class ModelPanel(QWidget):
    familyChanged = Signal(object)  # FamilyInfo
    checkpointChanged = Signal(object)  # CheckpointInfo | None
    modelAdded = Signal(object)  # CheckpointInfo: a pipeline was added (and selected)
    addFailed = Signal(str)  # why a folder or file could not be added, a sentence for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.family = QComboBox()
        self.checkpoint = QComboBox()
        self.refresh_button = QPushButton("Rescan")
        self.add_button = QToolButton(text="Add model…")
        self.add_button.setToolTip("Open a Stable Diffusion 1.x/2.x model you already have: a diffusers folder "
                                   "or a single .safetensors file. It stays where it is; nothing is downloaded. "
                                   "You can also drop the folder or file on the window.")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        self.add_folder_action = menu.addAction("Diffusers folder…", self.pick_folder)
        self.add_file_action = menu.addAction("Single .safetensors file…", self.pick_file)
        self.add_button.setMenu(menu)
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
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button, 1)
        buttons.addWidget(self.add_button)
        layout.addLayout(buttons)
        for info in CATALOG.values():
            self.family.addItem(info.label, info.name)
        self.family.currentIndexChanged.connect(self._family_changed)
        self.checkpoint.currentIndexChanged.connect(self._checkpoint_changed)
        self.refresh_button.clicked.connect(self.rescan)

    def rescan(self) -> None:
        self._infos, self._broken = scan()
        self.problems.setText("\n".join(self._broken))
        self._family_changed()

    @staticmethod
    def can_add(path: str | Path) -> bool:
        """Whether a dropped ``path`` is something "Add model" takes (a folder or a .safetensors file)."""
        return is_pipeline_path(path)

    def add_model(self, path: str | Path) -> CheckpointInfo | None:
        """Add the pipeline folder or file at ``path``, list it and select it; None (with the reason in
        the panel and ``addFailed``) when it cannot be opened."""
        try:
            info = add_pipeline(path)
        except StudioError as e:
            self.problems.setText(str(e))
            self.addFailed.emit(str(e))
            return None
        self.rescan()
        self.select(info.family, info.id)
        self.modelAdded.emit(info)
        return info

    def pick_folder(self) -> CheckpointInfo | None:
        path = QFileDialog.getExistingDirectory(self, "Add a diffusers folder (model_index.json, unet/, vae/, …)")
        return self.add_model(path) if path else None

    def pick_file(self) -> CheckpointInfo | None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a Stable Diffusion checkpoint", "",
                                              "Safetensors checkpoints (*.safetensors)")
        return self.add_model(path) if path else None

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
            info = self.family_info()
            broken = [str(b) for b in self._broken if b.family == info.name]
            how = ("Train one with <code>genstudio train</code>." if recipes_for(info.name) else
                   "Add one with <b>Add model…</b> (a diffusers folder or a .safetensors file, or drop it on the "
                   "window), or <code>genstudio models add PATH</code>.")
            self.card.setHtml("No usable checkpoint of this family is installed. " + how
                              + "".join(f"<br><small>Broken: {html.escape(b)}</small>" for b in broken))
        self.checkpointChanged.emit(ck)
