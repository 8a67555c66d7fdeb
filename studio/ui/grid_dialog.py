"""The X/Y/Z grid window: one request varied along up to three axes, drawn cell by cell.

Each axis is a request field and its values in the core's syntax (``studio.core.grid.axes``): "5,10,20",
ranges "1:7:4", quoted text with commas. The window shows the number of cells as the axes are typed, or
the core's message when they cannot make a grid (Run is disabled then). Run lays the grid out, X across
and Y down, one tab per Z value, and every cell shows its live preview, then its image. Clicking a cell
shows its settings. When the run is over (finished or cancelled), "Save sheet…" writes the labelled PNG
that lists the axes and every cell's request, and "Add to gallery" adds each finished cell as a gallery
item that reproduces it: on request rather than automatically, as a grid is an experiment whose many
near-identical images would otherwise crowd the gallery.

Wiring: ``GridDialog(base, session, parent)``, ``base`` the request Generate would run now (None when no
checkpoint is selected); ``set_base`` gives it a newer one when the window is shown again. The grid runs
on the session's model thread, its files are written on the session's writer thread, and gallery items
go through ``session.keep``, so the session's ``saved`` signal puts them in the gallery panel.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.grid.axes import FIELDS, Axis, Cell, grid_cells, parse_axis
from ..core.request import GenerationRequest
from ..workers.grid import GridRun
from ..workers.session import NO_CHECKPOINT, StudioSession
from .qimage import to_qimage

if TYPE_CHECKING:  # run.py loads torch; the window must open before torch is imported
    from ..core.grid.run import CellResult

TILE = 96  # pixels of a cell's side at most: a 28x28 image is shown 3x, pixels kept square
NAMES = {"prompt": "prompt S/R", "negative_prompt": "negative prompt", "top_k": "top-k"}
EXAMPLES = {"steps": "10,20,30 or 10:30:3", "guidance": "1,3,5 or 1:7:4", "seed": "0,1,2 or 0:9:10",
            "temperature": "0.5,1,1.5", "top_k": "0,10,50", "truncation": "0.5:1:3", "eta": "0,0.5,1",
            "strength": "0.3:0.9:3", "negative_prompt": '"",blurry'}
ERROR_STYLE = "color: #b00020;"


def used_by(field: str, info: FamilyInfo | None, base: GenerationRequest | None) -> bool:
    """Whether the base request's family reads ``field`` (a family the catalog does not know: all)."""
    if info is None or field in ("seed", "checkpoint"):
        return True
    if field == "eta":
        return {"steps", "sampler"} <= info.controls  # an option of the denoising samplers
    if field == "strength":
        return info.can("img2img") and base is not None and bool(base.init_image)
    return field in info.controls


def example(field: str, info: FamilyInfo | None, base: GenerationRequest | None) -> str:
    """A placeholder showing the syntax with values this request could take."""
    if field == "sampler" and info is not None and info.samplers:
        return ",".join(info.samplers[:3])
    if field == "checkpoint":
        return f"{base.checkpoint},another-checkpoint" if base else "one-checkpoint,another"
    if field == "prompt":
        word = (base.prompt.split() or ["word"])[0] if base else "word"
        return f"{word},replacement,another (each replaces the first)"
    return EXAMPLES.get(field, "")


def settings_text(cell: Cell, result: CellResult | None) -> str:
    """What a cell is: its axis values, then the settings it was (or will be) drawn with."""
    head = ", ".join(cell.labels)
    if result is None:
        return f"{head}\n(not drawn yet)\n\n{cell.request.to_parameters()}"
    return f"{head}\n\n{result.request.to_parameters()}"


class AxisRow(QWidget):
    """One axis: the field (or none, for Y and Z) and its values as text."""

    changed = Signal()

    def __init__(self, optional: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QComboBox()
        if optional:
            self.field.addItem("none", None)
        for name in FIELDS:
            self.field.addItem(NAMES.get(name, name), name)
        self.values = QLineEdit(clearButtonEnabled=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)
        layout.addWidget(self.values, 1)
        self.field.currentIndexChanged.connect(self._field_changed)
        self.values.textChanged.connect(self.changed)
        self._info: FamilyInfo | None = None
        self._base: GenerationRequest | None = None
        self._field_changed()

    def set_field(self, name: str | None) -> None:
        self.field.setCurrentIndex(self.field.findData(name))

    def offer(self, info: FamilyInfo | None, base: GenerationRequest | None) -> None:
        """Grey out the fields the base request's family does not read."""
        self._info, self._base = info, base
        model = self.field.model()
        for i in range(self.field.count()):
            name = self.field.itemData(i)
            item = model.item(i)
            usable = name is None or used_by(name, info, base)
            item.setEnabled(usable)
            item.setToolTip("" if usable else f"The {info.label} family does not use {NAMES.get(name, name)}.")
        self._field_changed()

    def text(self) -> str | None:
        """The axis as ``FIELD=VALUES``; None when no field is chosen."""
        name = self.field.currentData()
        return None if name is None else f"{name}={self.values.text()}"

    def _field_changed(self) -> None:
        name = self.field.currentData()
        self.values.setEnabled(name is not None)
        self.values.setPlaceholderText(f"e.g. {example(name, self._info, self._base)}" if name else "")
        self.changed.emit()


class CellView(QLabel):
    """One cell's tile: its live preview, then its image; a click selects it."""

    clicked = Signal(int)  # the cell's index

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.image: np.ndarray | None = None  # (H, W, C) uint8: what the tile shows now
        self.final = False  # the image is the cell's finished one
        self.previews = 0  # live frames shown
        self.setFixedSize(TILE + 4, TILE + 4)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.select(False)

    def show_preview(self, image: np.ndarray) -> None:
        self.previews += 1
        self._show(image)

    def show_final(self, image: np.ndarray) -> None:
        self.final = True
        self._show(image)

    def select(self, on: bool) -> None:
        self.setStyleSheet(f"background: #d8d8d8; border: 2px solid {'#2a7ae2' if on else 'transparent'};")

    def _show(self, image: np.ndarray) -> None:
        self.image = image
        side = max(image.shape[:2])
        k = TILE // side
        pm = QPixmap.fromImage(to_qimage(image))
        if k >= 1:  # whole-number enlargement: pixels stay square
            pm = pm.scaled(image.shape[1] * k, image.shape[0] * k, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.FastTransformation)
        else:
            pm = pm.scaled(TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(pm)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt naming)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)
        super().mousePressEvent(event)


class GridDialog(QDialog):
    """Non-modal: the main window keeps one and shows it; see the module's description for the wiring."""

    sheetSaved = Signal(str)  # the path of a sheet just written

    def __init__(self, base: GenerationRequest | None, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("X/Y/Z grid")
        self.setModal(False)
        self.session = session
        self.runner = GridRun(session.generation, session.writer, self)
        self.base: GenerationRequest | None = None
        self.cells: list[Cell] = []  # of the grid on show (run, running or stopped)
        self.axes: tuple[Axis | None, ...] = (None, None, None)  # its x, y, z
        self.results: dict[int, CellResult] = {}  # cell index -> finished cell
        self.views: list[CellView] = []
        self.selected: int | None = None
        self._added = False  # the finished cells were sent to the gallery
        self._save_job: str | None = None
        self._planned = False  # the axes make a grid

        self.rows = {name: AxisRow(optional=name != "X") for name in "XYZ"}
        form = QFormLayout()
        for name, row in self.rows.items():
            form.addRow(f"{name}:", row)
            row.changed.connect(self._plan_changed)
        self.count = QLabel()
        self.count.setWordWrap(True)
        form.addRow(self.count)
        axes_box = QGroupBox("Axes")
        axes_box.setLayout(form)
        self.axes_box = axes_box

        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save sheet…")
        self.gallery_button = QPushButton("Add to gallery")
        self.gallery_button.setToolTip("Add every finished cell to the gallery, each with its own settings")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.save_button, self.gallery_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)

        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m cells")
        self.progress.setValue(0)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.details = QLabel("Click a cell to see its settings.")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumWidth(200)
        self.details.setMaximumWidth(280)

        body = QHBoxLayout()
        body.addWidget(self.tabs, 1)
        body.addWidget(self.details)
        layout = QVBoxLayout(self)
        layout.addWidget(axes_box)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(body, 1)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.save_button.clicked.connect(self.ask_save_sheet)
        self.gallery_button.clicked.connect(self.add_to_gallery)
        close.clicked.connect(self.close)
        self.runner.event.connect(self._on_event)
        self.set_base(base)
        self.rows["X"].set_field("steps" if used_by("steps", self._info(), base) else "seed")
        self.resize(760, 620)

    # --- the axes ----------------------------------------------------------------------------------
    def set_base(self, base: GenerationRequest | None) -> None:
        """The request the axes vary (what Generate would run now); a running grid keeps its own."""
        self.base = base
        for row in self.rows.values():
            row.offer(self._info(), base)
        self._plan_changed()

    def _info(self) -> FamilyInfo | None:
        return CATALOG.get(self.base.family) if self.base is not None else None

    def plan(self) -> tuple[list[Cell], tuple[Axis | None, ...]]:
        """The cells and axes the rows describe now; a StudioError with the core's message otherwise."""
        if self.base is None:
            raise StudioError(NO_CHECKPOINT)
        axes: list[Axis | None] = []
        for name, row in self.rows.items():
            text = row.text()
            try:
                axes.append(None if text is None else parse_axis(text))
            except StudioError as e:
                raise StudioError(f"{name}: {e}") from None
        x, y, z = axes
        return grid_cells(self.base, x, y, z), (x, y, z)

    def _plan_changed(self) -> None:
        try:
            cells, axes = self.plan()
        except StudioError as e:
            self.count.setText(str(e))
            self.count.setStyleSheet(ERROR_STYLE)
            self._planned = False
        else:
            sizes = [str(len(a.values)) for a in axes if a is not None]
            n = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
            self.count.setText(n if len(sizes) == 1 else f"{' × '.join(sizes)} = {n}")
            self.count.setStyleSheet("")
            self._planned = True
        self._update_buttons()

    # --- running --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.runner.busy

    def run(self) -> None:
        """Lay the grid out and start drawing it."""
        if self.running:
            return
        try:
            cells, axes = self.plan()
        except StudioError as e:
            self._say(str(e), error=True)
            return
        self.cells, self.axes, self.results = cells, axes, {}
        self._added, self.selected = False, None
        self.details.setText("Click a cell to see its settings.")
        self._lay_out()
        self.progress.setRange(0, len(cells))
        self.progress.setValue(0)
        self._say(f"Drawing {len(cells)} cells…")
        self.runner.start(cells)
        self._update_buttons()

    def cancel(self) -> None:
        self.runner.cancel()

    def _lay_out(self) -> None:
        """One tab per z value: x labels above the columns, y labels left of the rows, a tile per cell."""
        self.tabs.clear()
        x, y, z = self.axes
        self.views = [CellView(i) for i in range(len(self.cells))]
        pages = []
        for iz in range(len(z.values) if z else 1):
            page = QWidget()
            grid = QGridLayout(page)
            grid.setSpacing(4)
            for ix in range(len(x.values)):
                grid.addWidget(self._header(x.label(ix), wrap=False), 0, ix + 1, Qt.AlignmentFlag.AlignHCenter)
            for iy in range(len(y.values) if y else 0):
                grid.addWidget(self._header(y.label(iy), wrap=True), iy + 1, 0, Qt.AlignmentFlag.AlignRight)
            grid.setRowStretch(grid.rowCount(), 1)
            grid.setColumnStretch(grid.columnCount(), 1)
            pages.append(grid)
            scroll = QScrollArea()
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            self.tabs.addTab(scroll, z.label(iz) if z else "grid")
        for view, cell in zip(self.views, self.cells):
            pages[cell.iz].addWidget(view, cell.iy + 1, cell.ix + 1)
            view.setToolTip(settings_text(cell, None))
            view.clicked.connect(self.show_cell)
        self.tabs.tabBar().setVisible(z is not None)

    @staticmethod
    def _header(text: str, wrap: bool) -> QLabel:
        """A column's label on one line, cut to the tile's width; a row's wrapped. The whole in its tooltip."""
        label = QLabel(text)
        label.setToolTip(text)
        if wrap:
            label.setWordWrap(True)
            label.setMaximumWidth(TILE + 40)
        else:
            label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, TILE + 4))
        return label

    def view_at(self, ix: int, iy: int = 0, iz: int = 0) -> CellView:
        """The tile of the cell at column ``ix``, row ``iy`` of block ``iz``."""
        for view, cell in zip(self.views, self.cells):
            if (cell.ix, cell.iy, cell.iz) == (ix, iy, iz):
                return view
        raise IndexError((ix, iy, iz))

    def show_cell(self, index: int) -> None:
        """Select a cell and show its settings beside the grid."""
        if self.selected is not None and self.selected < len(self.views):
            self.views[self.selected].select(False)
        self.selected = index
        self.views[index].select(True)
        self.details.setText(settings_text(self.cells[index], self.results.get(index)))

    def _on_event(self, ev: JobEvent) -> None:
        if ev.job == self._save_job:
            self._on_save(ev)
            return
        if ev.kind == "loading":
            self._say(ev.message)
        elif ev.kind == "frame" and ev.result < len(self.views):
            self.views[ev.result].show_preview(ev.frame.shown()[0])
            cell = self.cells[ev.result]
            self._say(f"Cell {len(self.results) + 1} of {len(self.cells)} ({', '.join(cell.labels)}): "
                      f"{ev.frame.unit} {ev.step} of {ev.total}")
        elif ev.kind == "progress":
            self._finished(ev.result)
            self.progress.setValue(ev.step)
        elif ev.kind == "done":
            self._say(f"Done: {len(self.results)} cells.")
        elif ev.kind == "cancelled":
            self._say(f"Stopped: {len(self.results)} of {len(self.cells)} cells drawn.")
        elif ev.kind == "error":
            self._say(f"{ev.message} ({len(self.results)} of {len(self.cells)} cells drawn)", error=True)
        self._update_buttons()

    def _finished(self, result: CellResult) -> None:
        cell = result.cell
        index = next(i for i, c in enumerate(self.cells) if (c.ix, c.iy, c.iz) == (cell.ix, cell.iy, cell.iz))
        self.results[index] = result
        self.views[index].show_final(result.image)
        self.views[index].setToolTip(settings_text(cell, result))
        if index == self.selected:
            self.show_cell(index)

    # --- when it is over ----------------------------------------------------------------------------
    def ordered_results(self) -> list[CellResult]:
        """The finished cells in sheet order."""
        return [self.results[i] for i in sorted(self.results)]

    def ask_save_sheet(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the grid as a labelled sheet", "grid.png", "PNG (*.png)")
        if path:
            self.save_sheet(path)

    def save_sheet(self, path: str | Path) -> str | None:
        """Write the labelled PNG (listing the axes and every finished cell's request) off the GUI thread;
        ``sheetSaved`` says when it is written."""
        if not self.results:
            return None
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        self._save_job = self.runner.save_sheet(path, self.ordered_results(), *self.axes)
        self._say(f"Saving the sheet {path.name}…")
        self._update_buttons()
        return self._save_job

    def _on_save(self, ev: JobEvent) -> None:
        if ev.kind == "result":
            self._say(f"Saved the sheet {ev.result}.")
            self.sheetSaved.emit(str(ev.result))
        elif ev.kind == "error":
            self._say(ev.message, error=True)
        if ev.ends:
            self._save_job = None
            self._update_buttons()

    def add_to_gallery(self) -> None:
        """Every finished cell becomes a gallery item with its own (resolved) request."""
        results = self.ordered_results()
        if not results or self._added:
            return
        self._added = True
        for n, r in enumerate(results, 1):
            said = f"Added the grid's {len(results)} cells to the gallery." if n == len(results) else ""
            self.session.keep(r.request, r.image[None], said)
        self._say(f"Adding {len(results)} cells to the gallery…")
        self._update_buttons()

    # --- state ------------------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        running = self.running
        over = not running and bool(self.results)
        self.run_button.setEnabled(not running and self._planned)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(over and self._save_job is None)
        self.gallery_button.setEnabled(over and not self._added)
        self.axes_box.setEnabled(not running)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def reject(self) -> None:
        """Closing the window stops the grid (the cells drawn stay on show when it is opened again)."""
        self.runner.cancel()
        super().reject()
