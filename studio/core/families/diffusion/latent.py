"""The pixel side of a latent diffusion checkpoint (Rombach et al. 2022): the KL autoencoder it embeds
under ``autoencoder.*`` (config ``config["autoencoder"]``), and the maps between pixels and the scaled
latent the denoiser samples in. The denoiser only ever sees ``scale * z``; everything that shows an
image goes through ``decode`` (or the cheap linear ``preview``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ... import checkpoint as ckpt_io
from .autoencoder import KLAutoencoder, encode_means, linear_preview, load_autoencoder

PREFIX = "autoencoder"  # where a latent diffusion checkpoint keeps its autoencoder's tensors


@dataclass
class LatentSpace:
    autoencoder: KLAutoencoder  # in eval mode, gradients off
    scale: torch.Tensor  # () : the denoiser works on scale * posterior mean
    preview_weight: torch.Tensor  # (pixel channels, latent channels), reads scaled latents
    preview_bias: torch.Tensor  # (pixel channels,)

    @classmethod
    def from_checkpoint(cls, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                        prefix: str | None = PREFIX) -> "LatentSpace":
        """From a latent diffusion checkpoint, or with ``prefix`` None the autoencoder's own file."""
        ae, scale, weight, bias = load_autoencoder(checkpoint, prefix=prefix)
        return cls(ae.to(device), scale.to(device), weight.to(device), bias.to(device))

    @property
    def channels(self) -> int:
        """The pixel images' channels (1 grey, 3 RGB)."""
        return self.autoencoder.config.in_channels

    @property
    def image_size(self) -> int:
        """The pixel images' side."""
        return self.autoencoder.config.image_size

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return self.autoencoder.config.latent_shape

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] (N, C, S, S) -> their scaled posterior means (N, *latent_shape): the mean,
        not a sample, so the same image always gives the same latent."""
        return encode_means(self.autoencoder, x).to(self.scale.device) * self.scale

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latents -> images in [-1, 1] terms (unclamped: from_signed clamps)."""
        return self.autoencoder.decode(z.float() / self.scale).float()

    def preview(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latents -> a blocky image through the fitted linear map: no decoder pass."""
        return linear_preview(z.float(), self.preview_weight, self.preview_bias, self.image_size)
