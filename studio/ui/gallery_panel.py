"""The Gallery panel: thumbnails of past results, search, open large, delete/restore, reuse settings.
Items drag out as PNG files, so they can be dropped on the window or on other applications. A new
result adds one thumbnail and a deletion removes one: only a new search or filter lists them all again.
A clip (a filmstrip PNG) plays in its thumbnail, all of them on one shared timer, and exports as a GIF or
MP4 that carries its settings."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.clips import frames_of
from ..core.errors import StudioError
from ..store.gallery import GalleryItem, GalleryStore
from .canvas import ImageCanvas
from .clip_player import DEFAULT_FPS, EXPORTS, ClipPlayer, ask_clip_path, clip_frames, export_clip
from .qimage import thumbnail

ICON = 84  # px of a thumbnail
CLIP_ROLE = Qt.ItemDataRole.UserRole + 1  # a clip item's frames as icons (list[QIcon]); None for a still image
PLAY_MS = round(1000 / DEFAULT_FPS)  # the thumbnails play at the players' default speed


def clip_icons(item: GalleryItem, size: int = ICON) -> list[QIcon] | None:
    """Each frame of a clip item's filmstrip as an icon; None for a still image (or an unreadable file)."""
    frames = clip_frames(item.request)
    if frames <= 1:
        return None
    strip = QImage(str(item.path))
    if strip.isNull() or strip.width() % frames:
        return None
    w = strip.width() // frames
    return [QIcon(QPixmap.fromImage(strip.copy(k * w, 0, w, strip.height())).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
        for k in range(frames)]


def read_strip(item: GalleryItem) -> np.ndarray:
    """A clip item's filmstrip (H, T*W, 3) uint8."""
    from PIL import Image

    try:
        with Image.open(item.path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as e:
        raise StudioError(f"{item.path.name} could not be read ({e}).") from None


class _ThumbList(QListWidget):
    """Icons that drag out as files and never move inside the list."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(ICON, ICON))
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
    """A large view of one result with its settings; a clip also plays, under its filmstrip."""

    def __init__(self, item: GalleryItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(item.request.prompt or "(no prompt)")
        canvas = ImageCanvas()
        image = QImage(str(item.path))
        canvas.set_image(image)
        text = QLabel(item.request.to_parameters())
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(canvas, 1)
        self.player: ClipPlayer | None = None
        frames = clip_frames(item.request)
        if frames > 1 and not image.isNull():
            self.player = ClipPlayer()
            try:
                self.player.set_clip(read_strip(item), frames, item.request, batch_index=item.batch_index, play=True)
            except (StudioError, ValueError):
                self.player.clear("The clip could not be read.")
            layout.addWidget(self.player, 2)
        layout.addWidget(text)
        self.resize(520, 600)


class GalleryPanel(QWidget):
    useSettings = Signal(object)  # GalleryItem
    message = Signal(str, bool)  # text, whether it is an error (for the status bar): what an export did

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
        # One timer plays every clip thumbnail in view (not one per item): each shows frame phase % T.
        self.phase = 0
        self._play_timer = QTimer(self, interval=PLAY_MS)
        self._play_timer.timeout.connect(self._next_frame)
        self.context_menu: QMenu | None = None
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)

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
        self._update_playing()

    def add_items(self, items: list[GalleryItem]) -> None:
        """New results (a batch in order): one thumbnail each, at the top, where the search shows them."""
        for item in items:
            if self._shows(item):
                self.list.insertItem(0, self._entry(item))
        self._update_buttons()
        self._update_playing()

    def _shows(self, item: GalleryItem) -> bool:
        """The store's own filter (``GalleryStore.items``), for one item."""
        query = self.search.text().casefold()
        return ((self.show_deleted.isChecked() or not item.deleted)
                and (not query or query in item.request.prompt.casefold()
                     or query in item.request.negative_prompt.casefold()))

    def _entry(self, item: GalleryItem) -> QListWidgetItem:
        frames = clip_icons(item)
        icon = frames[0] if frames else QIcon(thumbnail(str(item.path)))
        w = QListWidgetItem(icon, (item.request.prompt or "(no prompt)")[:24])
        w.setToolTip(item.request.to_parameters())
        w.setData(CLIP_ROLE, frames)
        self._set_item(w, item)
        return w

    # --- clips playing in their thumbnails ----------------------------------------------------------
    def _clip_rows(self) -> list[QListWidgetItem]:
        return [w for w in map(self.list.item, range(self.list.count())) if w.data(CLIP_ROLE)]

    def _update_playing(self) -> None:
        """The shared timer runs while the panel shows at least one clip thumbnail."""
        if self.isVisible() and self._clip_rows():
            if not self._play_timer.isActive():
                self._play_timer.start()
        else:
            self._play_timer.stop()

    def _next_frame(self) -> None:
        """Every clip thumbnail in view on to its next frame (those scrolled away are left as they are)."""
        self.phase += 1
        view = self.list.viewport().rect()
        rows = self._clip_rows()
        for w in rows:
            if self.list.visualItemRect(w).intersects(view):
                frames = w.data(CLIP_ROLE)
                w.setIcon(frames[self.phase % len(frames)])
        if not rows:
            self._play_timer.stop()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._update_playing()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self._play_timer.stop()

    # --- the context menu and clip exports ----------------------------------------------------------
    def _context_menu(self, pos) -> None:
        w = self.list.itemAt(pos)
        if w is None:
            return
        item: GalleryItem = w.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_item(item))
        menu.addAction("Use settings", lambda: self.useSettings.emit(item))
        if w.data(CLIP_ROLE):
            menu.addSeparator()
            for kind, (what, _) in EXPORTS.items():
                menu.addAction(f"Export {what}…", lambda kind=kind: self.ask_export(item, kind))
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        self.context_menu = menu  # the menu open (or last open)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def export(self, item: GalleryItem, path: str | Path) -> Path:
        """A clip item as a GIF or MP4 (by the suffix), carrying its settings."""
        frames = clip_frames(item.request)
        if frames <= 1:
            raise StudioError(f"Gallery item {item.id} is a still image, not a clip.")
        return export_clip(path, frames_of(read_strip(item), frames), DEFAULT_FPS, item.request, item.batch_index)

    def ask_export(self, item: GalleryItem, kind: str) -> Path | None:
        """Ask where, then export; what happened is said through ``message``, never raised."""
        path = ask_clip_path(self, f"Export gallery item {item.id} as {EXPORTS[kind][0]}", f"clip-{item.id}", kind)
        if path is None:
            return None
        try:
            written = self.export(item, path)
        except (StudioError, OSError, ValueError) as e:
            self.message.emit(f"Gallery item {item.id} was not exported: {e}", True)
            return None
        self.message.emit(f"Exported gallery item {item.id} to {written}.", False)
        return written

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
        self._update_playing()

    def selected(self) -> list[GalleryItem]:
        return [w.data(Qt.ItemDataRole.UserRole) for w in self.list.selectedItems()]

    def open_item(self, item: GalleryItem) -> None:
        dlg = ImageDialog(item, self)
        if dlg.player is not None:
            dlg.player.message.connect(self.message)
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
