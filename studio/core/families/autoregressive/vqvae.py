"""A small VQ-VAE (van den Oord et al. 2017) that turns a 28x28 image into a grid of codebook indices
(7x7, or 14x14 with one stride-2 step fewer) and back: the tokenizer the image transformer writes
with, as DALL-E's dVAE is for it.

Its decoder is a likelihood, so a transformer's log p(codes) plus the decoder's log p(x | codes) is an
upper bound on -log p(x) (an ELBO whose posterior is the encoder's one-hot choice):

* ``bernoulli`` (the first tokenizers'): binarised images, comparable with the VAE's and the binary
  PixelCNN's likelihoods;
* ``logistic``: the 8-bit grey levels, each pixel a discretised mixture of logistics over its 256
  levels (PixelCNN++'s, shared with the grey PixelCNN), comparable with its bits/dim.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...configs import DictConfig
from .pixelcnn import logistic_log_probs

LIKELIHOODS = ("bernoulli", "logistic")
DOWNSAMPLES = (2, 4)
GREY_LEVELS = 256


@dataclass(frozen=True)
class VQVAEConfig(DictConfig):
    image_size: int = 28  # divisible by ``downsample``
    channels: int = 1
    hidden: int = 64
    codes: int = 128  # codebook size: the transformer's vocabulary
    code_dim: int = 32
    commitment: float = 0.25
    likelihood: str = "bernoulli"  # the decoder's: binarised pixels, or a logistic mixture over grey levels
    downsample: int = 4  # image pixels per code side: 4 (two stride-2 steps) or 2 (one)
    mixtures: int = 1  # the logistic decoder's components per pixel (unused by the Bernoulli one)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS or self.downsample not in DOWNSAMPLES or self.mixtures < 1:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, downsample one of {DOWNSAMPLES} and "
                             "mixtures at least 1")

    @property
    def grid(self) -> int:
        return self.image_size // self.downsample

    @property
    def grey(self) -> bool:
        return self.likelihood == "logistic"

    @property
    def levels(self) -> int:
        """Values a pixel takes: 2 (binarised) or 256 grey levels."""
        return GREY_LEVELS if self.grey else 2

    @property
    def decoder_outputs(self) -> int:
        """Per pixel: a Bernoulli logit per channel, or (weight, mean, log-scale) per component per channel."""
        return self.channels * (3 * self.mixtures if self.grey else 1)


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
        # With downsample 2 the inner stride-2 steps become same-size convolutions: the layers keep
        # their places, so the weights' names are those of the 4x tokenizers.
        down = nn.Conv2d(h // 2, h, 4, 2, 1) if c.downsample == 4 else nn.Conv2d(h // 2, h, 3, 1, 1)
        up = nn.ConvTranspose2d(h, h // 2, 4, 2, 1) if c.downsample == 4 else nn.Conv2d(h, h // 2, 3, 1, 1)
        self.encoder = nn.Sequential(
            nn.Conv2d(c.channels, h // 2, 4, 2, 1), nn.ReLU(), down,
            ResBlock(h), ResBlock(h), nn.ReLU(), nn.Conv2d(h, c.code_dim, 1))
        self.codebook = nn.Parameter(torch.randn(c.codes, c.code_dim) * 0.1)
        self.decoder = nn.Sequential(
            nn.Conv2d(c.code_dim, h, 3, padding=1), ResBlock(h), ResBlock(h), nn.ReLU(),
            up, nn.ReLU(), nn.ConvTranspose2d(h // 2, c.decoder_outputs, 4, 2, 1))
        # How often each code was chosen lately: codes nobody uses are moved onto encoder outputs.
        self.register_buffer("usage", torch.ones(c.codes))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, G, G) encoder outputs -> (B, G, G) indices of the nearest codes."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.float().t() + self.codebook.float().pow(2).sum(1)
        return d.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images in [0, 1] (binary pixels, or grey levels / 255) -> (B, G, G) code indices."""
        return self.quantize(self.encoder(x * 2 - 1))

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        return self.codebook[codes].permute(0, 3, 1, 2)

    def _decode(self, q: torch.Tensor) -> torch.Tensor:
        if not self.config.grey:
            return self.decoder(q)
        # The logistic parameters in float32 even under bf16 autocast: bf16 holds a mean near 1 only to
        # 2^-7, as coarse as a grey level (2/255).
        h = self.decoder[:-1](q)
        with torch.autocast(h.device.type, enabled=False):
            return self.decoder[-1](h.float())

    def decode_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, G, G) indices -> the decoder's raw outputs: (B, C, H, W) Bernoulli logits, or the logistic
        mixtures' parameters (B, C * 3K, H, W), each channel's 3K as ``logistic_log_probs`` reads them."""
        return self._decode(self.embed(codes))

    def _per_channel(self, out: torch.Tensor) -> torch.Tensor:
        """(B, C * 3K, H, W) -> (B * C, 3K, H, W): one mixture per channel's pixel."""
        b, _, h, w = out.shape
        return out.float().reshape(b * self.config.channels, -1, h, w)

    def level_log_probs(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, G, G) indices -> (B, C, 256, H, W) log-probabilities of every grey level of every pixel
        (a logistic decoder only)."""
        if not self.config.grey:
            raise ValueError("a Bernoulli decoder has no grey levels")
        out = self.decode_logits(codes)
        every = torch.arange(GREY_LEVELS, device=out.device).view(1, -1, 1, 1)
        log_p = logistic_log_probs(self._per_channel(out), every, GREY_LEVELS)
        return log_p.view(out.shape[0], self.config.channels, GREY_LEVELS, *out.shape[2:])

    def _nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | the decoder's raw outputs ``out``) in nats per image, (B,), for ``x`` in [0, 1]."""
        if not self.config.grey:
            return F.binary_cross_entropy_with_logits(out.float(), x.float(), reduction="none").flatten(1).sum(1)
        levels = (x.float() * (GREY_LEVELS - 1)).round().long()
        flat = levels.reshape(-1, 1, *levels.shape[2:])
        return -logistic_log_probs(self._per_channel(out), flat, GREY_LEVELS).view(len(x), -1).sum(1)

    def nll(self, x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """-log p(x | codes) in nats per image, (B,): ``x`` (B, C, H, W) in [0, 1], binary pixels for a
        Bernoulli decoder, grey levels / 255 for a logistic one."""
        return self._nll(self.decode_logits(codes), x)

    def decode_unit(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, G, G) indices -> (B, C, H, W) in [0, 1]: the decoder's mean (a pixel's probability of
        being on, or its expected grey level / 255)."""
        out = self.decode_logits(codes).float()
        if not self.config.grey:
            return torch.sigmoid(out)
        return expected_level(self._per_channel(out)).view(len(out), self.config.channels,
                                                            *out.shape[2:]) / (GREY_LEVELS - 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training loss on images in [0, 1] (binary ones, or grey levels / 255), and its terms:
        reconstruction in nats per image, and the codebook and commitment terms that pull codes and
        encoder outputs together (straight-through gradients carry the decoder's signal past the argmin)."""
        z = self.encoder(x * 2 - 1)
        idx = self.quantize(z)
        q = self.embed(idx)
        codebook = F.mse_loss(q, z.detach())
        commit = F.mse_loss(z, q.detach())
        recon = self._nll(self._decode(z + (q - z).detach()), x)
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


def expected_level(params: torch.Tensor, block: int = 32) -> torch.Tensor:
    """(B, 3K, H, W) logistic mixtures (as ``logistic_log_probs`` reads them) -> (B, H, W) the mean of
    the discretised distribution over the 256 levels: E[level] = sum over i >= 1 of P(level >= i), the
    mass above the boundary between levels i - 1 and i (the edge levels take the tails, as there).
    Summed over blocks of boundaries, so a batch of hundreds of images stays small."""
    logit_w, mu, log_s = params.float().unflatten(1, (3, -1)).unbind(1)  # each (B, K, H, W)
    inv_s = torch.exp(-log_s.clamp(min=-7.0))
    half = 1.0 / (GREY_LEVELS - 1)
    bounds = torch.arange(1, GREY_LEVELS, device=params.device, dtype=torch.float32) * (2 * half) - 1 - half
    above = torch.zeros_like(mu)
    for s in range(0, len(bounds), block):
        b = bounds[s:s + block].view(-1, 1, 1, 1, 1)
        above += torch.sigmoid((mu - b) * inv_s).sum(0)
    return (above * logit_w.softmax(1)).sum(1)
