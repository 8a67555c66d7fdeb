"""A procedural detector for Shapes pictures: which shapes, in which colours, where.

It judges generated images as well as rendered ones, so every step tolerates off colours, noise
and soft edges:

1. Colour. Every pixel is compared with each palette colour's ray from the background,
   ``background + alpha * (colour - background)``: alpha is how much of the pixel the colour covers
   (an anti-aliased edge is a partial mixture with the background and lies on that ray) and the
   distance from the ray says how well the hue fits. A pixel is foreground when the best fitting
   colour covers at least half of it; so edge pixels neither become objects of another colour nor
   shift an object's area.
2. Objects. Connected foreground regions (8-connected) are one object each, with the colour most
   of their pixels voted for; a region only splits when two colours each hold a sizeable part of
   it (two touching objects). Blobs smaller than ``min_area`` pixels are noise and are dropped.
3. Shape. Each candidate shape is drawn with the object's area and centroid, sharp and at a few
   blur levels (a blurred square must not pass for a circle), and the shape whose drawing overlaps
   the object's soft coverage best (intersection over union) wins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ..data.shapes import AREA_FACTORS, BACKGROUND, COLOURS, SHAPES, SIZES, coverage

MIN_AREA = 10.0        # pixels; the smallest drawn shape covers 32
MIN_COVERAGE = 0.5     # a pixel is foreground if its best colour covers at least this much of it
MAX_RESIDUAL = 90.0    # RGB distance from the colour's ray beyond which a pixel matches no colour
SPLIT_SHARE = 0.3      # a second colour splits a region only if it holds this share of it
RING = 2               # pixels around an object whose partial coverage still counts as the object's
BLURS = (0.0, 0.5, 0.8, 1.1)  # edge softness (Gaussian sigma, pixels) the shape drawings are tried at

_NAMES = tuple(COLOURS)
_BG = np.array(BACKGROUND, dtype=np.float32)
_DIRS = np.array([COLOURS[c] for c in _NAMES], dtype=np.float32) - _BG  # (C, 3)
_DIR_NORM2 = (_DIRS ** 2).sum(axis=1)
_EIGHT = np.ones((3, 3), dtype=bool)
# An object whose area lies above the geometric mean of a shape's small and large areas is large.
_SIZE_SPLIT = {s: AREA_FACTORS[s] * SIZES["small"] * SIZES["large"] for s in SHAPES}


@dataclass(frozen=True)
class DetectedObject:
    colour: str
    shape: str
    x: float        # centroid of the soft coverage, pixels (pixel i spans [i, i + 1))
    y: float
    area: float     # soft coverage summed, pixels
    width: float    # bounding box of the foreground pixels
    height: float
    fit: float      # intersection over union with the best shape's drawing, 0..1

    @property
    def size(self) -> str:
        return "large" if self.area > _SIZE_SPLIT[self.shape] else "small"


def colour_fields(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel and palette colour: coverage alpha and distance from the colour's ray, (H, W, C) each."""
    d = image.astype(np.float32) - _BG                      # (H, W, 3)
    alpha = (d @ _DIRS.T) / _DIR_NORM2                      # (H, W, C)
    resid = d[..., None, :] - alpha[..., None] * _DIRS      # (H, W, C, 3)
    return alpha, np.sqrt((resid ** 2).sum(axis=-1))


def detect(image: np.ndarray, *, min_area: float = MIN_AREA) -> list[DetectedObject]:
    """The objects in one (H, W, 3) uint8 image, largest first."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    alpha, resid = colour_fields(image)
    # Rays that point away from the pixel (alpha <= 0) cannot explain it.
    resid = np.where(alpha > 0, resid, np.inf)
    best = resid.argmin(axis=-1)
    best_alpha = np.take_along_axis(alpha, best[..., None], -1)[..., 0]
    best_resid = np.take_along_axis(resid, best[..., None], -1)[..., 0]
    foreground = (best_alpha >= MIN_COVERAGE) & (best_resid <= MAX_RESIDUAL)

    regions, n = ndimage.label(foreground, structure=_EIGHT)
    pieces: list[tuple[np.ndarray, int]] = []  # (pixel mask, colour index)
    for r in range(1, n + 1):
        region = regions == r
        size = int(region.sum())
        if size < min_area:
            continue
        votes = np.bincount(best[region], minlength=len(_NAMES))
        strong = np.flatnonzero(votes >= max(min_area, SPLIT_SHARE * size))
        if len(strong) <= 1:
            pieces.append((region, int(votes.argmax())))
            continue
        for c in strong:  # two touching objects of different colours
            parts, m = ndimage.label(region & (best == c), structure=_EIGHT)
            for p in range(1, m + 1):
                pieces.append((parts == p, int(c)))

    # Each object's soft coverage: its pixels plus the partly covered edge pixels around them that
    # no other object claims (pixels near two objects are left out rather than guessed).
    grown = [ndimage.binary_dilation(mask, structure=_EIGHT, iterations=RING) for mask, _ in pieces]
    claims = np.sum(grown, axis=0) if grown else np.zeros(foreground.shape, dtype=int)
    taken = np.zeros(foreground.shape, dtype=bool)
    for mask, _ in pieces:
        taken |= mask
    found = []
    for (mask, c), near in zip(pieces, grown):
        region = mask | (near & ~taken & (claims == 1))
        obj = _describe(mask, region, c, alpha[..., c], min_area)
        if obj is not None:
            found.append(obj)
    return sorted(found, key=lambda o: -o.area)


@lru_cache(maxsize=256)
def _blur_matrix(sigma: float, n: int) -> np.ndarray:
    """(n, n) matrix of a 1-D Gaussian blur with zeros outside: two small products blur a window
    many times faster than ndimage.gaussian_filter's per-call overhead allows."""
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    radius = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (d / sigma) ** 2) * (np.abs(d) <= radius)
    return k / np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()


def _blur(window: np.ndarray, sigma: float) -> np.ndarray:
    if not sigma:
        return window
    h, w = window.shape
    return _blur_matrix(sigma, h) @ window @ _blur_matrix(sigma, w).T


def _describe(mask: np.ndarray, region: np.ndarray, c: int, alpha: np.ndarray,
              min_area: float) -> DetectedObject | None:
    soft = np.where(region, np.clip(alpha, 0.0, 1.0), 0.0)
    area = float(soft.sum())
    if area < min_area:
        return None
    rows, cols = np.nonzero(mask)
    ys, xs = np.nonzero(soft)
    w = soft[ys, xs]
    cx, cy = float((w * (xs + 0.5)).sum() / area), float((w * (ys + 0.5)).sum() / area)

    # Compare with each shape drawn at this area and centroid, over a window around the object.
    h, wd = soft.shape
    x0, x1 = max(int(xs.min()) - 1, 0), min(int(xs.max()) + 2, wd)
    y0, y1 = max(int(ys.min()) - 1, 0), min(int(ys.max()) + 2, h)
    window = soft[y0:y1, x0:x1]
    best_shape, best_fit = SHAPES[0], -1.0
    for shape in SHAPES:
        size = math.sqrt(area / AREA_FACTORS[shape])
        sharp = coverage(shape, size, cx, cy, x0, y0, x1 - x0, y1 - y0)
        for sigma in BLURS:
            t = _blur(sharp, sigma)
            fit = float(np.minimum(window, t).sum() / max(np.maximum(window, t).sum(), 1e-9))
            if fit > best_fit:
                best_shape, best_fit = shape, fit
    return DetectedObject(colour=_NAMES[c], shape=best_shape, x=cx, y=cy, area=area,
                          width=float(cols.max() - cols.min() + 1), height=float(rows.max() - rows.min() + 1),
                          fit=best_fit)
