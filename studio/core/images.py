"""Image helpers without Qt: grids, PNG files, conversion of user images to a model's format."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """(B, H, W, C) uint8 -> one (H', W', C) image, tiles separated by ``pad`` pixels."""
    b, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(b))
    rows = math.ceil(b / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = img
    return out


def grid_cell(batch: int, h: int, w: int, x: int, y: int, cols: int | None = None, pad: int = 2
              ) -> tuple[int, int, int] | None:
    """Which image of a ``grid`` and which of its pixels (index, row, column) grid point (x, y) is on;
    None on the padding or outside. A batch of one is drawn without a grid."""
    if batch == 1:
        return (0, y, x) if 0 <= x < w and 0 <= y < h else None
    cols = cols or math.ceil(math.sqrt(batch))
    r, rr = divmod(y - pad, h + pad)
    k, cc = divmod(x - pad, w + pad)
    i = r * cols + k
    if x < pad or y < pad or rr >= h or cc >= w or k >= cols or i >= batch:
        return None
    return i, rr, cc


def to_pil(image: np.ndarray) -> Image.Image:
    """(H, W, 1|3) uint8 -> PIL image."""
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_grid(images: np.ndarray, path: str | Path, cols: int | None = None) -> Path:
    path = Path(path)
    atomic_write(path, lambda p: to_pil(grid(images, cols)).save(p, format="PNG"))
    return path


def save_gif(frames: list[np.ndarray], path: str | Path, *, seconds: float = 3.0, scale: int = 4,
             max_frames: int = 120, hold_last: float = 1.0) -> Path:
    """Animate a run's previews: each frame a (B, H, W, C) batch shown as a grid.

    Long runs are subsampled to ``max_frames`` (always keeping the last) so the file stays small.
    """
    if not frames:
        raise ValueError("there are no frames to export")
    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    pics = []
    for i in idx:
        g = grid(frames[i]) if len(frames[i]) > 1 else frames[i][0]
        img = to_pil(g)
        pics.append(img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST))
    per = max(20, int(1000 * seconds / len(pics)))
    durations = [per] * (len(pics) - 1) + [int(1000 * hold_last)]
    path = Path(path)
    atomic_write(path, lambda p: pics[0].save(p, format="GIF", save_all=True, append_images=pics[1:],
                                              duration=durations, loop=0))
    return path


def load_for_model(path: str | Path, size: int, channels: int, *, dark_background: bool = True
                   ) -> tuple[np.ndarray, str]:
    """Read any image file as a model input: (size, size, channels) uint8, plus a note of what was
    done to it. The image is padded to a square (not stretched) and resized; for data sets drawn
    light-on-dark (Fashion-MNIST), an image whose border is mostly light is inverted to match."""
    from PIL import ImageOps, UnidentifiedImageError

    from .errors import StudioError

    try:
        with Image.open(path) as im:
            im.load()
            img = ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise StudioError(f"{Path(path).name} is not an image this studio can read ({e}).") from e
    notes = []
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (0, 0, 0, 255) if dark_background else (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    img = img.convert("L" if channels == 1 else "RGB")
    if img.width != img.height:
        side = max(img.size)
        border = np.asarray(img)[[0, -1]].mean()
        square = Image.new(img.mode, (side, side), int(border) if channels == 1 else (int(border),) * 3)
        square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
        img = square
        notes.append("padded to a square")
    if img.size != (size, size):
        notes.append(f"resized from {img.width}x{img.height} to {size}x{size}")
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    a = np.asarray(img, dtype=np.uint8)
    a = a[..., None] if a.ndim == 2 else a
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if dark_background and edge.mean() > 127:
        a = 255 - a
        notes.append("inverted (the model was trained on light objects on a dark background)")
    return np.ascontiguousarray(a), "; ".join(notes) or "used as is"
