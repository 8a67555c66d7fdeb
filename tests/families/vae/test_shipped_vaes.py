"""The shipped VAEs do what their cards claim: they load with their latent extras, the 2-D map
separates the classes it shows, the conditional one follows prompts, and the cards are complete."""
import numpy as np
import pytest

from studio.core import checkpoint
from studio.store.paths import resources_dir

CKPTS = resources_dir() / "checkpoints"
VAE_2D = CKPTS / "vae-fmnist-2d.safetensors"
VAE_TEXT = CKPTS / "vae-fmnist-32d-text.safetensors"
CLF = resources_dir() / "classifiers" / "fmnist-classifier.safetensors"


@pytest.mark.parametrize("path,dim,conditional", [(VAE_2D, 2, False), (VAE_TEXT, 32, True)])
def test_the_card_says_how_it_was_made_and_what_it_scored(path, dim, conditional):
    card = checkpoint.read_card(path)
    assert card["family"] == "vae" and card["config"]["vae"]["latent_dim"] == dim
    assert (card["config"]["vae"]["cond_dim"] > 0) == conditional
    assert card["reproduce"].startswith("genstudio train vae") and card["data"]["split"] == "train"
    assert card["training"]["steps_done"] >= 5000
    lk, q = card["metrics"]["likelihood"], card["metrics"]["quality"]
    sha = checkpoint.file_hash(path)
    assert lk["settings"]["checkpoint_hash"] == sha and q["settings"]["checkpoint_hash"] == sha
    assert lk["iwae_k"] >= 100 and lk["settings"]["test_images"] == 10_000
    # The importance-weighted bound is the tighter one; both are in a sane range for binarised data.
    assert lk["test_nll_iwae_nats"] <= -lk["test_elbo_nats"] and 150 < lk["test_nll_iwae_nats"] < 330
    assert q["fid_classifier"] > 0 and (q["prompt_accuracy"] is None) == (not conditional)


@pytest.fixture(scope="module")
def models():
    from studio.core.evaluation.classifier import load_classifier
    from studio.core.families.vae.family import VAEFamily

    return VAEFamily.from_checkpoint(VAE_2D), VAEFamily.from_checkpoint(VAE_TEXT), load_classifier(CLF)


def test_the_2d_map_puts_classes_in_their_own_regions(models):
    """Decoding an encoded test image's latent mean gives back its class far more often than chance:
    the map's colours are where the decoder draws that class."""
    vae, _, clf = models
    m = vae.latent_map
    assert m is not None and m.points.shape == (2000, 2) and set(m.labels.tolist()) == set(range(10))
    _, predicted = clf.embed(vae.decode(m.points[:500]))
    assert np.mean(predicted == m.labels[:500]) > 0.6


def test_the_large_latent_has_principal_directions_that_change_the_image(models):
    _, vae, _ = models
    basis = vae.basis
    assert basis.names[0] == "PC1" and 8 <= len(basis) <= 16 and basis.explained[0] > basis.explained[-1]
    centre = vae.decode(basis.to_latent(np.zeros(len(basis))), "a dress")[0].astype(int)
    moved = vae.decode(basis.to_latent(np.eye(len(basis))[0] * 2.5), "a dress")[0].astype(int)
    assert np.abs(centre - moved).mean() > 5, "the first direction visibly changes the image"


@pytest.mark.parametrize("prompt,label", [("a sneaker", 7), ("trousers", 1), ("a bag", 8), ("a dress", 3)])
def test_the_conditional_vae_follows_prompts(models, prompt, label):
    from studio.core.families.vae.family import prior_latents

    _, vae, clf = models
    _, predicted = clf.embed(vae.decode(prior_latents(5, 16, vae.latent_dim), prompt))
    assert np.mean(predicted == label) >= 0.75, (prompt, predicted.tolist())
