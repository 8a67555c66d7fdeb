"""The Shapes data set, its procedural detector and the GenEval-style adherence judge.

The detector is checked against the drawing parameters of rendered scenes (also perturbed the way
a generator's output is: noise, blur, off colours); the judge is checked with a perfect generator
(drawings of each prompt's expectation) and with generators that are wrong in known ways.
"""
import collections
import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from studio.core.data import shapes
from studio.core.data.shapes import COLOURS, SIZE, SIZES, ShapeObject, make_shapes, render
from studio.core.errors import StudioError
from studio.core.evaluation import adherence
from studio.core.evaluation.adherence import Expectation, Want, evaluate_adherence, judge, render_expectation
from studio.core.evaluation.shapes_detect import detect


@pytest.fixture(scope="module")
def sample():
    return make_shapes(500, seed=3)


def found(image: np.ndarray) -> list[tuple[str, str]]:
    return sorted((d.colour, d.shape) for d in detect(image))


def wanted(scene: shapes.Scene) -> list[tuple[str, str]]:
    return sorted((o.colour, o.shape) for o in scene.objects)


def perturb(image: np.ndarray, rng: np.random.Generator, noise: float = 25, sigma: float = 0.6) -> np.ndarray:
    x = ndimage.gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0))
    x += rng.uniform(-noise, noise, x.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def render_in(scene: shapes.Scene, colours: list[np.ndarray]) -> np.ndarray:
    """The scene with each object painted in its own (off-palette) colour."""
    canvas = np.ones((SIZE, SIZE, 3)) * np.array(shapes.BACKGROUND, float)
    for obj, colour in zip(scene.objects, colours):
        cov = shapes.coverage(obj.shape, SIZES[obj.size], obj.x, obj.y, 0, 0, SIZE, SIZE)
        canvas += cov[..., None] * (colour - np.array(shapes.BACKGROUND, float))
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


# --- The data set ---------------------------------------------------------------------------------

def test_scenes_are_deterministic_per_seed_and_index():
    images, scenes, captions = make_shapes(12, seed=5)
    few_images, few_scenes, _ = make_shapes(5, seed=5)
    assert np.array_equal(images[:5], few_images) and scenes[:5] == few_scenes
    assert shapes.scene(5, 7) == scenes[7]
    again, _, again_captions = make_shapes(12, seed=5)
    assert np.array_equal(images, again) and captions == again_captions
    other, _, _ = make_shapes(12, seed=6)
    assert not np.array_equal(images, other)
    assert images.shape == (12, SIZE, SIZE, 3) and images.dtype == np.uint8


def test_batches_are_fresh_and_replay_the_data_set():
    batches = shapes.shapes_batches(6, seed=2)
    (a, ca), (b, cb) = next(batches), next(batches)
    assert a.shape == (6, SIZE, SIZE, 3) and a.dtype == np.uint8 and len(ca) == 6
    assert not np.array_equal(a, b)
    images, _, captions = make_shapes(12, seed=2)
    assert np.array_equal(np.concatenate([a, b]), images) and ca + cb == captions


def test_objects_stay_inside_and_apart_and_render_antialiased(sample):
    images, scenes, _ = sample
    kinds = collections.Counter(s.kind for s in scenes)
    assert set(kinds) == set(shapes.KINDS) and min(kinds.values()) > 40
    for s in scenes:
        boxes = [o.box() for o in s.objects]
        for left, top, right, bottom in boxes:
            assert left >= shapes.EDGE and top >= shapes.EDGE
            assert right <= SIZE - shapes.EDGE and bottom <= SIZE - shapes.EDGE
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                gap_x, gap_y = max(b[0] - a[2], a[0] - b[2]), max(b[1] - a[3], a[1] - b[3])
                assert max(gap_x, gap_y) >= shapes.GAP
    # The background is one plain colour; edges hold mixtures, not just palette colours.
    bg = np.all(images == shapes.BACKGROUND, axis=-1)
    assert 0.5 < bg.mean() < 0.97
    palette = np.array([shapes.BACKGROUND, *COLOURS.values()])
    pure = np.any(np.all(images[..., None, :] == palette, axis=-1), axis=-1)
    assert 0.01 < (~pure).mean() < 0.2


def test_a_shape_covers_the_area_its_geometry_says():
    for shape, factor in shapes.AREA_FACTORS.items():
        for size, across in SIZES.items():
            img = render([ShapeObject(shape, "white", size, 16.25, 16.5)]).astype(float)
            ink = (img - shapes.BACKGROUND) / (np.array(COLOURS["white"]) - shapes.BACKGROUND)
            assert ink.mean(axis=-1).sum() == pytest.approx(factor * across ** 2, rel=0.01), (shape, size)


def test_captions_say_what_is_drawn(sample):
    _, scenes, captions = sample
    for s, caption in zip(scenes, captions):
        assert caption == s.caption and caption == caption.lower() and not caption.endswith(".")
        objs = s.objects
        if s.kind == "single":
            assert len(objs) == 1 and caption.endswith(objs[0].shape)
            words = caption.split()
            assert all(w in (objs[0].colour, objs[0].size, objs[0].shape, "a") for w in words)
        elif s.kind == "counting":
            n = len(objs)
            assert n in (2, 3) and caption.startswith(shapes.COUNT_WORDS[n] + " ")
            assert len({o.shape for o in objs}) == 1 and caption.endswith(shapes.PLURALS[objs[0].shape])
            if len(caption.split()) == 3:  # a colour is named: all objects have it
                assert {o.colour for o in objs} == {caption.split()[1]}
        else:
            a, b = objs
            assert a.shape != b.shape
            if s.kind == "position":
                assert shapes.RELATIONS[s.relation] in caption
                assert shapes.relation_holds(s.relation, (a.x, a.y), (b.x, b.y))
                names = caption.split(shapes.RELATIONS[s.relation])
            else:
                names = caption.split(" and ")
            first, second = (n.strip().split()[1:] for n in names)
            assert first[-1] == a.shape and second[-1] == b.shape
            if len(first) == 2:  # colours are named for both objects or for neither
                assert (first[0], second[0]) == (a.colour, b.colour)
            else:
                assert len(second) == 1 and s.kind != "color_attr"
            if s.kind == "color_attr":
                assert a.colour != b.colour


def test_all_captions_enumerates_everything_the_generator_writes():
    vocabulary = shapes.all_captions()
    assert len(vocabulary) == len(set(vocabulary)) < 5000
    _, _, captions = make_shapes(2000, seed=9)
    assert set(captions) <= set(vocabulary)
    assert {"a red circle", "a large blue square", "two green triangles",
            "a red circle to the left of a blue square", "a purple triangle and a green circle"} <= set(vocabulary)
    for task, exps in adherence.task_prompts().items():
        assert 8 <= len(exps) <= 24, task
        assert {e.prompt for e in exps} <= set(vocabulary), task


def test_position_relations_are_clear_in_the_picture():
    rng = np.random.default_rng(4)
    for relation in shapes.RELATIONS:
        for _ in range(25):
            s = shapes.make_scene(rng, "position")
            subject, reference = s.objects
            dx, dy = subject.x - reference.x, subject.y - reference.y
            main, other = (dx, dy) if s.relation in ("left of", "right of") else (dy, dx)
            assert abs(main) >= shapes.MIN_SHIFT and abs(other) < abs(main)
            assert (main < 0) == (s.relation in ("left of", "above"))


# --- The detector ---------------------------------------------------------------------------------

def test_detector_recovers_colours_shapes_counts_positions_and_sizes(sample):
    images, scenes, _ = sample
    exact, positions, sizes = 0, [], []
    for img, s in zip(images, scenes):
        dets = detect(img)
        if found(img) != wanted(s):
            continue
        exact += 1
        for o in s.objects:
            d = min(dets, key=lambda d: (d.x - o.x) ** 2 + (d.y - o.y) ** 2)
            positions.append(np.hypot(d.x - o.x, d.y - o.y))
            sizes.append(d.size == o.size)
    assert exact / len(scenes) >= 0.99
    assert max(positions) < 0.5 and np.mean(sizes) >= 0.99


def test_detector_tolerates_noise_blur_and_off_colours(sample):
    images, scenes, _ = sample
    rng = np.random.default_rng(0)
    noisy = np.mean([found(perturb(img, rng)) == wanted(s) for img, s in zip(images[:200], scenes)])
    assert noisy >= 0.98
    blurred = np.mean([found(perturb(img, rng, noise=0, sigma=1.0)) == wanted(s)
                       for img, s in zip(images[:200], scenes)])
    assert blurred >= 0.97
    off = []
    for s in scenes[:200]:
        colours = [np.array(COLOURS[o.colour], float) + rng.uniform(-35, 35, 3) for o in s.objects]
        off.append(found(render_in(s, colours)) == wanted(s))
    assert np.mean(off) >= 0.98
    # A generated red such as (200, 40, 50) is red.
    reddish = render_in(shapes.Scene((ShapeObject("square", "red", "large", 16, 16),), "", "single"),
                        [np.array([200.0, 40.0, 50.0])])
    assert found(reddish) == [("red", "square")]


def test_detector_ignores_specks_and_plain_backgrounds():
    rng = np.random.default_rng(1)
    assert detect(np.zeros((SIZE, SIZE, 3), np.uint8)) == []
    assert detect(np.full((SIZE, SIZE, 3), shapes.BACKGROUND, np.uint8)) == []
    noisy_bg = np.clip(np.array(shapes.BACKGROUND) + rng.uniform(-25, 25, (SIZE, SIZE, 3)), 0, 255)
    assert detect(noisy_bg.astype(np.uint8)) == []
    img = np.full((SIZE, SIZE, 3), shapes.BACKGROUND, np.uint8)
    img[3:5, 3:6] = COLOURS["red"]  # a 6-pixel speck
    img[20, 20] = COLOURS["white"]
    assert detect(img) == []


# --- The adherence judge --------------------------------------------------------------------------

def perfect(prompt: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([render_expectation(adherence.expectation_for(prompt), rng) for _ in range(n)])


def test_the_judge_passes_perfect_drawings_of_every_prompt():
    result = evaluate_adherence(perfect, per_prompt=3, seed=1)
    assert set(result["tasks"]) == set(adherence.TASKS)
    for task, acc in result["tasks"].items():
        assert acc >= 0.98, task
    assert result["overall"] == pytest.approx(np.mean(list(result["tasks"].values())))
    n_prompts = sum(result["settings"]["prompts_per_task"].values())
    assert result["images"] == 3 * n_prompts
    assert all(len(result["prompts"][t]) == result["settings"]["prompts_per_task"][t] for t in adherence.TASKS)


def test_blank_and_wrong_colour_generators_fail_what_they_should():
    blank = evaluate_adherence(lambda p, n, s: np.zeros((n, SIZE, SIZE, 3), np.uint8), per_prompt=2)
    assert blank["overall"] == 0.0 and all(a == 0.0 for a in blank["tasks"].values())

    names = shapes.COLOUR_NAMES

    def wrong_colours(prompt: str, n: int, seed: int) -> np.ndarray:
        exp = adherence.expectation_for(prompt)
        shifted = tuple(dataclasses.replace(w, colour=names[(names.index(w.colour) + 1) % len(names)])
                        if w.colour else w for w in exp.objects)
        rng = np.random.default_rng(seed)
        return np.stack([render_expectation(dataclasses.replace(exp, objects=shifted), rng) for _ in range(n)])

    result = evaluate_adherence(wrong_colours, per_prompt=2)["tasks"]
    assert result["colors"] == 0.0 and result["color_attr"] == 0.0
    assert result["single_object"] >= 0.98 and result["two_object"] >= 0.98 and result["counting"] >= 0.98


def test_judge_rules_on_hand_made_scenes():
    def scene(*objs: tuple[str, str, str, float, float]) -> list:
        return detect(render([ShapeObject(*o) for o in objs]))

    left = scene(("circle", "red", "small", 8, 16), ("square", "blue", "small", 24, 17))
    assert judge(adherence.expectation_for("a circle to the left of a square"), left)
    assert not judge(adherence.expectation_for("a circle to the right of a square"), left)
    assert not judge(Expectation("position", "", (Want("circle"), Want("square")), "above"), left)
    assert judge(adherence.expectation_for("a red circle and a blue square"), left)
    assert not judge(Expectation("color_attr", "", (Want("circle", "blue"), Want("square", "red"))), left)
    three = scene(("triangle", "green", "small", 6, 6), ("triangle", "green", "small", 24, 8),
                  ("triangle", "yellow", "large", 16, 22))
    assert judge(adherence.expectation_for("three triangles"), three)
    assert not judge(adherence.expectation_for("two triangles"), three)
    assert not judge(Expectation("counting", "", (Want("triangle", "green", 3, exact=True),)), three)
    assert judge(adherence.expectation_for("a triangle"), three)
    assert not judge(adherence.expectation_for("a diamond"), three)


def test_bad_generator_output_is_refused_with_a_clear_message():
    with pytest.raises(StudioError, match=r"float64 images of shape \(2, 32, 32, 3\).*expected 2 uint8"):
        evaluate_adherence(lambda p, n, s: np.zeros((n, SIZE, SIZE, 3)), per_prompt=2)
    with pytest.raises(StudioError, match=r"shape \(2, 28, 28, 1\)"):
        evaluate_adherence(lambda p, n, s: np.zeros((n, 28, 28, 1), np.uint8), per_prompt=2)
    with pytest.raises(StudioError, match="at least 1"):
        evaluate_adherence(perfect, per_prompt=0)
    with pytest.raises(StudioError, match="not one of the adherence prompts"):
        adherence.expectation_for("a dog")


def test_progress_is_reported_up_to_the_total():
    seen = []
    evaluate_adherence(perfect, per_prompt=1, progress=lambda stage, done, total: seen.append((done, total)))
    total = seen[-1][1]
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
