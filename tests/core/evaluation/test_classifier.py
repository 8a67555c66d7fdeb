"""The Fashion-MNIST classifier: shapes, that training learns, the checkpoint round trip, the shipped file."""
from pathlib import Path

import numpy as np
import pytest
import torch

import studio
from studio.core.data import fashion_mnist
from studio.core.errors import CheckpointError
from studio.core.evaluation.classifier import (
    Classifier,
    ClassifierConfig,
    ClassifierTrainConfig,
    iter_train_classifier,
    load_classifier,
)

SHIPPED = Path(studio.__file__).resolve().parent.parent / "resources" / "classifiers" / "fmnist-classifier.safetensors"
needs_data = pytest.mark.skipif(not fashion_mnist.DEFAULT_DIR.is_dir(),
                                reason=f"Fashion-MNIST is not installed in {fashion_mnist.DEFAULT_DIR}")


def test_shapes():
    model = Classifier(ClassifierConfig()).eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert model.features(x).shape == (5, 128)
    assert model(x).shape == (5, 10)
    feats, pred = model.embed(np.zeros((3, 28, 28, 1), np.uint8))
    assert feats.shape == (3, 128) and feats.dtype == np.float64 and pred.shape == (3,)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A classifier trained for 16 steps on 512 images, and its training events."""
    out = tmp_path_factory.mktemp("clf") / "tiny.safetensors"
    cfg = ClassifierTrainConfig(epochs=2, batch_size=64, limit=512, eval_limit=500, log_every=1,
                                model=ClassifierConfig(channels=(8, 16, 32), feature_dim=32))
    threads = torch.get_num_threads()
    try:  # one thread: a net this small gains nothing from more, and loses a lot on a busy machine
        events = list(iter_train_classifier(out, cfg, threads=1))
    finally:
        torch.set_num_threads(threads)
    return out, events


@needs_data
def test_training_lowers_the_loss(tiny):
    _, events = tiny
    losses = [e.metrics["loss"] for e in events if e.kind == "step"]
    assert len(losses) == 16
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.2
    assert events[-1].kind == "done"
    assert events[-1].metrics["test_accuracy"] > 0.2  # twice chance after 16 steps


@needs_data
def test_checkpoint_round_trip_and_card(tiny):
    out, events = tiny
    model = load_classifier(out)
    assert not model.training and model.config.channels == (8, 16, 32)
    card = model.card
    assert card["family"] == "classifier" and card["test_accuracy"] == pytest.approx(events[-1].metrics["test_accuracy"], abs=1e-4)
    assert card["command"].startswith("genstudio train classifier --out ") and "--limit 512" in card["command"]
    assert card["data"]["train_images"] == 512 and card["training"]["seconds"] > 0
    # Same weights, same outputs: rebuild from the file twice and compare on real images.
    test = fashion_mnist.load("test", limit=64)
    f1, p1 = model.embed(test.images)
    f2, p2 = load_classifier(out).embed(test.images)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_allclose(f1, f2)


def test_load_errors_are_checkpoint_errors(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError):
        load_classifier(missing)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        load_classifier(junk)


@needs_data
@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped classifier has not been trained yet")
def test_shipped_classifier_is_accurate():
    test = fashion_mnist.load("test", limit=1000)
    _, pred = load_classifier(SHIPPED).embed(test.images)
    assert (pred == test.labels).mean() >= 0.85


def test_augment_keeps_range_and_background():
    from studio.core.evaluation.classifier import _augment

    x = torch.full((4, 1, 28, 28), -1.0)
    x[:, :, 10:18, 10:18] = 1.0
    y = _augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert torch.equal(y[:, :, :2, :], torch.full_like(y[:, :, :2, :], -1.0))  # shifted-in pixels are background
    assert torch.equal(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # a shift of <= 2 px keeps the whole square
