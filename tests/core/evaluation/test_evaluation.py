"""Quality metrics on fake generators: real test images must score well, noise must score badly."""
import json
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.data import fashion_mnist
from studio.core.errors import StudioError
from studio.core.evaluation import quality as evaluation
from studio.core.evaluation.classifier import (
    ClassifierConfig,
    ClassifierTrainConfig,
    iter_train_classifier,
    load_classifier,
)

SHIPPED = Path(studio.__file__).resolve().parent.parent / "resources" / "classifiers" / "fmnist-classifier.safetensors"
pytestmark = pytest.mark.skipif(not fashion_mnist.DEFAULT_DIR.is_dir(),
                                reason=f"Fashion-MNIST is not installed in {fashion_mnist.DEFAULT_DIR}")

PROMPT_CLASS = {p: k for k, p in enumerate(evaluation.class_prompts())} | dict(fashion_mnist.HELD_OUT_PROMPTS)


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    """The shipped classifier, or (before it is trained) a quick one, with its real-data reference."""
    if SHIPPED.is_file():
        clf, min_acc = load_classifier(SHIPPED), 0.85
    else:
        out = tmp_path_factory.mktemp("clf") / "quick.safetensors"
        cfg = ClassifierTrainConfig(epochs=1, limit=6000, eval_limit=500, model=ClassifierConfig(channels=(8, 16, 32)))
        for _ in iter_train_classifier(out, cfg):
            pass
        clf, min_acc = load_classifier(out), 0.6
    # A smaller reference than the CLI's 10k + 10k keeps the test fast; the properties are the same.
    return clf, evaluation.build_reference(clf, train_images=3000, test_limit=3000), min_acc


@pytest.fixture(scope="module")
def test_split():
    return fashion_mnist.load("test")


def real_images(split):
    def generate(prompt: str, n: int, seed: int) -> np.ndarray:
        idx = np.flatnonzero(split.labels == PROMPT_CLASS[prompt])
        pick = np.random.default_rng(seed).choice(idx, n, replace=False)
        return split.images[pick][..., None]
    return generate


def noise(prompt: str, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


def test_real_images_score_well_and_noise_badly(judge, test_split):
    clf, ref, min_acc = judge
    good = evaluation.evaluate_generator(real_images(test_split), clf, num_samples=200, held_out_per_prompt=10,
                                         reference=ref)
    bad = evaluation.evaluate_generator(noise, clf, num_samples=200, held_out_per_prompt=10, reference=ref)

    assert good["prompt_accuracy"] >= min_acc and good["held_out_prompt_accuracy"] >= min_acc - 0.1
    assert bad["prompt_accuracy"] <= 0.3 and bad["held_out_prompt_accuracy"] <= 0.4
    # Real images sit near the real-data floor at the same sample size; noise is far away.
    floor = good["fid_classifier_train_vs_test_same_n"]
    assert good["fid_classifier"] < 2 * floor
    assert bad["fid_classifier"] > 10 * good["fid_classifier"]
    assert good["fid_classifier_train_vs_test"] < floor  # more images, less small-sample bias
    # Real test images lie on the real manifold and cover it about as well as real data does; noise neither.
    assert good["precision"] > 0.6 and good["recall"] > 0.6
    assert good["recall"] > good["precision_recall_real"][1] - 0.25
    assert bad["precision"] < 0.1 and bad["recall"] < 0.1

    assert set(good["prompt_accuracy_per_class"]) == set(fashion_mnist.CLASSES)
    assert np.array(good["confusion"]).sum() == 200 and good["settings"]["samples_per_class"] == 20
    json.dumps(good, allow_nan=False)  # the card must be able to store it


def test_progress_and_bad_generator_output(judge):
    clf, ref, _ = judge
    seen = []
    evaluation.evaluate_generator(noise, clf, num_samples=20, held_out_per_prompt=0, reference=ref,
                                  progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert ("generate", 20, 20) in seen and seen[-1][0] == "features"
    with pytest.raises(StudioError, match="28x28"):
        evaluation.evaluate_generator(lambda p, n, s: np.zeros((n, 32, 32, 1), np.uint8), clf,
                                      num_samples=20, reference=ref)
    with pytest.raises(StudioError):
        evaluation.evaluate_generator(noise, clf, num_samples=5, reference=ref)


def test_family_generator_batches_and_seeds(tmp_path):
    from studio.core.families import load_family
    from tests.conftest import make_tiny_checkpoint

    stub = load_family(make_tiny_checkpoint(tmp_path / "tiny.safetensors"))
    stub.requests = []

    def generate(req, *, init=None):  # the family's one batch, recorded
        stub.requests.append(req)
        # Encode each image's effective seed (request seed + index in batch) in its pixels.
        return np.stack([np.full((28, 28, 1), (req.seed + i) % 256, np.uint8) for i in range(req.batch_size)])

    stub.generate = generate
    gen, settings = evaluation.family_generator(stub, steps=7, sampler="ddpm", guidance=2.0)
    assert settings == {"sampler": "ddpm", "steps": 7, "guidance": 2.0}
    out = gen("a bag", 40, 100)
    assert out.shape == (40, 28, 28, 1)
    assert [r.batch_size for r in stub.requests] == [16, 16, 8]
    np.testing.assert_array_equal(out[:, 0, 0, 0], np.arange(100, 140))
    assert {(r.prompt, r.steps, r.sampler, r.guidance) for r in stub.requests} == {("a bag", 7, "ddpm", 2.0)}


def test_write_metrics_to_card_merges(tmp_path):
    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"weights")
    card = {"id": "m", "training": {"steps_done": 5}, "metrics": {"speed": {"images_per_s": 3.0}}}
    (tmp_path / "m.json").write_text(json.dumps(card))
    path = evaluation.write_metrics_to_card(ckpt, {"prompt_accuracy": 0.9})
    evaluation.write_metrics_to_card(ckpt, {"prompt_accuracy": 0.95})  # replaces its own entry
    new = json.loads(path.read_text())
    assert new["training"] == {"steps_done": 5}
    assert new["metrics"] == {"speed": {"images_per_s": 3.0}, "quality": {"prompt_accuracy": 0.95}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]  # no temp files left
    with pytest.raises(StudioError):
        evaluation.write_metrics_to_card(tmp_path / "missing.safetensors", {})
