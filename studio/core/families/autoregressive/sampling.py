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
from .pixelcnn import GatedLayer, GatedPixelCNN
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

def _with_one(t: torch.Tensor, one: float = 0.0) -> torch.Tensor:
    """(..., 2c) gate inputs -> (..., 2c + 1), ``one`` between the tanh half and the sigmoid half."""
    half = t.shape[-1] // 2
    return torch.cat([t[..., :half], torch.full_like(t[..., :1], one), t[..., half:]], -1)


class _Layer:
    """One gated layer's folded weights and buffers for ``CachedPixelCNN``, channels last."""

    def __init__(self, layer: GatedLayer, n: int, size: int, cond: torch.Tensor | float) -> None:
        cin, k = layer.h.in_channels, layer.h.kernel_size[1]
        like = dict(device=layer.h.weight.device, dtype=layer.h.weight.dtype)
        p = self.p = k // 2
        c = layer.h_out.in_channels
        # Vertical: every row of this layer's input, (n, p + H, p + W + p, cin), image pixel (i, j) at (p + i,
        # p + j) inside zeros (the convolution's padding). Output row r needs input rows r - p .. r (the
        # kernel rows below the centre are masked): each output row's patches are a view made here.
        self.rows = torch.zeros(n, p + size, size + 2 * p, cin, **like)
        s0, s1, s2, _ = self.rows.stride()
        self.patches = [self.rows.as_strided((n, size, p + 1, k, cin), (s0, s2, s1, s2, 1), r * s1)
                        for r in range(size)]
        self.into = [self.rows[:, p + r, p:p + size] for r in range(size)]  # where the layer above puts row r
        v = (layer.v.weight * layer.v.mask)[:, :, :p + 1]
        self.v_weight = v.permute(2, 3, 1, 0).reshape(-1, 2 * c).contiguous()  # (p + 1) * k * cin x 2c
        self.v_bias, self.cond = layer.v.bias, cond if isinstance(cond, float) else cond.reshape(len(cond), 1, -1)
        # Horizontal: a pixel's 2c gate inputs sit in ``pre`` around a constant 1 (tanh half, 1, sigmoid half),
        # so h_out's bias rides in its matrix product. Per column their bias is the vertical stack's input,
        # the prompt and the biases (``set_row``).
        self.to_h = _with_one(layer.v_to_h.weight[:, :, 0, 0].t())
        self.h_bias = _with_one(layer.v_to_h.bias + layer.h.bias, 1.0)
        self.h_cond = cond if isinstance(cond, float) else _with_one(self.cond)
        self.bias: list[torch.Tensor] = []
        # This row's input, (n, (p + W) * cin) with column j at p + j. Mask A sees the p columns left of the
        # centre, B also the centre: a pixel's gates are a window of ``cols`` columns times a folded weight.
        cols = p + (0 if layer.first else 1)
        self.row = torch.zeros(n, (p + size) * cin, **like)
        h_weight = (layer.h.weight * layer.h.mask)[:, :, 0, :cols].permute(2, 1, 0).reshape(cols * cin, 2 * c)
        self.inputs = [self.row[:, (p + j) * cin:(p + j + 1) * cin] for j in range(size)]
        pre = torch.zeros(n, 2 * c + 1, **like)
        self.step = [layer.first, [self.row[:, j * cin:(j + cols) * cin] for j in range(size)], self.inputs,
                     _with_one(h_weight).contiguous(), self.bias, pre, pre[:, :c + 1], pre[:, :c], pre[:, c + 1:],
                     torch.cat([layer.h_out.weight[:, :, 0, 0].t(), layer.h_out.bias[None]]), None]
        # The last entry: where the layer's outputs go, per column (``CachedPixelCNN`` sets it).

    def set_row(self, r: int, below: "_Layer | None") -> None:
        """Run the vertical convolution at row ``r`` (its input rows up to r are in place), pass the gated
        features on to the next layer's rows and keep this layer's horizontal bias for every column."""
        n, size = len(self.rows), len(self.patches)
        pre = torch.addmm(self.v_bias, self.patches[r].reshape(n * size, -1), self.v_weight)  # (n * W, 2c)
        if below is not None:
            a = pre.view(n, size, -1) + self.cond
            half = a.shape[-1] // 2
            torch.mul(a[..., :half].tanh(), a[..., half:].sigmoid(), out=below.into[r])
        bias = torch.addmm(self.h_bias, pre, self.to_h).view(n, size, -1) + self.h_cond
        self.bias[:] = bias.unbind(1)


class CachedPixelCNN:
    """Fast generation for a Gated PixelCNN (Ramachandran et al. 2017): every layer keeps its inputs, so
    a new row runs each layer's vertical convolution at that row only, and a new pixel each layer's
    horizontal stack at that column only, as matrix products on masked weights folded once. The head is
    the model's own ``logits``. Buffers and their views are made once: a pixel allocates almost nothing.
    Its logits equal the full network's up to float rounding (the sums run in another order)."""

    def __init__(self, model: GatedPixelCNN, n: int, conds: list) -> None:
        c = model.config
        self.layers = [_Layer(layer, n, c.image_size, cond) for layer, cond in zip(model.stack, conds)]
        first = self.layers[0]
        # A level's input value, computed as ``model.inputs`` does.
        self.level_input = model.inputs(torch.arange(c.levels, device=first.row.device))[:, None]
        self.out = torch.zeros(n, c.channels, device=first.row.device, dtype=first.row.dtype)
        for this, nxt in zip(self.layers, self.layers[1:]):
            this.step[-1] = nxt.inputs  # each layer writes its column into the next one's row
        self.layers[-1].step[-1] = [self.out] * c.image_size
        self.steps = [tuple(layer.step) for layer in self.layers]
        self.out4 = self.out[:, :, None, None]

    def start_row(self, x: torch.Tensor, r: int) -> None:
        """Get ready for row ``r`` of ``x`` (every row above it drawn): the vertical stack at that row,
        and the row's kept pixels as the first layer's input."""
        first = self.layers[0]
        if r > 0:
            first.into[r - 1][..., 0] = self.level_input[x[:, 0, r - 1], 0]
        for layer, below in zip(self.layers, [*self.layers[1:], None]):
            layer.set_row(r, below)
        first.row[:, first.p:] = self.level_input[x[:, 0, r], 0]  # pixels of a prefix; the rest come later

    def features(self, col: int) -> torch.Tensor:
        """The last layer's features (n, channels, 1, 1) at column ``col``, every pixel before it in place."""
        for first, windows, inputs, h_weight, bias, pre, gated, a, b, o_weight, dest in self.steps:
            torch.addmm(bias[col], windows[col], h_weight, out=pre)
            a.tanh_()
            b.sigmoid_()
            a.mul_(b)  # the gate, followed in ``gated`` by the 1 that adds h_out's bias
            if first:
                torch.mm(gated, o_weight, out=dest[col])
            else:  # residual
                torch.addmm(inputs[col], gated, o_weight, out=dest[col])
        return self.out4

    def drawn(self, col: int, values: torch.Tensor) -> None:
        """The level just drawn at ``col`` becomes the first layer's input there."""
        self.layers[0].inputs[col].copy_(self.level_input[values])


@torch.inference_mode()
def pixelcnn_rows(model: GatedPixelCNN, n: int, seed: int, s: Sampling, cond: torch.Tensor | None = None,
                  *, cached: bool = True, prefix: torch.Tensor | None = None, start: int = 0,
                  redraws: tuple[tuple[int, int], ...] = ()) -> Iterator[tuple[int, torch.Tensor]]:
    """Sample (n, 1, H, W) images and yield (rows done, images so far) after every row.

    ``cached``: each row runs every layer at that row, and each pixel every layer at that pixel
    (``CachedPixelCNN``); otherwise the whole network runs for every pixel.
    ``prefix``/``start``: keep the first ``start`` raster positions of ``prefix`` and sample the rest
    (completing an image); the uniforms of the kept positions are drawn and discarded, so a completion
    of an image's own prefix reproduces it. ``redraws``: see ``Uniforms``."""
    size = model.config.image_size
    device = next(model.parameters()).device
    x = torch.zeros(n, 1, size, size, dtype=torch.long, device=device)
    if prefix is not None:
        x.view(n, -1)[:, :start] = prefix.to(device).reshape(n, -1)[:, :start]
    conds = model.cond_terms(cond)
    u = Uniforms(seed, n, redraws)
    cache = CachedPixelCNN(model, n, conds) if cached else None
    for r in range(size):
        if cache is not None:
            cache.start_row(x, r)
        for col in range(size):
            pos = r * size + col
            draws = u.next()
            if pos < start:
                if cache is not None and start < (r + 1) * size:
                    cache.features(col)  # a kept pixel whose row goes on: the pixels after it see its features
                continue
            if cache is not None:
                logits = model.logits(cache.features(col))[:, :, 0, 0]
            else:
                logits = model.horizontal(x, model.vertical(x, conds), conds)[:, :, r, col]
            values = draw(logits, draws, s).to(device)
            x[:, 0, r, col] = values
            if cache is not None:
                cache.drawn(col, values)
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
