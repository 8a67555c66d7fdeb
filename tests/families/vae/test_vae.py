"""The VAE model and its objectives: ELBO terms, reparameterisation, IWAE, training by the shared Trainer."""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from studio.core import checkpoint
from studio.core.families.vae.eval import binarize
from studio.core.families.vae.family import MIN_EXPLAINED, VAEFamily
from studio.core.families.vae.model import (
    VAE,
    ELBOTerms,
    VAEConfig,
    bernoulli_nll,
    gaussian_log_prob,
    kl_to_standard_normal,
    reparameterize,
)
from studio.core.families.vae.train import binarized, fashion_mnist_task, latent_extras
from studio.core.training.trainer import TrainConfig, Trainer, TrainTask
from tests.conftest import needs_fmnist

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(latent_dim=2, **kw) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=kw.pop("image_size", 12), latent_dim=latent_dim, hidden=(4, 8), fc_dim=16, **kw))


def test_objectives_on_known_values():
    zeros = torch.zeros(3, 5)
    assert torch.equal(kl_to_standard_normal(zeros, zeros), torch.zeros(3))  # the prior against itself
    assert torch.allclose(kl_to_standard_normal(torch.ones(2, 4), torch.zeros(2, 4)), torch.full((2,), 2.0))
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_to_standard_normal(mu, logvar), ref, atol=1e-5)
    t = ELBOTerms(reconstruction=torch.tensor([10.0, 20.0]), kl=torch.tensor([1.0, 3.0]))
    assert torch.equal(t.elbo, torch.tensor([-11.0, -23.0])) and float(t.loss()) == 17.0 and float(t.loss(0.0)) == 15.0
    x = (torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert torch.allclose(bernoulli_nll(torch.zeros_like(x), x), torch.full((2,), 16 * math.log(2)))
    ones = torch.ones(2, 1, 4, 4)
    assert bernoulli_nll(torch.full_like(ones, 30.0), ones).max() < 1e-9
    assert bernoulli_nll(torch.full_like(ones, -30.0), ones).min() > 16 * 29
    g = torch.Generator().manual_seed(1)
    z, mu, logvar = (torch.randn(5, 3, generator=g) for _ in range(3))
    ref = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_prob(z, mu, logvar), ref, atol=1e-5)


def test_reparameterisation_gradients_reach_mu_logvar_and_every_layer():
    mu, logvar = torch.tensor([[0.5, -1.0]], requires_grad=True), torch.tensor([[0.0, -2.0]], requires_grad=True)
    reparameterize(mu, logvar, torch.Generator().manual_seed(0)).pow(2).sum().backward()
    assert (mu.grad != 0).all() and (logvar.grad != 0).all()
    z = reparameterize(torch.full((20000, 1), 2.0), torch.full((20000, 1), math.log(0.25)),
                       torch.Generator().manual_seed(1))
    assert abs(float(z.mean()) - 2.0) < 0.02 and abs(float(z.std()) - 0.5) < 0.02
    model = tiny()
    x = (torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    model.terms(x).loss().backward()
    for name in ("encoder_conv", "encoder_fc", "decoder_fc", "decoder_conv"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), name


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3)])
@pytest.mark.parametrize("cond_dim", [0, 384])
def test_encode_decode_shapes(size, channels, cond_dim):
    model = tiny(latent_dim=5, image_size=size, channels=channels, cond_dim=cond_dim)
    x, cond = torch.rand(3, channels, size, size), (torch.randn(3, 384) if cond_dim else None)
    mu, logvar = model.encode(x, cond)
    out = model.decode(mu, cond)
    assert mu.shape == logvar.shape == (3, 5) and model.conditional == bool(cond_dim)
    assert out.shape == (3, channels, size, size) and out.min() >= 0 and out.max() <= 1
    if cond_dim:  # no condition means the zero embedding
        assert torch.equal(model.decode(mu), model.decode(mu, torch.zeros(3, 384)))


def test_iwae_k1_matches_the_elbo_and_k50_is_tighter():
    model = tiny(latent_dim=8).eval()  # ignores z, so its true posterior is the prior: a narrow q leaves a gap
    with torch.no_grad():
        model.encoder_fc[-1].bias[8:] = -3.0  # log-variance of q
    x = (torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float().repeat(32, 1, 1, 1)
    with torch.no_grad():
        elbo = model.terms(x, generator=torch.Generator().manual_seed(1)).elbo
    k1 = model.iwae_log_likelihood(x, k=1, generator=torch.Generator().manual_seed(2))
    diff = k1 - elbo  # both unbiased estimates of E_q[log p(x,z) - log q(z|x)]
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / math.sqrt(len(diff)) + 0.05
    k50 = model.iwae_log_likelihood(x[:64], k=50, chunk=16, generator=torch.Generator().manual_seed(3))
    assert k50.shape == (64,) and float(k50.mean()) > float(elbo[:64].mean()) + 1.0
    again = model.iwae_log_likelihood(x[:64], k=50, chunk=16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(k50, again)


def pattern_task(finalize) -> TrainTask:
    """24 fixed 12x12 patterns, random sets of lit quadrants: ~100 nats pixel by pixel, 4 bits in a latent."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=12, latent_dim=4, hidden=(8, 16), fc_dim=32))
    g = torch.Generator().manual_seed(0)
    lit = (torch.rand(24, 1, 2, 2, generator=g) < 0.5).float()
    data = lit.repeat_interleave(6, dim=2).repeat_interleave(6, dim=3)

    def batches():
        while True:
            yield data[torch.randint(0, 24, (32,), generator=g)], None

    def loss(m, batch):
        t = m.terms(batch[0])  # as fashion_mnist_task: per-pixel loss, terms in nats per image
        return t.loss() / 144, {"nelbo": -t.elbo.mean().detach(), "kl": t.kl.mean().detach(),
                                "recon": t.reconstruction.mean().detach()}

    config = {"vae": model.config.to_dict(), "map": {"class_names": ["a", "b"], "source": "patterns"}}
    return TrainTask("vae", model, config, loss, batches(), finalize=finalize)


def test_trainer_lowers_the_negative_elbo_logs_terms_and_ships_finalize_tensors(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 12, 12), dtype=np.uint8)
    labels = np.arange(10) % 2
    task = pattern_task(lambda ema: latent_extras(ema, images, None, images, labels, None))
    out = tmp_path / "v.safetensors"
    cfg = TrainConfig(steps=200, lr=3e-3, warmup=20, log_every=25, precision="fp32", sample_every=10**9,
                      checkpoint_every=10**9)
    steps = [e for e in Trainer(task, cfg, out).run() if e.kind == "step"]
    for m in (e.metrics for e in steps):
        assert {"loss", "nelbo", "kl", "recon", "lr"} <= set(m)
        assert m["nelbo"] == pytest.approx(m["kl"] + m["recon"], rel=1e-5)
        assert m["loss"] == pytest.approx(m["nelbo"] / 144, rel=1e-4)
    first, last = steps[0].metrics["nelbo"], steps[-1].metrics["nelbo"]
    assert last < 0.3 * first, (first, last)
    assert steps[-1].metrics["kl"] > 1.0  # the latent carries the quadrants, not collapsed to the prior
    ck = checkpoint.load(out)
    assert "latent.directions" not in ck.tensors  # 4-D latent: raw axes, no basis
    assert torch.equal(ck.group("map")["labels"], torch.from_numpy(labels))
    family = VAEFamily.from_checkpoint(out)
    assert family.basis.names == ["z1", "z2", "z3", "z4"]
    # the shipped map is what the shipped (EMA) weights make of the images
    np.testing.assert_allclose(family.latent_map.points, family.encode(images[..., None]), atol=1e-5)
    assert family.latent_map.class_names == ["a", "b"] and family.latent_map.source == "patterns"


def test_binarisation_for_training_is_fresh_and_for_evaluation_seeded():
    x = torch.tensor([-1.0, 1.0, 0.0]).repeat(400, 1)  # training batches are in [-1, 1]
    a, b = (t for t, _ in binarized(iter([(x, None), (x, None)]), seed=0))
    assert set(a.unique().tolist()) <= {0.0, 1.0} and (a[:, 0] == 0).all() and (a[:, 1] == 1).all()
    assert 0.4 < float(a[:, 2].mean()) < 0.6 and not torch.equal(a, b)
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    images[0], images[1] = 0, 255
    x = binarize(images, seed=5)
    assert x.shape == (3, 1, 28, 28) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert x[0].sum() == 0 and x[1].min() == 1
    assert torch.equal(x, binarize(images, seed=5)) and not torch.equal(x, binarize(images, seed=6))


@needs_fmnist
def test_fashion_mnist_task_ships_a_principal_basis_and_a_test_map(tmp_path):
    from studio.core.data import fashion_mnist

    task = fashion_mnist_task(latent_dim=12, limit=256, batch_size=32, hidden=(8, 16), fc_dim=32)
    out = tmp_path / "f.safetensors"
    cfg = TrainConfig(steps=30, batch_size=32, lr=1e-3, warmup=5, log_every=10, precision="fp32",
                      sample_every=10**9, checkpoint_every=10**9)
    events = list(Trainer(task, cfg, out).run())
    assert all({"nelbo", "kl", "recon"} <= set(e.metrics) for e in events if e.kind == "step")
    assert next(e for e in events if e.kind == "samples").images.shape == (20, 28, 28, 1)
    family = VAEFamily.from_checkpoint(out)
    basis, test = family.basis, fashion_mnist.load("test", limit=2000)
    stored = checkpoint.load(out).group("latent")["explained"].numpy()
    assert stored.shape == (12,), "all 12 directions are shipped"
    k = len(basis)  # the family drops directions without variance (units the KL switched off)
    assert 2 <= k <= 12 and k == max(2, int((stored >= MIN_EXPLAINED).sum()))
    assert basis.names == [f"PC{i}" for i in range(1, k + 1)] and basis.directions.shape == (k, 12)
    assert np.all(np.diff(basis.explained) <= 1e-7) and basis.explained.sum() <= 1 + 1e-5
    np.testing.assert_allclose(basis.directions @ basis.directions.T, np.eye(k), atol=1e-5)
    assert family.latent_map.points.shape == (2000, 12) and np.array_equal(family.latent_map.labels, test.labels)
    assert family.latent_map.class_names == list(fashion_mnist.CLASSES) and "test split" in family.latent_map.source
