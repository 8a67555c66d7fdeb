"""The video evaluation's yardstick: real moving-Shapes clips score the ceiling, clips whose frames are
reversed, shuffled, frozen or blank score low where they should, and the whole evaluation runs on a
tiny untrained video checkpoint with well-formed figures."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from studio.core.data.moving_shapes import BOUNCES, TRANSLATIONS, all_motion_captions
from studio.core.data.shapes import BACKGROUND
from studio.core.errors import StudioError
from studio.core.evaluation import video
from studio.core.families import load_family

PROMPTS = video.video_prompts()
PER_CLIP = PROMPTS  # one clip per prompt below


@pytest.fixture(scope="module")
def real():
    return video.real_clips(PROMPTS, 1, seed=5)


def headline(m: dict) -> tuple:
    return (m["motion_adherence"], m["object_adherence"], m["colour_adherence"], m["temporal_consistency"],
            m["consistent_clips"])


def test_the_prompts_are_fixed_single_objects_from_the_training_captions():
    assert video.video_prompts() == PROMPTS and len(PROMPTS) == 36
    assert len({p.prompt for p in PROMPTS}) == len(PROMPTS)
    assert set(p.prompt for p in PROMPTS) <= set(all_motion_captions())
    motions = Counter(p.motion for p in PROMPTS)
    assert set(motions) == {*TRANSLATIONS, *BOUNCES, "grow", "shrink"} and set(motions.values()) == {3}
    assert 0 < sum(p.colour is None for p in PROMPTS) < len(PROMPTS)
    assert {p.shape for p in PROMPTS} == {"circle", "square", "triangle", "diamond"}


def test_real_clips_score_the_ceiling(real):
    assert real.shape == (36, 16, 32, 32, 3) and real.dtype == np.uint8
    m = video.judge_clips(real, PER_CLIP)
    assert headline(m) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert set(m["motion_adherence_per_motion"].values()) == {1.0} and m["clips"] == 36
    p = m["prompts"]["a red circle moves right"]
    assert p["motions_read"] == {"right": 1} and p["colour_adherence"] == 1.0
    assert m["prompts"]["a triangle moves right"]["colour_adherence"] is None  # no colour asked for
    assert np.array_equal(real, video.real_clips(PROMPTS, 1, seed=5))  # the same clips again


def test_reversed_clips_fail_every_motion_but_the_bounces(real):
    m = video.judge_clips(real[:, ::-1], PER_CLIP)
    per = m["motion_adherence_per_motion"]
    assert all(per[b] == 1.0 for b in BOUNCES)  # a bounce played backwards is still a bounce
    assert all(v == 0.0 for k, v in per.items() if k not in BOUNCES)
    assert m["motion_adherence"] == pytest.approx(6 / 36)
    assert m["prompts"]["a red circle moves right"]["motions_read"] == {"left": 1}
    # The same objects in every frame: only the motion is wrong.
    assert (m["object_adherence"], m["colour_adherence"], m["temporal_consistency"]) == (1.0, 1.0, 1.0)


def test_shuffled_frozen_and_blank_clips_score_low(real):
    shuffled = real[:, np.random.default_rng(0).permutation(16)]
    assert video.judge_clips(shuffled, PER_CLIP)["motion_adherence"] < 0.5
    frozen = video.judge_clips(np.repeat(real[:, :1], 16, axis=1), PER_CLIP)
    assert frozen["motion_adherence"] == 0.0 and frozen["object_adherence"] == 1.0
    blank = np.broadcast_to(np.array(BACKGROUND, np.uint8), real.shape)
    assert headline(video.judge_clips(blank, PER_CLIP)) == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_a_growing_prompt_needs_the_area_to_change(real):
    j = next(i for i, p in enumerate(PROMPTS) if p.motion == "grow")
    grows = video.read_clip(real[j], PROMPTS[j])
    assert grows.motion == "grow" and grows.motion_ok
    frozen = video.read_clip(np.repeat(real[j, -1:], 16, axis=0), PROMPTS[j])
    assert frozen.motion == "static" and not frozen.motion_ok
    assert video.read_clip(real[j, ::-1], PROMPTS[j]).motion == "shrink"


def test_the_object_changing_colour_mid_clip_breaks_consistency(real):
    j = next(i for i, p in enumerate(PROMPTS) if p.prompt == "a red circle moves right")
    clip = real[j].copy()
    clip[8:] = clip[8:, :, :, ::-1]  # red becomes blue: the same circle in another colour
    r = video.read_clip(clip, PROMPTS[j])
    assert r.consistency == pytest.approx(0.5) and r.colour_share == pytest.approx(0.5)


def test_frame_fd_is_near_zero_for_real_frames_and_large_for_blank_or_noise(real):
    other = video.real_clips(PROMPTS, 1, seed=6)
    floor = video.frame_fd(other, real)
    blank = np.broadcast_to(np.array(BACKGROUND, np.uint8), real.shape)
    noise = np.random.default_rng(0).integers(0, 256, real.shape, dtype=np.uint8)
    assert 0.0 <= floor < 1.0 and video.frame_fd(blank, real) > 3 * floor and video.frame_fd(noise, real) > 10
    assert video.frame_fd(real[:, ::-1], real) == pytest.approx(0.0, abs=1e-6)  # per frame: order is not seen
    # Frames of any size land in one feature space.
    for size in (32, 8, 12):
        f = video.frame_features(np.zeros((2, 3, size, size, 3), np.uint8))
        assert f.shape == (6, video.FEATURE_SIZE ** 2 * 3)


def test_a_perfect_generator_scores_like_the_real_reference():
    prompts = PROMPTS[::3]
    seeds = []

    def generate(prompt: str, n: int, seed: int) -> np.ndarray:
        seeds.append(seed)
        p = next(q for q in prompts if q.prompt == prompt)
        return np.stack([video.real_clip(p, np.random.default_rng([99, seed, i])) for i in range(n)])

    m = video.evaluate_clip_generator(generate, n_per_prompt=2, seed=10, prompts=prompts)
    assert seeds == [10 + 2 * j for j in range(len(prompts))]
    assert headline(m) == (1.0, 1.0, 1.0, 1.0, 1.0) and headline(m["real"]) == headline(m)
    assert m["fd_frames"] < 3 * m["real"]["fd_frames"] + 0.5
    assert m["settings"]["prompts"] == 12 and m["settings"]["frames"] == 16 and m["clips"] == 24
    with pytest.raises(StudioError, match="expected 2 uint8 RGB clips"):
        video.evaluate_clip_generator(lambda p, n, s: np.zeros((n, 4, 8, 8), np.uint8), n_per_prompt=2,
                                      prompts=prompts)


def _figures(m: dict, path: str = "") -> list[tuple[str, float]]:
    """Every number in a nested dict, with where it is."""
    out = []
    for k, v in m.items():
        where = f"{path}.{k}"
        if isinstance(v, dict):
            out += _figures(v, where)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((where, v))
    return out


def test_evaluate_video_on_a_tiny_checkpoint_gives_well_formed_figures(tiny_video, one_thread):
    family = load_family(tiny_video)
    stages = set()
    m = video.evaluate_video(family, n_per_prompt=1, steps=1, prompts=PROMPTS[::3],
                             progress=lambda stage, done, total: stages.add(stage))
    assert stages == {"generate", "judge"}
    json.dumps(m, allow_nan=False)  # a card must hold it
    s = m["settings"]
    assert (s["frames"], s["frame_size"], s["checkpoint"]) == (4, [8, 8], "tiny-video")
    assert (s["sampler"], s["steps"], s["guidance"], s["n_per_prompt"]) == ("ddim", 1, 3.0, 1)
    assert m["clips"] == 12 and len(m["prompts"]) == 12
    shares = [(w, v) for w, v in _figures(m) if "adherence" in w or "consisten" in w]
    assert shares and all(0.0 <= v <= 1.0 for _, v in shares)
    assert all(math.isfinite(v) and v >= 0 for _, v in _figures(m))
    assert m["fd_frames"] > 0 and headline(m["real"]) == (1.0, 1.0, 1.0, 1.0, 1.0)


def test_evaluate_video_refuses_a_model_of_still_images(tiny_ckpt, one_thread):
    with pytest.raises(StudioError, match="still images, not clips"):
        video.evaluate_video(load_family(tiny_ckpt), n_per_prompt=1, steps=1)
