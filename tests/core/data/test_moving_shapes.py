"""Moving Shapes clips: the truth they carry, how they are drawn, and reading their motion back.

Read-back runs the real Shapes detector on every rendered frame, tracks the object and asks
motion_of_track for the motion: the path a motion-adherence metric will take with generated clips.
"""
import collections

import numpy as np
import pytest

from studio.core.data import moving_shapes as ms
from studio.core.data.moving_shapes import FRAMES, MOTIONS, clip_batches, make_clip, make_clips, render_clip
from studio.core.data.shapes import COLOUR_NAMES, EDGE, GAP, SHAPES, SIZE, SIZES, ShapeObject, render


@pytest.fixture(scope="module")
def sample():
    return make_clips(300, seed=3)


def single(motion: str, n: int, seed: int) -> list[ms.Clip]:
    rng = np.random.default_rng(seed)
    return [make_clip(rng, motion, objects=1) for _ in range(n)]


# --- The data set ---------------------------------------------------------------------------------

def test_videos_are_uint8_clips_with_one_caption_each(sample):
    videos, clips, captions = sample
    assert videos.shape == (300, FRAMES, SIZE, SIZE, 3) and videos.dtype == np.uint8
    assert len(clips) == len(captions) == 300 and captions == [c.caption for c in clips]
    for c in clips:
        for o in c.objects:
            assert len(o.x) == len(o.y) == len(o.size) == len(o.colour) == FRAMES
    counts = collections.Counter(len(c.objects) for c in clips)
    assert set(counts) == {1, 2} and counts[1] > counts[2]
    assert set(c.motion for c in clips) == set(MOTIONS)   # every motion occurs


def test_clips_are_deterministic_per_seed_and_index():
    videos, clips, captions = make_clips(12, seed=5)
    few, few_clips, _ = make_clips(5, seed=5)
    assert np.array_equal(videos[:5], few) and clips[:5] == few_clips
    assert ms.clip(5, 7) == clips[7]
    again, _, again_captions = make_clips(12, seed=5)
    assert np.array_equal(videos, again) and captions == again_captions
    assert not np.array_equal(videos, make_clips(12, seed=6)[0])


def test_objects_stay_inside_the_canvas_and_apart_in_every_frame(sample):
    _, clips, _ = sample
    for c in clips:
        boxes = [o.boxes() for o in c.objects]
        for b in boxes:
            assert (b[:, :2] >= EDGE - 1e-9).all() and (b[:, 2:] <= SIZE - EDGE + 1e-9).all(), c
        if len(boxes) == 2:
            a, b = boxes
            gap_x = np.maximum(b[:, 0] - a[:, 2], a[:, 0] - b[:, 2])
            gap_y = np.maximum(b[:, 1] - a[:, 3], a[:, 1] - b[:, 3])
            assert ((gap_x >= GAP) | (gap_y >= GAP)).all(), c


@pytest.mark.parametrize("motion", list(ms.BOUNCES))
def test_bounces_reflect_off_the_walls(motion):
    axis = ms.BOUNCES[motion]
    for c in single(motion, 40, seed=1):
        o = c.objects[0]
        p = np.array((o.x, o.y)[axis])
        assert np.ptp((o.y, o.x)[axis]) == 0           # no drift across the bounce
        box = o.boxes()
        lo, hi = box[:, axis], box[:, axis + 2]
        step = np.diff(p)
        assert {-1.0, 1.0} <= set(np.sign(step)), c   # it moves both ways
        # Frames where it turns back: local extremes (a step may round to zero at the wall).
        before, after = p[1:-1] - p[:-2], p[2:] - p[1:-1]
        turns = np.flatnonzero((before * after <= 0) & ((before != 0) | (after != 0))) + 1
        speed = np.abs(step).max()
        for t in turns:  # it turns back only where it met a wall
            assert lo[t] - EDGE <= speed or SIZE - EDGE - hi[t] <= speed, (c, t)


def test_translations_move_straight_and_far_enough():
    for motion, (dx, dy) in ms.TRANSLATIONS.items():
        for c in single(motion, 10, seed=2):
            o = c.objects[0]
            step = np.diff(o.centres(), axis=0)
            assert (np.sign(step[:, 0]) * dx >= 0).all() and (np.sign(step[:, 1]) * dy >= 0).all()
            travel = o.centres()[-1] - o.centres()[0]
            assert np.abs(travel).max() >= ms.MIN_TRAVEL - 0.5
            if dx and dy:
                assert abs(abs(travel[0]) - abs(travel[1])) <= 0.5   # diagonals at 45 degrees


def test_frames_are_drawn_exactly_as_shapes_draws_a_scene(sample):
    videos, clips, _ = sample
    by_size = {v: k for k, v in SIZES.items()}
    checked = 0
    for video, c in zip(videos[:60], clips[:60]):
        if any(o.motion in ("grow", "shrink") for o in c.objects):
            continue
        for t in (0, FRAMES // 2, FRAMES - 1):
            objs = [ShapeObject(o.shape, o.colour[t], by_size[o.size[t]], o.x[t], o.y[t]) for o in c.objects]
            assert np.array_equal(video[t], render(objs))
            checked += 1
    assert checked > 60


# --- Captions -------------------------------------------------------------------------------------

def test_captions_name_each_object_and_its_motion(sample):
    _, clips, captions = sample
    known = set(ms.all_motion_captions())
    for c, caption in zip(clips, captions):
        parts = caption.split(" and a") if len(c.objects) == 2 else [caption]
        assert len(parts) == len(c.objects), caption
        for o, part in zip(c.objects, parts):
            verb = ms.verb_phrase(o.motion, o.colour[-1])
            assert part.endswith(" " + verb) and o.shape in part.split(), caption
            named = [w for w in part.removesuffix(verb).split() if w in COLOUR_NAMES]
            assert named in ([], [o.colour[0]]), caption
            if o.motion in ("grow", "shrink"):
                assert "small" not in part.split() and "large" not in part.split()
        if len(c.objects) == 1:
            assert caption in known
    assert "a small blue square moves up" in known and "a red circle bounces left and right" in known
    assert "a green triangle grows" in known and "a circle turns red" in known
    assert "a red circle turns red" not in known and "a large triangle shrinks" not in known


def test_two_object_captions_join_two_motions():
    rng = np.random.default_rng(4)
    c = make_clip(rng, "right", objects=2)
    first, second = c.objects
    assert first.motion == "right" and first.shape != second.shape
    assert c.caption.startswith("a ") and " moves right and a" in c.caption
    assert c.caption.endswith(ms.verb_phrase(second.motion, second.colour[-1]))


def test_bad_arguments_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        make_clip(rng, "spins")
    with pytest.raises(ValueError):
        make_clip(rng, "left", objects=3)
    with pytest.raises(ValueError):
        next(clip_batches(0))


def test_clip_batches_replay_the_data_set_and_resume():
    videos, clips, captions = make_clips(6, seed=2)
    batches = clip_batches(3, seed=2)
    v0, c0 = next(batches)
    v1, c1 = next(batches)
    assert v0.shape == (3, FRAMES, SIZE, SIZE, 3) and v0.dtype == np.uint8
    assert np.array_equal(np.concatenate([v0, v1]), videos) and c0 + c1 == captions
    v_resumed, c_resumed = next(clip_batches(3, seed=2, first=1))
    assert np.array_equal(v_resumed, v1) and c_resumed == c1


# --- Reading motion back --------------------------------------------------------------------------

def test_true_tracks_read_back_as_their_own_motion(sample):
    _, clips, _ = sample
    for c in clips:
        for o in c.objects:
            want = o.motion if o.motion in ms.TRACK_MOTIONS else "static"
            assert ms.motion_of_track(o.centres()) == want, c


def test_rendered_single_object_clips_read_back_as_their_motion():
    """Detector + tracker + motion_of_track on rendered clips, every readable motion."""
    hits: dict[str, list[bool]] = {}
    for k, motion in enumerate(MOTIONS):
        want = motion if motion in ms.TRACK_MOTIONS else "static"
        for c in single(motion, 8, seed=10 + k):
            centres = ms.track(ms.detect_clip(render_clip(c)))
            assert not np.isnan(centres).any(), c
            hits.setdefault(motion, []).append(ms.motion_of_track(centres) == want)
    moving = [h for m, hs in hits.items() if m in ms.TRACK_MOTIONS for h in hs]
    rate = float(np.mean(moving))
    rates = {m: float(np.mean(h)) for m, h in hits.items()}
    assert rate >= 0.9, f"translation/bounce read-back rate {rate:.2f}; per motion {rates}"
    assert min(rates.values()) >= 0.75, rates


def test_the_first_of_two_objects_is_followed_by_its_shape():
    rng = np.random.default_rng(7)
    hits = []
    for motion in (*ms.TRANSLATIONS, *ms.BOUNCES):
        for _ in range(3):
            c = make_clip(rng, motion, objects=2)
            first = c.objects[0]
            centres = ms.track(ms.detect_clip(render_clip(c)), shape=first.shape, colour=first.colour[0])
            hits.append(ms.motion_of_track(centres) == motion)
    assert np.mean(hits) >= 0.85, f"two-object read-back rate {np.mean(hits):.2f}"


def test_a_turning_object_is_detected_in_its_new_colour_at_the_end():
    for c in single("turn", 12, seed=5):
        o = c.objects[0]
        assert o.colour[0] != o.colour[-1] and o.colour[FRAMES // 2] == o.colour[-1]
        found = ms.detect_clip(render_clip(c))
        assert [d.colour for d in found[0]] == [o.colour[0]], c
        assert [d.colour for d in found[-1]] == [o.colour[-1]], c
        centres = ms.track(found)
        assert not np.isnan(centres).any() and ms.motion_of_track(centres) == "static"


@pytest.mark.parametrize("motion", ["grow", "shrink"])
def test_growing_and_shrinking_objects_change_their_detected_area(motion):
    for c in single(motion, 6, seed=6):
        areas = [f[0].area for f in ms.detect_clip(render_clip(c))]
        small, large = (SIZES["small"] / SIZES["large"]) ** 2, 1.0
        ratio = areas[-1] / areas[0]
        assert (ratio > 0.8 * large / small) if motion == "grow" else (ratio < 1.25 * small / large), (c, areas)
        assert np.all(np.diff(areas) > 0) if motion == "grow" else np.all(np.diff(areas) < 0)


def test_motion_of_track_tolerates_noise_and_missing_frames():
    rng = np.random.default_rng(8)
    t = np.linspace(0, 1, FRAMES)
    for motion, (dx, dy) in ms.TRANSLATIONS.items():
        centres = np.stack([16 + 6 * dx * t, 16 + 6 * dy * t], axis=1) + rng.uniform(-0.7, 0.7, (FRAMES, 2))
        centres[[3, 9]] = np.nan
        assert ms.motion_of_track(centres) == motion
    bounce = np.stack([np.full(FRAMES, 10.0), 10 + 12 * np.abs(np.sin(np.pi * t))], axis=1)
    assert ms.motion_of_track(bounce) == "bounce_vertical"
    assert ms.motion_of_track(np.full((FRAMES, 2), 12.0) + rng.uniform(-0.7, 0.7, (FRAMES, 2))) == "static"
    assert ms.motion_of_track(np.full((FRAMES, 2), np.nan)) == "static"
    assert set(ms.TRACK_MOTIONS) == {*ms.TRANSLATIONS, *ms.BOUNCES, "static"}


def test_track_follows_the_object_asked_for():
    rng = np.random.default_rng(9)
    c = make_clip(rng, "left", objects=2)
    found = ms.detect_clip(render_clip(c))
    for o in c.objects:
        centres = ms.track(found, shape=o.shape, colour=o.colour[0])
        assert np.abs(centres - o.centres()).max() < 0.5
    assert np.isnan(ms.track(found, shape=next(s for s in SHAPES if s not in {o.shape for o in c.objects}))).all()
