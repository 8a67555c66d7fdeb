"""GAN family: a seeded z ~ N(0, I), shrunk by the truncation factor, through the generator. The
latent panel steers z along shipped directions: attribute boundaries found by a classifier
(InterFaceGAN) on the Faces model, principal directions of the first layer (GANSpace) otherwise.

With a mapping network (config ``mapping`` > 0) the family's latent is w, not z: a seed's draw is
w = mapping(z) of the seed's z, truncation shrinks it towards the mean w (StyleGAN's truncation in
W), and decoding runs only the synthesis network. So a request's latent vector (a w) or, without
one, its seed and truncation, still say exactly which image it is, and the sliders (principal
directions of w, or attribute directions fitted on w) move w itself."""
from __future__ import annotations

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...latent_space.family import LatentFamily, basis_from_checkpoint, map_from_checkpoint, prior_latents
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

    @property
    def in_w(self) -> bool:
        """Whether the latent is a mapping network's w (else the generator reads z directly)."""
        return self.generator.mapping is not None

    @property
    def pcs_source(self) -> str:
        if self.in_w:
            return "w, the mapping network's output (GANSpace in W), in standard deviations of w along each"
        return "the generator's first layer carried back to the latent (GANSpace), in prior standard deviations"

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
        return self.config.z_dim  # w has as many values as z

    @torch.no_grad()
    def prior_latents(self, seed: int, n: int, truncation: float = 1.0) -> np.ndarray:
        """The seeds' latents: z scaled by the truncation, or with a mapping network w = mapping(z)
        moved towards the mean w by it."""
        if not self.in_w:
            return super().prior_latents(seed, n, truncation)
        z = torch.from_numpy(prior_latents(seed, n, self.latent_dim)).to(self.device)
        # One row at a time: a batched matrix product may round differently, and image i of seed s must
        # be image 0 of seed s + i to the last bit.
        w = torch.cat([self.generator.map(z[i:i + 1]) for i in range(n)]) if n else self.generator.map(z)
        w_avg = self.generator.mapping.w_avg
        return (w_avg + truncation * (w - w_avg)).float().cpu().numpy()

    @torch.no_grad()
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents (w with a mapping network, else z) -> (N, H, W, C) uint8. The prompt
        is ignored: this GAN is unconditional."""
        return from_signed(self.generator.synthesis(torch.from_numpy(self.check_latent(z)).to(self.device)))
