"""Moving Shapes: procedural 16-frame clips of Shapes objects in motion, with captions from the motion.

Each clip holds one or two shapes from the Shapes vocabulary (``studio.core.data.shapes``) on its
dark background, as (16, 32, 32, 3) uint8 frames. Every object has one motion:

* translation: "moves left" ... "moves up and to the right" (eight directions, a straight line);
* bounce: "bounces left and right" / "bounces up and down" (reflects off the canvas walls, at
  least once, and comes back a good way);
* "grows" / "shrinks" (from small to large size or back, in place);
* "turns <colour>" (the colour switches half-way, in place).

Captions are written from the drawing parameters ("a small blue square moves up", "a red circle
moves right and a blue square moves down"), so they are exactly true, and the per-frame tracks in
``Clip`` let an evaluation read a generated clip back with the Shapes detector (``detect_clip``,
``track``) and compare the motion it sees (``motion_of_track``) with the one asked for.

Centres stay on the Shapes 1/4-pixel grid so coverage masks are computed once per (shape, size,
sub-pixel offset), exactly as ``shapes.render`` does; frames are drawn with the same masks, extended
to the in-between sizes of growing shapes. Clip ``i`` of seed ``s`` depends only on ``(s, i)``.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .shapes import (
    BACKGROUND,
    COLOUR_NAMES,
    COLOURS,
    EDGE,
    GAP,
    GRID,
    MASK_SUPERSAMPLE,
    SHAPES,
    SIZE,
    SIZES,
    coverage,
    extent,
    noun_phrase,
    seeded_batches,
)

FRAMES = 16
# Translations as (dx, dy) directions; y grows downwards, as in the pictures.
TRANSLATIONS: dict[str, tuple[int, int]] = {
    "right": (1, 0), "up_right": (1, -1), "up": (0, -1), "up_left": (-1, -1),
    "left": (-1, 0), "down_left": (-1, 1), "down": (0, 1), "down_right": (1, 1),
}
BOUNCES: dict[str, int] = {"bounce_horizontal": 0, "bounce_vertical": 1}  # motion -> axis (0 = x)
# Motion -> the verb phrase its captions use.
MOTIONS: dict[str, str] = {
    "left": "moves left", "right": "moves right", "up": "moves up", "down": "moves down",
    "up_left": "moves up and to the left", "up_right": "moves up and to the right",
    "down_left": "moves down and to the left", "down_right": "moves down and to the right",
    "bounce_horizontal": "bounces left and right", "bounce_vertical": "bounces up and down",
    "grow": "grows", "shrink": "shrinks", "turn": "turns {colour}",
}
_GROUP_WEIGHTS = {"axis": 0.3, "diagonal": 0.2, "bounce": 0.2, "grow": 0.1, "shrink": 0.1, "turn": 0.1}
_GROUPS = {"axis": ("left", "right", "up", "down"), "diagonal": ("up_left", "up_right", "down_left", "down_right"),
           "bounce": tuple(BOUNCES), "grow": ("grow",), "shrink": ("shrink",), "turn": ("turn",)}
MOTION_WEIGHTS: dict[str, float] = {m: w / len(_GROUPS[g]) for g, w in _GROUP_WEIGHTS.items() for m in _GROUPS[g]}
# What motion_of_track can read from centres alone (size and colour changes stay in place).
TRACK_MOTIONS: tuple[str, ...] = (*TRANSLATIONS, *BOUNCES, "static")

P_TWO = 0.3                  # share of clips with two objects
P_COLOUR, P_SIZE = 0.8, 0.3  # how often a single object's caption names its colour and its size
P_PAIR_COLOURS = 0.75        # two-object captions name both colours or neither
MIN_TRAVEL = 8.0             # pixels a translation covers at least
BOUNCE_TRAVEL = (1.5, 2.5)   # a bounce covers this many times its room, so it reflects at least once ...
MIN_RETURN = 0.35            # ... and comes back at least this share of its room
# motion_of_track: a track moves if its ends lie this far apart, and bounces if it turns back this far.
READ_MOVE, READ_RETURN = 4.0, 4.0
TRACK_JUMP = 10.0            # pixels an object may move between frames and still be the same object


@dataclass(frozen=True)
class MovingObject:
    """One object's truth, frame by frame: centre (pixels, y down), size (pixels across) and colour."""
    shape: str
    motion: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    size: tuple[float, ...]
    colour: tuple[str, ...]

    def centres(self) -> np.ndarray:
        """(FRAMES, 2) centres (x, y), comparable with ``track``'s."""
        return np.stack([self.x, self.y], axis=1)

    def boxes(self) -> np.ndarray:
        """(FRAMES, 4) bounding boxes (left, top, right, bottom) of the filled area."""
        reach = np.array([extent(self.shape, s) for s in self.size])
        x, y = np.array(self.x), np.array(self.y)
        return np.stack([x - reach[:, 0], y - reach[:, 1], x + reach[:, 2], y + reach[:, 3]], axis=1)


@dataclass(frozen=True)
class Clip:
    objects: tuple[MovingObject, ...]
    caption: str

    @property
    def motion(self) -> str:
        """The first (or only) object's motion."""
        return self.objects[0].motion


# --- Tracks ---------------------------------------------------------------------------------------

def _bounds(shape: str, size: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x_lo, x_hi), (y_lo, y_hi)) for centres on the grid that keep the shape EDGE inside the canvas."""
    left, top, right, bottom = extent(shape, size)
    return ((math.ceil((EDGE + left) * GRID) / GRID, math.floor((SIZE - EDGE - right) * GRID) / GRID),
            (math.ceil((EDGE + top) * GRID) / GRID, math.floor((SIZE - EDGE - bottom) * GRID) / GRID))


def _returns(p: np.ndarray) -> float:
    """How far a 1-D track turns back: the largest excursion in the middle beyond both of its ends."""
    peak = np.minimum(p - p[0], p - p[-1]).max()
    valley = np.minimum(p[0] - p, p[-1] - p).max()
    return float(max(peak, valley))


def _moving_object(rng: np.random.Generator, motion: str, shape: str, colour: str, size: str,
                   turn_to: str | None = None) -> MovingObject:
    t = np.linspace(0.0, 1.0, FRAMES)
    if motion in ("grow", "shrink"):
        sizes = np.linspace(SIZES["small"], SIZES["large"], FRAMES)
        sizes = sizes if motion == "grow" else sizes[::-1]
    else:
        sizes = np.full(FRAMES, SIZES[size])
    bounds = _bounds(shape, float(sizes.max()))
    pos = [np.full(FRAMES, rng.uniform(lo, hi)) for lo, hi in bounds]
    if motion in TRANSLATIONS:
        direction = TRANSLATIONS[motion]
        room = min(hi - lo for (lo, hi), d in zip(bounds, direction) if d)
        travel = rng.uniform(MIN_TRAVEL, room)
        for axis, d in enumerate(direction):
            lo, hi = bounds[axis]
            if d > 0:
                pos[axis] = rng.uniform(lo, hi - travel) + travel * t
            elif d < 0:
                pos[axis] = rng.uniform(lo + travel, hi) - travel * t
    elif motion in BOUNCES:
        axis = BOUNCES[motion]
        lo, hi = bounds[axis]
        room = hi - lo
        while True:  # redraw the rare bounce that barely comes back from its wall
            travel = rng.uniform(*BOUNCE_TRAVEL) * room * rng.choice((-1.0, 1.0))
            u = np.mod(rng.uniform(0, room) + travel * t, 2 * room)
            p = lo + np.where(u <= room, u, 2 * room - u)  # reflect off the walls at lo and hi
            if _returns(p) >= MIN_RETURN * room:
                pos[axis] = p
                break
    elif motion not in ("grow", "shrink", "turn"):
        raise ValueError(f"unknown motion {motion!r}; expected one of {tuple(MOTIONS)}")
    # Onto the grid; both bounds lie on it, so rounding keeps every centre inside them.
    x, y = (np.round(p * GRID) / GRID for p in pos)
    colours = [colour] * FRAMES
    if motion == "turn":
        if turn_to is None or turn_to == colour:
            raise ValueError("a turn needs a new colour")
        colours[FRAMES // 2:] = [turn_to] * (FRAMES - FRAMES // 2)
    return MovingObject(shape, motion, tuple(map(float, x)), tuple(map(float, y)),
                        tuple(map(float, sizes)), tuple(colours))


def _apart(a: MovingObject, b: MovingObject) -> bool:
    """Whether the two objects' boxes stay GAP apart (along x or y) in every frame."""
    pa, pb = a.boxes(), b.boxes()
    gap_x = np.maximum(pb[:, 0] - pa[:, 2], pa[:, 0] - pb[:, 2])
    gap_y = np.maximum(pb[:, 1] - pa[:, 3], pa[:, 1] - pb[:, 3])
    return bool(((gap_x >= GAP) | (gap_y >= GAP)).all())


# --- Captions -------------------------------------------------------------------------------------

def verb_phrase(motion: str, colour: str | None = None) -> str:
    """ "moves up and to the right", "turns blue" (a turn needs the colour it turns)."""
    return MOTIONS[motion].format(colour=colour)


def motion_phrase(shape: str, motion: str, colour: str | None = None, size: str | None = None,
                  turn_to: str | None = None) -> str:
    """ "a small blue square moves up", "a red circle turns green"."""
    return f"{noun_phrase(shape, colour, size)} {verb_phrase(motion, turn_to)}"


def all_motion_captions() -> list[str]:
    """Every single-object caption make_clip can write, sorted: the prompt list for motion models.

    Two-object captions join two of these (of different shapes) with "and"."""
    return list(_all_motion_captions())


@lru_cache(maxsize=1)
def _all_motion_captions() -> tuple[str, ...]:
    out: set[str] = set()
    for shape in SHAPES:
        for colour in (None, *COLOUR_NAMES):
            for motion in MOTIONS:
                sizes = (None,) if motion in ("grow", "shrink") else (None, *SIZES)
                targets = [c for c in COLOUR_NAMES if c != colour] if motion == "turn" else [None]
                for size in sizes:
                    for to in targets:
                        out.add(motion_phrase(shape, motion, colour, size, to))
    return tuple(sorted(out))


# --- Sampling -------------------------------------------------------------------------------------

def _motion(rng: np.random.Generator) -> str:
    names = list(MOTION_WEIGHTS)
    return names[int(rng.choice(len(names), p=list(MOTION_WEIGHTS.values())))]


def make_clip(rng: np.random.Generator, kind: str | None = None, objects: int | None = None) -> Clip:
    """A random clip whose first object has motion `kind` (one of MOTIONS; None draws one with
    MOTION_WEIGHTS), with `objects` (1 or 2; None: two with probability P_TWO) objects."""
    if kind is not None and kind not in MOTIONS:
        raise ValueError(f"unknown motion {kind!r}; expected one of {tuple(MOTIONS)}")
    n = objects if objects is not None else 1 + int(rng.random() < P_TWO)
    if n not in (1, 2):
        raise ValueError("a clip holds one or two objects")
    while True:  # two objects must keep apart in every frame: redraw until they do
        motions = [kind or _motion(rng)] + [_motion(rng) for _ in range(n - 1)]
        shapes = [SHAPES[i] for i in rng.choice(len(SHAPES), size=n, replace=False)]
        colours = [COLOUR_NAMES[i] for i in rng.integers(len(COLOUR_NAMES), size=n)]
        turns = [COLOUR_NAMES[i] for i in rng.integers(len(COLOUR_NAMES) - 1, size=n)]
        turns = [t if t != c else COLOUR_NAMES[-1] for t, c in zip(turns, colours)]  # any colour but its own
        sizes = ["large" if r else "small" for r in rng.random(n) < 0.5]
        u = rng.random(2)
        objs = tuple(_moving_object(rng, m, s, c, z, to) for m, s, c, z, to in zip(motions, shapes, colours, sizes, turns))
        if n == 2 and not _apart(*objs):
            continue
        if n == 1:
            m = motions[0]
            caption = motion_phrase(shapes[0], m, colours[0] if u[0] < P_COLOUR else None,
                                    sizes[0] if u[1] < P_SIZE and m not in ("grow", "shrink") else None, turns[0])
        else:
            named = u[0] < P_PAIR_COLOURS
            caption = " and ".join(motion_phrase(s, m, c if named else None, turn_to=to)
                                   for s, m, c, to in zip(shapes, motions, colours, turns))
        return Clip(objs, caption)


def clip(seed: int, index: int) -> Clip:
    """Clip `index` of data set `seed`, independent of how many are made."""
    return make_clip(np.random.default_rng([seed, index]))


# --- Rendering ------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _mask(shape: str, size: float, fx: float, fy: float) -> tuple[int, np.ndarray]:
    """(K, coverage) of a shape centred at (K + fx, K + fy) in a (2K+1)-pixel square window; the same
    masks as shapes.render's, for any size (growing shapes pass through sizes between its two)."""
    k = math.ceil(max(extent(shape, size)))
    m = coverage(shape, size, k + fx, k + fy, 0, 0, 2 * k + 1, 2 * k + 1, MASK_SUPERSAMPLE)
    return k, m.astype(np.float32)


_BG = np.array(BACKGROUND, dtype=np.float32)
_INK = {name: np.array(rgb, dtype=np.float32) - _BG for name, rgb in COLOURS.items()}


def render_frame(clip: Clip, t: int) -> np.ndarray:
    """Frame t of the clip as (32, 32, 3) uint8 RGB, drawn exactly as shapes.render draws a scene."""
    canvas = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    canvas[:] = _BG
    for obj in clip.objects:
        x, y = obj.x[t], obj.y[t]
        ix, iy = math.floor(x), math.floor(y)
        k, m = _mask(obj.shape, obj.size[t], x - ix, y - iy)
        x0, y0 = ix - k, iy - k
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + 2 * k + 1, SIZE), min(y0 + 2 * k + 1, SIZE)
        canvas[cy0:cy1, cx0:cx1] += m[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0, None] * _INK[obj.colour[t]]
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def render_clip(clip: Clip) -> np.ndarray:
    """The clip as (FRAMES, 32, 32, 3) uint8 RGB."""
    return np.stack([render_frame(clip, t) for t in range(FRAMES)])


def make_clips(n: int, seed: int = 0) -> tuple[np.ndarray, list[Clip], list[str]]:
    """n clips: videos (n, FRAMES, 32, 32, 3) uint8, the clips, and their captions."""
    clips = [clip(seed, i) for i in range(n)]
    videos = np.empty((n, FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
    for i, c in enumerate(clips):
        videos[i] = render_clip(c)
    return videos, clips, [c.caption for c in clips]


def clip_batches(batch_size: int, seed: int = 0, first: int = 0) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Endless batches (videos uint8 (B, FRAMES, 32, 32, 3), captions): batch b holds clips
    b*B .. b*B+B-1 of data set `seed`, so a run replays exactly (and resumes at batch `first`)."""
    return seeded_batches(batch_size, seed, first, clip, render_clip, (FRAMES, SIZE, SIZE, 3))


# --- Reading clips back ---------------------------------------------------------------------------

def detect_clip(video: np.ndarray) -> list[list]:
    """The Shapes detector's objects (``DetectedObject``, largest first) in each frame of a (T, H, W, 3) video."""
    # The detector lives with evaluation, which imports this package: import it when it is used.
    from ..evaluation.shapes_detect import detect

    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"expected a (T, H, W, 3) RGB video, got shape {video.shape}")
    return [detect(frame) for frame in video]


def track(detections: Sequence[Sequence], shape: str | None = None, colour: str | None = None) -> np.ndarray:
    """(T, 2) centres (x, y) of one object through the frames, NaN where it was not found.

    The object is the largest detection of the given shape and colour (either may be None) in the
    first frame that has one; after that, the detection nearest its last centre, within TRACK_JUMP
    pixels, preferring its shape (colour may change: a turning object keeps being followed)."""
    out = np.full((len(detections), 2), np.nan)
    last = None
    for t, found in enumerate(detections):
        if last is None:
            pick = [d for d in found if shape in (None, d.shape) and colour in (None, d.colour)]
            if pick:
                last = max(pick, key=lambda d: d.area)
                out[t] = last.x, last.y
                shape = shape or last.shape
            continue
        near = [d for d in found if math.hypot(d.x - last.x, d.y - last.y) <= TRACK_JUMP]
        near = [d for d in near if d.shape == shape] or near
        if near:
            last = min(near, key=lambda d: math.hypot(d.x - last.x, d.y - last.y))
            out[t] = last.x, last.y
    return out


def motion_of_track(centres: np.ndarray) -> str:
    """The motion (one of TRACK_MOTIONS) a sequence of (x, y) centres shows; frames with NaN are skipped.

    A track that turns back at least READ_RETURN pixels along an axis bounces along it; otherwise
    one whose ends lie READ_MOVE pixels apart moves in the nearest of the eight directions; otherwise
    it is static (also when fewer than two centres were found)."""
    c = np.asarray(centres, dtype=float)
    c = c[~np.isnan(c).any(axis=1)]
    if len(c) < 2:
        return "static"
    back_x, back_y = _returns(c[:, 0]), _returns(c[:, 1])
    if max(back_x, back_y) >= READ_RETURN:
        return "bounce_horizontal" if back_x >= back_y else "bounce_vertical"
    dx, dy = c[-1] - c[0]
    if math.hypot(dx, dy) < READ_MOVE:
        return "static"
    sector = round(math.atan2(-dy, dx) / (math.pi / 4)) % 8  # counter-clockwise from "right", y up
    return list(TRANSLATIONS)[sector]
