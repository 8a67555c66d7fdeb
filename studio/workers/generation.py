"""GenerationController: one generation job at a time on the model thread, the rest in a persistent queue.

A job is a plain generator run by a JobRunner: it loads the model (cached), resolves the request
(validated, hash and size filled in, undeclared capabilities refused), then runs the family's
``sample`` one step per yield, so cancelling stops within a step. Its JobEvents, in order:
"loading" (once per stage still to load: the model, then its text encoder; the message says which),
"started" (the resolved request), "note" (the checkpoint changed since the request's hash was saved),
"frame"s (with the rate, counted from the first step: loading is not sampling), "paused" while the step
debugger holds it (result: a Paused; ``stepping`` takes its commands), "result" (a JobResult),
then the end. A preload reports its "loading" stages the same way, then "loaded" once it is over.
A request submitted while busy waits in the queue; it is resolved between the running job's steps, so
what the queue keeps is the resolved request ("queued" event). The GUI thread never runs model code.

Closing (``shutdown``) stops the running job at its next yield and puts it back at the head of the
queue, unless its images had already come back, so the next start runs it again.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.request import GenerationRequest
from ..store.jobqueue import JobQueue
from .runner import Job, JobRunner, Work
from .stepping import Paused, StepControl

JOB, URGENT = 10, 0  # runner priorities: resolving, preloading and input images run between a job's steps


@dataclass
class JobResult:
    job_id: str
    request: GenerationRequest  # resolved: checkpoint hash and image size filled in
    images: np.ndarray  # (B, H, W, C) uint8
    frames: list[np.ndarray] = field(default_factory=list)  # previews of every step, for GIFs
    seconds: float = 0.0


def _default_loader(checkpoint: str):
    from ..core.device import pick_device
    from ..store.registry import load_model

    return load_model(checkpoint, pick_device())


def changed_note(asked: GenerationRequest, resolved: GenerationRequest) -> str:
    """Saved settings name the checkpoint's hash: say so when the file has changed since."""
    if asked.checkpoint_hash and asked.checkpoint_hash != resolved.checkpoint_hash:
        return (f"Note: {asked.checkpoint} has changed since these settings were saved (hash "
                f"{asked.checkpoint_hash} -> {resolved.checkpoint_hash}); the image may differ.")
    return ""


class GenerationController(QObject):
    event = Signal(object)  # JobEvent of a generation job (ids returned by submit, or the queue's)
    queueChanged = Signal()
    busyChanged = Signal(bool)

    def __init__(self, queue: JobQueue | None = None, loader: Callable[[str], object] = _default_loader,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner("model-worker", self)
        self.runner.event.connect(self._route)
        self.queue = queue if queue is not None else JobQueue(None)
        self.queue_paused = len(self.queue) > 0  # jobs restored from a previous run wait for the user
        self.want_noisy = False
        self.keep_frames = True  # every step's preview, for the GIF export
        self.stepping = StepControl()  # the step debugger's pause, step, rewind and edits
        # Seconds between frames sent to the GUI (0: every step). 30 a second looks fluid, and on a
        # 2-core machine every repaint is CPU taken from sampling, so more would cost speed for nothing.
        self.preview_interval = 1 / 30
        # How a model that makes its step previews more than one way ("preview_modes") makes them:
        # (mode, every k steps); None leaves the model's own.
        self.preview_mode: tuple[str, int] | None = None
        self._loader = loader
        self._models: dict[str, object] = {}
        self._models_lock = threading.Lock()
        self._current: str | None = None
        self._current_request: GenerationRequest | None = None  # resolved once it has started
        self._result_seen = False  # the running job's images have reached the GUI thread
        self._cancel_asked = False  # cancel() was called for the running job
        self._closed = False
        self.clock: Callable[[], float] = time.perf_counter  # what rates are measured with

    # --- public API (GUI thread) ----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> str | None:
        """The id of the running generation job."""
        return self._current

    def submit(self, request: GenerationRequest) -> str:
        """Run now if idle, else queue it (resolved as soon as the model thread has a moment).
        Raises RequestError for invalid values; what the model cannot do arrives as an "error" event."""
        if self._closed:
            raise StudioError("The studio is closing; nothing more is generated.")
        request = request.validated()
        if self.busy or self.queue_paused:
            job_id = self.queue.push(request)
            self.queueChanged.emit()
            self.post(partial(self._resolve_queued, job_id=job_id, request=request), self._queued_end(job_id))
            return job_id
        job_id = uuid.uuid4().hex
        self._start(job_id, request)
        return job_id

    def cancel(self) -> None:
        """Stop the running job at its next step; queued jobs stay queued. A cancel that comes as the job
        ends, its images already made (Esc between two queued jobs), is not lost: the queued job that
        would start next is cancelled instead."""
        if self._current is not None:
            self._cancel_asked = True
            self.runner.cancel(self._current)

    def resume_queue(self) -> None:
        self.queue_paused = False
        self.queueChanged.emit()
        self._next()

    def pause_queue(self) -> None:
        self.queue_paused = True
        self.queueChanged.emit()

    def preload(self, checkpoint: str) -> str:
        """Warm the model and its prompt encoder in the background so the first Generate is quick. Its
        "loading" stages are reported on ``event`` (the window shows what it waits for), then "loaded";
        a cancel (closing the window) takes effect between the stages."""
        def work(job: Job) -> Iterator[JobEvent | None]:
            yield from self._load(job, checkpoint)

        def seen(ev: JobEvent) -> None:
            if ev.kind == "loading":
                self.event.emit(ev)
            elif ev.ends:
                self.event.emit(JobEvent("loaded", ev.job))
                if ev.kind == "error":
                    self.event.emit(JobEvent("note", ev.job, message=ev.message))
        return self.post(work, seen)

    def post(self, work: Work, on_event: Callable[[JobEvent], None]) -> str:
        """Run a helper job on the model thread, between the steps of a running job; its events go to
        ``on_event`` (GUI thread), not to ``event``. Its work may call ``model(checkpoint)``."""
        return self.runner.post(work, priority=URGENT, on_event=on_event)

    def model(self, checkpoint: str):
        """The loaded model (a Family) for ``checkpoint``, loading it on first use. Model thread only."""
        with self._models_lock:
            if checkpoint not in self._models:
                self._models[checkpoint] = self._loader(checkpoint)
            return self._models[checkpoint]

    def is_loaded(self, checkpoint: str) -> bool:
        with self._models_lock:
            return checkpoint in self._models

    def shutdown(self) -> None:
        """Stop the running job (at its next step) and the model thread; nothing starts after this. The
        running job goes back to the head of the saved queue unless its images reached the GUI thread."""
        self._closed = True
        self.runner.shutdown()
        if self._current is None:
            return
        if not self._result_seen and self._current_request is not None:
            try:
                self.queue.move(self.queue.push(self._current_request), 0)
            except OSError:
                pass  # the disk refuses the write: the saved queue stays as it was
        self._end_current()
        self.queueChanged.emit()

    # --- the model thread ---------------------------------------------------------------------------
    def _load(self, job: Job, checkpoint: str) -> Iterator[JobEvent]:
        """The model, then its text encoder, each announced before it loads (seconds each on a busy
        machine); the yield between them is where a cancel takes effect."""
        if not self.is_loaded(checkpoint):
            yield job.event("loading", message=f"Loading model {checkpoint}…")
        model = self.model(checkpoint)
        encoder = model.encoder
        if encoder is not None and not encoder.loaded:
            yield job.event("loading", message="Loading text encoder…")
            encoder.load()
        return model

    def _generate(self, job: Job, request: GenerationRequest, want_noisy: bool, keep_frames: bool,
                  interval: float, preview: tuple[str, int] | None = None) -> Iterator[JobEvent | None]:
        """Every step is checked for cancellation, but only frames the screen can show are sent to the
        GUI thread (each crossing costs both threads the GIL)."""
        from ..core.debugger import Debugger  # imports torch: not before the first generation
        from ..store.inputs import load_input  # the caller gives the family pixels, not a hash

        model = yield from self._load(job, request.checkpoint)
        if preview is not None and model.can("preview_modes") and preview[0] in model.preview_modes:
            model.set_preview(*preview)
        resolved = model.resolve(request)
        yield job.event("started", result=resolved, message="Generating…")
        if note := changed_note(request, resolved):
            yield job.event("note", message=note)
        init = load_input(resolved.init_image) if resolved.init_image else None
        dbg = Debugger(model, resolved, init=init, want_noisy=want_noisy)
        control = self.stepping  # reset when the job was started (a pause may come before the first step)
        clock = self.clock
        last, first, last_sent, t0 = None, None, 0.0, clock()
        announced = False  # a paused run says where it stands once after every change
        while not dbg.finished:
            for kind, value in control.take():
                try:
                    if kind == "rewind":
                        dbg.rewind(value)
                    else:
                        dbg.edit(**value)
                        changes = ", ".join(f"{k.replace('_', ' ')} {v!r}" for k, v in value.items())
                        yield job.event("note", message=f"From step {dbg.position} on: {changes}.")
                except StudioError as e:
                    yield job.event("note", message=str(e))
                announced = False
            if not control.may_step():
                if not announced:
                    yield job.event("paused", step=dbg.position, total=dbg.total, frame=dbg.frame,
                                    result=Paused(dbg.request, dbg.position, len(dbg.frames), dbg.can_edit),
                                    message=f"Paused after step {dbg.position} of {dbg.total}.")
                    announced = True
                control.wait(0.05)
                yield None  # a point to cancel at, and for urgent jobs to run
                continue
            frame = dbg.step()
            now = clock()
            last, first = frame, first or (frame.step, now)  # the rate counts from the first step on
            if frame.final or control.paused or now - last_sent >= interval:
                last_sent = now
                # Only an iterative run has a rate (a one-step decode would report thousands a second).
                rate = (frame.step - first[0]) / (now - first[1]) if frame.total > 1 and now > first[1] else 0.0
                yield job.event("frame", step=frame.step, total=frame.total, frame=frame, rate=rate)
            else:
                yield None  # a step not shown: still a point to cancel at
            announced = False
        last = dbg.frame
        if last is None or not last.final:
            raise RuntimeError("the sampler stopped before its final step")
        frames = [f.shown() for f in dbg.frames] if keep_frames else []
        seconds = clock() - t0
        yield job.event("result", result=JobResult(job.id, dbg.request, last.preview, frames, seconds),
                        message=f"Done in {seconds:.1f} s.")

    def _resolve_queued(self, job: Job, job_id: str, request: GenerationRequest) -> Iterator[JobEvent | None]:
        """Resolve a waiting job in place, so the saved queue holds the complete request."""
        model = self.model(request.checkpoint)
        resolved = model.resolve(request)
        try:
            self.queue.update(job_id, resolved)
        except KeyError:
            return  # started, removed or taken out for editing meanwhile: nothing to update
        yield JobEvent("queued", job_id, result=resolved, message=changed_note(request, resolved))

    # --- GUI thread ---------------------------------------------------------------------------------
    def _queued_end(self, job_id: str) -> Callable[[JobEvent], None]:
        def ended(ev: JobEvent) -> None:
            if ev.kind != "error":
                return
            try:  # a request the model refuses leaves the queue with its message
                self.queue.remove(job_id)
            except KeyError:
                return  # already started: its own run reports the same error
            self.queueChanged.emit()
            self.event.emit(JobEvent("error", job_id, message=ev.message))
        return ended

    def _route(self, ev: JobEvent) -> None:
        if ev.kind == "queued":
            self.queueChanged.emit()
        if ev.job == self._current and ev.kind == "started":
            self._current_request = ev.result
        elif ev.job == self._current and ev.kind == "result":
            self._result_seen = True
        self.event.emit(ev)
        if ev.ends and ev.job == self._current:
            too_late = self._cancel_asked and self._result_seen  # the cancel came after the images
            self._end_current()
            self._next(cancel=too_late)

    def _end_current(self) -> None:
        self._current, self._current_request = None, None
        self._result_seen = self._cancel_asked = False
        self.busyChanged.emit(False)

    def _start(self, job_id: str, request: GenerationRequest) -> None:
        self._current, self._current_request = job_id, request
        self.stepping.reset()  # a new run starts running, with no command of the last one left
        self.busyChanged.emit(True)
        work = partial(self._generate, request=request, want_noisy=self.want_noisy, keep_frames=self.keep_frames,
                       interval=self.preview_interval, preview=self.preview_mode)
        self.runner.post(work, job_id=job_id, priority=JOB)

    def _next(self, cancel: bool = False) -> None:
        """Start the next queued job; ``cancel``: it starts cancelled (ends at once, "cancelled")."""
        if self.busy or self.queue_paused or self._closed:
            return
        item = self.queue.pop()
        if item is not None:
            self.queueChanged.emit()
            self._start(*item)
            if cancel:
                self._cancel_asked = True
                self.runner.cancel(item[0])
                self.event.emit(JobEvent("note", item[0], message="Cancelled the next queued job: the cancel "
                                                                 "came as the previous one finished."))
