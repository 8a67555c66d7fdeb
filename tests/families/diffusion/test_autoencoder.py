"""Latent diffusion's KL autoencoder: shapes, the KL term, learning, the preview map and the scale, and a
trained checkpoint that loads back (alone and embedded in another checkpoint)."""
import pytest
import torch

from studio.core import checkpoint as ckpt_io
from studio.core.errors import CheckpointError
from studio.core.families.diffusion.autoencoder import (
    AutoencoderConfig,
    KLAutoencoder,
    autoencoder_loss,
    autoencoder_state,
    encode_means,
    fit_linear_preview,
    kl_divergence,
    latent_scale,
    linear_preview,
    load_autoencoder,
)
from studio.core.families.diffusion.train_autoencoder import autoencoder_task
from studio.core.pixels import to_signed
from studio.core.training.trainer import TrainConfig, Trainer
from tests.conftest import needs_fmnist
from tests.core.training.exact import assert_resume_is_exact


@pytest.mark.parametrize("channels, size, side", [(1, 28, 7), (3, 32, 8), (1, 13, 4)])
def test_encode_decode_shapes(one_thread, channels, size, side):
    torch.manual_seed(0)
    cfg = AutoencoderConfig(in_channels=channels, image_size=size, base_channels=8)
    ae = KLAutoencoder(cfg)
    x = torch.rand(2, channels, size, size) * 2 - 1
    mean, logvar = ae.encode(x)
    assert mean.shape == logvar.shape == (2, 4, side, side) == (2, *cfg.latent_shape)
    assert ae.decode(mean).shape == x.shape
    recon, m2, _ = ae(x, torch.Generator().manual_seed(1))
    assert recon.shape == x.shape and torch.equal(m2, mean)


def test_logvar_is_clamped(one_thread):
    ae = KLAutoencoder(AutoencoderConfig(image_size=8, base_channels=8, downsample=1))
    with torch.no_grad():
        ae.encoder.conv_out.bias[4:] = 1e4  # the logvar half
        _, logvar = ae.encode(torch.zeros(1, 1, 8, 8))
    assert float(logvar.max()) == 20.0


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(3, 4, 2, 2)
    assert torch.equal(kl_divergence(zeros, zeros), torch.zeros(3))
    # KL(N(1, 1) || N(0, 1)) = 1/2 per latent element
    assert torch.allclose(kl_divergence(torch.ones(1, 4, 2, 2), zeros), torch.tensor([8.0]))


def test_posterior_sampling_follows_the_generator(one_thread):
    ae = KLAutoencoder(AutoencoderConfig(image_size=8, base_channels=8, downsample=1))
    x = torch.rand(2, 1, 8, 8)
    a, _, _ = ae(x, torch.Generator().manual_seed(3))
    b, _, _ = ae(x, torch.Generator().manual_seed(3))
    c, _, _ = ae(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_few_steps_lower_the_reconstruction_loss(one_thread):
    torch.manual_seed(0)
    ae = KLAutoencoder(AutoencoderConfig(image_size=12, base_channels=8))
    yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    x = torch.stack([torch.sin(xx / (k + 1) + yy / 3)[None] for k in range(4)])  # smooth, in [-1, 1]
    opt = torch.optim.AdamW(ae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    first = None
    for _ in range(30):
        loss, terms = autoencoder_loss(ae, x, g)
        first = float(terms["l1"]) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, terms = autoencoder_loss(ae, x, g)
    assert float(terms["l1"]) < 0.5 * first


def test_linear_preview_recovers_a_known_linear_map():
    g = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(3, 4, generator=g), torch.randn(3, generator=g)
    z = torch.randn(5, 4, 8, 8, generator=g)
    images = linear_preview(z, weight, bias, 32)
    assert images.shape == (5, 3, 32, 32)
    w, b = fit_linear_preview(z, images)
    assert torch.allclose(w, weight, atol=1e-5) and torch.allclose(b, bias, atol=1e-5)
    assert torch.allclose(linear_preview(z, w, b, 32), images, atol=1e-4)


def test_scale_gives_unit_std():
    z = 7.0 * torch.randn(16, 4, 7, 7, generator=torch.Generator().manual_seed(0)) + 2.0
    scale = latent_scale(z)
    assert scale.shape == () and abs(float((z * scale).std()) - 1.0) < 1e-5


def _train(tmp_path, make_task, steps: int = 3):
    torch.manual_seed(0)
    task = make_task()
    cfg = TrainConfig(steps=steps, warmup=1, precision="fp32", log_every=1, sample_every=steps,
                      checkpoint_every=10**9)
    trainer = Trainer(task, cfg, tmp_path / "ae.safetensors")
    events = list(trainer.run())
    return task, trainer, events


def test_shapes_training_ships_a_loadable_autoencoder(tmp_path, one_thread):
    make = lambda: autoencoder_task(dataset="shapes", base_channels=8, batch_size=4, stats_images=12)  # noqa: E731
    task, trainer, events = _train(tmp_path, make)
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3]
    assert all("l1" in e.metrics and "kl" in e.metrics for e in events if e.kind == "step")
    grid = next(e.images for e in events if e.kind == "samples")
    assert grid.shape == (20, 32, 32, 3) and grid.dtype.name == "uint8"  # 10 originals over 10 reconstructions

    path = next(e.path for e in events if e.kind == "done")
    ck = ckpt_io.load(path, family="autoencoder")  # a component, not a generator of the diffusion family
    assert ck.config["kind"] == "autoencoder" and ck.card["latents"]["shape"] == [4, 8, 8]
    ae, scale, weight, bias = load_autoencoder(ck)
    assert weight.shape == (3, 4) and bias.shape == (3,) and scale.shape == ()
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ae.decode(z), trainer.ema.model.decode(z))

    # The scale was measured on the shapes finalize encoded (seed 1's scenes): their scaled std is 1.
    from studio.core.data.shapes import shapes_batches

    stats = to_signed(next(shapes_batches(12, 1))[0])
    assert abs(float((encode_means(ae, stats) * scale).std()) - 1.0) < 1e-3

    # Embedded in another checkpoint under a prefix, it loads back the same.
    other = ckpt_io.save(tmp_path / "ldm.safetensors", family="diffusion",
                         config={"autoencoder": ae.config.to_dict(), "unet": {"in_channels": 4, "image_size": 8}},
                         tensors=autoencoder_state(ae, scale, weight, bias, "autoencoder"))
    ae2, scale2, weight2, bias2 = load_autoencoder(ckpt_io.load(other), prefix="autoencoder")
    assert torch.equal(scale2, scale) and torch.equal(weight2, weight) and torch.equal(bias2, bias)
    with torch.no_grad():
        assert torch.equal(ae2.decode(z), ae.decode(z))


def test_a_checkpoint_without_the_extras_is_refused(tmp_path):
    ae = KLAutoencoder(AutoencoderConfig(image_size=8, base_channels=8, downsample=1))
    path = ckpt_io.save(tmp_path / "bare.safetensors", family="autoencoder",
                        config={"kind": "autoencoder", "autoencoder": ae.config.to_dict()},
                        tensors={f"ema.{k}": v for k, v in ae.state_dict().items()})
    with pytest.raises(CheckpointError, match="scale"):
        load_autoencoder(ckpt_io.load(path))


def test_shapes_autoencoder_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: autoencoder_task(dataset="shapes", base_channels=8, batch_size=2, stats_images=2),
                           tmp_path, steps=4, cut_at=2)


@needs_fmnist
def test_fashion_mnist_training_ships_a_loadable_autoencoder(tmp_path, one_thread):
    make = lambda: autoencoder_task(dataset="fashion-mnist", base_channels=8, batch_size=8, limit=20,  # noqa: E731
                                    stats_images=16)
    _, trainer, events = _train(tmp_path, make, steps=2)
    ck = ckpt_io.load(next(e.path for e in events if e.kind == "done"))
    ae, _, weight, _ = load_autoencoder(ck)
    assert ae.config.latent_shape == (4, 7, 7) and weight.shape == (1, 4)
    assert ck.card["data"]["images"] == 20
    z = torch.randn(2, 4, 7, 7, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ae.decode(z), trainer.ema.model.decode(z))
