"""The shipped latent diffusion model: it carries the shipped autoencoder it was trained in, its card
names its recipe and what it scored, and it draws the prompted class through the decoder."""
import numpy as np
import pytest

from studio.core import checkpoint
from studio.store.paths import resources_dir

CKPT = resources_dir() / "checkpoints" / "diffusion-fmnist-latent.safetensors"
AE = resources_dir() / "tokenizers" / "autoencoder-fmnist.safetensors"
CLF = resources_dir() / "classifiers" / "fmnist-classifier.safetensors"


def test_it_carries_the_shipped_autoencoder_and_its_card_names_the_recipe():
    card = checkpoint.read_card(CKPT)
    assert card["latent"]["autoencoder"] == "autoencoder-fmnist"
    assert card["latent"]["sha256"] == checkpoint.file_hash(AE), "trained in the very autoencoder that ships"
    assert card["latent"]["shape"] == [4, 7, 7]
    assert card["recipe"]["prediction"] == "v" and card["recipe"]["loss_weighting"] == "min-SNR-5"
    q = card["metrics"]["quality"]
    assert q["settings"]["checkpoint_hash"] == checkpoint.file_hash(CKPT) and q["prompt_accuracy"] >= 0.8
    ae, shipped = checkpoint.load(AE), checkpoint.load(CKPT)
    assert ae.family == "autoencoder"
    for name, tensor in ae.group("ema").items():  # the embedded copy is the shipped file's weights
        assert np.array_equal(shipped.tensors[f"autoencoder.{name}"].numpy(), tensor.numpy()), name


@pytest.fixture(scope="module")
def shipped():
    from studio.core.evaluation.classifier import load_classifier
    from studio.store.registry import load_model

    return load_model(str(CKPT)), load_classifier(CLF)


@pytest.mark.parametrize("prompt,label", [("trousers", 1), ("a bag", 8), ("an ankle boot", 9)])
def test_prompts_give_the_prompted_class_in_pixels(shipped, prompt, label):
    model, clf = shipped
    assert model.image_format.shape == (28, 28, 1)
    images = model.generate(model.default_request().with_(prompt=prompt, seed=11, batch_size=8))
    assert images.shape == (8, 28, 28, 1)
    predicted = clf.embed(images)[1]
    assert np.mean(predicted == label) >= 0.75, (prompt, predicted.tolist())
