"""PNG files that carry the settings that made them.

Two text chunks: ``parameters`` (A1111 style, so other tools show prompt and seed) and ``genstudio``
(exact JSON, so reading it back loses nothing). Reading prefers ``genstudio`` and falls back to
``parameters`` for images written by other tools.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..core.atomic import atomic_write
from ..core.errors import RequestError, StudioError
from ..core.images import open_user_image, to_pil
from ..core.request import MAX_BATCH, GenerationRequest

PARAMETERS_KEY = "parameters"
GENSTUDIO_KEY = "genstudio"
FORMAT_VERSION = 1
_EXIF_USER_COMMENT = 0x9286  # where A1111 puts 'parameters' in JPEG/WebP files
# The longest settings JSON read; what we write is a few KB (MAX_PARAMETERS bounds the other chunk).
MAX_SETTINGS_JSON = 262144


def save_png(path: str | Path, image: np.ndarray, request: GenerationRequest, batch_index: int = 0) -> Path:
    """Write ``image`` ((H, W, 1|3) uint8) to ``path`` as a PNG carrying ``request``; atomic."""
    path = Path(path)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"expected an (H, W, 1|3) uint8 image, got {image.dtype} {image.shape}")
    info = PngInfo()
    # add_text writes tEXt when the text is Latin-1 and iTXt (UTF-8) otherwise, so any prompt survives.
    info.add_text(PARAMETERS_KEY, request.to_parameters())
    payload = {"request": request.to_dict(), "batch_index": int(batch_index), "version": FORMAT_VERSION}
    info.add_text(GENSTUDIO_KEY, json.dumps(payload, sort_keys=True, ensure_ascii=False))
    pil = to_pil(image)
    atomic_write(path, lambda p: pil.save(p, format="PNG", pnginfo=info))
    return path


def read_settings(path: str | Path) -> tuple[GenerationRequest, int]:
    """The request and batch index an image was made with; RequestError (user-facing) on any bad input."""
    path = Path(path)
    name = path.name or str(path)
    try:
        with open_user_image(path) as img:  # raster formats only: never Ghostscript
            texts = _texts(img)
    except StudioError as e:  # opening: missing, not an allowed raster format, too large
        raise RequestError(str(e)) from None
    except Exception as e:  # reading its text chunks: PIL raises OSError, SyntaxError, zlib.error...
        raise RequestError(f"{name} could not be read; the file may be damaged ({e}).") from None

    genstudio_error: RequestError | None = None
    if GENSTUDIO_KEY in texts:
        try:
            return _parse_genstudio(texts[GENSTUDIO_KEY])
        except RequestError as e:
            genstudio_error = e  # a damaged chunk of ours: the parameters text may still be good
    if PARAMETERS_KEY in texts:
        try:
            return GenerationRequest.from_parameters(texts[PARAMETERS_KEY]), 0
        except RequestError as e:
            genstudio_error = genstudio_error or e  # say what is wrong, rather than that there are none
    if genstudio_error is not None:
        raise RequestError(f"{name} carries damaged generation settings: {genstudio_error}")
    raise RequestError(f"{name} carries no generation settings.")


def _texts(img: Image.Image) -> dict[str, str]:
    """All text metadata of an opened image; forces a full read so damage shows up here."""
    img.load()  # PNG text chunks after the pixels are only seen once the file is read
    texts: dict[str, str] = {}
    for key, value in getattr(img, "text", {}).items():  # PNG tEXt/zTXt/iTXt
        texts[key] = str(value)
    for key in (PARAMETERS_KEY, GENSTUDIO_KEY):  # other formats may expose them in info
        value = img.info.get(key)
        if key not in texts and isinstance(value, (str, bytes)):
            texts[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if PARAMETERS_KEY not in texts:
        comment = _exif_user_comment(img)
        if comment:
            texts[PARAMETERS_KEY] = comment
    return texts


def _exif_user_comment(img: Image.Image) -> str | None:
    try:
        raw = img.getexif().get_ifd(0x8769).get(_EXIF_USER_COMMENT)
    except Exception:
        return None
    if isinstance(raw, bytes):
        # EXIF UserComment: an 8-byte charset header, then the text.
        head, body = raw[:8], raw[8:]
        encoding = "utf-16-be" if head.startswith(b"UNICODE") else "utf-8"
        try:
            return body.decode(encoding).rstrip("\0")
        except UnicodeDecodeError:
            return None
    return raw if isinstance(raw, str) else None


def parse_settings(text: str) -> tuple[GenerationRequest, int]:
    """The request and batch index in a ``genstudio`` JSON text, wherever it was stored (a PNG chunk,
    a GIF comment, an MP4 tag); RequestError (user-facing) when it is not valid settings."""
    return _parse_genstudio(text)


def _parse_genstudio(text: str) -> tuple[GenerationRequest, int]:
    if len(text) > MAX_SETTINGS_JSON:
        raise RequestError(f"the settings are too long to be ours ({len(text)} characters).")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
        raise RequestError("the settings are not valid JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("request"), dict):
        raise RequestError("the settings have no request.")
    version = payload.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RequestError("the settings were written by a newer version of the studio.")
    batch_index = payload.get("batch_index", 0)
    if isinstance(batch_index, bool) or not isinstance(batch_index, int) or not 0 <= batch_index < MAX_BATCH:
        raise RequestError(f"the batch index {batch_index!r} is invalid.")
    return GenerationRequest.from_dict(payload["request"]), batch_index
