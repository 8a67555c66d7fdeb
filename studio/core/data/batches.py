"""Endless shuffled batches of images with caption embeddings, for conditional training."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..pixels import to_signed
from ..prompt.encoder import PromptEncoder
from . import fashion_mnist


def class_conditions(encoder: PromptEncoder | None, labels: np.ndarray) -> torch.Tensor | None:
    """Each Fashion-MNIST image's class prompt ("a sneaker"...), the fixed condition used to encode and
    evaluate."""
    if encoder is None:
        return None
    table = encoder.encode([syns[0] for syns in fashion_mnist.SYNONYMS])
    return table[torch.as_tensor(labels, dtype=torch.long)]


class CaptionTable:
    """All captions embedded once; a batch looks its conditions up by label."""

    def __init__(self, captions: list[tuple[str, int]], encoder: PromptEncoder) -> None:
        self.texts = [c for c, _ in captions]
        self.labels = torch.tensor([lbl for _, lbl in captions])
        self.embeddings = encoder.encode(self.texts)
        n_classes = int(self.labels.max()) + 1
        self.by_class = [torch.nonzero(self.labels == k).flatten() for k in range(n_classes)]

    def sample(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = torch.empty(len(labels), self.embeddings.shape[1])
        for k, idx in enumerate(self.by_class):
            mask = labels == k
            m = int(mask.sum())
            if m:
                pick = idx[torch.randint(len(idx), (m,), generator=generator)]
                out[mask] = self.embeddings[pick]
        return out


def captioned_batches(images: np.ndarray, labels: np.ndarray, table: CaptionTable | None, batch_size: int,
                      *, p_uncond: float = 0.1, device: str = "cpu", seed: int = 0
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield (x in [-1,1], caption embedding or None); a fraction p_uncond of conditions is zeroed so
    the same network also learns the unconditional model that classifier-free guidance needs."""
    g = torch.Generator().manual_seed(seed)
    x_all = to_signed(images)
    y_all = torch.from_numpy(np.asarray(labels)).long()
    n = len(x_all)
    if n == 0:
        raise ValueError("the training set is empty")
    while True:
        perm = torch.randperm(n, generator=g)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            idx = perm[start : start + batch_size]
            x = x_all[idx]
            cond = None
            if table is not None:
                cond = table.sample(y_all[idx], g)
                drop = torch.rand(len(idx), generator=g) < p_uncond
                cond[drop] = 0.0
                cond = cond.to(device)
            yield x.to(device), cond
