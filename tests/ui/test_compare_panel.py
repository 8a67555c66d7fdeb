"""The Compare view on the shipped checkpoints (each loads and samples in well under a second): a row of
every family fills, the scrubber replays the columns in normalised time, the row exports as a GIF, the
table has a cell per characteristic and model and measures on demand, columns are added, moved and
removed, and the nearest training images of the image under the pointer are shown (or the panel says
the data set is missing)."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from studio.core.compare import ROWS, nearest_neighbours, training_images
from studio.core.compare import table as t
from studio.core.compare.timeline import row_width, timeline_times
from studio.store.registry import load_model, scan
from studio.ui.compare_panel import ComparePanel
from studio.ui.compare_timeline import IGNORES_PROMPT, READS_PROMPT
from studio.workers.compare import CompareController
from tests.conftest import needs_fmnist

LONG = 60_000


@pytest.fixture
def panel(qtbot, data_dir):
    """A Compare panel on the registered checkpoints (``columns``: its columns instead of the defaults),
    shown, so it reads its models' cards; its threads are stopped afterwards."""
    made = []

    def make(columns: list[str] | None = None, controller: CompareController | None = None) -> ComparePanel:
        p = ComparePanel(controller, columns=columns)
        qtbot.addWidget(p)
        p.resize(1200, 900)
        p.show()
        made.append(p)
        return p

    yield make
    for p in made:
        p.shutdown()


def run(qtbot, p: ComparePanel) -> None:
    qtbot.mouseClick(p.run_button, Qt.MouseButton.LeftButton)
    assert p.running and not p.run_button.isEnabled()
    qtbot.waitUntil(lambda: not p.running, timeout=LONG)


def pixels(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 of a QImage."""
    im = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, line = im.height(), im.width(), im.bytesPerLine()
    return np.frombuffer(im.constBits(), np.uint8, count=line * h).reshape(h, line)[:, :w * 3].reshape(h, w, 3).copy()


def rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def test_a_row_of_every_family_fills_and_the_scrubber_replays_it_in_step(qtbot, panel):
    p = panel()
    shipped = {i.family for i in scan()[0]}
    assert {c.info.family for c in p.columns} == shipped, "one default column per family with a model"
    run(qtbot, p)
    for c in p.columns:
        assert c.track.final and c.track.steps[-1][0] == c.track.steps[-1][1], c.checkpoint
        assert [s for s, _ in c.track.steps] == list(range(1, len(c.track) + 1)), "every frame was recorded"
        assert np.array_equal(pixels(c.canvas.image()), rgb(c.shown_image(c.track.images[-1]))), "t = 1: the final"
    p.timeline.slider.setValue(500)
    assert p.timeline.t == 0.5 and p.timeline.label.text() == "t = 0.50"
    middle = 0
    for c in p.columns:
        expected = [k for k, (step, total) in enumerate(c.track.steps) if step / total <= 0.5]
        if not expected:  # a one-pass model's only image comes at t = 1
            assert c.canvas.image() is None and c.canvas.placeholder == "first frame at t = 1.00", c.checkpoint
            continue
        shown = pixels(c.canvas.image())
        assert np.array_equal(shown, rgb(c.shown_image(c.track.images[expected[-1]]))), c.checkpoint
        assert not np.array_equal(shown, rgb(c.shown_image(c.track.images[-1]))), f"{c.checkpoint} shows its final"
        middle += 1
    assert middle >= 2, "the diffusion and autoregressive columns show a frame from half-way"

    p.timeline.set_t(1.0)  # Play from the end starts again at 0 (from elsewhere it goes on from there)
    seen: list[float] = []
    p.timeline.timeChanged.connect(seen.append)
    p.timeline.play_ms = 400
    qtbot.mouseClick(p.timeline.play_button, Qt.MouseButton.LeftButton)
    assert p.timeline.playing
    qtbot.waitUntil(lambda: not p.timeline.playing, timeout=LONG)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 3, "Play runs t up to 1"
    assert not p.timeline.play_button.isChecked()
    for c in p.columns:
        assert np.array_equal(pixels(c.canvas.image()), rgb(c.shown_image(c.track.images[-1]))), c.checkpoint


def test_cancel_stops_every_column(qtbot, panel):
    gate = threading.Event()

    def slow_loader(checkpoint: str):
        gate.wait(LONG / 1000)  # the first column is still loading when Cancel is clicked
        return load_model(checkpoint)

    p = panel(["gan-fmnist", "vae-fmnist-2d", "diffusion-fmnist"], CompareController(loader=slow_loader))
    qtbot.mouseClick(p.run_button, Qt.MouseButton.LeftButton)
    assert p.cancel_button.isEnabled()
    qtbot.mouseClick(p.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: not p.running, timeout=LONG)
    for c in p.columns:
        assert len(c.track) == 0 and c.status.text() == "cancelled", c.checkpoint
    assert p.run_button.isEnabled() and not p.cancel_button.isEnabled()


def test_the_row_exports_as_a_gif_over_the_timeline(qtbot, panel, tmp_path):
    p = panel()
    assert not p.timeline.gif_button.isEnabled(), "nothing to export before a run"
    run(qtbot, p)
    assert p.timeline.gif_button.isEnabled()
    path = p.export_gif(str(tmp_path / "row.gif"))
    tracks = [c.track for c in p.columns]
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(timeline_times(tracks)) > max(len(tr) for tr in tracks)
        assert gif.width == row_width(len(p.columns))
        gif.seek(gif.n_frames - 1)
        assert gif.convert("RGB").size[0] == row_width(len(p.columns))


def test_the_table_has_a_cell_per_characteristic_and_model_and_measures_now(qtbot, panel, tmp_path):
    p = panel(["gan-fmnist", "vae-fmnist-2d"])
    view = p.table_view
    qtbot.waitUntil(lambda: view.table.rowCount() == len(ROWS), timeout=LONG)  # the compare thread lists them
    assert view.table.columnCount() == 2 and view.measure_button.isEnabled()
    assert [view.table.verticalHeaderItem(r).text() for r in range(len(ROWS))] == list(ROWS)
    assert view.header_labels() == ["gan-fmnist", "vae-fmnist-2d"]
    row_of = {row: r for r, row in enumerate(ROWS)}
    # the card's rows fill once the models are loaded; the measured ones wait for "Measure now"
    qtbot.waitUntil(lambda: view.table.item(row_of[t.CONTROL], 1).text() != "…", timeout=LONG)
    control = view.table.item(row_of[t.CONTROL], 1)
    assert "latent sliders (2-D)" in control.text() and "declared controls" in control.toolTip()
    assert view.table.item(row_of[t.ADHERENCE], 0).text() == "n/a: the GAN family takes no prompt"
    speed = view.table.item(row_of[t.SPEED_1], 0)
    assert speed.text().startswith("n/a: not measured yet") and "Measure now" in speed.toolTip()

    view.novelty.setValue(0)
    view.speed.setChecked(False)
    qtbot.mouseClick(view.measure_button, Qt.MouseButton.LeftButton)
    assert view.measuring and view.measure_button.text() == "Stop measuring"
    qtbot.waitUntil(lambda: not view.measuring, timeout=LONG)
    assert view.stage.text() == "measured"
    assert view.progress.maximum() == 2 * 3 and view.progress.value() == view.progress.maximum()
    for k in range(2):
        params = view.table.item(row_of[t.PARAMETERS], k)
        assert params.text()[0].isdigit() and params.toolTip(), "parameters were counted"
        assert view.table.item(row_of[t.MACS], k).text().endswith("MACs")
        assert view.table.item(row_of[t.SPEED_16], k).toolTip() == "not measured (speed measurement switched off)"
        for r in range(len(ROWS)):
            assert view.table.item(r, k).toolTip().strip(), (ROWS[r], k)

    view.export_markdown(str(tmp_path / "t.md"))
    view.export_csv(str(tmp_path / "t.csv"))
    view.export_png(str(tmp_path / "t.png"))
    md = (tmp_path / "t.md").read_text(encoding="utf-8")
    assert md.splitlines()[0] == "| Characteristic | gan-fmnist | vae-fmnist-2d |"
    lines = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text(encoding="utf-8"))))
    assert len(lines) == 2 * len(ROWS) and {r["checkpoint"] for r in lines} == {"gan-fmnist", "vae-fmnist-2d"}
    with Image.open(tmp_path / "t.png") as png:
        assert png.format == "PNG" and png.width >= row_width(2) and png.height > 300


def test_columns_are_added_moved_and_removed(qtbot, panel):
    p = panel(["gan-fmnist", "vae-fmnist-2d"])

    def order() -> list[str]:
        in_layout = [p.row.itemAt(k).widget().checkpoint for k in range(len(p.columns))]
        assert in_layout == p.column_ids() == p.table_view.header_labels()
        return in_layout

    p.add_choice.setCurrentIndex(p.add_choice.findData("diffusion-fmnist"))
    qtbot.mouseClick(p.add_button, Qt.MouseButton.LeftButton)
    assert order() == ["gan-fmnist", "vae-fmnist-2d", "diffusion-fmnist"]
    assert not p.add_column("gan-fmnist") and "already a column" in p.hint.text()
    first, last = p.columns[0], p.columns[-1]
    assert not first.left.isEnabled() and not last.right.isEnabled()
    qtbot.mouseClick(first.right, Qt.MouseButton.LeftButton)
    assert order() == ["vae-fmnist-2d", "gan-fmnist", "diffusion-fmnist"]
    qtbot.mouseClick(last.left, Qt.MouseButton.LeftButton)
    assert order() == ["vae-fmnist-2d", "diffusion-fmnist", "gan-fmnist"]
    qtbot.mouseClick(p.columns[0].remove, Qt.MouseButton.LeftButton)
    assert order() == ["diffusion-fmnist", "gan-fmnist"]
    assert p.columns[0].left.isEnabled() is False and p.columns[-1].right.isEnabled() is False


def test_a_column_whose_model_ignores_prompts_says_so(qtbot, panel):
    p = panel(["vae-fmnist-2d", "diffusion-fmnist", "gan-fmnist"])
    vae, diffusion, gan = p.columns
    assert IGNORES_PROMPT in gan.header_text(), "a family without a prompt ignores it from the start"
    qtbot.waitUntil(lambda: vae.conditional is not None and diffusion.conditional is not None, timeout=LONG)
    assert IGNORES_PROMPT in vae.header_text() and "vae-fmnist-2d" in vae.header_text()
    assert "VAE" in vae.header_text()
    assert IGNORES_PROMPT not in diffusion.header_text() and READS_PROMPT in diffusion.header_text()
    assert "Diffusion" in diffusion.header_text()


@needs_fmnist
def test_the_image_under_the_pointer_shows_its_nearest_training_images(qtbot, panel):
    p = panel(["gan-fmnist"])
    run(qtbot, p)
    column = p.columns[0]
    qtbot.mouseClick(column.canvas, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.neighbours.title.text().startswith("Nearest training images"), timeout=LONG)
    shown = [float(label.text()) for label in p.neighbours.distances]
    assert shown == sorted(shown) and all(c.image() is not None for c in p.neighbours.canvases)
    train = training_images("fashion-mnist", limit=5000, reference=1).train
    dist, idx = nearest_neighbours(column.track.raw[-1][None], train)
    assert shown[0] == pytest.approx(dist[0], abs=5e-4)
    assert np.array_equal(pixels(p.neighbours.canvases[0].image()), rgb(train[idx[0]]))


def test_a_missing_training_set_is_said_in_the_panel(qtbot, panel, tiny_gan):
    p = panel(["tiny-gan"])
    run(qtbot, p)
    qtbot.mouseClick(p.columns[0].canvas, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No training images are known for the data set 'tiny'" in p.neighbours.title.text(),
                    timeout=LONG)


def test_the_view_imports_without_torch():
    """The window builds the view as it comes up, before torch loads on a worker thread."""
    code = "import sys; import studio.ui.compare_panel; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_window_loads_the_compare_tab_only_when_it_is_chosen(qtbot, studio_window, tiny_ckpt):
    """A tab behind the Preview gets a show event with the window; loading then would take CPU from the
    first generations for a view nobody looks at."""
    window = studio_window("diffusion", "tiny-diffusion")
    assert window.docks["Compare"] in window.tabifiedDockWidgets(window.docks["Preview"])
    qtbot.waitExposed(window)  # shown, its first events delivered
    assert not window.compare._cards_live
    window.docks["Compare"].raise_()
    qtbot.waitUntil(lambda: window.compare._cards_live, timeout=10_000)
