"""A small DCGAN-style generator and a spectrally normalised discriminator (Miyato et al. 2018),
with the hinge loss (Lim & Ye 2017) or the non-saturating loss (Goodfellow et al. 2014), and the R1
gradient penalty (Mescheder et al. 2018).

The generator maps z ~ N(0, I) to an image in [-1, 1]; with ``mapping`` layers it first maps z to an
intermediate latent w by an MLP, as StyleGAN does (Karras et al. 2019), and the synthesis network
reads w. The discriminator is a real-or-fake critic that returns one logit per image."""
from __future__ import annotations

from collections.abc import Callable
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
    mapping: int = 0  # layers of the z -> w mapping MLP (w has z_dim values); 0: none, the generator reads z

    def __post_init__(self) -> None:
        if self.image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {self.image_size}")
        if self.loss not in ("hinge", "nonsaturating"):
            raise ValueError(f"loss must be 'hinge' or 'nonsaturating', got {self.loss!r}")
        if self.mapping < 0:
            raise ValueError(f"mapping must not be negative, got {self.mapping}")


class Mapping(nn.Module):
    """StyleGAN's mapping network: z, normalised to the sphere of radius sqrt(D), through ``layers``
    fully connected layers with leaky ReLUs. ``w_avg`` is the mean of w, measured on the trained
    network when it is shipped: the centre that truncation in W shrinks towards."""

    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.net = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(dim, dim), nn.LeakyReLU(0.2))])
        for m in self.net:
            if isinstance(m, nn.Linear):  # variance-preserving through the leaky ReLUs: w stays of unit scale
                nn.init.kaiming_normal_(m.weight, a=0.2)
                nn.init.zeros_(m.bias)
        self.register_buffer("w_avg", torch.zeros(dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8))


class Generator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        self.config = c
        s, w = c.image_size // 4, c.g_channels
        self._start = (4 * w, s, s)
        # Only with a mapping network, so the state of a generator without one is as it always was.
        self.mapping = Mapping(c.z_dim, c.mapping) if c.mapping else None
        self.fc = nn.Sequential(nn.Linear(c.z_dim, 4 * w * s * s), nn.BatchNorm1d(4 * w * s * s), nn.ReLU())
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * w, 2 * w, 3, 1, 1),
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, w, 3, 1, 1),
            nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, c.channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.map(z))

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """w: the mapping network's output, or z itself without one."""
        return z if self.mapping is None else self.mapping(z)

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """The image drawn from w (from z without a mapping network)."""
        return self.body(self.fc(w).view(-1, *self._start))

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """The first layer's activations: where GANSpace looks for principal directions."""
        return self.fc(self.map(z))


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


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """R1 (Mescheder et al. 2018): the mean squared norm of the critic's gradient at real images,
    E ||grad_x D(x)||^2, differentiable in the critic's weights; the caller weighs it by gamma / 2.
    Returns it and the critic's logits on ``real``, so one forward pass serves the loss too."""
    x = real.detach().requires_grad_(True)
    logits = critic(x)
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean(), logits
