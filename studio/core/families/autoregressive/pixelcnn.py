"""Gated PixelCNN (van den Oord et al. 2016): p(x) = prod_i p(x_i | x_<i) in raster order, with masked
convolutions in a vertical stack (the rows above) and a horizontal stack (the row so far), which
together see every earlier pixel (no blind spot), gated tanh x sigmoid units, and a prompt embedding
added to every gate (a conditional PixelCNN).

The network is split so a sampler can reuse work: the vertical stack at row r depends only on rows
above r, so it runs once per row; the horizontal stack at (r, c) depends only on that row's columns
up to c, so per pixel only a short strip of one row is recomputed (see ``ar_sampling``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...configs import DictConfig

MASKS = ("A", "B", "V_A", "V_B")


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

    def __post_init__(self) -> None:
        if self.levels < 2 or self.kernel % 2 == 0 or self.first_kernel % 2 == 0:
            raise ValueError("levels must be at least 2 and kernels odd")

    @property
    def reach(self) -> int:
        """How many rows up (and columns left) the last layer sees: what a cropped recomputation needs."""
        return self.first_kernel // 2 + self.layers * (self.kernel // 2)


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
                                  nn.Conv2d(c.head, c.levels, 1))

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
        h = self.inputs(x)
        for layer, v, c in zip(self.stack, from_v, conds):
            h = layer.horizontal(h, v, c)
        return self.head(h[..., -1:] if last else h)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, levels, H, W) for every pixel given the pixels before it in raster order."""
        conds = self.cond_terms(cond)
        return self.horizontal(x, self.vertical(x, conds), conds)

    def nll(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(x) in nats per image: (B,) for integer images (B, 1, H, W)."""
        logits = self(x, cond).float()
        return F.cross_entropy(logits, x[:, 0].long(), reduction="none").flatten(1).sum(1)
