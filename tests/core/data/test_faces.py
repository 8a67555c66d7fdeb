"""The procedural Faces data set: determinism, shapes, and labels that match the pictures.

The picture checks read rendered pixels with simple rules placed by the head's geometry, so they
would fail if a label stopped meaning what the drawing shows.
"""
import dataclasses

import numpy as np
import pytest

from studio.core.data import faces
from studio.core.data.faces import ATTRIBUTES, FaceAttributes, caption, make_faces, render

SIZE = 32


def lum(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def rows_cols(attrs: FaceAttributes, dx: tuple[float, float], dy: tuple[float, float],
              size: int = SIZE) -> tuple[slice, slice]:
    """Pixel slices covering the box cx+dx*r, cy+dy*r (in head radii), rounded outwards."""
    cx, cy, r = faces.head_geometry(attrs.head_size)
    c0, c1 = (cx + dx[0] * r) * size, (cx + dx[1] * r) * size
    r0, r1 = (cy + dy[0] * r) * size, (cy + dy[1] * r) * size
    return (slice(max(int(np.floor(r0)), 0), min(int(np.ceil(r1)), size)),
            slice(max(int(np.floor(c0)), 0), min(int(np.ceil(c1)), size)))


def ink(img: np.ndarray, attrs: FaceAttributes, box: tuple[slice, slice]) -> np.ndarray:
    """How much of each pixel in box is covered by dark ink, 0..1, judged against the skin."""
    skin = lum(img[rows_cols(attrs, (-0.05, 0.05), (0.15, 0.22))]).max()  # a bare patch below the eyes
    return np.clip((skin - lum(img[box])) / (skin - lum(np.array(faces.INK))), 0.0, 1.0)


MOUTH_BOX = ((-0.45, 0.45), (0.3, 0.8))  # (dx, dy) in head radii; the mouth lies in 0.36..0.74


def mouth_bend(img: np.ndarray, attrs: FaceAttributes) -> float:
    """Row of the ink at the mouth's middle minus at its corners, in pixels: > 0 for a smile."""
    box = rows_cols(attrs, *MOUTH_BOX)
    w = ink(img, attrs, box)
    rows = np.arange(box[0].start, box[0].stop)[:, None] + 0.5
    cols = np.arange(box[1].start, box[1].stop) + 0.5
    mass = w.sum(axis=0)
    centroid = (w * rows).sum(axis=0) / np.maximum(mass, 1e-9)
    cx, _, r = faces.head_geometry(attrs.head_size)
    off = np.abs(cols - cx * SIZE) / (r * SIZE)
    middle, corners = (off < 0.12) & (mass > 0.3), (off > 0.18) & (off < 0.3) & (mass > 0.3)
    return float(centroid[middle].mean() - centroid[corners].mean())


def has_bridge(img: np.ndarray, attrs: FaceAttributes) -> bool:
    """Glasses by a dark-pixel rule: ink between the eyes, where only the glasses' bridge lies."""
    box = rows_cols(attrs, (-0.06, 0.06), (-0.25, 0.05))
    return float(ink(img, attrs, box).sum()) > 0.5


def test_faces_are_deterministic_per_seed_and_per_index():
    images, vectors = make_faces(10, seed=5)
    few_images, few_vectors = make_faces(4, seed=5)
    assert np.array_equal(images[:4], few_images) and np.array_equal(vectors[:4], few_vectors)
    again, _ = make_faces(10, seed=5)
    assert np.array_equal(images, again)
    other, other_vectors = make_faces(10, seed=6)
    assert not np.array_equal(images, other) and not np.array_equal(vectors, other_vectors)
    assert len({img.tobytes() for img in images}) == 10, "faces within a set differ"


def test_shapes_dtypes_and_ranges():
    images, vectors = make_faces(64, seed=1, size=24)
    assert images.shape == (64, 24, 24, 3) and images.dtype == np.uint8
    assert vectors.shape == (64, len(ATTRIBUTES)) and vectors.dtype == np.float32
    assert [a.name for a in ATTRIBUTES] == [f.name for f in dataclasses.fields(FaceAttributes)]
    for j, attr in enumerate(ATTRIBUTES):
        col = vectors[:, j]
        if attr.kind == "categorical":
            assert set(col.tolist()) <= set(range(attr.classes)) and attr.classes == 4
        elif attr.kind == "binary":
            assert set(col.tolist()) == {0.0, 1.0}
    column = {a.name: vectors[:, j] for j, a in enumerate(ATTRIBUTES)}
    for name, lo, hi in (("smile", -1, 1), ("eyes_open", 0, 1), ("head_size", 0.7, 1)):
        assert lo <= column[name].min() and column[name].max() <= hi
    assert render(FaceAttributes(), 48, supersample=2).shape == (48, 48, 3)


def test_attribute_vectors_round_trip_and_invalid_values_are_refused():
    _, vectors = make_faces(20, seed=2)
    for v in vectors:
        assert np.array_equal(FaceAttributes.from_vector(v).to_vector(), v)
    a = faces.face_attributes(2, 7)
    back = FaceAttributes.from_vector(a.to_vector())
    assert (back.skin, back.hair, back.glasses, back.background) == (a.skin, a.hair, a.glasses, a.background)
    assert back.smile == pytest.approx(a.smile, abs=1e-6)
    # A classifier's noisy estimate is clipped and rounded into a valid face.
    noisy = FaceAttributes.from_vector(np.array([1.3, -0.2, 2.6, 7.0, 0.7, 0.5, -1.0]))
    assert noisy == FaceAttributes(smile=1.0, eyes_open=0.0, skin=3, hair=3, glasses=True,
                                   head_size=0.7, background=0)
    with pytest.raises(ValueError):
        FaceAttributes(smile=2.0)
    with pytest.raises(ValueError):
        FaceAttributes(hair=4)


def test_smile_bends_the_mouth_down_in_the_middle_and_frown_up():
    base = FaceAttributes(eyes_open=0.8, skin=1, hair=2)
    smile, straight, frown = (render(dataclasses.replace(base, smile=s)) for s in (1.0, 0.0, -1.0))
    assert mouth_bend(smile, base) > 1.0
    assert mouth_bend(frown, base) < -1.0
    assert abs(mouth_bend(straight, base)) < 0.3


def test_changing_only_smile_changes_only_the_mouth():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = faces.sample_attributes(rng)
        b = dataclasses.replace(a, smile=-a.smile if abs(a.smile) > 0.2 else 1.0)
        img_a, img_b = render(a), render(b)
        assert not np.array_equal(img_a, img_b)
        outside = np.ones((SIZE, SIZE), dtype=bool)
        outside[rows_cols(a, *MOUTH_BOX)] = False
        assert np.array_equal(img_a[outside], img_b[outside])


def test_glasses_add_ink_around_the_eyes_and_nowhere_else():
    for skin in range(4):
        plain = FaceAttributes(skin=skin, hair=0, eyes_open=0.6, head_size=0.75)
        with_glasses = dataclasses.replace(plain, glasses=True)
        a, b = render(plain), render(with_glasses)
        band = rows_cols(plain, (-0.8, 0.8), (-0.5, 0.3))
        assert ink(b, plain, band).sum() > ink(a, plain, band).sum() + 5
        assert has_bridge(b, plain) and not has_bridge(a, plain)
        outside = np.ones((SIZE, SIZE), dtype=bool)
        outside[band] = False
        assert np.array_equal(a[outside], b[outside])


def test_open_eyes_show_more_white_than_nearly_closed_ones():
    base = FaceAttributes(skin=0, hair=1)  # the palest skin: whites must still be told apart
    eyes = rows_cols(base, (-0.7, 0.7), (-0.4, 0.2))

    def whites(eyes_open: float) -> float:
        """Area of eye white in pixels: the skin's darkest channel is 196, white's is 255."""
        img = render(dataclasses.replace(base, eyes_open=eyes_open))[eyes]
        return float(np.clip((img.min(axis=-1) - 200.0) / 55.0, 0.0, 1.0).sum())

    counts = [whites(e) for e in (0.1, 0.4, 0.7, 1.0)]
    assert counts[0] < 0.5 and counts[-1] > 8
    assert counts == sorted(counts) and counts[-1] > 2 * counts[1]


def test_hair_colour_dominates_the_top_of_the_head():
    palette = np.array(faces.HAIR_COLOURS + faces.SKIN_TONES + faces.BACKGROUNDS, dtype=np.float64)
    for hair in range(4):
        for skin, background, size in ((0, 0, 0.7), (3, 2, 1.0), (2, 3, 0.85)):
            attrs = FaceAttributes(hair=hair, skin=skin, background=background, head_size=size)
            top = render(attrs)[rows_cols(attrs, (-0.3, 0.3), (-1.08, -0.72))].reshape(-1, 3)
            nearest = np.argmin(((top[:, None, :] - palette[None]) ** 2).sum(-1), axis=1)
            assert (nearest == hair).mean() > 0.8, (hair, skin)


def test_a_larger_head_covers_more_skin():
    def skin_pixels(head_size: float) -> int:
        img = render(FaceAttributes(skin=2, hair=0, head_size=head_size)).astype(int)
        return int((np.abs(img - faces.SKIN_TONES[2]).max(axis=-1) <= 8).sum())

    counts = [skin_pixels(s) for s in (0.7, 0.8, 0.9, 1.0)]
    assert counts == sorted(counts) and counts[-1] > 1.5 * counts[0]


def test_procedural_measures_recover_smile_and_glasses_over_a_batch():
    images, vectors = make_faces(200, seed=3)
    attrs = [FaceAttributes.from_vector(v) for v in vectors]
    bends = np.array([mouth_bend(img, a) for img, a in zip(images, attrs)])
    smiles = np.array([a.smile for a in attrs])
    assert np.corrcoef(bends, smiles)[0, 1] > 0.8
    found = np.array([has_bridge(img, a) for img, a in zip(images, attrs)])
    truth = np.array([a.glasses for a in attrs])
    assert 40 < truth.sum() < 120
    assert (found == truth).mean() > 0.95


def test_captions_name_the_attributes():
    text = caption(FaceAttributes(smile=0.8, hair=2, glasses=True, head_size=0.85))
    assert text == "a smiling face with blond hair and glasses"
    text = caption(FaceAttributes(smile=-0.7, eyes_open=0.1, hair=3, head_size=0.85))
    assert text == "a frowning face with closed eyes and red hair"
    text = caption(FaceAttributes(smile=0.1, hair=0, head_size=0.95))
    assert text.startswith("a neutral face") and "a large head" in text and "black hair" in text
    assert "a small head" in caption(FaceAttributes(head_size=0.75, hair=1))
    assert "glasses" not in caption(FaceAttributes())
    assert "closed" not in caption(FaceAttributes(eyes_open=0.3))
    for i in range(30):
        a = faces.face_attributes(9, i)
        words = caption(a)
        assert faces.HAIR_NAMES[a.hair] + " hair" in words
        assert ("glasses" in words) == a.glasses and ("closed eyes" in words) == (a.eyes_open < 0.25)
