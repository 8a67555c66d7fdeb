"""JobRunner: the one way the studio runs work off the GUI thread.

A job is a plain generator function ``work(job)`` that yields JobEvents (or None: "a step with
nothing to show"). It runs on the runner's single long-lived thread (torch keeps an OpenMP team per
calling thread, so model work must stay on one), and every event it yields is re-emitted through the
runner's one public signal, ``event``, emitted on the GUI thread in order.

Every yield is a point where the runner acts:
  * cancelling: ``JobCancelled`` is thrown into the generator at its next yield (and what it yielded
    after the cancel is not shown), so a job stops within one step; a job may catch it to clean up
    (training saves a resumable state) and yield its own end;
  * urgency: pending jobs of a more urgent priority (a lower number) run to the end before the job
    resumes, so a slider's decode is not held up by a map being tiled, nor an input image by a long
    diffusion run.
A job ends with exactly one of JobEvent.ENDS: the runner adds "done", "error" or "cancelled" unless
the job yielded one itself. Posting with a ``key`` makes requests "latest wins": a newer job with the
same key replaces one not started yet.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Generator, Hashable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..core.errors import StudioError
from ..core.events import JobEvent
from .refcount import keep_true_alive


class JobCancelled(Exception):
    """Thrown into a job's generator at the yield after ``cancel``."""


@dataclass
class Job:
    id: str
    work: Callable[["Job"], Iterator[JobEvent | None]]
    priority: int
    key: Hashable
    tag: str
    seq: int
    cancel_flag: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel_flag.is_set()

    def event(self, kind: str, **fields) -> JobEvent:
        """An event of this job (its id and tag filled in)."""
        return JobEvent(kind, self.id, tag=self.tag, **fields)


Work = Callable[[Job], Iterator[JobEvent | None]]


def error_message(e: BaseException) -> str:
    """StudioErrors are written for the user; anything else also says what kind of failure it was."""
    return str(e) if isinstance(e, StudioError) else f"{type(e).__name__}: {e}"


class JobRunner(QObject):
    event = Signal(object)  # JobEvent, emitted on the GUI thread
    # The worker thread emits this one; Qt queues it to ``_deliver``, a slot of this GUI-thread
    # object, which emits ``event`` there. Receivers are then called directly on the GUI thread:
    # PySide 6.12 can call a Python callable (a lambda, or pytest-qt's waiter) that was disconnected
    # while a queued call to it was pending, after it was freed.
    _posted = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.name = name
        self._cond = threading.Condition()
        self._pending: dict[Hashable, Job] = {}
        self._running: list[Job] = []  # the job running, and the urgent ones nested in it
        self._handlers: dict[str, Callable[[JobEvent], None]] = {}  # job id -> the callback its events go to
        self._seq = itertools.count()
        self._stopping = False
        # A daemon thread, not a QThread: one left running by a test never aborts the interpreter.
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # --- any thread -----------------------------------------------------------------------------
    def post(self, work: Work, *, job_id: str | None = None, key: Hashable | None = None, priority: int = 0,
             tag: str = "", on_event: Callable[[JobEvent], None] | None = None) -> str:
        """Queue ``work``; lower ``priority`` runs first (and between the steps of a less urgent job).
        Its events go to ``on_event`` (on the GUI thread) when given, else to ``event``.
        After ``shutdown`` it is ignored: the window is closing, and nobody would see the result."""
        job_id = job_id or uuid.uuid4().hex
        with self._cond:
            if self._stopping:
                return job_id
            if on_event is not None:
                self._handlers[job_id] = on_event
            key = job_id if key is None else key
            self._pending[key] = Job(job_id, work, priority, key, tag, next(self._seq))
            self._cond.notify()
        return job_id

    def cancel(self, job_id: str) -> None:
        """Stop the job at its next yield; a job not started yet ends as soon as it is taken."""
        with self._cond:
            for job in [*self._running, *self._pending.values()]:
                if job.id == job_id:
                    job.cancel_flag.set()

    def cancel_running(self) -> None:
        with self._cond:
            for job in self._running:
                job.cancel_flag.set()

    def drop_pending(self) -> None:
        """Forget every job not started yet (they emit nothing)."""
        with self._cond:
            for job in self._pending.values():
                self._handlers.pop(job.id, None)
            self._pending.clear()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._running and not self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is pending or running (closing the window waits for gallery writes)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running and not self._pending, timeout)

    @property
    def alive(self) -> bool:
        """Whether the runner's thread still runs (False once ``shutdown`` has returned in time)."""
        return self._thread.is_alive()

    def shutdown(self, timeout: float = 120.0) -> None:
        """Cancel everything and stop the thread; later posts are ignored. An idle thread ends at once and
        a running job at its next yield (within a step, or one loading stage); the join waits exactly
        that long. ``timeout`` only bounds a job that hangs: a thread left running when the interpreter
        exits can crash it in native code, which is worse than waiting for a step."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._handlers.clear()
            for job in self._running:
                job.cancel_flag.set()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the runner's thread --------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
            job = self._take(None)
            if job is not None:
                try:
                    self._run(job)
                except Exception:  # noqa: BLE001 - _drive reports a job's errors; the thread must live on
                    pass

    def _take(self, below: int | None) -> Job | None:
        """The most urgent pending job (of a priority under ``below``, when given), now running."""
        with self._cond:
            ready = [j for j in self._pending.values() if below is None or j.priority < below]
            if not ready or self._stopping:
                return None
            job = min(ready, key=lambda j: (j.priority, j.seq))
            del self._pending[job.key]
            self._running.append(job)
            return job

    def _run(self, job: Job) -> None:
        try:
            end = self._drive(job)
        finally:
            with self._cond:
                self._running.remove(job)
                self._cond.notify_all()
        if end is not None:
            self._emit(end)

    def _drive(self, job: Job) -> JobEvent | None:
        """Run ``job`` to its end; returns the end event to emit, None if the job yielded its own."""
        if job.cancelled:
            return job.event("cancelled")
        gen: Generator | None = None
        throw: JobCancelled | None = None
        try:
            work = job.work(job)
            gen = work if isinstance(work, Generator) else (ev for ev in work)  # throw() needs a generator
            while True:
                try:
                    ev = gen.throw(throw) if throw is not None else next(gen)
                except StopIteration:
                    return job.event("cancelled" if throw is not None else "done")
                if ev is not None and (ev.ends or not job.cancelled):  # nothing more is shown once cancelled
                    self._emit(ev)
                    if ev.ends and ev.job == job.id:
                        return None
                throw = JobCancelled() if job.cancelled else None
                if throw is None:
                    self._serve_urgent(job.priority)
        except JobCancelled:
            return job.event("cancelled")
        except Exception as e:  # noqa: BLE001 - shown to the user, never lost in a thread
            return job.event("error", message=error_message(e))
        finally:
            if gen is not None:
                gen.close()

    def _serve_urgent(self, priority: int) -> None:
        while (urgent := self._take(priority)) is not None:
            self._run(urgent)

    def _emit(self, ev: JobEvent) -> None:
        keep_true_alive()  # each emit, here and in the slots it reaches, may take a reference from True
        try:
            self._posted.emit(ev)
        except RuntimeError:  # the runner is being destroyed: nobody is listening any more
            pass

    # --- the GUI thread ---------------------------------------------------------------------------------
    @Slot(object)
    def _deliver(self, ev: JobEvent) -> None:
        with self._cond:
            handler = self._handlers.pop(ev.job, None) if ev.ends else self._handlers.get(ev.job)
        if handler is not None:
            handler(ev)
        else:
            self.event.emit(ev)
