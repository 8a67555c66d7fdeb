"""Phrase chips: the prompt shown as one chip per comma-separated phrase, under the text box.

The row only presents and reports: it shows the phrases it is given and emits what the user did
(move, remove, edit, star, drop); the Prompt panel turns that into undoable text changes, and the
text's change then comes back here as the new list of phrases.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from ..core.prompt.phrases import split_phrases

CHIP_MIME = "application/x-genstudio-chip"  # {"row": id of the ChipRow, "index": phrase index}
DROP_HELP = ("Drag a chip to reorder, drag it out to remove it, double-click to edit. Drop text here to add "
             "phrases; drop a gallery image to use its prompt, Shift+drop to use all its settings.")


# --- what a drop carries -------------------------------------------------------------------------------
def chip_source(mime: QMimeData, row: "ChipRow") -> int | None:
    """The phrase index of a chip dragged from ``row`` itself, else None."""
    if not mime.hasFormat(CHIP_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(CHIP_MIME)).decode())
        return int(data["index"]) if data["row"] == id(row) else None
    except (ValueError, KeyError, TypeError):
        return None


def studio_pngs(mime: QMimeData) -> list[str]:
    """Local PNG files among the dropped URLs (gallery items drag out as these)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().lower().endswith(".png")]


def can_drop(mime: QMimeData) -> bool:
    """Chips, studio PNGs and text with a phrase in it; other files are left to the window."""
    if mime.hasUrls():
        return bool(studio_pngs(mime))
    return mime.hasFormat(CHIP_MIME) or (mime.hasText() and bool(split_phrases(mime.text())))


# --- layout ----------------------------------------------------------------------------------------------
class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping to a new line when the width runs out."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4, min_height: int = 0) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.min_height = min_height  # kept even when empty (the chip row stays a drop target)
        self.setContentsMargins(2, 2, 2, 2)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt naming)
        self._items.append(item)

    def insertWidget(self, index: int, widget: QWidget) -> None:  # noqa: N802
        # Let Qt make (and own) the item, as addWidget does, then move it into place.
        self.addWidget(widget)
        self._items.insert(index, self._items.pop())
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return max(self._arrange(QRect(0, 0, width, 0), move=False), self.min_height)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        size += QSize(m.left() + m.right(), m.top() + m.bottom())
        return size.expandedTo(QSize(0, self.min_height))

    def _arrange(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line = area.x(), area.y(), 0
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and line > 0:  # wrap, unless the line is still empty
                x, y, line = area.x(), y + line + self._spacing, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line = max(line, hint.height())
        return y + line - rect.y() + m.bottom()


# --- one chip ----------------------------------------------------------------------------------------------
class Chip(QFrame):
    """A phrase with a star (favourite) and a × (remove); drags, double-clicks to edit."""

    def __init__(self, row: "ChipRow", index: int, phrase: str) -> None:
        super().__init__(row)
        self.row, self.index, self.phrase = row, index, phrase
        self.setObjectName("chip")
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.label = QLabel(phrase)
        self.star = QToolButton(text="☆", autoRaise=True, toolTip="Save to favourites in the Phrases library")
        self.close_button = QToolButton(text="×", autoRaise=True, toolTip="Remove this phrase")
        for b in (self.star, self.close_button):
            b.setFixedSize(16, 16)
            b.setCursor(Qt.CursorShape.ArrowCursor)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 2, 1)
        layout.setSpacing(2)
        layout.addWidget(self.star)
        layout.addWidget(self.label)
        layout.addWidget(self.close_button)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._press: QPoint | None = None
        self.star.clicked.connect(lambda: row.favouriteToggled.emit(self.phrase))
        self.close_button.clicked.connect(lambda: row.removeRequested.emit(self.index))

    def set_phrase(self, index: int, phrase: str, favourite: bool | None) -> None:
        self.index, self.phrase = index, phrase
        self.label.setText(phrase)
        self.star.setVisible(favourite is not None)  # no library: nothing to star into
        self.star.setText("★" if favourite else "☆")
        self.star.setStyleSheet("color: #d9a400;" if favourite else "")
        self.star.setToolTip("Remove from favourites" if favourite else "Save to favourites in the Phrases library")

    def mousePressEvent(self, e) -> None:  # noqa: N802
        self._press = e.position().toPoint() if e.button() == Qt.MouseButton.LeftButton else None

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self._press is None or not e.buttons() & Qt.MouseButton.LeftButton:
            return
        if (e.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance():
            self._press = None
            self.row.drag_chip(self.index)  # may end with this chip replaced: touch nothing after it

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        self._press = None

    def mouseDoubleClickEvent(self, e) -> None:  # noqa: N802
        self.row.edit_chip(self.index)

    def contextMenuEvent(self, e) -> None:  # noqa: N802
        menu = QMenu(self)
        menu.addAction("Edit", lambda i=self.index: self.row.edit_chip(i))
        if self.star.isVisible():
            menu.addAction(self.star.toolTip(), lambda p=self.phrase: self.row.favouriteToggled.emit(p))
        menu.addAction("Remove", lambda i=self.index: self.row.removeRequested.emit(i))
        menu.exec(e.globalPos())


class ChipEditor(QLineEdit):
    """Edits a chip in place: Enter (or leaving it) commits, Esc cancels."""

    committed = Signal(str)
    cancelled = Signal()

    def __init__(self, text: str, parent: QWidget) -> None:
        super().__init__(text, parent)
        self._done = False
        self.setMinimumWidth(max(90, self.fontMetrics().horizontalAdvance(text) + 30))
        self.setToolTip("Enter: keep the edit (commas split it into several phrases); Esc: cancel")

    def event(self, e) -> bool:
        # Take Esc and Enter before the window's shortcuts (Esc cancels generation) can.
        if e.type() == e.Type.ShortcutOverride and e.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Return,
                                                              Qt.Key.Key_Enter):
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if e.key() == Qt.Key.Key_Escape:
            self.finish(commit=False)
        elif e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish(commit=True)
        else:
            super().keyPressEvent(e)

    def focusOutEvent(self, e) -> None:  # noqa: N802
        super().focusOutEvent(e)
        self.finish(commit=True)

    def finish(self, commit: bool) -> None:
        if self._done:
            return
        self._done = True
        if commit:
            self.committed.emit(self.text())
        else:
            self.cancelled.emit()


# --- the row ---------------------------------------------------------------------------------------------------
class ChipRow(QWidget):
    """Chips of the prompt's phrases. Emits requests; ``set_phrases`` shows the outcome."""

    removeRequested = Signal(int)
    editCommitted = Signal(int, str)  # phrase index, new text (may hold commas, or be empty)
    favouriteToggled = Signal(str)
    # A drop on the row: (QMimeData, insertion index, keyboard modifiers). The panel decides what it
    # means (a chip of this row moved, text, a gallery image) and calls consume_chip_drop for a move.
    dropped = Signal(object, int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setToolTip(DROP_HELP)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # so Ctrl+Z works after clicking a chip's ×
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setStyleSheet("QFrame#chip { border: 1px solid palette(mid); border-radius: 9px;"
                           " background: palette(button); }")
        # Qt asks a widget's layout, not the widget, for its height: the layout keeps the minimum.
        self.flow = FlowLayout(self, min_height=self.fontMetrics().height() + 14)
        self.chips: list[Chip] = []
        self.is_favourite: Callable[[str], bool] | None = None  # set when a phrase library is attached
        self.editor: ChipEditor | None = None
        self._phrases: list[str] = []
        self._indicator: int | None = None  # insertion index shown while something is dragged over
        self._dragging = False  # a chip of this row is being dragged: rebuilding would delete its source
        self._pending: list[str] | None = None
        self._consumed = False

    # --- showing ---------------------------------------------------------------------------------
    def phrases(self) -> list[str]:
        return list(self._phrases)

    def set_phrases(self, phrases: list[str]) -> None:
        if self._dragging:
            self._pending = list(phrases)
            return
        if phrases != self._phrases and self.editor is not None:
            self.cancel_edit()  # the phrase being edited changed under it
        self._phrases = list(phrases)
        while len(self.chips) > len(phrases):
            chip = self.chips.pop()
            self.flow.removeWidget(chip)
            chip.deleteLater()
        for i, phrase in enumerate(phrases):
            if i == len(self.chips):
                self.chips.append(Chip(self, i, phrase))
                self.flow.addWidget(self.chips[i])
                self.chips[i].show()  # now, not when the event loop next runs: the row is current at once
            self.chips[i].set_phrase(i, phrase, self.is_favourite(phrase) if self.is_favourite else None)
            self.chips[i].setEnabled(True)
        self.updateGeometry()
        self.update()

    def refresh_stars(self) -> None:
        self.set_phrases(self._phrases)

    def paintEvent(self, e) -> None:  # noqa: N802
        painter = QPainter(self)
        if not self._phrases:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            text = self.fontMetrics().elidedText("each phrase becomes a chip; drop text or images here",
                                                 Qt.TextElideMode.ElideRight, self.width() - 8)
            painter.drawText(self.rect().adjusted(6, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        if self._indicator is not None:
            painter.fillRect(self._indicator_rect(self._indicator), QColor(60, 130, 230))

    def _indicator_rect(self, index: int) -> QRect:
        shown = [c for c in self.chips if c.isVisible()]
        if not shown:
            return QRect(4, 2, 2, self.height() - 4)
        if index < len(shown):
            g = shown[index].geometry()
            return QRect(g.left() - 3, g.top(), 2, g.height())
        g = shown[-1].geometry()
        return QRect(g.right() + 2, g.top(), 2, g.height())

    def insertion_index_at(self, pos: QPoint) -> int:
        """Chips are in reading order: the drop goes before the first chip on a later line, or on the
        same line with its middle right of the pointer."""
        for i, chip in enumerate(self.chips):
            g = chip.geometry()
            if pos.y() < g.top() or (pos.y() <= g.bottom() and pos.x() < g.center().x()):
                return i
        return len(self.chips)

    # --- dragging a chip ---------------------------------------------------------------------------
    def mime_for(self, index: int) -> QMimeData:
        mime = QMimeData()
        mime.setData(CHIP_MIME, json.dumps({"row": id(self), "index": index}).encode())
        mime.setText(self._phrases[index])  # other applications (and the Phrases library) take the text
        return mime

    def drag_chip(self, index: int) -> None:
        chip = self.chips[index]
        drag = QDrag(self)
        drag.setMimeData(self.mime_for(index))
        drag.setPixmap(chip.grab())
        drag.setHotSpot(chip.mapFromGlobal(chip.cursor().pos()))
        chip.setEnabled(False)  # greyed out where it was, until the drop
        self._dragging, self._consumed, self._pending = True, False, None
        self.finish_drag(index, self.exec_drag(drag))

    def exec_drag(self, drag: QDrag) -> Qt.DropAction:
        """Runs the drag (a seam: tests drop without a windowing system's drag loop)."""
        return drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)

    def consume_chip_drop(self) -> None:
        """The dragged chip landed back in the prompt (moved): it must not be removed."""
        self._consumed = True

    def finish_drag(self, index: int, action: Qt.DropAction) -> None:
        """A chip dropped anywhere but the prompt is removed, unless the target copied it (the
        Phrases library does, to star it)."""
        consumed, self._consumed, self._dragging = self._consumed, False, False
        pending, self._pending = self._pending, None
        self.set_phrases(pending if pending is not None else self._phrases)
        if not consumed and action != Qt.DropAction.CopyAction:
            self.removeRequested.emit(index)

    # --- editing in place ----------------------------------------------------------------------------
    def edit_chip(self, index: int) -> None:
        if self.editor is not None:
            self.editor.finish(commit=True)
        if not 0 <= index < len(self.chips):
            return
        chip = self.chips[index]
        editor = ChipEditor(chip.phrase, self)
        self.editor = editor
        self.flow.insertWidget(self.flow.indexOf(chip), editor)
        chip.hide()
        editor.show()
        editor.selectAll()
        editor.setFocus()
        editor.committed.connect(lambda text, i=index: self._end_edit(i, text))
        editor.cancelled.connect(lambda i=index: self._end_edit(i, None))

    def cancel_edit(self) -> None:
        if self.editor is not None:
            self.editor.finish(commit=False)

    def _end_edit(self, index: int, text: str | None) -> None:
        editor, self.editor = self.editor, None
        if editor is not None:
            self.flow.removeWidget(editor)
            editor.hide()
            editor.deleteLater()  # it is inside its own key handler now
        if 0 <= index < len(self.chips):
            self.chips[index].show()
        self.setFocus()
        if text is not None and text.strip() != self._phrases[index]:
            self.editCommitted.emit(index, text)

    # --- drops ----------------------------------------------------------------------------------------
    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if can_drop(e.mimeData()):
            e.acceptProposedAction()
        else:
            e.ignore()

    def dragMoveEvent(self, e) -> None:  # noqa: N802
        if not can_drop(e.mimeData()):
            e.ignore()
            return
        e.acceptProposedAction()
        shows_place = not studio_pngs(e.mimeData())  # an image replaces the prompt: no place to show
        self._indicator = self.insertion_index_at(e.position().toPoint()) if shows_place else None
        self.update()

    def dragLeaveEvent(self, e) -> None:  # noqa: N802
        self._indicator = None
        self.update()

    def dropEvent(self, e) -> None:  # noqa: N802
        self._indicator = None
        self.update()
        if not can_drop(e.mimeData()):
            e.ignore()
            return
        e.setDropAction(Qt.DropAction.MoveAction if chip_source(e.mimeData(), self) is not None
                        else Qt.DropAction.CopyAction)
        e.accept()
        self.dropped.emit(e.mimeData(), self.insertion_index_at(e.position().toPoint()), e.modifiers())
