"""GridRun: an X/Y/Z grid (``studio.core.grid``) drawn off the GUI thread and reported as JobEvents.

The grid is one job on the generation controller's runner: torch stays on the model thread, the models
that thread has loaded are reused, and a grid posted while an image is generating waits for it (and a
Generate pressed during a grid waits for the grid). Its JobEvents, in order:
  "loading"  a checkpoint is about to load (message; step/total: cells done / cells),
  "frame"    a live preview of one cell (result: the cell's index in the list given to ``start``;
             frame: the Frame; step/total: the frame's), at most every ``preview_interval`` seconds,
  "progress" a cell is finished (result: its CellResult; step/total: cells done / cells),
then one end: "done", "cancelled" (the cells reported so far stay finished) or "error" (message).
Saving the sheet runs on the session's gallery-writer thread: "result" (result: the sheet's Path), then
its end. A cancel takes effect within one sampling step, as for a single image.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..core.events import JobEvent
from ..core.grid.axes import Axis, Cell
from .generation import JOB, GenerationController
from .runner import Job, JobRunner


class GridRun(QObject):
    event = Signal(object)  # JobEvent of the grid run or of a sheet being saved, on the GUI thread

    def __init__(self, generation: GenerationController, writer: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.generation, self.writer = generation, writer
        self._job: str | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def job(self) -> str | None:
        """The id of the running grid."""
        return self._job

    def start(self, cells: Sequence[Cell]) -> str:
        """Draw ``cells`` (``grid_cells``' list, in its order) on the model thread. Every cell starts from
        the input image its request names, if any."""
        if self.busy:
            raise RuntimeError("a grid is already running")
        cells = list(cells)
        self._job = self.generation.runner.post(
            lambda job: self._draw(job, cells, self.generation.preview_interval), priority=JOB,
            on_event=self._on_event)
        return self._job

    def cancel(self) -> None:
        """Stop at the next step; the cells already reported stay."""
        if self._job is not None:
            self.generation.runner.cancel(self._job)

    def save_sheet(self, path: str | Path, results: Sequence, x: Axis, y: Axis | None = None,
                   z: Axis | None = None) -> str:
        """Write the labelled sheet of ``results`` (CellResults) to ``path`` on the writer thread."""
        results = list(results)

        def work(job: Job) -> Iterator[JobEvent]:
            from ..core.grid import save_sheet

            try:
                saved = save_sheet(path, results, x, y, z)
            except OSError as e:
                from ..core.errors import StudioError

                raise StudioError(f"Could not write the sheet {path}: {e.strerror or e}.") from None
            yield job.event("result", result=saved)
        return self.writer.post(work, on_event=self.event.emit)

    # --- the model thread -------------------------------------------------------------------------
    def _draw(self, job: Job, cells: list[Cell], interval: float) -> Iterator[JobEvent | None]:
        from ..core.grid import run_grid
        from ..store.inputs import load_input
        from ..store.registry import find

        gen = self.generation
        for checkpoint in dict.fromkeys(c.checkpoint for c in cells):
            if not gen.is_loaded(checkpoint):
                find(checkpoint)  # a misspelt checkpoint on an axis is refused before anything is drawn
        h = cells[0].request.init_image if cells else ""
        init = load_input(h) if h else None

        def load(checkpoint: str):
            model = gen.model(checkpoint)
            encoder = model.encoder
            reads = any(c.request.prompt.strip() or c.request.negative_prompt.strip()
                        for c in cells if c.checkpoint == checkpoint)
            if encoder is not None and reads and not encoder.loaded:
                encoder.load()  # here, under "loading", rather than inside the first cell's first step
            return model

        last_sent = -math.inf
        for ev in run_grid(cells, load, init=init):
            if ev.kind == "loading":
                loaded = gen.is_loaded(ev.checkpoint)
                yield None if loaded else job.event("loading", step=ev.done, total=ev.total,
                                                    message=f"Loading model {ev.checkpoint}…")
            elif ev.kind == "frame":
                now = time.perf_counter()
                if now - last_sent < interval:
                    yield None  # a step not shown: still a point to cancel at
                    continue
                last_sent = now
                yield job.event("frame", step=ev.frame.step, total=ev.frame.total, frame=ev.frame, result=ev.index)
            else:
                yield job.event("progress", step=ev.done, total=ev.total, result=ev.result)

    # --- GUI thread -----------------------------------------------------------------------------------
    def _on_event(self, ev: JobEvent) -> None:
        if ev.ends and ev.job == self._job:
            self._job = None
        self.event.emit(ev)
