"""The grid as one labelled picture: cells enlarged (nearest neighbour, so pixels stay pixels), x
labels above the columns, y labels left of the rows, and one block per z value, stacked top to bottom
under its title. The PNG carries the axes and every cell's request as JSON ("genstudio-grid")."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from ..atomic import atomic_write
from ..errors import StudioError
from ..images import open_user_image
from .axes import Axis
from .run import CellResult

GRID_KEY = "genstudio-grid"
FORMAT_VERSION = 1
MIN_TILE = 96  # pixels per cell side at least: a 12x12 image is shown 8x
GAP = 4  # between tiles
MARGIN = 6  # around labels
MAX_LINES = 3  # of a label; longer ones end in "..."
MAX_LEFT = 220  # the y labels' column at most this wide
BACKGROUND, INK, EMPTY = 255, 0, 224  # an empty tile: a cell not drawn (the run was stopped)
MAX_GRID_JSON = 4 * 2**20


def scale_of(image: np.ndarray) -> int:
    """How many times a cell's image is enlarged: the least whole factor reaching MIN_TILE."""
    return max(1, math.ceil(MIN_TILE / max(image.shape[:2])))


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes. Blocks (one per z value) are stacked vertically; each has a title line
    (with a z axis), a row of x labels, then the rows of tiles with their y labels on the left."""

    nx: int
    ny: int
    nz: int
    tile: int
    left: int  # width of the y labels' column
    head: int  # height of the x labels' row
    title: int  # height of a block's title (0 without a z axis)
    line: int  # height of a line of text

    @property
    def block(self) -> int:
        return self.title + self.head + self.ny * (self.tile + GAP)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the sheet."""
        return self.nz * self.block + GAP, self.left + self.nx * (self.tile + GAP) + MARGIN

    def origin(self, ix: int, iy: int, iz: int) -> tuple[int, int]:
        """(row, column) of the top-left pixel of a cell's tile."""
        return (iz * self.block + self.title + self.head + iy * (self.tile + GAP),
                self.left + ix * (self.tile + GAP))


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, font, text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` pixels, at most MAX_LINES of them; what is cut ends in '...'."""
    def fits(s: str) -> bool:
        return draw.textlength(s, font=font) <= width

    def cut(s: str) -> str:
        while s and not fits(s + "..."):
            s = s[:-1]
        return s + "..."

    lines: list[str] = []
    for word in text.split() or [""]:
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word if fits(word) else cut(word))
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES - 1] + [cut(lines[MAX_LINES - 1])]
    return lines


def _labels(axis: Axis | None) -> list[str]:
    return [axis.label(i) for i in range(len(axis.values))] if axis else [""]


def layout(results: Sequence[CellResult], x: Axis, y: Axis | None = None, z: Axis | None = None) -> SheetLayout:
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    font = _font()
    top, _, _, bottom = draw.textbbox((0, 0), "Ag", font=font)
    line = bottom - top + 3
    sizes = [scale_of(r.image) * max(r.image.shape[:2]) for r in results]
    tile = max(sizes, default=MIN_TILE)
    head = MARGIN * 2 + line * max(len(_wrap(draw, font, t, tile)) for t in _labels(x))
    left = GAP
    if y is not None:
        widest = max(draw.textlength(t, font=font) for t in _labels(y))
        left = int(min(MAX_LEFT, widest)) + 2 * MARGIN
    title = line + 2 * MARGIN if z is not None else 0
    return SheetLayout(len(x.values), len(y.values) if y else 1, len(z.values) if z else 1, tile, left, head,
                       title, line)


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def sheet(results: Sequence[CellResult], x: Axis, y: Axis | None = None, z: Axis | None = None) -> np.ndarray:
    """(H, W, 3) uint8: the labelled sheet of the finished cells (a cell not among them is left grey)."""
    lay = layout(results, x, y, z)
    h, w = lay.size
    canvas = np.full((h, w, 3), BACKGROUND, np.uint8)
    for iz in range(lay.nz):
        for iy in range(lay.ny):
            for ix in range(lay.nx):
                r0, c0 = lay.origin(ix, iy, iz)
                canvas[r0:r0 + lay.tile, c0:c0 + lay.tile] = EMPTY
    for r in results:
        k = scale_of(r.image)
        big = _rgb(r.image).repeat(k, axis=0).repeat(k, axis=1)
        r0, c0 = lay.origin(r.cell.ix, r.cell.iy, r.cell.iz)
        dy, dx = (lay.tile - big.shape[0]) // 2, (lay.tile - big.shape[1]) // 2  # smaller models: centred
        canvas[r0:r0 + lay.tile, c0:c0 + lay.tile] = BACKGROUND
        canvas[r0 + dy:r0 + dy + big.shape[0], c0 + dx:c0 + dx + big.shape[1]] = big
    picture = Image.fromarray(canvas)
    _draw_labels(ImageDraw.Draw(picture), lay, x, y, z)
    return np.asarray(picture).copy()


def _draw_labels(draw: ImageDraw.ImageDraw, lay: SheetLayout, x: Axis, y: Axis | None, z: Axis | None) -> None:
    font = _font()
    for iz in range(lay.nz):
        top = iz * lay.block
        if z is not None:
            text = _wrap(draw, font, z.label(iz), lay.size[1] - 2 * MARGIN)[0]
            draw.text((MARGIN, top + MARGIN), text, fill=(INK,) * 3, font=font)
        for ix, label in enumerate(_labels(x)):
            _, c0 = lay.origin(ix, 0, iz)
            for n, text in enumerate(_wrap(draw, font, label, lay.tile)):
                cx = c0 + (lay.tile - draw.textlength(text, font=font)) / 2
                draw.text((cx, top + lay.title + MARGIN + n * lay.line), text, fill=(INK,) * 3, font=font)
        if y is None:
            continue
        for iy, label in enumerate(_labels(y)):
            r0, _ = lay.origin(0, iy, iz)
            lines = _wrap(draw, font, label, lay.left - 2 * MARGIN)
            y0 = r0 + (lay.tile - len(lines) * lay.line) / 2
            for n, text in enumerate(lines):
                draw.text((MARGIN, y0 + n * lay.line), text, fill=(INK,) * 3, font=font)


def grid_metadata(results: Sequence[CellResult], x: Axis, y: Axis | None = None, z: Axis | None = None) -> dict:
    """What the sheet's PNG carries: the axes, and each finished cell's place, labels and request."""
    axes = [dict(axis=name, **a.to_dict()) for name, a in zip("xyz", (x, y, z)) if a is not None]
    cells = [{"x": r.cell.ix, "y": r.cell.iy, "z": r.cell.iz, "labels": list(r.cell.labels),
              "request": r.request.to_dict()}
             for r in sorted(results, key=lambda r: (r.cell.iz, r.cell.iy, r.cell.ix))]
    return {"version": FORMAT_VERSION, "axes": axes, "cells": cells}


def save_sheet(path: str | Path, results: Sequence[CellResult], x: Axis, y: Axis | None = None,
               z: Axis | None = None) -> Path:
    """Write the sheet to ``path`` as a PNG carrying ``grid_metadata``; atomic."""
    path = Path(path)
    picture = Image.fromarray(sheet(results, x, y, z))
    info = PngInfo()
    info.add_text(GRID_KEY, json.dumps(grid_metadata(results, x, y, z), sort_keys=True, ensure_ascii=False))
    atomic_write(path, lambda p: picture.save(p, format="PNG", pnginfo=info))
    return path


def read_grid_metadata(path: str | Path) -> dict:
    """The ``grid_metadata`` a sheet's PNG carries; a StudioError if it carries none."""
    with open_user_image(path, formats=("PNG",)) as img:
        img.load()
        text = getattr(img, "text", {}).get(GRID_KEY)
    if not isinstance(text, str) or len(text) > MAX_GRID_JSON:
        raise StudioError(f"{Path(path).name} is not a grid sheet of this studio.")
    try:
        data = json.loads(text)
    except ValueError:
        raise StudioError(f"{Path(path).name} carries a damaged grid description.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise StudioError(f"{Path(path).name} carries a damaged grid description.")
    return data
