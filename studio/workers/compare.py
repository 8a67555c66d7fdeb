"""CompareController: the Compare view's work off the GUI thread.

Model work (loading, sampling a column, reading a card's figures, measuring the table) runs on one
JobRunner thread of its own, apart from the generation thread, so comparing never holds up Generate,
and its jobs run one after another in the order they were asked for. Nearest-neighbour look-ups are
numpy only and run on a second thread, so hovering stays quick while a measurement runs; the training
images they search are loaded once per data set.

Every job reports JobEvents to the ``on_event`` given when it was posted (on the GUI thread):
  * ``prepare``: "result" (TableRows), once torch and the comparison table's code are loaded (here,
    not on the GUI thread, which must stay free of torch while the window comes up);
  * ``run_column``: "loading" (message), "started" (result: the resolved request), "frame"s (result: the
    frames made since the last one, so every step arrives once; frame: the latest), "result"
    (ColumnResult), then its end;
  * ``read_card``: "result" (CardCells);
  * ``measure``: "loading" per model still to load, "progress" (step, total, message: the stage) as
    ``measure_table`` reports it, "result" (the CompareTable);
  * ``neighbours``: "result" (Neighbours), or "error" saying what is missing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.request import GenerationRequest
from .refcount import keep_true_alive
from .runner import Job, JobCancelled, JobRunner

NEIGHBOUR_LIMIT = 5000  # training images searched (the first of the data set), as the novelty check does


# Seconds between the frame events of a column: every frame reaches the timeline, but batched, since
# each crossing to the GUI thread (and its handling there) costs the sampling thread time on a small CPU.
FRAME_INTERVAL = 1 / 30


@dataclass(frozen=True)
class ColumnResult:
    checkpoint: str
    request: GenerationRequest  # resolved
    image: np.ndarray  # (H, W, C) uint8: the finished image
    seconds: float


@dataclass(frozen=True)
class TableRows:
    rows: tuple[str, ...]  # the table's characteristics, in order
    card_rows: frozenset[str]  # those a model's card answers at once (the others are measured)


@dataclass(frozen=True)
class CardCells:
    """The table's cells that a model's card and declared capabilities answer at once."""

    checkpoint: str
    cells: dict  # row -> Cell
    label: str  # the family's label
    conditional: bool  # whether it reads the prompt


@dataclass(frozen=True)
class Neighbours:
    key: Hashable  # what the panel asked about
    images: np.ndarray  # (k, H, W, C) uint8: the nearest training images, nearest first
    distances: np.ndarray  # (k,) pixel RMS in [0, 1]
    indices: np.ndarray  # (k,) their places in the searched subset
    what: str  # which images were searched


def _default_loader(checkpoint: str):
    from ..core.device import pick_device
    from ..store.registry import load_model

    return load_model(checkpoint, pick_device())


def nearest_k(image: np.ndarray, train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` training images nearest ``image`` (distances, indices), nearest first: the core's
    ``nearest_neighbours`` asked k times, each time without the images already found."""
    from ..core.compare import nearest_neighbours

    left = np.arange(len(train))
    dists, found = [], []
    for _ in range(min(k, len(train))):
        d, i = nearest_neighbours(image[None], train[left])
        dists.append(float(d[0]))
        found.append(int(left[i[0]]))
        left = np.delete(left, i[0])
    return np.array(dists), np.array(found, dtype=np.int64)


class CompareController(QObject):
    """GUI-thread handle; the methods post jobs and return their ids."""

    # A measurement reports progress from inside ``measure_table``, where a job cannot yield: the
    # callback emits here, on the worker thread, and Qt queues it to ``_relayed`` on the GUI thread.
    _relay = Signal(object)

    def __init__(self, loader: Callable[[str], object] = _default_loader, parent: QObject | None = None,
                 images_for: Callable[[str, int], object] | None = None) -> None:
        super().__init__(parent)
        self._relay.connect(self._relayed, Qt.ConnectionType.QueuedConnection)
        self.runner = JobRunner("compare-worker", self)
        self.lookup = JobRunner("compare-neighbours", self)
        self._loader = loader
        self._images_for = images_for or _training_images
        self._models: dict[str, object] = {}  # compare thread only
        self._models_lock = threading.Lock()
        self._datasets: dict[tuple[str, int], object] = {}  # lookup thread only: TrainingImages or the error
        self._progress_to: dict[str, Callable[[JobEvent], None]] = {}

    # --- GUI thread -----------------------------------------------------------------------------
    def prepare(self, on_event: Callable[[JobEvent], None]) -> str:
        """Load the comparison table's code (and torch) and report its rows."""
        return self.runner.post(self._prepare, on_event=on_event)

    def run_column(self, checkpoint: str, prompt: str, seed: int, on_event: Callable[[JobEvent], None]) -> str:
        """Sample ``checkpoint``'s default request with ``prompt`` and ``seed``, one frame per step."""
        return self.runner.post(partial(self._run, checkpoint=checkpoint, prompt=prompt, seed=seed),
                                on_event=on_event)

    def read_card(self, checkpoint: str, on_event: Callable[[JobEvent], None]) -> str:
        """Load the model (if it is not yet) and answer the table's card rows."""
        return self.runner.post(partial(self._card, checkpoint=checkpoint), on_event=on_event)

    def measure(self, checkpoints: Sequence[str], on_event: Callable[[JobEvent], None], *, num_novelty: int,
                measure_speed: bool, seed: int, speed_runs: int = 3) -> str:
        """``measure_table`` over the models of ``checkpoints``, its progress reported as it goes."""
        job_id = self.runner.post(partial(self._measure, checkpoints=list(checkpoints), num_novelty=num_novelty,
                                          measure_speed=measure_speed, seed=seed, speed_runs=speed_runs),
                                  on_event=lambda ev: self._measured(ev, on_event))
        self._progress_to[job_id] = on_event
        return job_id

    def neighbours(self, key: Hashable, dataset: str, train_seed: int, image: np.ndarray, k: int,
                   on_event: Callable[[JobEvent], None]) -> str:
        """The ``k`` training images of ``dataset`` nearest ``image``; a newer look-up replaces one not
        started yet (hovering asks many times)."""
        return self.lookup.post(partial(self._neighbours, key=key, dataset=dataset, train_seed=train_seed,
                                        image=image, k=k), key="neighbours", on_event=on_event)

    def cancel(self, job_id: str) -> None:
        self.runner.cancel(job_id)

    def shutdown(self) -> None:
        self._progress_to.clear()
        self.lookup.shutdown()
        self.runner.shutdown()

    def _measured(self, ev: JobEvent, on_event: Callable[[JobEvent], None]) -> None:
        if ev.ends:
            self._progress_to.pop(ev.job, None)
        on_event(ev)

    @Slot(object)
    def _relayed(self, ev: JobEvent) -> None:
        handler = self._progress_to.get(ev.job)
        if handler is not None:
            handler(ev)

    # --- the compare thread -----------------------------------------------------------------------
    def model(self, checkpoint: str):
        with self._models_lock:
            if checkpoint not in self._models:
                self._models[checkpoint] = self._loader(checkpoint)
            return self._models[checkpoint]

    def _load(self, job: Job, checkpoint: str, prompt: str = "") -> Iterator[JobEvent]:
        """The model, then (for a prompt it reads) its text encoder, each announced before it loads."""
        with self._models_lock:
            loaded = checkpoint in self._models
        if not loaded:
            yield job.event("loading", message=f"Loading model {checkpoint}…")
        model = self.model(checkpoint)
        encoder = model.encoder
        if prompt and encoder is not None and not encoder.loaded:
            yield job.event("loading", message="Loading text encoder…")
            encoder.load()
        return model

    def _prepare(self, job: Job) -> Iterator[JobEvent]:
        from ..core.compare.table import CARD_ROWS, ROWS

        yield job.event("result", result=TableRows(tuple(ROWS), frozenset(CARD_ROWS)))

    def _run(self, job: Job, checkpoint: str, prompt: str, seed: int) -> Iterator[JobEvent]:
        model = yield from self._load(job, checkpoint, prompt)
        # Resolving drops the prompt where the model does not read it, as its PNG would.
        resolved = model.resolve(model.default_request().with_(seed=seed, prompt=prompt))
        yield job.event("started", result=resolved)
        last, t0 = None, time.perf_counter()
        pending: list = []  # frames not sent yet: they cross to the GUI thread together, at its pace
        sent = float("-inf")
        for frame in model.sample(resolved):
            last = frame
            pending.append(frame)
            now = time.perf_counter()
            if frame.final or now - sent >= FRAME_INTERVAL:
                sent = now
                yield job.event("frame", step=frame.step, total=frame.total, frame=frame, result=tuple(pending))
                pending = []
            else:
                yield None  # a step not sent: still a point to cancel at
        if last is None or not last.final:
            raise StudioError(f"{checkpoint} stopped before its final step.")
        yield job.event("result", result=ColumnResult(checkpoint, resolved, last.preview[0],
                                                      time.perf_counter() - t0))

    def _card(self, job: Job, checkpoint: str) -> Iterator[JobEvent]:
        from ..core.compare.table import CARD_ROWS

        model = yield from self._load(job, checkpoint)
        cells = {row: measure(model) for row, measure in CARD_ROWS.items()}
        yield job.event("result", result=CardCells(checkpoint, cells, model.label, model.conditional))

    def _measure(self, job: Job, checkpoints: list[str], num_novelty: int, measure_speed: bool, seed: int,
                 speed_runs: int) -> Iterator[JobEvent]:
        from ..core.compare import measure_table

        models = []
        for checkpoint in checkpoints:
            models.append((yield from self._load(job, checkpoint)))

        def progress(stage: str, done: int, total: int) -> None:
            if job.cancelled:  # measure_table has no yields: a cancel takes effect between its stages
                raise JobCancelled()
            keep_true_alive()
            self._relay.emit(job.event("progress", step=done, total=total, message=stage))

        table = measure_table(models, num_novelty=num_novelty, measure_speed=measure_speed, progress=progress,
                              seed=seed, speed_runs=speed_runs)
        yield job.event("result", result=table)

    # --- the look-up thread -----------------------------------------------------------------------
    def _neighbours(self, job: Job, key: Hashable, dataset: str, train_seed: int, image: np.ndarray,
                    k: int) -> Iterator[JobEvent]:
        from ..core.compare.novelty import with_channels

        cached = self._datasets.get((dataset, train_seed))
        if cached is None:
            try:
                cached = self._images_for(dataset, train_seed)
            except StudioError as e:  # a missing data set stays missing for this session: say it at once
                cached = str(e)
            self._datasets[dataset, train_seed] = cached
        if isinstance(cached, str):
            raise StudioError(cached)
        train = with_channels(cached.train)
        distances, indices = nearest_k(with_channels(image[None])[0], train, k)
        yield job.event("result", result=Neighbours(key, train[indices], distances, indices, cached.what))


def _training_images(dataset: str, train_seed: int):
    from ..core.compare import training_images

    return training_images(dataset, limit=NEIGHBOUR_LIMIT, reference=1, seed=train_seed)
