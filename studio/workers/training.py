"""TrainingController: runs the shared Trainer on its own thread and re-emits its TrainEvents on the
GUI thread, so the studio can plot losses and show sample grids while a model trains. Stopping
takes effect at the next logged step and leaves a resumable state beside the output."""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal

from ..core.errors import StudioError


class _Run(QThread):
    event = Signal(object)  # TrainEvent
    failed = Signal(str)

    def __init__(self, family: str, dataset: str, out: str, steps: int, options: dict, train: dict) -> None:
        super().__init__()
        self.args = (family, dataset, out, steps, options, train)
        self.stop_requested = threading.Event()

    def run(self) -> None:  # on the training thread
        try:
            from ..core.families import get_family
            from ..core.training.trainer import TrainConfig, Trainer

            family, dataset, out, steps, options, train = self.args
            task = get_family(family).train_task(dataset, **options)
            cfg = TrainConfig(steps=steps, **train)
            trainer = Trainer(task, cfg, out)
            for ev in trainer.run():
                self.event.emit(ev)
                if self.stop_requested.is_set():
                    path = trainer.save_state()
                    self.failed.emit(f"Training stopped at step {trainer.step}; the resumable state is {path}.")
                    return
        except StudioError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 - shown to the user, never lost in a thread
            self.failed.emit(f"{type(e).__name__}: {e}")


class TrainingController(QObject):
    event = Signal(object)  # TrainEvent, on the GUI thread
    finished = Signal(str)  # path of the trained checkpoint
    failed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run: _Run | None = None

    @property
    def busy(self) -> bool:
        return self._run is not None

    def start(self, family: str, dataset: str, out: str, steps: int, options: dict | None = None,
              train: dict | None = None) -> None:
        if self.busy:
            raise StudioError("A training run is already going; stop it first.")
        run = _Run(family, dataset, out, steps, options or {}, train or {})
        run.event.connect(self._on_event)
        run.failed.connect(self.failed)
        run.finished.connect(self._on_finished)
        self._run = run
        self.busyChanged.emit(True)
        run.start()

    def stop(self) -> None:
        if self._run is not None:
            self._run.stop_requested.set()

    def wait(self, ms: int = 10_000) -> None:
        if self._run is not None:
            self._run.wait(ms)

    def _on_event(self, ev) -> None:
        self.event.emit(ev)
        if ev.kind == "done":
            self.finished.emit(ev.path)

    def _on_finished(self) -> None:
        self._run = None
        self.busyChanged.emit(False)
