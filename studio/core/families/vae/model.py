"""A convolutional VAE (Kingma & Welling 2014) with a Bernoulli decoder, optionally conditioned on a
prompt embedding (a conditional VAE), plus its objectives: the ELBO and the importance-weighted
bound of Burda et al. (IWAE) that estimates log p(x)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class VAEConfig:
    image_size: int = 28  # divisible by 4
    channels: int = 1
    latent_dim: int = 2
    hidden: tuple[int, int] = (32, 64)  # conv channels at 1/2 and 1/4 resolution
    fc_dim: int = 256
    cond_dim: int = 0  # 384 for a prompt-conditioned VAE, 0 for a plain one
    cond_features: int = 64  # the prompt embedding is projected to this many features

    def __post_init__(self) -> None:
        if self.image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {self.image_size}")
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be at least 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


@dataclass
class ELBOTerms:
    """Per-image terms in nats: ELBO = log p(x|z) - KL(q(z|x) || p(z))."""

    reconstruction: torch.Tensor  # -log p(x|z), (B,)
    kl: torch.Tensor  # (B,)

    def loss(self, beta: float = 1.0) -> torch.Tensor:
        return (self.reconstruction + beta * self.kl).mean()

    @property
    def elbo(self) -> torch.Tensor:
        return -(self.reconstruction + self.kl)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) per image for x in [0, 1] (binary x gives a true likelihood)."""
    return F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none").flatten(1).sum(1)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps: the sample is a differentiable function of mu and logvar."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


class VAE(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = c = config
        h1, h2 = c.hidden
        s = c.image_size // 4
        self._grid = (h2, s, s)
        cf = c.cond_features if c.cond_dim else 0
        self.encoder_conv = nn.Sequential(
            nn.Conv2d(c.channels, h1, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(h1, h2, 4, 2, 1), nn.SiLU(), nn.Flatten())
        self.encoder_fc = nn.Sequential(nn.Linear(h2 * s * s + cf, c.fc_dim), nn.SiLU(),
                                        nn.Linear(c.fc_dim, 2 * c.latent_dim))
        self.decoder_fc = nn.Sequential(nn.Linear(c.latent_dim + cf, c.fc_dim), nn.SiLU(),
                                        nn.Linear(c.fc_dim, h2 * s * s), nn.SiLU())
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(h2, h1, 4, 2, 1), nn.SiLU(),
            nn.ConvTranspose2d(h1, c.channels, 4, 2, 1))
        if c.cond_dim:
            self.cond_encoder = nn.Linear(c.cond_dim, cf)
            self.cond_decoder = nn.Linear(c.cond_dim, cf)

    @property
    def conditional(self) -> bool:
        return self.config.cond_dim > 0

    def _with_cond(self, h: torch.Tensor, cond: torch.Tensor | None, proj: str) -> torch.Tensor:
        if not self.conditional:
            return h
        if cond is None:
            cond = torch.zeros(h.shape[0], self.config.cond_dim, device=h.device, dtype=h.dtype)
        return torch.cat([h, getattr(self, proj)(cond.to(h.dtype))], dim=1)

    def encode(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x in [0, 1], (B, C, H, W) -> the posterior's mean and log-variance, (B, D) each."""
        h = self._with_cond(self.encoder_conv(x), cond, "cond_encoder")
        mu, logvar = self.encoder_fc(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite for wildly off-data inputs

    def decode_logits(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.decoder_fc(self._with_cond(z, cond, "cond_decoder"))
        return self.decoder_conv(h.view(-1, *self._grid))

    def decode(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean image, in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, cond).float())

    def terms(self, x: torch.Tensor, cond: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> ELBOTerms:
        """One-sample ELBO terms for a batch (x in [0, 1])."""
        mu, logvar = self.encode(x, cond)
        z = reparameterize(mu.float(), logvar.float(), generator)
        return ELBOTerms(bernoulli_nll(self.decode_logits(z, cond), x), kl_to_standard_normal(mu.float(), logvar.float()))

    @torch.no_grad()
    def iwae_log_likelihood(self, x: torch.Tensor, cond: torch.Tensor | None = None, k: int = 100,
                            chunk: int = 100, generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x) >= log 1/k sum_i p(x, z_i) / q(z_i | x): the importance-weighted bound per image.

        It tightens as k grows (k = 1 is the ELBO); k of 100 or more is the usual NLL estimate."""
        mu, logvar = self.encode(x, cond)
        mu, logvar = mu.float(), logvar.float()
        weights = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = torch.randn((n, *mu.shape), generator=generator, device=mu.device)
            z = mu + (0.5 * logvar).exp() * eps  # (n, B, D)
            log_q = gaussian_log_prob(z, mu, logvar)
            log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            flat = z.reshape(-1, z.shape[-1])
            c = None if cond is None else cond.repeat(n, 1)
            xs = x.repeat(n, 1, 1, 1)
            log_px = -bernoulli_nll(self.decode_logits(flat, c), xs).view(n, -1)
            weights.append(log_px + log_prior - log_q)
        w = torch.cat(weights)  # (k, B)
        return torch.logsumexp(w, dim=0) - math.log(k)
