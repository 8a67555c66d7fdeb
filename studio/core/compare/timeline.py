"""The Compare view's shared timeline, without Qt: each column's frames placed at step / total on one
0..1 axis, the frame a column shows at a time t, and the whole row as an animated GIF.

Families count different things (denoising steps, rows drawn, one decode), so time is normalised: a
diffusion model's step 10 of 20 and a pixel model's row 14 of 28 both sit at t = 0.5, and a one-pass
model's only image at t = 1. At time t a column shows its latest frame at or before t."""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..atomic import atomic_write
from ..errors import StudioError
from ..events import Frame

CELL = 112  # pixels of each column's image in a row picture (28x28 images at 4x)
PAD = 6
LABEL_LINES = 3  # e.g. checkpoint id, family, whether it reads the prompt
_EPS = 1e-9  # a slider at 0.5 shows the frame at exactly 10 / 20


@dataclass
class Track:
    """One column's frames in the order its model made them."""

    steps: list[tuple[int, int]] = field(default_factory=list)  # (step, total) of each frame
    images: list[np.ndarray] = field(default_factory=list)  # (H, W, C) uint8 as shown (undrawn pixels marked)
    raw: list[np.ndarray] = field(default_factory=list)  # (H, W, C) uint8 in the model's own format
    final: bool = False  # its last frame is the finished image

    def add(self, frame: Frame) -> None:
        """The first image of the frame's batch (a compare column makes one image)."""
        self.steps.append((frame.step, frame.total))
        self.images.append(np.array(frame.shown()[0]))
        self.raw.append(np.array(frame.preview[0]))
        self.final = frame.final

    @property
    def times(self) -> list[float]:
        return [step / max(total, 1) for step, total in self.steps]

    def index_at(self, t: float) -> int | None:
        """The latest frame at or before ``t``; None before the first (or when there is none)."""
        i = bisect.bisect_right(self.times, t + _EPS) - 1
        return i if i >= 0 else None

    def at(self, t: float) -> np.ndarray | None:
        i = self.index_at(t)
        return None if i is None else self.images[i]

    def __len__(self) -> int:
        return len(self.steps)


def timeline_times(tracks: Sequence[Track], max_frames: int = 120) -> list[float]:
    """The times at which some column changes, in order; more than ``max_frames`` of them are thinned
    evenly, always keeping the first and the last."""
    distinct = {round(t, 9): t for track in tracks for t in track.times}  # 3/6 and 1/2 are one time
    times = sorted(distinct.values())
    if len(times) <= max_frames:
        return times
    keep = np.unique(np.linspace(0, len(times) - 1, max_frames).round().astype(int))
    return [times[i] for i in keep]


def row_width(columns: int, cell: int = CELL, pad: int = PAD) -> int:
    """The width of a row picture of ``columns`` columns."""
    return columns * cell + (columns + 1) * pad


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text`` cut to ``width`` pixels, "..." marking the cut."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def row_image(images: Sequence[np.ndarray | None], labels: Sequence[Sequence[str]], *, caption: str = "",
              t: float | None = None, cell: int = CELL, pad: int = PAD) -> Image.Image:
    """The columns side by side, each ``labels`` lines above its image (scaled to ``cell`` pixels, sharp),
    an empty dark square where a column has no image yet; below them ``caption`` and, given ``t``, a bar
    filled to t."""
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = int(probe.textbbox((0, 0), "Ag", font=font)[3]) + 2
    label_h = LABEL_LINES * line_h
    bar_h = 4 if t is not None else 0
    width = row_width(len(images), cell, pad)
    height = pad + label_h + cell + pad + (line_h + pad if caption else 0) + (bar_h + pad if bar_h else 0)
    out = Image.new("RGB", (width, height), (24, 24, 28))
    draw = ImageDraw.Draw(out)
    for k, (image, lines) in enumerate(zip(images, labels)):
        x = pad + k * (cell + pad)
        for j, line in enumerate(list(lines)[:LABEL_LINES]):
            draw.text((x, pad + j * line_h), _fit(draw, line, font, cell), fill=(220, 220, 228), font=font)
        top = pad + label_h
        if image is None:
            draw.rectangle((x, top, x + cell - 1, top + cell - 1), fill=(44, 44, 50))
            continue
        pic = Image.fromarray(_rgb(image))
        scale = cell / max(pic.width, pic.height)
        w, h = max(1, round(pic.width * scale)), max(1, round(pic.height * scale))
        out.paste(pic.resize((w, h), Image.Resampling.NEAREST), (x + (cell - w) // 2, top + (cell - h) // 2))
    y = pad + label_h + cell + pad
    if caption:
        draw.text((pad, y), _fit(draw, caption, font, width - 2 * pad), fill=(200, 200, 210), font=font)
        y += line_h + pad
    if bar_h:
        draw.rectangle((pad, y, width - pad - 1, y + bar_h - 1), fill=(60, 60, 68))
        filled = round((width - 2 * pad) * min(max(t, 0.0), 1.0))
        if filled:
            draw.rectangle((pad, y, pad + filled - 1, y + bar_h - 1), fill=(90, 160, 230))
    return out


def row_at(tracks: Sequence[Track], labels: Sequence[Sequence[str]], t: float, **options) -> Image.Image:
    """The row as it stands at time ``t``."""
    return row_image([track.at(t) for track in tracks], labels, caption=f"t = {t:.3f}", t=t, **options)


def save_row_gif(tracks: Sequence[Track], labels: Sequence[Sequence[str]], path: str | Path, *,
                 seconds: float = 3.0, hold_last: float = 1.0, max_frames: int = 120, cell: int = CELL) -> Path:
    """The whole row over the timeline as an animated GIF: one frame per time some column changes
    (``timeline_times``), each captioned with its t, so every frame differs and none is merged away."""
    times = timeline_times(tracks, max_frames)
    if not times:
        raise StudioError("There are no frames to export: run the comparison first.")
    pics = [row_at(tracks, labels, t, cell=cell) for t in times]
    per = max(20, int(1000 * seconds / len(pics)))
    durations = [per] * (len(pics) - 1) + [max(per, int(1000 * hold_last))]
    path = Path(path)
    atomic_write(path, lambda p: pics[0].save(p, format="GIF", save_all=True, append_images=pics[1:],
                                              duration=durations, loop=0))
    return path
