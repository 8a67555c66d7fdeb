"""The family contract (tests/families/contract.py) run over every family's tiny checkpoint: each
subclass only says how to make the checkpoint and how the family's requests differ."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.catalog import CATALOG
from tests.conftest import (
    make_tiny_ar_transformer,
    make_tiny_checkpoint,
    make_tiny_gan,
    make_tiny_pixelcnn,
    make_tiny_vae,
    make_tiny_video,
)
from tests.families import toy
from tests.families.contract import FamilyContract, raster

pytestmark = pytest.mark.usefixtures("one_thread")


def make_28px_vae(path: Path) -> Path:
    """An untrained unconditional VAE of Fashion-MNIST's size, for the likelihood."""
    from studio.core import checkpoint
    from studio.core.families.vae.model import VAE, VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig(image_size=28, channels=1, latent_dim=2, hidden=(4, 8), fc_dim=16, cond_dim=0)
    tensors = {f"ema.{k}": v for k, v in VAE(cfg).state_dict().items()}
    return checkpoint.save(path, family="vae", config={"vae": cfg.to_dict(), "likelihood": "bernoulli"},
                           tensors=tensors)


def make_28px_ar_transformer(path: Path) -> Path:
    """An untrained unconditional transformer over a 7x7 grid of VQ-VAE codes, for the likelihood."""
    from studio.core import checkpoint
    from studio.core.families.autoregressive.transformer import ImageTransformer, TransformerConfig
    from studio.core.families.autoregressive.vqvae import VQVAE, VQVAEConfig

    torch.manual_seed(0)
    vq_cfg = VQVAEConfig(image_size=28, hidden=8, codes=16, code_dim=4)
    cfg = TransformerConfig(vocab=16, grid=vq_cfg.grid, dim=16, layers=1, heads=2, prefix=2, cond_dim=0)
    config = {"arch": "transformer", "transformer": cfg.to_dict(), "vqvae": vq_cfg.to_dict()}
    tensors = ({f"ema.{k}": v for k, v in ImageTransformer(cfg).state_dict().items()}
               | {f"vq.{k}": v for k, v in VQVAE(vq_cfg).state_dict().items()})
    return checkpoint.save(path, family="autoregressive", config=config, tensors=tensors)


class TestDiffusionContract(FamilyContract):
    info = CATALOG["diffusion"]
    request_changes = {"steps": 3, "sampler": "ddim", "guidance": 2.5}
    batch_tolerance = 1  # the U-Net's float sums differ with the batch size

    def make_checkpoint(self, path):
        return make_tiny_checkpoint(path)


class TestDiffusionDDPMContract(TestDiffusionContract):
    """The stochastic sampler draws its per-step noise from each image's own generator too."""

    request_changes = {"steps": 3, "sampler": "ddpm"}


class TestDiffusionTokensContract(TestDiffusionContract):
    """A U-Net that cross-attends to the prompt's tokens and predicts v."""

    request_changes = {"steps": 3, "sampler": "dpm++2m", "guidance": 2.5}

    def make_checkpoint(self, path):
        return make_tiny_checkpoint(path, tokens=True, prediction="v")


class TestDiTContract(TestDiffusionContract):
    """The DiT backbone, reading tokens, behind the same family."""

    request_changes = {"steps": 3, "sampler": "euler", "guidance": 2.5}

    def make_checkpoint(self, path):
        return make_tiny_checkpoint(path, tokens=True, arch="dit")


class TestLatentDiffusionContract(TestDiffusionContract):
    """Latent diffusion: the U-Net samples an embedded autoencoder's latent, the family shows pixels."""

    def make_checkpoint(self, path):
        return make_tiny_checkpoint(path, latent=True)


class TestVAEContract(FamilyContract):
    info = CATALOG["vae"]
    batch_tolerance = 1

    def make_checkpoint(self, path):
        return make_tiny_vae(path)

    def likelihood_checkpoint(self, path):
        return make_28px_vae(path)


class TestGANContract(FamilyContract):
    info = CATALOG["gan"]
    request_changes = {"truncation": 0.7}
    batch_tolerance = 1  # exact for small batches; a batch of 16 takes other float paths in the generator

    def make_checkpoint(self, path):
        return make_tiny_gan(path)


class TestGANMappingContract(TestGANContract):
    """A GAN with a StyleGAN mapping network: its latent (and sliders) are w."""

    def make_checkpoint(self, path):
        return make_tiny_gan(path, mapping=2)


class TestPixelCNNContract(FamilyContract):
    info = CATALOG["autoregressive"]
    request_changes = {"sampler": "cached", "temperature": 0.9, "top_k": 2}

    def make_checkpoint(self, path):
        return make_tiny_pixelcnn(path)

    def likelihood_checkpoint(self, path):
        return make_tiny_pixelcnn(path, cond_dim=0, image_size=28)


class TestGreyPixelCNNContract(TestPixelCNNContract):
    """8-bit grey levels through PixelCNN++'s discretised logistic mixture head."""

    def make_checkpoint(self, path):
        return make_tiny_pixelcnn(path, levels=256, output="logistic")

    def likelihood_checkpoint(self, path):
        return make_tiny_pixelcnn(path, cond_dim=0, image_size=28, levels=256, output="logistic")


class TestARTransformerContract(FamilyContract):
    info = CATALOG["autoregressive"]
    request_changes = {"sampler": "cached", "top_p": 0.9}
    rows = 3  # a 12x12 image is a 3x3 grid of VQ-VAE codes, drawn a row of codes at a time
    def make_checkpoint(self, path):
        return make_tiny_ar_transformer(path)

    def likelihood_checkpoint(self, path):
        return make_28px_ar_transformer(path)

    def check_redraw(self, model, req, **_) -> None:
        """The transformer's positions are codes: a redraw keeps every code before the code that holds
        the clicked pixel (the VQ-VAE decoder mixes neighbouring codes, so the pixels near that code
        may change with it: the promise is about what is drawn, the codes)."""
        self.test_a_redraw_keeps_every_code_before_the_code_of_its_position(model, req)

    def test_a_redraw_keeps_every_code_before_the_code_of_its_position(self, model, req):
        """What the transformer keeps: the codes drawn before the redrawn one."""
        drawn = []
        decode = model.decode_codes
        model.decode_codes = lambda codes: (drawn.append(codes.clone()), decode(codes))[1]
        f = model.image_format
        position = (f.height // 2) * f.width + f.width // 3
        [(code, _)] = model.code_redraws(((position, 777),))
        base = model.generate(req)
        base_codes = drawn[-1].flatten(1)
        again = model.generate(req.redrawn_from(position, 777))
        again_codes = drawn[-1].flatten(1)
        assert np.array_equal(again_codes[:, :code], base_codes[:, :code])
        assert not np.array_equal(again_codes[:, code:], base_codes[:, code:])
        assert not np.array_equal(raster(again), raster(base))


class TestGreyARTransformerContract(TestARTransformerContract):
    """A transformer over a tokenizer whose decoder draws grey levels (a discretised logistic)."""

    def make_checkpoint(self, path):
        return make_tiny_ar_transformer(path, likelihood="logistic")

    def likelihood_checkpoint(self, path):
        return make_tiny_ar_transformer(path, cond_dim=0, image_size=28, likelihood="logistic")


class TestToyContract(FamilyContract):
    """A family defined in the tests (tests/families/toy.py), registered only for each test."""

    info = toy.TOY
    request_changes = {"steps": 2}

    def registration(self):
        return toy.registered()

    def make_checkpoint(self, path):
        return toy.make_toy_checkpoint(path)


class TestVideoContract(FamilyContract):
    """Video diffusion: every image is a filmstrip, an input image is the first frame."""

    info = CATALOG["video"]
    request_changes = {"steps": 3, "sampler": "ddim", "guidance": 2.5}
    batch_tolerance = 1

    def make_checkpoint(self, path):
        return make_tiny_video(path)


class TestVideoDPMContract(TestVideoContract):
    """A multistep sampler, and a model without token cross-attention (the pooled prompt only)."""

    request_changes = {"steps": 4, "sampler": "dpm++2m", "guidance": 2.0}

    def make_checkpoint(self, path):
        return make_tiny_video(path, tokens=False)


class TestPipelineContract(FamilyContract):
    """A Stable Diffusion-class pipeline the user brings (a tiny random diffusers folder, built once and
    registered in the user's data folder): width and height are the request's, not the model's."""

    info = CATALOG["pipeline"]
    request_changes = {"steps": 3, "sampler": "ddim", "guidance": 2.5}
    batch_tolerance = 1  # the U-Net's float sums differ with the batch size

    def make_checkpoint(self, path):
        pytest.importorskip("diffusers")
        from studio.store.registry import add_pipeline
        from tests.families.pipeline.tiny import shared

        folder = shared(self.checkpoint_id)
        assert add_pipeline(folder).id == self.checkpoint_id
        return folder
