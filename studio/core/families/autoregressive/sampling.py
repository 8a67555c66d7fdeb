"""Drawing from an autoregressive model one position at a time.

Every draw uses the inverse CDF of the filtered distribution at a uniform number taken from that
image's own generator, one per position, so a fast sampler and the naive one that re-runs the whole
network consume the same randomness and make the same image; image i of a batch with seed s is image
0 of seed s + i. The PixelCNN samplers are plain generators that yield after every row.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ...request import image_generators
from .pixelcnn import GatedPixelCNN
from .transformer import ImageTransformer


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0  # 0: always the most likely value
    top_k: int = 0  # keep only the k most likely values (0: all)
    top_p: float = 1.0  # keep the smallest set whose probability reaches p (nucleus sampling)

    @classmethod
    def of(cls, request) -> "Sampling":
        """A GenerationRequest's settings (it validates their ranges)."""
        return cls(request.temperature, request.top_k, request.top_p)


def filtered_probs(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """(N, V) logits -> (N, V) probabilities after temperature, top-k and top-p."""
    logits = logits.float()
    if s.temperature == 0.0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    logits = logits / s.temperature
    if 0 < s.top_k < logits.shape[-1]:
        kth = logits.topk(s.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    if s.top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p  # mass of the more likely values
        drop = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, before >= s.top_p)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def draw(logits: torch.Tensor, u: torch.Tensor, s: Sampling) -> torch.Tensor:
    """(N, V) logits and (N,) uniforms in [0, 1) -> (N,) values by the inverse CDF."""
    cdf = filtered_probs(logits, s).cumsum(-1)
    idx = (cdf <= u[:, None].to(cdf)).sum(-1)
    # Rounding can leave the last CDF value a hair under u: take the last value with probability.
    return torch.minimum(idx, (cdf < cdf[:, -1:]).sum(-1))


class Uniforms:
    """One generator per image; ``next()`` gives one uniform per image for the next position.

    ``redraws``: (position, seed) pairs; from each position on, the draws come from generators of that
    seed (image i: seed + i), so the positions before it are drawn exactly as without it."""

    def __init__(self, seed: int, n: int, redraws: tuple[tuple[int, int], ...] = ()) -> None:
        self.segments = [(0, seed), *redraws]
        self.gens = [image_generators(sd, n) for _, sd in self.segments]
        self.pos = 0

    def next(self) -> torch.Tensor:
        k = max(j for j, (start, _) in enumerate(self.segments) if start <= self.pos)
        self.pos += 1
        return torch.cat([torch.rand(1, generator=g) for g in self.gens[k]])


# --- PixelCNN --------------------------------------------------------------------------------------------

@torch.inference_mode()
def pixelcnn_rows(model: GatedPixelCNN, n: int, seed: int, s: Sampling, cond: torch.Tensor | None = None,
                  *, cached: bool = True, prefix: torch.Tensor | None = None, start: int = 0,
                  redraws: tuple[tuple[int, int], ...] = ()) -> Iterator[tuple[int, torch.Tensor]]:
    """Sample (n, 1, H, W) images and yield (rows done, images so far) after every row.

    ``cached``: the vertical stack runs once per row on the rows it can see, and each pixel recomputes
    only the strip of its row that reaches it; otherwise the whole network runs for every pixel.
    ``prefix``/``start``: keep the first ``start`` raster positions of ``prefix`` and sample the rest
    (completing an image); the uniforms of the kept positions are drawn and discarded, so a completion
    of an image's own prefix reproduces it. ``redraws``: see ``Uniforms``."""
    c = model.config
    size, reach = c.image_size, c.reach
    device = next(model.parameters()).device
    x = torch.zeros(n, 1, size, size, dtype=torch.long, device=device)
    if prefix is not None:
        x.view(n, -1)[:, :start] = prefix.to(device).reshape(n, -1)[:, :start]
    conds = model.cond_terms(cond)
    no_cond = [0.0] * len(conds)
    u = Uniforms(seed, n, redraws)
    for r in range(size):
        if cached:  # this row's input from the vertical stack, with the prompt's bias folded in once
            top = max(0, r - reach)
            from_v = [t[:, :, -1:] + c for t, c in zip(model.vertical(x[:, :, top:r + 1], conds), conds)]
        for col in range(size):
            pos = r * size + col
            draws = u.next()
            if pos < start:
                continue
            if cached:
                left = max(0, col - reach)
                logits = model.horizontal(x[:, :, r:r + 1, left:col + 1], [t[..., left:col + 1] for t in from_v],
                                          no_cond, last=True)[:, :, 0, -1]
            else:
                logits = model.horizontal(x, model.vertical(x, conds), conds)[:, :, r, col]
            x[:, 0, r, col] = draw(logits, draws, s).to(device)
        yield r + 1, x


# --- image transformer -------------------------------------------------------------------------------------

@torch.inference_mode()
def transformer_rows(model: ImageTransformer, n: int, seed: int, s: Sampling, cond: torch.Tensor | None = None,
                     *, cached: bool = True, prefix: torch.Tensor | None = None, start: int = 0,
                     redraws: tuple[tuple[int, int], ...] = ()) -> Iterator[tuple[int, torch.Tensor]]:
    """Sample (n, G, G) code grids and yield (rows done, codes so far) after every row of codes.

    ``cached``: one position per step through the layers' key/value caches; otherwise the whole
    sequence so far is re-run for every code. ``prefix``/``start`` as in ``pixelcnn_rows``."""
    c = model.config
    device = model.position.device
    codes = torch.zeros(n, c.length, dtype=torch.long, device=device)
    if prefix is not None:
        codes[:, :start] = prefix.to(device).reshape(n, -1)[:, :start]
    u = Uniforms(seed, n, redraws)
    cache = None
    if cached:
        logits, cache = model.step(model.start(cond, n), 0, None)
        logits = logits[:, -1]
    for i in range(c.length):
        draws = u.next()
        if not cached:
            logits = model(codes[:, :i + 1], cond)[:, i]
        if i >= start:
            codes[:, i] = draw(logits, draws, s).to(device)
        if cached and i + 1 < c.length:
            logits, cache = model.step(model.tokens(codes[:, i:i + 1]), c.prefix + i, cache)
            logits = logits[:, -1]
        if (i + 1) % c.grid == 0:
            yield (i + 1) // c.grid, codes.view(n, c.grid, c.grid)
