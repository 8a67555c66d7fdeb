"""Shared fixtures: tiny models and an isolated user data folder, so tests run in seconds."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Tiny networks: more torch threads only add overhead (and contention on a shared machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture
def one_thread():
    with single_thread():
        yield


FMNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(not (FMNIST / "train-labels-idx1-ubyte.gz").exists(),
                                  reason="Debian's dataset-fashion-mnist is not installed")


def make_tiny_checkpoint(path: Path, *, cond_dim: int = 384, seed: int = 0, image_size: int = 12,
                         channels: int = 1, tokens: bool = False, arch: str = "unet",
                         prediction: str = "epsilon", latent: bool = False) -> Path:
    """An untrained but complete diffusion checkpoint: a few thousand parameters. ``tokens``: it
    cross-attends to the prompt's token embeddings; ``arch`` 'dit': a DiT instead of a U-Net;
    ``latent``: latent diffusion, the denoiser sampling the 4x6x6 latent of an embedded tiny (random)
    autoencoder of image_size x image_size pixels."""
    import torch

    from studio.core import checkpoint
    from studio.core.denoising.schedule import ScheduleConfig
    from studio.core.denoising.unet import UNetConfig
    from studio.core.families.diffusion.dit import DiTConfig
    from studio.core.families.diffusion.model import build

    torch.manual_seed(seed)
    context = cond_dim if tokens else 0
    config = {"arch": arch, "schedule": ScheduleConfig().__dict__, "dataset": "tiny", "prediction": prediction}
    extra: dict = {}
    if latent:
        config["autoencoder"], extra = _tiny_autoencoder(channels, image_size)
        channels, image_size = 4, (image_size + 1) // 2  # the denoiser samples the latent
    if arch == "dit":
        config["dit"] = DiTConfig(in_channels=channels, image_size=image_size, patch_size=4, hidden=16, depth=1,
                                  heads=2, cond_dim=cond_dim, context_dim=context).to_dict()
    else:
        config["unet"] = UNetConfig(in_channels=channels, image_size=image_size, base_channels=8, channel_mult=(1, 2),
                                    attention_levels=(1,), cond_dim=cond_dim, emb_dim=16,
                                    context_dim=context).to_dict()
    model, _ = build(config)
    with torch.no_grad():  # the zero-initialised output layer would make every sample identical
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    tensors = {f"ema.{k}": v for k, v in model.state_dict().items()} | extra
    return checkpoint.save(path, family="diffusion", config=config, tensors=tensors,
                           card={"id": path.stem, "family": "diffusion", "data": {"dataset": "tiny"}})


def _tiny_autoencoder(channels: int, image_size: int) -> tuple[dict, dict]:
    """(config, tensors under "autoencoder.") of an untrained KL autoencoder with one downsampling
    stage (image_size -> image_size / 2, 4 latent channels), its scale and preview map measured on
    random images as training measures them."""
    import torch

    from studio.core.families.diffusion import autoencoder as ae

    cfg = ae.AutoencoderConfig(in_channels=channels, image_size=image_size, latent_channels=4, base_channels=4,
                               downsample=1)
    model = ae.KLAutoencoder(cfg).eval()
    images = torch.rand(8, channels, image_size, image_size) * 2 - 1
    means = ae.encode_means(model, images)
    scale = ae.latent_scale(means)
    weight, bias = ae.fit_linear_preview(means * scale, images)
    return cfg.to_dict(), ae.autoencoder_state(model, scale, weight, bias, "autoencoder")


def make_tiny_vae(path: Path, *, latent_dim: int = 2, cond_dim: int = 0, directions: int = 0,
                  map_points: int = 30, seed: int = 0) -> Path:
    """An untrained VAE checkpoint of 12x12 grayscale images, with the extras a trained one ships:
    a principal-direction basis (when ``directions``) and encoded points for the latent map."""
    import numpy as np
    import torch

    from studio.core import checkpoint
    from studio.core.families.vae.model import VAE, VAEConfig
    from studio.core.latent_space.basis import LatentBasis

    torch.manual_seed(seed)
    cfg = VAEConfig(image_size=12, channels=1, latent_dim=latent_dim, hidden=(4, 8), fc_dim=16,
                    cond_dim=cond_dim, cond_features=8)
    model = VAE(cfg)
    tensors = {f"ema.{k}": v for k, v in model.state_dict().items()}
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((map_points, latent_dim)).astype(np.float32)
    if directions:
        basis = LatentBasis.principal(points * np.linspace(2, 0.5, latent_dim, dtype=np.float32), directions)
        tensors.update({"latent.directions": torch.from_numpy(basis.directions),
                        "latent.origin": torch.from_numpy(basis.origin),
                        "latent.scales": torch.from_numpy(basis.scales),
                        "latent.explained": torch.from_numpy(basis.explained)})
    tensors["map.points"] = torch.from_numpy(points)
    tensors["map.labels"] = torch.from_numpy(rng.integers(0, 10, map_points))
    config = {"vae": cfg.to_dict(), "likelihood": "bernoulli", "dataset": "tiny",
              "map": {"class_names": [f"class {k}" for k in range(10)], "source": "random points"}}
    return checkpoint.save(path, family="vae", config=config, tensors=tensors,
                           card={"id": path.stem, "family": "vae", "data": {"dataset": "tiny"}})


def make_tiny_gan(path: Path, *, z_dim: int = 8, seed: int = 0, mapping: int = 0) -> Path:
    """An untrained 12x12 RGB GAN generator with an attribute-style slider basis, as a trained Faces
    GAN ships it: two named attribute directions and two principal ones, orthonormal. ``mapping``:
    layers of a StyleGAN mapping network (its sliders then move w)."""
    import numpy as np
    import torch

    from studio.core import checkpoint
    from studio.core.families.gan.model import GANConfig, Generator
    from studio.core.latent_space.basis import LatentBasis
    from studio.core.latent_space.family import basis_tensors

    torch.manual_seed(seed)
    cfg = GANConfig(image_size=12, channels=3, z_dim=z_dim, g_channels=4, d_channels=4, mapping=mapping)
    gen = Generator(cfg).eval()
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((z_dim, 4)))
    names = ["smile", "glasses", "PC1", "PC2"]
    basis = LatentBasis(names, q.T.astype(np.float32), np.zeros(z_dim, np.float32), np.ones(4, np.float32))
    tensors = {f"ema.{k}": v for k, v in gen.state_dict().items()} | basis_tensors(basis)
    config = {"gan": cfg.to_dict(), "dataset": "tiny", "latent_basis_names": names,
              "latent_basis_kind": "attributes+pcs"}
    return checkpoint.save(path, family="gan", config=config, tensors=tensors,
                           card={"id": path.stem, "family": "gan", "data": {"dataset": "tiny"}})


def make_tiny_pixelcnn(path: Path, *, cond_dim: int = 384, seed: int = 0, image_size: int = 12,
                       levels: int = 2, output: str | None = None, mixtures: int = 3) -> Path:
    """An untrained prompt-conditioned Gated PixelCNN of 12x12 images: binary ones, with a config as
    checkpoints had before grey levels (no output head named), unless ``levels`` or ``output`` say
    otherwise (``levels`` 256 for 8-bit grey; ``output`` "softmax" or "logistic")."""
    import torch

    from studio.core import checkpoint
    from studio.core.families.autoregressive.pixelcnn import GatedPixelCNN, PixelCNNConfig

    torch.manual_seed(seed)
    cfg = PixelCNNConfig(image_size=image_size, levels=levels, channels=8, layers=2, head=8, first_kernel=5,
                         cond_dim=cond_dim, output=output or "softmax", mixtures=mixtures)
    model = GatedPixelCNN(cfg)
    arch = cfg.to_dict()
    if output is None:  # as old files are: written before the head was a choice
        del arch["output"], arch["mixtures"]
    config = {"arch": "pixelcnn", "pixelcnn": arch, "dataset": "tiny"}
    return checkpoint.save(path, family="autoregressive", config=config,
                           tensors={f"ema.{k}": v for k, v in model.state_dict().items()},
                           card={"id": path.stem, "family": "autoregressive", "data": {"dataset": "tiny"}})


def make_tiny_ar_transformer(path: Path, *, cond_dim: int = 384, seed: int = 0, image_size: int = 12,
                             likelihood: str | None = None, downsample: int = 4, mixtures: int = 1) -> Path:
    """An untrained image transformer over the codes of an untrained 12x12 VQ-VAE (a 3x3 code grid),
    bundled in one file as the trainer ships it: a binary tokenizer with a config as files had before
    the decoder was a choice, unless ``likelihood`` ("bernoulli" or "logistic": a grey tokenizer) says
    otherwise (then ``downsample`` 2 gives a 6x6 grid, and ``mixtures`` the logistic components)."""
    import torch

    from studio.core import checkpoint
    from studio.core.families.autoregressive.transformer import ImageTransformer, TransformerConfig
    from studio.core.families.autoregressive.vqvae import VQVAE, VQVAEConfig

    torch.manual_seed(seed)
    vq_cfg = VQVAEConfig(image_size=image_size, hidden=8, codes=16, code_dim=4, likelihood=likelihood or "bernoulli",
                         downsample=downsample, mixtures=mixtures)
    cfg = TransformerConfig(vocab=16, grid=vq_cfg.grid, dim=16, layers=2, heads=2, prefix=2, cond_dim=cond_dim)
    vq, model = VQVAE(vq_cfg), ImageTransformer(cfg)
    vq_dict = vq_cfg.to_dict()
    if likelihood is None:  # as old files are: written before the decoder was a choice
        del vq_dict["likelihood"], vq_dict["downsample"], vq_dict["mixtures"]
    config = {"arch": "transformer", "transformer": cfg.to_dict(), "vqvae": vq_dict, "dataset": "tiny"}
    tensors = {f"ema.{k}": v for k, v in model.state_dict().items()} | {f"vq.{k}": v for k, v in vq.state_dict().items()}
    return checkpoint.save(path, family="autoregressive", config=config, tensors=tensors,
                           card={"id": path.stem, "family": "autoregressive", "data": {"dataset": "tiny"}})


def make_tiny_video(path: Path, *, seed: int = 0, image_size: int = 8, frames: int = 4, tokens: bool = True,
                    conditioning_frames: bool = True) -> Path:
    """An untrained text-to-video checkpoint: ``frames`` frames of image_size x image_size RGB, a
    two-level space-time U-Net of a few thousand parameters."""
    import torch

    from studio.core import checkpoint
    from studio.core.denoising.schedule import ScheduleConfig
    from studio.core.denoising.unet import UNetConfig
    from studio.core.families.video.model import VideoConfig, build

    torch.manual_seed(seed)
    config = {"arch": "video-unet", "schedule": ScheduleConfig().__dict__, "dataset": "tiny", "prediction": "epsilon",
              "unet": UNetConfig(in_channels=3, image_size=image_size, base_channels=8, channel_mult=(1, 2),
                                 attention_levels=(1,), cond_dim=384, emb_dim=16,
                                 context_dim=384 if tokens else 0).to_dict(),
              "video": VideoConfig(frames=frames, temporal_levels=(1,), heads=2,
                                   conditioning_frames=conditioning_frames).to_dict()}
    model, _ = build(config)
    with torch.no_grad():  # zero-initialised output layers would make every sample identical
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return checkpoint.save(path, family="video", config=config,
                           tensors={f"ema.{k}": v for k, v in model.state_dict().items()},
                           card={"id": path.stem, "family": "video", "data": {"dataset": "tiny"}})


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty user data folder (gallery, queue, settings, user checkpoints)."""
    d = tmp_path / "userdata"
    d.mkdir()
    monkeypatch.setenv("GENSTUDIO_DATA_DIR", str(d))
    return d


@pytest.fixture
def tiny_ckpt(data_dir) -> Path:
    """A tiny diffusion checkpoint registered in the user's checkpoint folder."""
    return make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-diffusion.safetensors")


@pytest.fixture
def tiny_vae(data_dir) -> Path:
    """A tiny 2-D VAE checkpoint registered in the user's checkpoint folder."""
    return make_tiny_vae(data_dir / "checkpoints" / "tiny-vae.safetensors")


@pytest.fixture
def tiny_gan(data_dir) -> Path:
    """A tiny GAN checkpoint registered in the user's checkpoint folder."""
    return make_tiny_gan(data_dir / "checkpoints" / "tiny-gan.safetensors")


@pytest.fixture
def tiny_pixelcnn(data_dir) -> Path:
    return make_tiny_pixelcnn(data_dir / "checkpoints" / "tiny-pixelcnn.safetensors")


@pytest.fixture
def tiny_ar_transformer(data_dir) -> Path:
    return make_tiny_ar_transformer(data_dir / "checkpoints" / "tiny-ar-transformer.safetensors")


@pytest.fixture
def tiny_video(data_dir) -> Path:
    """A tiny text-to-video checkpoint (4 frames of 8x8 RGB) registered in the user's checkpoint folder."""
    return make_tiny_video(data_dir / "checkpoints" / "tiny-video.safetensors")


@pytest.fixture
def studio_window(qtbot):
    """Opens the real main window on a registered checkpoint; afterwards cancels its job and closes
    it cleanly. ``every_frame``: the tiny models outrun the screen, so see every step in tests."""
    windows = []

    def open_window(family: str, checkpoint: str, *, every_frame: bool = False):
        from studio.ui.app import build_window

        w = build_window(preload=False)
        qtbot.addWidget(w)
        w.show()
        assert w.model_panel.select(family, checkpoint)
        if every_frame:
            w.controller.preview_interval = 0
        windows.append(w)
        return w

    yield open_window
    for w in windows:
        w.controller.cancel()
        qtbot.waitUntil(lambda: not w.controller.busy, timeout=120_000)
        w.latent.shutdown()
        w.store.close()


@pytest.fixture
def latent_window(qtbot):
    """Opens the real main window on a latent-family checkpoint, once its model is loaded and the
    first vector decoded; closes it cleanly (generation, latent and training threads) afterwards."""
    windows = []
    timeout = 60_000

    def open_window(family: str, checkpoint: str):
        from studio.ui.app import build_window

        w = build_window(preload=False)
        qtbot.addWidget(w)
        w.show()
        assert w.model_panel.select(family, checkpoint)
        qtbot.waitUntil(lambda: w.latent.model is not None and w.latent.last_z is not None, timeout=timeout)
        windows.append(w)
        return w

    yield open_window
    for w in windows:
        w.controller.cancel()
        w.training.stop()
        qtbot.waitUntil(lambda: not w.controller.busy and not w.training.busy, timeout=timeout)
        w.latent.shutdown()
        w.store.close()


@pytest.fixture
def tiny_toy(data_dir):
    """The tests' toy family (tests/families/toy.py) registered for this test only, as a plugin would
    register itself, and a checkpoint of it in the user's checkpoint folder."""
    from tests.families.toy import make_toy_checkpoint, registered

    with registered():
        yield make_toy_checkpoint(data_dir / "checkpoints" / "toy-pattern.safetensors")
