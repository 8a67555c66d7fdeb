"""The Gallery panel: items drag out as files with real mouse events, and results are added and
removed one thumbnail at a time."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication, QWidget

from studio.core.request import GenerationRequest
from studio.store.gallery import GalleryStore
from studio.ui import gallery_panel
from studio.ui.gallery_panel import GalleryPanel


class DropTarget(QWidget):
    """A window of another application, as far as the drag can tell: it takes dropped files."""

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.resize(200, 200)
        self.dropped: list[str] = []
        self.action = None

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.dropped = [u.toLocalFile() for u in event.mimeData().urls()]
        self.action = event.dropAction()
        event.acceptProposedAction()


def request(prompt: str, seed: int = 1) -> GenerationRequest:
    return GenerationRequest(family="diffusion", checkpoint="tiny-diffusion", prompt=prompt, seed=seed)


def image(value: int) -> np.ndarray:
    return np.full((12, 12, 1), value, np.uint8)


@pytest.fixture
def store(tmp_path):
    s = GalleryStore(tmp_path / "gallery")
    yield s
    s.close()


@pytest.fixture
def panel(qtbot, store):
    for k, prompt in enumerate(("a coat", "a bag", "a dress")):
        store.add(image(40 * k), request(prompt, seed=k))
    p = GalleryPanel(store)
    qtbot.addWidget(p)
    p.resize(420, 300)
    p.move(0, 0)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_an_item_drags_out_as_its_png_and_stays(qtbot, panel, store):
    """Press on a thumbnail and move past the drag distance: a drag of the item's PNG starts (before
    the fix the press drew a rubber band). Offscreen, QDrag.exec returns at once, so the drag is seen
    as the view made it; on a real display the drop also lands on another window."""
    target = DropTarget()
    qtbot.addWidget(target)
    target.move(600, 0)
    target.show()
    qtbot.waitExposed(target)
    view = panel.list.viewport()
    first = panel.list.item(0)
    path = str(first.data(Qt.ItemDataRole.UserRole).path)
    start = panel.list.visualItemRect(first).center()
    inside = QPoint(100, 100)
    # A real drag runs its own loop until the button is released: the moves onto the target and the
    # release are queued before the move that starts it.
    QTimer.singleShot(100, lambda: qtbot.mouseMove(target, inside))
    QTimer.singleShot(200, lambda: qtbot.mouseMove(target, inside + QPoint(5, 5)))
    QTimer.singleShot(300, lambda: qtbot.mouseRelease(target, Qt.MouseButton.LeftButton, pos=inside + QPoint(5, 5)))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(2, 0))  # within the drag distance: nothing yet
    assert not panel.list.findChildren(QDrag)
    qtbot.mouseMove(view, start + QPoint(3 * QApplication.startDragDistance() + 5, 0))

    drags = panel.list.findChildren(QDrag)  # executed and finished; deleted at the next event loop
    assert len(drags) == 1, "the press and move started a drag"
    drag = drags[0]
    assert [u.toLocalFile() for u in drag.mimeData().urls()] == [path]
    assert drag.supportedActions() == Qt.DropAction.CopyAction, "a drag out copies, never moves the item"
    assert not drag.pixmap().isNull(), "the thumbnail follows the cursor"
    if QApplication.platformName() not in ("offscreen", "minimal"):
        qtbot.waitUntil(lambda: bool(target.dropped), timeout=5000)
        assert target.dropped == [path] and target.action == Qt.DropAction.CopyAction
    qtbot.wait(400)
    assert panel.list.count() == 3 and len(store.items()) == 3, "dragging out copies; the item stays"
    assert panel.list.item(0) is first and not panel.list.findChildren(QDrag)


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """Every thumbnail the gallery panel builds from now on (the path of each)."""
    paths: list[str] = []
    real = gallery_panel.thumbnail

    def counting(path: str, *args):
        paths.append(path)
        return real(path, *args)
    monkeypatch.setattr(gallery_panel, "thumbnail", counting)
    return paths


def shown_ids(panel: GalleryPanel) -> list[int]:
    return [panel.list.item(i).data(Qt.ItemDataRole.UserRole).id for i in range(panel.list.count())]


def test_new_results_and_deletions_touch_one_thumbnail_each(qtbot, panel, store, built):
    for k in range(60):
        store.add(image(k), request(f"a shirt {k}", seed=k))
    panel.refresh()
    assert len(built) == 63 and panel.list.count() == 63
    built.clear()
    new = [store.add(image(200), request("a boot", seed=7), i) for i in range(2)]
    panel.add_items(new)
    assert built == [str(item.path) for item in new], "only the new images' thumbnails are built"
    assert shown_ids(panel) == [item.id for item in store.items()], "newest first, as a full listing"
    panel.list.item(0).setSelected(True)
    panel.delete_button.click()
    assert panel.list.count() == 64 and len(built) == 2, "a deletion removes its row and builds nothing"
    panel.search.setText("boot")  # a new search lists again
    assert panel.list.count() == 1
    built.clear()
    panel.add_items([store.add(image(9), request("a coat", seed=9))])
    assert built == [] and panel.list.count() == 1, "a result the search hides is not listed"


def test_a_result_in_the_window_builds_one_thumbnail(qtbot, studio_window, tiny_ckpt, built):
    from .jobs import run

    window = studio_window("diffusion", "tiny-diffusion")
    for k in range(40):
        window.store.add(image(k), request(f"a shirt {k}", seed=k))
    window.gallery.refresh()
    built.clear()
    window.controls.steps.setValue(2)
    run(qtbot, window, window.generate)
    assert len(built) == 1 and window.gallery.list.count() == 41
    assert shown_ids(window.gallery) == [item.id for item in window.store.items()]


OPS = st.lists(st.one_of(st.tuples(st.just("add"), st.sampled_from(["a coat", "a bag", "A Coat red"])),
                         st.tuples(st.just("delete"), st.integers(0, 9)),
                         st.tuples(st.just("restore"), st.integers(0, 9)),
                         st.tuples(st.just("show_deleted"), st.booleans()),
                         st.tuples(st.just("search"), st.sampled_from(["", "coat", "BAG", "red"]))),
               max_size=10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_incremental_listing_equals_a_full_listing(qtbot, tmp_path_factory, ops):
    """Whatever mix of new results, deletions, restores, filters and searches: the panel lists what a
    full listing from the store would, in the same order."""
    store = GalleryStore(tmp_path_factory.mktemp("gallery"))
    try:
        store.add(image(1), request("a coat"))
        panel = GalleryPanel(store)
        qtbot.addWidget(panel)
        for k, (op, arg) in enumerate(ops):
            if op == "add":
                panel.add_items([store.add(image(k), request(arg, seed=k))])
            elif op in ("delete", "restore") and panel.list.count():
                panel.list.clearSelection()
                panel.list.item(arg % panel.list.count()).setSelected(True)
                (panel.delete_button if op == "delete" else panel.restore_button).click()
            elif op == "show_deleted":
                panel.show_deleted.setChecked(arg)
            elif op == "search":
                panel.search.setText(arg)
            full = store.items(panel.search.text(), include_deleted=panel.show_deleted.isChecked())
            assert shown_ids(panel) == [item.id for item in full]
            assert [panel.list.item(i).data(Qt.ItemDataRole.UserRole).deleted
                    for i in range(panel.list.count())] == [item.deleted for item in full]
    finally:
        store.close()
