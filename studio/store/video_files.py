"""Clips as files others can play: animated GIF (Pillow) and MP4 (H.264 through PyAV), each carrying
the settings that made it, as the gallery's PNGs do.

The JSON is pngmeta's ``genstudio`` payload plus how to undo what was done to fit a player: ``scale``
(frames are enlarged by a whole nearest-neighbour factor, since 32-pixel clips are postage stamps and
H.264 needs even sides), ``fps`` (a GIF keeps delays in hundredths of a second, too coarse for 8 fps)
and ``frames``. A GIF holds it in a comment extension, an MP4 in the container's ``comment`` tag.

Reading allows only GIF and MP4 by their first bytes (never by FFmpeg's probing, which can follow a
playlist to other files), and refuses absurd sizes from the headers before decoding.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.atomic import atomic_write
from ..core.errors import RequestError, StudioError, unreadable
from ..core.images import open_user_image
from ..core.request import MAX_BATCH, GenerationRequest
from .pngmeta import FORMAT_VERSION, MAX_SETTINGS_JSON, parse_settings

VIDEO_SUFFIXES = (".gif", ".mp4")
MAX_FRAMES = 1024
MAX_FRAME_PIXELS = 4096 * 4096
MAX_TOTAL_PIXELS = 16 * MAX_FRAME_PIXELS  # a clip's decoded pixels in all: about 800 MB of RGB at most
MAX_FPS = 240.0
MAX_SCALE = 64
DEFAULT_FPS = 8.0
MP4_TAG = "comment"  # the mov muxer writes it as the ©cmt atom, UTF-8, and reads it back
_CRF = "17"  # x264 quality: visually lossless for flat-coloured clips, still a few KB per clip


@dataclass(frozen=True)
class VideoFile:
    frames: np.ndarray  # (T, H, W, 3) uint8 at the clip's own size (scaled back down when the file says how)
    fps: float
    request: GenerationRequest | None  # None when the file carries no (readable) studio settings
    batch_index: int = 0


# --- Writing --------------------------------------------------------------------------------------

def write_gif(path: str | Path, frames: np.ndarray, *, fps: float = DEFAULT_FPS,
              request: GenerationRequest | None = None, batch_index: int = 0, scale: int = 4) -> Path:
    """``frames`` ((T, H, W, 1|3) uint8) as a GIF that loops forever; atomic. Exact for clips of up to
    256 colours in all, quantized per frame otherwise."""
    path = Path(path)
    frames = _checked(frames, fps, batch_index)
    t, h, w, _ = frames.shape
    scale = _fit_scale(t, h, w, scale, even=False)
    delay = _gif_delay(fps)
    comment = _payload(request, batch_index, scale, fps, t).encode("utf-8")
    pics = _gif_frames(frames, scale)
    # Pillow merges a frame identical to the one before into it (adding the delays); the reader
    # splits them again by delay, see _expand.
    atomic_write(path, lambda p: pics[0].save(p, format="GIF", save_all=True, append_images=pics[1:],
                                              duration=delay, loop=0, comment=comment))
    return path


def write_mp4(path: str | Path, frames: np.ndarray, *, fps: float = DEFAULT_FPS,
              request: GenerationRequest | None = None, batch_index: int = 0, scale: int = 8) -> Path:
    """``frames`` ((T, H, W, 1|3) uint8) as an H.264 (yuv420p) MP4; atomic. Lossy: the pixels read
    back are close, not equal."""
    import av

    path = Path(path)
    frames = _checked(frames, fps, batch_index)
    t, h, w, _ = frames.shape
    scale = _fit_scale(t, h, w, scale, even=True)
    comment = _payload(request, batch_index, scale, fps, t)
    rate = Fraction(fps).limit_denominator(1001)

    def encode(tmp: Path) -> None:
        with av.open(str(tmp), "w", format="mp4") as container:
            container.metadata[MP4_TAG] = comment
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = w * scale, h * scale, "yuv420p"
            stream.options = {"crf": _CRF}
            for frame in frames:
                big = _enlarge(frame, scale)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(big, format="rgb24")))
            container.mux(stream.encode())  # flush the frames the encoder holds back

    atomic_write(path, encode)
    return path


def write_video(path: str | Path, frames: np.ndarray, **kw) -> Path:
    """GIF or MP4 by the name's suffix; a StudioError for any other name."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        return write_gif(path, frames, **kw)
    if suffix == ".mp4":
        return write_mp4(path, frames, **kw)
    raise StudioError(f"{Path(path).name} is not a video file name: clips are saved as "
                      f"{' or '.join(VIDEO_SUFFIXES)}.")


def _checked(frames: np.ndarray, fps: float, batch_index: int) -> np.ndarray:
    """(T, H, W, 3) uint8 from (T, H, W, 1|3) uint8; ValueError (a caller's mistake) otherwise. No
    (T, H, W) grey form: one (H, W, 3) image passed by mistake would be taken for a clip."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"expected (T, H, W, 1|3) uint8 frames, got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if not (1 <= t <= MAX_FRAMES and h >= 1 and w >= 1 and h * w <= MAX_FRAME_PIXELS
            and t * h * w <= MAX_TOTAL_PIXELS):
        raise ValueError(f"a clip has 1 to {MAX_FRAMES} frames of at most {MAX_FRAME_PIXELS} pixels "
                         f"({MAX_TOTAL_PIXELS} in all), got {frames.shape}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"fps must be above 0 and at most {MAX_FPS:g}, got {fps!r}")
    if isinstance(batch_index, bool) or not isinstance(batch_index, int) or not 0 <= batch_index < MAX_BATCH:
        raise ValueError(f"batch_index must be in [0, {MAX_BATCH}), got {batch_index!r}")
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def _fit_scale(t: int, h: int, w: int, scale: int, *, even: bool) -> int:
    """The enlargement to use: at most ``scale`` and within the pixel caps (a file we write must be
    one we read); with ``even``, one that makes both sides even, as yuv420p needs."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be a whole number from 1 to {MAX_SCALE}, got {scale!r}")
    fits = math.isqrt(min(MAX_FRAME_PIXELS, MAX_TOTAL_PIXELS // t) // (h * w))
    s = min(scale, fits)
    if even and (h * s % 2 or w * s % 2):
        s = s - 1 if s > 2 else 2  # an odd factor: the even one below, or 2
    if s > fits:
        raise ValueError(f"{w}x{h} frames cannot be made even-sided within {MAX_FRAME_PIXELS} pixels")
    return s


def _enlarge(frame: np.ndarray, scale: int) -> np.ndarray:
    return frame if scale == 1 else np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)


def _gif_delay(fps: float) -> int:
    """Milliseconds per frame as a GIF stores them: whole hundredths, at least two (browsers slow
    faster GIFs down to ten)."""
    return 10 * max(2, round(100 / fps))


def _gif_frames(frames: np.ndarray, scale: int) -> list[Image.Image]:
    """Palette images sharing one exact palette when the clip has at most 256 colours (Pillow's own
    quantizing may merge close colours); RGB frames for Pillow to quantize otherwise."""
    keys = (frames[..., 0].astype(np.int32) << 16) | (frames[..., 1].astype(np.int32) << 8) | frames[..., 2]
    colours, index = np.unique(keys, return_inverse=True)  # at the clip's size: cheap
    if len(colours) > 256:
        return [Image.fromarray(_enlarge(f, scale)) for f in frames]
    index = index.reshape(keys.shape).astype(np.uint8)
    palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
    pics = []
    for f in index:
        pic = Image.fromarray(_enlarge(f, scale))  # uint8 (H, W): mode L
        pic.putpalette(palette.tobytes())  # L -> P: the indices are the pixels
        pics.append(pic)
    return pics


def _payload(request: GenerationRequest | None, batch_index: int, scale: int, fps: float, frames: int) -> str:
    payload: dict = {"version": FORMAT_VERSION, "scale": scale, "fps": float(fps), "frames": frames}
    if request is not None:  # without a request the file carries no settings, but still its scale
        payload.update(request=request.to_dict(), batch_index=int(batch_index))
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


# --- Reading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Meta:
    """What a file's studio JSON says: all optional, since any part may be missing or damaged."""
    request: GenerationRequest | None = None
    batch_index: int = 0
    scale: int = 1
    fps: float | None = None
    frames: int | None = None
    error: str = ""  # why the settings could not be read, when the file has ours but damaged


def read_video(path: str | Path) -> VideoFile:
    """A GIF or MP4 clip: its frames, frame rate and the settings it carries (None when it has none,
    or they are damaged: the frames still play). A StudioError naming the file for anything else."""
    path = Path(path)
    kind, name = _sniff(path)
    return _read_gif(path, name) if kind == "gif" else _read_mp4(path, name)


def read_video_settings(path: str | Path) -> tuple[GenerationRequest, int]:
    """The request and batch index a clip was made with, without decoding it; RequestError
    (user-facing) when the file is not a readable GIF/MP4 or carries no settings."""
    path = Path(path)
    try:
        kind, name = _sniff(path)
        meta = _gif_meta(path, name) if kind == "gif" else _mp4_meta(path, name)
    except RequestError:
        raise
    except StudioError as e:
        raise RequestError(str(e)) from None
    if meta.request is not None:
        return meta.request, meta.batch_index
    if meta.error:
        raise RequestError(f"{name} carries damaged generation settings: {meta.error}")
    raise RequestError(f"{name} carries no generation settings.")


def _sniff(path: Path) -> tuple[str, str]:
    """'gif' or 'mp4' from the file's first bytes."""
    name = path.name or str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise unreadable(name, e, "a video") from None
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", name
    if head[4:8] == b"ftyp":  # an ISO media file (MP4, MOV): its first box names its brand
        return "mp4", name
    what = "is empty" if not head else "is not a GIF or MP4 video"
    raise StudioError(f"{name} {what}: clips are read from {' or '.join(VIDEO_SUFFIXES)} files.")


def _parse_meta(text: str | bytes | None) -> _Meta:
    """Our JSON, if ``text`` is it; another program's comment is no settings, not damaged ones."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text or len(text) > MAX_SETTINGS_JSON:
        return _Meta()
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return _Meta()
    if not isinstance(payload, dict):
        return _Meta()
    scale = payload.get("scale", 1)
    fps = payload.get("fps")
    frames = payload.get("frames")
    meta = _Meta(scale=scale if _whole(scale, 1, MAX_SCALE) else 1,
                 fps=float(fps) if _number(fps) and 0 < fps <= MAX_FPS else None,
                 frames=frames if _whole(frames, 1, MAX_FRAMES) else None)
    if "request" not in payload:
        return meta
    try:
        request, batch_index = parse_settings(text)
    except RequestError as e:
        return replace(meta, error=str(e))
    return replace(meta, request=request, batch_index=batch_index)


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_size(name: str, w: int, h: int, frames: int) -> None:
    """Refuse from the headers what would take too long or too much memory to decode."""
    if w < 1 or h < 1:
        raise StudioError(f"{name} has no pixels ({w}x{h}).")
    if w * h > MAX_FRAME_PIXELS:
        raise StudioError(f"{name} is too large ({w}x{h}): clips of up to {math.isqrt(MAX_FRAME_PIXELS)}"
                          f"x{math.isqrt(MAX_FRAME_PIXELS)} pixels can be read.")
    if frames > MAX_FRAMES or frames * w * h > MAX_TOTAL_PIXELS:
        raise StudioError(f"{name} is too long ({frames} frames of {w}x{h}): clips of up to {MAX_FRAMES} "
                          f"frames and {MAX_TOTAL_PIXELS // 2**20} megapixels in all can be read.")


def _shrink(frame: np.ndarray, scale: int) -> np.ndarray:
    """Undo ``_enlarge``: each scale x scale block's mean (exact for a GIF; for an MP4 it also averages
    away most of the compression noise)."""
    if scale == 1:
        return frame
    h, w, c = frame.shape
    blocks = frame.reshape(h // scale, scale, w // scale, scale, c).astype(np.float32)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)


def _finish(name: str, decoded: list[np.ndarray], meta: _Meta, fps: float | None) -> VideoFile:
    if not decoded:
        raise StudioError(f"{name} holds no frames; the file may be damaged.")
    h, w, _ = decoded[0].shape
    if any(f.shape != decoded[0].shape for f in decoded):  # a GIF frame may reach past the screen
        raise StudioError(f"{name} changes its frame size mid-clip; it cannot be read as a clip.")
    _check_size(name, w, h, len(decoded))  # again: a GIF's held frames are only counted now
    scale = meta.scale if h % meta.scale == 0 and w % meta.scale == 0 else 1  # resized by another program
    frames = np.stack([_shrink(f, scale) for f in decoded])
    if meta.fps is not None:
        fps = meta.fps  # ours, exactly: the file's own timing may be rounded
    if fps is None or not (_number(fps) and 0 < fps <= MAX_FPS):
        fps = DEFAULT_FPS
    return VideoFile(frames, float(fps), meta.request, meta.batch_index)


def _damaged(name: str, e: Exception) -> StudioError:
    return StudioError(f"{name} could not be read; the file may be damaged ({e}).")


def _gif_meta(path: Path, name: str) -> _Meta:
    with open_user_image(path, formats=("GIF",)) as im:
        return _parse_meta(im.info.get("comment"))


def _read_gif(path: Path, name: str) -> VideoFile:
    with open_user_image(path, formats=("GIF",)) as im:  # missing, damaged header, bombs: StudioError
        meta = _parse_meta(im.info.get("comment"))  # the comment before the first frame
        w, h = im.size
        _check_size(name, w, h, 1)
        try:
            n = im.n_frames  # walks the blocks without decoding pixels
            _check_size(name, w, h, n)
            decoded, delays = [], []
            for i in range(n):
                with warnings.catch_warnings():  # Pillow's warning about a huge frame: our message instead
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im.seek(i)  # reads the frame's header; its pixels are decoded by convert below
                _check_size(name, *im.size, n)  # a later frame may reach far past the first's size
                decoded.append(np.asarray(im.convert("RGB")))  # frames after the first are composited
                delays.append(im.info.get("duration", 0))
        except StudioError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise StudioError(f"{name} is too large: a frame reaches far past the clip's size.") from None
        except Exception as e:  # Pillow on damaged bytes: OSError, EOFError, ValueError, struct.error...
            raise _damaged(name, e) from None
    decoded = _expand(decoded, delays, meta)
    mean_delay = sum(delays) / max(1, len(decoded))
    return _finish(name, decoded, meta, 1000 / mean_delay if mean_delay > 0 else None)


def _expand(decoded: list[np.ndarray], delays: list, meta: _Meta) -> list[np.ndarray]:
    """Split the frames Pillow merged on writing (identical neighbours, one frame with the summed
    delay) when the file is ours and the delays account for exactly its frame count."""
    if meta.fps is None or meta.frames is None or len(decoded) == meta.frames:
        return decoded
    delay = _gif_delay(meta.fps)
    counts = [round(d / delay) if isinstance(d, (int, float)) else 0 for d in delays]
    if min(counts) < 1 or sum(counts) != meta.frames:
        return decoded
    return [f for f, k in zip(decoded, counts) for _ in range(k)]


def _open_mp4(path: Path, name: str):
    import av

    try:
        # format= skips FFmpeg's probing: the bytes go to the MP4/MOV demuxer and nothing else.
        return av.open(str(path), format="mp4", metadata_errors="replace")
    except Exception as e:  # av.FFmpegError (InvalidDataError: "moov atom not found"...), OSError
        raise _damaged(name, e) from None


def _mp4_meta(path: Path, name: str) -> _Meta:
    with _open_mp4(path, name) as container:
        return _parse_meta(container.metadata.get(MP4_TAG))


def _read_mp4(path: Path, name: str) -> VideoFile:
    with _open_mp4(path, name) as container:
        try:
            meta = _parse_meta(container.metadata.get(MP4_TAG))
            if not container.streams.video:
                raise StudioError(f"{name} has no video stream.")
            stream = container.streams.video[0]
            if stream.codec_context is None:  # a codec FFmpeg does not know
                raise StudioError(f"{name} holds video in a format this studio cannot decode.")
            w, h = stream.codec_context.width, stream.codec_context.height
            _check_size(name, w, h, max(1, stream.frames))  # frames: 0 where the container does not say
            rate = stream.average_rate or stream.guessed_rate
            decoded: list[np.ndarray] = []
            for frame in container.decode(stream):
                if (frame.width, frame.height) != (w, h):
                    raise StudioError(f"{name} changes its frame size mid-clip; it cannot be read as a clip.")
                _check_size(name, w, h, len(decoded) + 1)  # frame counts in the header may lie
                decoded.append(frame.to_ndarray(format="rgb24"))
        except StudioError:
            raise
        except Exception as e:  # av.FFmpegError while decoding damaged data, odd streams' attributes
            raise _damaged(name, e) from None
    return _finish(name, decoded, meta, float(rate) if rate else None)
