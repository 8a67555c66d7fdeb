"""The shipped autoregressive models do what their cards claim: complete cards (how each was made, its
test likelihood on binarised Fashion-MNIST, its sampling speed against the naive loop), the
transformer carries the shipped tokenizer, and both follow prompts."""
import numpy as np
import pytest

from studio.core import checkpoint
from studio.store.paths import resources_dir

CKPTS = resources_dir() / "checkpoints"
PIXELCNN = CKPTS / "pixelcnn-fmnist.safetensors"
TRANSFORMER = CKPTS / "ar-transformer-fmnist.safetensors"
TOKENIZER = resources_dir() / "tokenizers" / "vqvae-fmnist.safetensors"
CLF = resources_dir() / "classifiers" / "fmnist-classifier.safetensors"


@pytest.mark.parametrize("path,arch,command", [(PIXELCNN, "pixelcnn", "genstudio train pixelcnn"),
                                               (TRANSFORMER, "transformer", "genstudio train ar-transformer")])
def test_the_card_says_how_it_was_made_what_it_scored_and_how_fast_it_samples(path, arch, command):
    card = checkpoint.read_card(path)
    assert card["family"] == "autoregressive" and card["config"]["arch"] == arch
    assert card["reproduce"].startswith(command) and card["data"]["split"] == "train"
    assert card["training"]["steps_done"] >= 3000
    sha = checkpoint.file_hash(path)
    lk, q, speed = (card["metrics"][k] for k in ("likelihood", "quality", "sampling_speed"))
    assert lk["settings"]["checkpoint_hash"] == sha and q["settings"]["checkpoint_hash"] == sha
    assert lk["settings"]["test_images"] == 10_000 and lk["exact"] == (arch == "pixelcnn")
    assert 150 < lk["test_nll_nats"] < 330
    assert lk["test_nll_bits_per_dim"] == pytest.approx(lk["test_nll_nats"] / (784 * np.log(2)))
    assert speed["identical_images"] and speed["speedup"] > 1.5
    assert speed["cached_seconds_per_image"] < speed["naive_seconds_per_image"]
    # 1000 samples: binary pixels cap it (real test images binarised score 0.60 for the PixelCNN's rendering)
    assert q["prompt_accuracy"] is not None and q["prompt_accuracy"] > 0.45


def test_the_transformer_carries_the_shipped_tokenizer():
    card = checkpoint.read_card(TRANSFORMER)
    assert card["config"]["tokenizer"]["sha256"] == checkpoint.file_hash(TOKENIZER)
    bound = card["metrics"]["likelihood"]
    assert bound["codes_nll_nats"] + bound["decoder_nll_nats"] == pytest.approx(bound["test_nll_nats"])


@pytest.fixture(scope="module")
def shipped():
    from studio.core.evaluation.classifier import load_classifier
    from studio.core.families.autoregressive.family import AutoregressiveFamily

    return (AutoregressiveFamily.from_checkpoint(PIXELCNN), AutoregressiveFamily.from_checkpoint(TRANSFORMER),
            load_classifier(CLF))


@pytest.mark.parametrize("prompt,label", [("a dress", 3), ("a sandal", 5), ("a bag", 8)])
def test_both_follow_prompts(shipped, prompt, label):
    pixelcnn, transformer, clf = shipped
    for model in (pixelcnn, transformer):
        images = model.generate(model.default_request().with_(prompt=prompt, batch_size=8, seed=3))
        _, predicted = clf.embed(images)
        assert np.mean(predicted == label) >= 0.6, (model.arch, prompt, predicted.tolist())


GREY_TOKENIZER = resources_dir() / "tokenizers" / "vqvae-fmnist-grey.safetensors"


@pytest.mark.parametrize("name,arch,fd_below", [("pixelcnn-fmnist-grey", "pixelcnn", 20.0),
                                                ("ar-transformer-fmnist-grey", "transformer", 4.0)])
def test_the_grey_models_cards_carry_their_grey_likelihood_and_quality(name, arch, fd_below):
    path = CKPTS / f"{name}.safetensors"
    card = checkpoint.read_card(path)
    assert card["config"]["arch"] == arch and card["config"]["pixels"] == "grey"
    assert card["reproduce"].startswith("genstudio train") and f"--out resources/checkpoints/{name}" in card["reproduce"]
    sha = checkpoint.file_hash(path)
    lk, q = card["metrics"]["likelihood"], card["metrics"]["quality"]
    assert lk["settings"]["checkpoint_hash"] == q["settings"]["checkpoint_hash"] == sha
    assert lk["exact"] == (arch == "pixelcnn") and 2.5 < lk["test_nll_bits_per_dim"] < 3.6, "bits per grey level"
    assert q["settings"]["num_samples"] == 1000 and q["fid_classifier"] < fd_below
    assert q["precision"] > 0.2 and q["recall"] > 0.2
    if arch == "transformer":
        assert card["config"]["tokenizer"]["sha256"] == checkpoint.file_hash(GREY_TOKENIZER)
