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
    unit: str = "step"  # what step/total count: denoising steps, or rows of an image drawn in raster order
    # (H, W) bool: the pixels drawn so far, for models that draw in raster order; None: all of them.
    sampled: np.ndarray | None = None

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
    kind: str  # "step", "samples", "checkpoint", "eval", "done"
    step: int
    total: int
    metrics: dict[str, float] = field(default_factory=dict)
    images: np.ndarray | None = None
    path: str | None = None
    message: str = ""
