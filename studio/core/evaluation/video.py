"""Prompt adherence and quality of a text-to-video model trained on moving Shapes.

A fixed set of single-object prompts (every translation, both bounces, grow and shrink, each with
three shape/colour combinations) is sampled, and every clip is read back frame by frame with the
Shapes detector (``moving_shapes.detect_clip``), as the image adherence evaluation reads a picture:

* motion adherence: the prompted object's track (``moving_shapes.track``) shows the prompted motion
  (``motion_of_track``); for grow and shrink, its detected area changes by at least GROW_RATIO
  between the first and last third of the clip;
* object / colour adherence: the share of frames in which an object of the prompted shape / the
  prompted colour is detected (colour only for prompts that name one);
* temporal consistency: the share of frames in which the clip's object keeps the shape and colour it
  was first seen with, and the share of clips where that holds in at least CONSISTENT of the frames;
* per-frame Frechet distance against real moving-Shapes frames, in pixel features (see
  ``frame_features``): no Shapes network exists to embed frames with, and these need no detector.

Every figure is also computed for real clips rendered from the same prompts (the ceiling), and the
Frechet distance for a second real set against the first (the floor at this sample size), so a
reader sees what the yardstick gives a perfect generator. ``evaluate_clip_generator`` only needs
``generate(prompt, n, seed) -> uint8 (n, T, H, W, 3)``; ``evaluate_video`` wires up a video family.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..clips import frames_of
from ..data.moving_shapes import (
    BOUNCES,
    TRANSLATIONS,
    detect_clip,
    make_clip,
    motion_of_track,
    motion_phrase,
    render_clip,
    track,
)
from ..data.shapes import COLOUR_NAMES, SHAPES
from ..errors import StudioError
from ..events import Progress
from ..families.base import Family
from .metrics import frechet_distance_features
from .shapes_detect import DetectedObject

ClipGenerateFn = Callable[[str, int, int], np.ndarray]  # (prompt, n, seed) -> uint8 (n, T, H, W, 3)

MOTIONS: tuple[str, ...] = (*TRANSLATIONS, *BOUNCES, "grow", "shrink")  # what the prompts ask for
VARIANTS = 3          # shape/colour combinations per motion; the last names no colour
GROW_RATIO = 1.5      # area change that counts as growing (real clips change by about 2x)
CONSISTENT = 0.9      # a clip is consistent if its object is recognised in this share of frames
FEATURE_SIZE = 8      # frames are averaged down to this many pixels across for the Frechet distance
REAL_STREAMS = {"reference": 1, "floor": 2}  # seed streams of the two real sets (never the model's noise)


@dataclass(frozen=True)
class VideoPrompt:
    """One fixed prompt and what it asks for."""

    prompt: str
    shape: str
    motion: str
    colour: str | None = None  # None: the prompt names no colour


@dataclass(frozen=True)
class ClipReading:
    """What the detector reads in one clip, judged against its prompt."""

    motion: str                # the motion seen: a TRACK_MOTIONS name, "grow" or "shrink"
    motion_ok: bool
    object_share: float        # frames with an object of the prompted shape
    colour_share: float | None  # frames with an object of the prompted colour (None: none prompted)
    consistency: float         # frames where the clip's object keeps its first shape and colour


@lru_cache(maxsize=1)
def _prompts() -> tuple[VideoPrompt, ...]:
    out = []
    for m, motion in enumerate(MOTIONS):
        for v in range(VARIANTS):
            shape = SHAPES[(m + v) % len(SHAPES)]
            colour = None if v == VARIANTS - 1 else COLOUR_NAMES[(2 * m + v) % len(COLOUR_NAMES)]
            out.append(VideoPrompt(motion_phrase(shape, motion, colour), shape, motion, colour))
    return tuple(out)


def video_prompts() -> list[VideoPrompt]:
    """The fixed prompts, in a fixed order (motion by motion)."""
    return list(_prompts())


# --- real clips -----------------------------------------------------------------------------------

def real_clip(prompt: VideoPrompt, rng: np.random.Generator, tries: int = 10_000) -> np.ndarray:
    """A (16, 32, 32, 3) uint8 clip that does what the prompt asks: a perfect generator's answer.
    Free choices (size, place, speed, and the colour when none is named) are drawn from ``rng``."""
    for _ in range(tries):
        c = make_clip(rng, prompt.motion, objects=1)
        obj = c.objects[0]
        if obj.shape == prompt.shape and prompt.colour in (None, obj.colour[0]):
            return render_clip(c)
    raise StudioError(f"Could not draw a clip for {prompt.prompt!r}.")


def real_clips(prompts: Sequence[VideoPrompt], per_prompt: int, seed: int = 0, stream: int = 1) -> np.ndarray:
    """``per_prompt`` real clips of each prompt, (P * per_prompt, 16, 32, 32, 3) uint8; clip i of
    prompt j depends only on (seed, stream, j, i)."""
    return np.stack([real_clip(p, np.random.default_rng([seed, stream, j, i]))
                     for j, p in enumerate(prompts) for i in range(per_prompt)])


# --- reading clips back ---------------------------------------------------------------------------

def tracked_objects(detections: Sequence[Sequence[DetectedObject]], shape: str | None = None,
                    colour: str | None = None) -> list[DetectedObject | None]:
    """The detection ``moving_shapes.track`` follows in each frame (None where it found none)."""
    centres = track(detections, shape, colour)
    out: list[DetectedObject | None] = []
    for (x, y), found in zip(centres, detections):
        # track copies the chosen detection's centre, so equality finds it again.
        out.append(None if np.isnan(x) else next(d for d in found if d.x == x and d.y == y))
    return out


def area_change(objects: Sequence[DetectedObject | None]) -> float | None:
    """Median area in the last third of the frames over that in the first third (None when the
    object is missing from either)."""
    third = max(1, len(objects) // 3)
    first = [o.area for o in objects[:third] if o is not None]
    last = [o.area for o in objects[-third:] if o is not None]
    if not first or not last:
        return None
    return float(np.median(last) / np.median(first))


def read_motion(detections: Sequence[Sequence[DetectedObject]], prompt: VideoPrompt) -> str:
    """The motion the prompted object shows: grow or shrink when prompted for a size change and its
    area changes by GROW_RATIO either way, otherwise what its track shows."""
    objects = tracked_objects(detections, prompt.shape, prompt.colour)
    if prompt.motion in ("grow", "shrink"):
        ratio = area_change(objects)
        if ratio is not None and ratio >= GROW_RATIO:
            return "grow"
        if ratio is not None and ratio <= 1 / GROW_RATIO:
            return "shrink"
    centres = np.array([(o.x, o.y) if o is not None else (np.nan, np.nan) for o in objects], dtype=float)
    return motion_of_track(centres.reshape(-1, 2))


def _first_object(detections: Sequence[Sequence[DetectedObject]], shape: str | None,
                  colour: str | None) -> DetectedObject | None:
    """The largest object of the shape and colour (either may be None) in the first frame with one."""
    for found in detections:
        pick = [d for d in found if shape in (None, d.shape) and colour in (None, d.colour)]
        if pick:
            return max(pick, key=lambda d: d.area)
    return None


def consistency(detections: Sequence[Sequence[DetectedObject]], prompt: VideoPrompt) -> float:
    """Share of frames in which the clip's object is found with the shape and colour it was first seen
    with. Its object: the prompted one where there is one, else the first object seen at all; frames
    before it is first seen count as misses."""
    first = _first_object(detections, prompt.shape, prompt.colour) or _first_object(detections, None, None)
    if first is None or not len(detections):
        return 0.0
    objects = tracked_objects(detections, first.shape, first.colour)
    return float(np.mean([o is not None and o.shape == first.shape and o.colour == first.colour for o in objects]))


def read_clip(video: np.ndarray, prompt: VideoPrompt) -> ClipReading:
    """Judge one (T, H, W, 3) uint8 clip against its prompt (the rules are in the module docstring)."""
    detections = detect_clip(video)
    motion = read_motion(detections, prompt)
    shapes_seen = [any(d.shape == prompt.shape for d in found) for found in detections]
    colours_seen = [any(d.colour == prompt.colour for d in found) for found in detections]
    return ClipReading(motion, motion == prompt.motion, float(np.mean(shapes_seen)),
                       None if prompt.colour is None else float(np.mean(colours_seen)),
                       consistency(detections, prompt))


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def judge_clips(videos: np.ndarray, prompts: Sequence[VideoPrompt]) -> dict:
    """The adherence and consistency figures of clips (N, T, H, W, 3), clip i made for ``prompts[i]``:
    overall, per motion and per prompt (with the motions read, to see what went wrong)."""
    videos = np.asarray(videos)
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} clips for {len(prompts)} prompts")
    readings = [read_clip(v, p) for v, p in zip(videos, prompts)]
    per_prompt: dict[str, list[ClipReading]] = {}
    per_motion: dict[str, list[bool]] = {}
    for p, r in zip(prompts, readings):
        per_prompt.setdefault(p.prompt, []).append(r)
        per_motion.setdefault(p.motion, []).append(r.motion_ok)
    consistencies = [r.consistency for r in readings]

    def figures(rs: Sequence[ClipReading]) -> dict:
        return {"motion_adherence": float(np.mean([r.motion_ok for r in rs])),
                "object_adherence": float(np.mean([r.object_share for r in rs])),
                "colour_adherence": _mean([r.colour_share for r in rs]),
                "temporal_consistency": float(np.mean([r.consistency for r in rs]))}

    return {
        **figures(readings),
        "consistent_clips": float(np.mean([c >= CONSISTENT for c in consistencies])),
        "motion_adherence_per_motion": {m: float(np.mean(ok)) for m, ok in per_motion.items()},
        "prompts": {p: {**figures(rs), "motions_read": dict(Counter(r.motion for r in rs))}
                    for p, rs in per_prompt.items()},
        "clips": len(readings),
    }


# --- Frechet distance -----------------------------------------------------------------------------

def frame_features(videos: np.ndarray, size: int = FEATURE_SIZE) -> np.ndarray:
    """(N, T, H, W, 3) uint8 -> (N * T, size * size * 3) features in [0, 1]: each frame averaged over
    blocks down to size x size (nearest pixels where H or W is not a multiple of size). Shapes are 8
    to 13 pixels across on a 32-pixel canvas, so 4x4 blocks keep every object's place, size and
    colour and lose only its outline; frames of any size land in one space."""
    v = np.asarray(videos, dtype=np.float32) / 255.0
    if v.ndim != 5:
        raise ValueError(f"expected clips (N, T, H, W, C), got shape {v.shape}")
    frames = v.reshape(-1, *v.shape[2:])
    n, h, w, c = frames.shape
    if h % size == 0 and w % size == 0:
        frames = frames.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))
    else:
        rows = (np.arange(size) * h // size + h // (2 * size)).clip(0, h - 1)
        cols = (np.arange(size) * w // size + w // (2 * size)).clip(0, w - 1)
        frames = frames[:, rows][:, :, cols]
    return frames.reshape(n, -1)


def frame_fd(generated: np.ndarray, real: np.ndarray) -> float:
    """Frechet distance between the frames of two sets of clips, in ``frame_features``."""
    return frechet_distance_features(frame_features(generated), frame_features(real))


# --- the evaluation -------------------------------------------------------------------------------

def _as_clips(clips: np.ndarray, n: int, prompt: str) -> np.ndarray:
    a = np.asarray(clips)
    if a.ndim != 5 or len(a) != n or a.shape[-1] != 3 or a.dtype != np.uint8 or a.shape[1] < 2:
        raise StudioError(f"The generator returned {a.dtype} clips of shape {a.shape} for {prompt!r}; "
                          f"expected {n} uint8 RGB clips (n, T, H, W, 3) of at least two frames.")
    return a


def evaluate_clip_generator(generate: ClipGenerateFn, *, n_per_prompt: int = 4, seed: int = 0,
                            prompts: Sequence[VideoPrompt] | None = None,
                            progress: Progress | None = None) -> dict:
    """Ask ``generate`` for ``n_per_prompt`` clips of every prompt (default: ``video_prompts()``),
    judge them and set real clips of the same prompts beside them.

    Prompt j gets seeds ``seed + j * n_per_prompt`` onwards, so no two prompts share noise and a run
    repeats exactly; the real clips are drawn from streams of ``seed`` the model never sees."""
    if n_per_prompt < 1:
        raise StudioError(f"n_per_prompt must be at least 1, got {n_per_prompt}.")
    prompts = list(prompts) if prompts is not None else video_prompts()
    if not prompts:
        raise StudioError("There are no prompts to evaluate.")
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    total = len(prompts) * n_per_prompt
    blocks = []
    for j, p in enumerate(prompts):
        report("generate", j * n_per_prompt, total)
        blocks.append(_as_clips(generate(p.prompt, n_per_prompt, seed + j * n_per_prompt), n_per_prompt, p.prompt))
    report("generate", total, total)
    gen_seconds = time.perf_counter() - t0
    if len({b.shape[1:] for b in blocks}) > 1:
        raise StudioError("The generator returned clips of different shapes for different prompts.")
    videos = np.concatenate(blocks)
    per_clip = [p for p in prompts for _ in range(n_per_prompt)]

    report("judge", 0, 3)
    figures = judge_clips(videos, per_clip)
    report("judge", 1, 3)
    real = real_clips(prompts, n_per_prompt, seed, REAL_STREAMS["reference"])
    reference = judge_clips(real, per_clip)
    report("judge", 2, 3)
    floor = real_clips(prompts, n_per_prompt, seed, REAL_STREAMS["floor"])
    fd, fd_real = frame_fd(videos, real), frame_fd(floor, real)
    report("judge", 3, 3)
    seconds = time.perf_counter() - t0
    t, h, w = videos.shape[1:4]
    return {
        **figures,
        "fd_frames": fd,
        "real": {**reference, "fd_frames": fd_real},
        "settings": {
            "n_per_prompt": n_per_prompt, "seed": seed, "prompts": len(prompts), "frames": int(t),
            "frame_size": [int(h), int(w)],
            "motions": sorted({p.motion for p in prompts}, key=MOTIONS.index),
            "judge": "procedural Shapes detector per frame (studio.core.evaluation.shapes_detect), tracked with "
                     f"moving_shapes.track; grow/shrink: area x{GROW_RATIO} or 1/{GROW_RATIO}; consistent: "
                     f">= {CONSISTENT:.0%} of frames",
            "fd_features": f"frames averaged to {FEATURE_SIZE}x{FEATURE_SIZE} RGB in [0, 1]; against the frames of "
                           f"{len(real)} real clips of the same prompts (real: a second real set)",
            "real_reference": f"{len(real)} clips rendered by moving_shapes for the same prompts",
        },
        "seconds": {"generate": round(gen_seconds, 2), "judge": round(seconds - gen_seconds, 2),
                    "total": round(seconds, 2)},
    }


def clip_generator(family: Family, *, steps: int = 20, sampler: str = "ddim", guidance: float = 3.0
                   ) -> tuple[ClipGenerateFn, dict]:
    """A loaded video family as ``generate(prompt, n, seed) -> (n, T, H, W, 3)``, and the sampling
    settings it uses. Clip j is exactly what the studio shows for that prompt at seed ``seed + j``."""
    family.require("video")
    setup = family.eval_setup(steps=steps, sampler=sampler, guidance=guidance)
    frames = family.image_format.frames

    def generate(prompt: str, n: int, seed: int) -> np.ndarray:
        return frames_of(family.generate_many(setup.request.with_(prompt=prompt, seed=seed), n), frames)

    return generate, setup.settings


def evaluate_video(family: Family, *, n_per_prompt: int = 4, steps: int = 20, sampler: str = "ddim",
                   guidance: float = 3.0, seed: int = 0, prompts: Sequence[VideoPrompt] | None = None,
                   progress: Progress | None = None) -> dict:
    """Measure a loaded video family (see the module docstring); a JSON-able dict of figures, per
    motion and per prompt, with the real clips' figures under "real" and the settings used.
    ``prompts``: a subset of ``video_prompts()`` for a quick look (default: all of them)."""
    family.require("video")
    if family.image_format.channels != 3:
        raise StudioError(f"{family.checkpoint.id} makes grey clips; the video evaluation reads colour clips "
                          "of moving Shapes.")
    generate, sampling = clip_generator(family, steps=steps, sampler=sampler, guidance=guidance)
    m = evaluate_clip_generator(generate, n_per_prompt=n_per_prompt, seed=seed, prompts=prompts, progress=progress)
    m["settings"].update({"family": family.name, "checkpoint": family.checkpoint.id,
                          "checkpoint_hash": family.checkpoint.sha256, **sampling})
    return m
