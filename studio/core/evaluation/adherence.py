"""GenEval-style prompt adherence for models trained on Shapes.

GenEval (Ghosh et al., 2023, "GenEval: An Object-Focused Framework for Evaluating Text-to-Image
Alignment") asks a generator for fixed prompts in six tasks, reads each image with an object
detector and checks the prompt's structure: which objects, how many, which colour, where. Here the
detector is the procedural one in ``shapes_detect`` and the prompts use the Shapes captions'
vocabulary, so a perfect drawing is always judged correct (the tests check that).

Rules, after GenEval:
* single_object: at least one object of the shape (any colour, any size);
* two_object: both shapes present;
* counting: exactly N objects of the shape;
* colors: an object of the shape in the colour;
* position: both shapes present, and the largest of each (GenEval: the most confident) lies in the
  direction asked, by GenEval's rule on their centres and box sizes;
* color_attr: each shape present in its own colour.
The overall score is the mean of the six task accuracies, as in GenEval.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..data import shapes
from ..data.shapes import COLOUR_NAMES, RELATIONS, SHAPES, SIZES
from ..errors import StudioError
from ..events import Progress
from .shapes_detect import DetectedObject, detect

GenerateFn = Callable[[str, int, int], np.ndarray]  # (prompt, n, seed) -> uint8 (n, 32, 32, 3)

TASKS: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
POSITION_THRESHOLD = 0.1  # GenEval: centre offsets shrink by this fraction of both boxes' sizes


@dataclass(frozen=True)
class Want:
    """One kind of object a prompt asks for."""

    shape: str
    colour: str | None = None  # None: any colour
    count: int = 1
    exact: bool = False        # counting: exactly `count` objects of the shape
    size: str | None = None    # only drawn by render_expectation; GenEval does not judge size


@dataclass(frozen=True)
class Expectation:
    task: str
    prompt: str
    objects: tuple[Want, ...]
    relation: str | None = None  # position: objects[0] <relation> objects[1]


def _task_prompts() -> dict[str, list[Expectation]]:
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    out: dict[str, list[Expectation]] = {t: [] for t in TASKS}
    for shape in SHAPES:
        for size in (None, *SIZES):
            out["single_object"].append(Expectation(
                "single_object", shapes.noun_phrase(shape, None, size), (Want(shape, size=size),)))
    for a, b in pairs:
        out["two_object"].append(Expectation("two_object", shapes.pair_phrase(a, b), (Want(a), Want(b))))
    for n in shapes.COUNT_WORDS:
        for shape in SHAPES:
            out["counting"].append(Expectation(
                "counting", shapes.count_phrase(n, shape), (Want(shape, count=n, exact=True),)))
    for colour in COLOUR_NAMES:
        for shape in SHAPES:
            out["colors"].append(Expectation(
                "colors", shapes.noun_phrase(shape, colour), (Want(shape, colour),)))
    # Every ordered pair in two opposite directions, so a model that always draws one layout fails half.
    relations = list(RELATIONS)  # left of, right of, above, below
    for p, (a, b) in enumerate(pairs):
        for rel in (relations[p % 4], relations[p % 4 ^ 1]):
            out["position"].append(Expectation(
                "position", shapes.position_phrase(a, rel, b), (Want(a), Want(b)), rel))
    # Each unordered pair of shapes with a pair of colours, and the same colours swapped: binding
    # colours to the wrong shapes fails both.
    unordered = [(a, b) for i, a in enumerate(SHAPES) for b in SHAPES[i + 1:]]
    for q, (a, b) in enumerate(unordered):
        c, d = COLOUR_NAMES[q % len(COLOUR_NAMES)], COLOUR_NAMES[(q + 2) % len(COLOUR_NAMES)]
        for ca, cb in ((c, d), (d, c)):
            out["color_attr"].append(Expectation(
                "color_attr", shapes.pair_phrase(a, b, (ca, cb)), (Want(a, ca), Want(b, cb))))
    return out


@lru_cache(maxsize=1)
def _prompts() -> tuple[tuple[str, tuple[Expectation, ...]], ...]:
    return tuple((t, tuple(e)) for t, e in _task_prompts().items())


def task_prompts() -> dict[str, list[Expectation]]:
    """The fixed prompts of every task, in a fixed order."""
    return {t: list(e) for t, e in _prompts()}


def expectation_for(prompt: str) -> Expectation:
    """The expectation of one of the fixed prompts (tests use it to build scripted generators)."""
    for _, exps in _prompts():
        for e in exps:
            if e.prompt == prompt:
                return e
    raise StudioError(f"{prompt!r} is not one of the adherence prompts.")


def relative_position(a: DetectedObject, b: DetectedObject) -> set[str]:
    """GenEval's relations of a to b: the centre offset, shrunk by a margin proportional to both
    boxes, must point within 60 degrees of the direction."""
    offset = np.array([a.x - b.x, a.y - b.y])
    dims = np.array([a.width + b.width, a.height + b.height])
    revised = np.maximum(np.abs(offset) - POSITION_THRESHOLD * dims, 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    return {name for name, holds in (("left of", dx < -0.5), ("right of", dx > 0.5),
                                     ("above", dy < -0.5), ("below", dy > 0.5)) if holds}


def judge(expectation: Expectation, detections: list[DetectedObject]) -> bool:
    """Whether the detected objects satisfy the prompt (the rules are in the module docstring)."""
    chosen: list[DetectedObject] = []
    for want in expectation.objects:
        same_shape = [d for d in detections if d.shape == want.shape]
        if want.exact:
            if len(same_shape) != want.count:
                return False
            if want.colour is not None and any(d.colour != want.colour for d in same_shape):
                return False
            matches = same_shape
        else:
            matches = [d for d in same_shape if want.colour is None or d.colour == want.colour]
            if len(matches) < want.count:
                return False
        chosen.append(max(matches, key=lambda d: d.area))
    if expectation.relation is not None:
        return expectation.relation in relative_position(chosen[0], chosen[1])
    return True


def scene_for(expectation: Expectation, rng: np.random.Generator) -> shapes.Scene:
    """A Shapes scene that satisfies the expectation, with random free choices (colour, size, place)."""
    for _ in range(100):
        specs = []
        for want in expectation.objects:
            for _ in range(want.count):
                colour = want.colour or COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))]
                size = want.size or ("large" if rng.random() < 0.5 else "small")
                specs.append((want.shape, colour, size))
        objects = shapes.arrange(rng, specs, expectation.relation)
        if objects is not None:
            return shapes.Scene(objects, expectation.prompt, expectation.task, expectation.relation)
    raise StudioError(f"Could not lay out a scene for {expectation.prompt!r}.")


def render_expectation(expectation: Expectation, rng: np.random.Generator) -> np.ndarray:
    """A (32, 32, 3) uint8 picture that satisfies the expectation: a perfect generator's answer."""
    return shapes.render(scene_for(expectation, rng))


def _as_rgb(images: np.ndarray, n: int, prompt: str) -> np.ndarray:
    a = np.asarray(images)
    if a.shape != (n, shapes.SIZE, shapes.SIZE, 3) or a.dtype != np.uint8:
        raise StudioError(f"The generator returned {a.dtype} images of shape {a.shape} for {prompt!r}; "
                          f"expected {n} uint8 RGB images of {shapes.SIZE}x{shapes.SIZE}x3.")
    return a


def evaluate_adherence(generate: GenerateFn, per_prompt: int = 4, seed: int = 0,
                       progress: Progress | None = None) -> dict:
    """Ask ``generate`` for ``per_prompt`` images of every fixed prompt and judge each one.

    Prompt j (counting across tasks) gets seeds ``seed + j * per_prompt`` onwards, so no two
    prompts share noise and a run can be repeated exactly."""
    if per_prompt < 1:
        raise StudioError(f"per_prompt must be at least 1, got {per_prompt}.")
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    everything = [e for _, exps in _prompts() for e in exps]
    total = len(everything) * per_prompt
    gen_seconds = 0.0
    per_task: dict[str, dict[str, float]] = {t: {} for t in TASKS}
    for j, exp in enumerate(everything):
        report("generate", j * per_prompt, total)
        t = time.perf_counter()
        images = _as_rgb(generate(exp.prompt, per_prompt, seed + j * per_prompt), per_prompt, exp.prompt)
        gen_seconds += time.perf_counter() - t
        passed = sum(judge(exp, detect(img)) for img in images)
        per_task[exp.task][exp.prompt] = passed / per_prompt
    report("generate", total, total)

    tasks = {t: float(np.mean(list(p.values()))) for t, p in per_task.items()}
    seconds = time.perf_counter() - t0
    return {
        "overall": float(np.mean(list(tasks.values()))),
        "tasks": tasks,
        "prompts": per_task,
        "images": total,
        "settings": {"per_prompt": per_prompt, "seed": seed,
                     "prompts_per_task": {t: len(p) for t, p in per_task.items()},
                     "judge": "procedural Shapes detector (studio.core.evaluation.shapes_detect), GenEval rules"},
        "seconds": {"generate": round(gen_seconds, 2), "judge": round(seconds - gen_seconds, 2),
                    "total": round(seconds, 2)},
    }
