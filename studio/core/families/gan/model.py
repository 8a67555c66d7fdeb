"""A small DCGAN-style generator and a spectrally normalised discriminator (Miyato et al. 2018),
with the hinge loss (Lim & Ye 2017) or the non-saturating loss (Goodfellow et al. 2014).

The generator maps z ~ N(0, I) to an image in [-1, 1]; the discriminator is a real-or-fake critic
that returns one logit per image."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ...configs import DictConfig


@dataclass(frozen=True)
class GANConfig(DictConfig):
    image_size: int = 28  # divisible by 4
    channels: int = 1
    z_dim: int = 64
    g_channels: int = 64  # generator width at the smallest resolution is 4x this... halved per upsample
    d_channels: int = 64
    loss: str = "hinge"  # or "nonsaturating"

    def __post_init__(self) -> None:
        if self.image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {self.image_size}")
        if self.loss not in ("hinge", "nonsaturating"):
            raise ValueError(f"loss must be 'hinge' or 'nonsaturating', got {self.loss!r}")


class Generator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        self.config = c
        s, w = c.image_size // 4, c.g_channels
        self._start = (4 * w, s, s)
        self.fc = nn.Sequential(nn.Linear(c.z_dim, 4 * w * s * s), nn.BatchNorm1d(4 * w * s * s), nn.ReLU())
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * w, 2 * w, 3, 1, 1),
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, w, 3, 1, 1),
            nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, c.channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(-1, *self._start))

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """The first layer's activations: where GANSpace looks for principal directions."""
        return self.fc(z)


class Discriminator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        w, s = c.d_channels, c.image_size // 4
        sn = spectral_norm
        self.body = nn.Sequential(
            sn(nn.Conv2d(c.channels, w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * w, 4 * w, 3, 1, 1)), nn.LeakyReLU(0.2), nn.Flatten(),
            sn(nn.Linear(4 * w * s * s, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten()


class GAN(nn.Module):
    """Both players in one module, so the shared trainer can checkpoint and resume them together."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """The critic's loss on real and generated logits."""
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # -log D(x) - log(1 - D(G(z)))


def generator_loss(fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """The generator's loss on the critic's logits for its images."""
    if kind == "hinge":
        return -fake.mean()
    return F.softplus(-fake).mean()  # -log D(G(z)): the non-saturating form
