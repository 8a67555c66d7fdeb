"""Shared bits for the benchmark scripts."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--checkpoint", default="diffusion-fmnist")
    p.add_argument("--device", default="auto")
    return p


def table(rows: list[tuple], header: tuple) -> str:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def time_generation(model, req, patch: dict | None = None) -> float:
    """Seconds to run ``model.frames(req)`` to its last frame, with the attributes in ``patch`` set on
    the model for that run only (to leave a part out, e.g. the per-step previews)."""
    import time

    patch = patch or {}
    for name, value in patch.items():
        setattr(model, name, value)
    try:
        t0 = time.perf_counter()
        for _ in model.frames(req, None, want_noisy=False):
            pass
        return time.perf_counter() - t0
    finally:
        for name in patch:
            model.__dict__.pop(name, None)


def interleaved(arms: dict, rounds: int) -> dict:
    """Seconds of each arm (name -> a function returning its seconds) over ``rounds`` rounds, after a
    warm-up round that is not counted; the order alternates each round so that drift hits every arm."""
    names = list(arms)
    times: dict = {name: [] for name in names}
    for r in range(rounds + 1):
        for name in (names if r % 2 else names[::-1]):
            seconds = arms[name]()
            if r:
                times[name].append(seconds)
    return times


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


@dataclass
class Yardstick:
    """What an ablation scores its arms with: the classifier, the real data's features, the steps at
    which to evaluate, and the real-data floor at the evaluation's sample size."""

    classifier: object
    reference: object
    evals: list[int]
    floor: float


def ablation_yardstick(args: argparse.Namespace) -> Yardstick:
    """From an ablation's --threads, --evals, --classifier, --data-dir and --num."""
    import torch

    from studio.core.evaluation.classifier import load_classifier
    from studio.core.evaluation.quality import build_reference

    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier(args.classifier, "cpu")
    reference = build_reference(classifier, args.data_dir)
    return Yardstick(classifier, reference, sorted(int(s) for s in args.evals.split(",")),
                     reference.floor_same_n(args.num // 10, 0)[0])
