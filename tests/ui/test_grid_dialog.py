"""The X/Y/Z grid window on the shipped models (each loads in well under a second): axes typed into it,
a grid drawn cell by cell on the model thread, cancelled, saved as a sheet and added to the gallery."""
from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.grid import read_grid_metadata
from studio.core.request import GenerationRequest
from studio.store.gallery import GalleryStore
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model
from studio.ui.grid_dialog import GridDialog
from studio.workers.generation import GenerationController
from studio.workers.session import StudioSession

WAIT = 60_000  # ms
DIFFUSION = GenerationRequest(family="diffusion", checkpoint="diffusion-fmnist", steps=2, seed=7).normalized()
GAN = GenerationRequest(family="gan", checkpoint="gan-fmnist", seed=0).normalized()


@pytest.fixture
def studio(qtbot, data_dir):
    """A session as the window has it (model thread, gallery writer), without the window."""
    made = []

    def make(loader=None) -> StudioSession:
        generation = GenerationController(**({"loader": loader} if loader else {}))
        generation.preview_interval = 0  # every step reaches the tiles
        s = StudioSession(GalleryStore(data_dir / "gallery"), generation)
        made.append(s)
        return s

    yield make
    for s in made:
        s.shutdown()
        s.store.close()


def open_dialog(qtbot, base: GenerationRequest | None, session: StudioSession) -> GridDialog:
    dlg = GridDialog(base, session)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def set_axes(qtbot, dlg: GridDialog, **axes: str) -> None:
    """``X="steps=2,3"``: choose the field, type the values."""
    for name, text in axes.items():
        field, values = text.split("=", 1)
        row = dlg.rows[name]
        row.set_field(field)
        row.values.clear()
        qtbot.keyClicks(row.values, values)


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def run_to_end(qtbot, dlg: GridDialog) -> None:
    click(qtbot, dlg.run_button)
    qtbot.waitUntil(lambda: not dlg.running, timeout=WAIT)


def enabled(row, field: str) -> bool:
    return row.field.model().item(row.field.findData(field)).isEnabled()


def test_typing_axes_counts_the_cells_and_a_bad_axis_disables_run_with_the_core_message(qtbot, studio):
    dlg = open_dialog(qtbot, DIFFUSION, studio())
    x, y, z = (dlg.rows[n] for n in "XYZ")
    assert x.field.currentData() == "steps" and y.field.currentData() is None and not y.values.isEnabled()
    assert "no values" in dlg.count.text() and not dlg.run_button.isEnabled()
    qtbot.keyClicks(x.values, "2,3")
    assert dlg.count.text() == "2 cells" and dlg.run_button.isEnabled()
    set_axes(qtbot, dlg, Y="guidance=1:5:3")
    assert dlg.count.text() == "2 × 3 = 6 cells" and dlg.run_button.isEnabled()
    qtbot.keyClicks(y.values, ",x")
    assert dlg.count.text() == "Y: The guidance axis takes finite numbers; 'x' is not one."
    assert not dlg.run_button.isEnabled()
    set_axes(qtbot, dlg, Y="guidance=1,40")
    assert "guidance: 40 is refused" in dlg.count.text() and not dlg.run_button.isEnabled()
    set_axes(qtbot, dlg, Y="seed=0:59:60")
    assert "120 cells" in dlg.count.text() and "at most 100" in dlg.count.text()
    assert not dlg.run_button.isEnabled()
    set_axes(qtbot, dlg, Y="sampler=ddim,euler", Z="seed=1,2")
    assert dlg.count.text() == "2 × 2 × 2 = 8 cells" and dlg.run_button.isEnabled()
    y.set_field(None)  # a Z axis without a Y axis: one row per block
    assert dlg.count.text() == "2 × 2 = 4 cells" and dlg.run_button.isEnabled()

    assert enabled(x, "sampler") and enabled(x, "eta") and not enabled(x, "temperature")
    assert not enabled(x, "strength"), "no input image to start from"
    dlg.set_base(GAN)
    assert enabled(x, "truncation") and not enabled(x, "steps") and not enabled(x, "sampler")
    dlg.set_base(None)
    assert "No checkpoint is selected" in dlg.count.text() and not dlg.run_button.isEnabled()


def test_a_2x2_grid_fills_cell_by_cell_saves_a_sheet_and_gallery_items_that_reproduce(
        qtbot, studio, tmp_path, monkeypatch, one_thread):
    s = studio()
    dlg = open_dialog(qtbot, DIFFUSION, s)
    set_axes(qtbot, dlg, X="steps=2,3", Y="sampler=ddim,euler")
    events = []
    dlg.runner.event.connect(events.append)
    click(qtbot, dlg.run_button)
    assert dlg.running and dlg.cancel_button.isEnabled() and not dlg.run_button.isEnabled()
    assert not dlg.save_button.isEnabled() and not dlg.axes_box.isEnabled()
    qtbot.waitUntil(lambda: not dlg.running, timeout=WAIT)
    assert dlg.status.text() == "Done: 4 cells." and (dlg.progress.value(), dlg.progress.maximum()) == (4, 4)
    assert not dlg.tabs.tabBar().isVisible(), "no Z axis: one grid"

    # Each cell's live previews came before its image, one cell after the other.
    order = [(e.kind, e.result if e.kind == "frame" else e.step) for e in events if e.kind in ("frame", "progress")]
    assert [k for k, _ in itertools.groupby(order, key=lambda p: p[0])] == ["frame", "progress"] * 4
    assert [i for k, i in order if k == "frame"] == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3], "2 or 3 steps a cell"

    model = load_model("diffusion-fmnist")
    for (iy, sampler), (ix, steps) in itertools.product(enumerate(("ddim", "euler")), enumerate((2, 3))):
        view = dlg.view_at(ix, iy)
        result = dlg.results[view.index]
        assert (result.request.steps, result.request.sampler, result.request.seed) == (steps, sampler, 7)
        assert view.final and view.previews == steps and np.array_equal(view.image, result.image)
        assert view.pixmap().width() == 84, "28 pixels shown 3x"
        assert np.array_equal(model.generate(result.request)[0], result.image), "the cell reproduces"
    assert not np.array_equal(dlg.results[0].image, dlg.results[3].image)

    click(qtbot, dlg.view_at(1, 1))
    assert dlg.details.text().startswith("steps: 3, sampler: euler")
    assert dlg.results[3].request.to_parameters() in dlg.details.text()

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "sheet"), "PNG (*.png)"))
    with qtbot.waitSignal(dlg.sheetSaved, timeout=WAIT) as saved:
        click(qtbot, dlg.save_button)
    assert saved.args[0] == str(tmp_path / "sheet.png")
    meta = read_grid_metadata(saved.args[0])
    assert [(a["axis"], a["field"], a["values"]) for a in meta["axes"]] == [
        ("x", "steps", [2, 3]), ("y", "sampler", ["ddim", "euler"])]
    assert [GenerationRequest.from_dict(c["request"]) for c in meta["cells"]] == [
        r.request for r in dlg.ordered_results()]

    items = []
    s.saved.connect(items.extend)
    click(qtbot, dlg.gallery_button)
    assert not dlg.gallery_button.isEnabled(), "each cell is added once"
    qtbot.waitUntil(lambda: len(items) == 4, timeout=WAIT)
    assert sorted(i.request.to_json() for i in s.store.items()) == sorted(
        r.request.to_json() for r in dlg.ordered_results())
    for item in s.store.items():
        request, index = read_settings(item.path)
        pixels = np.asarray(Image.open(item.path))
        assert index == 0 and np.array_equal(model.generate(request)[0][..., 0], pixels), "the item reproduces"


def test_an_xyz_grid_shows_one_tab_per_z_value_across_checkpoints(qtbot, studio, one_thread):
    dlg = open_dialog(qtbot, GAN, studio())
    set_axes(qtbot, dlg, X="seed=1,2", Y="truncation=0.5,1", Z="checkpoint=gan-fmnist,gan-faces")
    assert dlg.count.text() == "2 × 2 × 2 = 8 cells"
    run_to_end(qtbot, dlg)
    assert dlg.status.text() == "Done: 8 cells."
    assert [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())] == ["checkpoint: gan-fmnist",
                                                                      "checkpoint: gan-faces"]
    models = {ck: load_model(ck) for ck in ("gan-fmnist", "gan-faces")}
    for iz, checkpoint in enumerate(models):
        grid = dlg.tabs.widget(iz).widget().layout()
        assert [grid.itemAtPosition(0, c).widget().text() for c in (1, 2)] == ["seed: 1", "seed: 2"]
        assert [grid.itemAtPosition(r, 0).widget().text() for r in (1, 2)] == ["truncation: 0.5", "truncation: 1"]
        for (iy, trunc), (ix, seed) in itertools.product(enumerate((0.5, 1.0)), enumerate((1, 2))):
            view = dlg.view_at(ix, iy, iz)
            assert grid.itemAtPosition(iy + 1, ix + 1).widget() is view
            r = dlg.results[view.index].request
            assert (r.checkpoint, r.seed, r.truncation) == (checkpoint, seed, trunc)
            image = models[checkpoint].generate(r)[0]
            assert image.shape == ((28, 28, 1) if iz == 0 else (32, 32, 3))
            assert np.array_equal(view.image, image), "the cell reproduces"


def test_cancel_stops_the_grid_and_keeps_the_finished_cells(qtbot, studio, tmp_path):
    gate = threading.Event()

    def loader(checkpoint: str):
        """The real model, whose third image waits for the test to have pressed Cancel."""
        model = load_model(checkpoint)
        sample, calls = model.sample, itertools.count()

        def gated(request, **kwargs):
            if next(calls) == 2:
                gate.wait(WAIT / 1000)
            yield from sample(request, **kwargs)
        model.sample = gated
        return model

    s = studio(loader)
    dlg = open_dialog(qtbot, DIFFUSION, s)
    set_axes(qtbot, dlg, X="steps=2,3", Y="seed=1,2")
    click(qtbot, dlg.run_button)
    qtbot.waitUntil(lambda: len(dlg.results) == 2, timeout=WAIT)
    click(qtbot, dlg.cancel_button)
    gate.set()
    qtbot.waitUntil(lambda: not dlg.running, timeout=WAIT)
    assert dlg.status.text() == "Stopped: 2 of 4 cells drawn." and dlg.progress.value() == 2
    assert sorted(dlg.results) == [0, 1]
    assert [v.final for v in dlg.views] == [True, True, False, False] and dlg.views[2].image is None
    assert dlg.run_button.isEnabled() and dlg.save_button.isEnabled() and dlg.gallery_button.isEnabled()
    click(qtbot, dlg.view_at(0, 1))
    assert "(not drawn yet)" in dlg.details.text() and "Seed: 2" in dlg.details.text()

    with qtbot.waitSignal(dlg.sheetSaved, timeout=WAIT) as saved:
        dlg.save_sheet(tmp_path / "stopped.png")
    assert [c["labels"] for c in read_grid_metadata(saved.args[0])["cells"]] == [
        ["steps: 2", "seed: 1"], ["steps: 3", "seed: 1"]]

    run_to_end(qtbot, dlg)  # the same model, gate open: all four this time
    assert dlg.status.text() == "Done: 4 cells." and all(v.final for v in dlg.views)


def test_the_window_draws_a_3x3_grid_of_steps_by_guidance_into_a_sheet_and_nine_gallery_items(
        qtbot, studio_window, tiny_ckpt, tmp_path, monkeypatch):
    window = studio_window("diffusion", "tiny-diffusion", every_frame=True)
    window.controls.steps.setValue(3)
    window.prompt_panel.set_text("a red circle", "")
    window.grid_action.trigger()  # Tools -> X/Y/Z grid, on what Generate would run now
    dlg = window.grid_dialog
    assert dlg.isVisible() and dlg.base.checkpoint == "tiny-diffusion" and dlg.base.prompt == "a red circle"
    set_axes(qtbot, dlg, X="steps=2,3,4", Y="guidance=1,3,5")
    assert dlg.count.text().startswith("3 × 3 = 9")
    run_to_end(qtbot, dlg)
    model = load_model(str(tiny_ckpt))
    for iy, ix in itertools.product(range(3), range(3)):
        result = dlg.results[dlg.view_at(ix, iy).index]
        assert (result.request.steps, result.request.guidance) == ((2, 3, 4)[ix], (1.0, 3.0, 5.0)[iy])
        assert np.array_equal(model.generate(result.request)[0], result.image)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "grid.png"), "PNG (*.png)"))
    with qtbot.waitSignal(dlg.sheetSaved, timeout=WAIT):
        click(qtbot, dlg.save_button)
    meta = read_grid_metadata(tmp_path / "grid.png")
    assert [(a["field"], a["values"]) for a in meta["axes"]] == [("steps", [2, 3, 4]), ("guidance", [1.0, 3.0, 5.0])]
    sheet = Image.open(tmp_path / "grid.png")
    assert sheet.width > 3 * 12 and sheet.height > 3 * 12, "the labelled sheet holds the nine cells and labels"

    click(qtbot, dlg.gallery_button)
    qtbot.waitUntil(lambda: window.gallery.list.count() == 9, timeout=WAIT)
    for item in window.store.items():
        request, _ = read_settings(item.path)
        assert np.array_equal(model.generate(request)[0][..., 0], np.asarray(Image.open(item.path))), "it reproduces"
