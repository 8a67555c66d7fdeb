"""The step debugger: one generation run a step at a time, with edits, rewinds and branches.

Pausing is not calling ``step``. At a pause after ``position`` steps, ``edit`` changes guidance, prompt,
negative prompt or sampler for the rest of the run (families with the "edits" capability), and
``rewind`` goes back to any earlier step; an edit there branches: the steps after it are dropped and
run again from the state kept at that step. ``request`` always describes the run shown, every edit with
the step it took effect, so generating it afresh gives the same pixels (the gallery stores it).

States are kept in memory up to ``max_state_bytes`` (the oldest are dropped first); a branch from a step
whose state was dropped replays the run up to it, which gives the same state, only slower."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np

from .errors import StudioError
from .events import Frame
from .families.base import Family
from .request import EDITABLE, GenerationRequest

MAX_STATE_BYTES = 256 * 2**20


class Debugger:
    def __init__(self, model: Family, request: GenerationRequest, *, init: np.ndarray | None = None,
                 want_noisy: bool = False, max_state_bytes: int = MAX_STATE_BYTES) -> None:
        self.model = model
        self.request = model.resolve(request)
        self.init = init
        self.want_noisy = want_noisy
        self.max_state_bytes = max_state_bytes
        self.can_edit = model.can("edits")
        self.frames: list[Frame] = []  # frames[j]: the frame after j + 1 steps of the run shown
        self.position = 0  # steps done in the run shown, up to where it is looked at
        self._run: Iterator[Frame] | None = None  # makes frame len(self.frames) + 1 when asked
        self._kept: deque[Frame] = deque()  # the frames that still hold a state, oldest first
        self._kept_bytes = 0

    # --- where it stands ------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Steps of the run (known once it has made a frame; the request's steps before)."""
        return self.frames[-1].total if self.frames else self.request.steps

    @property
    def finished(self) -> bool:
        return self.position > 0 and self.frames[self.position - 1].final

    @property
    def frame(self) -> Frame | None:
        """The frame at the current position (None before the first step)."""
        return self.frames[self.position - 1] if self.position else None

    def settings(self) -> dict[str, float | str]:
        """The editable settings the next step runs with."""
        return self.request.settings_at(self.position)

    # --- moving ---------------------------------------------------------------------------------
    def step(self) -> Frame | None:
        """One step on: a kept frame after a rewind, else a new one. None once the run is finished."""
        if self.finished:
            return None
        if self.position == len(self.frames):
            if self._run is None:
                self._run = self._start_at(self.position)
            frame = next(self._run)
            self.frames.append(frame)
            self._keep_state(frame)
        self.position += 1
        return self.frames[self.position - 1]

    def run(self) -> Frame | None:
        """Step to the end; the final frame."""
        frame = self.frame
        while not self.finished:
            frame = self.step()
        return frame

    def rewind(self, position: int) -> Frame | None:
        """Back (or forward, over kept frames) to ``position`` steps done."""
        if not 0 <= position <= len(self.frames):
            raise StudioError(f"Steps 0 to {len(self.frames)} have been run; cannot go to step {position}.")
        self.position = position
        return self.frame

    def edit(self, **settings: float | str) -> GenerationRequest:
        """From the current step on, ``settings`` (some of EDITABLE) hold for the rest of the run. Steps kept
        after the current one belong to the old branch and are dropped. Returns the new request."""
        unknown = set(settings) - set(EDITABLE)
        if unknown:
            raise StudioError(f"{', '.join(sorted(unknown))} cannot change mid-run; these can: {', '.join(EDITABLE)}.")
        if not self.can_edit:
            self.model.require("edits")
        if not 0 < self.position < self.total:
            raise StudioError(f"Settings change between steps: pause after step 1 to {self.total - 1} "
                              f"(now at step {self.position}).")
        now = self.settings()
        changed = {k: v for k, v in settings.items() if v != now[k]}
        if not changed:
            return self.request
        at = self.position
        kept = [e for e in self.request.edits if e[0] < at]
        here = {name: value for step, name, value in self.request.edits if step == at}
        here.update(changed)
        # An edit back to what the previous steps used is no edit at all.
        before = self.request.with_(edits=tuple(kept)).settings_at(at)
        here = {k: v for k, v in here.items() if v != before[k]}
        edits = tuple(kept) + tuple((at, name, here[name]) for name in sorted(here))
        self.request = self.model.resolve(self.request.with_(edits=edits))
        self._forget(self.frames[at:])
        del self.frames[at:]
        self._run = None
        return self.request

    # --- states ---------------------------------------------------------------------------------
    def _start_at(self, position: int) -> Iterator[Frame]:
        """The run from ``position`` steps on: from the state kept there, or replayed up to it."""
        if not self.can_edit:
            return iter(self.model.sample(self.request, init=self.init, want_noisy=self.want_noisy))
        state = self.frames[position - 1].state if position else None
        run = self.model.debug_frames(self.request, init=self.init, want_noisy=self.want_noisy, resume=state)
        if position and state is None:  # dropped for memory: replaying the same settings gives the same state
            for _ in range(position):
                next(run)
        return run

    def _keep_state(self, frame: Frame) -> None:
        """Keep the new frame's state; drop the oldest ones beyond the memory bound."""
        if frame.state is None:
            return
        self._kept.append(frame)
        self._kept_bytes += frame.state.nbytes
        while self._kept and self._kept_bytes > self.max_state_bytes:
            oldest = self._kept.popleft()
            self._kept_bytes -= oldest.state.nbytes
            oldest.state = None

    def _forget(self, frames: list[Frame]) -> None:
        """The newest frames leave the run (a branch): their states leave the count (they are the newest kept)."""
        dropped = {id(f) for f in frames}
        while self._kept and id(self._kept[-1]) in dropped:
            self._kept_bytes -= self._kept.pop().state.nbytes
