"""The IDX loader, on small files written here, and the caption vocabulary."""
import gzip
import struct

import numpy as np
import pytest

from studio.core.data import fashion_mnist
from studio.core.data.batches import CaptionTable, captioned_batches
from studio.core.errors import DatasetMissingError
from tests.conftest import needs_fmnist


def write_idx(path, arr: np.ndarray, gz: bool):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [True, False])
def test_reads_a_named_folder_gzipped_or_not(tmp_path, gz):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 7, 7], dtype=np.uint8)
    sfx = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{sfx}", imgs, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", labels, gz)
    split = fashion_mnist.load("test", tmp_path)
    assert np.array_equal(split.images, imgs) and split.labels.tolist() == [0, 9, 3, 7, 7]
    assert fashion_mnist.load("test", tmp_path, limit=2).images.shape == (2, 28, 28)


def test_missing_and_truncated_data_explain_themselves(tmp_path):
    with pytest.raises(DatasetMissingError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load("train", tmp_path / "nowhere")
    with pytest.raises(DatasetMissingError, match="was not found"):
        fashion_mnist.load("train", tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)), gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4), gz=False)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-100])
    with pytest.raises(DatasetMissingError, match="truncated"):
        fashion_mnist.load("train", tmp_path)


@needs_fmnist
def test_the_debian_copy_has_the_expected_splits():
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert np.bincount(test.labels).tolist() == [1000] * 10


def test_captions_cover_every_class_and_hold_out_paraphrases():
    caps = fashion_mnist.all_captions()
    assert {c for _, c in caps} == set(range(10))
    texts = {t for t, _ in caps}
    assert "a sneaker" in texts and "an ankle boot" in texts and "trousers" in texts
    for prompt, _ in fashion_mnist.HELD_OUT_PROMPTS:
        assert prompt not in texts, "held-out paraphrases must never be training captions"


class FakeEncoder:
    def encode(self, prompts):
        import torch
        return torch.stack([torch.full((384,), float(len(p))) for p in prompts])


def test_batches_pair_images_with_captions_of_their_class_and_drop_some():
    table = CaptionTable(fashion_mnist.all_captions(), FakeEncoder())
    images = np.zeros((64, 28, 28), dtype=np.uint8)
    labels = np.arange(64) % 10
    x, cond = next(captioned_batches(images, labels, table, 64, p_uncond=0.25, seed=1))
    assert x.shape == (64, 1, 28, 28) and x.min() == -1.0
    dropped = (cond == 0).all(dim=1)
    assert 5 <= int(dropped.sum()) <= 30
