"""Novelty: how far a model's samples are from their nearest training images (a memorisation check).

Distances are pixel RMS in [0, 1] (the root mean squared difference per pixel value), so images of
any size and channel count read on one scale: 0 is an exact copy. A sample far from everything it
was trained on is new; one at about the distance real unseen images are (the test split's own
nearest-train distance) is as new as real data. The nearest neighbours' indices come back too, so a
UI can show each sample beside the training image it is closest to.

Training images come from the data set a checkpoint's config names: Fashion-MNIST from its IDX
files (a capped prefix of the train split, the test split as reference); the procedural Faces and
Shapes are rendered again from the seed the model was trained on (reference: another seed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import DatasetMissingError, StudioError

# Unseen images of a procedural data set: the seed the Faces attribute classifier is tested on, never
# a training seed of the shipped models (they train on seed 0).
PROCEDURAL_REFERENCE_SEED = 101


@dataclass(frozen=True)
class TrainingImages:
    """A capped subset of a data set's training images and unseen images of the same data set."""

    train: np.ndarray  # (N, H, W, C) uint8
    test: np.ndarray  # (M, H, W, C) uint8
    what: str  # where they come from, for the "how measured" text


@dataclass(frozen=True)
class Novelty:
    samples: np.ndarray  # (N, H, W, C) uint8: the generated images
    distances: np.ndarray  # (N,) pixel RMS to the nearest training image
    nearest: np.ndarray  # (N,) index of that image in the training subset
    neighbours: np.ndarray  # (N, H, W, C) uint8: those training images, as stored
    reference: np.ndarray  # (M,) the test images' own nearest-train distances

    @property
    def median(self) -> float:
        return float(np.median(self.distances))

    @property
    def reference_median(self) -> float:
        return float(np.median(self.reference))

    @property
    def ratio(self) -> float:
        """Median sample distance over the test images' median: about 1 is as new as real unseen
        images, near 0 is copying."""
        ref = self.reference_median
        return self.median / ref if ref > 0 else float("inf")


def _flat(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) uint8 -> (N, D) float32 in [0, 1]."""
    a = np.asarray(images)
    return a.reshape(len(a), -1).astype(np.float32) / 255.0


def with_channels(images: np.ndarray) -> np.ndarray:
    """(N, H, W) grey images get their channel axis: (N, H, W, 1)."""
    a = np.asarray(images)
    return a[..., None] if a.ndim == 3 else a


def nearest_neighbours(samples: np.ndarray, train: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, (pixel RMS distance to its nearest training image, that image's index)."""
    samples, train = with_channels(samples), with_channels(train)
    if samples.shape[1:] != train.shape[1:]:
        raise StudioError(f"The samples are {_describe(samples)} but the training images are {_describe(train)}.")
    if len(train) == 0:
        raise StudioError("There are no training images to compare with.")
    a, b = _flat(samples), _flat(train)
    b2 = (b * b).sum(1)
    dist = np.empty(len(a), np.float64)
    idx = np.empty(len(a), np.int64)
    for s in range(0, len(a), chunk):
        part = a[s:s + chunk]
        # |a - b|^2 expanded, one matrix product per chunk; the winner's distance is then recomputed
        # exactly, so an exact copy reads 0 rather than float32 rounding.
        d2 = (part * part).sum(1)[:, None] + b2[None] - 2.0 * (part @ b.T)
        best = d2.argmin(1)
        diff = part.astype(np.float64) - b[best].astype(np.float64)
        idx[s:s + chunk] = best
        dist[s:s + chunk] = np.sqrt((diff * diff).mean(1))
    return dist, idx


def measure_novelty(samples: np.ndarray, images: TrainingImages,
                    shown: Callable[[np.ndarray], np.ndarray] | None = None) -> Novelty:
    """The samples' nearest training images, and the test images' own nearest-train distances as the
    reference. ``shown``: real images as the model shows its samples (binarised, through a tokenizer),
    so that rendering alone does not pass for novelty; the neighbours returned are as stored."""
    train, test = with_channels(images.train), with_channels(images.test)
    if shown is not None:
        train_cmp, test_cmp = with_channels(shown(train)), with_channels(shown(test))
    else:
        train_cmp, test_cmp = train, test
    dist, idx = nearest_neighbours(samples, train_cmp)
    ref, _ = nearest_neighbours(test_cmp, train_cmp)
    return Novelty(with_channels(samples), dist, idx, train[idx], ref)


def _describe(images: np.ndarray) -> str:
    _, h, w, c = images.shape
    return f"{w}x{h} with {c} channel(s)"


# --- where the training images come from ------------------------------------------------------------
def _fashion_mnist(limit: int, reference: int, seed: int, data_dir: str | None) -> TrainingImages:
    from ..data import fashion_mnist

    train = fashion_mnist.load("train", data_dir, limit=limit).images
    test = fashion_mnist.load("test", data_dir, limit=reference).images
    return TrainingImages(with_channels(train), with_channels(test),
                          f"the first {len(train)} Fashion-MNIST training images (of 60000); reference: "
                          f"{len(test)} test images")


def _faces(limit: int, reference: int, seed: int, data_dir: str | None) -> TrainingImages:
    from ..data.faces import make_faces

    train, _ = make_faces(limit, seed)
    test, _ = make_faces(reference, PROCEDURAL_REFERENCE_SEED)
    return TrainingImages(train, test, f"the first {limit} procedural faces of training seed {seed}; reference: "
                                       f"{reference} faces of seed {PROCEDURAL_REFERENCE_SEED}")


def _shapes(limit: int, reference: int, seed: int, data_dir: str | None) -> TrainingImages:
    from ..data.shapes import make_shapes

    train = make_shapes(limit, seed)[0]
    test = make_shapes(reference, PROCEDURAL_REFERENCE_SEED)[0]
    return TrainingImages(train, test, f"the first {limit} scenes of the training stream (seed {seed}; training "
                                       f"renders fresh scenes every batch, so these are a sample of what it saw); "
                                       f"reference: {reference} scenes of seed {PROCEDURAL_REFERENCE_SEED}")


LOADERS: dict[str, Callable[[int, int, int, str | None], TrainingImages]] = {
    "fashion-mnist": _fashion_mnist,
    "faces": _faces,
    "shapes": _shapes,
}


def training_images(dataset: str, *, limit: int = 5000, reference: int = 500, seed: int = 0,
                    data_dir: str | None = None) -> TrainingImages:
    """A capped subset of ``dataset``'s training images (the first ``limit``; ``seed``: the training
    seed of a procedural set) and ``reference`` unseen ones. DatasetMissingError names what is missing."""
    loader = LOADERS.get(dataset)
    if loader is None:
        raise DatasetMissingError(f"No training images are known for the data set {dataset!r} "
                                  f"(known: {', '.join(LOADERS)}).")
    if limit < 1 or reference < 1:
        raise StudioError(f"The novelty check needs at least one training and one reference image "
                          f"(got {limit} and {reference}).")
    return loader(limit, reference, seed, data_dir)
