"""What the engine streams to its observers: one Frame per sampling step, TrainEvents while training."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    step: int  # 1-based: frames seen so far
    total: int
    preview: np.ndarray  # (B, H, W, C) uint8: the current predicted clean image
    noisy: np.ndarray | None = None  # (B, H, W, C) uint8: x_t, when asked for
    final: bool = False


@dataclass
class TrainEvent:
    kind: str  # "step", "samples", "checkpoint", "eval", "done"
    step: int
    total: int
    metrics: dict[str, float] = field(default_factory=dict)
    images: np.ndarray | None = None
    path: str | None = None
    message: str = ""
