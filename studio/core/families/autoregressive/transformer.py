"""A decoder-only transformer over an image's VQ-VAE codes in raster order, with the prompt as its
prefix (as DALL-E puts the caption's tokens before the image's): the prompt embedding becomes a few
prefix vectors, and causal self-attention lets every code see the prefix and the codes before it.

For sampling, each layer keeps the keys and values of the positions already processed (a KV cache),
so drawing the next code costs one position's work instead of re-running the whole sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...configs import DictConfig


@dataclass(frozen=True)
class TransformerConfig(DictConfig):
    vocab: int = 128  # codebook size of the VQ-VAE
    grid: int = 7  # codes per side: the sequence is grid * grid codes
    dim: int = 192
    layers: int = 4
    heads: int = 4
    prefix: int = 4  # prefix vectors made from the prompt embedding
    cond_dim: int = 0  # 384 for a prompt-conditioned model

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.prefix < 1:
            raise ValueError("the prefix needs at least one position (it predicts the first code)")

    @property
    def length(self) -> int:
        return self.grid * self.grid


Cache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys and values (B, heads, T, dim/heads)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, T, dim) new positions; ``past``: keys and values of the positions before them."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # A new position sees every cached one and the new ones up to itself.
        causal = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(k.shape[2] - t)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x)), (k, v)


class ImageTransformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.tokens = nn.Embedding(c.vocab, c.dim)
        self.position = nn.Parameter(torch.zeros(c.prefix + c.length, c.dim))
        nn.init.normal_(self.position, std=0.02)
        self.prefix = nn.Linear(max(c.cond_dim, 1), c.prefix * c.dim)  # a zero prompt gives the learnt bias
        self.blocks = nn.ModuleList(Block(c.dim, c.heads) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.dim)
        self.out = nn.Linear(c.dim, c.vocab)

    @property
    def conditional(self) -> bool:
        return self.config.cond_dim > 0

    def start(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """The prefix vectors (n, prefix, dim) for a prompt embedding (or none)."""
        c = self.config
        if cond is None:
            cond = torch.zeros(n, max(c.cond_dim, 1), device=self.position.device)
        return self.prefix(cond).view(n, c.prefix, c.dim)

    def step(self, x: torch.Tensor, offset: int, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        """Run new positions ``x`` (B, T, dim), starting at ``offset``, past the cached ones.
        Returns the logits of the next code at every new position, and the grown cache."""
        h = x + self.position[offset:offset + x.shape[1]]
        new: Cache = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if cache is None else cache[i])
            new.append(kv)
        return self.out(self.norm(h)), new

    def forward(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, L, vocab): position i predicts code i from the prefix and codes < i.
        ``codes`` (B, <= L) may be shorter than the grid (a prefix of the image)."""
        n = codes.shape[0]
        seq = torch.cat([self.start(cond, n), self.tokens(codes[:, :-1])], dim=1)
        logits, _ = self.step(seq, 0, None)
        return logits[:, self.config.prefix - 1:]

    def nll(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(codes) in nats per image, (B,), for (B, L) code sequences."""
        logits = self(codes, cond).float()
        return F.cross_entropy(logits.transpose(1, 2), codes, reduction="none").sum(1)
