"""Clips as the studio keeps them: a video family's image is a filmstrip, its frames side by side
(H, T*W, C), so everything that stores, hashes and shows images handles clips unchanged; what plays
or exports one cuts the strip back into frames (T, H, W, C)."""
from __future__ import annotations

import numpy as np


def filmstrip(videos: np.ndarray) -> np.ndarray:
    """(N, T, H, W, C) -> (N, H, T*W, C), or one (T, H, W, C) clip -> (H, T*W, C)."""
    videos = np.asarray(videos)
    if videos.ndim == 4:
        return filmstrip(videos[None])[0]
    n, t, h, w, c = videos.shape
    return np.ascontiguousarray(videos.transpose(0, 2, 1, 3, 4).reshape(n, h, t * w, c))


def frames_of(strip: np.ndarray, frames: int) -> np.ndarray:
    """(H, T*W, C) -> (T, H, W, C), or (N, H, T*W, C) -> (N, T, H, W, C)."""
    strip = np.asarray(strip)
    if strip.ndim == 3:
        return frames_of(strip[None], frames)[0]
    n, h, width, c = strip.shape
    if frames < 1 or width % frames:
        raise ValueError(f"a filmstrip {width} pixels wide does not hold {frames} frames of equal width")
    return np.ascontiguousarray(strip.reshape(n, h, frames, width // frames, c).transpose(0, 2, 1, 3, 4))
