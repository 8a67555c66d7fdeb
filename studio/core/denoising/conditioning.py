"""Cross-attention from a denoiser's features to the prompt's tokens (Rombach et al. 2022).

A model with ``context_dim > 0`` takes the packed condition of studio.core.prompt.packed (the pooled
vector feeds the time embedding as before, the tokens are attended to); a model with
``context_dim == 0`` takes the pooled (N, D) vector alone.

Cross-attention always has a learned "null" key and value to attend to (as a register token), so a
condition without tokens is well defined and the model learns what "no text" looks like.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..prompt.packed import pack, pooled, tokens, unpacked

__all__ = ["CrossAttention", "pack", "pooled", "tokens", "unpacked"]


class CrossAttention(nn.Module):
    """Queries from the features (N, S, C), keys and values from the text tokens, weighted: a token of
    weight w gets log(w) added to its attention logits (0 masks it), the null slot weight 1."""

    def __init__(self, channels: int, context_dim: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.context_norm = nn.LayerNorm(context_dim)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(context_dim, 2 * channels)
        self.null_kv = nn.Parameter(torch.zeros(1, 1, 2 * channels))
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)  # starts as the identity: a pretrained-style warm start
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x: (N, S, C) features; context: (N, L, D); weights: (N, L). Returns x plus the attended text."""
        n, s, c = x.shape
        h = self.heads
        q = self.q(self.norm(x)).view(n, s, h, c // h).transpose(1, 2)
        kv = torch.cat([self.null_kv.expand(n, -1, -1).to(x.dtype), self.kv(self.context_norm(context))], dim=1)
        k, v = kv.view(n, -1, 2, h, c // h).permute(2, 0, 3, 1, 4)
        w = torch.cat([weights.new_ones(weights.shape[0], 1), weights], dim=1).float()
        bias = torch.where(w > 0, w.clamp_min(1e-12).log(), torch.full_like(w, float("-inf")))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None, None, :].to(q.dtype))
        return x + self.out(a.transpose(1, 2).reshape(n, s, c))
