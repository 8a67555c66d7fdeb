"""What the GUI asks of the running generation between its steps (the step debugger): pause, one step at a
time, resume, rewind to a kept step, change settings from the current step on. Thread-safe: the GUI thread
posts, the model thread takes the commands before each step."""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from ..core.request import GenerationRequest


@dataclass(frozen=True)
class Paused:
    """Where a paused run stands ("paused" JobEvent's result)."""

    request: GenerationRequest  # the run shown, every edit so far included
    position: int  # steps done at the point looked at
    kept: int  # steps run (and kept) in this branch: a rewind can go anywhere from 0 to here
    can_edit: bool


class StepControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._paused = False
        self._steps = 0  # single steps asked for while paused
        self._commands: deque[tuple[str, object]] = deque()

    # --- GUI thread ---------------------------------------------------------------------------------
    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused, self._steps = False, 0
        self._wake.set()

    def step(self) -> None:
        """One step on, then stay paused (pauses a running job)."""
        with self._lock:
            self._paused = True
            self._steps += 1
        self._wake.set()

    def rewind(self, position: int) -> None:
        self._post("rewind", position)

    def edit(self, settings: dict[str, float | str]) -> None:
        self._post("edit", dict(settings))

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def reset(self) -> None:
        """A new run starts running, with no commands of the last one left."""
        with self._lock:
            self._paused, self._steps = False, 0
            self._commands.clear()

    # --- model thread -------------------------------------------------------------------------------
    def take(self) -> list[tuple[str, object]]:
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
            return commands

    def may_step(self) -> bool:
        """Whether the run may take its next step now (running, or a single step asked for)."""
        with self._lock:
            if not self._paused:
                return True
            if self._steps:
                self._steps -= 1
                return True
            return False

    def wait(self, seconds: float) -> None:
        """Sleep until the GUI asks for something (or ``seconds`` pass): a paused run's idle yield."""
        self._wake.wait(seconds)
        self._wake.clear()

    def _post(self, kind: str, value: object) -> None:
        with self._lock:
            self._commands.append((kind, value))
        self._wake.set()
