"""A small conditional U-Net that predicts the noise in x_t (Ho et al. 2020, with the
scale-shift conditioning and attention of Dhariwal & Nichol 2021). With ``context_dim`` it also
attends to the prompt's tokens at its attention levels (Rombach et al. 2022): one pooled vector cannot
say which colour belongs to which shape, the tokens can."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import CrossAttention, pooled, tokens


@dataclass
class UNetConfig:
    in_channels: int = 1
    image_size: int = 28
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = (2,)
    cond_dim: int = 384  # size of the prompt embedding; 0 for an unconditional model
    emb_dim: int = 128
    dropout: float = 0.0
    context_dim: int = 0  # size of the token embeddings cross-attended to; 0: the pooled vector alone

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("channel_mult", "attention_levels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2, self.conv2 = _norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Self-attention over the feature map, then (with a context) cross-attention to the text tokens."""

    def __init__(self, ch: int, heads: int = 4, context_dim: int = 0) -> None:
        super().__init__()
        self.heads = heads
        self.cross = CrossAttention(ch, context_dim, heads) if context_dim else None
        self.norm = _norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.out = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        a = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        x = x + self.out(a.transpose(-1, -2).reshape(b, c, h, w))
        if self.cross is None:
            return x
        context, weights = tokens(cond)
        seq = self.cross(x.flatten(2).transpose(1, 2), context.to(x.dtype), weights)
        return seq.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = c = config
        chans = [c.base_channels * m for m in c.channel_mult]
        self.time_mlp = nn.Sequential(nn.Linear(c.emb_dim, c.emb_dim), nn.SiLU(), nn.Linear(c.emb_dim, c.emb_dim))
        self.cond_proj = nn.Linear(c.cond_dim, c.emb_dim) if c.cond_dim else None
        self.conv_in = nn.Conv2d(c.in_channels, chans[0], 3, padding=1)

        self.down = nn.ModuleList()
        skips, ch = [chans[0]], chans[0]
        for level, out_ch in enumerate(chans):
            for _ in range(c.num_res_blocks):
                self.down.append(self._block(ch, out_ch, level))
                ch = out_ch
                skips.append(ch)
            if level < len(chans) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, c.emb_dim, c.dropout), Attention(ch, context_dim=c.context_dim),
                                  ResBlock(ch, ch, c.emb_dim, c.dropout)])
        self.up = nn.ModuleList()
        for level in reversed(range(len(chans))):
            for _ in range(c.num_res_blocks + 1):
                self.up.append(self._block(ch + skips.pop(), chans[level], level))
                ch = chans[level]
            if level > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.norm_out = _norm(ch)
        self.conv_out = nn.Conv2d(ch, c.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def _block(self, in_ch: int, out_ch: int, level: int) -> nn.ModuleList:
        layers = [ResBlock(in_ch, out_ch, self.config.emb_dim, self.config.dropout)]
        if level in self.config.attention_levels:
            layers.append(Attention(out_ch, context_dim=self.config.context_dim))
        return nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """cond: the pooled (N, cond_dim) vector, or with ``context_dim`` the packed condition
        (studio.core.denoising.conditioning); None means no condition."""
        return self.denoise(self.conv_in(x), t, cond)

    def denoise(self, h: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None,
                mix: Callable[[str, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """The network after ``conv_in``. ``mix(name, h)`` runs after every block ("down3", "mid",
        "up1"...): the video U-Net mixes its frames there (the image U-Net passes ``h`` through)."""
        c = self.config
        emb = self.time_mlp(timestep_embedding(t, c.emb_dim))
        if cond is None and c.context_dim:
            cond = torch.zeros(h.shape[0], 1, c.context_dim + 1, device=h.device, dtype=h.dtype)
        if self.cond_proj is not None:
            vec = pooled(cond) if cond is not None else torch.zeros(h.shape[0], c.cond_dim, device=h.device,
                                                                    dtype=h.dtype)
            emb = emb + self.cond_proj(vec)
        mix = mix or (lambda name, h: h)
        hs = [h]
        for i, layer in enumerate(self.down):
            h = self._run(layer, h, emb, cond)
            if isinstance(layer, nn.ModuleList):
                h = mix(f"down{i}", h)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h, cond)
        h = mix("mid", h)
        for i, layer in enumerate(self.up):
            if isinstance(layer, nn.Upsample):
                # odd sizes (7 -> 14 is fine, but 28/2/2 rounding) are matched to the skip below
                h = F.interpolate(h, size=hs[-1].shape[-2:], mode="nearest")
            else:
                h = mix(f"up{i}", self._run(layer, torch.cat([h, hs.pop()], dim=1), emb, cond))
        return self.conv_out(F.silu(self.norm_out(h)))

    def block_names(self) -> list[tuple[str, int, int]]:
        """(name, channels, level) of every block ``mix`` is called after, in order."""
        names, level = [], 0
        for i, layer in enumerate(self.down):
            if isinstance(layer, nn.ModuleList):
                names.append((f"down{i}", layer[0].conv1.out_channels, level))
            else:
                level += 1
        names.append(("mid", self.mid[0].conv1.out_channels, level))
        for i, layer in enumerate(self.up):
            if isinstance(layer, nn.Upsample):
                level -= 1
            else:
                names.append((f"up{i}", layer[0].conv1.out_channels, level))
        return names

    @staticmethod
    def _run(layer: nn.Module, h: torch.Tensor, emb: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if isinstance(layer, nn.ModuleList):
            for sub in layer:
                h = sub(h, emb) if isinstance(sub, ResBlock) else sub(h, cond)
            return h
        return layer(h)
