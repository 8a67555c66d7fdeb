"""A scripted stand-in for a loaded model, so the worker bridge is tested without torch: a real Family
subclass (its resolve and sample are the real ones) whose ``frames`` yields small constant frames, and can be told
to fail or to wait at a step."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from studio.core.errors import StudioError
from studio.core.events import Frame, JobEvent
from studio.core.families.base import Family, ImageFormat
from studio.core.request import GenerationRequest

WAIT = 10_000  # ms: generous, the fake model takes microseconds


@dataclass(frozen=True)
class FakeCheckpoint:
    id: str
    sha256: str


class FakeFamily(Family):
    """Not registered: it borrows the diffusion entry's samplers and capabilities (img2img; not edits)."""

    name = "diffusion"

    def __init__(self, checkpoint: str = "fake", sha: str = "feedfacecafe0001", size: int = 4,
                 fail_at: int | None = None, gate_at: int | None = None) -> None:
        super().__init__(FakeCheckpoint(checkpoint, sha), "cpu")
        self.size, self.fail_at, self.gate_at = size, fail_at, gate_at
        self.gate = threading.Event()  # a step at ``gate_at`` waits for it
        self.at_gate = threading.Event()  # set when that step has started (and waits)
        self.sample_threads: set[int] = set()
        self.steps_run = 0

    @property
    def image_format(self) -> ImageFormat:
        return ImageFormat(self.size, self.size, 1, "grey")

    @property
    def conditional(self) -> bool:
        return True  # it keeps the prompt in what it resolves (it needs no encoder to ignore it)

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities - {"edits"}  # it runs no resumable states (debug_frames)

    def frames(self, request, init, want_noisy):
        self.sample_threads.add(threading.get_ident())
        n = request.steps
        for i in range(1, n + 1):
            if i == self.gate_at:
                self.at_gate.set()
                self.gate.wait(WAIT / 1000)
            if i == self.fail_at:
                raise StudioError(f"scripted failure at step {i}")
            self.steps_run = i
            image = np.full((request.batch_size, self.size, self.size, 1), i, np.uint8)
            yield Frame(i, n, image, final=i == n)


class Loader:
    """Scripted loader: hands out the FakeFamily made for each checkpoint id, and records the threads
    it was called on."""

    def __init__(self, **models: FakeFamily) -> None:
        self.models = models
        self.threads: set[int] = set()

    def __call__(self, checkpoint: str) -> FakeFamily:
        self.threads.add(threading.get_ident())
        if checkpoint not in self.models:
            raise StudioError(f"No checkpoint named {checkpoint!r}.")
        return self.models[checkpoint]


def make_request(checkpoint: str = "fake", steps: int = 4, family: str = "diffusion", **changes) -> GenerationRequest:
    """An unresolved request, as the window submits it: no hash, the default size."""
    return GenerationRequest(family=family, checkpoint=checkpoint, steps=steps, **changes)


def kinds(events: list[JobEvent], job: str | None = None) -> list[str]:
    return [e.kind for e in events if job is None or e.job == job]


@pytest.fixture
def collect():
    """Connect a list to a signal of JobEvents."""
    def connect(signal) -> list[JobEvent]:
        seen: list[JobEvent] = []
        signal.connect(seen.append)
        return seen
    return connect


@pytest.fixture
def controller(qtbot):
    from studio.workers.generation import GenerationController

    made = []

    def make(loader: Loader, queue=None):
        c = GenerationController(queue, loader=loader)
        c.preview_interval = 0  # see every step
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()
