"""A small VQ-VAE (van den Oord et al. 2017) that turns a 28x28 image into a 7x7 grid of codebook
indices and back: the tokenizer the image transformer writes with, as DALL-E's dVAE is for it.

The decoder is Bernoulli, like the VAE's, so for binarised images a transformer's log p(codes) plus
the decoder's log p(x | codes) is a lower bound on log p(x) (an ELBO whose posterior is the encoder's
one-hot choice): its likelihood is comparable with the VAE's and the PixelCNN's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...configs import DictConfig


@dataclass(frozen=True)
class VQVAEConfig(DictConfig):
    image_size: int = 28  # divisible by 4: two stride-2 steps down to the code grid
    channels: int = 1
    hidden: int = 64
    codes: int = 128  # codebook size: the transformer's vocabulary
    code_dim: int = 32
    commitment: float = 0.25

    @property
    def grid(self) -> int:
        return self.image_size // 4


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class VQVAE(nn.Module):
    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__()
        self.config = c = config
        h = c.hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(c.channels, h // 2, 4, 2, 1), nn.ReLU(), nn.Conv2d(h // 2, h, 4, 2, 1),
            ResBlock(h), ResBlock(h), nn.ReLU(), nn.Conv2d(h, c.code_dim, 1))
        self.codebook = nn.Parameter(torch.randn(c.codes, c.code_dim) * 0.1)
        self.decoder = nn.Sequential(
            nn.Conv2d(c.code_dim, h, 3, padding=1), ResBlock(h), ResBlock(h), nn.ReLU(),
            nn.ConvTranspose2d(h, h // 2, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(h // 2, c.channels, 4, 2, 1))
        # How often each code was chosen lately: codes nobody uses are moved onto encoder outputs.
        self.register_buffer("usage", torch.ones(c.codes))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, G, G) encoder outputs -> (B, G, G) indices of the nearest codes."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.float().t() + self.codebook.float().pow(2).sum(1)
        return d.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images in [0, 1] -> (B, G, G) code indices."""
        return self.quantize(self.encoder(x * 2 - 1))

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        return self.codebook[codes].permute(0, 3, 1, 2)

    def decode_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, G, G) indices -> (B, C, H, W) Bernoulli logits."""
        return self.decoder(self.embed(codes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training loss on binary images, and its terms: reconstruction in nats per image, and the
        codebook and commitment terms that pull codes and encoder outputs together (straight-through
        gradients carry the decoder's signal past the argmin)."""
        z = self.encoder(x * 2 - 1)
        idx = self.quantize(z)
        q = self.embed(idx)
        codebook = F.mse_loss(q, z.detach())
        commit = F.mse_loss(z, q.detach())
        logits = self.decoder(z + (q - z).detach())
        recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none").flatten(1).sum(1)
        if self.training:
            with torch.no_grad():
                counts = torch.bincount(idx.flatten(), minlength=self.config.codes).float()
                self.usage.mul_(0.99).add_(counts, alpha=0.01)
                self._restart_dead(z)
        pixels = x[0].numel()
        loss = recon.mean() / pixels + codebook + self.config.commitment * commit
        used = (torch.bincount(idx.flatten(), minlength=self.config.codes) > 0).sum()
        return loss, {"recon": recon.mean().detach(), "codebook": codebook.detach(), "codes_used": used.float()}

    @torch.no_grad()
    def _restart_dead(self, z: torch.Tensor) -> None:
        dead = torch.nonzero(self.usage < 0.03).flatten()
        if len(dead) == 0:
            return
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        pick = torch.randint(len(flat), (len(dead),), device=flat.device)
        self.codebook.data[dead] = flat[pick].to(self.codebook.dtype)
        self.usage[dead] = 1.0
