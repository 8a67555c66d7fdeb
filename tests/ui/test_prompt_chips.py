"""The prompt as phrases: parsing and the phrase library (core, no Qt), then chips, drops, the
Phrases dock, completion and undo on the real window, offscreen."""
from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.prompt import phrases as ph
from studio.store.phrases import PhraseStore

# --- core: parsing ----------------------------------------------------------------------------------------


def test_split_and_join_normalise_phrases():
    assert ph.split_phrases(" a bag ,,  red\n shiny ,on a table, ") == ["a bag", "red shiny", "on a table"]
    assert ph.split_phrases("") == [] and ph.split_phrases(" , ,") == []
    assert ph.join_phrases(["a bag", " red ", "", "x, y"]) == "a bag, red, x y"
    assert ph.split_phrases(ph.join_phrases(["a", "b c"])) == ["a", "b c"]


def test_phrase_spans_and_insertion_index_never_split_a_phrase():
    text = "a bag,  red , on a table"
    spans = ph.phrase_spans(text)
    assert [text[a:b] for a, b in spans] == ["a bag", "red", "on a table"]
    assert ph.insertion_index(text, 0) == 0
    assert ph.insertion_index(text, 1) == 0, "left half of 'a bag': before it"
    assert ph.insertion_index(text, 4) == 1, "right half of 'a bag': after it"
    assert ph.insertion_index(text, text.index(",")) == 1
    assert ph.insertion_index(text, len(text)) == 3


def test_current_phrase_is_the_text_after_the_last_comma():
    assert ph.current_phrase("a bag, sne", 10) == (7, "sne")
    assert ph.current_phrase("a bag, sne", 3) == (0, "a b")
    assert ph.current_phrase("a bag,", 6) == (6, "")


def test_move_and_insert_phrases():
    p = ["a", "b", "c", "d"]
    assert ph.move_phrase(p, 3, 0) == ["d", "a", "b", "c"]
    assert ph.move_phrase(p, 0, 4) == ["b", "c", "d", "a"]
    assert ph.move_phrase(p, 1, 3) == ["a", "c", "b", "d"]
    assert ph.move_phrase(p, 1, 1) == p and ph.move_phrase(p, 1, 2) == p and ph.move_phrase(p, 9, 0) == p
    assert ph.insert_phrases(p, 1, ["x", " ", "y"]) == ["a", "x", "y", "b", "c", "d"]
    assert ph.insert_phrases(p, 99, ["z"])[-1] == "z"


# --- core: vocabulary and the store -------------------------------------------------------------------------------


def test_vocabulary_holds_the_data_sets_words_and_takes_new_sections(monkeypatch):
    from studio.core.data.fashion_mnist import CLASSES, SYNONYMS

    vocab = ph.vocabulary()
    fashion = vocab["Fashion-MNIST"]
    assert all(s in fashion for syns in SYNONYMS for s in syns)
    assert all(c.lower() in fashion for c in CLASSES) and len(fashion) == len(set(fashion))
    assert {"smiling", "with glasses", "blond hair"} <= set(vocab["Faces"])
    assert {"a red circle", "to the left of", "two triangles"} <= set(vocab["Shapes"]), "the Shapes data set's words"
    # the hook: a data module's PHRASES, or any provider, become a section
    monkeypatch.setattr(ph, "_PROVIDERS", dict(ph._PROVIDERS))
    assert ph.module_phrases("no_such_data_set")() == []
    ph.register_vocabulary("Mine", lambda: ["a red circle", "a blue square", "a red circle"])
    ph.register_vocabulary("Broken", lambda: 1 / 0)
    vocab = ph.vocabulary()
    assert vocab["Mine"] == ["a red circle", "a blue square"] and "Broken" not in vocab


def test_store_keeps_recent_phrases_newest_first_capped_and_persisted(tmp_path):
    path = tmp_path / "phrases.json"
    store = PhraseStore(path, max_recent=4)
    store.record_prompt("a bag, red")
    store.record_prompt("a coat, Red, long")
    assert store.recent == ["a coat", "Red", "long", "a bag"], "a phrase used again moves to the front"
    store.record_prompt("")
    assert store.recent == ["a coat", "Red", "long", "a bag"]
    assert PhraseStore(path, max_recent=4).recent == store.recent
    assert json.loads(path.read_text())["recent"] == store.recent
    assert [p.name for p in tmp_path.iterdir()] == ["phrases.json"], "atomic writes leave no temporary files"
    store.clear_recent()
    assert PhraseStore(path).recent == []


def test_store_favourites_persist_and_lead_the_completions(tmp_path):
    path = tmp_path / "phrases.json"
    store = PhraseStore(path)
    assert store.add_favourite(" studio  lighting ") and not store.add_favourite("Studio lighting")
    assert store.toggle_favourite("pastel") and store.is_favourite("PASTEL")
    store.record_prompt("a bag")
    again = PhraseStore(path)
    assert again.favourites == ["studio lighting", "pastel"]
    assert again.completions()[:3] == ["studio lighting", "pastel", "a bag"]
    assert "a sneaker" in again.completions() and "with glasses" in again.completions()
    assert not again.toggle_favourite("pastel") and PhraseStore(path).favourites == ["studio lighting"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"recent": "a bag"}', "\xff\xfe"])
def test_a_corrupt_store_is_set_aside_and_starts_empty(tmp_path, content):
    path = tmp_path / "phrases.json"
    path.write_bytes(content.encode("latin-1"))
    store = PhraseStore(path)
    assert store.recent == [] and store.favourites == []
    assert store.warning and "could not be read" in store.warning
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("phrases.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content.encode("latin-1"), "kept, not deleted"
    store.add_favourite("kept")
    assert PhraseStore(path).favourites == ["kept"] and PhraseStore(path).warning is None


def test_store_ignores_stray_entries(tmp_path):
    path = tmp_path / "phrases.json"
    path.write_text(json.dumps({"recent": ["a bag", 3, None, "a bag"], "favourites": ["x", {"y": 1}]}))
    store = PhraseStore(path)
    assert store.recent == ["a bag"] and store.favourites == ["x"] and store.warning is None


# --- the window ---------------------------------------------------------------------------------------------------
pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.core.request import GenerationRequest  # noqa: E402

Mod = Qt.KeyboardModifier


@pytest.fixture
def window(qtbot, data_dir):
    from studio.ui.app import build_window

    w = build_window(preload=False)
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()  # keyboard shortcuts (Ctrl+Z outside the text box) need the window active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    assert w.model_panel.select("diffusion", "diffusion-fmnist")  # shipped; nothing loads without a job
    assert w.prompt_panel.isEnabled()
    yield w
    w.prompt_panel.prompt.completer.popup().hide()
    w.controller.cancel()
    w.latent.shutdown()
    w.store.close()


def type_prompt(qtbot, window, text: str) -> None:
    window.prompt_panel.prompt.clear()
    qtbot.keyClicks(window.prompt_panel.prompt, text)
    window.prompt_panel.prompt.completer.popup().hide()


def chip_texts(panel) -> list[str]:
    return [c.label.text() for c in panel.chips.chips if not c.isHidden()]


def drop(widget, mime: QMimeData, pos: QPoint, modifiers=Mod.NoModifier) -> QDropEvent:
    """A real drop event, handed to the widget's drop handling as Qt would."""
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, mime,
                       Qt.MouseButton.LeftButton, modifiers)
    widget.dropEvent(event)
    return event


def text_mime(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    return mime


def left_of(chip) -> QPoint:
    """A point on the left half of a chip, in the chip row's coordinates."""
    g = chip.geometry()
    return QPoint(g.left() + 2, g.center().y())


def undo_key(qtbot, widget, redo: bool = False) -> None:
    mods = Mod.ControlModifier | (Mod.ShiftModifier if redo else Mod.NoModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Z, mods)


def test_chips_follow_the_text_and_typing_undoes_phrase_by_phrase(qtbot, window):
    panel = window.prompt_panel
    type_prompt(qtbot, window, "a bag, red ,shiny")
    assert chip_texts(panel) == ["a bag", "red", "shiny"] and panel.text() == "a bag, red ,shiny"
    panel.prompt.setPlainText("a coat,, long")
    assert chip_texts(panel) == ["a coat", "long"]
    panel.prompt.clear()
    assert chip_texts(panel) == []
    qtbot.keyClicks(panel.prompt, "a bag, red")
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Backspace)
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Backspace)
    assert panel.prompt.toPlainText() == "a bag, r"
    undo_key(qtbot, panel.prompt)
    assert panel.prompt.toPlainText() == "a bag, red", "the backspaces are one step"
    undo_key(qtbot, panel.prompt)
    assert panel.prompt.toPlainText() == "a bag", "', red' was typed as one step: a comma starts a new one"
    undo_key(qtbot, panel.prompt)
    assert panel.prompt.toPlainText() == "" and chip_texts(panel) == []
    undo_key(qtbot, panel.prompt, redo=True)
    undo_key(qtbot, panel.prompt, redo=True)
    assert panel.prompt.toPlainText() == "a bag, red" and chip_texts(panel) == ["a bag", "red"]
    QApplication.clipboard().setText("dish")
    qtbot.keyClick(panel.prompt, Qt.Key.Key_V, Mod.ControlModifier)
    assert panel.prompt.toPlainText() == "a bag, reddish"
    undo_key(qtbot, panel.prompt)
    assert panel.prompt.toPlainText() == "a bag, red", "a paste is a step of its own"
    assert not panel.prompt.document().isUndoRedoEnabled(), "one history: the panel's stack"


def test_drag_a_chip_with_the_mouse_to_reorder_then_undo(qtbot, window, monkeypatch):
    panel, row = window.prompt_panel, window.prompt_panel.chips
    type_prompt(qtbot, window, "a bag, red, shiny")
    first = row.chips[0]
    actions = []

    def fake_exec(drag):  # the windowing system's drag loop, which offscreen Qt lacks: drop on chip 0
        actions.append(drop(row, drag.mimeData(), left_of(first)).dropAction())
        assert panel.phrases() == ["shiny", "a bag", "red"] and chip_texts(panel) == ["a bag", "red", "shiny"], \
            "the text moves at once; the chips wait for the drag to end (the dragged one is its source)"
        return actions[-1]

    monkeypatch.setattr(row, "exec_drag", fake_exec)
    label = row.chips[2].label
    qtbot.mousePress(label, Qt.MouseButton.LeftButton, pos=label.rect().center())
    qtbot.mouseMove(label, label.rect().center() + QPoint(30, 3))
    qtbot.mouseRelease(label, Qt.MouseButton.LeftButton)
    assert actions == [Qt.DropAction.MoveAction]
    assert panel.prompt.toPlainText() == "shiny, a bag, red" and chip_texts(panel) == ["shiny", "a bag", "red"]
    row.setFocus()
    undo_key(qtbot, row)
    assert panel.prompt.toPlainText() == "a bag, red, shiny"
    undo_key(qtbot, row, redo=True)
    assert panel.prompt.toPlainText() == "shiny, a bag, red"


def test_drop_position_decides_where_a_chip_goes(qtbot, window):
    panel, row = window.prompt_panel, window.prompt_panel.chips
    type_prompt(qtbot, window, "a, b, c, d")
    drop(row, row.mime_for(0), left_of(row.chips[2]))
    assert panel.phrases() == ["b", "a", "c", "d"]
    drop(row, row.mime_for(0), QPoint(row.width() - 2, row.height() - 2))  # past the last chip
    assert panel.phrases() == ["a", "c", "d", "b"]
    # a chip dropped on the text box goes where it lands in the text
    edit = panel.prompt
    cursor = edit.textCursor()
    cursor.setPosition(0)
    drop(edit, row.mime_for(3), edit.cursorRect(cursor).center())
    assert panel.phrases() == ["b", "a", "c", "d"]
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    assert panel.phrases() == ["b", "a", "c", "d"]
    panel.undo_stack.undo()
    assert panel.phrases() == ["a", "b", "c", "d"]


def test_drag_a_chip_out_or_click_its_cross_to_remove_it(qtbot, window, monkeypatch):
    panel, row = window.prompt_panel, window.prompt_panel.chips
    type_prompt(qtbot, window, "a bag, red, shiny")
    monkeypatch.setattr(row, "exec_drag", lambda drag: Qt.DropAction.IgnoreAction)  # dropped on nothing
    label = row.chips[1].label
    qtbot.mousePress(label, Qt.MouseButton.LeftButton, pos=label.rect().center())
    qtbot.mouseMove(label, label.rect().center() + QPoint(0, 40))
    qtbot.mouseRelease(label, Qt.MouseButton.LeftButton)
    assert panel.phrases() == ["a bag", "shiny"] and chip_texts(panel) == ["a bag", "shiny"]
    qtbot.mouseClick(row.chips[0].close_button, Qt.MouseButton.LeftButton)
    assert panel.prompt.toPlainText() == "shiny"
    panel.undo_stack.undo()
    assert panel.prompt.toPlainText() == "a bag, shiny"
    panel.undo_stack.undo()
    assert panel.prompt.toPlainText() == "a bag, red, shiny"
    # dropped on the Phrases library, a chip is starred there and stays in the prompt
    tree = window.phrases.tree

    def onto_library(drag):
        event = drop(tree, drag.mimeData(), QPoint(5, 5))
        return event.dropAction() if event.isAccepted() else Qt.DropAction.IgnoreAction

    monkeypatch.setattr(row, "exec_drag", onto_library)
    row.drag_chip(1)
    assert panel.phrases() == ["a bag", "red", "shiny"]
    assert window.phrases.store.favourites == ["red"] and row.chips[1].star.text() == "★"


def test_edit_a_chip_in_place(qtbot, window):
    panel, row = window.prompt_panel, window.prompt_panel.chips
    type_prompt(qtbot, window, "a bag, red, shiny")
    qtbot.mouseDClick(row.chips[1].label, Qt.MouseButton.LeftButton)
    editor = row.editor
    assert editor is not None and editor.text() == "red" and row.chips[1].isHidden()
    editor.clear()
    qtbot.keyClicks(editor, "deep blue, matte")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert row.editor is None
    assert panel.prompt.toPlainText() == "a bag, deep blue, matte, shiny"
    assert chip_texts(panel) == ["a bag", "deep blue", "matte", "shiny"]
    steps = panel.undo_stack.count()
    qtbot.mouseDClick(row.chips[0].label, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(row.editor, "zzz")
    qtbot.keyClick(row.editor, Qt.Key.Key_Escape)  # cancels; the window's Esc shortcut does not take it
    assert row.editor is None and panel.undo_stack.count() == steps
    assert chip_texts(panel) == ["a bag", "deep blue", "matte", "shiny"]
    panel.undo_stack.undo()
    assert panel.prompt.toPlainText() == "a bag, red, shiny"
    panel.undo_stack.redo()
    assert panel.phrases() == ["a bag", "deep blue", "matte", "shiny"]
    qtbot.mouseDClick(row.chips[2].label, Qt.MouseButton.LeftButton)
    row.editor.clear()
    qtbot.keyClick(row.editor, Qt.Key.Key_Enter)
    assert panel.phrases() == ["a bag", "deep blue", "shiny"], "emptied: the phrase goes"


def test_text_dropped_from_another_application_becomes_chips_where_it_lands(qtbot, window):
    panel, row = window.prompt_panel, window.prompt_panel.chips
    type_prompt(qtbot, window, "a bag, shiny")
    event = drop(row, text_mime("red,  leather , "), left_of(row.chips[1]))
    assert event.isAccepted() and event.dropAction() == Qt.DropAction.CopyAction
    assert panel.prompt.toPlainText() == "a bag, red, leather, shiny"
    assert chip_texts(panel) == ["a bag", "red", "leather", "shiny"]
    edit = panel.prompt
    cursor = edit.textCursor()
    cursor.setPosition(len("a bag, red, leather, shi"))  # right half of 'shiny': after it
    drop(edit, text_mime("on a table"), edit.cursorRect(cursor).center())
    assert panel.phrases() == ["a bag", "red", "leather", "shiny", "on a table"]
    cursor.setPosition(1)
    drop(edit, text_mime("a photo of"), edit.cursorRect(cursor).center())
    assert panel.phrases()[0] == "a photo of"
    for expected in ("a bag, red, leather, shiny, on a table", "a bag, red, leather, shiny", "a bag, shiny"):
        panel.undo_stack.undo()
        assert panel.prompt.toPlainText() == expected
    assert not drop(row, text_mime(" , "), QPoint(2, 2)).isAccepted(), "no phrase in it: refused"


def gallery_mime(window, prompt: str, negative: str, **settings) -> QMimeData:
    """The mime data the Gallery panel itself gives a dragged item."""
    req = GenerationRequest(family="diffusion", checkpoint="diffusion-fmnist", prompt=prompt,
                            negative_prompt=negative, **settings)
    window.store.add(np.zeros((28, 28, 1), np.uint8), req, 0)
    window.gallery.refresh()
    return window.gallery.list.mimeData([window.gallery.list.item(0)])


def test_a_gallery_image_dropped_on_the_prompt_brings_its_prompt(qtbot, window):
    panel = window.prompt_panel
    type_prompt(qtbot, window, "a bag")
    panel.negative.setText("noisy")
    steps = window.controls.steps.value()
    mime = gallery_mime(window, "a coat, long", "blurry", steps=17, seed=1234)
    assert mime.hasUrls()  # (Qt also reads the URLs as text: the image must win over the text)
    drop(panel.chips, mime, QPoint(3, 3))
    assert panel.text() == "a coat, long" and panel.negative_text() == "blurry"
    assert chip_texts(panel) == ["a coat", "long"]
    assert window.controls.steps.value() == steps, "without Shift only the prompt comes"
    undo_key(qtbot, panel.prompt)
    assert panel.text() == "a bag" and panel.negative_text() == "noisy"
    undo_key(qtbot, panel.prompt, redo=True)
    assert panel.text() == "a coat, long" and panel.negative_text() == "blurry"


def test_shift_dropping_a_gallery_image_brings_all_its_settings(qtbot, window):
    panel = window.prompt_panel
    type_prompt(qtbot, window, "a bag")
    window.controls.seed_lock.setChecked(False)
    mime = gallery_mime(window, "an ankle boot", "a sandal", steps=17, seed=1234, guidance=4.5)
    assert "Shift" in panel.prompt.toolTip() and "Shift" in panel.chips.toolTip()
    drop(panel.prompt, mime, QPoint(5, 5), Mod.ShiftModifier)
    assert panel.text() == "an ankle boot" and panel.negative_text() == "a sandal"
    c = window.controls
    assert (c.steps.value(), c.seed.value(), c.guidance.value()) == (17, 1234, 4.5)
    assert c.seed_lock.isChecked()
    panel.undo_stack.undo()
    assert panel.text() == "a bag" and panel.negative_text() == ""


def test_a_png_without_settings_is_refused_with_a_message(qtbot, window, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QUrl

    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    type_prompt(qtbot, window, "a bag")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(plain))])
    drop(window.prompt_panel.chips, mime, QPoint(3, 3))
    assert window.prompt_panel.text() == "a bag"
    assert window.prompt_panel.hint.isVisibleTo(window.prompt_panel)
    assert "no generation settings" in window.prompt_panel.hint.text()


def test_completion_offers_library_phrases_for_the_current_phrase(qtbot, window):
    panel = window.prompt_panel
    window.phrases.store.add_favourite("sneaky shadows")
    window.phrases.refresh()
    window.phrases.changed.emit()
    panel.prompt.clear()
    qtbot.keyClicks(panel.prompt, "a bag, snea")
    offered = panel.prompt.completions()
    assert offered[0] == "sneaky shadows", "favourites first"
    assert "a sneaker" in offered and "sneakers" in offered and "a bag" not in offered
    popup = panel.prompt.completer.popup()
    assert popup.isVisible()
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert panel.prompt.toPlainText() == "a bag, a sneaker" and not popup.isVisible()
    assert chip_texts(panel) == ["a bag", "a sneaker"]
    panel.undo_stack.undo()
    assert panel.prompt.toPlainText() == "a bag, snea", "the completion is its own step"
    panel.prompt.clear()
    qtbot.keyClicks(panel.prompt, "smil")
    assert "smiling" in panel.prompt.completions() and "a smiling face" in panel.prompt.completions()
    qtbot.keyClicks(panel.prompt, "ing with zebras")
    assert not popup.isVisible()
    qtbot.keyClicks(panel.prompt, ", boo")
    assert popup.isVisible() and "an ankle boot" in panel.prompt.completions()
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    assert not popup.isVisible() and panel.prompt.toPlainText() == "smiling with zebras, boo"


def test_library_items_drag_in_and_double_click_to_add(qtbot, window):
    panel, lib = window.prompt_panel, window.phrases
    assert "with glasses" in lib.section("Faces") and "a sneaker" in lib.section("Fashion-MNIST")
    type_prompt(qtbot, window, "a smiling face")
    faces = next(lib.tree.topLevelItem(i) for i in range(lib.tree.topLevelItemCount())
                 if lib.tree.topLevelItem(i).text(0) == "Faces")
    glasses = next(faces.child(j) for j in range(faces.childCount()) if faces.child(j).text(0) == "with glasses")
    lib.tree.itemDoubleClicked.emit(glasses, 0)
    assert panel.prompt.toPlainText() == "a smiling face, with glasses"
    blond = next(faces.child(j) for j in range(faces.childCount()) if faces.child(j).text(0) == "blond hair")
    mime = lib.tree.mimeData([blond, glasses])
    assert mime.text() == "blond hair, with glasses"
    drop(panel.chips, mime, left_of(panel.chips.chips[1]))
    assert panel.phrases() == ["a smiling face", "blond hair", "with glasses", "with glasses"]
    lib.filter.setText("hair")
    assert glasses.isHidden() and not blond.isHidden()
    lib.tree.setFocus()
    undo_key(qtbot, lib.tree)  # Ctrl+Z in the library undoes the prompt too
    assert panel.prompt.toPlainText() == "a smiling face, with glasses"
    panel.undo_stack.undo()
    assert panel.prompt.toPlainText() == "a smiling face"


def test_used_prompts_and_favourites_persist_and_a_corrupt_file_is_survived(qtbot, window, data_dir, monkeypatch):
    from studio.ui.app import build_window

    submitted = []
    monkeypatch.setattr(window.controller, "submit", lambda req: submitted.append(req) or "job-1")
    type_prompt(qtbot, window, "a bag, red")
    assert window.phrases.section("Recent") == []
    assert window.generate() == "job-1"
    type_prompt(qtbot, window, "a coat, red")
    window.generate()
    assert window.phrases.section("Recent") == ["a coat", "red", "a bag"]
    qtbot.mouseClick(window.prompt_panel.chips.chips[1].star, Qt.MouseButton.LeftButton)
    assert window.phrases.section("★ Favourites") == ["red"]
    assert window.prompt_panel.chips.chips[1].star.text() == "★"

    def reopen():
        w = build_window(preload=False)
        qtbot.addWidget(w)
        return w

    second = reopen()
    assert second.phrases.section("Recent") == ["a coat", "red", "a bag"]
    assert second.phrases.section("★ Favourites") == ["red"]
    assert "red" in second.prompt_panel.prompt.completion_model.stringList()
    assert not second.phrases.warning.isVisibleTo(second.phrases)
    second.latent.shutdown()
    second.store.close()

    (data_dir / "phrases.json").write_text('{"recent": ["a bag", ')
    third = reopen()
    assert third.phrases.section("Recent") == [] and third.phrases.section("★ Favourites") == []
    assert third.phrases.warning.isVisibleTo(third.phrases) and "could not be read" in third.phrases.warning.text()
    assert any(p.name.startswith("phrases.corrupt-") for p in data_dir.iterdir())
    third.phrases.toggle_favourite("kept")
    assert PhraseStore(data_dir / "phrases.json").favourites == ["kept"]
    third.latent.shutdown()
    third.store.close()


def test_the_phrases_dock_sits_with_the_left_docks(window):
    dock = window.docks["Phrases"]
    assert dock.widget() is window.phrases
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert dock in window.tabifiedDockWidgets(window.docks["Model"])
