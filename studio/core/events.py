"""What the engine streams to its observers: one Frame per sampling step, TrainEvents while training,
and the JobEvents every background job reports to the UI."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Progress = Callable[[str, int, int], None]  # (stage, done, total): long evaluations report through it


@dataclass
class Frame:
    step: int  # 1-based: frames seen so far
    total: int
    preview: np.ndarray  # (B, H, W, C) uint8: the current predicted clean image
    noisy: np.ndarray | None = None  # (B, H, W, C) uint8: x_t, when asked for
    final: bool = False
    unit: str = "step"  # what step/total count: denoising steps, or rows of an image drawn in raster order
    # (H, W) bool: the pixels drawn so far, for models that draw in raster order; None: all of them.
    sampled: np.ndarray | None = None
    # Where the run stands after this step (families that can change settings mid-run, "edits"), for the
    # step debugger to go on from; None unless asked for.
    state: Any = None
    # A video family's preview is a filmstrip per clip: this many frames side by side.
    frames: int = 1

    def shown(self) -> np.ndarray:
        """The preview as it should be looked at: pixels not drawn yet as a grey checkerboard, the
        usual sign of "nothing here", so an unfinished image never passes for a dark one."""
        if self.sampled is None or self.sampled.all():
            return self.preview
        b, h, w, c = self.preview.shape
        rgb = self.preview if c == 3 else np.repeat(self.preview, 3, axis=-1)
        yy, xx = np.mgrid[:h, :w]
        checker = np.where(((yy // 2 + xx // 2) % 2 == 0)[..., None], 92, 64).astype(np.uint8)
        return np.where(self.sampled[None, ..., None], rgb, np.broadcast_to(checker, (h, w, 3))[None])


@dataclass
class TrainEvent:
    kind: str  # "step", "samples", "checkpoint", "eval", "stopped" (path: the saved state), "done"
    step: int
    total: int
    metrics: dict[str, float] = field(default_factory=dict)
    images: np.ndarray | None = None
    path: str | None = None
    message: str = ""


@dataclass(frozen=True)
class JobEvent:
    """What every background job (generation, latent work, training, gallery writes) reports, one type
    for all of them so the UI has one way to listen. Every job ends with exactly one of ``ENDS``.

    Kinds: "loading" (a model is being loaded), "queued" (a waiting job's request was resolved; result:
    the request), "started" (result: the resolved request), "note" (a message for the status bar),
    "frame" (step/total/frame/rate), "progress" (step/total; result: e.g. a TrainEvent), "result"
    (result: what the job made), the latent kinds "loaded", "prior", "decoded", "encoded", "map",
    "strip" (result: their payload), and the ends "done", "error" (message), "cancelled"."""

    ENDS: ClassVar[frozenset[str]] = frozenset({"done", "error", "cancelled"})

    kind: str
    job: str  # the job's id
    step: int = 0
    total: int = 0
    frame: Frame | None = None
    result: Any = None
    message: str = ""
    tag: str = ""  # the slot a latest-wins request was posted under (e.g. "panel"); "" for others
    rate: float = 0.0  # steps (or rows) per second so far, with "frame"

    @property
    def ends(self) -> bool:
        return self.kind in self.ENDS
