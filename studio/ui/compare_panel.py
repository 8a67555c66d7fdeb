"""The Compare view: models side by side on one prompt and seed.

One column per model (by default the best shipped checkpoint of each family, chosen as ``genstudio
compare`` chooses: the card's "best" flag, else the lowest measured Fashion-MNIST classifier FD, else
the first by id). Run samples every column on the compare thread, one after another, each streaming
its frames; a shared timeline (t = step / total) replays them in step, plays them, and exports the row
as a GIF. Below, the table of the seed's characteristics (``CompareTableView``), and the training images
nearest the image under the pointer."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..cli.compare import default_checkpoints
from ..core.compare.timeline import row_at, save_row_gif
from ..core.errors import StudioError
from ..core.events import JobEvent
from ..store.paths import resources_dir
from ..store.registry import CheckpointInfo, scan
from ..workers.compare import CompareController
from .compare_table_view import CompareTableView
from .compare_timeline import CompareColumn, NeighboursView, TimelineBar
from .qimage import to_qimage

NEIGHBOURS = 4  # training images shown for the image under the pointer


def default_columns(infos: list[CheckpointInfo]) -> list[str]:
    """The best shipped checkpoint of each family (the user's own where none is shipped)."""
    shipped = resources_dir() / "checkpoints"
    ours = [i for i in infos if i.path.parent == shipped]
    return default_checkpoints(ours + [i for i in infos if i.family not in {o.family for o in ours}])


class ComparePanel(QWidget):
    message = Signal(str, bool)  # text, whether it is an error (for the status bar)

    def __init__(self, controller: CompareController | None = None, columns: list[str] | None = None,
                 parent: QWidget | None = None, activate_on_show: bool = True) -> None:
        """``activate_on_show`` False: the owner calls ``activate`` when the panel is really looked at (a
        dock in a background tab gets a show event with the window, and should load nothing then)."""
        super().__init__(parent)
        self.activate_on_show = activate_on_show
        self.controller = controller or CompareController(parent=self)
        self.columns: list[CompareColumn] = []
        self.infos: list[CheckpointInfo] = []
        self._cards_asked: set[str] = set()  # checkpoints whose card rows were asked for
        self._cards_live = False  # cards are read once the panel is first shown (loading costs CPU)
        self._measure_job: str | None = None
        self._measure_ids: list[str] = []
        self._looking_at: tuple | None = None  # the image whose neighbours are shown or searched
        self._neighbours_job: str | None = None

        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("One prompt for every column (models that read none ignore it)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.add_choice = QComboBox()
        self.add_button = QPushButton("Add column")
        top = QHBoxLayout()  # two rows, so the panel fits beside the left docks on a laptop screen
        top.addWidget(self.prompt, 3)
        top.addWidget(self.seed)
        top.addWidget(self.run_button)
        top.addWidget(self.cancel_button)
        adding = QHBoxLayout()
        adding.addWidget(self.add_choice, 1)
        adding.addWidget(self.add_button)

        self.row = QHBoxLayout()
        self.row.addStretch(1)
        strip = QWidget()
        strip.setLayout(self.row)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(strip)
        scroll.setMinimumHeight(250)  # a column whole: its buttons, header, image and status
        self.timeline = TimelineBar()
        self.neighbours = NeighboursView(NEIGHBOURS)
        upper = QWidget()
        up = QVBoxLayout(upper)
        up.setContentsMargins(0, 0, 0, 0)
        up.addWidget(scroll, 1)
        up.addWidget(self.timeline)
        up.addWidget(self.neighbours)
        self.table_view = CompareTableView()
        self.table_view.row_image = self.row_qimage
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(self.table_view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(adding)
        layout.addWidget(split, 1)
        self.hint = QLabel("")
        layout.addWidget(self.hint)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.prompt.returnPressed.connect(self.run)
        self.add_button.clicked.connect(lambda: self.add_column(self.add_choice.currentData()))
        self.timeline.timeChanged.connect(self._time_changed)
        self.timeline.gif_button.clicked.connect(self._ask_gif)
        self.table_view.measureRequested.connect(self.measure)
        self.table_view.stopRequested.connect(self._stop_measuring)
        self.rescan()
        for checkpoint in columns if columns is not None else default_columns(self.infos):
            self.add_column(checkpoint)

    # --- columns ------------------------------------------------------------------------------------
    def rescan(self) -> None:
        """List the registered checkpoints again (the add-column choice)."""
        self.infos = scan()[0]
        self.add_choice.clear()
        for info in self.infos:
            self.add_choice.addItem(f"{info.id} ({info.family})", info.id)

    def column_ids(self) -> list[str]:
        return [c.checkpoint for c in self.columns]

    def add_column(self, checkpoint: str | None) -> bool:
        """A column of ``checkpoint`` at the right; False (saying why) if it is unknown or already shown."""
        info = next((i for i in self.infos if i.id == checkpoint), None)
        if info is None or checkpoint in self.column_ids():
            self._say(f"{checkpoint} is already a column." if info else
                      f"No checkpoint named {checkpoint!r} is registered.", True)
            return False
        column = CompareColumn(info)
        column.moveRequested.connect(lambda c, d: self.move_column(self.columns.index(c), d))
        column.removeRequested.connect(lambda c: self.remove_column(self.columns.index(c)))
        column.looked.connect(self.look_at)
        self.columns.append(column)
        self._relayout()
        if self._cards_live:
            self._read_card(column)
        return True

    def remove_column(self, index: int) -> None:
        column = self.columns.pop(index)
        if column.job is not None:
            self.controller.cancel(column.job)
        self.row.removeWidget(column)
        column.deleteLater()
        self._relayout()
        self._update_running()

    def move_column(self, index: int, delta: int) -> None:
        to = index + delta
        if 0 <= index < len(self.columns) and 0 <= to < len(self.columns):
            self.columns.insert(to, self.columns.pop(index))
            self._relayout()

    def _relayout(self) -> None:
        for column in self.columns:
            self.row.removeWidget(column)
        for k, column in enumerate(self.columns):
            self.row.insertWidget(k, column, 1)
            column.set_edges(k == 0, k == len(self.columns) - 1)
        self.table_view.set_columns(self.column_ids(), {c.checkpoint: c.family_label for c in self.columns})

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.activate_on_show:
            self.activate()

    def activate(self) -> None:
        """First looked at: the compare thread loads the table's code (torch), then the columns' cards."""
        if not self._cards_live:
            self._cards_live = True
            self.controller.prepare(self._on_prepared)
            for column in self.columns:
                self._read_card(column)

    def _on_prepared(self, ev: JobEvent) -> None:
        if ev.kind == "result":
            self.table_view.set_rows(ev.result.rows, ev.result.card_rows)
        elif ev.kind == "error":
            self._say(ev.message, True)

    def _read_card(self, column: CompareColumn) -> None:
        if column.checkpoint not in self._cards_asked:
            self._cards_asked.add(column.checkpoint)
            self.controller.read_card(column.checkpoint, self._on_card)

    def _on_card(self, ev: JobEvent) -> None:
        if ev.kind == "result":
            for column in self.columns:
                if column.checkpoint == ev.result.checkpoint:
                    column.set_model(ev.result.label, ev.result.conditional)
            self.table_view.set_card(ev.result.checkpoint, ev.result.cells)
        elif ev.kind == "error":
            self._say(ev.message, True)

    # --- running ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(c.job is not None for c in self.columns)

    def run(self) -> None:
        """Sample every column on the prompt and seed; the timeline goes to 1 to show frames as they come."""
        if self.running or not self.columns:
            return
        self.timeline.play_button.setChecked(False)
        self.timeline.set_t(1.0)
        for column in self.columns:
            column.reset("Waiting…")
            column.set_status("waiting")
            column.job = self.controller.run_column(column.checkpoint, self.prompt.text(), self.seed.value(),
                                                    partial(self._on_run, column))
        self._update_running()

    def cancel(self) -> None:
        for column in self.columns:
            if column.job is not None:
                self.controller.cancel(column.job)

    def _on_run(self, column: CompareColumn, ev: JobEvent) -> None:
        if column not in self.columns:
            return  # removed meanwhile
        if ev.kind == "loading":
            column.set_status(ev.message)
        elif ev.kind == "started":
            column.set_status("generating…")
        elif ev.kind == "frame":
            for frame in ev.result or (ev.frame,):  # every step, sent in batches
                column.add_frame(frame, self.timeline.t, f"{frame.unit} {frame.step}/{frame.total}")
        elif ev.kind == "result":
            column.set_status(f"{len(column.track)} frame(s) in {ev.result.seconds:.2f} s")
        elif ev.kind == "error":
            column.set_status(ev.message, error=True)
            self._say(f"{column.checkpoint}: {ev.message}", True)
        elif ev.kind == "cancelled":
            column.set_status("cancelled")
        if ev.ends:
            column.job = None
            self._update_running()

    def _update_running(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.timeline.gif_button.setEnabled(not running and any(len(c.track) for c in self.columns))

    # --- the timeline -------------------------------------------------------------------------------
    def _time_changed(self, t: float) -> None:
        for column in self.columns:
            column.show_at(t)

    def row_picture(self, t: float | None = None):
        """The row at ``t`` (default: the timeline's) as a PIL image, labelled."""
        return row_at([c.track for c in self.columns], [c.labels() for c in self.columns],
                      self.timeline.t if t is None else t)

    def row_qimage(self) -> QImage:
        return to_qimage(np.asarray(self.row_picture()))

    def export_gif(self, path: str) -> Path:
        """The whole row over the timeline as an animated GIF."""
        return save_row_gif([c.track for c in self.columns], [c.labels() for c in self.columns], path)

    def _ask_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the row as an animated GIF", "compare.gif", "GIF (*.gif)")
        if path:
            try:
                self._say(f"Wrote {self.export_gif(path)}.")
            except (OSError, StudioError) as e:
                self._say(f"Could not write the GIF: {e}", True)

    # --- the table ------------------------------------------------------------------------------------
    def measure(self, num_novelty: int, measure_speed: bool) -> None:
        """``measure_table`` over the columns' models, on the compare thread."""
        if self._measure_job is not None or not self.columns:
            return
        self._measure_ids = self.column_ids()
        self.table_view.start_measuring()
        self._measure_job = self.controller.measure(self._measure_ids, self._on_measure, num_novelty=num_novelty,
                                                    measure_speed=measure_speed, seed=self.seed.value())

    def _stop_measuring(self) -> None:
        if self._measure_job is not None:
            self.controller.cancel(self._measure_job)

    def _on_measure(self, ev: JobEvent) -> None:
        view = self.table_view
        if ev.kind == "loading":
            view.stage.setText(ev.message)
        elif ev.kind == "progress":
            view.show_progress(ev.step, ev.total, ev.message)
        elif ev.kind == "result":
            view.set_measured(self._measure_ids, ev.result)
        if ev.ends:
            self._measure_job = None
            view.stop_measuring({"done": "measured", "cancelled": "measuring stopped"}.get(ev.kind, ev.message),
                                error=ev.kind == "error")

    # --- nearest training images ------------------------------------------------------------------------
    def look_at(self, column: CompareColumn) -> None:
        """Search the training images nearest the image ``column`` shows (on the look-up thread)."""
        image = column.shown_raw()
        if image is None:
            self._looking_at = None
            self.neighbours.say(f"{column.checkpoint} shows no image at this t.")
            return
        key = (column.checkpoint, column.shown_index, id(column.track))
        if key == self._looking_at:
            return
        self._looking_at = key
        dataset = column.info.config.get("dataset")
        training = column.info.card.get("training")
        train_seed = training.get("seed", 0) if isinstance(training, dict) else 0
        if not isinstance(dataset, str) or not dataset:
            self.neighbours.say(f"{column.checkpoint} does not name its training data set.", error=True)
            return
        self.neighbours.say(f"Searching the {dataset} training images…")
        self._neighbours_job = self.controller.neighbours(
            key, dataset, train_seed if isinstance(train_seed, int) else 0, image, NEIGHBOURS,
            partial(self._on_neighbours, column))

    def _on_neighbours(self, column: CompareColumn, ev: JobEvent) -> None:
        if ev.job != self._neighbours_job:
            return  # an older look-up: the pointer has moved on
        if ev.kind == "result":
            index = column.shown_index
            about = f"{column.checkpoint}'s frame {index + 1} of {len(column.track)}" if index is not None \
                else column.checkpoint
            self.neighbours.show_neighbours(about, ev.result.images, ev.result.distances, ev.result.what)
        elif ev.kind == "error":
            self._looking_at = None
            self.neighbours.say(ev.message, error=True)

    # --- the rest -----------------------------------------------------------------------------------
    def _say(self, text: str, error: bool = False) -> None:
        self.hint.setText(text)
        self.hint.setStyleSheet("color: #c55" if error else "")
        self.message.emit(text, error)

    def shutdown(self) -> None:
        """Stop the compare threads (the window calls this as it closes)."""
        self.timeline.play_button.setChecked(False)
        self.controller.shutdown()
