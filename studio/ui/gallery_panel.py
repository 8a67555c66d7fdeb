"""The Gallery panel: thumbnails of past results, search, open large, delete/restore, reuse settings.
Items drag out as PNG files, so they can be dropped on the window or on other applications."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QIcon
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
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(84, 84))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setDragEnabled(True)
        self.list.setMovement(QListWidget.Movement.Static)
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
        items = self.store.items(self.search.text(), include_deleted=self.show_deleted.isChecked())
        self.list.clear()
        for item in items:
            label = (item.request.prompt or "(no prompt)")[:24]
            w = QListWidgetItem(QIcon(thumbnail(str(item.path))), label)
            w.setToolTip(item.request.to_parameters())
            w.setData(Qt.ItemDataRole.UserRole, item)
            if item.deleted:
                w.setForeground(Qt.GlobalColor.gray)
            self.list.addItem(w)
        self._update_buttons()

    def selected(self) -> list[GalleryItem]:
        return [w.data(Qt.ItemDataRole.UserRole) for w in self.list.selectedItems()]

    def open_item(self, item: GalleryItem) -> None:
        dlg = ImageDialog(item, self)
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dlg]
        dlg.show()

    def delete_selected(self) -> None:
        for item in self.selected():
            if not item.deleted:
                self.store.delete(item.id)
        self.refresh()

    def restore_selected(self) -> None:
        for item in self.selected():
            if item.deleted:
                self.store.restore(item.id)
        self.refresh()

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
