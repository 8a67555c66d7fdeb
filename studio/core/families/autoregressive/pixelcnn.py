"""Gated PixelCNN (van den Oord et al. 2016): p(x) = prod_i p(x_i | x_<i) in raster order, with masked
convolutions in a vertical stack (the rows above) and a horizontal stack (the row so far), which
together see every earlier pixel (no blind spot), gated tanh x sigmoid units, and a prompt embedding
added to every gate (a conditional PixelCNN).

A pixel takes one of ``levels`` values: 2 for binarised images, 256 for 8-bit grey ones. The output
head gives each level a log-probability, either as a softmax over the levels (the Gated PixelCNN's)
or as PixelCNN++'s discretised mixture of logistics (Salimans et al. 2017), whose few parameters per
pixel know that neighbouring grey levels are alike.

The network is split so a sampler can reuse work: the vertical stack at row r depends only on rows
above r, and the horizontal stack at (r, c) only on that row's columns up to c, so with every layer's
earlier outputs kept, a new row runs each layer at that row and a new pixel each layer at that column
(``sampling.CachedPixelCNN``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...configs import DictConfig

MASKS = ("A", "B", "V_A", "V_B")
OUTPUTS = ("softmax", "logistic")


def causal_mask(kh: int, kw: int, kind: str) -> torch.Tensor:
    """(kh, kw) 0/1 mask around the kernel centre. Rows above the centre are always seen, rows below never.
    On the centre row: 'A' sees the pixels left of the centre, 'B' also the centre itself (PixelCNN's
    masks); 'V_A' sees none of it and 'V_B' all of it (the vertical stack, which must not see the
    current row of the input, but may see the current row of features that never saw it)."""
    if kind not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {kind!r}")
    m = torch.zeros(kh, kw)
    cy, cx = kh // 2, kw // 2
    m[:cy] = 1
    if kind == "A":
        m[cy, :cx] = 1
    elif kind == "B":
        m[cy, :cx + 1] = 1
    elif kind == "V_B":
        m[cy] = 1
    return m


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose kernel is multiplied by a causal mask on every call."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], mask: str) -> None:
        super().__init__(cin, cout, kernel, padding=(kernel[0] // 2, kernel[1] // 2))
        self.kind = mask
        self.register_buffer("mask", causal_mask(*kernel, mask)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


@dataclass(frozen=True)
class PixelCNNConfig(DictConfig):
    image_size: int = 28
    levels: int = 2  # values per pixel: 2 models binarised images
    channels: int = 64  # features per stack
    layers: int = 8  # gated layers after the first
    kernel: int = 3
    first_kernel: int = 7
    head: int = 128  # hidden units of the per-pixel output network
    cond_dim: int = 0  # 384 for a prompt-conditioned model
    output: str = "softmax"  # the head: a softmax over the levels, or a discretised logistic mixture
    mixtures: int = 10  # the logistic head's components (unused by the softmax head)

    def __post_init__(self) -> None:
        if self.levels < 2 or self.kernel % 2 == 0 or self.first_kernel % 2 == 0:
            raise ValueError("levels must be at least 2 and kernels odd")
        if self.output not in OUTPUTS or self.mixtures < 1:
            raise ValueError(f"output must be one of {OUTPUTS} and mixtures at least 1")

    @property
    def head_outputs(self) -> int:
        """Values the head gives per pixel: a logit per level, or (weight, mean, log-scale) per component."""
        return self.levels if self.output == "softmax" else 3 * self.mixtures

    @property
    def reach(self) -> int:
        """How many rows up (and columns left) the last layer sees: what a cropped recomputation needs."""
        return self.first_kernel // 2 + self.layers * (self.kernel // 2)


def quantize(images: np.ndarray, levels: int) -> torch.Tensor:
    """(N, H, W[, 1]) uint8 grey images -> (N, 1, H, W) long levels 0 .. levels - 1, each the nearest."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).reshape(len(images), 1, *images.shape[1:3])
    return (x * ((levels - 1) / 255)).round().long()


def levels_to_uint8(x: torch.Tensor, levels: int) -> np.ndarray:
    """(B, 1, H, W) levels -> (B, H, W, 1) uint8, level * 255 / (levels - 1) ({0, 255} for binary pixels)."""
    return (x.float() * (255 / (levels - 1))).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def logistic_log_probs(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """PixelCNN++'s discretised logistic mixture: log p(x) per pixel. ``params`` (B, 3K, H, W): the K
    components' weight logits, means and log-scales on [-1, 1]; ``x`` (B, N, H, W) levels, or any shape
    that broadcasts to it (N = levels: every level). Level i is the mixture's mass on its bin [v - d,
    v + d], v = i * 2 / (levels - 1) - 1, d = 1 / (levels - 1); the lowest level takes all the mass below,
    the highest all above, and a bin whose mass is under 1e-5 (where float32 differences of the CDF lose
    it) is the density at its centre times its width, all as in the paper."""
    logit_w, mu, log_s = params.float().unflatten(1, (3, -1)).unbind(1)  # each (B, K, H, W)
    log_s = log_s.clamp(min=-7.0)
    half = 1.0 / (levels - 1)
    centred = (x.float() * (2 * half) - 1)[:, :, None] - mu[:, None]  # (B, N, K, H, W)
    inv_s = torch.exp(-log_s)[:, None]
    plus, minus = inv_s * (centred + half), inv_s * (centred - half)
    mass = torch.sigmoid(plus) - torch.sigmoid(minus)
    mid = inv_s * centred
    log_mid = mid - log_s[:, None] - 2 * F.softplus(mid) + float(np.log(2 * half))
    inner = torch.where(mass > 1e-5, torch.log(mass.clamp(min=1e-12)), log_mid)
    level = x[:, :, None]
    log_p = torch.where(level == 0, F.logsigmoid(plus), torch.where(level == levels - 1, F.logsigmoid(-minus), inner))
    return torch.logsumexp(log_p + F.log_softmax(logit_w, dim=1)[:, None], dim=2)


def gate(a: torch.Tensor) -> torch.Tensor:
    x, y = a.chunk(2, dim=1)
    return torch.tanh(x) * torch.sigmoid(y)


class GatedLayer(nn.Module):
    def __init__(self, cin: int, c: int, k: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.v = MaskedConv2d(cin, 2 * c, (k, k), "V_A" if first else "V_B")
        self.h = MaskedConv2d(cin, 2 * c, (1, k), "A" if first else "B")
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)

    def vertical(self, v: torch.Tensor, cond: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """The next vertical features and this layer's contribution to the horizontal stack."""
        pre = self.v(v)
        return gate(pre + cond), self.v_to_h(pre)

    def horizontal(self, h: torch.Tensor, from_v: torch.Tensor, cond: torch.Tensor | float) -> torch.Tensor:
        out = self.h_out(gate(self.h(h) + from_v + cond))
        return out if self.first else h + out


class GatedPixelCNN(nn.Module):
    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__()
        self.config = c = config
        self.stack = nn.ModuleList([GatedLayer(1, c.channels, c.first_kernel, True)] +
                                   [GatedLayer(c.channels, c.channels, c.kernel, False) for _ in range(c.layers)])
        self.cond = nn.Linear(c.cond_dim, 2 * c.channels * len(self.stack)) if c.cond_dim else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.head, 1), nn.ReLU(),
                                  nn.Conv2d(c.head, c.head_outputs, 1))

    @property
    def conditional(self) -> bool:
        return self.cond is not None

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) integer levels -> the float input, centred on zero."""
        return x.float() / (self.config.levels - 1) * 2 - 1

    def cond_terms(self, cond: torch.Tensor | None) -> list[torch.Tensor | float]:
        """The prompt's bias for every layer's gates, computed once per image."""
        if self.cond is None or cond is None:
            return [0.0] * len(self.stack)
        return [t[:, :, None, None] for t in self.cond(cond).chunk(len(self.stack), dim=1)]

    def vertical(self, x: torch.Tensor, conds: list) -> list[torch.Tensor]:
        """Every layer's vertical contribution to the horizontal stack, for the rows of ``x``.
        Row r of the result depends on rows r - reach .. r - 1 of ``x`` only."""
        v, out = self.inputs(x), []
        for layer, c in zip(self.stack, conds):
            v, to_h = layer.vertical(v, c)
            out.append(to_h)
        return out

    def horizontal(self, x: torch.Tensor, from_v: list[torch.Tensor], conds: list, *, last: bool = False
                   ) -> torch.Tensor:
        """Logits (B, levels, H, W) from the horizontal stack over ``x``'s rows, given ``vertical``
        (``last``: only for the last column, all a sampler needs)."""
        h = self.features(x, from_v, conds)
        return self.logits(h[..., -1:] if last else h)

    def features(self, x: torch.Tensor, from_v: list[torch.Tensor], conds: list) -> torch.Tensor:
        """The horizontal stack's last features (B, channels, H, W) over ``x``'s rows, given ``vertical``."""
        h = self.inputs(x)
        for layer, v, c in zip(self.stack, from_v, conds):
            h = layer.horizontal(h, v, c)
        return h

    def head_raw(self, h: torch.Tensor) -> torch.Tensor:
        """The head's raw outputs (B, head_outputs, H, W). For grey levels it runs in float32 even under
        bf16 autocast: bf16 holds a mean near 1 only to 2^-7, as coarse as a grey level (2/255)."""
        if self.config.levels == 2:
            return self.head(h)
        with torch.autocast(h.device.type, enabled=False):
            return self.head(h.float())

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """The last horizontal features (B, channels, H, W) -> logits over the levels (B, levels, H, W):
        the softmax head's own, or the logistic mixture's log-probabilities (a softmax of them is the
        same distribution)."""
        out = self.head_raw(h)
        if self.config.output == "softmax":
            return out
        every = torch.arange(self.config.levels, device=h.device).view(1, -1, 1, 1)
        return logistic_log_probs(out, every, self.config.levels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, levels, H, W) for every pixel given the pixels before it in raster order."""
        conds = self.cond_terms(cond)
        return self.horizontal(x, self.vertical(x, conds), conds)

    def nll(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(x) in nats per image: (B,) for integer images (B, 1, H, W)."""
        if self.config.output == "logistic":
            # Only the observed level's mass: what the cross-entropy of ``logits`` gives, without working
            # out every level of every pixel (which made a training step some 30 times slower).
            conds = self.cond_terms(cond)
            h = self.features(x, self.vertical(x, conds), conds)
            return -logistic_log_probs(self.head_raw(h), x.long(), self.config.levels).flatten(1).sum(1)
        logits = self(x, cond).float()
        return F.cross_entropy(logits, x[:, 0].long(), reduction="none").flatten(1).sum(1)
