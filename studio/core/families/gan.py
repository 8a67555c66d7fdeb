"""GAN family: a seeded z ~ N(0, I), shrunk by the truncation factor, through the generator. The
latent panel steers z along shipped directions: attribute boundaries found by a classifier
(InterFaceGAN) on the Faces model, principal directions of the first layer (GANSpace) otherwise."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from ..device import to_uint8
from ..errors import StudioError
from ..events import Frame
from ..gan import Generator, GANConfig
from ..request import GenerationRequest
from .base import Family, register
from .latent_family import basis_from_checkpoint, map_from_checkpoint, prior_latents


@register
class GANFamily(Family):
    name = "gan"  # label, controls and samplers come from its CATALOG entry
    conditional = False

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu") -> None:
        super().__init__(checkpoint, device)
        try:
            cfg = GANConfig.from_dict(checkpoint.config.get("gan", {}))
        except (TypeError, ValueError) as e:
            raise ckpt_io.CheckpointError(f"{checkpoint.path.name} has an invalid GAN config: {e}") from e
        self.config = cfg
        self.generator = Generator(cfg)
        ckpt_io.load_state(self.generator, checkpoint.group("ema"), checkpoint.path.name)
        self.generator.to(device).eval()
        self.basis = basis_from_checkpoint(checkpoint, cfg.z_dim)
        self.latent_map = map_from_checkpoint(checkpoint)
        self.basis_kind = checkpoint.config.get("latent_basis_kind", "axes")

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", **_ignored):
        return cls(ckpt_io.load(path, family=cls.name), device)

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .gan_train import gan_task

        return gan_task(dataset, **options)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.config.image_size, self.config.image_size

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    @torch.no_grad()
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents -> (N, H, W, C) uint8. The prompt is ignored: this GAN is unconditional."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        if z.shape[1] != self.latent_dim:
            raise StudioError(f"This GAN has a {self.latent_dim}-D latent; got a vector of {z.shape[1]} values.")
        return to_uint8(self.generator(torch.from_numpy(z).to(self.device)))

    def sample(self, request: GenerationRequest, *, want_noisy: bool = False) -> Iterator[Frame]:
        req = request.validated()
        if req.latent:
            z = np.asarray(req.latent, np.float32)[None]
        else:  # the truncation trick: a shorter z trades diversity for typical, cleaner images
            z = prior_latents(req.seed, req.batch_size, self.latent_dim) * req.truncation
        yield Frame(1, 1, self.decode(z), final=True)

    def generate(self, request: GenerationRequest) -> np.ndarray:
        return next(iter(self.sample(request))).preview
