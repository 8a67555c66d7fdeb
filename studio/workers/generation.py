"""GenerationController: one job at a time on a worker thread, the rest in a persistent queue.

A job is the family's ``sample(request)`` generator run by superqt's GeneratorWorker: every yield
becomes a ``yielded`` signal on the GUI thread, and ``quit()`` takes effect at the next yield, so
cancelling stops within one denoising step. The GUI thread never runs model code: checkpoints,
torch and the text encoder are all loaded inside the worker.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import GeneratorWorker, create_worker

from ..core.errors import StudioError
from ..core.request import GenerationRequest
from ..store.jobqueue import JobQueue


@dataclass
class JobResult:
    job_id: str
    request: GenerationRequest
    images: np.ndarray  # (B, H, W, C) uint8
    frames: list[np.ndarray] = field(default_factory=list)  # previews of every step, for GIFs
    seconds: float = 0.0


def _default_loader(checkpoint: str):
    from ..core.device import pick_device
    from ..core.families import load_model

    return load_model(checkpoint, pick_device())


class GenerationController(QObject):
    jobStarted = Signal(str, object)  # job id, GenerationRequest
    frameReady = Signal(str, object, float)  # job id, Frame, steps per second
    jobFinished = Signal(str, object)  # job id, JobResult
    jobCancelled = Signal(str)
    jobFailed = Signal(str, str)  # job id, message
    queueChanged = Signal()
    busyChanged = Signal(bool)
    status = Signal(str)

    def __init__(self, queue: JobQueue | None = None,
                 loader: Callable[[str], object] = _default_loader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # All model work runs on one long-lived pool thread: torch keeps an OpenMP thread team per
        # calling thread, and two teams spinning on the same cores can halve the sampling speed.
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(1)
        pool.setExpiryTimeout(-1)
        self.queue = queue if queue is not None else JobQueue(None)
        self.queue_paused = len(self.queue) > 0  # jobs restored from a previous run wait for the user
        self.want_noisy = False
        self.keep_frames = True  # every step's preview, for the GIF export
        # Seconds between frames sent to the GUI (0: every step). 30 a second looks fluid, and on a
        # 2-core machine every repaint is CPU taken from sampling, so more would cost speed for nothing.
        self.preview_interval = 1 / 30
        self._loader = loader
        self._models: dict[str, object] = {}
        self._models_lock = threading.Lock()
        self._worker: GeneratorWorker | None = None
        self._job: dict | None = None

    # --- public API ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def submit(self, request: GenerationRequest) -> str:
        """Run now if idle, else append to the queue. Raises RequestError for invalid values."""
        request = request.validated()
        if self.busy or self.queue_paused:
            job_id = self.queue.push(request)
            self.queueChanged.emit()
            return job_id
        job_id = uuid.uuid4().hex
        self._start(job_id, request)
        return job_id

    def cancel(self) -> None:
        """Stop the running job at its next step; queued jobs stay queued."""
        if self._job is not None:
            self._job["cancel"].set()  # seen by the sampling loop after the current step
        if self._worker is not None:
            self._worker.quit()

    def resume_queue(self) -> None:
        self.queue_paused = False
        self.queueChanged.emit()
        self._next()

    def pause_queue(self) -> None:
        self.queue_paused = True
        self.queueChanged.emit()

    def preload(self, checkpoint: str) -> None:
        """Warm the model and text encoder in the background so the first Generate is quick."""
        def work():
            model = self._model(checkpoint)
            encoder = getattr(model, "encoder", None)
            if encoder is not None:
                encoder.encode(["warm up"])

        w = create_worker(work, _start_thread=False, _ignore_errors=True)
        w.errored.connect(lambda e: self.status.emit(str(e)))
        w.start()

    # --- internals ---------------------------------------------------------------------------------
    def _model(self, checkpoint: str):
        with self._models_lock:
            if checkpoint not in self._models:
                self._models[checkpoint] = self._loader(checkpoint)
            return self._models[checkpoint]

    def _run(self, request: GenerationRequest, want_noisy: bool, job: dict):
        """Runs on the worker thread. Every step is checked for cancellation, but only frames the
        screen can show are sent to the GUI thread (each crossing costs both threads the GIL)."""
        model = self._model(request.checkpoint)
        yield ("loaded", model.checkpoint.sha256, model.image_size)
        last_sent = 0.0
        for frame in model.sample(request, want_noisy=want_noisy):
            if job["cancel"].is_set():
                return
            if self.keep_frames:
                job["frames"].append(frame.shown())  # read by the GUI thread only after the job ends
            now = time.perf_counter()
            if frame.final or now - last_sent >= self.preview_interval:
                last_sent = now
                yield frame

    def _start(self, job_id: str, request: GenerationRequest) -> None:
        self._job = job = {"id": job_id, "request": request, "frames": [], "t0": time.perf_counter(),
                           "t_first": None, "last": None, "error": None, "aborted": False,
                           "cancel": threading.Event()}
        worker = create_worker(self._run, request, self.want_noisy, job, _start_thread=False,
                               _ignore_errors=True)  # errors are reported through jobFailed
        worker.yielded.connect(self._on_yield)
        worker.errored.connect(self._on_error)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.busyChanged.emit(True)
        self.jobStarted.emit(job_id, request)
        self.status.emit("Loading model…" if request.checkpoint not in self._models else "Generating…")
        worker.start()

    def _on_yield(self, item) -> None:
        job = self._job
        if job is None:
            return
        if isinstance(item, tuple) and item and item[0] == "loaded":
            _, sha, (w, h) = item
            self.status.emit("Generating…")
            req = job["request"]
            if req.checkpoint_hash and req.checkpoint_hash != sha:
                self.status.emit(f"Note: {req.checkpoint} has changed since these settings were saved "
                                 f"(hash {req.checkpoint_hash} -> {sha}); the image may differ.")
            job["request"] = req.with_(checkpoint_hash=sha, width=w, height=h)
            job["t_first"] = time.perf_counter()
            return
        frame = item
        job["last"] = frame
        elapsed = time.perf_counter() - (job["t_first"] or job["t0"])
        rate = frame.step / elapsed if elapsed > 0 else 0.0
        self.frameReady.emit(job["id"], frame, rate)

    def _on_error(self, exc: BaseException) -> None:
        if self._job is not None:
            self._job["error"] = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"

    def _on_aborted(self) -> None:
        if self._job is not None:
            self._job["aborted"] = True

    def _on_finished(self) -> None:
        job, self._job, self._worker = self._job, None, None
        if job is not None:
            last = job["last"]
            if job["error"]:
                self.jobFailed.emit(job["id"], job["error"])
                self.status.emit(job["error"])
            elif job["aborted"] or last is None or not last.final:
                self.jobCancelled.emit(job["id"])
                self.status.emit("Cancelled.")
            else:
                seconds = time.perf_counter() - (job["t_first"] or job["t0"])
                result = JobResult(job["id"], job["request"], last.preview, job["frames"], seconds)
                self.jobFinished.emit(job["id"], result)
                self.status.emit(f"Done in {seconds:.1f} s.")
        self.busyChanged.emit(False)
        self._next()

    def _next(self) -> None:
        if self.busy or self.queue_paused:
            return
        item = self.queue.pop()
        if item is not None:
            self.queueChanged.emit()
            self._start(*item)
