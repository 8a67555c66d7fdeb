"""The shipped GANs do what their cards claim: complete cards measured on these files, a smile
slider that raises the smile and leaves the rest, and Fashion-MNIST samples the classifier knows."""
import numpy as np
import pytest

from studio.core import checkpoint
from studio.store.paths import resources_dir

CKPTS = resources_dir() / "checkpoints"
FACES = CKPTS / "gan-faces.safetensors"
FMNIST = CKPTS / "gan-fmnist.safetensors"
FACE_CLF = resources_dir() / "classifiers" / "faces-attributes.safetensors"
FMNIST_CLF = resources_dir() / "classifiers" / "fmnist-classifier.safetensors"


@pytest.mark.parametrize("path,dataset", [(FACES, "faces"), (FMNIST, "fashion-mnist")])
def test_the_card_says_how_it_was_made_and_what_it_scored(path, dataset):
    card = checkpoint.read_card(path)
    assert card["family"] == "gan" and card["data"]["dataset"] == dataset
    assert card["reproduce"].startswith("genstudio train gan")
    recipe = card["recipe"]
    assert recipe["loss"] == "hinge" and "spectral norm" in recipe["discriminator"] and card["training"]["ema_decay"] > 0
    q = card["metrics"]["quality"]
    assert q["settings"]["checkpoint_hash"] == checkpoint.file_hash(path), "measured on this very file"
    fd = q.get("fid_face_classifier", q.get("fid_classifier"))
    assert fd > 0


def test_the_faces_card_reports_a_clean_monotonic_smile_edit():
    e = checkpoint.read_card(FACES)["metrics"]["attribute_edit"]
    assert e["attribute"] == "smile" and e["monotonic"] and e["change"] > 0.5
    assert e["settings"]["checkpoint_hash"] == checkpoint.file_hash(FACES)
    assert max(e["others_change"].values()) < 0.5 * e["change"]


@pytest.fixture(scope="module")
def faces():
    from studio.core.evaluation.face_classifier import load_face_classifier
    from studio.core.families.gan.family import GANFamily

    return GANFamily.from_checkpoint(FACES), load_face_classifier(FACE_CLF)


def test_moving_smile_changes_the_smile_and_little_else(faces):
    from studio.core.latent_space.family import prior_latents

    gan, clf = faces
    assert gan.basis.names[:4] == ["smile", "eyes open", "glasses", "head size"]
    z = prior_latents(123, 24, gan.latent_dim)
    d = gan.basis.directions[0]
    _, low = clf.embed(gan.decode(z - 2.5 * d))
    _, high = clf.embed(gan.decode(z + 2.5 * d))
    assert high["smile"].mean() - low["smile"].mean() > 0.5
    assert np.abs(high["head_size"] - low["head_size"]).mean() < 0.05
    # The card measures 7-8% of faces changing hair or skin class over the full -3..+3 walk.
    assert np.mean(high["hair"] == low["hair"]) >= 0.8 and np.mean(high["skin"] == low["skin"]) >= 0.8


def test_fashion_mnist_samples_are_varied_recognisable_clothing():
    """Not collapsed onto a few modes: 16 seeds give many classes, and the classifier is mostly sure
    of them (its mean confidence is 0.52 here; the card's FD is 6.6, the diffusion model's 2.2)."""
    import torch

    from studio.core.evaluation.classifier import load_classifier
    from studio.core.families.gan.family import GANFamily

    gan, clf = GANFamily.from_checkpoint(FMNIST), load_classifier(FMNIST_CLF)
    images = gan.generate(gan.default_request().with_(seed=3, batch_size=16))
    x = torch.from_numpy(images[..., 0].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    with torch.no_grad():
        probs = torch.softmax(clf.eval()(x), dim=1)
    assert len(set(probs.argmax(dim=1).tolist())) >= 5
    assert probs.max(dim=1).values.mean().item() > 0.45


def test_every_attribute_slider_raises_its_own_attribute():
    """All four are measured on the card; their side effects are there too (see the README's table)."""
    edits = checkpoint.read_card(FACES)["metrics"]["attribute_edits"]
    assert set(edits) == {"smile", "eyes_open", "glasses", "head_size"}
    sha = checkpoint.file_hash(FACES)
    assert all(e["monotonic"] and e["change"] > 0 and e["settings"]["checkpoint_hash"] == sha for e in edits.values())
