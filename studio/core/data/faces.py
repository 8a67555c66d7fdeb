"""Faces: a procedural data set of small cartoon faces whose attributes are known exactly.

Each face is drawn from a handful of independent attributes (smile, how open the eyes are, skin
tone, hair colour, glasses, head size, background). Because the labels are the drawing
parameters, they are never wrong, so the set can train a GAN and an attribute classifier and
then show attribute editing honestly: moving "smile" in a generator's latent space should change
the mouth and little else, and the classifier can measure whether it did.

Rendering is plain numpy: every shape is a boolean mask painted at ``size * supersample`` pixels
inside its own bounding box, then box-downsampled for anti-aliasing. Face ``i`` of seed ``s``
depends only on ``(s, i)``, so any prefix or slice of a data set can be regenerated.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from functools import lru_cache
from typing import NamedTuple

import numpy as np

SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 224, 196), (234, 192, 134), (198, 134, 66), (146, 94, 56))
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (28, 24, 22), (92, 54, 28), (236, 200, 92), (196, 62, 28))
HAIR_NAMES: tuple[str, ...] = ("black", "brown", "blond", "red")
BACKGROUNDS: tuple[tuple[int, int, int], ...] = (
    (204, 228, 255), (212, 244, 212), (255, 232, 204), (236, 218, 250))
INK = (20, 20, 24)  # mouth, eye outlines, pupils and glasses
EYE_WHITE = (255, 255, 255)


class Attribute(NamedTuple):
    name: str
    kind: str  # "continuous", "binary" or "categorical"
    classes: int = 0  # number of classes for "categorical", else 0


# Same order as FaceAttributes' fields and FaceAttributes.to_vector(), so a classifier can read
# its targets column by column.
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("smile", "continuous"),
    Attribute("eyes_open", "continuous"),
    Attribute("skin", "categorical", len(SKIN_TONES)),
    Attribute("hair", "categorical", len(HAIR_COLOURS)),
    Attribute("glasses", "binary"),
    Attribute("head_size", "continuous"),
    Attribute("background", "categorical", len(BACKGROUNDS)),
)

# Geometry in units of the canvas side (0..1). The head's largest radius leaves room for the hair
# above it and a margin below; every feature is placed in units of the actual radius r so that
# faces of different head_size are scaled copies of one another.
HEAD_CY = 0.56
HEAD_R_MAX = 0.41
HEAD_RX = 0.88          # head half-width / r
HAIR_DY, HAIR_RX, HAIR_RY = -0.12, 0.98, 1.08  # back hair ellipse: centre offset and radii / r
HAIR_BOTTOM = 0.2       # back hair only above cy + this * r (it is a cap, not a beard)
FRINGE_TOP, FRINGE_CURVE = -0.62, 0.22  # fringe edge: cy + r*(TOP + CURVE*t^2), t across the head
EYE_DX, EYE_DY = 0.43, -0.10  # eye centres / r
EYE_RX, EYE_RY = 0.20, 0.20   # eye white half-width and fully open half-height / r
EYE_LINE = 0.04         # eye outline thickness / r; a closed eye is this outline squashed to a line
PUPIL_R = 0.08
GLASSES_R, GLASSES_T = 0.31, 0.10  # frame ring radius and thickness / r
MOUTH_DY, MOUTH_W, MOUTH_DEPTH, MOUTH_T = 0.55, 0.32, 0.28, 0.10  # / r; DEPTH is the bend at |smile|=1


@dataclass(frozen=True)
class FaceAttributes:
    smile: float = 0.0       # -1 frown, 0 straight, 1 broad smile
    eyes_open: float = 1.0   # 0 closed (a line) .. 1 round open eyes
    skin: int = 0            # index into SKIN_TONES
    hair: int = 0            # index into HAIR_COLOURS
    glasses: bool = False
    head_size: float = 1.0   # head radius as a fraction of the largest that fits, 0.7..1
    background: int = 0      # index into BACKGROUNDS

    def __post_init__(self) -> None:
        checks = ((-1.0 <= self.smile <= 1.0, "smile must lie in [-1, 1]"),
                  (0.0 <= self.eyes_open <= 1.0, "eyes_open must lie in [0, 1]"),
                  (0.7 <= self.head_size <= 1.0, "head_size must lie in [0.7, 1]"),
                  (0 <= self.skin < len(SKIN_TONES), "skin is not a SKIN_TONES index"),
                  (0 <= self.hair < len(HAIR_COLOURS), "hair is not a HAIR_COLOURS index"),
                  (0 <= self.background < len(BACKGROUNDS), "background is not a BACKGROUNDS index"))
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{message}: {self}")

    def to_vector(self) -> np.ndarray:
        return np.array(astuple(self), dtype=np.float32)

    @classmethod
    def from_vector(cls, v: np.ndarray) -> "FaceAttributes":
        """Inverse of to_vector; also accepts a classifier's noisy estimate (clipped and rounded)."""
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape[0] != len(ATTRIBUTES):
            raise ValueError(f"expected {len(ATTRIBUTES)} values, got {v.shape[0]}")
        values = {}
        for x, attr in zip(v, ATTRIBUTES):
            if attr.kind == "categorical":
                values[attr.name] = int(np.clip(np.rint(x), 0, attr.classes - 1))
            elif attr.kind == "binary":
                values[attr.name] = bool(x >= 0.5)
            else:
                values[attr.name] = float(x)
        values["smile"] = float(np.clip(values["smile"], -1.0, 1.0))
        values["eyes_open"] = float(np.clip(values["eyes_open"], 0.0, 1.0))
        values["head_size"] = float(np.clip(values["head_size"], 0.7, 1.0))
        return cls(**values)


assert [f.name for f in fields(FaceAttributes)] == [a.name for a in ATTRIBUTES]

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]
Box = tuple[float, float, float, float]  # u0, v0, u1, v1 in canvas units


@lru_cache(maxsize=8)
def _axis(pixels: int) -> np.ndarray:
    """Pixel-centre coordinates in canvas units; computed once per canvas size."""
    return ((np.arange(pixels) + 0.5) / pixels).astype(np.float32)


def _paint(canvas: np.ndarray, colour: tuple[int, int, int],
           box: Box, mask: Mask) -> None:
    """Paint colour where mask(u, v) holds, evaluating it only inside box = (u0, v0, u1, v1).

    The canvas is channel-first (3, n, n): one boolean assignment per plane is about three times
    faster than assigning RGB triples through a mask on an (n, n, 3) array.
    """
    n = canvas.shape[1]
    axis = _axis(n)
    x0, x1 = max(int(box[0] * n) - 1, 0), min(int(np.ceil(box[2] * n)) + 1, n)
    y0, y1 = max(int(box[1] * n) - 1, 0), min(int(np.ceil(box[3] * n)) + 1, n)
    if x0 >= x1 or y0 >= y1:
        return
    m = mask(axis[None, x0:x1], axis[y0:y1, None])
    for plane, value in zip(canvas, colour):
        plane[y0:y1, x0:x1][m] = value


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> tuple[Box, Mask]:
    def mask(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0
    return (cx - rx, cy - ry, cx + rx, cy + ry), mask


def _ring(cx: float, cy: float, radius: float, thick: float) -> tuple[Box, Mask]:
    lo, hi = (radius - thick / 2) ** 2, (radius + thick / 2) ** 2
    def mask(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        d2 = (u - cx) ** 2 + (v - cy) ** 2
        return (d2 >= lo) & (d2 <= hi)
    reach = radius + thick / 2
    return (cx - reach, cy - reach, cx + reach, cy + reach), mask


def _parabola(cx: float, cy: float, half_w: float, bend: float,
              thick: float) -> tuple[Box, Mask]:
    """A thick curve v = cy + bend*(1/2 - t^2), t = (u-cx)/half_w in [-1, 1], with round ends.

    bend > 0 puts the middle below the corners (image rows grow downwards): a smile. The curve is
    centred on cy so that bending it never moves the mouth as a whole.
    """
    h = thick / 2

    def f(u: np.ndarray) -> np.ndarray:
        t = (u - cx) / half_w
        return cy + bend * (0.5 - t * t)

    def mask(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        slope = -2 * bend * (u - cx) / half_w ** 2
        # Vertical distance divided by the slope factor approximates the normal distance.
        on_curve = (np.abs(v - f(u)) <= h * np.sqrt(1 + slope * slope)) & (np.abs(u - cx) <= half_w)
        end_v = cy - bend / 2
        ends = (np.minimum((u - cx + half_w) ** 2, (u - cx - half_w) ** 2) + (v - end_v) ** 2) <= h * h
        return on_curve | ends

    top, bottom = sorted((cy + bend / 2, cy - bend / 2))
    return (cx - half_w - h, top - h, cx + half_w + h, bottom + h), mask


def head_geometry(head_size: float) -> tuple[float, float, float]:
    """(centre u, centre v, radius r) of the head in canvas units; tests use it to find features."""
    return 0.5, HEAD_CY, HEAD_R_MAX * head_size


def render(attrs: FaceAttributes, size: int = 32, supersample: int = 4) -> np.ndarray:
    """Draw one face as a (size, size, 3) uint8 RGB image."""
    n = size * supersample
    canvas = np.empty((3, n, n), dtype=np.uint8)
    for plane, value in zip(canvas, BACKGROUNDS[attrs.background]):
        plane.fill(value)
    cx, cy, r = head_geometry(attrs.head_size)
    hair, skin = HAIR_COLOURS[attrs.hair], SKIN_TONES[attrs.skin]

    # Hair behind the head: an ellipse raised above it, cut off so it reads as a cap.
    box, hair_back = _ellipse(cx, cy + HAIR_DY * r, HAIR_RX * r, HAIR_RY * r)
    cut = cy + HAIR_BOTTOM * r
    _paint(canvas, hair, (box[0], box[1], box[2], min(box[3], cut)),
           lambda u, v: hair_back(u, v) & (v <= cut))
    head_box, head = _ellipse(cx, cy, HEAD_RX * r, r)
    _paint(canvas, skin, head_box, head)

    # A fringe over the forehead, curving down at the temples, so the hair colour is plain to see.
    def fringe(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        t = (u - cx) / (HEAD_RX * r)
        return head(u, v) & (v <= cy + r * (FRINGE_TOP + FRINGE_CURVE * t * t))
    fringe_bottom = cy + r * (FRINGE_TOP + FRINGE_CURVE)
    _paint(canvas, hair, (head_box[0], head_box[1], head_box[2], fringe_bottom), fringe)

    # Eyes: a dark outline ellipse, the white inside it and a pupil clipped to the white. The
    # white's height is proportional to eyes_open, so a closed eye is the outline squashed flat:
    # a dark line, reached continuously rather than by a threshold.
    ey = cy + EYE_DY * r
    a, b, t = EYE_RX * r, EYE_RY * r * attrs.eyes_open, EYE_LINE * r
    for ex in (cx - EYE_DX * r, cx + EYE_DX * r):
        _paint(canvas, INK, *_ellipse(ex, ey, a + t, b + t))
        if b > 0:
            white_box, white = _ellipse(ex, ey, a, b)
            _paint(canvas, EYE_WHITE, white_box, white)
            pupil_box, pupil = _ellipse(ex, ey, PUPIL_R * r, PUPIL_R * r)
            _paint(canvas, INK, pupil_box, lambda u, v, p=pupil, w=white: p(u, v) & w(u, v))
        if attrs.glasses:
            _paint(canvas, INK, *_ring(ex, ey, GLASSES_R * r, GLASSES_T * r))
    if attrs.glasses:
        inner = (EYE_DX - GLASSES_R) * r  # from the face's midline to each frame's centre line
        half_t = GLASSES_T * r / 2
        _paint(canvas, INK, (cx - inner, ey - half_t, cx + inner, ey + half_t),
               lambda u, v: (np.abs(u - cx) <= inner) & (np.abs(v - ey) <= half_t))

    _paint(canvas, INK, *_parabola(cx, cy + MOUTH_DY * r, MOUTH_W * r,
                                   MOUTH_DEPTH * r * attrs.smile, MOUTH_T * r))

    if supersample == 1:
        return np.ascontiguousarray(canvas.transpose(1, 2, 0))
    # Box mean by adding strided slices: several times faster than .sum(axis=(...)) on blocks
    # this small, and integer arithmetic keeps it exact.
    k = supersample * supersample
    wide = canvas.astype(np.uint16 if k <= 257 else np.uint32).reshape(3, size, supersample, n)
    rows = wide[:, :, 0].copy()
    for j in range(1, supersample):
        rows += wide[:, :, j]
    cols = rows.reshape(3, size, size, supersample)
    total = cols[..., 0].copy()
    for j in range(1, supersample):
        total += cols[..., j]
    mean = ((total + k // 2) // k).astype(np.uint8)  # rounded
    return np.ascontiguousarray(mean.transpose(1, 2, 0))


def sample_attributes(rng: np.random.Generator) -> FaceAttributes:
    """Independent attributes, so that none can be predicted from another."""
    return FaceAttributes(
        smile=float(rng.uniform(-1.0, 1.0)),
        eyes_open=float(rng.uniform(0.0, 1.0)),
        skin=int(rng.integers(len(SKIN_TONES))),
        hair=int(rng.integers(len(HAIR_COLOURS))),
        glasses=bool(rng.random() < 0.4),
        head_size=float(rng.uniform(0.7, 1.0)),
        background=int(rng.integers(len(BACKGROUNDS))),
    )


def face_attributes(seed: int, index: int) -> FaceAttributes:
    """The attributes of face `index` of data set `seed`, independent of how many are made."""
    return sample_attributes(np.random.default_rng([seed, index]))


def make_faces(n: int, seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """n faces: images (n, size, size, 3) uint8 and attribute vectors (n, len(ATTRIBUTES)) float32."""
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    vectors = np.empty((n, len(ATTRIBUTES)), dtype=np.float32)
    for i in range(n):
        attrs = face_attributes(seed, i)
        images[i] = render(attrs, size)
        vectors[i] = attrs.to_vector()
    return images, vectors


def caption(attrs: FaceAttributes) -> str:
    """An English description, e.g. "a smiling face with a large head, blond hair and glasses"."""
    if attrs.smile > 0.33:
        subject = "a smiling face"
    elif attrs.smile < -0.33:
        subject = "a frowning face"
    else:
        subject = "a neutral face"
    parts = []
    if attrs.head_size > 0.9:
        parts.append("a large head")
    elif attrs.head_size < 0.8:
        parts.append("a small head")
    if attrs.eyes_open < 0.25:
        parts.append("closed eyes")
    parts.append(f"{HAIR_NAMES[attrs.hair]} hair")
    if attrs.glasses:
        parts.append("glasses")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{subject} with {listed}"
