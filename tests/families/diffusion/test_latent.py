"""Latent diffusion (Rombach et al. 2022): a diffusion checkpoint that embeds its KL autoencoder samples
in the latent and shows pixels; its config bounds; the autoencoder's own file is no generator; and the
latent trainer, from a trained autoencoder to a checkpoint that generates."""
import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core import checkpoint as ckpt_io
from studio.core.errors import CheckpointError, StudioError
from studio.core.families.base import ImageFormat
from studio.core.families.diffusion import config as bounds
from studio.core.families.diffusion.autoencoder import (
    EXTRAS,
    AutoencoderConfig,
    KLAutoencoder,
    encode_means,
    latent_scale,
)
from studio.core.families.diffusion.family import DiffusionFamily
from studio.core.families.diffusion.train import encode_images, latent_task, load_latent_space
from studio.core.pixels import content_hash, to_signed
from studio.core.request import GenerationRequest
from studio.core.training.trainer import TrainConfig, Trainer
from studio.store.registry import load_model, scan
from tests.conftest import make_tiny_checkpoint, needs_fmnist, single_thread
from tests.core.training.exact import FakeEncoder, assert_resume_is_exact

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ldm_path(tmp_path_factory):
    """An unconditional tiny latent checkpoint: 12x12 grey pixels, a 4x6x6 latent."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ldm") / "ldm.safetensors", cond_dim=0, latent=True)


def load(path, **options) -> DiffusionFamily:
    return DiffusionFamily(ckpt_io.load(path), **options)


def request(model, **changes) -> GenerationRequest:
    return model.default_request().with_(**{"steps": 3, "sampler": "ddim", "seed": 3, **changes})


def test_it_shows_pixels_and_samples_the_latent(ldm_path):
    model = load(ldm_path)
    assert model.image_format == ImageFormat(12, 12, 1, "grey")
    assert model.sample_shape == (4, 6, 6) == (model.model.config.in_channels, 6, 6)
    decoded = []
    decode = model.latent_space.decode
    model.latent_space.decode = lambda z: (decoded.append(z.shape), decode(z))[1]
    frames = list(model.sample(request(model, batch_size=2), want_noisy=True))
    assert len(frames) == 3 and frames[-1].final
    for f in frames:
        assert f.preview.shape == f.noisy.shape == (2, 12, 12, 1) and f.preview.dtype == np.uint8
    assert decoded == [(2, 4, 6, 6)] * 3, "every preview decodes the predicted clean latent"
    assert not np.array_equal(frames[0].preview, frames[-1].preview)


def test_same_seed_same_pixels(ldm_path):
    model = load(ldm_path)
    a = model.generate(request(model))
    assert np.array_equal(a, model.generate(request(model)))
    assert not np.array_equal(a, model.generate(request(model, seed=4)))


def test_linear_previews_differ_but_the_final_image_is_the_same(ldm_path):
    decoding, linear = load(ldm_path), load(ldm_path, latent_preview="linear")
    a = list(decoding.sample(request(decoding)))
    b = list(linear.sample(request(linear)))
    assert any(not np.array_equal(x.preview, y.preview) for x, y in zip(a[:-1], b[:-1]))
    assert np.array_equal(a[-1].preview, b[-1].preview)
    with pytest.raises(ValueError, match="latent_preview"):
        load(ldm_path, latent_preview="vae")


def test_image_to_image_goes_through_the_encoder(ldm_path):
    model = load(ldm_path)
    rng = np.random.default_rng(0)
    image, other = (rng.integers(0, 256, (12, 12, 1), dtype=np.uint8) for _ in range(2))
    r = request(model, init_image=content_hash(image), batch_size=2, strength=0.0)
    kept = model.generate(r, init=image)
    assert kept.shape == (2, 12, 12, 1) and all(np.array_equal(k, image) for k in kept), "strength 0: the input"

    encoded = []
    encode = model.latent_space.encode
    model.latent_space.encode = lambda x: (encoded.append(x.clone()), encode(x))[1]
    half = r.with_(strength=0.7)
    edited = model.generate(half, init=image)
    assert torch.equal(encoded[0], to_signed(image[None]))
    assert np.array_equal(edited, model.generate(half, init=image))
    moved = model.generate(half.with_(init_image=content_hash(other)), init=other)
    assert not np.array_equal(edited, moved), "a different input image, a different result"


def test_config_bounds(ldm_path):
    from dataclasses import asdict

    assert bounds.AUTOENCODER_DEFAULTS == asdict(AutoencoderConfig())
    config = ckpt_io.load(ldm_path).config
    bounds.check_config(config)
    cases = [(("unet", "in_channels"), 1, "unet.in_channels is 1; it must be the autoencoder's latent_channels"),
             (("unet", "image_size"), 12, "unet.image_size is 12; it must be the side of the autoencoder's latent"),
             (("autoencoder", "latent_channels"), 0, "autoencoder.latent_channels"),
             (("autoencoder", "downsample"), 9, "autoencoder.downsample"),
             (("autoencoder", "in_channels"), 2, "autoencoder.in_channels")]
    for (section, key), value, message in cases:
        bad = {**config, section: {**config[section], key: value}}
        with pytest.raises(CheckpointError, match=message):
            bounds.check_config(bad)
    with pytest.raises(CheckpointError, match="autoencoder must be a JSON object"):
        bounds.check_config({**config, "autoencoder": [4]})


def _autoencoder_file(path, channels: int, size: int):
    """An untrained autoencoder saved as 'genstudio train autoencoder' ships it (family "autoencoder")."""
    torch.manual_seed(0)
    cfg = AutoencoderConfig(in_channels=channels, image_size=size, base_channels=4)
    ae = KLAutoencoder(cfg)
    scale = latent_scale(encode_means(ae, torch.rand(4, channels, size, size) * 2 - 1))
    weight, bias = torch.randn(channels, 4), torch.zeros(channels)
    extras = {f"autoencoder.{name}": t for name, t in zip(EXTRAS, (scale, weight, bias))}
    tensors = {f"ema.{k}": v for k, v in ae.state_dict().items()} | extras
    config = {"kind": "autoencoder", "autoencoder": cfg.to_dict(), "dataset": "tiny"}
    return ckpt_io.save(path, family="autoencoder", config=config, tensors=tensors,
                        card={"id": path.stem, "family": "autoencoder"})


def test_the_autoencoders_own_file_is_no_generator(data_dir):
    path = _autoencoder_file(data_dir / "checkpoints" / "ae.safetensors", 1, 12)
    infos, problems = scan([path.parent])
    assert [(i.id, i.family) for i in infos] == [("ae", "autoencoder")] and not problems
    assert scan([path.parent], family="diffusion") == ([], [])
    with pytest.raises(StudioError, match="Unknown model family 'autoencoder'"):
        load_model("ae")
    with pytest.raises(CheckpointError, match="holds a autoencoder model, not a diffusion model"):
        DiffusionFamily.from_checkpoint(path)
    with pytest.raises(CheckpointError, match="reads 12x12 images"):
        load_latent_space(str(path), "fashion-mnist", "cpu")
    with pytest.raises(CheckpointError, match="not an autoencoder"):
        load_latent_space(str(make_tiny_checkpoint(data_dir / "pixels.safetensors")), "shapes", "cpu")


def test_the_trainer_is_told_the_autoencoder_for_latent_data_only():
    with pytest.raises(StudioError, match="--autoencoder"):
        DiffusionFamily.train_task("shapes-latent", encoder=FakeEncoder())
    with pytest.raises(StudioError, match="--autoencoder"):
        DiffusionFamily.train_task("shapes", encoder=FakeEncoder(), autoencoder="ae.safetensors")


def _train(task, out, steps: int = 2) -> list:
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, warmup=1, precision="fp32", log_every=1, sample_every=steps,
                      checkpoint_every=10**9)
    return list(Trainer(task, cfg, out).run())


def test_shapes_latent_training_ships_a_latent_model_that_generates(tmp_path):
    ae_path = _autoencoder_file(tmp_path / "ae-shapes.safetensors", 3, 32)
    task = DiffusionFamily.train_task("shapes-latent", encoder=FakeEncoder(), autoencoder=str(ae_path),
                                      base_channels=8, batch_size=2)
    x, cond = next(task.batches)
    assert x.shape == (2, 4, 8, 8) and cond.shape == (2, 384)
    events = _train(task, tmp_path / "ldm.safetensors")
    grid = next(e.images for e in events if e.kind == "samples")
    assert grid.shape[1:] == (32, 32, 3), "the previews are decoded to pixels"

    ck = ckpt_io.load(next(e.path for e in events if e.kind == "done"), family="diffusion")
    assert ck.config["unet"]["in_channels"] == 4 and ck.config["unet"]["image_size"] == 8
    assert ck.card["latent"] == {"autoencoder": "ae-shapes", "sha256": ckpt_io.file_hash(ae_path),
                                 "shape": [4, 8, 8], "scale": pytest.approx(float(ck.tensors["autoencoder.scale"]), abs=1e-6)}
    shipped = ckpt_io.load(ae_path)
    embedded = {f"autoencoder.{k[4:]}" if k.startswith("ema.") else k: v for k, v in shipped.tensors.items()}
    assert all(torch.equal(ck.tensors[k], v) for k, v in embedded.items()), "the autoencoder travels unchanged"
    model = DiffusionFamily(ck, encoder=FakeEncoder())
    assert model.image_format == ImageFormat(32, 32, 3, "rgb")
    images = model.generate(request(model, prompt="a red circle", batch_size=2))
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8


@pytest.fixture(scope="module")
def fmnist_autoencoder(tmp_path_factory):
    """A Fashion-MNIST autoencoder trained one step by 'genstudio train autoencoder'."""
    out = tmp_path_factory.mktemp("ae") / "ae-fmnist.safetensors"
    with single_thread():
            assert main(["train", "autoencoder", "--data", "fashion-mnist", "--out", str(out), "--steps", "1",
                     "--batch-size", "8", "--limit", "16", "--channels", "4", "--latent-channels", "4",
                     "--quiet"]) == 0
    return out


@needs_fmnist
def test_fashion_mnist_latents_are_encoded_once_and_the_checkpoint_generates(fmnist_autoencoder, tmp_path):
    assert ckpt_io.load(fmnist_autoencoder).family == "autoencoder"
    task = latent_task(FakeEncoder(), autoencoder=str(fmnist_autoencoder), base_channels=8, batch_size=8, limit=20)
    space, _ = load_latent_space(str(fmnist_autoencoder), "fashion-mnist", "cpu")
    from studio.core.data import fashion_mnist

    images = fashion_mnist.load("train", limit=20).images
    latents = encode_images(space, images)
    assert latents.shape == (20, 4, 7, 7) and torch.equal(task.batches.x_all, latents)
    assert torch.allclose(latents, encode_means(space.autoencoder, to_signed(images)) * space.scale)
    events = _train(task, tmp_path / "ldm-fmnist.safetensors")
    model = load_model(str(next(e.path for e in events if e.kind == "done")), encoder=FakeEncoder())
    assert model.image_format == ImageFormat(28, 28, 1, "grey") and model.sample_shape == (4, 7, 7)
    assert model.generate(request(model, prompt="a sneaker")).shape == (1, 28, 28, 1)


@needs_fmnist
def test_fashion_mnist_latent_training_resumes_exactly(fmnist_autoencoder, tmp_path):
    assert_resume_is_exact(lambda: latent_task(FakeEncoder(), autoencoder=str(fmnist_autoencoder), base_channels=8,
                                               batch_size=8, limit=20), tmp_path, steps=4, cut_at=2)
