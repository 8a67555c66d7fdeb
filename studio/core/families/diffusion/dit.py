"""A Diffusion Transformer that predicts the noise in x_t (Peebles & Xie 2022): the image cut into
patches, a stack of transformer blocks conditioned by adaLN-Zero on the timestep and the pooled prompt,
and optionally cross-attention to the prompt's tokens (as in PixArt-alpha). A drop-in for the U-Net:
``forward(x, t, cond)`` returns a tensor shaped like ``x``."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...denoising.conditioning import CrossAttention, pooled, tokens
from ...denoising.unet import timestep_embedding


@dataclass
class DiTConfig:
    in_channels: int = 1
    image_size: int = 28  # need not be a multiple of patch_size: the input is padded, the output cropped
    patch_size: int = 2
    hidden: int = 128  # token width, also the time embedding's; a multiple of 4 and of heads
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    cond_dim: int = 384  # size of the pooled prompt vector; 0 for an unconditional model
    context_dim: int = 0  # size of the prompt's token embeddings; > 0 adds cross-attention to every block

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiTConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})



def _sincos_1d(pos: torch.Tensor, dim: int) -> torch.Tensor:
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    args = pos.double()[:, None] * omega[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def sincos_2d(grid_h: int, grid_w: int, dim: int) -> torch.Tensor:
    """Fixed (grid_h * grid_w, dim) position embeddings, row-major: half the channels encode the row,
    half the column (as DiT and MAE do)."""
    rows = torch.arange(grid_h).repeat_interleave(grid_w)
    cols = torch.arange(grid_w).repeat(grid_h)
    return torch.cat([_sincos_1d(rows, dim // 2), _sincos_1d(cols, dim // 2)], dim=1).float()


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


def _xavier(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _zero(layer: nn.Linear) -> nn.Linear:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = _xavier(nn.Linear(hidden, 3 * hidden))
        self.proj = _xavier(nn.Linear(hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s, c = x.shape
        q, k, v = self.qkv(x).view(n, s, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        return self.proj(a.transpose(1, 2).reshape(n, s, c))


class DiTBlock(nn.Module):
    """adaLN-Zero block: the conditioning vector sets each sublayer's shift, scale and residual gate;
    the gates start at zero, so every block starts as the identity."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, context_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden, heads)
        # Its own LayerNorm and zero-initialised output projection make it an identity at init too.
        self.cross = CrossAttention(hidden, context_dim, heads) if context_dim else None
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        width = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(_xavier(nn.Linear(hidden, width)), nn.GELU(approximate="tanh"),
                                 _xavier(nn.Linear(width, hidden)))
        self.ada = nn.Sequential(nn.SiLU(), _zero(nn.Linear(hidden, 6 * hidden)))

    def forward(self, x: torch.Tensor, c: torch.Tensor, context: torch.Tensor | None,
                weights: torch.Tensor | None) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=1)
        x = x + gate1[:, None] * self.attn(_modulate(self.norm1(x), shift1, scale1))
        if self.cross is not None:
            x = self.cross(x, context, weights)
        return x + gate2[:, None] * self.mlp(_modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), _zero(nn.Linear(hidden, 2 * hidden)))
        self.linear = _zero(nn.Linear(hidden, out_dim))  # the model predicts exactly 0 at init

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(_modulate(self.norm(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.hidden % 4 or c.hidden % c.heads:
            raise ValueError(f"DiT hidden ({c.hidden}) must be a multiple of 4 (2-D position embeddings) "
                             f"and of heads ({c.heads})")
        p, d = c.patch_size, c.hidden
        self.patch = nn.Conv2d(c.in_channels, d, p, stride=p)
        nn.init.xavier_uniform_(self.patch.weight.view(d, -1))  # as a Linear over the flattened patch
        nn.init.zeros_(self.patch.bias)
        self.grid = -(-c.image_size // p)  # patches per side, after padding
        # Fixed, so not saved: a checkpoint holds only what training learns.
        self.register_buffer("pos", sincos_2d(self.grid, self.grid, d), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        for layer in (self.time_mlp[0], self.time_mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        self.cond_proj = nn.Linear(c.cond_dim, d) if c.cond_dim else None
        self.blocks = nn.ModuleList(DiTBlock(d, c.heads, c.mlp_ratio, c.context_dim) for _ in range(c.depth))
        self.final = FinalLayer(d, p * p * c.in_channels)

    def _tokens(self, cond: torch.Tensor | None, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The cross-attention's tokens and weights; none at all (only the null slot) without a packed cond."""
        if self.config.context_dim == 0:
            return None, None
        if cond is not None and cond.dim() == 3:
            context, weights = tokens(cond)
            return context.to(x.dtype), weights
        n = x.shape[0]  # no condition: no tokens, only the null slot
        return x.new_zeros(n, 0, self.config.context_dim), x.new_zeros(n, 0)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        c, p = self.config, self.config.patch_size
        n, _, h, w = x.shape
        x = F.pad(x, (0, -w % p, 0, -h % p))
        gh, gw = x.shape[-2] // p, x.shape[-1] // p
        pos = self.pos if (gh, gw) == (self.grid, self.grid) else sincos_2d(gh, gw, c.hidden).to(x.device)
        seq = self.patch(x).flatten(2).transpose(1, 2) + pos.to(x.dtype)

        emb = self.time_mlp(timestep_embedding(t, c.hidden))
        if self.cond_proj is not None:
            vec = torch.zeros(n, c.cond_dim, device=x.device, dtype=x.dtype) if cond is None else pooled(cond)
            emb = emb + self.cond_proj(vec)
        context, weights = self._tokens(cond, x)
        for block in self.blocks:
            seq = block(seq, emb, context, weights)
        out = self.final(seq, emb)  # (N, gh * gw, p * p * C): unpatchify, then crop the padding
        out = out.view(n, gh, gw, p, p, c.in_channels).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(n, c.in_channels, gh * p, gw * p)[:, :, :h, :w]
