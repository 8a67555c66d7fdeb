"""The Prompt panel: what to draw, and what to steer away from.

The text box stays a plain QPlainTextEdit (typing is as fast as ever); under it the same prompt is
shown as phrase chips. One QUndoStack holds the prompt's whole history: typing (recorded from the
text's changes, consecutive keystrokes merged into one step per phrase), chip moves, removals and
edits, drops and library inserts. The document's own undo is off so there is a single history.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QDragLeaveEvent, QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QCompleter, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from ..core.errors import StudioError
from ..core.prompt.phrases import (
    current_phrase,
    insert_phrases,
    insertion_index,
    join_phrases,
    move_phrase,
    split_phrases,
    vocabulary,
)
from ..store.pngmeta import read_settings
from .prompt_chips import DROP_HELP, ChipRow, can_drop, chip_source, studio_pngs

ALL_SETTINGS = Qt.KeyboardModifier.ShiftModifier  # held while dropping a gallery image: all its settings
_UNDO_KEYS = ("Ctrl+Z",)
_REDO_KEYS = ("Ctrl+Shift+Z", "Ctrl+Y")
_SHORTCUT_MODS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                  | Qt.KeyboardModifier.MetaModifier)


@dataclass(frozen=True)
class _State:
    text: str
    negative: str | None  # None: this step leaves the negative prompt alone
    cursor: int


@dataclass(frozen=True)
class _Typing:
    """What a keystroke did, to decide whether it continues the previous step."""
    kind: str  # "ins" or "del"
    start: int
    end: int
    text: str  # inserted or removed text


def _diff(before: str, after: str) -> tuple[int, str, str]:
    """(position, removed, inserted) of the one contiguous change that turns before into after."""
    p = 0
    while p < min(len(before), len(after)) and before[p] == after[p]:
        p += 1
    s = 0
    while s < min(len(before), len(after)) - p and before[-1 - s] == after[-1 - s]:
        s += 1
    return p, before[p:len(before) - s], after[p:len(after) - s]


class _Change(QUndoCommand):
    TYPING_ID = 4711

    def __init__(self, panel: "PromptPanel", label: str, before: _State, after: _State,
                 typing: _Typing | None = None, applied: bool = False) -> None:
        super().__init__(label)
        self.panel, self.before, self.after, self.typing = panel, before, after, typing
        self._skip_redo = applied  # typing already happened in the box: the first redo must not redo it

    def id(self) -> int:
        return self.TYPING_ID if self.typing else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt naming)
        a, b = self.typing, other.typing if isinstance(other, type(self)) else None
        if a is None or b is None or other.before.text != self.after.text or a.kind != b.kind:
            return False
        if a.kind == "ins":
            # A comma starts a new phrase, and a new undo step with it.
            if b.start != a.end or b.text.startswith(","):
                return False
            merged = _Typing("ins", a.start, b.end, a.text + b.text)
        elif b.end == a.start:  # Backspace, again and again
            merged = _Typing("del", b.start, a.end, b.text + a.text)
        elif b.start == a.start:  # Delete, again and again
            merged = _Typing("del", a.start, a.end + len(b.text), a.text + b.text)
        else:
            return False
        self.typing, self.after = merged, other.after
        return True

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.panel._restore(self.after)

    def undo(self) -> None:
        self.panel._restore(self.before)


class PromptEdit(QPlainTextEdit):
    """The text box: routes Ctrl+Z to the panel's undo stack, completes the phrase being typed and
    hands drops to the panel (text becomes phrases at the drop, an image brings its prompt)."""

    dropped = Signal(object, int, object)  # QMimeData, phrase insertion index, keyboard modifiers

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.typing = False  # inside a key press: the change it makes may merge with the last one
        self.document().setUndoRedoEnabled(False)
        self.completion_model = QStringListModel(self)
        self.completer = QCompleter(self.completion_model, self)
        self.completer.setWidget(self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)  # "boot" finds "an ankle boot"
        self.completer.activated[str].connect(self.insert_completion)

    # --- keys ----------------------------------------------------------------------------------------
    def event(self, e) -> bool:
        if (e.type() == e.Type.ShortcutOverride and e.key() == Qt.Key.Key_Escape
                and self.completer.popup().isVisible()):
            e.accept()  # Esc closes the completion list before it cancels a generation
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:  # noqa: N802
        popup = self.completer.popup()
        if popup.isVisible() and e.key() == Qt.Key.Key_Escape:
            popup.hide()
            return
        if popup.isVisible() and e.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Tab,
                                             Qt.Key.Key_Backtab):
            e.ignore()  # the completer takes these: they pick the highlighted phrase
            return
        if _matches(e, QKeySequence.StandardKey.Undo, _UNDO_KEYS):
            self.undo_stack.undo()
            return
        if _matches(e, QKeySequence.StandardKey.Redo, _REDO_KEYS):
            self.undo_stack.redo()
            return
        # Only keystrokes merge into one undo step; a paste or a cut is a step of its own.
        self.typing = (len(e.text()) == 1 and e.text().isprintable() and not e.modifiers() & _SHORTCUT_MODS
                       or e.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete))
        try:
            super().keyPressEvent(e)
        finally:
            self.typing = False
        if e.text() and (e.text().isprintable() or e.key() == Qt.Key.Key_Backspace):
            self.update_completion()
        elif e.key() not in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            self.completer.popup().hide()

    def contextMenuEvent(self, e) -> None:  # noqa: N802
        menu = self.createStandardContextMenu(e.pos())
        for action in menu.actions():  # the built-in entries would use the (disabled) document undo
            name = action.objectName()
            if name in ("edit-undo", "edit-redo"):
                try:
                    action.triggered.disconnect()
                except (RuntimeError, TypeError):
                    pass  # nothing was connected
                undo = name == "edit-undo"
                action.triggered.connect(self.undo_stack.undo if undo else self.undo_stack.redo)
                action.setEnabled(self.undo_stack.canUndo() if undo else self.undo_stack.canRedo())
        menu.exec(e.globalPos())
        menu.deleteLater()

    # --- completion -----------------------------------------------------------------------------------
    def set_completions(self, phrases: list[str]) -> None:
        self.completion_model.setStringList(phrases)

    def update_completion(self) -> None:
        """Offer phrases containing the text after the last comma (2 characters or more)."""
        _, prefix = current_phrase(self.toPlainText(), self.textCursor().position())
        popup = self.completer.popup()
        if len(prefix.strip()) < 2:
            popup.hide()
            return
        self.completer.setCompletionPrefix(prefix)
        count = self.completer.completionCount()
        if count == 0 or (count == 1 and self.completer.currentCompletion().casefold() == prefix.casefold()):
            popup.hide()  # nothing to offer beyond what is typed
            return
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width())
        self.completer.complete(rect)

    def completions(self) -> list[str]:
        """What the completer offers now, in order (for tests and the curious)."""
        model = self.completer.completionModel()
        return [model.index(i, 0).data() for i in range(model.rowCount())]

    def insert_completion(self, completion: str) -> None:
        cursor = self.textCursor()
        start, _ = current_phrase(self.toPlainText(), cursor.position())
        cursor.setPosition(start, cursor.MoveMode.KeepAnchor)
        cursor.insertText(completion)  # recorded as its own undo step (not typing)
        self.setTextCursor(cursor)

    # --- drops --------------------------------------------------------------------------------------------
    def _own_text_drag(self, e) -> bool:
        """Selected text dragged within the box moves as in any text box."""
        return e.source() in (self, self.viewport())

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if self._own_text_drag(e):
            super().dragEnterEvent(e)
        elif can_drop(e.mimeData()):
            e.acceptProposedAction()
        else:
            e.ignore()

    def dragMoveEvent(self, e) -> None:  # noqa: N802
        if self._own_text_drag(e):
            super().dragMoveEvent(e)
        elif can_drop(e.mimeData()):
            if e.mimeData().hasText():
                super().dragMoveEvent(e)  # shows the drop caret
            e.acceptProposedAction()
        else:
            e.ignore()

    def dropEvent(self, e) -> None:  # noqa: N802
        if self._own_text_drag(e):
            super().dropEvent(e)
            return
        if not can_drop(e.mimeData()):
            e.ignore()
            return
        super().dragLeaveEvent(QDragLeaveEvent())  # take the drop caret away
        offset = self.cursorForPosition(e.position().toPoint()).position()
        e.acceptProposedAction()
        self.dropped.emit(e.mimeData(), insertion_index(self.toPlainText(), offset), e.modifiers())


def _matches(e, standard: QKeySequence.StandardKey, extra: tuple[str, ...]) -> bool:
    if e.matches(standard):
        return True
    combo = QKeySequence(e.keyCombination()).toString()
    return combo in extra


class PromptPanel(QWidget):
    settingsDropped = Signal(object)  # GenerationRequest of a gallery image dropped with Shift held

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.prompt = PromptEdit(self.undo_stack)
        self.prompt.setPlaceholderText("a sneaker   (empty: sample without a prompt)")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setMaximumHeight(72)
        self.prompt.setToolTip(DROP_HELP)
        self.chips = ChipRow()
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("negative prompt: what to steer away from (optional)")
        self.hint = QLabel()  # what the last drop did (or why it could not)
        self.hint.setWordWrap(True)
        self.hint.hide()
        self._hint_timer = QTimer(self, singleShot=True, interval=8000, timeout=self.hint.hide)
        self.library = None  # the PhraseLibraryPanel, once use_library attaches it
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addWidget(self.chips)
        layout.addWidget(self.negative)
        layout.addWidget(self.hint)
        layout.addStretch(1)

        self._shadow = ""  # the text as last seen: a change is diffed against it to record the step
        self._applying = False  # the panel itself is changing the text (undo, redo, chip actions)
        self.prompt.set_completions([w for ws in vocabulary().values() for w in ws])
        self.prompt.textChanged.connect(self._text_changed)
        self.prompt.dropped.connect(self.handle_drop)
        self.chips.dropped.connect(self.handle_drop)
        self.chips.removeRequested.connect(self.remove_phrase)
        self.chips.editCommitted.connect(self.edit_phrase)
        self.chips.favouriteToggled.connect(self._toggle_favourite)
        self._undo_shortcuts(self)

    # --- the public face (what the window and tests use) -------------------------------------------------
    def text(self) -> str:
        return " ".join(self.prompt.toPlainText().split())

    def negative_text(self) -> str:
        return self.negative.text().strip()

    def set_text(self, prompt: str, negative: str = "") -> None:
        """Replace prompt and negative prompt: one undo step once the panel is on screen; before that
        (settings restored at start-up) it is the starting point, with no history."""
        if not self.isVisible():
            self._applying = True
            try:
                self.prompt.setPlainText(prompt)
                self.negative.setText(negative)
            finally:
                self._applying = False
            self.undo_stack.clear()
            return
        self._change(prompt, "Set prompt", negative=negative)

    def phrases(self) -> list[str]:
        return split_phrases(self.prompt.toPlainText())

    def use_library(self, library) -> None:
        """Attach the Phrases dock: its phrases complete typing, double-clicked ones are inserted,
        chips can be starred into it, and Ctrl+Z there undoes prompt changes too."""
        self.library = library
        self.chips.is_favourite = library.store.is_favourite
        library.insertRequested.connect(lambda phrase: self.insert_phrases([phrase], label="Insert phrase"))
        library.changed.connect(self._library_changed)
        self._undo_shortcuts(library)
        self._library_changed()

    # --- phrase actions (each one undo step) ------------------------------------------------------------
    def insert_phrases(self, phrases: list[str], index: int | None = None, label: str = "Add phrases") -> None:
        current = self.phrases()
        self._set_phrases(insert_phrases(current, len(current) if index is None else index, phrases), label)

    def move_phrase(self, src: int, dst: int) -> None:
        self._set_phrases(move_phrase(self.phrases(), src, dst), "Move phrase")

    def remove_phrase(self, index: int) -> None:
        phrases = self.phrases()
        if 0 <= index < len(phrases):
            self._set_phrases(phrases[:index] + phrases[index + 1:], "Remove phrase")

    def edit_phrase(self, index: int, text: str) -> None:
        """A chip edited in place; commas in the new text make several phrases, empty removes it."""
        phrases = self.phrases()
        if 0 <= index < len(phrases):
            self._set_phrases(phrases[:index] + split_phrases(text) + phrases[index + 1:], "Edit phrase")

    def handle_drop(self, mime, index: int, modifiers) -> bool:
        """A drop on the text box or the chips: a chip of ours moves, a gallery image brings its
        prompt (all its settings with Shift), text becomes phrases at ``index``."""
        src = chip_source(mime, self.chips)
        if src is not None:
            self.chips.consume_chip_drop()
            self.move_phrase(src, index)
            return True
        files = studio_pngs(mime)
        if files:
            return self.drop_image(files[0], all_settings=bool(modifiers & ALL_SETTINGS))
        phrases = split_phrases(mime.text()) if mime.hasText() else []
        if phrases:
            self.insert_phrases(phrases, index, "Drop text")
        return bool(phrases)

    def drop_image(self, path: str, all_settings: bool = False) -> bool:
        try:
            req, _ = read_settings(Path(path))
        except StudioError as e:
            self._show_hint(f"{Path(path).name}: {e}", error=True)
            return False
        if all_settings:
            self.settingsDropped.emit(req)  # the window applies them; its set_text is the undo step
            self._show_hint(f"All settings of {Path(path).name} restored.")
        else:
            self._change(req.prompt, "Use prompt of image", negative=req.negative_prompt)
            self._show_hint(f"Prompt of {Path(path).name}; Shift+drop brings all its settings.")
        return True

    # --- undo machinery ----------------------------------------------------------------------------------------
    def _set_phrases(self, phrases: list[str], label: str) -> None:
        self._change(join_phrases(phrases), label)

    def _change(self, text: str, label: str, negative: str | None = None) -> None:
        if text == self._shadow and (negative is None or negative == self.negative.text()):
            return
        before = _State(self._shadow, None if negative is None else self.negative.text(),
                        self.prompt.textCursor().position())
        self.undo_stack.push(_Change(self, label, before, _State(text, negative, len(text))))

    def _restore(self, state: _State) -> None:
        """Put a recorded state back, changing only the part of the text that differs."""
        self._applying = True
        try:
            pos, removed, added = _diff(self.prompt.toPlainText(), state.text)
            if removed or added:
                cursor = self.prompt.textCursor()
                cursor.setPosition(pos)
                cursor.setPosition(pos + len(removed), cursor.MoveMode.KeepAnchor)
                cursor.insertText(added)
            cursor = self.prompt.textCursor()
            cursor.setPosition(min(state.cursor, len(state.text)))
            self.prompt.setTextCursor(cursor)
            if state.negative is not None and state.negative != self.negative.text():
                self.negative.setText(state.negative)
        finally:
            self._applying = False
        self._text_changed()

    def _text_changed(self) -> None:
        text = self.prompt.toPlainText()
        if not self._applying and text != self._shadow:
            pos, removed, added = _diff(self._shadow, text)
            typing = None
            if self.prompt.typing and bool(removed) != bool(added):
                typing = (_Typing("ins", pos, pos + len(added), added) if added
                          else _Typing("del", pos, pos + len(removed), removed))
            before = _State(self._shadow, None, pos + len(removed))
            after = _State(text, None, pos + len(added))
            self._shadow = text
            self.undo_stack.push(_Change(self, "Typing" if typing else "Edit prompt", before, after,
                                         typing, applied=True))
        self._shadow = text
        self.chips.set_phrases(split_phrases(text))

    def _undo_shortcuts(self, widget: QWidget) -> None:
        """Ctrl+Z / Ctrl+Shift+Z anywhere in ``widget`` (the text box handles its own keys)."""
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in ((_UNDO_KEYS, self.undo_stack.undo), (_REDO_KEYS, self.undo_stack.redo)):
            for k in keys:
                shortcut = QShortcut(QKeySequence(k), widget)
                shortcut.setContext(ctx)  # (the constructor's context argument is lost with a slot given)
                shortcut.activated.connect(slot)

    # --- library ---------------------------------------------------------------------------------------------
    def _toggle_favourite(self, phrase: str) -> None:
        if self.library is not None:
            self.library.toggle_favourite(phrase)

    def _library_changed(self) -> None:
        self.prompt.set_completions(self.library.store.completions())
        self.chips.refresh_stars()

    def _show_hint(self, message: str, error: bool = False) -> None:
        self.hint.setText(message)
        self.hint.setStyleSheet("color: #e66;" if error else "")
        self.hint.show()
        self._hint_timer.start()

