"""Fashion-MNIST (Xiao et al. 2017): 28x28 grey clothing images in ten classes, with captions.

The IDX files come from Debian's ``dataset-fashion-mnist`` or any folder the user names.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError
from .idx import read_idx

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# Names and synonyms a person might type for each class; training captions are drawn from these.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("a t-shirt", "a tee", "a top", "a short-sleeved t-shirt", "a tshirt"),
    ("trousers", "a pair of trousers", "pants", "jeans", "slacks"),
    ("a pullover", "a sweater", "a jumper", "a knitted pullover", "a woolly sweater"),
    ("a dress", "a gown", "a summer dress", "a long dress", "a frock"),
    ("a coat", "a jacket", "an overcoat", "a winter coat", "a parka"),
    ("a sandal", "sandals", "a flip-flop", "an open-toed sandal", "a summer sandal"),
    ("a shirt", "a button-up shirt", "a blouse", "a long-sleeved shirt", "a dress shirt"),
    ("a sneaker", "sneakers", "a trainer", "a sports shoe", "a tennis shoe"),
    ("a bag", "a handbag", "a purse", "a tote bag", "a shoulder bag"),
    ("an ankle boot", "a boot", "ankle boots", "a short boot", "a leather boot"),
)
TEMPLATES = ("{}", "a photo of {}", "a picture of {}", "an image of {}", "{}, product photo")

# Paraphrases never seen in training, used to check that the text encoder generalises.
HELD_OUT_PROMPTS: tuple[tuple[str, int], ...] = (
    ("running shoes", 7), ("a pair of blue jeans", 1), ("a women's handbag", 8),
    ("a cozy cardigan", 2), ("an evening gown", 3), ("hiking boots", 9),
)

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class Split:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetMissingError(
        f"Fashion-MNIST file {stem}(.gz) was not found in {folder}. Install it with "
        "'apt-get install dataset-fashion-mnist' or pass --data-dir with the folder holding the IDX files."
    )


def load(split: str = "train", folder: str | Path | None = None, limit: int | None = None) -> Split:
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder) if folder else DEFAULT_DIR
    if not folder.is_dir():
        raise DatasetMissingError(
            f"Fashion-MNIST folder {folder} does not exist. Install it with "
            "'apt-get install dataset-fashion-mnist' or pass --data-dir with the folder holding the IDX files."
        )
    img_path, lbl_path = (_find(folder, s) for s in FILES[split])
    try:
        images, labels = read_idx(img_path), read_idx(lbl_path)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetMissingError(f"Fashion-MNIST in {folder} could not be read: {e}") from e
    if images.ndim != 3 or labels.shape[0] != images.shape[0]:
        raise DatasetMissingError(f"Fashion-MNIST in {folder} has mismatched images {images.shape} and labels {labels.shape}")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return Split(np.ascontiguousarray(images), labels.astype(np.int64))


def all_captions() -> list[tuple[str, int]]:
    """Every training caption with its class: templates x synonyms x classes."""
    return [(t.format(s), c) for c, syns in enumerate(SYNONYMS) for s in syns for t in TEMPLATES]


def caption_for(label: int, rng: random.Random | None = None) -> str:
    rng = rng or random
    return rng.choice(TEMPLATES).format(rng.choice(SYNONYMS[label]))
