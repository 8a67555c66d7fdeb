"""The Phrases dock: favourites, recent phrases and the data sets' vocabulary, ready to drag into the
prompt (they become chips) or double-click to add. Dropping a phrase or chip here stars it."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.prompt.phrases import split_phrases, vocabulary
from ..store.phrases import PhraseStore

FAVOURITES, RECENT = "★ Favourites", "Recent"
_PHRASE = Qt.ItemDataRole.UserRole  # an item's phrase; sections have none


class _PhraseTree(QTreeWidget):
    """Drags phrases out as plain text, and takes text in as new favourites."""

    textDropped = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt naming)
        mime = QMimeData()
        mime.setText(", ".join(p for p in (it.data(0, _PHRASE) for it in items) if p))
        return mime

    def _wants(self, e) -> bool:
        return e.source() is not self and e.mimeData().hasText() and bool(split_phrases(e.mimeData().text()))

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        e.accept() if self._wants(e) else e.ignore()

    def dragMoveEvent(self, e) -> None:  # noqa: N802
        if self._wants(e):
            e.setDropAction(Qt.DropAction.CopyAction)  # a chip dragged here stays in the prompt
            e.accept()
        else:
            e.ignore()

    def dropEvent(self, e) -> None:  # noqa: N802
        if not self._wants(e):
            e.ignore()
            return
        e.setDropAction(Qt.DropAction.CopyAction)
        e.accept()
        self.textDropped.emit(split_phrases(e.mimeData().text()))


class PhraseLibraryPanel(QWidget):
    insertRequested = Signal(str)  # add this phrase to the prompt
    changed = Signal()  # favourites or recent phrases changed

    def __init__(self, store: PhraseStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.filter = QLineEdit(placeholderText="filter phrases…", clearButtonEnabled=True)
        self.tree = _PhraseTree()
        self.tree.setToolTip("Drag phrases into the prompt, or double-click to add one. "
                             "Drop a phrase or chip here to save it as a favourite.")
        self.star_button = QPushButton("★ Star")
        self.star_button.setToolTip("Save the selected phrases as favourites, or unstar them")
        self.clear_recent_button = QPushButton("Clear recent")
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet("color: #e66;")
        self.warning.setVisible(bool(store.warning))
        self.warning.setText(store.warning or "")
        buttons = QHBoxLayout()
        buttons.addWidget(self.star_button)
        buttons.addWidget(self.clear_recent_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self._vocabulary = vocabulary()  # fixed while the app runs
        self._collapsed: set[str] = set()

        self.filter.textChanged.connect(self._apply_filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.itemExpanded.connect(lambda it: self._collapsed.discard(it.text(0)))
        self.tree.itemCollapsed.connect(lambda it: self._collapsed.add(it.text(0)))
        self.tree.textDropped.connect(self.add_favourites)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.star_button.clicked.connect(lambda: [self.toggle_favourite(p) for p in self.selected()])
        self.clear_recent_button.clicked.connect(self.clear_recent)
        self.refresh()

    # --- what the window and the prompt call ------------------------------------------------------------
    def record_prompt(self, prompt: str) -> None:
        """A prompt was used for a generation: its phrases become the most recent ones."""
        self.store.record_prompt(prompt)
        self._changed()

    def toggle_favourite(self, phrase: str) -> None:
        self.store.toggle_favourite(phrase)
        self._changed()

    def add_favourites(self, phrases: list[str]) -> None:
        if [self.store.add_favourite(p) for p in phrases].count(True):
            self._changed()

    def clear_recent(self) -> None:
        self.store.clear_recent()
        self._changed()

    def section(self, title: str) -> list[str]:
        """The phrases listed under a section, in order (filter aside)."""
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.text(0) == title:
                return [p for p in (top.child(j).data(0, _PHRASE) for j in range(top.childCount())) if p]
        return []

    def selected(self) -> list[str]:
        return [p for p in (it.data(0, _PHRASE) for it in self.tree.selectedItems()) if p]

    # --- showing ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.tree.clear()
        sections = {FAVOURITES: self.store.favourites, RECENT: self.store.recent} | self._vocabulary
        for title, phrases in sections.items():
            top = QTreeWidgetItem([title])
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: not draggable, not selectable
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            for phrase in phrases:
                starred = title != FAVOURITES and self.store.is_favourite(phrase)
                child = QTreeWidgetItem([f"{phrase}  ★" if starred else phrase])
                child.setData(0, _PHRASE, phrase)
                child.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                               | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(child)
            if not phrases and title == FAVOURITES:
                hint = QTreeWidgetItem(["star a chip or phrase to keep it here"])
                hint.setFlags(Qt.ItemFlag.NoItemFlags)
                top.addChild(hint)
            self.tree.addTopLevelItem(top)
            top.setExpanded(title not in self._collapsed)
        self.warning.setVisible(bool(self.store.warning))
        self.warning.setText(self.store.warning or "")
        self._apply_filter(self.filter.text())

    def _changed(self) -> None:
        self.refresh()
        self.changed.emit()

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                child = top.child(j)
                phrase = child.data(0, _PHRASE) or ""
                child.setHidden(bool(needle) and needle not in phrase.casefold())
            if needle:
                top.setExpanded(True)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        phrase = item.data(0, _PHRASE)
        if phrase:
            self.insertRequested.emit(phrase)

    def _menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        phrase = item.data(0, _PHRASE) if item is not None else None
        menu = QMenu(self)
        if phrase:
            menu.addAction("Add to prompt", lambda: self.insertRequested.emit(phrase))
            fav = self.store.is_favourite(phrase)
            menu.addAction("Remove from favourites" if fav else "Save to favourites",
                           lambda: self.toggle_favourite(phrase))
        if self.store.recent:
            menu.addAction("Clear recent phrases", self.clear_recent)
        if not menu.isEmpty():
            menu.exec(self.tree.viewport().mapToGlobal(pos))
