"""Shapes: a procedural data set of flat shapes with compositional captions.

Each 32x32 scene holds one to three shapes (circle, square, triangle, diamond) in one of six named
colours on the same dark background, never overlapping. Because the captions are written from the
drawing parameters they are exactly true, and because the background and palette are fixed a
procedural detector (``studio.core.evaluation.shapes_detect``) can read a picture back into shapes, colours,
counts and positions. That makes it a small GenEval: a text-to-image model trained on these
captions can be scored on whether its images show what the prompt asked for.

Caption kinds (the vocabulary is finite; ``all_captions()`` lists every caption that can occur):

* single: "a red circle", "a large blue square", "a triangle";
* two_object: "a red circle and a blue square", "a circle and a square";
* counting: "two green triangles", "three circles" (all of one shape);
* position: "a red circle to the left of a blue square", "a square above a diamond";
* color_attr: "a purple triangle and a green circle" (two shapes, two different colours).

Centres are kept on a quarter-pixel grid so that each shape's anti-aliased coverage mask (8x8
supersampled) can be computed once per (shape, size, sub-pixel offset) and reused: rendering is a
few array additions per object. Scene ``i`` of seed ``s`` depends only on ``(s, i)``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SIZE = 32
BACKGROUND: tuple[int, int, int] = (24, 24, 28)
# Well separated in RGB and along their rays from the background, which is how the detector
# tells a colour from an anti-aliased mixture of it with the background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 45, 45),
    "green": (45, 190, 70),
    "blue": (45, 95, 235),
    "yellow": (240, 215, 50),
    "purple": (185, 65, 215),
    "white": (235, 235, 235),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
PLURALS: dict[str, str] = {s: s + "s" for s in SHAPES}
SIZES: dict[str, float] = {"small": 8.0, "large": 13.0}  # pixels across (width and height)
# Area of each shape as a fraction of size**2; the detector matches templates by area with these.
AREA_FACTORS: dict[str, float] = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5, "diamond": 0.5}
COUNT_WORDS: dict[int, str] = {2: "two", 3: "three"}
# Relation ids (GenEval's names) and how captions phrase them.
RELATIONS: dict[str, str] = {"left of": "to the left of", "right of": "to the right of",
                             "above": "above", "below": "below"}
# The phrase library's Shapes section: words a prompt for a Shapes model is built from.
PHRASES: tuple[str, ...] = (*(f"a {c} {s}" for c in COLOUR_NAMES for s in SHAPES[:3]), "a small circle",
                            "a large square", "two triangles", "three circles", *RELATIONS.values())
KINDS: tuple[str, ...] = ("single", "two_object", "counting", "position", "color_attr")
KIND_WEIGHTS: tuple[float, ...] = (0.2, 0.2, 0.2, 0.25, 0.15)

EDGE = 1.0        # every shape's bounding box stays this far inside the canvas
GAP = 2.0         # bounding boxes of two shapes are at least this far apart along x or y
MIN_SHIFT = 6.0   # a position relation: centres differ by at least this along its axis ...
MAX_SLANT = 0.5   # ... and by at most this fraction of that along the other axis
GRID = 4          # centres lie on a 1/GRID pixel grid, so coverage masks can be cached
MASK_SUPERSAMPLE = 8
CANDIDATES = 64   # positions tried at once per object when arranging a scene


@dataclass(frozen=True)
class ShapeObject:
    shape: str
    colour: str
    size: str   # "small" or "large"
    x: float    # centre (the centroid of the filled area), pixels from the left edge
    y: float    # pixels from the top edge

    def __post_init__(self) -> None:
        if self.shape not in SHAPES or self.colour not in COLOURS or self.size not in SIZES:
            raise ValueError(f"unknown shape, colour or size: {self}")

    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the filled area in pixels."""
        left, top, right, bottom = extent(self.shape, SIZES[self.size])
        return self.x - left, self.y - top, self.x + right, self.y + bottom


@dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...]
    caption: str
    kind: str
    relation: str | None = None  # position scenes: objects[0] <relation> objects[1]


def extent(shape: str, size: float) -> tuple[float, float, float, float]:
    """How far the shape reaches (left, up, right, down) from its centre, in pixels."""
    h = size / 2
    if shape == "triangle":  # apex up; centred on its centroid, a third of the height above the base
        return h, 2 * size / 3, h, size / 3
    return h, h, h, h


def inside(shape: str, size: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v), relative to the centre in pixels (v down), lie in the shape."""
    h = size / 2
    if shape == "circle":
        return u * u + v * v <= h * h
    if shape == "square":
        return (np.abs(u) <= h) & (np.abs(v) <= h)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= h
    if shape == "triangle":
        top = -2 * size / 3
        return (v >= top) & (v <= size / 3) & (np.abs(u) <= (v - top) / 2)
    raise ValueError(f"unknown shape {shape!r}")


def coverage(shape: str, size: float, cx: float, cy: float, x0: int, y0: int, width: int, height: int,
             supersample: int = 4) -> np.ndarray:
    """Fraction of each pixel of the window (x0, y0, width, height) covered by the shape, (height, width).

    Pixel (i, j) of the window spans [x0 + j, x0 + j + 1) x [y0 + i, y0 + i + 1)."""
    # Tiny, unequal shifts keep sample points off edges (a diamond's run through the sample grid),
    # where every tie would count as inside and inflate the area.
    offsets = (np.arange(supersample) + 0.5) / supersample
    us = (x0 + np.arange(width)[:, None] + offsets + 1e-4).reshape(-1) - cx
    vs = (y0 + np.arange(height)[:, None] + offsets + 3e-4).reshape(-1) - cy
    hit = inside(shape, size, us[None, :], vs[:, None])
    return hit.reshape(height, supersample, width, supersample).mean(axis=(1, 3))


@lru_cache(maxsize=None)
def _mask(shape: str, size: str, fx: float, fy: float) -> tuple[int, np.ndarray]:
    """(K, coverage) of a shape centred at (K + fx, K + fy) in a (2K+1)-pixel square window."""
    s = SIZES[size]
    k = math.ceil(max(extent(shape, s)))
    m = coverage(shape, s, k + fx, k + fy, 0, 0, 2 * k + 1, 2 * k + 1, MASK_SUPERSAMPLE)
    return k, m.astype(np.float32)


_BG = np.array(BACKGROUND, dtype=np.float32)
_INK = {name: np.array(rgb, dtype=np.float32) - _BG for name, rgb in COLOURS.items()}


def render(scene: Scene | Sequence[ShapeObject]) -> np.ndarray:
    """Draw a scene (or a sequence of objects) as a (32, 32, 3) uint8 RGB image, anti-aliased."""
    objects = scene.objects if isinstance(scene, Scene) else scene
    canvas = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    canvas[:] = _BG
    for obj in objects:
        ix, iy = math.floor(obj.x), math.floor(obj.y)
        k, m = _mask(obj.shape, obj.size, obj.x - ix, obj.y - iy)
        # Clip the window to the canvas; objects never overlap, so adding their ink is exact.
        x0, y0 = ix - k, iy - k
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + 2 * k + 1, SIZE), min(y0 + 2 * k + 1, SIZE)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        cov = m[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        canvas[cy0:cy1, cx0:cx1] += cov[..., None] * _INK[obj.colour]
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def relation_holds(relation: str, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether centre a lies clearly <relation> centre b, as the data set draws it."""
    return bool(_clearly(relation, np.array([a[0] - b[0]]), np.array([a[1] - b[1]]))[0])


def _clearly(relation: str, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Whether offsets (dx, dy) of a subject from its reference show the relation clearly."""
    main, other = {"left of": (-dx, dy), "right of": (dx, dy), "above": (-dy, dx), "below": (dy, dx)}[relation]
    return (main >= MIN_SHIFT) & (np.abs(other) <= MAX_SLANT * main)


def arrange(rng: np.random.Generator, specs: Sequence[tuple[str, str, str]], relation: str | None = None,
            attempts: int = 30) -> tuple[ShapeObject, ...] | None:
    """Place (shape, colour, size) specs inside the canvas without overlaps, or None if that failed.

    With a relation, specs[0] ends up clearly <relation> specs[1]. Candidates are drawn in batches
    because scalar Generator calls cost microseconds each and rendering must stay cheap."""
    for _ in range(attempts):
        placed: list[ShapeObject] = []
        for i, (shape, colour, size) in enumerate(specs):
            left, top, right, bottom = extent(shape, SIZES[size])
            xs = rng.integers(math.ceil((EDGE + left) * GRID), math.floor((SIZE - EDGE - right) * GRID) + 1,
                              size=CANDIDATES) / GRID
            ys = rng.integers(math.ceil((EDGE + top) * GRID), math.floor((SIZE - EDGE - bottom) * GRID) + 1,
                              size=CANDIDATES) / GRID
            ok = np.ones(CANDIDATES, dtype=bool)
            for p in placed:
                pl, pt, pr, pb = p.box()
                gap_x = np.maximum(pl - (xs + right), (xs - left) - pr)
                gap_y = np.maximum(pt - (ys + bottom), (ys - top) - pb)
                ok &= (gap_x >= GAP) | (gap_y >= GAP)
            if relation is not None and i == 1:
                # specs[0] is the subject: it must lie <relation> this one.
                a = placed[0]
                ok &= _clearly(relation, a.x - xs, a.y - ys)
            hits = np.flatnonzero(ok)
            if hits.size == 0:
                break
            j = hits[0]
            placed.append(ShapeObject(shape, colour, size, float(xs[j]), float(ys[j])))
        else:
            return tuple(placed)
    return None


# --- Captions -------------------------------------------------------------------------------------

def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def noun_phrase(shape: str, colour: str | None = None, size: str | None = None) -> str:
    """The words that are given, in English order: "a large red circle", "a circle"."""
    return _a(" ".join(w for w in (size, colour, shape) if w))


def count_phrase(n: int, shape: str, colour: str | None = None) -> str:
    return " ".join(w for w in (COUNT_WORDS[n], colour, PLURALS[shape]) if w)


def pair_phrase(a: str, b: str, colours: tuple[str, str] | None = None) -> str:
    ca, cb = colours or (None, None)
    return f"{noun_phrase(a, ca)} and {noun_phrase(b, cb)}"


def position_phrase(a: str, relation: str, b: str, colours: tuple[str, str] | None = None) -> str:
    ca, cb = colours or (None, None)
    return f"{noun_phrase(a, ca)} {RELATIONS[relation]} {noun_phrase(b, cb)}"


def all_captions() -> list[str]:
    """Every caption make_scene can write, sorted: embed them once and look captions up."""
    return list(_all_captions())


@lru_cache(maxsize=1)
def _all_captions() -> tuple[str, ...]:
    out: set[str] = set()
    colour_options: list[str | None] = [None, *COLOUR_NAMES]
    for shape in SHAPES:
        for colour in colour_options:
            for size in (None, *SIZES):
                out.add(noun_phrase(shape, colour, size))
            for n in COUNT_WORDS:
                out.add(count_phrase(n, shape, colour))
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    colour_pairs: list[tuple[str, str] | None] = [None, *((c, d) for c in COLOUR_NAMES for d in COLOUR_NAMES)]
    for a, b in pairs:
        for cols in colour_pairs:
            out.add(pair_phrase(a, b, cols))
            for rel in RELATIONS:
                out.add(position_phrase(a, rel, b, cols))
    return tuple(sorted(out))


# --- Sampling -------------------------------------------------------------------------------------

P_SINGLE_COLOUR, P_SINGLE_SIZE = 0.8, 0.5   # how often a single-object caption names these
P_PAIR_COLOURS = 0.75                       # two_object captions name both colours or neither
P_POSITION_COLOURS = 0.5
P_COUNT_SAME_COLOUR = 0.6                   # counting scenes of one colour say it; mixed ones don't


def _pick(rng: np.random.Generator, options: Sequence[str], k: int = 1, distinct: bool = False) -> list[str]:
    idx = rng.choice(len(options), size=k, replace=not distinct)
    return [options[i] for i in idx]


def _sizes(rng: np.random.Generator, k: int) -> list[str]:
    return ["large" if r else "small" for r in rng.random(k) < 0.5]


def make_scene(rng: np.random.Generator, kind: str | None = None) -> Scene:
    """A random scene of the given kind (one of KINDS; None picks one with KIND_WEIGHTS)."""
    if kind is None:
        kind = KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
    if kind not in KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; expected one of {KINDS}")
    while True:  # arrange() rarely fails (three large shapes barely fit): draw new sizes then
        u = rng.random(3)
        relation = None
        if kind == "single":
            shape, colour = _pick(rng, SHAPES)[0], _pick(rng, COLOUR_NAMES)[0]
            specs = [(shape, colour, _sizes(rng, 1)[0])]
            caption = noun_phrase(shape, colour if u[0] < P_SINGLE_COLOUR else None,
                                  specs[0][2] if u[1] < P_SINGLE_SIZE else None)
        elif kind == "counting":
            n = 2 + int(u[0] < 0.5)
            shape = _pick(rng, SHAPES)[0]
            same = u[1] < P_COUNT_SAME_COLOUR
            colours = _pick(rng, COLOUR_NAMES, 1) * n if same else _pick(rng, COLOUR_NAMES, n)
            specs = list(zip([shape] * n, colours, _sizes(rng, n)))
            caption = count_phrase(n, shape, colours[0] if same else None)
        else:
            shapes = _pick(rng, SHAPES, 2, distinct=True)
            colours = _pick(rng, COLOUR_NAMES, 2, distinct=(kind == "color_attr"))
            specs = list(zip(shapes, colours, _sizes(rng, 2)))
            if kind == "position":
                relation = list(RELATIONS)[int(rng.integers(len(RELATIONS)))]
                named = tuple(colours) if u[0] < P_POSITION_COLOURS else None
                caption = position_phrase(shapes[0], relation, shapes[1], named)
            else:
                named = tuple(colours) if kind == "color_attr" or u[0] < P_PAIR_COLOURS else None
                caption = pair_phrase(shapes[0], shapes[1], named)
        objects = arrange(rng, specs, relation)
        if objects is not None:
            return Scene(objects, caption, kind, relation)


def scene(seed: int, index: int) -> Scene:
    """Scene `index` of data set `seed`, independent of how many are made."""
    return make_scene(np.random.default_rng([seed, index]))


def make_shapes(n: int, seed: int = 0) -> tuple[np.ndarray, list[Scene], list[str]]:
    """n scenes: images (n, 32, 32, 3) uint8, the scenes, and their captions."""
    scenes = [scene(seed, i) for i in range(n)]
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for i, s in enumerate(scenes):
        images[i] = render(s)
    return images, scenes, [s.caption for s in scenes]


def seeded_batches(batch_size: int, seed: int, first: int, item: Callable[[int, int], object],
                   draw: Callable[[object], np.ndarray], shape: tuple[int, ...]
                   ) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Endless batches (uint8 (B, *shape), captions): batch b holds items b*B .. b*B+B-1 of data set
    ``seed`` (``item(seed, i)``, each with a ``caption``, drawn by ``draw``), so a run can be replayed
    exactly (and resumed at batch ``first``)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    start = first * batch_size
    while True:
        out = np.empty((batch_size, *shape), dtype=np.uint8)
        captions = []
        for i in range(batch_size):
            it = item(seed, start + i)
            out[i] = draw(it)
            captions.append(it.caption)
        start += batch_size
        yield out, captions


def shapes_batches(batch_size: int, seed: int = 0, first: int = 0) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Endless fresh batches of scenes (images uint8 (B, 32, 32, 3), captions); see ``seeded_batches``."""
    return seeded_batches(batch_size, seed, first, scene, render, (SIZE, SIZE, 3))
