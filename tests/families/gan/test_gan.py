"""The GAN family: losses on known logits, a tiny GAN trained by the shared trainer on procedural
faces, latent directions (GANSpace, Lowdin), sampling with truncation, and the measures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core import checkpoint
from studio.core.errors import RequestError, StudioError
from studio.core.families.gan.family import GANFamily
from studio.core.families.gan.model import GAN, GANConfig, discriminator_loss, generator_loss
from studio.core.families.gan.train import gan_task, ganspace, lowdin
from studio.core.request import GenerationRequest
from studio.core.training.trainer import TrainConfig, Trainer
from tests.conftest import make_tiny_gan

pytestmark = pytest.mark.usefixtures("one_thread")


def test_hinge_and_nonsaturating_losses_on_known_logits():
    big, small = torch.full((4,), 2.0), torch.full((4,), -2.0)
    assert discriminator_loss(big, small, "hinge").item() == 0.0  # both beyond the margin
    assert discriminator_loss(torch.zeros(4), torch.zeros(4), "hinge").item() == pytest.approx(2.0)
    assert generator_loss(torch.tensor([1.0, 3.0]), "hinge").item() == pytest.approx(-2.0)
    log2 = np.log(2)
    assert discriminator_loss(torch.zeros(4), torch.zeros(4), "nonsaturating").item() == pytest.approx(2 * log2)
    assert generator_loss(torch.zeros(4), "nonsaturating").item() == pytest.approx(log2)
    assert generator_loss(torch.full((4,), 20.0), "nonsaturating").item() < 1e-6
    with pytest.raises(ValueError):
        GANConfig(loss="wasserstein")


def test_shapes_and_spectral_norm():
    gan = GAN(GANConfig(image_size=32, channels=3, z_dim=16, g_channels=8, d_channels=8))
    x = gan.generator(torch.randn(5, 16))
    assert x.shape == (5, 3, 32, 32) and x.abs().max() <= 1
    assert gan.discriminator(x).shape == (5,)
    # Every weight layer of the critic is spectrally normalised: its largest singular value is ~1.
    conv = gan.discriminator.body[0]
    for _ in range(20):
        gan.discriminator(x)
    w = conv.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.15)


def test_a_tiny_gan_trains_on_faces_without_nan_and_ships_its_generator(tmp_path):
    task = gan_task("faces", limit=64, batch_size=16, width=8, z_dim=8)
    cfg = TrainConfig(steps=120, batch_size=16, lr=2e-4, warmup=10, log_every=20, precision="fp32",
                      sample_every=60, checkpoint_every=60)
    out = tmp_path / "g.safetensors"
    events = list(Trainer(task, cfg, out).run())
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 6 and all({"d_loss", "g_loss", "d_real", "d_fake"} <= set(e.metrics) for e in steps)
    assert all(np.isfinite(list(e.metrics.values())).all() for e in steps)
    grids = [e.images for e in events if e.kind == "samples"]
    assert len(grids) == 2 and grids[0].shape == (36, 32, 32, 3)
    assert not np.array_equal(grids[0], grids[1]), "the fixed-noise grid changes as the generator learns"
    ck = checkpoint.load(out)
    assert not ck.group("ema.discriminator") and ck.group("ema"), "only the generator is shipped"
    family = GANFamily.from_checkpoint(out)
    assert family.basis.names[0] == "PC1" and len(family.basis) == 8
    assert family.decode(np.zeros(8)).shape == (1, 32, 32, 3)
    # Resuming restores both optimisers.
    cfg.steps = 130
    resumed = Trainer(gan_task("faces", limit=64, batch_size=16, width=8, z_dim=8), cfg, out, resume=True)
    assert resumed.step == 120 and len(resumed.opts) == 2 and resumed.opts[1].state


def test_ganspace_and_lowdin_give_orthonormal_directions():
    gen = GAN(GANConfig(image_size=12, channels=1, z_dim=10, g_channels=4)).generator
    basis = ganspace(gen, 10, k=4, n=500)
    np.testing.assert_allclose(basis.directions @ basis.directions.T, np.eye(4), atol=1e-5)
    assert np.all(np.diff(basis.explained) <= 1e-7)
    v = np.random.default_rng(0).standard_normal((3, 10))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    o = lowdin(v)
    np.testing.assert_allclose(o @ o.T, np.eye(3), atol=1e-5)
    assert np.all(np.sum(o * v, axis=1) > 0.8), "each direction stays close to its own normal"


def test_sampling_is_seeded_truncation_shrinks_the_latent_and_a_latent_request_decodes_it(tmp_path):
    family = GANFamily.from_checkpoint(make_tiny_gan(tmp_path / "g.safetensors"))
    req = family.default_request().with_(seed=4, batch_size=3)
    a, b = family.generate(req), family.generate(req.with_(seed=5, batch_size=1))
    assert a.shape == (3, 12, 12, 3) and np.array_equal(a[1], b[0])
    flat = family.generate(req.with_(truncation=0.0))
    assert all(np.array_equal(flat[0], im) for im in flat), "truncation 0: every seed gives the mean face"
    z = np.linspace(-1, 1, 8).astype(np.float32)
    assert np.array_equal(family.generate(req.with_(batch_size=1, latent=tuple(z.tolist())))[0],
                          family.decode(z)[0])
    assert family.basis.names == ["smile", "glasses", "PC1", "PC2"]
    with pytest.raises(StudioError):
        family.decode(np.zeros(3))
    with pytest.raises(RequestError):
        req.with_(truncation=1.5).validated()
    restored = GenerationRequest.from_parameters(req.with_(truncation=0.7).to_parameters())
    assert restored.truncation == 0.7


def test_attribute_edit_reads_every_attribute_along_the_walk(tmp_path):
    from studio.core.evaluation.face_classifier import FaceClassifier
    from studio.core.families.gan.eval import attribute_edit

    family = GANFamily.from_checkpoint(make_tiny_gan(tmp_path / "g.safetensors"))

    class Upsized:  # the tiny GAN draws 12x12; the classifier reads 32x32
        def __init__(self, fam):
            self.fam, self.basis, self.latent_dim, self.checkpoint = fam, fam.basis, fam.latent_dim, fam.checkpoint
            self.prior_latents = fam.prior_latents

        def decode(self, z):
            return np.repeat(np.repeat(self.fam.decode(z), 3, axis=1), 3, axis=2)[:, 2:34, 2:34]

    e = attribute_edit(Upsized(family), FaceClassifier(), "smile", n=6)
    assert len(e["mean_score"]) == len(e["steps"]) == 7
    assert set(e["others_change"]) == {"eyes_open", "skin", "hair", "glasses", "head_size", "background"}
    with pytest.raises(StudioError, match="no 'eyes open' direction"):
        attribute_edit(Upsized(family), FaceClassifier(), "eyes_open", n=2)


def test_cli_generates_with_truncation(tiny_gan, tmp_path):
    from studio.cli import main
    from studio.store.pngmeta import read_settings

    out = tmp_path / "t.png"
    assert main(["generate", "--checkpoint", "tiny-gan", "--truncation", "0.6", "--seed", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert read_settings(out)[0].truncation == 0.6
    assert main(["generate", "--checkpoint", "tiny-gan", "--truncation", "2", "--out", str(out), "--quiet"]) == 2
