"""VAE family: sampling draws z from the standard-normal prior and runs the decoder alone; the
latent panel decodes hand-set vectors, encodes dropped images and walks between latents."""
from __future__ import annotations

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...errors import StudioError
from ...latent_space.family import (  # noqa: F401
    MIN_EXPLAINED,
    LatentFamily,
    LatentMap,
    basis_from_checkpoint,
    map_from_checkpoint,
    prior_latents,
)
from ...pixels import from_unit, to_unit
from ...prompt.encoder import PromptEncoder
from ..base import PromptConditioned, register
from .model import VAE, VAEConfig


@register
class VAEFamily(PromptConditioned, LatentFamily):
    name = "vae"  # label, controls and samplers come from its CATALOG entry
    eval_sampler = "prior -> decoder mean"

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                 encoder: PromptEncoder | None = None) -> None:
        super().__init__(checkpoint, device)
        try:
            cfg = VAEConfig.from_dict(checkpoint.config.get("vae", {}))
        except (TypeError, ValueError) as e:
            raise ckpt_io.CheckpointError(f"{checkpoint.path.name} has an invalid VAE config: {e}") from e
        self.model = VAE(cfg)
        ckpt_io.load_state(self.model, checkpoint.group("ema") or checkpoint.group("model"), checkpoint.path.name)
        self.model.to(device).eval()
        self.config = cfg
        self._encoder = encoder
        self._basis = basis_from_checkpoint(checkpoint, cfg.latent_dim)
        self._latent_map = map_from_checkpoint(checkpoint)

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .train import fashion_mnist_task

        if dataset != "fashion-mnist":
            raise StudioError(f"Unknown data set {dataset!r}; the VAE trainer knows: fashion-mnist.")
        return fashion_mnist_task(**options)

    # --- properties ---------------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def likelihood(self, data_dir: str | None = None, **options) -> dict:
        """ELBO, importance-weighted NLL and reconstruction error on binarised Fashion-MNIST."""
        from .eval import likelihood

        return likelihood(self, data_dir, **options)

    # --- decoding and encoding ------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents -> (N, H, W, C) uint8 decoder means."""
        z = self.check_latent(z)
        return from_unit(self.model.decode(torch.from_numpy(z).to(self.device), self._cond(prompt, len(z))))

    @torch.no_grad()
    def encode(self, images: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, H, W, C) uint8 in the model's size and channels -> (N, D) posterior means."""
        x = to_unit(images).to(self.device) if np.ndim(images) in (3, 4) else None
        f = self.image_format
        if x is None or tuple(x.shape[1:]) != (f.channels, f.height, f.width):
            raise StudioError(f"Expected {f.width}x{f.height} images with {f.channels} channel(s), "
                              f"got {tuple(np.shape(images))}.")
        mu, _ = self.model.encode(x, self._cond(prompt, len(x)))
        return mu.float().cpu().numpy()
