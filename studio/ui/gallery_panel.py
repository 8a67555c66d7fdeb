"""The Gallery panel: thumbnails of past results, search, open large, delete/restore, reuse settings.
Items drag out as PNG files, so they can be dropped on the window or on other applications. A new
result adds one thumbnail and a deletion removes one: only a new search or filter lists them all again."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..store.gallery import GalleryItem, GalleryStore
from .canvas import ImageCanvas
from .qimage import thumbnail


class _ThumbList(QListWidget):
    """Icons that drag out as files and never move inside the list."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(84, 84))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        # setMovement(Static) switches dragging off again: the drag settings must come after it.
        self.setMovement(QListWidget.Movement.Static)
        self.setDragEnabled(True)
        self.setDragDropMode(QListWidget.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        # What a drag out offers, too: copy only, so a target that takes a move cannot remove the item.
        return Qt.DropAction.CopyAction

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt naming)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(it.data(Qt.ItemDataRole.UserRole).path)) for it in items])
        return mime


class ImageDialog(QDialog):
    """A large view of one result with its settings."""

    def __init__(self, item: GalleryItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtGui import QImage

        self.setWindowTitle(item.request.prompt or "(no prompt)")
        canvas = ImageCanvas()
        canvas.set_image(QImage(str(item.path)))
        text = QLabel(item.request.to_parameters())
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(canvas, 1)
        layout.addWidget(text)
        self.resize(520, 600)


class GalleryPanel(QWidget):
    useSettings = Signal(object)  # GalleryItem

    def __init__(self, store: GalleryStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.search = QLineEdit(placeholderText="search prompts…", clearButtonEnabled=True)
        self.show_deleted = QCheckBox("deleted")
        self.show_deleted.setToolTip("Show deleted items, so they can be restored")
        self.list = _ThumbList()
        self.open_button = QPushButton("Open")
        self.use_button = QPushButton("Use settings")
        self.delete_button = QPushButton("Delete")
        self.restore_button = QPushButton("Restore")
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.show_deleted)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.use_button, self.delete_button, self.restore_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._dialogs: list[ImageDialog] = []

        self.search.textChanged.connect(self.refresh)
        self.show_deleted.toggled.connect(self.refresh)
        self.list.itemDoubleClicked.connect(lambda it: self.open_item(it.data(Qt.ItemDataRole.UserRole)))
        self.open_button.clicked.connect(lambda: [self.open_item(i) for i in self.selected()])
        self.use_button.clicked.connect(self._use)
        self.delete_button.clicked.connect(self.delete_selected)
        self.restore_button.clicked.connect(self.restore_selected)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    def refresh(self) -> None:
        """List every item the search and the filter select (newest first), building each thumbnail."""
        items = self.store.items(self.search.text(), include_deleted=self.show_deleted.isChecked())
        self.list.clear()
        for item in items:
            self.list.addItem(self._entry(item))
        self._update_buttons()

    def add_items(self, items: list[GalleryItem]) -> None:
        """New results (a batch in order): one thumbnail each, at the top, where the search shows them."""
        for item in items:
            if self._shows(item):
                self.list.insertItem(0, self._entry(item))
        self._update_buttons()

    def _shows(self, item: GalleryItem) -> bool:
        """The store's own filter (``GalleryStore.items``), for one item."""
        query = self.search.text().casefold()
        return ((self.show_deleted.isChecked() or not item.deleted)
                and (not query or query in item.request.prompt.casefold()
                     or query in item.request.negative_prompt.casefold()))

    def _entry(self, item: GalleryItem) -> QListWidgetItem:
        w = QListWidgetItem(QIcon(thumbnail(str(item.path))), (item.request.prompt or "(no prompt)")[:24])
        w.setToolTip(item.request.to_parameters())
        self._set_item(w, item)
        return w

    @staticmethod
    def _set_item(w: QListWidgetItem, item: GalleryItem) -> None:
        w.setData(Qt.ItemDataRole.UserRole, item)
        w.setData(Qt.ItemDataRole.ForegroundRole, QColor(Qt.GlobalColor.gray) if item.deleted else None)

    def _changed(self, rows: list[QListWidgetItem], updated: list[GalleryItem]) -> None:
        """Deleted or restored items: kept in place (their file moved) or taken out, as the filter says."""
        for w, item in zip(rows, updated):
            if self._shows(item):
                self._set_item(w, item)
            else:
                self.list.takeItem(self.list.row(w))
        self._update_buttons()

    def selected(self) -> list[GalleryItem]:
        return [w.data(Qt.ItemDataRole.UserRole) for w in self.list.selectedItems()]

    def open_item(self, item: GalleryItem) -> None:
        dlg = ImageDialog(item, self)
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dlg]
        dlg.show()

    def delete_selected(self) -> None:
        rows = [w for w in self.list.selectedItems() if not w.data(Qt.ItemDataRole.UserRole).deleted]
        self._changed(rows, [self.store.delete(w.data(Qt.ItemDataRole.UserRole).id) for w in rows])

    def restore_selected(self) -> None:
        rows = [w for w in self.list.selectedItems() if w.data(Qt.ItemDataRole.UserRole).deleted]
        self._changed(rows, [self.store.restore(w.data(Qt.ItemDataRole.UserRole).id) for w in rows])

    def _use(self) -> None:
        sel = self.selected()
        if sel:
            self.useSettings.emit(sel[0])

    def _update_buttons(self) -> None:
        sel = self.selected()
        for b in (self.open_button, self.use_button):
            b.setEnabled(len(sel) > 0)
        self.delete_button.setEnabled(any(not s.deleted for s in sel))
        self.restore_button.setEnabled(any(s.deleted for s in sel))
