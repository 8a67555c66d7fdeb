"""Clips as the studio keeps them: a video family's image is a filmstrip, its frames side by side
(H, T*W, C), so everything that stores, hashes and shows images handles clips unchanged; what plays
or exports one cuts the strip back into frames (T, H, W, C)."""
from __future__ import annotations

import math

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


def contact_sheet(strips: np.ndarray, frames: int, rows: int, gap: int = 0, gap_value: int = 96) -> np.ndarray:
    """Filmstrips (N, H, T*W, C) wrapped into ``rows`` rows of T/rows frames each, in time order, frames
    ``gap`` pixels of ``gap_value`` apart: (N, rows*H + (rows-1)*gap, T/rows*W + (T/rows-1)*gap, C).
    One row without gaps is the filmstrip itself."""
    clips = frames_of(strips, frames)
    n, t, h, w, c = clips.shape
    if rows < 1 or t % rows:
        raise ValueError(f"{t} frames do not fill {rows} rows evenly")
    per_row = t // rows
    out = np.full((n, rows * (h + gap) - gap, per_row * (w + gap) - gap, c), gap_value, dtype=clips.dtype)
    for k in range(t):
        r, col = divmod(k, per_row)
        out[:, r * (h + gap): r * (h + gap) + h, col * (w + gap): col * (w + gap) + w] = clips[:, k]
    return out


def sheet_rows(batch: int, frames: int, h: int, w: int, width: int, height: int, gap: int = 0, pad: int = 2) -> int:
    """How many rows to wrap each clip's frames into (``contact_sheet``) so that frames come out largest in
    a ``width`` x ``height`` view showing the batch as a grid (``images.grid``'s layout, ``pad`` apart)."""
    cols = math.ceil(math.sqrt(batch)) if batch > 1 else 1
    grid_rows = math.ceil(batch / cols)
    best, best_scale = 1, 0.0
    for rows in (r for r in range(1, frames + 1) if frames % r == 0):
        sheet_h, sheet_w = rows * (h + gap) - gap, frames // rows * (w + gap) - gap
        gw, gh = (cols * (sheet_w + pad) + pad, grid_rows * (sheet_h + pad) + pad) if batch > 1 else (sheet_w, sheet_h)
        scale = min(width / gw, height / gh)
        if scale > best_scale * 1.001:  # ties: fewer rows, closer to a filmstrip
            best, best_scale = rows, scale
    return best
