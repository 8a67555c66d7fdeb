"""The packed text condition: a prompt's pooled sentence vector and its token embeddings in one
tensor, (N, 1 + L, D + 1):
- row 0, channels :D: the pooled sentence vector (unit length; zeros for "no condition");
- rows 1.., channels :D: the encoder's token embeddings, padded to a common length L;
- rows 1.., channel D: each token's attention weight: 1 for a prompt's own tokens, a blend part's
  share for a blended prompt's, 0 for padding.
One tensor keeps every path that cats, expands, moves or zeroes conditions unchanged: zeroing a row
(classifier-free guidance's dropped condition) gives a zero pooled vector and no tokens at all.
"""
from __future__ import annotations

import torch


def pooled(cond: torch.Tensor) -> torch.Tensor:
    """The (N, D) sentence vector of a packed (N, 1+L, D+1) or plain (N, D) condition."""
    return cond[:, 0, :-1] if cond.dim() == 3 else cond


def tokens(cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, L, D) token embeddings and their (N, L) attention weights of a packed condition."""
    return cond[:, 1:, :-1], cond[:, 1:, -1]


def pack(pooled_vecs: torch.Tensor, token_lists: list[torch.Tensor], weights: list[torch.Tensor] | None = None,
         length: int | None = None) -> torch.Tensor:
    """Pack N pooled vectors (N, D) and N token sequences (L_i, D) (with per-token weights, default 1)
    into (N, 1 + L, D + 1), L = ``length`` or the longest sequence; longer sequences are cut."""
    n, d = pooled_vecs.shape
    longest = max((len(t) for t in token_lists), default=0)
    length = longest if length is None else length
    out = torch.zeros(n, 1 + length, d + 1, dtype=pooled_vecs.dtype)
    out[:, 0, :d] = pooled_vecs
    for i, seq in enumerate(token_lists):
        k = min(len(seq), length)
        out[i, 1 : 1 + k, :d] = seq[:k]
        out[i, 1 : 1 + k, d] = 1.0 if weights is None else weights[i][:k]
    return out


def unpacked(cond: torch.Tensor | None, context_dim: int) -> torch.Tensor | None:
    """A model without token input takes the pooled vector of a packed condition."""
    if cond is None or context_dim or cond.dim() == 2:
        return cond
    return pooled(cond)
