"""Image helpers without Qt: grids, PNG files, conversion of user images to a model's format."""
from __future__ import annotations

import math
import warnings
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


# What a user's file may be: raster formats only. Without ``formats=`` Pillow detects a file's format
# by its content and would hand an EPS file (whatever its name) to Ghostscript.
USER_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_PIXELS = 64 * 1024 * 1024  # checked from the header, before any pixel is decoded
MAX_ASPECT = 64  # a 100000x1 strip is no picture, and padding it to a square would be 10^10 pixels


def open_user_image(path: str | Path, formats: tuple[str, ...] = USER_FORMATS) -> Image.Image:
    """Open a file the user chose (a drop, ``--init-image``) as an image whose pixels are not yet
    decoded; a StudioError for anything that is not a raster image (of ``formats``, a subset of
    USER_FORMATS) of a sane size."""
    from PIL import UnidentifiedImageError

    from .errors import StudioError, unreadable

    name = Path(path).name or str(path)
    try:
        with warnings.catch_warnings():  # Pillow only warns between 89 and 179 Mpx; ours is one message
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path, formats=[f for f in formats if f in USER_FORMATS])
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise unreadable(name, e, "an image") from None
    except UnidentifiedImageError:
        raise StudioError(f"{name} is not an image this studio can read ({', '.join(formats)}).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StudioError(f"{name} is too large: images of up to {MAX_PIXELS // 2**20} megapixels "
                          "can be used.") from None
    except Exception as e:  # Pillow parsing damaged bytes raises many kinds: OSError, zlib.error, struct.error...
        raise StudioError(f"{name} could not be read; the file may be damaged ({e}).") from None
    w, h = im.size
    problem = ""
    if w < 1 or h < 1:
        problem = f"{name} has no pixels ({w}x{h})."
    elif w * h > MAX_PIXELS:
        problem = (f"{name} is too large ({w}x{h}): images of up to {MAX_PIXELS // 2**20} megapixels "
                   "can be used.")
    elif max(w, h) > MAX_ASPECT * min(w, h):
        problem = f"{name} is {w}x{h}, too long and thin to use (at most {MAX_ASPECT}:1)."
    if problem:
        im.close()
        raise StudioError(problem)
    return im


def load_for_model(path: str | Path, size: int, channels: int, *, dark_background: bool = True,
                   height: int | None = None) -> tuple[np.ndarray, str]:
    """Read any image file as a model input: (height, size, channels) uint8 (height: ``size`` unless
    given), plus a note of what was done to it. The image is padded to that box (not stretched) and
    resized; for data sets drawn light-on-dark (Fashion-MNIST), an image whose border is mostly light is
    inverted to match.

    The work is bounded by the output: the image is scaled down first and padded after, so a long
    thin picture never becomes a huge square."""
    from PIL import ImageOps

    from .errors import StudioError

    name = Path(path).name or str(path)
    box_h = size if height is None else height
    with open_user_image(path) as im:
        original = im.size  # what the note reports, whatever was reduced on the way
        try:
            im.draft("L" if channels == 1 else "RGB", (size, box_h))  # JPEG: decode at 1/2..1/8 scale
            im.load()
            img = _reduce(im, max(size, box_h))
            img = ImageOps.exif_transpose(img)
            img = _model_mode(img, channels, dark_background)
        except Exception as e:  # as in open_user_image: any failure to decode the bytes is a damaged file
            raise StudioError(f"{name} could not be read; the file may be damaged ({e}).") from None
    notes = []
    w, h = img.size
    scale = min(size / w, box_h / h)
    if (round(w * scale), round(h * scale)) != (w, h):  # fit inside the box; the proportions stay
        fitted = (max(1, min(size, round(w * scale))), max(1, min(box_h, round(h * scale))))
        img = img.resize(fitted, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if img.size != (size, box_h):
        border = np.asarray(img)[[0, -1]].mean()
        padded = Image.new(img.mode, (size, box_h), int(border) if channels == 1 else (int(border),) * 3)
        padded.paste(img, ((size - img.width) // 2, (box_h - img.height) // 2))
        img = padded
        notes.append("padded to a square" if size == box_h else f"padded to {size}x{box_h}")
    if original != (size, box_h):
        notes.append(f"resized from {original[0]}x{original[1]} to {size}x{box_h}")
    a = np.asarray(img, dtype=np.uint8)
    a = a[..., None] if a.ndim == 2 else a
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if dark_background and edge.mean() > 127:
        a = 255 - a
        notes.append("inverted (the model was trained on light objects on a dark background)")
    return np.ascontiguousarray(a), "; ".join(notes) or "used as is"


def _reduce(img: Image.Image, size: int) -> Image.Image:
    """A large image box-averaged by a whole factor to about twice ``size`` before anything else (mode
    conversions, transparency) is done at full resolution; the final resize does the rest."""
    k = max(img.size) // (2 * size)
    if k < 2 or img.mode in ("P", "PA", "1"):  # palette pixels cannot be averaged (converted later)
        return img
    try:
        return img.reduce(k)
    except ValueError:  # a mode reduce does not handle (16-bit): done at full size, as before
        return img


def _model_mode(img: Image.Image, channels: int, dark_background: bool) -> Image.Image:
    """Grey ("L") or "RGB"; transparency is laid over the background the model was trained on."""
    if img.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (0, 0, 0, 255) if dark_background else (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img.convert("L" if channels == 1 else "RGB")
