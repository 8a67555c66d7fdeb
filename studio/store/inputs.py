"""Input images of image-to-image requests, kept by content: ``inputs/<hash>.png`` in the user data
folder. A request names its input by hash, so the gallery and a PNG's settings stay small and an
image is reproduced from exactly the pixels it started from."""
from __future__ import annotations

import re

import numpy as np
from PIL import Image

from ..core.atomic import atomic_write
from ..core.errors import RequestError, StudioError
from ..core.images import open_user_image
from ..core.pixels import content_hash
from .paths import input_path, inputs_dir

HASH = re.compile(r"^[0-9a-f]{16}$")


def store_input(image: np.ndarray) -> str:
    """(H, W, 1|3) uint8 -> its hash; written once (atomically), reused after."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise StudioError(f"An input image must be (H, W, 1 or 3) uint8, got {a.dtype} {a.shape}.")
    h = content_hash(a)
    path = input_path(h)
    if not path.exists():
        atomic_write(path, lambda p: Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(p, format="PNG"))
    return h


def load_input(h: str) -> np.ndarray:
    """The stored input image (H, W, C) uint8; a clear error if it is missing or damaged."""
    if not HASH.match(h):
        raise RequestError(f"{h!r} is not an input image hash (16 hex digits).")
    path = input_path(h)
    if not path.is_file():
        raise StudioError(f"The input image {h} of these settings is not in {inputs_dir()}: it was made on "
                          "another machine or deleted. Drop the image again to use it.")
    try:
        with open_user_image(path, formats=("PNG",)) as im:  # the store writes nothing else
            a = np.asarray(im)
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise StudioError(f"The input image {path} is damaged ({e}).") from e
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3)):
        raise StudioError(f"The input image {path} is damaged (its pixels are {a.dtype} {a.shape}).")
    a = a[..., None] if a.ndim == 2 else a
    if content_hash(a) != h:
        raise StudioError(f"The input image {path} has changed since it was stored (its hash differs).")
    return a
