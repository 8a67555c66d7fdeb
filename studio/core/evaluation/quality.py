"""Sample quality of a text-to-image checkpoint on Fashion-MNIST, judged by the shipped classifier.

* prompt accuracy: does an image made from "a sneaker" get classified as Sneaker (overall and per class)?
* held-out prompt accuracy: the same for paraphrases the text encoder never saw in training;
* classifier Frechet distance: FID computed in the classifier's feature space against the test split,
  with train-vs-test floors so a reader can see what "as good as real data" looks like.

The core, ``evaluate_generator``, only needs ``generate(prompt, n, seed) -> uint8 (n, 28, 28, 1)``,
so any family (diffusion, VAE, GAN...) can be measured the same way; ``quality`` wires up diffusion.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import checkpoint as ckpt_io
from ..atomic import atomic_write_text
from ..data import fashion_mnist
from ..errors import CheckpointError, StudioError
from ..events import Progress
from ..families.base import Family
from .classifier import Classifier, load_classifier
from .metrics import feature_stats, frechet_distance, precision_recall

GenerateFn = Callable[[str, int, int], np.ndarray]  # (prompt, n, seed) -> uint8 (n, 28, 28, 1)

PR_K = 3  # neighbours for precision/recall, as Kynkaanniemi et al. recommend
REFERENCE_IMAGES = 10_000  # train images compared with the 10k test images for the "real data" floor


def class_prompts() -> list[str]:
    """The caption each class is prompted with: its first synonym ("a t-shirt", "trousers", ...)."""
    return [syns[0] for syns in fashion_mnist.SYNONYMS]


def _as_gray(images: np.ndarray, n: int, prompt: str) -> np.ndarray:
    """Check a generator's output and drop the channel axis: (n, 28, 28[, 1]) uint8 -> (n, 28, 28)."""
    a = np.asarray(images)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.shape != (n, 28, 28) or a.dtype != np.uint8:
        raise StudioError(f"The generator returned {a.dtype} images of shape {np.asarray(images).shape} for "
                          f"{prompt!r}; expected {n} uint8 images of 28x28x1.")
    return a


@dataclass
class Reference:
    """Classifier features of real data, computed once and reusable across evaluations."""

    test_mu: np.ndarray
    test_sigma: np.ndarray
    test_images: int
    classifier_test_accuracy: float
    train_features: np.ndarray  # (REFERENCE_IMAGES, D), a random subset of the train split
    train_labels: np.ndarray
    fid_train_vs_test: float  # the floor: real train images against real test images

    def balanced(self, per_class: int, seed: int = 0, part: int = 0) -> np.ndarray:
        """Features of ``per_class`` train images of each class (a class-balanced real sample); parts
        0, 1, ... of one seed share no image."""
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.permutation(np.flatnonzero(self.train_labels == k))[part * per_class:
                                                                                       (part + 1) * per_class]
                              for k in range(len(fashion_mnist.CLASSES))])
        return self.train_features[idx]

    def floor_same_n(self, per_class: int, seed: int = 0) -> tuple[float, int]:
        """FD of ``per_class`` train images of each class against the test split: the floor at the
        sample size of an evaluation, since FD is biased upwards when few images are used."""
        feats = self.balanced(per_class, seed)
        return frechet_distance(*feature_stats(feats), self.test_mu, self.test_sigma), len(feats)


def build_reference(classifier: Classifier, data_dir: str | None = None, *, seed: int = 0,
                    train_images: int = REFERENCE_IMAGES, test_limit: int | None = None) -> Reference:
    """Embed the test split (all of it unless ``test_limit``) and a random train subset for the floor."""
    test = fashion_mnist.load("test", data_dir, limit=test_limit)
    train = fashion_mnist.load("train", data_dir)
    test_feats, test_pred = classifier.embed(test.images)
    idx = np.random.default_rng(seed).permutation(len(train.labels))[:train_images]
    train_feats, _ = classifier.embed(train.images[idx])
    mu, sigma = feature_stats(test_feats)
    return Reference(mu, sigma, len(test.labels), float((test_pred == test.labels).mean()), train_feats,
                     train.labels[idx], frechet_distance(*feature_stats(train_feats), mu, sigma))


def evaluate_generator(generate: GenerateFn, classifier: Classifier, *, num_samples: int = 1000,
                       held_out_per_prompt: int = 20, seed: int = 0, data_dir: str | None = None,
                       progress: Progress | None = None, reference: Reference | None = None) -> dict:
    """Family-agnostic quality metrics for a prompt -> images generator (see the module docstring).

    ``reference`` (from build_reference with the same classifier) skips re-embedding the real data."""
    classes = fashion_mnist.CLASSES
    per_class = num_samples // len(classes)
    if per_class < 2:
        raise StudioError(f"Need at least {2 * len(classes)} samples (two per class), got {num_samples}.")
    if held_out_per_prompt < 0:
        raise StudioError("held_out_per_prompt must not be negative.")
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()

    # 1. One block of samples per class prompt; disjoint seed ranges keep the noise independent.
    prompts = class_prompts()
    total = per_class * len(classes) + held_out_per_prompt * len(fashion_mnist.HELD_OUT_PROMPTS)
    done = 0
    gen_images, gen_labels = [], []
    for k, prompt in enumerate(prompts):
        report("generate", done, total)
        gen_images.append(_as_gray(generate(prompt, per_class, seed + k * per_class), per_class, prompt))
        gen_labels.append(np.full(per_class, k))
        done += per_class
    images, labels = np.concatenate(gen_images), np.concatenate(gen_labels)

    held_images = []
    base = seed + len(classes) * per_class
    for j, (prompt, _k) in enumerate(fashion_mnist.HELD_OUT_PROMPTS):
        if held_out_per_prompt:
            report("generate", done, total)
            held_images.append(_as_gray(generate(prompt, held_out_per_prompt, base + j * held_out_per_prompt),
                                        held_out_per_prompt, prompt))
            done += held_out_per_prompt
    report("generate", done, total)
    gen_seconds = time.perf_counter() - t0

    # 2. Classify and embed generated and real images with the same network.
    report("features", 0, 1)
    feats, pred = classifier.embed(images)
    ref = reference or build_reference(classifier, data_dir, seed=seed)
    report("features", 1, 1)

    n_classes = len(classes)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    per_class_acc = {classes[k]: float(confusion[k, k] / per_class) for k in range(n_classes)}

    held: dict[str, float] = {}
    held_correct = 0
    for (prompt, k), imgs in zip(fashion_mnist.HELD_OUT_PROMPTS, held_images):
        _, p = classifier.embed(imgs)
        held[prompt] = float((p == k).mean())
        held_correct += int((p == k).sum())

    # 3. Frechet distances in classifier feature space, with the real-data floors beside them.
    fid = frechet_distance(*feature_stats(feats), ref.test_mu, ref.test_sigma)
    floor_n, n_floor = ref.floor_same_n(per_class, seed)
    # Precision/recall against a class-balanced real sample of the same size (they depend on n and k);
    # a second, disjoint real sample gives the figures real data would get.
    real = ref.balanced(per_class, seed)
    precision, recall = precision_recall(real, feats, k=PR_K)
    other = ref.balanced(per_class, seed, part=1)
    real_pr = list(precision_recall(real, other, k=PR_K)) if len(other) == len(real) else None

    return {
        "prompt_accuracy": float(np.trace(confusion) / confusion.sum()),
        "prompt_accuracy_per_class": per_class_acc,
        "held_out_prompt_accuracy": (held_correct / (held_out_per_prompt * len(held))) if held else None,
        "held_out_prompt_accuracy_per_prompt": held,
        "fid_classifier": fid,
        "fid_classifier_train_vs_test": ref.fid_train_vs_test,
        "fid_classifier_train_vs_test_same_n": floor_n,
        "precision": precision,
        "recall": recall,
        "precision_recall_real": real_pr,  # None when the reference is too small for a second sample
        "confusion": confusion.tolist(),  # rows: prompted class, columns: classified as
        "classifier_test_accuracy": ref.classifier_test_accuracy,
        "settings": {"num_samples": int(len(labels)), "samples_per_class": per_class,
                     "held_out_per_prompt": held_out_per_prompt, "seed": seed, "class_prompts": prompts,
                     "reference": f"fashion-mnist test split ({ref.test_images} images)",
                     "train_reference_images": int(len(ref.train_labels)), "train_floor_same_n_images": n_floor,
                     "precision_recall": f"k={PR_K} nearest neighbours in classifier features, against "
                                         f"{n_floor} class-balanced train images (Kynkaanniemi et al. 2019)"},
        "seconds": {"generate": round(gen_seconds, 1), "total": round(time.perf_counter() - t0, 1)},
    }


def family_generator(model: Family, *, steps: int = 50, sampler: str = "", guidance: float = 3.0
                     ) -> tuple[GenerateFn, dict]:
    """A loaded family as ``generate(prompt, n, seed)``, and the sampling settings it uses (the family
    says how it is sampled for an evaluation). Image j of the result is exactly what the studio shows
    for that prompt at seed ``seed + j``."""
    setup = model.eval_setup(steps=steps, sampler=sampler, guidance=guidance)

    def generate(prompt: str, n: int, seed: int) -> np.ndarray:
        return model.generate_many(setup.request.with_(prompt=prompt, seed=seed), n)

    return generate, setup.settings


def quality(checkpoint_path: str | Path, classifier_path: str | Path, num_samples: int = 1000, steps: int = 50,
            sampler: str = "ddim", guidance: float = 3.0, seed: int = 0, data_dir: str | None = None,
            progress: Progress | None = None, *, held_out_per_prompt: int = 20, device: str = "cpu") -> dict:
    """Measure any family's checkpoint; returns the metrics of ``evaluate_generator`` plus its settings.

    An unconditional model gets the same per-class blocks of samples (their prompts are ignored), so
    its Frechet distance is comparable; its prompt accuracy is chance level and is reported as None."""
    from ..families import load_family

    checkpoint_path, classifier_path = Path(checkpoint_path), Path(classifier_path)
    model = load_family(checkpoint_path, device)
    conditional = model.conditional
    clf = load_classifier(classifier_path, device)
    gen, sampling = family_generator(model, steps=steps, sampler=sampler, guidance=guidance)
    metrics = evaluate_generator(gen, clf, num_samples=num_samples,
                                 held_out_per_prompt=held_out_per_prompt if conditional else 0,
                                 seed=seed, data_dir=data_dir, progress=progress)
    if not conditional:
        metrics["prompt_accuracy"] = None
        metrics["prompt_accuracy_per_class"] = None
    shown = model.as_shown(fashion_mnist.load("test", data_dir).images, seed)
    if shown is not None:  # e.g. binary samples: set them against binarised real images
        metrics["real_reference"] = shown_reference(clf, *shown, data_dir, num_samples=num_samples, seed=seed)
    metrics["settings"].update({
        "family": model.name, "conditional": conditional, "checkpoint": checkpoint_path.stem,
        "checkpoint_hash": model.checkpoint.sha256, **sampling,
        "classifier": classifier_path.stem, "classifier_hash": ckpt_io.file_hash(classifier_path),
    })
    return metrics


def shown_reference(classifier: Classifier, shown: np.ndarray, what: str, data_dir: str | None = None, *,
                    num_samples: int = 1000, seed: int = 0) -> dict:
    """How the classifier reads the real test images as a model would show them (``shown``, in test
    order: binarised for a binary model, or through a tokenizer and back): the fair ceiling for that
    model's prompt accuracy and the floor of its Frechet distance, since the classifier was trained
    on the grey images and such a rendering alone costs accuracy and distance."""
    test = fashion_mnist.load("test", data_dir)
    grey_feats, _ = classifier.embed(test.images)
    feats, pred = classifier.embed(_as_gray(shown, len(test.labels), what))
    idx = np.random.default_rng(seed).permutation(len(pred))[:num_samples]
    per_class = {c: float((pred[test.labels == k] == k).mean()) for k, c in enumerate(fashion_mnist.CLASSES)}
    return {"accuracy": float((pred == test.labels).mean()), "accuracy_per_class": per_class,
            "fid_classifier_same_n": frechet_distance(*feature_stats(feats[idx]), *feature_stats(grey_feats)),
            "what": what, "settings": {"images": int(len(pred)), "fd_images": int(len(idx))}}


def write_metrics_to_card(checkpoint_path: str | Path, metrics: dict, key: str = "quality") -> Path:
    """Merge ``metrics`` into the card's ``metrics[key]`` and rewrite the card atomically.

    Other entries of ``metrics`` survive; the trainer keeps ``metrics`` when it re-saves the same step."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_file():
        raise CheckpointError(f"Checkpoint {checkpoint_path} does not exist.")
    card = ckpt_io.read_card(checkpoint_path)
    if not card:
        card = {"id": checkpoint_path.stem}
    old = card.get("metrics")
    card["metrics"] = {**(old if isinstance(old, dict) else {}), key: metrics}
    path = ckpt_io.card_path(checkpoint_path)
    # allow_nan=False: a NaN would make the card unreadable to strict JSON parsers.
    atomic_write_text(path, json.dumps(card, indent=2, allow_nan=False) + "\n")
    return path
