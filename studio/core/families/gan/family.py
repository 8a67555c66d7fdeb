"""GAN family: a seeded z ~ N(0, I), shrunk by the truncation factor, through the generator. The
latent panel steers z along shipped directions: attribute boundaries found by a classifier
(InterFaceGAN) on the Faces model, principal directions of the first layer (GANSpace) otherwise."""
from __future__ import annotations

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...latent_space.family import LatentFamily, basis_from_checkpoint, map_from_checkpoint
from ...pixels import from_signed
from ..base import register
from .model import GANConfig, Generator


@register
class GANFamily(LatentFamily):
    name = "gan"  # label, controls and samplers come from its CATALOG entry

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu", **_ignored) -> None:
        super().__init__(checkpoint, device)
        try:
            cfg = GANConfig.from_dict(checkpoint.config.get("gan", {}))
        except (TypeError, ValueError) as e:
            raise ckpt_io.CheckpointError(f"{checkpoint.path.name} has an invalid GAN config: {e}") from e
        self.config = cfg
        self.generator = Generator(cfg)
        ckpt_io.load_state(self.generator, checkpoint.group("ema"), checkpoint.path.name)
        self.generator.to(device).eval()
        self._basis = basis_from_checkpoint(checkpoint, cfg.z_dim)
        self._latent_map = map_from_checkpoint(checkpoint)
        self._basis_kind = checkpoint.config.get("latent_basis_kind", "axes")

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .train import gan_task

        return gan_task(dataset, **options)

    pcs_source = "the generator's first layer carried back to the latent (GANSpace), in prior standard deviations"

    @property
    def basis_kind(self) -> str:
        return self._basis_kind

    @property
    def capabilities(self) -> frozenset[str]:
        """Attribute sliders only where a classifier found them (the Faces model)."""
        caps = self.info.capabilities
        return caps if self._basis_kind.startswith("attributes") else caps - {"attributes"}

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    @torch.no_grad()
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents -> (N, H, W, C) uint8. The prompt is ignored: this GAN is unconditional."""
        return from_signed(self.generator(torch.from_numpy(self.check_latent(z)).to(self.device)))
