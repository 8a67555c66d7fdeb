"""TrainingController: runs the shared Trainer as a job on its own JobRunner thread, so the studio can
plot losses and show sample grids while a model trains (and generate meanwhile). Its JobEvents:
"started" (total steps), "progress" (result: the Trainer's TrainEvent), "result" (result: the trained
checkpoint's path), then the end. Stopping takes effect after the step in progress and leaves a resumable
state beside the output (the one ``genstudio train --resume`` reads): the job ends "cancelled" with the
message "Stopped at step N; state saved (Resume continues)." Starting with ``resume`` continues from it."""
from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal

from ..core.errors import StudioError
from ..core.events import JobEvent
from .runner import Job, JobCancelled, JobRunner


def stopped_message(step: int) -> str:
    return f"Stopped at step {step}; state saved (Resume continues)."


def train(job: Job, family: str, dataset: str, out: str, steps: int, options: dict, train: dict,
          resume: bool = False) -> Iterator[JobEvent]:
    import torch

    from ..core.families import get_family
    from ..core.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(steps=steps, **train)
    torch.manual_seed(cfg.seed)  # the initial weights, as ``genstudio train --seed`` decides them
    task = get_family(family).train_task(dataset, **options)
    trainer = Trainer(task, cfg, out, resume=resume)
    first = trainer.step
    try:
        yield job.event("started", step=first, total=steps)
        # The trainer asks before every step, so Stop takes effect within one (not at the next logged one).
        for ev in trainer.run(stop=lambda: job.cancelled):
            if ev.kind == "stopped":
                yield job.event("cancelled", step=ev.step, total=ev.total, message=stopped_message(ev.step))
                return
            yield job.event("progress", step=ev.step, total=ev.total, result=ev)
            if ev.kind == "done":
                yield job.event("result", result=ev.path)
    except JobCancelled:  # stopped while an event was on its way: the step is complete, save it
        if trainer.step == first:  # before the run began: let it seed its generators, then stop and save
            next(trainer.run(stop=lambda: True))
        else:
            trainer.save_state()
        yield job.event("cancelled", step=trainer.step, total=steps, message=stopped_message(trainer.step))


class TrainingController(QObject):
    event = Signal(object)  # JobEvent of the training job, on the GUI thread
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner("training-worker", self)
        self.runner.event.connect(self._route)
        self._job: str | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, family: str, dataset: str, out: str, steps: int, options: dict | None = None,
              train_settings: dict | None = None, resume: bool = False) -> str:
        """Train into ``out``; with ``resume``, continue from its state file (as ``--resume`` does)."""
        if self.busy:
            raise StudioError("A training run is already going; stop it first.")
        args = (family, dataset, out, steps, options or {}, train_settings or {}, resume)
        self._job = self.runner.post(lambda job: train(job, *args))
        self.busyChanged.emit(True)
        return self._job

    def stop(self) -> None:
        if self._job is not None:
            self.runner.cancel(self._job)

    def wait(self, ms: int = 10_000) -> None:
        """Block until the run has ended (closing the window lets a stopped run save its state)."""
        self.runner.wait_idle(ms / 1000)

    def shutdown(self) -> None:
        self.stop()
        self.runner.shutdown()
        if self._job is not None:
            self._job = None
            self.busyChanged.emit(False)

    def _route(self, ev: JobEvent) -> None:
        self.event.emit(ev)
        if ev.ends and ev.job == self._job:
            self._job = None
            self.busyChanged.emit(False)
