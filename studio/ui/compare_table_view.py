"""The Compare view's table: one row per characteristic of the seed (``ROWS``), one column per model.

The rows arrive from the compare thread (``set_rows``), which loads the table's code and torch off the
GUI thread. The rows a model's card and declared capabilities answer fill in as soon as the model is
loaded; the others (speed, novelty, resources) wait for "Measure now", which runs ``measure_table`` on
the compare thread with a progress bar. Every cell's tooltip says how its figure was measured, or why it does not
apply. Exports: Markdown and CSV through the core's exports, and one PNG of the row of images above
the table (``render_sheet``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.atomic import atomic_write, atomic_write_text
from ..core.errors import StudioError

if TYPE_CHECKING:  # the table's code imports torch: it is loaded on the compare thread first
    from ..core.compare import Cell, CompareTable

READING = ("…", "the model card is being read (the model loads first)")
NOT_MEASURED = "not measured yet: press Measure now"
DEFAULT_NOVELTY = 64  # samples of the novelty check, as genstudio compare takes by default


class CompareTableView(QWidget):
    measureRequested = Signal(int, bool)  # novelty samples, whether to measure speed
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.novelty = QSpinBox()
        self.novelty.setRange(0, 1024)
        self.novelty.setValue(DEFAULT_NOVELTY)
        self.novelty.setPrefix("novelty n = ")
        self.novelty.setToolTip("Samples of each model compared with their nearest training images (0: skip)")
        self.speed = QCheckBox("Speed")
        self.speed.setChecked(True)
        self.speed.setToolTip("Time batches of 1 and 16 images (the slowest part of a measurement)")
        self.measure_button = QPushButton("Measure now")
        self.measure_button.setToolTip("Measure speed, novelty and resources of every column's model")
        self.measure_button.setEnabled(False)  # until the rows are known
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.stage = QLabel("")
        self.markdown_button = QPushButton("Markdown…")
        self.csv_button = QPushButton("CSV…")
        self.png_button = QPushButton("PNG…")
        self.png_button.setToolTip("The row of images at the timeline's t above the table, as one picture")
        # The row of images the PNG shows above the table; the panel sets it.
        self.row_image: Callable[[], QImage] | None = None
        self.rows: tuple[str, ...] = ()
        self.card_rows: frozenset[str] = frozenset()
        self._placeholders: dict[str, Cell] = {}  # row -> what it shows before it is read or measured
        self.columns: list[str] = []
        self.cells: dict[str, dict[str, Cell]] = {}  # checkpoint -> row -> cell
        self.settings: dict = {}
        self.measuring = False
        measure = QHBoxLayout()
        for w in (self.novelty, self.speed, self.measure_button):
            measure.addWidget(w)
        measure.addStretch(1)
        progress = QHBoxLayout()  # its own row: the panel stays narrow enough for a laptop screen
        progress.addWidget(self.progress, 1)
        progress.addWidget(self.stage, 1)
        exports = QHBoxLayout()
        exports.addWidget(QLabel("Export:"))
        for w in (self.markdown_button, self.csv_button, self.png_button):
            exports.addWidget(w)
        exports.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(measure)
        layout.addLayout(progress)
        layout.addWidget(self.table, 1)
        layout.addLayout(exports)
        self.measure_button.clicked.connect(self._measure_clicked)
        self.markdown_button.clicked.connect(lambda: self._ask("Markdown", "compare.md", self.export_markdown))
        self.csv_button.clicked.connect(lambda: self._ask("CSV", "compare.csv", self.export_csv))
        self.png_button.clicked.connect(lambda: self._ask("PNG", "compare.png", self.export_png))

    # --- contents -----------------------------------------------------------------------------------
    def set_rows(self, rows: tuple[str, ...], card_rows: frozenset[str]) -> None:
        """The table's characteristics, once the compare thread has loaded the table's code."""
        from ..core.compare import Cell

        self.rows, self.card_rows = tuple(rows), frozenset(card_rows)
        self._placeholders = {row: Cell(READING[0], None, READING[1]) if row in self.card_rows
                              else Cell.na(NOT_MEASURED) for row in self.rows}
        self.table.setRowCount(len(self.rows))
        self.table.setVerticalHeaderLabels(list(self.rows))
        self.measure_button.setEnabled(True)
        self._fill()

    def set_columns(self, checkpoints: list[str], labels: dict[str, str] | None = None) -> None:
        self.columns = list(checkpoints)
        self.table.setColumnCount(len(self.columns))
        self.table.setHorizontalHeaderLabels(self.columns)
        for k, checkpoint in enumerate(self.columns):
            if labels and checkpoint in labels:
                self.table.horizontalHeaderItem(k).setToolTip(labels[checkpoint])
        self._fill()

    def header_labels(self) -> list[str]:
        return [self.table.horizontalHeaderItem(k).text() for k in range(self.table.columnCount())]

    def set_card(self, checkpoint: str, cells: dict[str, Cell]) -> None:
        """The rows the card answers; a measurement's figures for this model stay."""
        self.cells.setdefault(checkpoint, {}).update(cells)
        self._fill()

    def set_measured(self, checkpoints: list[str], table: CompareTable) -> None:
        """Every cell of a measurement; its columns are ``checkpoints`` in order."""
        for checkpoint, column in zip(checkpoints, table.columns):
            self.cells[checkpoint] = {row: cells[column] for row, cells in table.rows.items()}
        self.settings = dict(table.settings)
        self._fill()

    def cell(self, checkpoint: str, row: str) -> Cell:
        known = self.cells.get(checkpoint, {})
        return known[row] if row in known else self._placeholders[row]

    def _fill(self) -> None:
        for k, checkpoint in enumerate(self.columns):
            for r, row in enumerate(self.rows):
                cell = self.cell(checkpoint, row)
                item = QTableWidgetItem(cell.text)
                item.setToolTip(cell.how)
                self.table.setItem(r, k, item)
        self.table.resizeColumnsToContents()
        for k in range(self.table.columnCount()):
            self.table.setColumnWidth(k, min(self.table.columnWidth(k), 320))
        self.table.resizeRowsToContents()

    def compare_table(self) -> CompareTable:
        """The table as shown, for the exports (rows not measured yet say so)."""
        from ..core.compare import CompareTable

        rows = {row: {c: self.cell(c, row) for c in self.columns} for row in self.rows}
        return CompareTable(list(self.columns), rows, dict(self.settings))

    # --- measuring ------------------------------------------------------------------------------------
    def _measure_clicked(self) -> None:
        if self.measuring:
            self.stopRequested.emit()
        else:
            self.measureRequested.emit(self.novelty.value(), self.speed.isChecked())

    def start_measuring(self) -> None:
        self.measuring = True
        self.measure_button.setText("Stop measuring")
        self.progress.setRange(0, 0)  # busy until the first count comes
        self.stage.setText("loading models…")

    def show_progress(self, done: int, total: int, stage: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.stage.setText(stage)

    def stop_measuring(self, message: str, error: bool = False) -> None:
        self.measuring = False
        self.measure_button.setText("Measure now")
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.stage.setText(message)
        self.stage.setStyleSheet("color: #c55" if error else "")

    # --- exports ------------------------------------------------------------------------------------
    def export_markdown(self, path: str) -> None:
        from ..core.compare import to_markdown

        atomic_write_text(path, to_markdown(self.compare_table()))

    def export_csv(self, path: str) -> None:
        from ..core.compare import to_csv

        atomic_write_text(path, to_csv(self.compare_table()))

    def export_png(self, path: str) -> None:
        row = self.row_image() if self.row_image is not None else QImage()
        sheet = render_sheet(row, self.compare_table())

        def write(p) -> None:
            if not sheet.save(str(p), "PNG"):
                raise StudioError(f"The picture could not be written to {path}.")
        atomic_write(path, write)

    def _ask(self, kind: str, name: str, export: Callable[[str], None]) -> None:
        suffix = name.rsplit(".", 1)[1]
        path, _ = QFileDialog.getSaveFileName(self, f"Export the comparison as {kind}", name, f"{kind} (*.{suffix})")
        if not path:
            return
        try:
            export(path)
        except (OSError, StudioError) as e:
            self.stage.setText(f"Could not export: {e}")
            self.stage.setStyleSheet("color: #c55")


def render_sheet(row: QImage, table: CompareTable, *, name_width: int = 190, column_width: int = 230,
                 pad: int = 8) -> QImage:
    """``row`` (the columns' images) above ``table`` drawn as a grid, text wrapped in its cells."""
    font = QFont()
    bold = QFont(font)
    bold.setBold(True)
    flags = int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    inner = 4

    def height(text: str, width: int, f: QFont = font) -> int:
        return QFontMetrics(f).boundingRect(QRect(0, 0, width - 2 * inner, 100_000), flags, text).height() + 2 * inner

    widths = [name_width] + [column_width] * len(table.columns)
    lines = [["Characteristic", *table.columns]] + [[row, *(table.cell(row, c).text for c in table.columns)]
                                                     for row in table.rows]
    heights = [max(height(text, w, bold if i == 0 or k == 0 else font) for k, (text, w) in
                   enumerate(zip(line, widths))) for i, line in enumerate(lines)]
    grid_w = sum(widths)
    top = pad + (row.height() + pad if not row.isNull() else 0)
    image = QImage(max(grid_w, row.width()) + 2 * pad, top + sum(heights) + pad, QImage.Format.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    p = QPainter(image)
    if not row.isNull():
        p.drawImage(pad, pad, row)
    y = top
    for i, (line, h) in enumerate(zip(lines, heights)):
        x = pad
        if i == 0:
            p.fillRect(QRect(x, y, grid_w, h), QColor(232, 232, 238))
        for k, (text, w) in enumerate(zip(line, widths)):
            p.setPen(QColor(200, 200, 206))
            p.drawRect(QRect(x, y, w, h))
            p.setPen(QColor(20, 20, 24))
            p.setFont(bold if i == 0 or k == 0 else font)
            p.drawText(QRect(x + inner, y + inner, w - 2 * inner, h - 2 * inner), flags, text)
            x += w
        y += h
    p.end()
    return image
